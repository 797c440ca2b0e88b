// membdev: an in-memory block device driver over a RAM device's memory BAR
// (sim:ram).  Every request completes within the call.  Linked directly
// (benchmarks, tests) or as membdev.so (domain.cpp).
#pragma once

#include <memory>
#include <string>

#include "drivers/pci/device.hpp"
#include "idl/bdev.hpp"

namespace rl::blk {

// Null and the reason when `dev` has no memory BAR.
std::unique_ptr<NvmeBDev> make_membdev(pci::Device& dev, std::string* error);

}  // namespace rl::blk
