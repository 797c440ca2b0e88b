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

// Allocates `size` bytes aligned to `align` (a power of two up to 2 MiB),
// owned by the calling thread's current domain.  Never returns null: a full
// heap is reported and aborts, as running out of DMA memory is a configuration
// error (RL_SHARED_HEAP_MB).
Meta* heap_alloc(std::size_t size, std::size_t align);
// Runs nothing: the caller has destroyed the payload already.
void heap_free(Meta* m) noexcept;
// Destroys the payload (meta->dtor) and frees it, honouring borrows.
void heap_release(Meta* m) noexcept;
// Ends one borrow; frees the object if its owner died meanwhile.
void heap_end_borrow(Meta* m) noexcept;
// Frees everything owned by `domain_id` (borrowed objects when the borrow ends).
// Returns the number of objects freed or orphaned.
std::size_t heap_reclaim_owner(uint32_t domain_id) noexcept;

}  // namespace detail
}  // namespace rl
