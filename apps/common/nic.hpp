// Which driver domain runs a port: chosen by the device's PCI vendor and
// device IDs, as DPDK's and Linux's probes do -- the 82599 family to
// ixgbe.so, the 82574L to e1000e.so.  Trusted code (it loads domains).
#pragma once

#include <string>

#include "drivers/pci/device.hpp"
#include "idl/net.rl.hpp"

namespace rl::app {

struct NicDriver {
  Loaded<net::NetProxy> loaded;
  const char* name = "";   // "ixgbe" or "e1000e"
};

// Loads the driver domain for the device behind `ref`; on failure says why
// in *error (an unknown device names the ones redleaf drives).
NicDriver load_nic_driver(pci::DeviceRef ref, std::string* error);

}  // namespace rl::app
