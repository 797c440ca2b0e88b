// Private heaps: one jemalloc arena per domain incarnation, reached through
// an explicit tcache per (thread, domain) -- the automatic tcache would mix
// arenas (design.md §9).  Global operator new/delete route by the thread's
// current domain, so a domain's C++ objects land in its own arena and die
// with it (arena.<i>.destroy).
#include <cstdlib>
#include <new>
#include <string>

#include <jemalloc/jemalloc.h>

#include "detail/log.hpp"
#include "detail/threads.hpp"
#include "domain.hpp"

namespace rl {

using namespace detail;

bool Domain::create_private_heap(std::string* error) {
  if (arena_kept_) {   // a restart reuses the arena that reclaim() reset
    heap_live_ = true;
    return true;
  }
  unsigned arena = 0;
  size_t len = sizeof arena;
  if (int e = mallctl("arenas.create", &arena, &len, nullptr, 0)) {
    *error = "cannot create a jemalloc arena for the private heap (error " + std::to_string(e) + ")";
    return false;
  }
  core_->arena = arena;
  heap_live_ = true;
  return true;
}

void Domain::destroy_private_heap(bool keep_arena) {
  // Live: tcaches and arena go.  Already reset by a failure and not reused:
  // only the final destroy is left (unload of a failed domain).
  if (!heap_live_ && !(arena_kept_ && !keep_arena)) return;
  {
    std::lock_guard g(tcache_lock_);
    for (unsigned tc : tcaches_) mallctl("tcache.destroy", nullptr, nullptr, &tc, sizeof tc);
    tcaches_.clear();
  }
  // reset frees every allocation but keeps the arena for the next incarnation,
  // which halves the cost of a crash-and-restart cycle; destroy also returns it.
  std::string cmd = "arena." + std::to_string(core_->arena) + (keep_arena ? ".reset" : ".destroy");
  if (int e = mallctl(cmd.c_str(), nullptr, nullptr, nullptr, 0))
    warn("domain '%s': %s failed (error %d); its private heap leaks", name_.c_str(), cmd.c_str(), e);
  arena_kept_ = keep_arena;
  heap_live_ = false;
}

void Domain::register_tcache(unsigned tcache) {
  TrustedScope trusted;
  std::lock_guard g(tcache_lock_);
  tcaches_.push_back(tcache);
}

std::size_t Domain::private_heap_bytes() const {
  if (!heap_live_) return 0;
  uint64_t epoch = 1;
  size_t len = sizeof epoch;
  mallctl("epoch", &epoch, &len, &epoch, len);
  std::size_t total = 0;
  for (const char* kind : {"small", "large"}) {
    std::string key = "stats.arenas." + std::to_string(core_->arena) + "." + kind + ".allocated";
    size_t v = 0;
    len = sizeof v;
    if (mallctl(key.c_str(), &v, &len, nullptr, 0) == 0) total += v;
  }
  return total;
}

}  // namespace rl

namespace {

using namespace rl::detail;

[[gnu::noinline]] unsigned new_tcache(ThreadState& t) {
  unsigned tc = 0;
  size_t len = sizeof tc;
  if (mallctl("tcache.create", &tc, &len, nullptr, 0) != 0) fatal("jemalloc: tcache.create failed");
  PrivateCache& pc = t.priv[t.current->id];
  pc.tcache = tc;
  pc.life = t.current_life;
  if (rl::Domain* d = rl::Domain::of(t.current)) d->register_tcache(tc);
  return tc;
}

inline unsigned domain_tcache(ThreadState& t) {
  PrivateCache& pc = t.priv[t.current->id];
  return __builtin_expect(pc.life == t.current_life, 1) ? pc.tcache : new_tcache(t);
}

inline void* allocate(std::size_t n, std::size_t align) {
  ThreadState& t = tls;
  void* p;
  if (t.current == &g_trusted_core) {
    p = align <= alignof(std::max_align_t) ? std::malloc(n ? n : 1) : std::aligned_alloc(align, (n + align - 1) / align * align);
  } else {
    int flags = MALLOCX_ARENA(t.current->arena) | MALLOCX_TCACHE(domain_tcache(t));
    if (align > alignof(std::max_align_t)) flags |= MALLOCX_ALIGN(align);
    p = mallocx(n ? n : 1, flags);
  }
  if (!p) throw std::bad_alloc();
  return p;
}

inline void release(void* p) noexcept {
  if (!p) return;
  ThreadState& t = tls;
  if (t.current == &g_trusted_core) std::free(p);
  else dallocx(p, MALLOCX_TCACHE(domain_tcache(t)));
}

}  // namespace

void* operator new(std::size_t n) { return allocate(n, alignof(std::max_align_t)); }
void* operator new[](std::size_t n) { return allocate(n, alignof(std::max_align_t)); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try { return allocate(n, alignof(std::max_align_t)); } catch (...) { return nullptr; }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try { return allocate(n, alignof(std::max_align_t)); } catch (...) { return nullptr; }
}
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }
