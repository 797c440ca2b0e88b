// A domain's crash-injection state (inject.cpp); in a header of its own so
// that domain.cpp can destroy it.
#pragma once

#include <atomic>
#include <mutex>

#include "../domain.hpp"

namespace rl {

struct Domain::Injection {
  std::mutex lock;                    // the plan and its call count
  InjectionPlan plan;
  bool planned = false;
  uint64_t counted = 0;               // calls counted against the plan
  std::atomic<int> pending{-1};       // a FaultKind for the next call (inject_next, signals)
  std::atomic<int> on_signal{0};      // signal number armed by inject_on_signal, or 0
  std::atomic<int> signal_kind{0};
  std::atomic<uint64_t> injected{0};
};

}  // namespace rl
