// The Intel 82574L driver: the datasheet's initialization sequence, then the
// receive and transmit rings it shares with the 82599 driver
// (drivers/intel).  One queue each way, polled, interrupts masked.  Runs
// over VFIO -- QEMU models this NIC as `e1000e`, so the driver is tested
// against a device model nobody here wrote -- inside the e1000e domain or
// linked directly.
#pragma once

#include <array>
#include <memory>
#include <string>

#include "drivers/e1000e/regs.hpp"
#include "drivers/intel/rings.hpp"
#include "drivers/pci/device.hpp"
#include "idl/net.hpp"

namespace rl::e1000e {

class Driver {
 public:
  static std::unique_ptr<Driver> create(pci::Device& dev, std::string* error);

  uint32_t rx(uint32_t /*queue*/, net::PacketBatch& batch) { return rx_.rx(dev_, batch); }
  uint32_t tx(uint32_t /*queue*/, net::PacketBatch& batch) { return tx_.tx(dev_, batch); }
  uint32_t rx_queues() const { return 1; }
  void idle() const { dev_.idle(); }

  net::LinkState link() const;
  const std::array<uint8_t, 6>& mac() const { return mac_; }
  net::NetStats stats();   // accumulates the clear-on-read registers

 private:
  explicit Driver(pci::Device& dev) : dev_(dev) {}
  bool reset_and_init(std::string* error);
  bool read_mac(std::string* error);
  void init_rx();
  void init_tx();

  pci::Device& dev_;
  intel::RxRing rx_;
  intel::TxRing tx_;
  net::NetStats totals_{};
  std::array<uint8_t, 6> mac_{};
};

std::unique_ptr<net::Net> make_e1000e_net(std::unique_ptr<Driver> driver);

}  // namespace rl::e1000e
