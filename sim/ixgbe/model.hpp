// A simulated Intel 82599 port (sim:ixgbe): the registers and DMA behaviour
// the ixgbe driver uses.
//
// Reset and its done bits (EEC.ARD, RDRXCTL.DMAIDONE), LINKS, RX/TX rings
// with head/tail registers, advanced descriptors with write-back (DD, EOP,
// length, RSS hash), SRRCTL drop with missed-packet counters, RSS (Toeplitz
// over the IPv4 five-tuple) and clear-on-read statistics.  Transmitted frames
// go to a wire: back to this port (loopback), to a named peer port (pair),
// or to a sink that counts.  Descriptors pointing outside DMA memory are
// driver bugs: reported loudly and counted.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "drivers/ixgbe/regs.hpp"
#include "drivers/pci/device.hpp"

namespace rl::sim {

class IxgbeModel final : public pci::Model {
 public:
  enum class Wire { Loopback, Pair, Sink, Pcap };
  // `name`: the pair's name, or the pcap file transmitted frames are written
  // to; `pcap_in`: a pcap file whose frames arrive on idle() (optional).
  IxgbeModel(Wire wire, std::string name, std::string pcap_in, std::string* error);
  ~IxgbeModel() override;

  uint32_t mmio_read32(uint64_t off) override;
  void mmio_write32(uint64_t off, uint32_t value) override;
  uint16_t vendor_id() const override { return 0x8086; }
  uint16_t device_id() const override { return 0x10FB; }   // 82599ES SFP+
  void function_reset() override;
  void idle() override;   // delivers frames from the pcap input, as far as RX descriptors allow

  // A frame arriving from the wire (public for wires and tests); false if
  // no descriptor was free (dropped and counted).
  bool receive(const uint8_t* frame, uint32_t len);

  uint64_t driver_errors() const { return driver_errors_; }
  uint64_t sunk_frames() const { return sunk_; }

  // The queue RSS picks for `frame` with the current key and table; -1 if
  // RSS is off or the frame is not IPv4.  Exposed for tests.
  int rss_queue(const uint8_t* frame, uint32_t len, uint32_t* hash) const;

 private:
  void reset();
  // Processes queue q's descriptors; returns the frames for the wire.
  std::vector<std::vector<uint8_t>> transmit(uint32_t q);
  void send(const std::vector<uint8_t>& frame);
  uint32_t get(uint32_t off) const;
  uint8_t* dma(uint64_t addr, uint64_t len) const;
  void driver_bug(const std::string& what);

  Wire wire_;
  std::string pair_;
  IxgbeModel* peer_ = nullptr;
  std::unordered_map<uint32_t, uint32_t> regs_;
  std::array<std::vector<uint8_t>, 64> partial_;   // TX frames spanning descriptors
  void* pcap_out_ = nullptr;   // pcap_t* and pcap_dumper_t* (libpcap), kept out of this header
  void* dumper_ = nullptr;
  void* pcap_in_ = nullptr;
  uint64_t driver_errors_ = 0, sunk_ = 0;
  mutable std::recursive_mutex lock_;
};

}  // namespace rl::sim
