// The two backends behind pci::open (private to drivers/pci).
#pragma once

#include <memory>
#include <string>

#include "drivers/pci/device.hpp"

namespace rl::pci {

std::unique_ptr<Device> open_sim(const std::string& spec, std::string* error);    // sim.cpp
std::unique_ptr<Device> open_vfio(const std::string& addr, std::string* error);   // vfio.cpp

}  // namespace rl::pci
