#include "apps/common/nic.hpp"

#include <algorithm>
#include <cstdio>

namespace rl::app {
namespace {

constexpr uint16_t kIntel = 0x8086;
constexpr uint16_t k82574L = 0x10D3;
// The 82599 and X520/X540 functions the ixgbe driver's register set covers
// (Linux's ixgbe_pci_tbl for the 82599 family).
constexpr uint16_t k82599[] = {0x10F7, 0x10F8, 0x10F9, 0x10FB, 0x10FC, 0x1507, 0x1514,
                               0x1517, 0x151C, 0x1529, 0x152A, 0x154D, 0x154F, 0x1557, 0x1558};

}  // namespace

NicDriver load_nic_driver(pci::DeviceRef ref, std::string* error) {
  pci::Device* dev = pci::lookup(ref);
  if (!dev) {
    *error = "no device behind this DeviceRef";
    return {};
  }
  NicDriver d;
  LoadError lerr;
  const uint16_t vendor = dev->vendor_id(), device = dev->device_id();
  if (vendor == kIntel && device == k82574L) {
    d.name = "e1000e";
    d.loaded = net::load_e1000e(std::string(RL_E1000E_DOMAIN_DIR) + "/e1000e.so", "e1000e", net::E1000eInit{ref}, &lerr);
  } else if (vendor == kIntel && std::find(std::begin(k82599), std::end(k82599), device) != std::end(k82599)) {
    d.name = "ixgbe";
    d.loaded = net::load_ixgbe(std::string(RL_IXGBE_DOMAIN_DIR) + "/ixgbe.so", "ixgbe", net::IxgbeInit{ref, 1, 1}, &lerr);
  } else {
    char id[16];
    snprintf(id, sizeof id, "%04x:%04x", vendor, device);
    *error = dev->name() + " is PCI device " + id + ", which no redleaf driver drives: use an Intel 82599 (ixgbe) "
             "or 82574L (e1000e, QEMU's -device e1000e), or a simulated port (sim:ixgbe)";
    return {};
  }
  if (!d.loaded) *error = std::string("the ") + d.name + " driver domain: " + lerr.message;
  return d;
}

}  // namespace rl::app
