// The faults crash injection makes a domain commit (inject.hpp).  Compiled
// into every domain .so by RL_DOMAIN, so each fault happens in the domain's
// own code, on its own stack, exactly as a buggy driver's would: the runtime
// only chooses when.
#pragma once

#include <stdexcept>

#include "libredleaf/rl.hpp"

namespace rl::detail {

// The kinds, in the order of FaultKind (inject.hpp).
enum : int {
  kFaultSegfault, kFaultBusError, kFaultDivideByZero, kFaultIllegalInstruction,
  kFaultStackOverflow, kFaultException, kFaultPanic, kFaultInfiniteLoop,
};

// Each frame keeps 4 KiB live until the guard page is hit.  `depth` comes
// from a volatile so the compiler sees no certain infinite recursion.
[[gnu::noinline]] inline int fault_recurse(volatile char* above, unsigned long depth) {
  volatile char frame[4096];
  frame[0] = above ? above[0] : 1;
  if (depth == 0) return frame[0];
  return fault_recurse(frame, depth - 1) + frame[4095];
}

// `bus_page`: a mapping of an empty file (reading it raises SIGBUS), made
// once by the runtime.
[[gnu::noinline]] inline void commit_fault(int kind, const void* bus_page) {
  volatile uintptr_t address = 8;   // through a volatile: the compiler cannot prove it null
  volatile int zero = 0, one = 1;   // both volatile: GCC turns 1 / x into a compare
  volatile unsigned long deep = ~0ul;
  switch (kind) {
    case kFaultSegfault: *reinterpret_cast<volatile int*>(address) = 1; break;
    case kFaultBusError: (void)*static_cast<const volatile char*>(bus_page); break;
    case kFaultDivideByZero: zero = one / zero; break;
    case kFaultIllegalInstruction: __builtin_trap();
    case kFaultStackOverflow: (void)fault_recurse(nullptr, deep); break;
    case kFaultException: throw std::runtime_error("injected exception");
    case kFaultPanic: rl::panic("injected panic");
    case kFaultInfiniteLoop:
      for (;;) __builtin_ia32_pause();   // until the watchdog kills the domain
  }
  rl::panic("injected fault did not fault");   // e.g. SIGBUS without a bus page
}

}  // namespace rl::detail
