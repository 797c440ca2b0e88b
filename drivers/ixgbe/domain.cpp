// The ixgbe driver domain (ixgbe.so).
#include "drivers/ixgbe/net.hpp"
#include "idl/net.rl.hpp"
#include "libredleaf/rl.hpp"

namespace rl::net {

Net* create_ixgbe(const IxgbeInit& init) {
  pci::Device* dev = pci::lookup(init.device);
  if (!dev) rl::panic("ixgbe: no device behind this DeviceRef (attach one with rl::pci::attach)");
  ixgbe::DriverConfig cfg;
  if (init.rx_queues) cfg.rx_queues = init.rx_queues;
  if (init.tx_queues) cfg.tx_queues = init.tx_queues;
  std::string error;
  auto drv = ixgbe::Driver::create(*dev, cfg, &error);
  if (!drv) rl::panic(error.c_str());
  return ixgbe::make_ixgbe_net(std::move(drv)).release();
}

}  // namespace rl::net

RL_DOMAIN(rl::net::create_ixgbe)
