// The block-device shadow: a crash of the driver (membdev or NVMe) in the
// middle of I/O is invisible to the caller -- every request completes, every
// acknowledged write reads back, nothing leaks -- and a driver that keeps
// failing makes the shadow give up with an error, then recover later.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <string>

#include "domains/shadow/bdev/bdev_shadow.hpp"
#include "drivers/pci/device.hpp"
#include "libredleaf/shared_heap.hpp"

namespace rl::blk {
namespace {

std::string dir(const char* var) {
  const char* d = std::getenv(var);
  return d ? d : ".";
}

// A driver domain over a fresh simulated device.
struct Driver {
  pci::DeviceRef ref{};
  Loaded<NvmeBDevProxy> loaded;
  explicit Driver(const std::string& spec) {
    std::string err;
    auto dev = pci::open(spec, &err);
    EXPECT_TRUE(dev) << err;
    ref = pci::attach(std::move(dev));
    LoadError lerr;
    if (spec.rfind("sim:ram", 0) == 0)
      loaded = load_membdev(dir("RL_MEMBDEV_DOMAIN_DIR") + "/membdev.so", "membdev", MemBDevInit{ref}, &lerr);
    else
      loaded = load_nvme(dir("RL_NVME_DOMAIN_DIR") + "/nvme.so", "nvme", NvmeInit{ref, 1, 64}, &lerr);
    EXPECT_TRUE(loaded) << lerr.message;
  }
  ~Driver() {
    loaded = {};
    pci::detach(ref);
  }
  Domain& domain() { return *loaded.domain; }
};

RRef<Block> pattern(uint64_t lba, uint64_t version) {
  auto b = RRef<Block>::make_aligned(4096);
  for (std::size_t i = 0; i < kBlockSize; i += 8) {
    uint64_t w = lba * 1000003 + version * 7919 + i;
    std::memcpy(&b->data[i], &w, 8);
  }
  return b;
}

bool has_pattern(const Block& b, uint64_t lba, uint64_t version) {
  auto expect = pattern(lba, version);
  return std::memcmp(b.data.data(), expect->data.data(), kBlockSize) == 0;
}

TEST(BlockShadow, SimpleCallsSurviveACrash) {
  Driver drv("sim:ram,blocks=64");
  BlockDeviceShadow shadow(drv.domain(), drv.ref);
  auto w = pattern(3, 1);
  ASSERT_EQ(*shadow.write(3, w), 0);
  drv.domain().inject_next(FaultKind::Segfault);
  auto r = shadow.read(3, RRef<Block>::make_aligned(4096));
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r.value().status, 0);
  EXPECT_TRUE(has_pattern(*r.value().buf, 3, 1)) << "the write before the crash is there";
  drv.domain().inject_next(FaultKind::Exception);
  EXPECT_EQ(*shadow.write(4, pattern(4, 1)), 0) << "a write during a crash is resent";
  auto r4 = shadow.read(4, RRef<Block>::make_aligned(4096));
  EXPECT_TRUE(has_pattern(*r4.value().buf, 4, 1));
  EXPECT_EQ(shadow.recoveries(), 2u);
  EXPECT_EQ(drv.domain().info().failures, 2u);
}

// Runs `requests` mixed reads and writes through the shadow, `depth` at a
// time, while the driver crashes at random; checks every completion and
// then reads every block back.
void run_with_crashes(const std::string& device, uint64_t requests, uint32_t depth, double crash_p) {
  auto objects_before = shared_heap_stats().objects_in_use;
  {
    Driver drv(device);
    BlockDeviceShadow shadow(drv.domain(), drv.ref);
    const uint64_t blocks = 256;
    InjectionPlan plan;
    plan.method = static_cast<uint32_t>(InterfaceTraits<NvmeBDev>::Method::submit_and_poll);
    plan.probability = crash_p;
    plan.seed = 42;
    plan.kinds = {FaultKind::Segfault, FaultKind::Panic, FaultKind::Exception, FaultKind::BusError};
    drv.domain().inject(plan);

    std::map<uint64_t, uint64_t> acked;       // lba -> version last acknowledged
    std::map<uint64_t, uint64_t> in_flight;   // tag -> lba (one request per lba at a time)
    std::map<uint64_t, uint64_t> version_of;  // tag -> version written
    std::mt19937_64 rng(7);
    uint64_t issued = 0, completed = 0, next_version = 1;
    auto q = BlkBatch::make();
    for (int spins = 0; completed < requests && spins < 1000000; ++spins) {
      while (issued < requests && in_flight.size() < depth && !q.full()) {
        uint64_t lba = rng() % blocks;
        bool busy = false;
        for (auto& [t, l] : in_flight) busy |= l == lba;
        if (busy) continue;
        bool write = rng() % 2;
        uint64_t tag = issued++;
        in_flight[tag] = lba;
        if (write) version_of[tag] = next_version++;
        (void)q.push_back(BlkReq{lba, tag, write ? BlkOp::Write : BlkOp::Read, 0,
                                 write ? pattern(lba, version_of[tag]) : RRef<Block>::make_aligned(4096)});
      }
      auto r = shadow.submit_and_poll(std::move(q));
      ASSERT_TRUE(r.ok()) << "the shadow hides every crash: " << to_string(r.error());
      q = std::move(r.value());
      BlkReq done;
      auto keep = BlkBatch::make();
      while (q.pop_front(done)) {
        auto it = in_flight.find(done.tag);
        ASSERT_NE(it, in_flight.end()) << "a tag that was not in flight came back: " << done.tag;
        ASSERT_EQ(done.status, 0);
        ASSERT_TRUE(done.buf);
        uint64_t lba = it->second;
        if (done.op == BlkOp::Write) {
          acked[lba] = version_of[done.tag];
        } else if (acked.count(lba)) {
          ASSERT_TRUE(has_pattern(*done.buf, lba, acked[lba])) << "a read returned stale data for lba " << lba;
        }
        in_flight.erase(it);
        ++completed;
      }
      q = std::move(keep);
    }
    EXPECT_EQ(completed, requests);
    EXPECT_GT(shadow.recoveries(), 0u) << "crashes happened";
    // Some faults hit the replay itself: recovered within the same recovery.
    EXPECT_GE(drv.domain().faults_injected(), shadow.recoveries());
    drv.domain().stop_injecting();
    for (auto& [lba, version] : acked) {
      auto r = shadow.read(lba, RRef<Block>::make_aligned(4096));
      ASSERT_TRUE(r.ok());
      EXPECT_TRUE(has_pattern(*r.value().buf, lba, version)) << "acknowledged write of lba " << lba << " lost";
    }
    EXPECT_EQ(shadow.in_flight(), 0u);
    printf("%s: %lu requests, %lu crashes, %lu recoveries, %lu replayed\n", device.c_str(),
           static_cast<unsigned long>(requests), static_cast<unsigned long>(drv.domain().faults_injected()),
           static_cast<unsigned long>(shadow.recoveries()), static_cast<unsigned long>(shadow.replayed()));
  }
  EXPECT_EQ(shared_heap_stats().objects_in_use, objects_before) << "no buffer leaked across the crashes";
}

TEST(BlockShadow, MembdevCrashesMidBatchLoseNothing) { run_with_crashes("sim:ram,blocks=256", 20000, 32, 0.2); }

TEST(BlockShadow, NvmeCrashesMidIoLoseNothing) { run_with_crashes("sim:nvme,blocks=4096", 10000, 48, 0.2); }

TEST(BlockShadow, ADriverThatKeepsFailingIsReportedThenRecoveredLater) {
  Driver drv("sim:ram,blocks=64");
  BlockDeviceShadow::Config cfg;
  cfg.max_attempts = 3;
  cfg.backoff = std::chrono::microseconds(10);
  BlockDeviceShadow shadow(drv.domain(), drv.ref, cfg);
  InjectionPlan always;
  always.probability = 1.0;
  drv.domain().inject(always);
  auto q = BlkBatch::make();
  (void)q.push_back(BlkReq{5, 99, BlkOp::Write, 0, pattern(5, 1)});
  auto r = shadow.submit_and_poll(std::move(q));
  ASSERT_FALSE(r.ok()) << "every restart fails again: the error goes up";
  EXPECT_EQ(r.error(), RpcError::DomainFailed);
  EXPECT_EQ(shadow.in_flight(), 1u) << "the request is kept";
  drv.domain().stop_injecting();
  auto again = shadow.submit_and_poll(BlkBatch::make());
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again.value().size(), 1u) << "the kept write was replayed";
  EXPECT_EQ(again.value()[0].tag, 99u);
  auto back = shadow.read(5, RRef<Block>::make_aligned(4096));
  EXPECT_TRUE(has_pattern(*back.value().buf, 5, 1));
}

}  // namespace
}  // namespace rl::blk
