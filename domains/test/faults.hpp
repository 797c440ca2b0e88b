// Real faults, on request, for the test domains.  Sanitizers are switched off
// here so that each fault reaches the runtime as the signal it is.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>

#include "idl/test_domains.rl.hpp"
#include "libredleaf/rl.hpp"

namespace rl::test {

[[gnu::noinline, gnu::no_sanitize("undefined", "address")]] inline void segfault() {
  volatile uintptr_t bad = 16;   // not null: keep GCC from turning it into a trap
  *reinterpret_cast<volatile int*>(bad) = 1;
}

[[gnu::noinline]] inline void bus_error() {
  // Touching a file mapping beyond the end of the file raises SIGBUS.
  int fd = memfd_create("rl-bus", 0);
  auto* p = static_cast<volatile char*>(mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0));
  close(fd);
  if (p == MAP_FAILED) rl::panic("bus_error: mmap failed");
  (void)p[0];
}

[[gnu::noinline]] inline void divide_by_zero() {
  // In assembly: integer division by zero is undefined behaviour in C++, and
  // GCC may fold it away instead of letting the CPU raise #DE (SIGFPE).
  int quotient = 1, divisor = 0;
  asm volatile("cltd\n\tidivl %1" : "+a"(quotient) : "r"(divisor) : "edx", "cc");
}

[[gnu::noinline]] inline void illegal_instruction() { __builtin_trap(); }

[[gnu::noinline, gnu::no_sanitize("address")]] inline uint64_t overflow_stack(uint64_t depth) {
  volatile char frame[4096];
  frame[0] = static_cast<char>(depth);
  if (depth > (uint64_t{1} << 40)) return frame[0];   // unreachable: the stack ends first
  return overflow_stack(depth + 1) + frame[0];        // not a tail call
}

// Performs `how`; returns only for an unknown value.
inline void fail_with(Fault how) {
  switch (how) {
    case Fault::Segfault: segfault(); break;
    case Fault::BusError: bus_error(); break;
    case Fault::FloatingPoint: divide_by_zero(); break;
    case Fault::IllegalInstruction: illegal_instruction(); break;
    case Fault::StackOverflow: overflow_stack(0); break;
    case Fault::Exception: throw std::runtime_error("fault requested: exception");
    case Fault::Panic: rl::panic("fault requested: panic");
    case Fault::Spin: break;
  }
}

}  // namespace rl::test
