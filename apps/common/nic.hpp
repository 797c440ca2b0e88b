// Which driver domain runs a port: chosen by the device's PCI vendor and
// device IDs (drivers/intel/ids.hpp), as DPDK's and Linux's probes do --
// the 82599 family to ixgbe.so, the 82574L to e1000e.so.  Trusted code (it
// loads domains).
#pragma once

#include <string>

#include "drivers/intel/ids.hpp"
#include "drivers/pci/device.hpp"
#include "idl/net.rl.hpp"

namespace rl::app {

// Why no driver takes `dev`: its IDs, and what redleaf drives.
std::string no_nic_driver(const pci::Device& dev);

struct NicDriver {
  Loaded<net::NetProxy> loaded;
  intel::Family family = intel::Family::None;
  const char* name = "";   // "ixgbe" or "e1000e"
};

// Loads the driver domain for the device behind `ref` with `rx_queues`
// receive queues (the 82574L has one); on failure says why in *error.
NicDriver load_nic_driver(pci::DeviceRef ref, uint32_t rx_queues, std::string* error);

}  // namespace rl::app
