// The NVMe driver's cost per 4 KiB I/O on the simulated controller in its
// no-copy mode (it checks PRPs but moves no data).  BM_Nvme4K runs the same
// NvmeBDev::submit_and_poll loop on the same implementation, linked directly
// ("direct") or inside the driver domain through the generated proxy
// ("domain"): the difference is the cost of isolation.  BM_NvmeDriver4K is the
// bare Driver API, for the driver's own cost.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/tsc.hpp"
#include "drivers/nvme/bdev.hpp"
#include "drivers/nvme/driver.hpp"
#include "domains/shadow/bdev/bdev_shadow.hpp"
#include "idl/bdev.rl.hpp"

namespace rl::bench {
namespace {

constexpr const char* kDevice = "sim:nvme,blocks=262144,lba=4096,nocopy=1";

std::unique_ptr<pci::Device> open_device() {
  std::string err;
  auto d = pci::open(kDevice, &err);
  if (!d) {
    fprintf(stderr, "rl-bench-nvme: %s\n", err.c_str());
    std::exit(1);
  }
  return d;
}

void BM_NvmeDriver4K(benchmark::State& state) {
  const auto batch = static_cast<unsigned>(state.range(0));
  auto dev = open_device();
  std::string err;
  auto drv = nvme::Driver::create(*dev, nvme::DriverConfig{}, &err);
  if (!drv) return state.SkipWithError(err.c_str());
  std::vector<RRef<blk::Block>> bufs;
  for (unsigned i = 0; i < batch; ++i) bufs.push_back(RRef<blk::Block>::make_aligned(4096));
  nvme::Done done[64];
  uint64_t lba = 0, ios = 0;
  TscCounter tsc(state);
  tsc.start();
  for (auto _ : state) {
    for (unsigned i = 0; i < batch; ++i)
      (void)drv->submit(1, nvme::io::READ, lba++ % 262144, 1, bufs[i]->data.data(), i);
    drv->ring(1);
    for (unsigned got = 0; got < batch;) got += drv->poll(1, done, 64);
    ios += batch;
  }
  tsc.stop();
  state.counters["ticks_per_io"] = state.counters["ticks"] / batch;
  state.SetItemsProcessed(static_cast<int64_t>(ios));
}

// Keeps `batch` 4 KiB reads going through `dev` (direct or a proxy).
void bdev_batches(benchmark::State& state, blk::NvmeBDev* dev) {
  const auto batch = static_cast<unsigned>(state.range(0));
  auto q = blk::BlkBatch::make();
  for (unsigned i = 0; i < batch; ++i)
    (void)q.push_back(blk::BlkReq{i, i, blk::BlkOp::Read, 0, RRef<blk::Block>::make_aligned(4096)});
  uint64_t lba = 0, ios = 0;
  std::vector<blk::BlkReq> aside;
  TscCounter tsc(state);
  tsc.start();
  for (auto _ : state) {
    for (std::size_t i = 0; i < q.size(); ++i) q[i].lba = lba++ % 65536;
    auto r = dev->submit_and_poll(std::move(q));
    if (!r.ok()) return state.SkipWithError("the nvme domain failed");
    q = std::move(r.value());
    // The simulated device completes at the doorbell, so the whole batch is
    // normally back; otherwise poll with what came back set aside.
    while (q.size() < batch) {
      blk::BlkReq x;
      while (q.pop_front(x)) aside.push_back(std::move(x));
      auto more = dev->submit_and_poll(std::move(q));
      if (!more.ok()) return state.SkipWithError("the nvme domain failed");
      q = std::move(more.value());
      for (auto& a : aside) (void)q.push_back(std::move(a));
      aside.clear();
    }
    ios += batch;
  }
  tsc.stop();
  state.counters["ticks_per_io"] = state.counters["ticks"] / batch;
  state.SetItemsProcessed(static_cast<int64_t>(ios));
}

void BM_Nvme4K_direct(benchmark::State& state) {
  auto dev = open_device();
  std::string err;
  nvme::DriverConfig cfg;
  cfg.io_queues = 1;
  auto drv = nvme::Driver::create(*dev, cfg, &err);
  if (!drv) return state.SkipWithError(err.c_str());
  auto bdev = blk::make_nvme_bdev(std::move(drv));
  bdev_batches(state, bdev.get());
}

void BM_Nvme4K_domain(benchmark::State& state) {
  auto ref = pci::attach(open_device());
  LoadError lerr;
  auto nvme = blk::load_nvme(std::string(RL_NVME_DOMAIN_DIR) + "/nvme.so", "nvme", blk::NvmeInit{ref, 1, 256}, &lerr);
  if (!nvme) return state.SkipWithError(lerr.message.c_str());
  bdev_batches(state, nvme.proxy.get());
  nvme = {};
  pci::detach(ref);
}

// Through the block shadow (domains/shadow/bdev): a ledger entry and a Hold
// per request on top of the domain path.
void BM_Nvme4K_shadow(benchmark::State& state) {
  auto ref = pci::attach(open_device());
  LoadError lerr;
  auto nvme = blk::load_nvme(std::string(RL_NVME_DOMAIN_DIR) + "/nvme.so", "nvme", blk::NvmeInit{ref, 1, 256}, &lerr);
  if (!nvme) return state.SkipWithError(lerr.message.c_str());
  {
    blk::BlockDeviceShadow shadow(*nvme.domain, ref);
    bdev_batches(state, &shadow);
  }
  nvme = {};
  pci::detach(ref);
}

BENCHMARK(BM_NvmeDriver4K)->Name("BM_NvmeDriver4K")->Arg(1)->Arg(32);
BENCHMARK(BM_Nvme4K_direct)->Name("BM_Nvme4K/direct")->Arg(1)->Arg(32);
BENCHMARK(BM_Nvme4K_domain)->Name("BM_Nvme4K/domain")->Arg(1)->Arg(32);
BENCHMARK(BM_Nvme4K_shadow)->Name("BM_Nvme4K/shadow")->Arg(1)->Arg(32);

}  // namespace
}  // namespace rl::bench

BENCHMARK_MAIN();
