// RRef, RRefArray and RRefDeque in one domain (trusted code): lifetime,
// ownership marks, containment.  Crossing domains is tested in test_domains.
#include <gtest/gtest.h>

#include <array>

#include "libredleaf/cross_call.hpp"
#include "libredleaf/rref.hpp"
#include "libredleaf/shared_heap.hpp"

namespace {

struct Packet {
  std::array<uint8_t, 60> data;
  uint16_t len;
};
struct Chain {
  uint32_t n;
  rl::RRef<Packet> first;
};

TEST(RRef, MakeMoveAndDestroyReturnTheMemory) {
  auto before = rl::shared_heap_stats();
  {
    auto a = rl::RRef<Packet>::make();
    a->len = 42;
    EXPECT_TRUE(rl::detail::in_shared_heap(a.get()));
    EXPECT_EQ(a.owner(), 0u);
    rl::RRef<Packet> b = std::move(a);
    EXPECT_FALSE(a);
    EXPECT_EQ(b->len, 42);
    EXPECT_EQ(rl::shared_heap_stats().objects_in_use, before.objects_in_use + 1);
  }
  EXPECT_EQ(rl::shared_heap_stats().objects_in_use, before.objects_in_use);
}

TEST(RRef, DmaAlignmentOnRequest) {
  auto page = rl::RRefArray<uint8_t, 4096>::make_aligned(4096);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(page.data()) % 4096, 0u);
  page[4095] = 7;
  EXPECT_EQ(page[4095], 7);
}

TEST(RRef, AnRRefInsideASharedObjectIsContainedAndFreedWithIt) {
  auto before = rl::shared_heap_stats();
  {
    auto inner = rl::RRef<Packet>::make();
    inner->len = 9;
    auto chain = rl::RRef<Chain>::make(Chain{1, std::move(inner)});
    EXPECT_EQ(chain->first.owner(), rl::detail::kOwnerContained);
    EXPECT_EQ(chain->first->len, 9);
    rl::RRef<Packet> out = std::move(chain->first);
    EXPECT_EQ(out.owner(), 0u) << "taken out again: owned by the current domain";
    chain->first = std::move(out);
    EXPECT_EQ(rl::shared_heap_stats().objects_in_use, before.objects_in_use + 2);
  }
  EXPECT_EQ(rl::shared_heap_stats().objects_in_use, before.objects_in_use) << "the container freed its content";
}

TEST(RRefDeque, IsABoundedFifoOfContainedRRefs) {
  auto before = rl::shared_heap_stats();
  {
    auto q = rl::RRefDeque<rl::RRef<Packet>, 4>::make();
    EXPECT_TRUE(q.empty());
    for (uint16_t i = 0; i < 4; ++i) {
      auto p = rl::RRef<Packet>::make();
      p->len = i;
      EXPECT_TRUE(q.push_back(std::move(p)));
    }
    auto extra = rl::RRef<Packet>::make();
    EXPECT_FALSE(q.push_back(extra)) << "full";
    EXPECT_TRUE(extra) << "a refused push leaves the element with the caller";
    rl::RRef<Packet> out;
    for (uint16_t i = 0; i < 2; ++i) {
      ASSERT_TRUE(q.pop_front(out));
      EXPECT_EQ(out->len, i);
      EXPECT_EQ(out.owner(), 0u);
    }
    EXPECT_TRUE(q.push_back(extra));   // wraps around the ring
    EXPECT_EQ(q.size(), 3u);
  }
  EXPECT_EQ(rl::shared_heap_stats().objects_in_use, before.objects_in_use);
}

// Bursts keep FIFO order across the ring's wrap, move ownership like single
// pushes and pops, and free what a full destination handle held.
TEST(RRefDeque, BurstsMoveInOrderAcrossTheWrapWithOwnership) {
  auto before = rl::shared_heap_stats();
  {
    auto q = rl::RRefDeque<rl::RRef<Packet>, 8>::make();
    std::array<rl::RRef<Packet>, 6> in, out;
    uint16_t next_in = 0, next_out = 0;
    for (int round = 0; round < 5; ++round) {   // 6 in, 6 out over 8 slots: every offset wraps
      for (auto& p : in) {
        p = rl::RRef<Packet>::make();
        p->len = next_in++;
      }
      ASSERT_EQ(q.push_back_burst(in.data(), 6), 6u);
      for (auto& p : in) EXPECT_FALSE(p) << "moved into the deque";
      EXPECT_EQ(q[0].owner(), rl::detail::kOwnerContained);
      ASSERT_EQ(q.pop_front_burst(out.data(), 6), 6u);
      for (auto& p : out) {
        ASSERT_TRUE(p);
        EXPECT_EQ(p->len, next_out++);
        EXPECT_EQ(p.owner(), 0u) << "popped into this domain's hands";
      }
    }
    for (auto& p : in) p = rl::RRef<Packet>::make();
    EXPECT_EQ(q.push_back_burst(in.data(), 6), 6u);
    for (auto& p : in) p = rl::RRef<Packet>::make();
    EXPECT_EQ(q.push_back_burst(in.data(), 6), 2u) << "only what fits moves";
    EXPECT_FALSE(in[1]);
    EXPECT_TRUE(in[2]) << "the rest stays with the caller";
    EXPECT_EQ(q.pop_front_burst(out.data(), 6), 6u) << "the previous contents of `out` are released";
    EXPECT_EQ(q.pop_front_burst(out.data(), 6), 2u);
    EXPECT_EQ(q.pop_front_burst(out.data(), 6), 0u) << "empty";
    // Popped into shared-heap memory, a handle stays contained.
    auto holder = rl::RRef<std::array<rl::RRef<Packet>, 2>>::make();
    ASSERT_EQ(q.push_back_burst(out.data(), 2), 2u);
    ASSERT_EQ(q.pop_front_burst(holder->data(), 2), 2u);
    EXPECT_EQ((*holder)[0].owner(), rl::detail::kOwnerContained);
  }
  EXPECT_EQ(rl::shared_heap_stats().objects_in_use, before.objects_in_use) << "nothing leaked or freed twice";
}

TEST(RRef, GiveMovesOwnershipOfEveryRRefInAValue) {
  Chain c{1, rl::RRef<Packet>::make()};
  rl::detail::give(c, 5);
  EXPECT_EQ(c.first.owner(), 5u);
  auto q = rl::RRefDeque<rl::RRef<Packet>, 8>::make();
  rl::detail::give(q, 6);
  EXPECT_EQ(q.owner(), 6u);
  rl::detail::give(q, 0);
  rl::detail::give(c, 0);
}

}  // namespace
