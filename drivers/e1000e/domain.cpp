// The 82574L driver domain (e1000e.so).
#include "drivers/e1000e/driver.hpp"
#include "idl/net.rl.hpp"
#include "libredleaf/rl.hpp"

namespace rl::net {

Net* create_e1000e(const E1000eInit& init) {
  pci::Device* dev = pci::lookup(init.device);
  if (!dev) rl::panic("e1000e: no device behind this DeviceRef (attach one with rl::pci::attach)");
  std::string error;
  auto drv = e1000e::Driver::create(*dev, &error);
  if (!drv) rl::panic(error.c_str());
  return e1000e::make_e1000e_net(std::move(drv)).release();
}

}  // namespace rl::net

RL_DOMAIN(rl::net::create_e1000e)
