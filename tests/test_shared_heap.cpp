// The shared heap: alignment, accounting, reuse, threads, reclaim by owner.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include "libredleaf/shared_heap.hpp"

namespace {

using rl::detail::heap_alloc;
using rl::detail::heap_free;
using rl::detail::Meta;

TEST(SharedHeap, AllocationsLieInTheRegionAlignedAsAsked) {
  for (std::size_t size : {1u, 63u, 64u, 65u, 1000u, 4096u, 70000u, 1u << 20, 3u << 20}) {
    for (std::size_t align : {8u, 64u, 4096u}) {
      Meta* m = heap_alloc(size, align);
      auto p = reinterpret_cast<uintptr_t>(m->payload);
      EXPECT_TRUE(rl::detail::in_shared_heap(m->payload)) << size;
      EXPECT_TRUE(rl::detail::in_shared_heap(reinterpret_cast<char*>(p) + size - 1)) << size;
      EXPECT_EQ(p % align, 0u) << "size " << size << " align " << align;
      EXPECT_EQ(m->owner.load(), 0u) << "trusted code allocated it";
      heap_free(m);
    }
  }
}

TEST(SharedHeap, AccountsBytesAndObjectsAndReturnsToBaseline) {
  auto before = rl::shared_heap_stats();
  std::vector<Meta*> ms;
  for (int i = 0; i < 1000; ++i) ms.push_back(heap_alloc(100, 8));   // 128-byte class
  auto during = rl::shared_heap_stats();
  EXPECT_EQ(during.objects_in_use - before.objects_in_use, 1000u);
  EXPECT_EQ(during.bytes_in_use - before.bytes_in_use, 1000u * 128);
  for (Meta* m : ms) heap_free(m);
  auto after = rl::shared_heap_stats();
  EXPECT_EQ(after.objects_in_use, before.objects_in_use);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  EXPECT_GT(after.capacity, 0u);
}

TEST(SharedHeap, LiveAllocationsNeverOverlap) {
  std::vector<Meta*> ms;
  std::set<uintptr_t> starts;
  for (int i = 0; i < 5000; ++i) {
    Meta* m = heap_alloc(200, 8);
    EXPECT_TRUE(starts.insert(reinterpret_cast<uintptr_t>(m->payload)).second);
    ms.push_back(m);
  }
  uintptr_t prev = 0;
  for (uintptr_t s : starts) {
    EXPECT_GE(s - prev, 256u);
    prev = s;
  }
  for (Meta* m : ms) heap_free(m);
}

TEST(SharedHeap, ThreadsAllocateAndFreeConcurrently) {
  auto before = rl::shared_heap_stats();
  constexpr int kThreads = 4, kRounds = 20000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([t] {
      std::vector<Meta*> mine;
      for (int i = 0; i < kRounds; ++i) {
        Meta* m = heap_alloc(64 + (i % 7) * 100, 8);
        *static_cast<uint32_t*>(m->payload) = static_cast<uint32_t>(t * kRounds + i);
        mine.push_back(m);
        if (mine.size() > 64) {
          Meta* old = mine.front();
          mine.erase(mine.begin());
          heap_free(old);
        }
      }
      for (std::size_t i = 0; i < mine.size(); ++i)
        EXPECT_EQ(*static_cast<uint32_t*>(mine[i]->payload),
                  static_cast<uint32_t>(t * kRounds + kRounds - mine.size() + i));
      for (Meta* m : mine) heap_free(m);
    });
  for (auto& th : ts) th.join();
  auto after = rl::shared_heap_stats();
  EXPECT_EQ(after.objects_in_use, before.objects_in_use);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
}

TEST(SharedHeap, ReclaimFreesExactlyWhatOneOwnerHeld) {
  auto before = rl::shared_heap_stats();
  constexpr uint32_t kOwner = 77;   // an id no live domain has in this test
  std::vector<Meta*> kept;
  for (int i = 0; i < 300; ++i) {
    Meta* m = heap_alloc(i % 2 ? 100 : 5000, 8);
    if (i % 3 == 0) m->owner.store(kOwner);
    else kept.push_back(m);
  }
  EXPECT_EQ(rl::detail::heap_reclaim_owner(kOwner), 100u);
  auto mid = rl::shared_heap_stats();
  EXPECT_EQ(mid.objects_in_use - before.objects_in_use, kept.size());
  for (Meta* m : kept) EXPECT_EQ(m->owner.load(), 0u);
  for (Meta* m : kept) heap_free(m);
  EXPECT_EQ(rl::shared_heap_stats().objects_in_use, before.objects_in_use);
}

TEST(SharedHeap, BorrowedObjectOfDeadOwnerIsFreedWhenTheBorrowEnds) {
  auto before = rl::shared_heap_stats();
  Meta* m = heap_alloc(64, 8);
  m->owner.store(78);
  m->borrows.fetch_add(1);
  rl::detail::heap_reclaim_owner(78);
  EXPECT_EQ(m->owner.load(), rl::detail::kOwnerOrphan) << "kept alive for the borrower";
  EXPECT_EQ(rl::shared_heap_stats().objects_in_use, before.objects_in_use + 1);
  rl::detail::heap_end_borrow(m);
  EXPECT_EQ(rl::shared_heap_stats().objects_in_use, before.objects_in_use);
}

}  // namespace
