// A PCI device as an init argument: the runtime holds the device, a driver
// domain receives this reference and looks it up (drivers/pci/device.hpp).
#pragma once

#include <cstdint>

namespace rl::pci {

struct DeviceRef {
  uint32_t id;   // index in the runtime's device table; 0 = none
};

}  // namespace rl::pci
