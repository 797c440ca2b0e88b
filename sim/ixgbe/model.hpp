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
//
// The model sits inside every benchmark that runs on a simulated port, so
// its data path is built like a device's: one lock per register write (a
// tail write moves a whole batch), frames go from the transmit buffer
// straight to the wire and from the generator straight into the receive
// buffer, RSS hashes by table, and nothing allocates per frame.
#pragma once

#include <array>
#include <atomic>
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

  uint64_t driver_errors() const { return driver_errors_.load(std::memory_order_relaxed); }
  uint64_t sunk_frames() const { return sunk_.load(std::memory_order_relaxed); }
  uint64_t generated_frames() const;
  const std::array<uint8_t, 6>& mac() const { return mac_; }

  // The queue RSS picks for `frame` with the current key and table; -1 if
  // RSS is off or the frame is not IPv4.  Exposed for tests.
  int rss_queue(const uint8_t* frame, uint32_t len, uint32_t* hash) const;

 private:
  enum class Delivery { Delivered, NoDescriptor, Refused };
  // Frames and octets counted while the lock is held, added to the
  // clear-on-read registers once per batch.
  struct Counts {
    uint32_t frames = 0;
    uint64_t octets = 0;
  };
  // Frames into one port's receive rings during one hold of its lock: the
  // ring last used and the counters carry from frame to frame (model.cpp).
  class RxBatch;

  // The *_locked functions run with lock_ held.
  // Transmit: queue q's descriptors from TDH to TDT, each frame to the
  // wire at once (`peer`: the paired port, its lock held too).
  void transmit_locked(uint32_t q, IxgbeModel* peer);
  bool emit_locked(const uint8_t* frame, uint32_t len, RxBatch* to);
  [[gnu::noinline]] bool take_descriptor_locked(uint32_t q, uint32_t index, uint32_t cmd, uint64_t addr);
  // Runs `f(peer)` holding what a transmit needs: lock_, and for a pair
  // wire the peer's lock as well (taken together: both ports may transmit
  // to each other at once).
  template <class F>
  void with_wire_locked(F&& f);
  // Receive from the inputs.
  void generate_locked();
  void pull_file_and_tap();
  void reset();
  void add_counts(uint32_t frames_reg, uint32_t low_reg, uint32_t high_reg, const Counts& c);

  // RSS: whether MRQC hashes a frame of `proto` (with its ports or without:
  // `l4`), the hash of input bytes at positions first.., and the queue the
  // redirection table gives a hash.
  bool rss_applies(uint8_t proto, bool has_ports, bool* l4) const;
  uint32_t rss_hash(uint32_t first, const uint8_t* bytes, uint32_t n) const;
  uint32_t rss_redirect(uint32_t hash) const;
  // The queue and hash for a frame; -1 when RSS does not apply (no hash: queue 0).
  int rss_frame_locked(const uint8_t* frame, uint32_t len, uint32_t* hash) const;
  void build_rss_table() const;

  uint32_t& reg(uint32_t off) { return regs_[off / 4]; }   // off: a register the model names
  uint32_t reg(uint32_t off) const { return regs_[off / 4]; }
  // Says what the driver did wrong (printf-style) and counts it; out of the
  // way of the data path, which only calls it.
  [[gnu::cold, gnu::noinline, gnu::format(printf, 2, 3)]] void driver_bug(const char* format, ...);

  IxgbeWire wire_;
  std::string pair_;
  std::array<uint8_t, 6> mac_;
  std::unique_ptr<Tap> tap_;
  std::unique_ptr<Generator> gen_;
  // A frame read from the pcap file or the TAP, waiting for a descriptor
  // (at most a standard frame: larger ones are refused on arrival).
  std::array<uint8_t, 2048> pending_{};
  std::atomic<uint32_t> pending_len_{0};
  std::mutex input_lock_;          // one thread reads the pcap file and the TAP at a time
  IxgbeModel* peer_ = nullptr;     // changes under g_pairs_lock (model.cpp)
  std::array<uint32_t, kRegisterBytes / 4> regs_{};   // BAR0's registers, flat
  std::array<std::vector<uint8_t>, 64> partial_;      // TX frames spanning descriptors, gathered
  // Toeplitz hash by table: rss_table_[i][b] is what byte b at input
  // position i adds to the hash with the key in RSSRK; rebuilt when the key
  // changes, so a frame costs 12 lookups instead of 96 key-window shifts.
  mutable std::array<std::array<uint32_t, 256>, 12> rss_table_{};
  mutable bool rss_stale_ = true;
  void* pcap_out_ = nullptr;   // pcap_t* and pcap_dumper_t* (libpcap), kept out of this header
  void* dumper_ = nullptr;
  void* pcap_in_ = nullptr;
  std::atomic<uint64_t> driver_errors_{0}, sunk_{0};
  bool tx_paused_ = false;
  // Registers, rings and the generator.  Held for a whole register write,
  // not per frame; a transmit to a paired port holds both ports' locks.
  mutable std::mutex lock_;
};

}  // namespace rl::sim
