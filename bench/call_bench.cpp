// The cost of crossing: direct virtual call vs proxied calls, RRef moves,
// calls into a failed domain, shared-heap allocation vs malloc, restart.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "bench/tsc.hpp"
#include "idl/test_domains.rl.hpp"

namespace rl::bench {
namespace {

using test::Buffer;
using test::Counter;
using test::CounterInit;
using test::CounterProxy;

// The baseline: the same interface implemented in the caller, no domain.
class LocalCounter final : public Counter {
 public:
  RpcResult<void> ping() override { return ok; }
  RpcResult<uint64_t> add(uint64_t d) override { return total_ += d; }
  RpcResult<RRef<Buffer>> echo(RRef<Buffer> b) override { return b; }
  RpcResult<uint64_t> sum(const RRef<Buffer>& b) override { return b->len; }
  RpcResult<uint64_t> keep(RRef<Buffer>) override { return 0; }
  RpcResult<RRef<Buffer>> give_back() override { return RRef<Buffer>(); }

 private:
  uint64_t total_ = 0;
};

Loaded<CounterProxy> load_counter() {
  LoadError err;
  auto l = load_domain<CounterProxy>(std::string(RL_TEST_DOMAIN_DIR) + "/counter.so", "counter",
                                     CounterInit{0}, &err);
  if (!l) {
    fprintf(stderr, "rl-bench-call: %s\n", err.message.c_str());
    std::exit(1);
  }
  return l;
}

// The same loops serve the baseline and the proxies: only the Counter differs.
// DoNotOptimize hides the dynamic type, so the direct call stays virtual.
[[gnu::noinline]] void null_calls(benchmark::State& state, Counter* c) {
  benchmark::DoNotOptimize(c);
  TscCounter tsc(state);
  tsc.start();
  for (auto _ : state) {
    auto r = c->ping();
    benchmark::DoNotOptimize(r);
  }
  tsc.stop();
}

[[gnu::noinline]] void rref_round_trips(benchmark::State& state, Counter* c) {
  benchmark::DoNotOptimize(c);
  auto buf = RRef<Buffer>::make();
  TscCounter tsc(state);
  tsc.start();
  for (auto _ : state) {
    auto r = c->echo(std::move(buf));   // moved in, incremented, moved back out
    buf = std::move(r.value());
  }
  tsc.stop();
}

void BM_DirectCall(benchmark::State& state) {
  LocalCounter local;
  null_calls(state, &local);
}
BENCHMARK(BM_DirectCall);

void BM_ProxyNullCall(benchmark::State& state) {
  auto l = load_counter();
  null_calls(state, l.proxy.get());
}
BENCHMARK(BM_ProxyNullCall);

// The same null call through the generated shadow (request hooks, then the proxy).
void BM_ShadowNullCall(benchmark::State& state) {
  auto l = load_counter();
  test::CounterShadow shadow(*l.domain);
  null_calls(state, &shadow);
}
BENCHMARK(BM_ShadowNullCall);

void BM_DirectRRefCall(benchmark::State& state) {
  LocalCounter local;
  rref_round_trips(state, &local);
}
BENCHMARK(BM_DirectRRefCall);

void BM_ProxyRRefCall(benchmark::State& state) {
  auto l = load_counter();
  rref_round_trips(state, l.proxy.get());
}
BENCHMARK(BM_ProxyRRefCall);

void BM_CallFailedDomain(benchmark::State& state) {
  auto l = load_counter();
  l.domain->kill();
  null_calls(state, l.proxy.get());
}
BENCHMARK(BM_CallFailedDomain);

void BM_MallocFree(benchmark::State& state) {
  TscCounter tsc(state);
  tsc.start();
  for (auto _ : state) {
    void* p = std::malloc(sizeof(Buffer));
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
  tsc.stop();
}
BENCHMARK(BM_MallocFree);

void BM_RRefAllocFree(benchmark::State& state) {
  TscCounter tsc(state);
  tsc.start();
  for (auto _ : state) {
    auto b = RRef<Buffer>::make();
    benchmark::DoNotOptimize(b.get());
  }
  tsc.stop();
}
BENCHMARK(BM_RRefAllocFree);

void BM_DomainRestart(benchmark::State& state) {
  auto l = load_counter();
  TscCounter tsc(state);
  tsc.start();
  for (auto _ : state) {
    l.domain->kill();
    if (!l.domain->restart().ok()) state.SkipWithError("restart failed");
  }
  tsc.stop();
}
BENCHMARK(BM_DomainRestart)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace rl::bench

BENCHMARK_MAIN();
