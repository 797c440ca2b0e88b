// rl-demo-faults: three domains, called in a loop; one of them is crashed in every
// way the runtime contains, restarted, and the rest never notice.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "idl/test_domains.rl.hpp"

using namespace rl;
using namespace rl::test;

namespace {

struct Kind {
  Fault fault;
  const char* what;
};
const Kind kKinds[] = {
    {Fault::Segfault, "segmentation fault"},   {Fault::BusError, "bus error"},
    {Fault::FloatingPoint, "division by zero"}, {Fault::IllegalInstruction, "illegal instruction"},
    {Fault::StackOverflow, "stack overflow"},   {Fault::Exception, "uncaught exception"},
    {Fault::Panic, "rl::panic"},
};

int usage(FILE* out, int code) {
  fprintf(out,
          "usage: rl-demo-faults [--rounds N] [--domains DIR]\n"
          "  Loads the counter, faulty and relay domains, calls them N times per round\n"
          "  (default 10000), crashes the faulty one in every way and restarts it.\n");
  return code;
}

template <class P, class Init>
Loaded<P> load(const std::string& dir, const char* so, const Init& init) {
  LoadError err;
  auto l = load_domain<P>(dir + "/" + so + ".so", so, init, &err);
  if (!l) {
    fprintf(stderr, "rl-demo-faults: %s\n", err.message.c_str());
    std::exit(1);
  }
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  long rounds = 10000;
  std::string dir = RL_TEST_DOMAIN_DIR;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(stdout, 0);
    if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
      char* end = nullptr;
      rounds = strtol(argv[++i], &end, 10);
      if (*end || rounds <= 0) {
        fprintf(stderr, "rl-demo-faults: --rounds needs a positive number, got '%s'\n", argv[i]);
        return 2;
      }
    } else if (!strcmp(argv[i], "--domains") && i + 1 < argc) {
      dir = argv[++i];
    } else {
      fprintf(stderr, "rl-demo-faults: unknown argument '%s'\n", argv[i]);
      return usage(stderr, 2);
    }
  }

  auto counter = load<CounterProxy>(dir, "counter", CounterInit{0});
  auto faulty = load<CrasherProxy>(dir, "faulty", CrasherInit{0});
  auto relay = load<RelayProxy>(dir, "relay", RelayInit{faulty.proxy->cap()});
  auto heap0 = shared_heap_stats();
  printf("redleaf demo: 3 domains loaded (counter #%u, faulty #%u, relay #%u -> faulty)\n",
         counter.domain->id(), faulty.domain->id(), relay.domain->id());
  printf("shared heap: %lu MiB on %s pages, %s, NUMA node %d\n\n",
         static_cast<unsigned long>(heap0.capacity >> 20), heap0.hugepages ? "2 MiB huge" : "4 KiB",
         heap0.locked ? "locked" : "not locked", heap0.numa_node);

  uint64_t calls = 0, failed_calls = 0, recoveries = 0, unexpected = 0;
  auto t0 = std::chrono::steady_clock::now();
  auto one_round = [&] {
    for (long i = 0; i < rounds; ++i) {
      auto buf = RRef<Buffer>::make();
      auto e = counter.proxy->echo(std::move(buf));
      auto a = faulty.proxy->alive();
      calls += 2;
      unexpected += !e.ok() + !a.ok();
    }
  };
  auto crash_and_recover = [&](const char* how, auto&& crash) {
    auto before = counter.proxy->add(0);
    RpcResult<uint64_t> r = crash();
    ++calls;
    failed_calls += !r.ok();
    DomainInfo info = faulty.domain->info();
    auto after = counter.proxy->add(0);
    bool others_fine = before.ok() && after.ok() && *before == *after && relay.proxy->served().ok();
    bool restarted = faulty.domain->restart().ok();
    recoveries += restarted;
    printf("  %-20s -> %-14s cause=%-18s counter %s, restart %s\n", how,
           r.ok() ? "ok (!)" : to_string(r.error()), to_string(info.last_cause),
           others_fine ? "unaffected" : "AFFECTED", restarted ? "ok" : "FAILED");
    unexpected += r.ok() || !others_fine || !restarted;
  };

  for (const Kind& k : kKinds) {
    one_round();
    crash_and_recover(k.what, [&] { return faulty.proxy->crash(k.fault); });
  }
  one_round();
  crash_and_recover("nested (via relay)", [&] {
    auto r = relay.proxy->forward(Fault::Segfault);   // the relay survives, reports the inner failure
    if (r.ok() && *r == 1 + static_cast<uint64_t>(RpcError::DomainFailed))
      return RpcResult<uint64_t>(faulty.proxy->alive());
    return RpcResult<uint64_t>(0);
  });
  crash_and_recover("killed", [&] {
    faulty.domain->kill();
    return faulty.proxy->alive();
  });
  one_round();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto heap1 = shared_heap_stats();

  printf("\nsummary: %lu calls in %.2f s, %lu failed calls (each one contained), %lu recoveries\n",
         static_cast<unsigned long>(calls), secs, static_cast<unsigned long>(failed_calls),
         static_cast<unsigned long>(recoveries));
  printf("         faulty domain: incarnation %lu, %lu failures; counter total %lu\n",
         static_cast<unsigned long>(faulty.domain->info().incarnation),
         static_cast<unsigned long>(faulty.domain->info().failures),
         static_cast<unsigned long>(*counter.proxy->add(0)));
  printf("         shared heap in use: %lu objects before, %lu after; private heap of faulty: %zu bytes\n",
         static_cast<unsigned long>(heap0.objects_in_use), static_cast<unsigned long>(heap1.objects_in_use),
         faulty.domain->private_heap_bytes());
  if (unexpected) {
    printf("demo: %lu unexpected results\n", static_cast<unsigned long>(unexpected));
    return 1;
  }
  printf("demo: every crash was contained\n");
  return 0;
}
