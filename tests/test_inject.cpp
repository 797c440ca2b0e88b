// Crash injection: each kind committed in the domain's own code is contained
// with the right cause; plans fire at the N-th call of a method, with a
// seeded probability, on the next call, or on a signal from outside; the
// watchdog ends an injected infinite loop.
#include <csignal>

#include "libredleaf/hold.hpp"
#include "libredleaf/inject.hpp"
#include "tests/domain_fixture.hpp"

namespace rl::test {
namespace {

using Method = InterfaceTraits<Counter>::Method;

struct KindCase {
  FaultKind kind;
  FailureCause cause;
};

const KindCase kKinds[] = {
    {FaultKind::Segfault, FailureCause::Segfault},
    {FaultKind::BusError, FailureCause::BusError},
    {FaultKind::DivideByZero, FailureCause::FloatingPoint},
    {FaultKind::IllegalInstruction, FailureCause::IllegalInstruction},
    {FaultKind::StackOverflow, FailureCause::StackOverflow},
    {FaultKind::Exception, FailureCause::Exception},
    {FaultKind::Panic, FailureCause::Panic},
    {FaultKind::InfiniteLoop, FailureCause::Hang},
};

class EachKind : public ::testing::TestWithParam<KindCase> {};

TEST_P(EachKind, IsCommittedByTheDomainAndContained) {
  const KindCase& c = GetParam();
  auto counter = must_load<CounterProxy>("counter", CounterInit{0});
  ASSERT_TRUE(counter);
  for (int round = 0; round < 2; ++round) {
    counter.domain->inject_next(c.kind);
    auto r = counter.proxy->add(1);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), RpcError::DomainFailed);
    EXPECT_EQ(counter.domain->info().last_cause, c.cause) << counter.domain->info().last_message;
    ASSERT_TRUE(counter.domain->restart().ok());
    EXPECT_EQ(*counter.proxy->add(5), 5u) << "restarted from its init arguments; no second fault";
  }
  EXPECT_EQ(counter.domain->faults_injected(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Kinds, EachKind, ::testing::ValuesIn(kKinds),
                         [](const auto& info) { return std::string(to_string(info.param.kind)); });

TEST(Inject, AtTheNthCallOfOneMethod) {
  auto counter = must_load<CounterProxy>("counter", CounterInit{0});
  ASSERT_TRUE(counter);
  InjectionPlan plan;
  plan.method = static_cast<uint32_t>(Method::add);
  plan.at_call = 5;
  plan.kinds = {FaultKind::Panic};
  counter.domain->inject(plan);
  for (int i = 1; i <= 4; ++i) {
    ASSERT_TRUE(counter.proxy->add(1).ok()) << "add call " << i;
    ASSERT_TRUE(counter.proxy->ping().ok()) << "ping does not count";
  }
  EXPECT_FALSE(counter.proxy->add(1).ok()) << "the fifth add fails";
  EXPECT_EQ(counter.domain->info().last_cause, FailureCause::Panic);
  ASSERT_TRUE(counter.domain->restart().ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(counter.proxy->add(1).ok()) << "once only";
}

// The calls that fail, for a seed: the same seed gives the same calls.
std::vector<int> failing_calls(uint64_t seed, double p, int calls) {
  auto counter = must_load<CounterProxy>("counter", CounterInit{0});
  InjectionPlan plan;
  plan.probability = p;
  plan.seed = seed;
  plan.kinds = {FaultKind::Segfault, FaultKind::Exception};
  counter.domain->inject(plan);
  std::vector<int> failed;
  for (int i = 0; i < calls; ++i) {
    if (!counter.proxy->ping().ok()) {
      failed.push_back(i);
      EXPECT_TRUE(counter.domain->restart().ok());
    }
  }
  return failed;
}

TEST(Inject, WithASeededProbability) {
  auto a = failing_calls(7, 0.05, 2000);
  auto b = failing_calls(7, 0.05, 2000);
  auto c = failing_calls(8, 0.05, 2000);
  EXPECT_EQ(a, b) << "reproducible from the seed";
  EXPECT_NE(a, c);
  EXPECT_GT(a.size(), 50u);   // 100 expected
  EXPECT_LT(a.size(), 160u);
}

TEST(Inject, OnASignalFromOutside) {
  auto counter = must_load<CounterProxy>("counter", CounterInit{0});
  ASSERT_TRUE(counter);
  counter.domain->inject_on_signal(SIGUSR1, FaultKind::IllegalInstruction);
  ASSERT_TRUE(counter.proxy->ping().ok()) << "armed, not yet signalled";
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  EXPECT_FALSE(counter.proxy->ping().ok());
  EXPECT_EQ(counter.domain->info().last_cause, FailureCause::IllegalInstruction);
  ASSERT_TRUE(counter.domain->restart().ok());
  EXPECT_TRUE(counter.proxy->ping().ok()) << "one signal, one fault";
  counter.domain->stop_injecting();
  signal(SIGUSR1, SIG_DFL);
}

TEST(Inject, StopInjectingDisarmsThePlan) {
  auto counter = must_load<CounterProxy>("counter", CounterInit{0});
  ASSERT_TRUE(counter);
  InjectionPlan plan;
  plan.probability = 1.0;
  counter.domain->inject(plan);
  EXPECT_FALSE(counter.proxy->ping().ok());
  ASSERT_TRUE(counter.domain->restart().ok());
  counter.domain->stop_injecting();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(counter.proxy->ping().ok());
}

TEST(Inject, FaultKindsParseAndBadNamesAreNamed) {
  std::vector<FaultKind> kinds;
  std::string err;
  ASSERT_TRUE(parse_fault_kinds("segv,loop", &kinds, &err)) << err;
  EXPECT_EQ(kinds, (std::vector<FaultKind>{FaultKind::Segfault, FaultKind::InfiniteLoop}));
  ASSERT_TRUE(parse_fault_kinds("all", &kinds, &err));
  EXPECT_EQ(kinds.size(), static_cast<std::size_t>(kFaultKinds));
  EXPECT_FALSE(parse_fault_kinds("segv,oops", &kinds, &err));
  EXPECT_NE(err.find("'oops'"), std::string::npos) << err;
}

// A real hang (not injected): the faulty domain spins in its own code.
TEST(Watchdog, KillsACallThatMakesNoProgress) {
  auto crasher = must_load<CrasherProxy>("faulty", CrasherInit{0});
  ASSERT_TRUE(crasher);
  crasher.domain->set_call_timeout(std::chrono::milliseconds(20));
  auto t0 = std::chrono::steady_clock::now();
  auto r = crasher.proxy->crash(Fault::Spin);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(crasher.domain->info().last_cause, FailureCause::Hang);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  ASSERT_TRUE(crasher.domain->restart().ok());
  EXPECT_TRUE(crasher.proxy->alive().ok()) << "quick calls are not hangs";
  crasher.domain->set_call_timeout(std::chrono::microseconds(0));
}

}  // namespace
}  // namespace rl::test

namespace rl::test {
namespace {

Buffer filled(uint8_t v) {
  Buffer b{};
  b.bytes.fill(v);
  b.len = 64;
  return b;
}

// A held buffer given to a domain that then crashes survives, with its data,
// and comes back to the holder.
TEST(Hold, AnObjectLentToADomainThatDiesIsAdoptedBack) {
  auto counter = must_load<CounterProxy>("counter", CounterInit{0});
  ASSERT_TRUE(counter);
  auto before = shared_heap_stats().objects_in_use;
  {
    auto buf = RRef<Buffer>::make(filled(7));
    Hold<Buffer> hold(buf);
    ASSERT_TRUE(counter.proxy->keep(std::move(buf)).ok());
    EXPECT_FALSE(hold.orphaned()) << "the domain owns it and is alive";
    EXPECT_FALSE(hold.adopt()) << "nothing to adopt while the owner lives";
    counter.domain->inject_next(FaultKind::Segfault);
    EXPECT_FALSE(counter.proxy->ping().ok());
    EXPECT_TRUE(hold.orphaned()) << "reclaim orphaned it instead of freeing it";
    RRef<Buffer> back = hold.adopt();
    ASSERT_TRUE(back);
    EXPECT_FALSE(hold);
    EXPECT_EQ(back.owner(), 0u);
    EXPECT_EQ(back->bytes[63], 7) << "data intact";
    EXPECT_EQ(back.borrows(), 0u);
  }
  EXPECT_EQ(shared_heap_stats().objects_in_use, before) << "adopted, then freed by its new owner";
  ASSERT_TRUE(counter.domain->restart().ok());
}

TEST(Hold, ReleasingAnOrphanFreesItAndReleasingWhileAliveFreesNothing) {
  auto counter = must_load<CounterProxy>("counter", CounterInit{0});
  ASSERT_TRUE(counter);
  auto before = shared_heap_stats().objects_in_use;
  {
    auto buf = RRef<Buffer>::make(filled(1));
    Hold<Buffer> hold(buf);
    ASSERT_TRUE(counter.proxy->keep(std::move(buf)).ok());
    hold.release();
    auto back = counter.proxy->give_back();
    ASSERT_TRUE(back.ok() && back.value()) << "still the domain's, unharmed";
    EXPECT_EQ(back.value()->bytes[0], 1);
  }
  {
    auto buf = RRef<Buffer>::make(filled(2));
    Hold<Buffer> hold(buf);
    ASSERT_TRUE(counter.proxy->keep(std::move(buf)).ok());
    ASSERT_TRUE(counter.domain->kill());
    EXPECT_TRUE(hold.orphaned());
  }   // the hold ends: the orphan is freed
  EXPECT_EQ(shared_heap_stats().objects_in_use, before);
  ASSERT_TRUE(counter.domain->restart().ok());
}

}  // namespace
}  // namespace rl::test
