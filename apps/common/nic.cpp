#include "apps/common/nic.hpp"

#include <cstdio>

namespace rl::app {

std::string no_nic_driver(const pci::Device& dev) {
  char id[16];
  snprintf(id, sizeof id, "%04x:%04x", dev.vendor_id(), dev.device_id());
  return dev.name() + " is PCI device " + id + ", which no redleaf driver drives: use an Intel 82599 (ixgbe) "
         "or 82574L (e1000e, QEMU's -device e1000e), or a simulated port (sim:ixgbe)";
}

NicDriver load_nic_driver(pci::DeviceRef ref, uint32_t rx_queues, std::string* error) {
  pci::Device* dev = pci::lookup(ref);
  if (!dev) {
    *error = "no device behind this DeviceRef";
    return {};
  }
  NicDriver d;
  d.family = intel::family_of(dev->vendor_id(), dev->device_id());
  LoadError lerr;
  switch (d.family) {
    case intel::Family::E1000e:
      d.name = "e1000e";
      if (rx_queues > 1) {
        *error = "the 82574L driver has one receive queue (asked for " + std::to_string(rx_queues) + ")";
        return {};
      }
      d.loaded = net::load_e1000e(std::string(RL_E1000E_DOMAIN_DIR) + "/e1000e.so", "e1000e", net::E1000eInit{ref}, &lerr);
      break;
    case intel::Family::Ixgbe:
      d.name = "ixgbe";
      d.loaded = net::load_ixgbe(std::string(RL_IXGBE_DOMAIN_DIR) + "/ixgbe.so", "ixgbe", net::IxgbeInit{ref, rx_queues, 1},
                                 &lerr);
      break;
    case intel::Family::None:
      *error = no_nic_driver(*dev);
      return {};
  }
  if (!d.loaded) *error = std::string("the ") + d.name + " driver domain: " + lerr.message;
  return d;
}

}  // namespace rl::app
