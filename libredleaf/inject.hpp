// Crash injection: make a domain fail at a chosen point, in its own code, in
// any of the ways a driver fails (issue #7).  The runtime decides when (the
// N-th call of a method, each call with a probability, the next call, or
// when the process receives a signal); the domain's own code commits the
// fault (detail/fault_gadget.hpp, compiled into every domain by RL_DOMAIN),
// so containment and recovery see exactly what a real bug produces.
//
// Cost when nothing is armed: one load and a not-taken branch per call,
// in the generated proxy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rl {

enum class FaultKind : uint8_t {
  Segfault, BusError, DivideByZero, IllegalInstruction, StackOverflow, Exception, Panic,
  InfiniteLoop,   // needs a call timeout (Domain::set_call_timeout); one is set if none is
};
inline constexpr int kFaultKinds = 8;

// "segv", "bus", "fpe", "ill", "stack", "exception", "panic", "loop".
const char* to_string(FaultKind k) noexcept;
// Parses a comma-separated list of those names, or "all".
bool parse_fault_kinds(const std::string& list, std::vector<FaultKind>* out, std::string* error);

inline constexpr uint32_t kAnyMethod = 0xFFFFFFFF;

struct InjectionPlan {
  // Which calls count: one method (static_cast<uint32_t>(InterfaceTraits<I>::Method::x)) or any.
  uint32_t method = kAnyMethod;
  uint64_t at_call = 0;        // the N-th counted call fails (1-based); 0: off
  double probability = 0;      // each counted call fails with this probability
  uint64_t seed = 1;           // the same seed and calls give the same faults
  std::vector<FaultKind> kinds{FaultKind::Segfault};   // chosen at random (seeded) per fault
};

}  // namespace rl
