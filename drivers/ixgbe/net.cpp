#include "drivers/ixgbe/net.hpp"

#include "drivers/intel/ring_net.hpp"

namespace rl::ixgbe {

std::unique_ptr<net::Net> make_ixgbe_net(std::unique_ptr<Driver> driver) {
  return std::make_unique<intel::RingNet<Driver>>(std::move(driver));
}

}  // namespace rl::ixgbe
