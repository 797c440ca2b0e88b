// The worked example of the README: a domain implementing idl/example.hpp.
#include "idl/example.rl.hpp"

namespace example {

struct AdderDomain final : Adder {
  int64_t bias;
  explicit AdderDomain(int64_t b) : bias(b) {}
  rl::RpcResult<int64_t> add(int64_t a, int64_t b) override { return a + b + bias; }
};

Adder* create_adder(const AdderInit& init) { return new AdderDomain(init.bias); }

}  // namespace example

RL_DOMAIN(example::create_adder)
