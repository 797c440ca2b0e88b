// The Intel 82599 driver: the datasheet's init sequence, then the RX/TX hot
// path.  Runs over VFIO or the model (drivers/pci), inside the ixgbe domain or
// linked directly.  Packet buffers are RRef<Packet>s from the shared heap, so a
// received frame moves to the application without a copy.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "drivers/intel/rings.hpp"
#include "drivers/ixgbe/regs.hpp"
#include "drivers/pci/device.hpp"
#include "idl/net.hpp"

namespace rl::ixgbe {

inline constexpr uint32_t kRingSize = intel::kRingSize;   // descriptors per ring (the default: 512)
inline constexpr uint32_t kMaxQueues = 16;        // RSS spreads over at most 16 queues (RETA entries are 4 bits)
inline constexpr uint32_t kBufferKiB = 2;         // SRRCTL.BSIZEPACKET: 2 KiB, Packet::data holds it

struct DriverConfig {
  uint32_t rx_queues = 1;
  uint32_t tx_queues = 1;
  bool promiscuous = true;
};

class Driver {
 public:
  static std::unique_ptr<Driver> create(pci::Device& dev, const DriverConfig& cfg, std::string* error);

  // Swaps received frames into `batch` (whose entries are empty buffers):
  // returns how many entries now hold a frame (they come first).
  uint32_t rx(uint32_t queue, net::PacketBatch& batch);
  // Sends the frames in `batch`, swapping each for a buffer the device is done
  // with (len 0); returns how many were sent (frames not sent stay, len kept).
  uint32_t tx(uint32_t queue, net::PacketBatch& batch);

  // Nothing arrived: lets a simulated port make progress (a pause on hardware).
  void idle() const { dev_.idle(); }

  net::LinkState link() const;
  // The port's address, as the EEPROM loaded it into receive address 0.
  const std::array<uint8_t, 6>& mac() const { return mac_; }
  net::NetStats stats();   // accumulates the clear-on-read registers
  uint32_t rx_queues() const { return static_cast<uint32_t>(rx_.size()); }

 private:
  explicit Driver(pci::Device& dev) : dev_(dev) {}
  bool reset_and_init(const DriverConfig& cfg, std::string* error);
  void init_rx(uint32_t queues);
  void init_tx(uint32_t queues);
  void init_rss(uint32_t queues);

  pci::Device& dev_;
  std::vector<intel::RxRing> rx_;
  std::vector<intel::TxRing> tx_;
  net::NetStats totals_{};
  std::array<uint8_t, 6> mac_{};
};

}  // namespace rl::ixgbe
