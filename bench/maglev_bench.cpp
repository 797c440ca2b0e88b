// rl-bench-maglev: Maglev forwarding in Mpps on one core, the 82599 driver
// linked directly, in its domain, and behind the network shadow -- RedLeaf's
// Maglev experiment (1M flows, minimum-size frames, 65,537-entry table;
// RedLeaf 7.2 Mpps, DPDK 9.7, anchors.md).
//
// The NIC is the simulated 82599 with the generator wire, so generating and
// copying each frame is inside the measured loop: the Mpps are the whole
// system's on one core.  Maglev's own share -- parse, hash, connection
// tracking, lookup, rewrite -- is timed around that code alone (TSC before
// and after each batch), which is what compares with RedLeaf's and DPDK's.
//
// The machine is shared and noisy, so the three paths run side by side in
// one process, in alternating windows (round r starts with path r mod 3),
// after a warm-up that gives every flow its connection tracking entry; each
// figure is the median of the rounds with its min-max, and the ratios are
// taken within each round.  Mpps are given by the wall clock and per
// CPU-second of the forwarding thread: the second is "per core" on a
// machine where other processes take turns on it.
//
//   rl-bench-maglev [--rounds N] [--window SECONDS] [--flows N] [--backends N] [--batch N]
//                   [--paths direct,domain,shadow] [--packets N]
// --packets makes each window a number of packets instead of seconds, so that
// valgrind --tool=callgrind can count instructions per packet (run() inclusive).
// Google Benchmark's --benchmark_repetitions=N (what ./redleaf bench passes)
// sets the rounds; its other --benchmark_* flags are ignored.
#include <time.h>
#include <x86intrin.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "apps/maglev/forward.hpp"
#include "apps/maglev/port.hpp"

namespace {

using namespace rl;
using namespace rl::maglev;

struct Options {
  uint32_t rounds = 5;
  double window = 1.0;
  uint32_t flows = 1000000;
  uint32_t backends = 16;
  uint32_t batch = 32;
  uint64_t packets = 0;   // windows of this many packets instead of `window` seconds
  std::vector<Through> paths{Through::Direct, Through::Domain, Through::Shadow};
};

[[noreturn]] void usage(const char* why) {
  if (why) fprintf(stderr, "rl-bench-maglev: %s\n", why);
  fprintf(stderr,
          "usage: rl-bench-maglev [--rounds N] [--window SECONDS] [--flows N] [--backends N] [--batch 1..64]\n"
          "                       [--paths direct,domain,shadow] [--packets N (windows of N packets, for\n"
          "                       callgrind)] [--benchmark_repetitions=N (= --rounds)]\n");
  std::exit(why ? 2 : 0);
}

double number(const std::string& flag, const std::string& v, double lo, double hi) {
  char* end = nullptr;
  double n = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !(n >= lo && n <= hi))
    usage((flag + " " + v + ": expected a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]").c_str());
  return n;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") usage(nullptr);
    if (a.rfind("--benchmark_repetitions=", 0) == 0) {
      o.rounds = static_cast<uint32_t>(number("--benchmark_repetitions", a.substr(24), 1, 1000));
      continue;
    }
    if (a.rfind("--benchmark_", 0) == 0) continue;
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    if (a == "--rounds") o.rounds = static_cast<uint32_t>(number(a, v, 1, 1000));
    else if (a == "--window") o.window = number(a, v, 0.05, 600);
    else if (a == "--flows") o.flows = static_cast<uint32_t>(number(a, v, 1, 16711680));
    else if (a == "--backends") o.backends = static_cast<uint32_t>(number(a, v, 1, 1000));
    else if (a == "--batch") o.batch = static_cast<uint32_t>(number(a, v, 1, net::kNetBatch));
    else if (a == "--packets") o.packets = static_cast<uint64_t>(number(a, v, 1, 1e12));
    else if (a == "--paths") {
      o.paths.clear();
      std::stringstream ss(v);
      std::string p;
      while (std::getline(ss, p, ',')) {
        Through t;
        if (!parse_through(p, &t)) usage(("--paths: '" + p + "' is not direct, domain or shadow").c_str());
        o.paths.push_back(t);
      }
      if (o.paths.empty()) usage("--paths: none given");
    } else usage(("unknown option " + a).c_str());
  }
  return o;
}

// One path: its port, its forwarder (its own connection tracking table, as
// one Maglev thread has) and its batch.
struct Path {
  Through through;
  std::unique_ptr<Port> port;
  std::unique_ptr<Forwarder> fwd;
  net::PacketBatch q;
  ConnTrack::Stats warm{};   // the tracker's counts after the warm-up
};

