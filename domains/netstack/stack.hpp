// The network stack behind idl/netstack.hpp: lwIP's raw API, one instance
// per process (see stack.cpp for why).  make_netstack builds it in the
// caller's domain: netstack.so's factory (domain.cpp) for the isolated
// stack, or directly in a program for comparisons.
#pragma once

#include <memory>

#include "idl/netstack.rl.hpp"

namespace rl::netstack {

std::unique_ptr<NetStack> make_netstack(const NetStackInit& init);

}  // namespace rl::netstack
