// The shared heap: one region per process on hugepages, from which every
// object that crosses domains is allocated (design.md §4).
//
// Each allocation has out-of-line metadata (owner, borrow count, destructor,
// size) so that moving ownership is one store and payloads stay aligned for
// caches and DMA.  The registry of metadata lets the runtime free everything a
// dead domain owned.  Allocation goes through per-thread caches per size class.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "detail/domain_core.hpp"
#include "detail/thread_state.hpp"

namespace rl {

struct SharedHeapStats {
  uint64_t bytes_in_use;    // sum of size-class bytes of live allocations
  uint64_t objects_in_use;
  uint64_t capacity;        // bytes of the region
  bool hugepages;           // backed by hugepages (else 4 KiB pages, with a warning)
  bool locked;              // mlock succeeded
  int numa_node;            // -1 when libnuma is unavailable
};
SharedHeapStats shared_heap_stats();

// Physical layout facts drivers need for DMA: with VFIO the heap is mapped at
// IOVA == virtual address.
void* shared_heap_base();
std::size_t shared_heap_size();

namespace detail {

inline constexpr uint32_t kOwnerFree = 0xFFFFFFFF;
inline constexpr uint32_t kOwnerContained = 0xFFFFFFFE;  // held by an RRef inside another shared object
inline constexpr uint32_t kOwnerOrphan = 0xFFFFFFFD;     // owner died while it was borrowed
inline constexpr uint32_t kOwnerDying = 0xFFFFFFFC;      // being freed by one thread

struct Meta {
  std::atomic<uint32_t> owner;
  std::atomic<uint32_t> borrows;
  void (*dtor)(void*);
  void* payload;
  uint32_t size_class;     // kLargeClass for chunk runs
  uint32_t chunks;         // chunk-run length for large allocations
  Meta* next_free;
};

extern char* g_heap_base;
extern char* g_heap_end;

inline bool in_shared_heap(const void* p) noexcept {
  return static_cast<const char*>(p) >= g_heap_base && static_cast<const char*>(p) < g_heap_end;
}

inline constexpr std::size_t kMaxCachedSize = std::size_t{64} << (kSizeClasses - 1);   // 1 MiB
inline constexpr uint32_t kLargeClass = 0xFF;   // chunk runs beyond the largest class

inline unsigned size_class_of(std::size_t n) noexcept {   // 64 B -> 0, 128 B -> 1 ...
  if (n <= 64) return 0;
  return static_cast<unsigned>(64 - __builtin_clzll(n - 1)) - 6;
}
inline std::size_t size_class_bytes(unsigned c) noexcept { return std::size_t{64} << c; }

// Written by the owning thread only; summed by shared_heap_stats().
inline void count_shared(ThreadState& t, int64_t bytes, int64_t objects) noexcept {
  t.shared_bytes.store(t.shared_bytes.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
  t.shared_objects.store(t.shared_objects.load(std::memory_order_relaxed) + objects, std::memory_order_relaxed);
}

Meta* heap_alloc_slow(std::size_t size, std::size_t align);
void heap_free_slow(Meta* m) noexcept;
void heap_release_borrowed(Meta* m) noexcept;

// Allocates `size` bytes aligned to `align` (a power of two up to 2 MiB),
// owned by the calling thread's current domain.  Never returns null: a full
// heap is reported and aborts, as running out of DMA memory is a configuration
// error (RL_SHARED_HEAP_MB).  The fast path pops this thread's cache.
inline Meta* heap_alloc(std::size_t size, std::size_t align) {
  ThreadState& t = tls;
  std::size_t need = size > align ? size : align;
  if (__builtin_expect(need <= kMaxCachedSize && t.ready, 1)) {
    unsigned c = size_class_of(need);
    HeapCache& hc = t.heap[c];
    if (__builtin_expect(hc.count != 0, 1)) {
      Meta* m = hc.slots[--hc.count];
      count_shared(t, static_cast<int64_t>(size_class_bytes(c)), 1);
      m->dtor = nullptr;
      m->owner.store(t.current->id, std::memory_order_relaxed);
      return m;
    }
  }
  return heap_alloc_slow(size, align);
}

// Returns the slot; the caller has destroyed the payload already.
inline void heap_free(Meta* m) noexcept {
  ThreadState& t = tls;
  unsigned c = m->size_class;
  if (__builtin_expect(c < kSizeClasses && t.ready && t.heap[c].count < kCacheSlots, 1)) {
    m->owner.store(kOwnerFree, std::memory_order_relaxed);
    HeapCache& hc = t.heap[c];
    hc.slots[hc.count++] = m;
    count_shared(t, -static_cast<int64_t>(size_class_bytes(c)), -1);
    return;
  }
  heap_free_slow(m);
}

// Destroys the payload (meta->dtor) and frees it, honouring borrows.
inline void heap_release(Meta* m) noexcept {
  if (__builtin_expect(m->borrows.load(std::memory_order_relaxed) == 0, 1)) {
    if (m->dtor) m->dtor(m->payload);
    heap_free(m);
    return;
  }
  heap_release_borrowed(m);
}

// Ends one borrow; frees the object if its owner died meanwhile.
void heap_end_borrow(Meta* m) noexcept;
// Frees everything owned by `domain_id` (borrowed objects when the borrow ends).
// Returns the number of objects freed or orphaned.
std::size_t heap_reclaim_owner(uint32_t domain_id) noexcept;

}  // namespace detail
}  // namespace rl
