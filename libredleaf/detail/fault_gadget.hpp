// The faults crash injection makes a domain commit (inject.hpp), also used
// by the test domains.  Compiled into every domain .so by RL_DOMAIN, so each
// fault happens in the domain's own code, on its own stack, exactly as a
// buggy driver's would: the runtime only chooses when.  Sanitizers are off
// here so that each fault reaches the runtime as the signal it is.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>

#include "libredleaf/rl.hpp"

namespace rl::detail {

// The kinds, in the order of FaultKind (inject.hpp).
enum : int {
  kFaultSegfault, kFaultBusError, kFaultDivideByZero, kFaultIllegalInstruction,
  kFaultStackOverflow, kFaultException, kFaultPanic, kFaultInfiniteLoop,
};

[[gnu::noinline, gnu::no_sanitize("undefined", "address")]] inline void fault_segfault() {
  volatile uintptr_t bad = 16;   // not null: keeps GCC from turning it into a trap
  *reinterpret_cast<volatile int*>(bad) = 1;
}

// Reading a mapping of an empty file raises SIGBUS.  `page` is one made
// ahead (the runtime keeps one); without it, one is made here.
[[gnu::noinline]] inline void fault_bus_error(const void* page) {
  if (!page) {
    int fd = memfd_create("rl-bus", MFD_CLOEXEC);
    void* p = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) rl::panic("bus error: mmap failed");
    page = p;
  }
  (void)*static_cast<const volatile char*>(page);
}

[[gnu::noinline]] inline void fault_divide_by_zero() {
  // In assembly: integer division by zero is undefined behaviour in C++, and
  // GCC may fold it away instead of letting the CPU raise #DE (SIGFPE).
  int quotient = 1, divisor = 0;
  asm volatile("cltd\n\tidivl %1" : "+a"(quotient) : "r"(divisor) : "edx", "cc");
}

[[gnu::noinline]] inline void fault_illegal_instruction() { __builtin_trap(); }

[[gnu::noinline, gnu::no_sanitize("address")]] inline uint64_t fault_overflow_stack(uint64_t depth) {
  volatile char frame[4096];
  frame[0] = static_cast<char>(depth);
  if (depth > (uint64_t{1} << 40)) return frame[0];    // unreachable: the stack ends first
  return fault_overflow_stack(depth + 1) + frame[0];   // not a tail call
}

// Commits fault `kind`; returns only for an unknown kind.
[[gnu::noinline]] inline void commit_fault(int kind, const void* bus_page) {
  switch (kind) {
    case kFaultSegfault: fault_segfault(); break;
    case kFaultBusError: fault_bus_error(bus_page); break;
    case kFaultDivideByZero: fault_divide_by_zero(); break;
    case kFaultIllegalInstruction: fault_illegal_instruction(); break;
    case kFaultStackOverflow: (void)fault_overflow_stack(0); break;
    case kFaultException: throw std::runtime_error("injected exception");
    case kFaultPanic: rl::panic("injected panic");
    case kFaultInfiniteLoop:
      for (;;) __builtin_ia32_pause();   // until the watchdog kills the domain
  }
}

}  // namespace rl::detail
