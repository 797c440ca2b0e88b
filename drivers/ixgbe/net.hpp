// Net over the 82599 Driver (net.cpp): the ixgbe domain's object, also linkable.
#pragma once

#include <memory>

#include "drivers/ixgbe/driver.hpp"

namespace rl::ixgbe {

std::unique_ptr<net::Net> make_ixgbe_net(std::unique_ptr<Driver> driver);

}  // namespace rl::ixgbe
