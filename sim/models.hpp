// The simulated devices, by name: what `sim:NAME,key=value,...` opens.
#pragma once

#include <memory>
#include <string>

#include "drivers/pci/device.hpp"

namespace rl::sim {

// Creates the model `kind` ("nvme") with `options` ("blocks=1024,lba=512");
// on error returns null and says what is wrong.
std::unique_ptr<pci::Model> make_model(const std::string& kind, const std::string& options,
                                       std::string* error);

}  // namespace rl::sim
