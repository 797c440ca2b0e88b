// Which Intel NIC driver drives a PCI function, by vendor and device ID, as
// Linux's and DPDK's probe tables decide.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace rl::intel {

enum class Family { None, Ixgbe, E1000e };

inline constexpr uint16_t kVendorIntel = 0x8086;
inline constexpr uint16_t kDevice82574L = 0x10D3;
// The 82599 and X520 functions the ixgbe driver's register set covers
// (the 82599 entries of Linux's ixgbe_pci_tbl).
inline constexpr uint16_t k82599Devices[] = {0x10F7, 0x10F8, 0x10F9, 0x10FB, 0x10FC, 0x1507, 0x1514, 0x1517,
                                             0x151C, 0x1529, 0x152A, 0x154D, 0x154F, 0x1557, 0x1558};

constexpr Family family_of(uint16_t vendor, uint16_t device) {
  if (vendor != kVendorIntel) return Family::None;
  if (device == kDevice82574L) return Family::E1000e;
  if (std::find(std::begin(k82599Devices), std::end(k82599Devices), device) != std::end(k82599Devices))
    return Family::Ixgbe;
  return Family::None;
}

}  // namespace rl::intel
