// The port Maglev forwards on, opened three ways: the 82599 driver linked
// into the process (direct), in its domain behind the generated proxy
// (domain), or behind the network shadow that restarts it after a crash
// (shadow).  rl-maglev and rl-bench-maglev share it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "idl/net.rl.hpp"

namespace rl::maglev {

enum class Through { Direct, Domain, Shadow };
const char* to_string(Through t);
bool parse_through(const std::string& s, Through* out);

class Port {
 public:
  // `device`: sim:ixgbe,... or a PCI address; `ixgbe_so`: the driver domain.
  static std::unique_ptr<Port> open(const std::string& device, Through through, const std::string& ixgbe_so,
                                    std::string* error);
  virtual ~Port() = default;

  virtual net::Net& net() = 0;
  // The driver domain (domain and shadow), else null.
  virtual Domain* domain() = 0;
  // Driver restarts by the shadow (0 otherwise).
  virtual uint64_t recoveries() const = 0;
  // Frames the simulated wire took from the port (0 on a real device).
  virtual uint64_t wire_frames() const = 0;
};

}  // namespace rl::maglev
