// Packet forwarding cost: BM_Forward/<driver>/<path>/<batch> receives a batch
// and transmits it back, on the same Net implementation linked directly or
// inside a domain behind the generated proxy.  BM_RRefDeque/32 is the cost of
// the batch container per object (BM_RteRing/32, DPDK's ring, when DPDK's
// headers are installed).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "bench/tsc.hpp"
#include "domains/nullnet/nullnet.hpp"
#include "domains/shadow/net/net_shadow.hpp"
#include "drivers/ixgbe/net.hpp"
#include "idl/net.rl.hpp"

#ifdef RL_HAVE_DPDK
#include <rte_ring.h>
#endif

namespace rl::bench {
namespace {

// Receives `batch` frames and transmits them, again and again.
void forward(benchmark::State& state, net::Net* dev) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  auto q = net::PacketBatch::make();
  for (std::size_t i = 0; i < batch; ++i) (void)q.push_back(RRef<net::Packet>::make());
  uint64_t packets = 0;
  TscCounter tsc(state);
  tsc.start();
  for (auto _ : state) {
    auto rx = dev->submit_and_poll(std::move(q), false);
    if (!rx.ok()) return state.SkipWithError("the driver failed");
    auto tx = dev->submit_and_poll(std::move(rx.value()), true);
    if (!tx.ok()) return state.SkipWithError("the driver failed");
    q = std::move(tx.value());
    packets += batch;
  }
  tsc.stop();
  state.counters["ticks_per_pkt"] = state.counters["ticks"] / static_cast<double>(batch);
  state.counters["mpps"] = benchmark::Counter(static_cast<double>(packets) / 1e6, benchmark::Counter::kIsRate);
}

void BM_Forward_nullnet_direct(benchmark::State& state) {
  auto dev = net::make_nullnet(net::NullNetInit{60});
  forward(state, dev.get());
}

void BM_Forward_nullnet_domain(benchmark::State& state) {
  LoadError err;
  auto l = net::load_nullnet(std::string(RL_NULLNET_DOMAIN_DIR) + "/nullnet.so", "nullnet", net::NullNetInit{60}, &err);
  if (!l) return state.SkipWithError(err.message.c_str());
  forward(state, l.proxy.get());
}

// Through the network shadow (domains/shadow/net): a hold per batch and the
// shadow's own counting on top of the domain path.
void BM_Forward_nullnet_shadow(benchmark::State& state) {
  LoadError err;
  auto l = net::load_nullnet(std::string(RL_NULLNET_DOMAIN_DIR) + "/nullnet.so", "nullnet", net::NullNetInit{60}, &err);
  if (!l) return state.SkipWithError(err.message.c_str());
  net::NetDeviceShadow shadow(*l.domain, pci::DeviceRef{0});
  forward(state, &shadow);
}

// sim-ixgbe: one simulated port whose wire loops back, primed with a batch of
// frames; forwarding sends each received batch out again, where it returns.
void prime(benchmark::State& state, net::Net* dev) {
  auto q = net::PacketBatch::make();
  for (int64_t i = 0; i < state.range(0); ++i) {
    auto p = RRef<net::Packet>::make();
    p->len = 60;
    (void)q.push_back(std::move(p));
  }
  (void)dev->submit_and_poll(std::move(q), true);
}

void BM_Forward_ixgbe_direct(benchmark::State& state) {
  std::string err;
  auto dev = pci::open("sim:ixgbe,wire=loopback", &err);
  auto drv = dev ? ixgbe::Driver::create(*dev, ixgbe::DriverConfig{}, &err) : nullptr;
  if (!drv) return state.SkipWithError(err.c_str());
  auto nic = ixgbe::make_ixgbe_net(std::move(drv));
  prime(state, nic.get());
  forward(state, nic.get());
}

// The ixgbe domain on a simulated port with a loopback wire, forwarding
// through the proxy or, with `shadow`, through the network shadow too.
void forward_ixgbe_domain(benchmark::State& state, bool shadow) {
  std::string err;
  auto dev = pci::open("sim:ixgbe,wire=loopback", &err);
  if (!dev) return state.SkipWithError(err.c_str());
  auto ref = pci::attach(std::move(dev));
  LoadError lerr;
  auto l = net::load_ixgbe(std::string(RL_IXGBE_DOMAIN_DIR) + "/ixgbe.so", "ixgbe", net::IxgbeInit{ref, 1, 1}, &lerr);
  if (!l) return state.SkipWithError(lerr.message.c_str());
  {
    std::optional<net::NetDeviceShadow> s;
    net::Net* nic = l.proxy.get();
    if (shadow) nic = &s.emplace(*l.domain, ref);
    prime(state, nic);
    forward(state, nic);
  }
  l = {};
  pci::detach(ref);
}

void BM_Forward_ixgbe_domain(benchmark::State& state) { forward_ixgbe_domain(state, false); }
void BM_Forward_ixgbe_shadow(benchmark::State& state) { forward_ixgbe_domain(state, true); }

void BM_RRefDeque(benchmark::State& state) {
  auto q = RRefDeque<RRef<net::Packet>, 32>::make();
  std::array<RRef<net::Packet>, 32> items;
  for (auto& p : items) p = RRef<net::Packet>::make();
  TscCounter tsc(state);
  tsc.start();
  for (auto _ : state) {   // bursts, as BM_RteRing
    benchmark::DoNotOptimize(q.push_back_burst(items.data(), items.size()));
    benchmark::DoNotOptimize(q.pop_front_burst(items.data(), items.size()));
  }
  tsc.stop();
  state.counters["ticks_per_object"] = state.counters["ticks"] / 32;
}

#ifdef RL_HAVE_DPDK
void BM_RteRing(benchmark::State& state) {
  // No EAL: rte_ring_init on aligned memory works without rte_eal_init (design.md §9).
  ssize_t size = rte_ring_get_memsize(64);
  auto* r = static_cast<rte_ring*>(std::aligned_alloc(64, static_cast<size_t>(size)));
  rte_ring_init(r, "bench", 64, RING_F_SP_ENQ | RING_F_SC_DEQ);
  void* objs[32];
  for (auto& o : objs) o = &objs;
  TscCounter tsc(state);
  tsc.start();
  for (auto _ : state) {
    rte_ring_enqueue_burst(r, objs, 32, nullptr);
    rte_ring_dequeue_burst(r, objs, 32, nullptr);
  }
  tsc.stop();
  state.counters["ticks_per_object"] = state.counters["ticks"] / 32;
  std::free(r);
}
BENCHMARK(BM_RteRing)->Name("BM_RteRing/32");
#endif

BENCHMARK(BM_Forward_nullnet_direct)->Name("BM_Forward/nullnet/direct")->Arg(1)->Arg(32);
BENCHMARK(BM_Forward_nullnet_domain)->Name("BM_Forward/nullnet/domain")->Arg(1)->Arg(32);
BENCHMARK(BM_Forward_nullnet_shadow)->Name("BM_Forward/nullnet/shadow")->Arg(1)->Arg(32);
BENCHMARK(BM_Forward_ixgbe_direct)->Name("BM_Forward/sim-ixgbe/direct")->Arg(1)->Arg(32);
BENCHMARK(BM_Forward_ixgbe_domain)->Name("BM_Forward/sim-ixgbe/domain")->Arg(1)->Arg(32);
BENCHMARK(BM_Forward_ixgbe_shadow)->Name("BM_Forward/sim-ixgbe/shadow")->Arg(1)->Arg(32);
BENCHMARK(BM_RRefDeque)->Name("BM_RRefDeque/32");

}  // namespace
}  // namespace rl::bench

BENCHMARK_MAIN();
