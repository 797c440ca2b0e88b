// Real faults, on request, for the test domains (the same ones crash
// injection commits: libredleaf/detail/fault_gadget.hpp).
#pragma once

#include <stdexcept>

#include "idl/test_domains.rl.hpp"
#include "libredleaf/detail/fault_gadget.hpp"
#include "libredleaf/rl.hpp"

namespace rl::test {

// Performs `how`; returns only for an unknown value.
inline void fail_with(Fault how) {
  switch (how) {
    case Fault::Segfault: detail::fault_segfault(); break;
    case Fault::BusError: detail::fault_bus_error(nullptr); break;
    case Fault::FloatingPoint: detail::fault_divide_by_zero(); break;
    case Fault::IllegalInstruction: detail::fault_illegal_instruction(); break;
    case Fault::StackOverflow: (void)detail::fault_overflow_stack(0); break;
    case Fault::Exception: throw std::runtime_error("fault requested: exception");
    case Fault::Panic: rl::panic("fault requested: panic");
    case Fault::Spin: break;
  }
}

}  // namespace rl::test