struct Window {
  uint64_t packets = 0, ticks = 0, maglev_ticks = 0, batches = 0;
  double seconds = 0;       // wall clock
  double cpu_seconds = 0;   // this thread on a CPU: what "per core" means when others share it
};

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// Receives, forwards and transmits for `budget` TSC ticks or until
// `max_packets` have gone out.
Window run(Path& p, uint64_t budget, uint64_t max_packets) {
  Window w;
  net::Net& net = p.port->net();
  auto wall = std::chrono::steady_clock::now();
  const double cpu = thread_cpu_seconds();
  const uint64_t t0 = __rdtsc();
  uint64_t now = t0;
  while (now - t0 < budget && w.packets < max_packets) {
    auto rx = net.submit_and_poll(std::move(p.q), false);
    if (!rx.ok()) {
      fprintf(stderr, "rl-bench-maglev: the driver failed (%s)\n", to_string(rx.error()));
      std::exit(1);
    }
    p.q = std::move(rx.value());
    const uint64_t a = __rdtsc();
    const uint32_t n = p.fwd->process(p.q);
    now = __rdtsc();
    w.maglev_ticks += now - a;
    ++w.batches;
    if (n == 0) continue;
    auto tx = net.submit_and_poll(std::move(p.q), true);
    if (!tx.ok()) {
      fprintf(stderr, "rl-bench-maglev: the driver failed (%s)\n", to_string(tx.error()));
      std::exit(1);
    }
    p.q = std::move(tx.value());
    w.packets += n;
    for (std::size_t i = 0; i < p.q.size(); ++i)   // the ring had no room: not counted as sent
      if (p.q[i]->len) {
        --w.packets;
        p.q[i]->len = 0;
      }
  }
  w.ticks = __rdtsc() - t0;
  w.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
  w.cpu_seconds = thread_cpu_seconds() - cpu;
  return w;
}

struct Spread {
  double median, min, max;
};
Spread spread(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {med, v.front(), v.back()};
}

double tsc_hz() {
  auto w0 = std::chrono::steady_clock::now();
  uint64_t t0 = __rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  uint64_t t1 = __rdtsc();
  return static_cast<double>(t1 - t0) / std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
}

