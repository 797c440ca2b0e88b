// A simulated Intel 82599 port (sim:ixgbe): the registers and DMA behaviour
// the ixgbe driver uses.
//
// Reset and its done bits (EEC.ARD, RDRXCTL.DMAIDONE), LINKS, RX/TX rings
// with head/tail registers, advanced descriptors with write-back (DD, EOP,
// length, RSS hash), SRRCTL drop with missed-packet counters, RSS (Toeplitz
// over the IPv4 five-tuple), clear-on-read statistics and the MAC address in
// RAL/RAH.  Transmitted frames go to a wire: back to this port (loopback), to
// a named peer port (pair), a sink that counts, a pcap file, a TAP interface,
// or a sink while a generator feeds the receive side.  Descriptors pointing
// outside DMA memory are driver bugs: reported loudly and counted.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "drivers/ixgbe/regs.hpp"
#include "drivers/pci/device.hpp"
#include "sim/ixgbe/generator.hpp"
#include "sim/ixgbe/tap.hpp"

namespace rl::sim {

enum class IxgbeWire { Loopback, Pair, Sink, Pcap, Tap, Gen };

struct IxgbeModelOptions {
  IxgbeWire wire = IxgbeWire::Loopback;
  std::string name;      // the pair's name, the pcap file written, or the TAP interface
  std::string pcap_in;   // a pcap file whose frames arrive at the port (optional)
  GeneratorOptions gen;  // for IxgbeWire::Gen
  std::optional<std::array<uint8_t, 6>> mac;   // default: 02:52:4c:00:00:NN, NN counting ports
};

class IxgbeModel final : public pci::Model {
 public:
  static constexpr uint32_t kRegisterBytes = 0x20000;   // the 82599's 128 KiB register space
  IxgbeModel(const IxgbeModelOptions& options, std::string* error);
  ~IxgbeModel() override;

  uint32_t mmio_read32(uint64_t off) override;
  void mmio_write32(uint64_t off, uint32_t value) override;
  uint16_t vendor_id() const override { return 0x8086; }
  uint16_t device_id() const override { return 0x10FB; }   // 82599ES SFP+
  void function_reset() override;
  // Delivers frames from the inputs (pcap file, TAP, generator) as far as
  // receive descriptors allow.
  void idle() override;
  bool wait_for_input(std::chrono::microseconds max) override;

  // A frame arriving from the wire (public for wires and tests); false if
  // no descriptor was free (dropped and counted).
  bool receive(const uint8_t* frame, uint32_t len);

  // Flow control as a link partner's PAUSE frames would: while paused the
  // port fetches no transmit descriptors, so the driver's rings fill up.
  void pause_transmit(bool paused);

  uint64_t driver_errors() const { return driver_errors_; }
  uint64_t sunk_frames() const { return sunk_; }
  uint64_t generated_frames() const { return gen_ ? gen_->generated() : 0; }
  const std::array<uint8_t, 6>& mac() const { return mac_; }

  // The queue RSS picks for `frame` with the current key and table; -1 if
  // RSS is off or the frame is not IPv4.  Exposed for tests.
  int rss_queue(const uint8_t* frame, uint32_t len, uint32_t* hash) const;

 private:
  enum class Delivery { Delivered, NoDescriptor, Refused };
  Delivery deliver(const uint8_t* frame, uint32_t len);
  void pull_inputs(bool generator_only);
  void reset();
  // Processes queue q's descriptors; returns the frames for the wire.
  std::vector<std::vector<uint8_t>> transmit(uint32_t q);
  void send(const std::vector<uint8_t>& frame);
  uint32_t get(uint32_t off) const;
  uint32_t& reg_at(uint32_t off);
  uint8_t* dma(uint64_t addr, uint64_t len) const;
  void driver_bug(const std::string& what);

  IxgbeWire wire_;
  std::string pair_;
  std::array<uint8_t, 6> mac_;
  std::unique_ptr<Tap> tap_;
  std::unique_ptr<Generator> gen_;
  std::vector<uint8_t> pending_;   // an input frame waiting for a descriptor
  std::mutex input_lock_;          // one thread reads the inputs at a time
  IxgbeModel* peer_ = nullptr;
  std::vector<uint32_t> regs_ = std::vector<uint32_t>(kRegisterBytes / 4);   // BAR0's registers, flat
  std::array<std::vector<uint8_t>, 64> partial_;   // TX frames spanning descriptors
  void* pcap_out_ = nullptr;   // pcap_t* and pcap_dumper_t* (libpcap), kept out of this header
  void* dumper_ = nullptr;
  void* pcap_in_ = nullptr;
  uint64_t driver_errors_ = 0, sunk_ = 0;
  bool tx_paused_ = false;
  mutable std::recursive_mutex lock_;
};

}  // namespace rl::sim
