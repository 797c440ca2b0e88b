// The worked example of the README: an interface, its init argument and its factory.
#pragma once

#include <cstdint>

#include "libredleaf/idl.hpp"

namespace example {

struct AdderInit {
  int64_t bias;
};

class RL_INTERFACE Adder {
 public:
  virtual ~Adder() = default;
  RL_IDEMPOTENT virtual rl::RpcResult<int64_t> add(int64_t a, int64_t b) = 0;
};

RL_FACTORY Adder* create_adder(const AdderInit& init);

}  // namespace example