// What reading the TSC twice costs, included in each batch's Maglev time:
// the median of 101 averages of 1000 pairs (a preemption spoils one average).
double rdtsc_pair_ticks() {
  std::vector<double> avg;
  for (int trial = 0; trial < 101; ++trial) {
    uint64_t total = 0;
    for (int i = 0; i < 1000; ++i) {
      uint64_t a = __rdtsc();
      total += __rdtsc() - a;
    }
    avg.push_back(static_cast<double>(total) / 1000);
  }
  std::nth_element(avg.begin(), avg.begin() + 50, avg.end());
  return avg[50];
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  const double hz = tsc_hz();
  const double pair = rdtsc_pair_ticks();
  const std::string device = "sim:ixgbe,wire=gen:size=60:flows=" + std::to_string(o.flows);

  std::vector<Backend> list;
  for (uint32_t i = 0; i < o.backends; ++i) {
    Backend b;
    std::string err;
    std::string spec = "backend-" + std::to_string(i) + "=172.16." + std::to_string(i / 250) + "." +
                       std::to_string(i % 250 + 1);
    if (!parse_backend(spec, &b, &err)) usage(err.c_str());
    list.push_back(b);
  }
  std::vector<Path> paths;
  for (Through t : o.paths) {
    std::string err;
    BackendSet set;
    for (const auto& b : list)
      if (!set.add(b, &err)) usage(err.c_str());
    auto snap = set.build(&err);
    auto port = Port::open(device, t, std::string(RL_IXGBE_DOMAIN_DIR) + "/ixgbe.so", &err);
    if (!snap || !port) {
      fprintf(stderr, "rl-bench-maglev: %s: %s\n", to_string(t), err.c_str());
      return 1;
    }
    ForwarderConfig cfg;   // 2M entries: the million flows fit
    auto mac = port->net().mac_address();
    if (!mac.ok()) return 1;
    cfg.port_mac = mac.value();
    Path p{t, std::move(port), std::make_unique<Forwarder>(cfg, std::move(snap)), net::PacketBatch::make()};
    for (uint32_t i = 0; i < o.batch; ++i) (void)p.q.push_back(RRef<net::Packet>::make_aligned(64));
    paths.push_back(std::move(p));
  }

  printf("rl-bench-maglev: %u flows of 60-byte UDP frames (%s), %u backends, table %u entries, batch %u;\n"
         "  %u rounds of %.1f s per path, alternating; TSC %.3f GHz; a TSC read pair costs %.1f ticks\n",
         o.flows, device.c_str(), o.backends, kDefaultTableSize, o.batch, o.rounds, o.window, hz / 1e9, pair);
  fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  auto epoch = [&] {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count());
  };
  // Warm-up: every flow once through each path (its tracking entry made).
  for (auto& p : paths) {
    p.fwd->advance(epoch());
    Window w = run(p, static_cast<uint64_t>(10 * hz), o.flows + 4096);
    p.warm = p.fwd->conntrack().stats();
    printf("  warm-up %-6s %8.3f Mpps (%lu frames)\n", to_string(p.through), w.packets / w.seconds / 1e6,
           static_cast<unsigned long>(w.packets));
  }

  // Per path and round: Mpps by the wall clock and per CPU-second of this
  // thread (time other processes took is not ours), TSC ticks per packet
  // (wall), Maglev's own ticks per packet; ratios to the first path within
  // each round.
  const std::size_t np = paths.size();
  enum { kMpps, kMppsCpu, kTicks, kMaglev, kRatio, kRatioCpu, kSeries };
  std::vector<std::array<std::vector<double>, kSeries>> series(np);
  for (uint32_t r = 0; r < o.rounds; ++r) {
    for (std::size_t k = 0; k < np; ++k) {
      std::size_t i = (k + r) % np;
      Path& p = paths[i];
      p.fwd->advance(epoch());
      Window w = o.packets ? run(p, UINT64_MAX, o.packets) : run(p, static_cast<uint64_t>(o.window * hz), UINT64_MAX);
      if (w.packets == 0) {
        fprintf(stderr, "rl-bench-maglev: %s forwarded nothing\n", to_string(p.through));
        return 1;
      }
      auto& x = series[i];
      x[kMpps].push_back(static_cast<double>(w.packets) / w.seconds / 1e6);
      x[kMppsCpu].push_back(static_cast<double>(w.packets) / w.cpu_seconds / 1e6);
      x[kTicks].push_back(static_cast<double>(w.ticks) / static_cast<double>(w.packets));
      x[kMaglev].push_back(static_cast<double>(w.maglev_ticks) / static_cast<double>(w.packets));
    }
    printf("  round %u:", r + 1);
    for (std::size_t i = 0; i < np; ++i) {
      auto& x = series[i];
      x[kRatio].push_back(x[kMpps].back() / series[0][kMpps].back());
      x[kRatioCpu].push_back(x[kMppsCpu].back() / series[0][kMppsCpu].back());
      printf(" %s %.3f Mpps (%.3f per CPU-s, %.0f ticks/pkt, Maglev %.1f)", to_string(paths[i].through),
             x[kMpps].back(), x[kMppsCpu].back(), x[kTicks].back(), x[kMaglev].back());
    }
    printf("\n");
    fflush(stdout);
  }

  auto cell = [](const std::vector<double>& v, int digits) {
    Spread m = spread(v);
    char out[96];
    snprintf(out, sizeof out, "%.*f [%.*f-%.*f]", digits, m.median, digits, m.min, digits, m.max);
    return std::string(out);
  };
  printf("\nmedian [min-max] of %u rounds\n%-7s %-24s %-24s %-18s %-22s %-10s %s\n", o.rounds, "path", "Mpps (wall)",
         "Mpps per CPU-second", "ticks/pkt", "Maglev ticks/pkt", "alone", "conntrack hits");
  for (std::size_t i = 0; i < np; ++i) {
    const auto& x = series[i];
    const auto& ct = paths[i].fwd->conntrack().stats();
    printf("%-7s %-24s %-24s %-18s %-22s %-10.1f %.1f %%\n", to_string(paths[i].through),
           cell(x[kMpps], 3).c_str(), cell(x[kMppsCpu], 3).c_str(), cell(x[kTicks], 0).c_str(),
           cell(x[kMaglev], 1).c_str(), hz / spread(x[kMaglev]).median / 1e6,
           100.0 * static_cast<double>(ct.hits - paths[i].warm.hits) /
               static_cast<double>(std::max<uint64_t>(1, ct.hits + ct.misses - paths[i].warm.hits - paths[i].warm.misses)));
  }
  for (std::size_t i = 1; i < np; ++i)
    printf("%s / %s: %s (wall), %s (per CPU-second); per-round ratios\n", to_string(paths[i].through),
           to_string(paths[0].through), cell(series[i][kRatio], 3).c_str(),
           cell(series[i][kRatioCpu], 3).c_str());
  printf("alone: Maglev's own Mpps on this core, TSC Hz / its ticks per packet (a TSC read pair, %.1f ticks,\n"
         "  is counted once per batch).  Anchors, real 82599: RedLeaf 7.2 Mpps, DPDK 9.7\n", pair);

  printf("{\"benchmark\": \"maglev\", \"flows\": %u, \"backends\": %u, \"batch\": %u, \"rounds\": %u, "
         "\"window_s\": %.2f, \"tsc_ghz\": %.3f, \"rdtsc_pair_ticks\": %.1f, \"paths\": {",
         o.flows, o.backends, o.batch, o.rounds, o.window, hz / 1e9, pair);
  const char* names[kSeries] = {"mpps", "mpps_per_cpu_second", "ticks_per_pkt", "maglev_ticks_per_pkt",
                                "ratio", "ratio_per_cpu_second"};
  for (std::size_t i = 0; i < np; ++i) {
    printf("%s\"%s\": {", i ? ", " : "", to_string(paths[i].through));
    for (int k = 0; k < kSeries; ++k) {
      Spread m = spread(series[i][k]);
      printf("%s\"%s\": [%.3f, %.3f, %.3f]", k ? ", " : "", names[k], m.median, m.min, m.max);
    }
    printf("}");
  }
  printf("}}\n");
  return 0;
}
