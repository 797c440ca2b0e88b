// What idlc generates: traits, the ABI fingerprint check at load, shadows.
#include <string>

#include "idl/bdev.rl.hpp"
#include "idl/net.rl.hpp"
#include "tests/domain_fixture.hpp"

namespace rl::test {
namespace {

TEST(Traits, CarryTheNameAndTheMethodAnnotations) {
  using T = InterfaceTraits<Counter>;
  EXPECT_STREQ(T::kName, "rl::test::Counter");
  EXPECT_TRUE(T::kMethods[static_cast<int>(T::Method::ping)].idempotent);
  EXPECT_TRUE(T::kMethods[static_cast<int>(T::Method::sum)].idempotent);
  EXPECT_FALSE(T::kMethods[static_cast<int>(T::Method::echo)].idempotent);
  using Q = InterfaceTraits<blk::BlockQueue>;
  EXPECT_TRUE(Q::kMethods[static_cast<int>(Q::Method::submit_and_poll)].batched);
  using N = InterfaceTraits<blk::NvmeBDev>;
  EXPECT_EQ(std::size(N::kMethods), 6u) << "inherited BDev methods come first";
  EXPECT_STREQ(N::kMethods[0].name, "info");
  EXPECT_TRUE(InterfaceTraits<net::Net>::kMethods[0].batched);
}

TEST(Traits, FingerprintsDifferAndCoverTheStructLayouts) {
  EXPECT_NE(InterfaceTraits<Counter>::kFingerprint, InterfaceTraits<Crasher>::kFingerprint);
  EXPECT_NE(InterfaceTraits<blk::BDev>::kFingerprint, InterfaceTraits<blk::NvmeBDev>::kFingerprint);
  std::string decl = InterfaceTraits<Counter>::kDeclaration;
  EXPECT_NE(decl.find("struct rl::test::Buffer size 68"), std::string::npos) << decl;
  EXPECT_NE(std::string(InterfaceTraits<Crasher>::kDeclaration).find("enum rl::test::Fault"), std::string::npos);
}

TEST(AbiCheck, ADomainBuiltAgainstAnOlderInterfaceIsRefused) {
  LoadError err;
  const char* dir = std::getenv("RL_TEST_DOMAIN_DIR_OLD");
  auto l = load_counter(std::string(dir ? dir : "tests") + "/old_counter.so", "old", CounterInit{0}, &err);
  ASSERT_FALSE(l);
  char ours[20];
  snprintf(ours, sizeof ours, "%016lx", static_cast<unsigned long>(InterfaceTraits<Counter>::kFingerprint));
  // (No std::regex: GCC 12 warns inside it under ASan, and warnings are errors.)
  const std::string& msg = err.message;
  EXPECT_NE(msg.find("interface rl::test::Counter differs: "), std::string::npos) << msg;
  auto theirs_at = msg.find("old_counter.so was built against fingerprint ");
  auto ours_at = msg.find(", the caller expects ");
  ASSERT_NE(theirs_at, std::string::npos) << msg;
  ASSERT_NE(ours_at, std::string::npos) << msg;
  std::string theirs = msg.substr(theirs_at + std::string("old_counter.so was built against fingerprint ").size(), 16);
  std::string expected = msg.substr(ours_at + std::string(", the caller expects ").size(), 16);
  EXPECT_EQ(theirs.find_first_not_of("0123456789abcdef"), std::string::npos) << msg;
  EXPECT_NE(theirs, expected);
  EXPECT_EQ(expected, ours);
}

TEST(Loader, TheGeneratedLoaderIsTyped) {
  LoadError err;
  auto c = load_counter(domain_path("counter"), "counter", CounterInit{40}, &err);
  ASSERT_TRUE(c) << err.message;
  EXPECT_EQ(*c.proxy->add(2), 42u);
}

// Counts what the hooks see.
class CountingShadow final : public CounterShadow {
 public:
  using CounterShadow::CounterShadow;
  int started = 0, completed = 0, failed = 0;

 protected:
  void request_started(uint32_t) override { ++started; }
  void request_completed(uint32_t, bool) override { ++completed; }
  bool domain_failed(uint32_t m, bool can_retry) override {
    ++failed;
    return CounterShadow::domain_failed(m, can_retry);
  }
};

TEST(Shadow, RetriesAnIdempotentCallAfterRestartingTheDomain) {
  auto c = must_load<CounterProxy>("counter", CounterInit{0});
  ASSERT_TRUE(c);
  CountingShadow shadow(*c.domain);
  EXPECT_TRUE(shadow.ping().ok());
  c.domain->kill();
  auto r = shadow.ping();
  EXPECT_TRUE(r.ok()) << "restarted and retried: the caller never sees the failure";
  EXPECT_EQ(shadow.recoveries(), 1u);
  EXPECT_EQ(shadow.failed, 1);
  EXPECT_EQ(shadow.started, 2);
  EXPECT_EQ(shadow.completed, 2);
  EXPECT_EQ(c.domain->info().restarts, 1u);
}

TEST(Shadow, ReportsANonIdempotentFailureButRestartsTheDomain) {
  auto c = must_load<CounterProxy>("counter", CounterInit{5});
  ASSERT_TRUE(c);
  CountingShadow shadow(*c.domain);
  c.domain->kill();
  auto r = shadow.add(1);
  ASSERT_FALSE(r.ok()) << "add is not idempotent: it is not retried";
  EXPECT_EQ(r.error(), RpcError::DomainFailed);
  EXPECT_TRUE(c.domain->alive());
  EXPECT_EQ(*shadow.add(1), 6u) << "the next call reaches the restarted domain";
}

}  // namespace
}  // namespace rl::test
