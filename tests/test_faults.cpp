// Fault containment: every way a domain can fail costs only that domain.
#include <atomic>
#include <thread>

#include "domains/test/faults.hpp"
#include "tests/domain_fixture.hpp"

namespace rl::test {
namespace {

struct Case {
  Fault fault;
  FailureCause cause;
  const char* name;
};

const Case kCases[] = {
    {Fault::Segfault, FailureCause::Segfault, "Segfault"},
    {Fault::BusError, FailureCause::BusError, "BusError"},
    {Fault::FloatingPoint, FailureCause::FloatingPoint, "FloatingPoint"},
    {Fault::IllegalInstruction, FailureCause::IllegalInstruction, "IllegalInstruction"},
    {Fault::StackOverflow, FailureCause::StackOverflow, "StackOverflow"},
    {Fault::Exception, FailureCause::Exception, "Exception"},
    {Fault::Panic, FailureCause::Panic, "Panic"},
};

class EachFault : public ::testing::TestWithParam<Case> {};

TEST_P(EachFault, IsContainedAndTheDomainRestarts) {
  const Case& c = GetParam();
  auto crasher = must_load<CrasherProxy>("faulty", CrasherInit{0});
  auto counter = must_load<CounterProxy>("counter", CounterInit{0});
  ASSERT_TRUE(crasher && counter);
  // Twice: the second fault of a kind proves the handler left the signal unblocked.
  for (int round = 0; round < 2; ++round) {
    EXPECT_TRUE(crasher.proxy->alive().ok());
    auto r = crasher.proxy->crash(c.fault);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), RpcError::DomainFailed);
    DomainInfo info = crasher.domain->info();
    EXPECT_EQ(info.last_cause, c.cause) << "message: " << info.last_message;
    EXPECT_EQ(info.state, DomainState::Reclaimed);
    auto later = crasher.proxy->alive();
    ASSERT_FALSE(later.ok());
    EXPECT_EQ(later.error(), RpcError::DomainFailed) << "later calls fail at once";
    EXPECT_EQ(*counter.proxy->add(1), static_cast<uint64_t>(round + 1)) << "other domains keep running";
    ASSERT_TRUE(crasher.domain->restart().ok());
  }
  EXPECT_EQ(crasher.domain->info().failures, 2u);
}

INSTANTIATE_TEST_SUITE_P(Kinds, EachFault, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Faults, ExceptionMessageIsRecorded) {
  auto crasher = must_load<CrasherProxy>("faulty", CrasherInit{0});
  ASSERT_TRUE(crasher);
  (void)crasher.proxy->crash(Fault::Exception);
  EXPECT_NE(crasher.domain->info().last_message.find("fault requested: exception"), std::string::npos);
  ASSERT_TRUE(crasher.domain->restart().ok());
  (void)crasher.proxy->crash(Fault::Panic);
  EXPECT_EQ(crasher.domain->info().last_message, "fault requested: panic");
}

TEST(Faults, HeapUsageReturnsToTheLevelBeforeTheDomainWasCreated) {
  std::size_t private_before = jemalloc_allocated();
  auto shared_before = shared_heap_stats();
  {
    auto leaky = must_load<CrasherProxy>("leaky", CrasherInit{0});
    ASSERT_TRUE(leaky);
    ASSERT_TRUE(leaky.proxy->leak(8u << 20, 100).ok());
    // The measurement sees the leak, so it would see a failure to reclaim it.
    EXPECT_GE(leaky.domain->private_heap_bytes(), 8u << 20);
    EXPECT_EQ(shared_heap_stats().objects_in_use, shared_before.objects_in_use + 100);
    auto r = leaky.proxy->crash(Fault::Segfault);   // leaks 4 MiB and 16 buffers more, then faults
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(leaky.domain->info().reclaimed_shared_objects, 116u);
    EXPECT_EQ(shared_heap_stats().objects_in_use, shared_before.objects_in_use);
    EXPECT_EQ(shared_heap_stats().bytes_in_use, shared_before.bytes_in_use);
    std::size_t private_after = jemalloc_allocated();
    EXPECT_LT(private_after, private_before + (256u << 10))
        << "private heaps: " << private_before << " bytes before, " << private_after << " after";
  }
}

TEST(Faults, ABorrowedBufferOutlivesTheBorrowerThatCrashed) {
  auto crasher = must_load<CrasherProxy>("faulty", CrasherInit{0});
  ASSERT_TRUE(crasher);
  auto buf = RRef<Buffer>::make();
  buf->bytes[0] = 9;
  auto r = crasher.proxy->hold(buf, Fault::Segfault);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(buf.owner(), 0u);
  EXPECT_EQ(buf.borrows(), 0u);
  EXPECT_EQ(buf->bytes[0], 9);
}

