// Shared heap: region setup (hugepages, NUMA, mlock), size-class slabs with
// per-thread caches, out-of-line metadata, and reclamation by owner.
#include "shared_heap.hpp"

#include <sched.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

extern "C" {
#include <hugetlbfs.h>   // a C header without extern "C" of its own
}
#include <numa.h>

#include "detail/domain_core.hpp"
#include "detail/log.hpp"
#include "detail/threads.hpp"
#include "detail/thread_state.hpp"

namespace rl {
namespace detail {

namespace {

constexpr std::size_t kChunk = 2u << 20;          // one 2 MiB hugepage per slab chunk
constexpr std::size_t kGranule = 64;              // smallest class; one Meta per granule
constexpr int16_t kChunkFree = -1;
constexpr int16_t kChunkLargeHead = -2;
constexpr int16_t kChunkLargeTail = -3;
constexpr unsigned kRefill = kCacheSlots / 2;
// Where the heap is placed when that range is free: with VFIO the heap is
// mapped IOVA == VA, and many IOMMUs (QEMU's intel-iommu by default, some
// real ones) translate only 39-bit addresses; 64 GiB is well inside that.
constexpr uintptr_t kPreferredBase = uintptr_t{64} << 30;

struct Central {
  std::mutex lock;
  Meta* head = nullptr;
};

struct Region {
  std::once_flag once;
  std::size_t size = 0;
  std::size_t chunks = 0;
  Meta* metas = nullptr;           // one per granule, indexed by (addr - base) / kGranule
  int16_t* chunk_class = nullptr;  // per chunk: class, free, or part of a large run
  std::mutex chunk_lock;
  Central central[kSizeClasses];
  std::atomic<int64_t> large_bytes{0};
  std::atomic<int64_t> large_objects{0};
  bool hugepages = false;
  bool locked = false;
  int numa_node = -1;
};

Region g_region;

inline std::size_t class_size(unsigned c) noexcept { return size_class_bytes(c); }
inline Meta* meta_of(const char* p) noexcept {
  return &g_region.metas[(p - g_heap_base) / kGranule];
}

std::size_t requested_size() {
  long mb = RL_SHARED_HEAP_MB_DEFAULT;
  if (const char* env = std::getenv("RL_SHARED_HEAP_MB")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end == env || *end != '\0' || v < 4 || v > (1L << 20))
      fatal("RL_SHARED_HEAP_MB=%s is not a size in MiB between 4 and 1048576; "
            "unset it or give a number such as 256", env);
    mb = v;
  }
  return ((static_cast<std::size_t>(mb) << 20) + kChunk - 1) / kChunk * kChunk;
}

void map_region() {
  TrustedScope trusted;   // the first allocation may come from inside a domain
  Region& r = g_region;
  r.size = requested_size();
  r.chunks = r.size / kChunk;

  void* p = MAP_FAILED;
  long huge = gethugepagesize();  // libhugetlbfs: the default hugepage size, -1 if none
  if (huge == static_cast<long>(kChunk))
    p = mmap(reinterpret_cast<void*>(kPreferredBase), r.size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED && huge == static_cast<long>(kChunk))
    p = mmap(nullptr, r.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
  if (p != MAP_FAILED) {
    r.hugepages = true;
  } else {
    warn("no free 2 MiB hugepages for the %zu MiB shared heap; falling back to 4 KiB pages "
         "(slower DMA and more TLB misses). Reserve them with "
         "`echo %zu > /proc/sys/vm/nr_hugepages` as root.",
         r.size >> 20, r.size / kChunk + 16);
    // Over-map to align the region to a chunk, so slots are naturally aligned.
    std::size_t span = r.size + kChunk;
    char* raw = static_cast<char*>(mmap(reinterpret_cast<void*>(kPreferredBase), span, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
    if (raw == MAP_FAILED)
      raw = static_cast<char*>(mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (raw == MAP_FAILED) fatal("cannot map a %zu MiB shared heap: %s", r.size >> 20, strerror(errno));
    char* aligned = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(raw) + kChunk - 1) & ~(kChunk - 1));
    if (aligned > raw) munmap(raw, aligned - raw);
    munmap(aligned + r.size, raw + span - (aligned + r.size));
    p = aligned;
    madvise(p, r.size, MADV_HUGEPAGE);   // transparent hugepages, where enabled
  }
  g_heap_base = static_cast<char*>(p);
  g_heap_end = g_heap_base + r.size;

  if (numa_available() >= 0) {
    r.numa_node = numa_node_of_cpu(sched_getcpu());
    if (r.numa_node >= 0) numa_tonode_memory(p, r.size, r.numa_node);
  }
  // Locked so DMA addresses stay valid and the hot path never page-faults.
  r.locked = mlock(p, r.size) == 0;
  if (!r.locked)
    warn("could not lock the shared heap in memory (%s); raise `ulimit -l` or run as root",
         strerror(errno));

  std::size_t meta_bytes = r.size / kGranule * sizeof(Meta);
  void* m = mmap(nullptr, meta_bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) fatal("cannot map shared-heap metadata: %s", strerror(errno));
  r.metas = static_cast<Meta*>(m);   // zero pages: owner 0 is rewritten when carved
  void* cc = mmap(nullptr, r.chunks * sizeof(int16_t), PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (cc == MAP_FAILED) fatal("cannot map the shared-heap chunk table: %s", strerror(errno));
  r.chunk_class = static_cast<int16_t*>(cc);
  for (std::size_t i = 0; i < r.chunks; ++i) r.chunk_class[i] = kChunkFree;
}

void ensure_region() { std::call_once(g_region.once, map_region); }

// Finds `n` consecutive free chunks; returns the first index or -1.
long take_chunks(std::size_t n, int16_t cls) {
  std::lock_guard g(g_region.chunk_lock);
  std::size_t run = 0;
  for (std::size_t i = 0; i < g_region.chunks; ++i) {
    run = g_region.chunk_class[i] == kChunkFree ? run + 1 : 0;
    if (run == n) {
      std::size_t first = i + 1 - n;
      g_region.chunk_class[first] = cls;
      for (std::size_t j = first + 1; j <= i; ++j)
        g_region.chunk_class[j] = cls == kChunkLargeHead ? kChunkLargeTail : cls;
      return static_cast<long>(first);
    }
  }
  return -1;
}

[[noreturn]] void out_of_memory(std::size_t size) {
  fatal("the shared heap (%zu MiB) has no room for %zu bytes; raise RL_SHARED_HEAP_MB",
        g_region.size >> 20, size);
}

// Central list refill: carve a fresh chunk when the class has no free slots.
unsigned central_pop(unsigned c, Meta** out, unsigned want) {
  Central& cen = g_region.central[c];
  std::lock_guard g(cen.lock);
  if (!cen.head) {
    long chunk = take_chunks(1, static_cast<int16_t>(c));
    if (chunk < 0) return 0;
    char* base = g_heap_base + static_cast<std::size_t>(chunk) * kChunk;
    std::size_t sz = class_size(c);
    Meta* head = nullptr;
    for (std::size_t off = kChunk; off >= sz; off -= sz) {   // push in reverse: pops ascend
      char* slot = base + off - sz;
      Meta* m = meta_of(slot);
      m->owner.store(kOwnerFree, std::memory_order_relaxed);
      m->borrows.store(0, std::memory_order_relaxed);
      m->payload = slot;
      m->size_class = c;
      m->chunks = 0;
      m->next_free = head;
      head = m;
    }
    cen.head = head;
  }
  unsigned n = 0;
  while (n < want && cen.head) {
    out[n++] = cen.head;
    cen.head = cen.head->next_free;
  }
  return n;
}

void central_push(unsigned c, Meta** in, unsigned n) {
  Central& cen = g_region.central[c];
  std::lock_guard g(cen.lock);
  for (unsigned i = 0; i < n; ++i) {
    in[i]->next_free = cen.head;
    cen.head = in[i];
  }
}

Meta* large_alloc(std::size_t size) {
  std::size_t n = (size + kChunk - 1) / kChunk;
  long first = take_chunks(n, kChunkLargeHead);
  if (first < 0) out_of_memory(size);
  char* p = g_heap_base + static_cast<std::size_t>(first) * kChunk;
  Meta* m = meta_of(p);
  m->payload = p;
  m->size_class = kLargeClass;
  m->chunks = static_cast<uint32_t>(n);
  m->borrows.store(0, std::memory_order_relaxed);
  g_region.large_bytes.fetch_add(static_cast<int64_t>(n * kChunk), std::memory_order_relaxed);
  g_region.large_objects.fetch_add(1, std::memory_order_relaxed);
  return m;
}

void large_free(Meta* m) {
  std::size_t first = (static_cast<char*>(m->payload) - g_heap_base) / kChunk;
  g_region.large_bytes.fetch_sub(static_cast<int64_t>(m->chunks * kChunk), std::memory_order_relaxed);
  g_region.large_objects.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard g(g_region.chunk_lock);
  for (std::size_t j = first; j < first + m->chunks; ++j) g_region.chunk_class[j] = kChunkFree;
}


}  // namespace

char* g_heap_base = nullptr;
char* g_heap_end = nullptr;

Meta* heap_alloc_slow(std::size_t size, std::size_t align) {
  ThreadState& t = tls;
  if (!t.ready) thread_init();
  std::size_t need = size > align ? size : align;
  Meta* m;
  if (need > kMaxCachedSize) {
    ensure_region();
    m = large_alloc(need);
  } else {
    unsigned c = size_class_of(need);
    HeapCache& hc = t.heap[c];
    if (hc.count == 0) {
      ensure_region();
      hc.count = central_pop(c, hc.slots, kRefill);
      if (hc.count == 0) out_of_memory(size);
    }
    m = hc.slots[--hc.count];
    count_shared(t, static_cast<int64_t>(size_class_bytes(c)), 1);
  }
  m->dtor = nullptr;
  m->owner.store(t.current->id, std::memory_order_relaxed);
  return m;
}

void heap_free_slow(Meta* m) noexcept {
  ThreadState& t = tls;
  if (!t.ready) thread_init();
  m->owner.store(kOwnerFree, std::memory_order_relaxed);
  unsigned c = m->size_class;
  if (c == kLargeClass) return large_free(m);
  HeapCache& hc = t.heap[c];
  if (hc.count == kCacheSlots) {
    hc.count -= kRefill;
    central_push(c, hc.slots + hc.count, kRefill);
  }
  hc.slots[hc.count++] = m;
  count_shared(t, -static_cast<int64_t>(size_class_bytes(c)), -1);
}

namespace {
void destroy_and_free(Meta* m) noexcept {
  if (m->dtor) m->dtor(m->payload);
  heap_free(m);
}
// Claims an orphan for freeing; exactly one of the racing parties wins.
void free_orphan_if_unborrowed(Meta* m) noexcept {
  if (m->borrows.load(std::memory_order_seq_cst) != 0) return;
  uint32_t expect = kOwnerOrphan;
  if (m->owner.compare_exchange_strong(expect, kOwnerDying)) destroy_and_free(m);
}
}  // namespace

void heap_release_borrowed(Meta* m) noexcept {
  m->owner.store(kOwnerOrphan, std::memory_order_seq_cst);
  free_orphan_if_unborrowed(m);
}

void heap_end_borrow(Meta* m) noexcept {
  if (m->borrows.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
      __builtin_expect(m->owner.load(std::memory_order_relaxed) == kOwnerOrphan, 0))
    free_orphan_if_unborrowed(m);
}

std::size_t heap_reclaim_owner(uint32_t domain_id) noexcept {
  if (!g_heap_base) return 0;
  std::size_t n = 0;
  for (std::size_t ch = 0; ch < g_region.chunks; ++ch) {
    int16_t cls = g_region.chunk_class[ch];   // a racy read is fine: a dead domain allocates nothing
    if (cls == kChunkFree || cls == kChunkLargeTail) continue;
    char* base = g_heap_base + ch * kChunk;
    std::size_t step = cls == kChunkLargeHead ? kChunk : class_size(static_cast<unsigned>(cls));
    for (std::size_t off = 0; off < kChunk; off += step) {
      Meta* m = meta_of(base + off);
      if (m->owner.load(std::memory_order_relaxed) != domain_id) continue;
      ++n;
      heap_release(m);
    }
  }
  return n;
}

void heap_thread_exit(ThreadState& t) noexcept {
  for (unsigned c = 0; c < kSizeClasses; ++c) {
    if (t.heap[c].count) central_push(c, t.heap[c].slots, t.heap[c].count);
    t.heap[c].count = 0;
  }
}

}  // namespace detail

SharedHeapStats shared_heap_stats() {
  using namespace detail;
  thread_init();
  ensure_region();
  SharedHeapStats s{};
  int64_t bytes = 0, objects = 0;
  for_each_thread([&](ThreadState& t) {
    bytes += t.shared_bytes.load(std::memory_order_relaxed);
    objects += t.shared_objects.load(std::memory_order_relaxed);
  });
  bytes += exited_thread_bytes() + g_region.large_bytes.load();
  objects += exited_thread_objects() + g_region.large_objects.load();
  s.bytes_in_use = static_cast<uint64_t>(bytes);
  s.objects_in_use = static_cast<uint64_t>(objects);
  s.capacity = g_region.size;
  s.hugepages = g_region.hugepages;
  s.locked = g_region.locked;
  s.numa_node = g_region.numa_node;
  return s;
}

void* shared_heap_base() { detail::ensure_region(); return detail::g_heap_base; }
std::size_t shared_heap_size() { detail::ensure_region(); return detail::g_region.size; }

}  // namespace rl
