// The part of a domain the hot paths read: its life word and its root object.
#pragma once

#include <atomic>
#include <cstdint>

#include "thread_state.hpp"

namespace rl::detail {

inline constexpr int kMaxCodeRanges = 4;

// life = (incarnation << 1) | alive.  One load answers "is it alive?" and,
// compared with a saved copy, "is it still the incarnation I entered?".
struct alignas(64) DomainCore {
  std::atomic<uint64_t> life{0};
  std::atomic<void*> root{nullptr};   // the interface object of this incarnation
  uint32_t id = 0;
  unsigned arena = 0;                 // jemalloc arena of the private heap
  std::atomic<bool> unloaded{false};  // calls get DomainUnloaded instead of DomainFailed
  std::atomic<int> proxies{0};        // live proxies: the slot is reused only at zero
  std::atomic<uint32_t> inject{0};    // nonzero: calls ask the runtime whether to fail here (inject.hpp)
  // Executable ranges of the domain's .so: a fault or kill signal whose PC
  // lies here is the domain's own code, safe to unwind.
  uintptr_t code_lo[kMaxCodeRanges] = {};
  uintptr_t code_hi[kMaxCodeRanges] = {};

  bool alive() const noexcept { return life.load(std::memory_order_relaxed) & 1; }
  bool runs_code_at(uintptr_t pc) const noexcept {
    for (int i = 0; i < kMaxCodeRanges; ++i)
      if (pc >= code_lo[i] && pc < code_hi[i]) return true;
    return false;
  }
};

// A generated proxy calls this, inside the callee, when `inject` is set.
void inject_point(DomainCore* core, uint32_t method);

// Slot 0 is unused (id 0 is trusted code, g_trusted_core).
extern DomainCore g_cores[kMaxDomains];

inline uint32_t current_domain_id() noexcept { return tls.current->id; }

}  // namespace rl::detail