TEST(Faults, RestartWorksAThousandTimesInARow) {
  auto crasher = must_load<CrasherProxy>("faulty", CrasherInit{0});
  auto counter = must_load<CounterProxy>("counter", CounterInit{0});
  ASSERT_TRUE(crasher && counter);
  std::size_t private_before = jemalloc_allocated();
  auto shared_before = shared_heap_stats();
  const Fault kinds[] = {Fault::Segfault, Fault::Exception, Fault::Panic, Fault::FloatingPoint};
  int contained = 0;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(crasher.proxy->leak(1024, 2).ok()) << "round " << i;
    auto r = crasher.proxy->crash(kinds[i % 4]);
    contained += !r.ok() && r.error() == RpcError::DomainFailed;
    ASSERT_TRUE(crasher.domain->restart().ok()) << "round " << i;
  }
  EXPECT_EQ(contained, 1000);
  EXPECT_EQ(*crasher.proxy->alive(), 1u) << "a fresh incarnation";
  EXPECT_EQ(crasher.domain->info().restarts, 1000u);
  EXPECT_EQ(*counter.proxy->add(7), 7u);
  EXPECT_EQ(shared_heap_stats().objects_in_use, shared_before.objects_in_use);
  EXPECT_LT(jemalloc_allocated(), private_before + (256u << 10));
}

// A -> Relay -> Crasher: the test calls the relay, which calls the crasher.
class Nesting : public ::testing::Test {
 protected:
  void SetUp() override {
    crasher = must_load<CrasherProxy>("faulty", CrasherInit{0});
    ASSERT_TRUE(crasher);
    relay = must_load<RelayProxy>("relay", RelayInit{crasher.proxy->cap()});
    ASSERT_TRUE(relay);
  }
  void TearDown() override {
    relay = {};   // the relay holds a capability to the crasher: unload it first
    crasher = {};
  }
  Loaded<CrasherProxy> crasher;
  Loaded<RelayProxy> relay;
};

TEST_F(Nesting, AnInnerFailureReturnsToTheMiddleDomain) {
  auto r = relay.proxy->forward(Fault::Segfault);
  ASSERT_TRUE(r.ok()) << "the relay survived its callee's crash";
  EXPECT_EQ(*r, 1u + static_cast<uint64_t>(RpcError::DomainFailed));
  EXPECT_EQ(crasher.domain->state(), DomainState::Reclaimed);
  EXPECT_EQ(*relay.proxy->served(), 1u);
}

TEST_F(Nesting, AMiddleFailureLeavesTheInnerDomainRunning) {
  auto r = relay.proxy->forward_then_crash(Fault::Panic);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), RpcError::DomainFailed);
  EXPECT_EQ(relay.domain->info().last_cause, FailureCause::Panic);
  EXPECT_TRUE(crasher.proxy->alive().ok());
}

TEST_F(Nesting, AThreadInTheInnerDomainUnwindsPastItsDeadCaller) {
  std::atomic<int> outcome{-1};
  std::thread t([&] {
    auto r = relay.proxy->forward(Fault::Spin);   // A -> Relay -> Crasher, spinning
    outcome = r.ok() ? 0 : static_cast<int>(r.error());
  });
  ASSERT_TRUE(eventually([&] { return *crasher.proxy->spinners() == 1; }));
  EXPECT_TRUE(relay.domain->kill());   // the middle dies while the thread is deeper
  EXPECT_EQ(outcome.load(), -1) << "the inner domain is alive: the thread keeps running there";
  ASSERT_TRUE(crasher.proxy->stop_spinning().ok());
  t.join();
  EXPECT_EQ(outcome.load(), static_cast<int>(RpcError::DomainFailed)) << "unwound to the innermost live caller";
  EXPECT_TRUE(crasher.proxy->alive().ok());
}

TEST(Threads, DomainThreadsAreUnwoundWhenTheDomainFails) {
  auto crasher = must_load<CrasherProxy>("faulty", CrasherInit{0});
  ASSERT_TRUE(crasher);
  EXPECT_EQ(*crasher.proxy->spawn_spinners(2), 2u);
  ASSERT_TRUE(eventually([&] { return *crasher.proxy->spinners() == 2; }));
  EXPECT_EQ(crasher.domain->spawned_threads(), 2);
  auto r = crasher.proxy->crash(Fault::Segfault);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(eventually([&] { return crasher.domain->spawned_threads() == 0; }))
      << crasher.domain->spawned_threads() << " domain threads still running";
  ASSERT_TRUE(crasher.domain->restart().ok());
  EXPECT_EQ(*crasher.proxy->spinners(), 0u);
}

TEST(Threads, KillFromAnotherThreadUnwindsASpinningCall) {
  auto crasher = must_load<CrasherProxy>("faulty", CrasherInit{0});
  ASSERT_TRUE(crasher);
  std::atomic<int> outcome{-1};
  std::thread t([&] {
    auto r = crasher.proxy->crash(Fault::Spin);
    outcome = r.ok() ? 0 : static_cast<int>(r.error());
  });
  ASSERT_TRUE(eventually([&] { return *crasher.proxy->spinners() == 1; }));
  EXPECT_TRUE(crasher.domain->kill());
  t.join();
  EXPECT_EQ(outcome.load(), static_cast<int>(RpcError::DomainFailed));
  EXPECT_EQ(crasher.domain->info().last_cause, FailureCause::Killed);
}

TEST(TrustedFaults, AbortWithAClearMessage) {
  auto counter = must_load<CounterProxy>("counter", CounterInit{0});   // installs the handlers
  ASSERT_TRUE(counter);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(detail::fault_segfault(), "SIGSEGV in trusted code, outside every domain");
}

}  // namespace
}  // namespace rl::test
