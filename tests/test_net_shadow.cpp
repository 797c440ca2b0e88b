// The network shadow: the driver (ixgbe or nullnet) crashes and the caller
// sees nothing but its buffers back -- untouched transmit frames sent once,
// receive buffers returned empty -- with statistics that continue.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "domains/shadow/net/net_shadow.hpp"
#include "drivers/pci/device.hpp"
#include "libredleaf/shared_heap.hpp"
#include "sim/ixgbe/model.hpp"

namespace rl::net {
namespace {

std::string dir(const char* var) {
  const char* d = std::getenv(var);
  return d ? d : ".";
}

struct Port {
  pci::DeviceRef ref{};
  Loaded<NetProxy> loaded;
  explicit Port(const std::string& wire) {
    std::string err;
    auto dev = pci::open("sim:ixgbe,wire=" + wire, &err);
    EXPECT_TRUE(dev) << err;
    ref = pci::attach(std::move(dev));
    LoadError lerr;
    loaded = load_ixgbe(dir("RL_IXGBE_DOMAIN_DIR") + "/ixgbe.so", "ixgbe", IxgbeInit{ref, 1, 1}, &lerr);
    EXPECT_TRUE(loaded) << lerr.message;
  }
  ~Port() {
    loaded = {};
    pci::detach(ref);
  }
  sim::IxgbeModel& model() { return *static_cast<sim::IxgbeModel*>(pci::lookup(ref)->model()); }
  Domain& domain() { return *loaded.domain; }
};

PacketBatch frames(uint32_t n, uint32_t first) {
  auto q = PacketBatch::make();
  for (uint32_t i = 0; i < n; ++i) {
    auto p = RRef<Packet>::make_aligned(64);
    p->len = 60;
    std::memcpy(p->data.data(), &first, 4);
    ++first;
    (void)q.push_back(std::move(p));
  }
  return q;
}

uint32_t sent(const PacketBatch& q) {
  uint32_t n = 0;
  for (std::size_t i = 0; i < q.size(); ++i) n += const_cast<PacketBatch&>(q)[i]->len == 0;
  return n;
}

TEST(NetShadow, ATransmitDuringACrashIsSentOnce) {
  Port port("sink");
  NetDeviceShadow shadow(port.domain(), port.ref);
  port.domain().inject_next(FaultKind::Segfault);
  auto r = shadow.submit_and_poll(frames(32, 0), true);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r.value().size(), 32u);
  EXPECT_EQ(sent(r.value()), 32u) << "every frame sent, each buffer back to refill";
  EXPECT_EQ(port.model().sunk_frames(), 32u) << "on the wire once";
  EXPECT_EQ(shadow.recoveries(), 1u);
  EXPECT_EQ(shadow.resent(), 32u);
  auto st = shadow.stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st.value().tx_packets, 32u);
}

TEST(NetShadow, AReceiveDuringACrashReturnsTheBuffersEmpty) {
  Port port("gen:size=100");
  NetDeviceShadow shadow(port.domain(), port.ref);
  auto q = PacketBatch::make();
  for (int i = 0; i < 32; ++i) (void)q.push_back(RRef<Packet>::make_aligned(64));
  port.domain().inject_next(FaultKind::Exception);
  auto r = shadow.submit_and_poll(std::move(q), false);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value().size(), 32u) << "the caller's buffers come back";
  EXPECT_EQ(sent(r.value()), 32u) << "all empty";
  uint32_t got = 0;
  auto q2 = std::move(r.value());
  for (int i = 0; i < 100 && got == 0; ++i) {
    auto again = shadow.submit_and_poll(std::move(q2), false);
    ASSERT_TRUE(again.ok());
    q2 = std::move(again.value());
    for (std::size_t k = 0; k < q2.size(); ++k) got += q2[k]->len == 100;
  }
  EXPECT_GT(got, 0u) << "the restarted driver receives";
}

TEST(NetShadow, ManyCrashesLoseNoAcknowledgedFrameAndLeakNothing) {
  auto objects_before = shared_heap_stats().objects_in_use;
  {
    Port port("sink");
    NetDeviceShadow shadow(port.domain(), port.ref);
    InjectionPlan plan;
    plan.method = static_cast<uint32_t>(InterfaceTraits<Net>::Method::submit_and_poll);
    plan.probability = 0.1;
    plan.seed = 9;
    plan.kinds = {FaultKind::Segfault, FaultKind::Panic, FaultKind::DivideByZero, FaultKind::StackOverflow};
    port.domain().inject(plan);
    uint64_t acked = 0;
    auto q = frames(32, 0);
    for (int call = 0; call < 2000; ++call) {
      for (std::size_t i = 0; i < q.size(); ++i) q[i]->len = 60;
      auto r = shadow.submit_and_poll(std::move(q), true);
      ASSERT_TRUE(r.ok());
      q = std::move(r.value());
      ASSERT_EQ(q.size(), 32u);
      acked += sent(q);
    }
    port.domain().stop_injecting();
    EXPECT_GT(shadow.recoveries(), 100u);
    EXPECT_EQ(acked + shadow.unsent_after_failed_resend(), 64000u) << "every frame sent, or returned unsent";
    EXPECT_EQ(port.model().sunk_frames(), acked) << "acknowledged = on the wire, once each";
    EXPECT_EQ(shadow.unknown_fate(), 0u) << "injected faults strike before the driver touches the batch";
    EXPECT_EQ(shadow.stats().value().tx_packets, acked) << "statistics continue across restarts";
    printf("%lu crashes, %lu frames resent, %lu returned unsent after a failed resend\n",
           static_cast<unsigned long>(port.domain().faults_injected()), static_cast<unsigned long>(shadow.resent()),
           static_cast<unsigned long>(shadow.unsent_after_failed_resend()));
  }
  EXPECT_EQ(shared_heap_stats().objects_in_use, objects_before);
}

TEST(NetShadow, NullnetThroughTheShadowSurvivesCrashes) {
  LoadError lerr;
  auto nn = load_nullnet(dir("RL_NULLNET_DOMAIN_DIR") + "/nullnet.so", "nullnet", NullNetInit{60}, &lerr);
  ASSERT_TRUE(nn) << lerr.message;
  NetDeviceShadow shadow(*nn.domain, pci::DeviceRef{0});
  InjectionPlan plan;
  plan.probability = 0.05;
  nn.domain->inject(plan);
  auto q = frames(32, 0);
  for (int call = 0; call < 1000; ++call) {
    auto r = shadow.submit_and_poll(std::move(q), call % 2 == 0);
    ASSERT_TRUE(r.ok());
    q = std::move(r.value());
    ASSERT_EQ(q.size(), 32u);
  }
  EXPECT_GT(shadow.recoveries(), 10u);
}

}  // namespace
}  // namespace rl::net
