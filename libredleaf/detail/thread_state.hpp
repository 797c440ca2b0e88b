// Per-thread runtime state.  Everything the hot paths touch lives in one
// constinit thread_local in the executable: constinit removes GCC's TLS init
// wrapper, and initial-exec TLS (-ftls-model=initial-exec) makes each access
// from a domain .so one %fs-relative load (design.md §9).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace rl::detail {

inline constexpr uint32_t kMaxDomains = 256;   // domain ids are slots in a table
inline constexpr uint32_t kTrustedId = 0;      // the runtime and the application
inline constexpr unsigned kSizeClasses = 15;   // 64 B .. 1 MiB, powers of two
inline constexpr unsigned kCacheSlots = 32;    // per class and thread; refills move half

struct DomainCore;
struct Meta;
extern DomainCore g_trusted_core;   // the domain of trusted code: always alive

// A saved continuation of one cross-domain call (design.md §3).  It lives on
// the caller's stack; the thread's frames form a list from innermost outwards.
struct Frame {
  void* saved_sp;            // written by rl_switch_call, read by rl_resume
  Frame* prev;
  DomainCore* caller;
  uint64_t caller_life;
  DomainCore* callee;
  uint64_t callee_life;      // callee->life when the call entered it
  struct StackSlot* stack;   // the callee stack this call switched to, or null
};

struct StackSlot {
  char* top = nullptr;       // 16-byte aligned initial stack pointer
  char* base = nullptr;      // lowest mapped address (the guard page)
  std::size_t size = 0;      // mapping size including the guard
  bool active = false;       // a call on this thread is running on it
};

struct HeapCache {
  uint32_t count = 0;
  Meta* slots[kCacheSlots] = {};
};

struct PrivateCache {
  uint64_t life = 0;         // the domain incarnation this jemalloc tcache belongs to
  unsigned tcache = 0;
};

struct ThreadState {
  DomainCore* current = &g_trusted_core;
  uint64_t current_life = 1;       // current->life when this thread entered it
  Frame* top = nullptr;
  bool ready = false;              // registered, signal stack installed
  bool cancel_point = false;       // inside rl::sleep_for and friends: safe to unwind
  bool domain_thread = false;      // spawned by a domain: lives inside it (the watchdog ignores it)
  uint64_t calls = 0;              // cross-domain calls made: the watchdog sees progress
  unsigned long pthread = 0;       // pthread_t, for the unwind signal
  void* sigstack = nullptr;        // this thread's sigaltstack
  std::size_t sigstack_size = 0;
  std::atomic<int64_t> shared_bytes{0};   // written by this thread only
  std::atomic<int64_t> shared_objects{0};
  HeapCache heap[kSizeClasses];
  StackSlot stacks[kMaxDomains];
  PrivateCache priv[kMaxDomains];
};

extern constinit thread_local ThreadState tls;

// Registers the calling thread with the runtime (signal stack, exit hook).
void thread_init();

}  // namespace rl::detail
