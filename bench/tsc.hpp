// TSC ticks per operation for Google Benchmark: the unit design.md's targets use.
#pragma once

#include <benchmark/benchmark.h>
#include <x86intrin.h>

#include <cstdint>

namespace rl::bench {

// Wraps a benchmark loop: `for (auto _ : state)` runs between start and stop.
class TscCounter {
 public:
  explicit TscCounter(benchmark::State& s) : state_(s) {}
  void start() { t0_ = __rdtsc(); }
  void stop() {
    uint64_t t1 = __rdtsc();
    state_.counters["ticks"] = benchmark::Counter(static_cast<double>(t1 - t0_) /
                                                  static_cast<double>(state_.iterations()));
  }

 private:
  benchmark::State& state_;
  uint64_t t0_ = 0;
};

}  // namespace rl::bench
