// The registry of threads that use the runtime, and scoped trusted context.
#pragma once

#include <cstdint>
#include <functional>

#include "domain_core.hpp"
#include "thread_state.hpp"

namespace rl::detail {

void for_each_thread(const std::function<void(ThreadState&)>& fn);
// Sends the unwind signal to every registered thread now running in `d`;
// returns how many there were.
int signal_threads_in(const DomainCore* d);
int64_t exited_thread_bytes() noexcept;
int64_t exited_thread_objects() noexcept;
void heap_thread_exit(ThreadState& t) noexcept;   // shared_heap.cpp

[[noreturn]] void unwind_dead_caller() noexcept;   // threads.cpp

// Runs the enclosed runtime code as trusted: its allocations go to the
// process heap, never into the private heap of the domain that called it.
// While inside, the thread does not count as running in that domain, so the
// domain can be failed and reclaimed meanwhile: leaving then unwinds to the
// innermost live caller instead of returning into the dead domain's code.
class TrustedScope {
 public:
  TrustedScope() noexcept : saved_(tls.current), saved_life_(tls.current_life) {
    tls.current = &g_trusted_core;
    tls.current_life = 1;
  }
  ~TrustedScope() {
    tls.current = saved_;
    tls.current_life = saved_life_;
    if (__builtin_expect(saved_->life.load(std::memory_order_relaxed) != saved_life_, 0)) unwind_dead_caller();
  }
  TrustedScope(const TrustedScope&) = delete;
  TrustedScope& operator=(const TrustedScope&) = delete;

 private:
  DomainCore* saved_;
  uint64_t saved_life_;
};

}  // namespace rl::detail
