// Loading, calling, ownership across calls, restart, unload.
#include <unistd.h>

#include <cstring>

#include "tests/domain_fixture.hpp"

namespace rl::test {
namespace {

TEST(Load, RefusesAMissingFileAndSaysWhatToDo) {
  LoadError err;
  auto l = load_domain<CounterProxy>("/nonexistent/counter.so", "counter", CounterInit{0}, &err);
  EXPECT_FALSE(l);
  EXPECT_NE(err.message.find("cannot read /nonexistent/counter.so"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("./redleaf build"), std::string::npos) << err.message;
}

TEST(Load, RefusesASharedObjectThatIsNotADomain) {
  LoadError err;
  const char* libm = "/lib/x86_64-linux-gnu/libm.so.6";
  if (access(libm, R_OK) != 0) GTEST_SKIP() << libm << " is not on this machine";
  auto d = Domain::load(libm, "libm", "rl::test::Counter", InterfaceTraits<Counter>::kFingerprint, nullptr, 0, &err);
  EXPECT_EQ(d, nullptr);
  EXPECT_NE(err.message.find("is not a redleaf domain: it exports no rl_domain_abi"), std::string::npos)
      << err.message;
}

TEST(Load, RefusesTheWrongInterface) {
  LoadError err;
  auto l = load_domain<CrasherProxy>(domain_path("counter"), "counter", CrasherInit{0}, &err);
  EXPECT_FALSE(l);
  EXPECT_NE(err.message.find("implements interface rl::test::Counter, but was loaded as rl::test::Crasher"), std::string::npos)
      << err.message;
}

TEST(Load, RefusesAChangedInterfaceNamingBothFingerprints) {
  LoadError err;
  CounterInit init{0};
  uint64_t changed = InterfaceTraits<Counter>::kFingerprint ^ 1;
  auto d = Domain::load(domain_path("counter"), "counter", "rl::test::Counter", changed, &init, sizeof init, &err);
  EXPECT_EQ(d, nullptr);
  char theirs[20], ours[20];
  snprintf(theirs, sizeof theirs, "%016lx", static_cast<unsigned long>(InterfaceTraits<Counter>::kFingerprint));
  snprintf(ours, sizeof ours, "%016lx", static_cast<unsigned long>(changed));
  EXPECT_NE(err.message.find("interface rl::test::Counter differs"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find(theirs), std::string::npos) << err.message;
  EXPECT_NE(err.message.find(ours), std::string::npos) << err.message;
}

TEST(Calls, ReachTheDomainAndKeepItsState) {
  auto c = must_load<CounterProxy>("counter", CounterInit{100});
  ASSERT_TRUE(c);
  EXPECT_TRUE(c.proxy->ping().ok());
  auto r = c.proxy->add(5);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 105u);
  EXPECT_EQ(*c.proxy->add(3), 108u);
  EXPECT_EQ(c.domain->state(), DomainState::Live);
}

TEST(Calls, TwoInstancesOfOneSharedObjectAreIndependent) {
  auto a = must_load<CounterProxy>("counter", CounterInit{0});
  auto b = must_load<CounterProxy>("counter", CounterInit{1000});
  ASSERT_TRUE(a && b);
  EXPECT_NE(a.domain->id(), b.domain->id());
  EXPECT_EQ(*a.proxy->add(1), 1u);
  EXPECT_EQ(*b.proxy->add(1), 1001u);
  a.domain->kill();
  EXPECT_EQ(*b.proxy->add(1), 1002u);
}

TEST(Ownership, MovedInAndBackOut) {
  auto c = must_load<CounterProxy>("counter", CounterInit{0});
  ASSERT_TRUE(c);
  auto before = shared_heap_stats();
  auto buf = RRef<Buffer>::make();
  buf->bytes[0] = 41;
  auto r = c.proxy->echo(std::move(buf));
  ASSERT_TRUE(r.ok());
  RRef<Buffer> back = std::move(r.value());
  EXPECT_EQ(back->bytes[0], 42);
  EXPECT_EQ(back.owner(), 0u) << "returned RRefs belong to the caller";
  back.reset();
  EXPECT_EQ(shared_heap_stats().objects_in_use, before.objects_in_use);
}

TEST(Ownership, KeptByTheCalleeThenGivenBack) {
  auto c = must_load<CounterProxy>("counter", CounterInit{0});
  ASSERT_TRUE(c);
  auto before = shared_heap_stats();
  for (int i = 0; i < 3; ++i) {
    auto b = RRef<Buffer>::make();
    b->len = static_cast<uint32_t>(i);
    EXPECT_EQ(*c.proxy->keep(std::move(b)), static_cast<uint64_t>(i + 1));
  }
  EXPECT_EQ(shared_heap_stats().objects_in_use, before.objects_in_use + 3);
  auto r = c.proxy->give_back();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->owner(), 0u);
  EXPECT_EQ((*r)->len, 2u);
}

TEST(Ownership, ABorrowLeavesOwnershipAndCountsBackToZero) {
  auto c = must_load<CounterProxy>("counter", CounterInit{0});
  ASSERT_TRUE(c);
  auto b = RRef<Buffer>::make();
  b->len = 4;
  for (uint8_t i = 0; i < 4; ++i) b->bytes[i] = static_cast<uint8_t>(i + 1);
  auto s = c.proxy->sum(b);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, 10u);
  EXPECT_EQ(b.owner(), 0u);
  EXPECT_EQ(b.borrows(), 0u);
}

TEST(Ownership, WhatAFailedDomainKeptIsFreedWithIt) {
  auto c = must_load<CounterProxy>("counter", CounterInit{0});
  ASSERT_TRUE(c);
  auto before = shared_heap_stats();
  for (int i = 0; i < 10; ++i) (void)c.proxy->keep(RRef<Buffer>::make());
  EXPECT_EQ(shared_heap_stats().objects_in_use, before.objects_in_use + 10);
  EXPECT_TRUE(c.domain->kill());
  EXPECT_EQ(shared_heap_stats().objects_in_use, before.objects_in_use);
  EXPECT_EQ(c.domain->info().reclaimed_shared_objects, 10u);
}

TEST(Lifecycle, RestartRecreatesFromTheFactoryAndInitArguments) {
  auto c = must_load<CounterProxy>("counter", CounterInit{100});
  ASSERT_TRUE(c);
  EXPECT_EQ(*c.proxy->add(1), 101u);
  EXPECT_TRUE(c.domain->kill());
  EXPECT_FALSE(c.domain->kill()) << "already dead";
  auto dead = c.proxy->add(1);
  ASSERT_FALSE(dead.ok());
  EXPECT_EQ(dead.error(), RpcError::DomainFailed);
  EXPECT_EQ(c.domain->state(), DomainState::Reclaimed);
  EXPECT_EQ(c.domain->info().last_cause, FailureCause::Killed);
  EXPECT_TRUE(c.domain->restart().ok());
  EXPECT_EQ(*c.proxy->add(1), 101u) << "fresh state from the same init arguments";
  EXPECT_EQ(c.domain->info().incarnation, 2u);
  auto again = c.domain->restart();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error(), RpcError::InvalidArgument) << "restarting a live domain is refused";
}

TEST(Lifecycle, CallsAfterUnloadReturnDomainUnloaded) {
  auto c = must_load<CounterProxy>("counter", CounterInit{0});
  ASSERT_TRUE(c);
  c.domain.reset();
  auto r = c.proxy->add(1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), RpcError::DomainUnloaded);
}

}  // namespace
}  // namespace rl::test
