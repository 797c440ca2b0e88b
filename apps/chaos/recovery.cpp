// rl-recovery: RedLeaf's recovery experiment.  Sequential 4 KiB reads or
// writes through the block shadow; the run alternates windows of
// --crash-every seconds with the driver crashed once (in the middle of the
// window) and windows without; throughput is sampled every 100 ms, and the
// loss is the mean of the crash windows against the mean of the calm ones.
// Alternating in one run, rather than two runs one after the other, keeps
// this shared machine's drift out of the comparison (two separate 30 s runs
// differed by up to 8 % with no crash at all).
//
//   rl-recovery [--target membdev|nvme] [--rw read|write] [--time SECONDS]
//               [--crash-every SECONDS] [--csv FILE]
//
// --time is per kind of window (the run lasts twice as long).  JSON summary
// on stdout; with --csv the time series and the crash instants for plotting
// (bench/recovery-experiment draws them).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "apps/chaos/block_target.hpp"
#include "domains/shadow/bdev/bdev_shadow.hpp"

using namespace rl;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string target = "membdev", rw = "read", csv;
  double seconds = 30, crash_every = 1;
};

[[noreturn]] void usage(const char* why) {
  if (why) fprintf(stderr, "rl-recovery: %s\n", why);
  fprintf(stderr,
          "usage: rl-recovery [--target membdev|nvme] [--rw read|write] [--time SECONDS]\n"
          "                   [--crash-every SECONDS] [--csv FILE]\n");
  std::exit(why ? 2 : 0);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") usage(nullptr);
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    auto num = [&](double lo, double hi) {
      char* end = nullptr;
      double n = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || !(n >= lo && n <= hi)) usage((a + " " + v + ": out of range").c_str());
      return n;
    };
    if (a == "--target") {
      if (v != "membdev" && v != "nvme") usage("--target: expected membdev or nvme");
      o.target = v;
    } else if (a == "--rw") {
      if (v != "read" && v != "write") usage("--rw: expected read or write");
      o.rw = v;
    } else if (a == "--time") o.seconds = num(1, 3600);
    else if (a == "--crash-every") o.crash_every = num(0.01, 3600);
    else if (a == "--csv") o.csv = v;
    else usage(("unknown option " + a).c_str());
  }
  return o;
}

struct Run {
  std::vector<double> mbps;        // one sample per 100 ms
  std::vector<bool> crash_window;  // whether that sample lies in a crash window
  std::vector<double> crashes_at;  // seconds since the start
  double calm_mbps = 0, crash_mbps = 0;
  uint64_t recoveries = 0;
  std::vector<uint64_t> recovery_ns;
};

constexpr auto kSample = std::chrono::milliseconds(100);
constexpr uint64_t kBlocks = 65536;   // 256 MiB, walked sequentially

Run run(const Options& o) {
  tools::BlockTarget dev(o.target, kBlocks, "rl-recovery");
  blk::BlockDeviceShadow shadow(dev.domain(), dev.ref);
  const bool write = o.rw == "write";
  auto q = blk::BlkBatch::make();
  std::vector<RRef<blk::Block>> idle;
  for (int i = 0; i < 32; ++i) {
    auto b = RRef<blk::Block>::make_aligned(4096);
    b->data.fill(0x5a);
    idle.push_back(std::move(b));
  }
  Run r;
  std::atomic<bool> stop{false};
  auto start = Clock::now();
  auto window_of = [&](Clock::time_point t) {
    return static_cast<uint64_t>(std::chrono::duration<double>(t - start).count() / o.crash_every);
  };
  // The crasher, from outside the I/O thread as an operator's signal would:
  // in the middle of every odd window.
  std::thread crasher([&] {
    const FaultKind kinds[] = {FaultKind::Segfault, FaultKind::Panic, FaultKind::Exception, FaultKind::BusError};
    for (int n = 1; !stop.load(); n += 2) {
      auto at = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>((n + 0.5) * o.crash_every));
      while (Clock::now() < at && !stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (stop.load()) break;
      dev.domain().inject_next(kinds[(n / 2) % 4]);
      r.crashes_at.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
  });
  uint64_t lba = 0, sample_bytes = 0;
  auto next_sample = start + kSample;
  auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(2 * o.seconds));
  for (auto now = Clock::now(); now < end; now = Clock::now()) {
    while (!idle.empty() && !q.full()) {
      (void)q.push_back(blk::BlkReq{lba, 0, write ? blk::BlkOp::Write : blk::BlkOp::Read, 0, std::move(idle.back())});
      idle.pop_back();
      lba = (lba + 1) % kBlocks;
    }
    auto res = shadow.submit_and_poll(std::move(q));
    if (!res.ok()) {
      fprintf(stderr, "rl-recovery: the shadow gave up: %s\n", to_string(res.error()));
      std::exit(1);
    }
    q = std::move(res.value());
    blk::BlkReq d;
    auto empty = blk::BlkBatch::make();
    while (q.pop_front(d)) {
      if (d.status == 0) sample_bytes += blk::kBlockSize;
      idle.push_back(std::move(d.buf));
    }
    q = std::move(empty);
    if (now >= next_sample) {
      r.mbps.push_back(static_cast<double>(sample_bytes) / 1e6 / std::chrono::duration<double>(kSample).count());
      r.crash_window.push_back(window_of(next_sample - kSample / 2) % 2 == 1);
      sample_bytes = 0;
      next_sample += kSample;
    }
  }
  stop.store(true);
  crasher.join();
  double sum[2] = {0, 0};
  int n[2] = {0, 0};
  for (std::size_t i = 1; i < r.mbps.size(); ++i) {   // the first sample includes the start-up
    sum[r.crash_window[i]] += r.mbps[i];
    ++n[r.crash_window[i]];
  }
  r.calm_mbps = n[0] ? sum[0] / n[0] : 0;
  r.crash_mbps = n[1] ? sum[1] / n[1] : 0;
  r.recoveries = shadow.recoveries();
  r.recovery_ns = shadow.recovery_ns();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  Run r = run(o);
  double loss = r.calm_mbps > 0 ? 100.0 * (1.0 - r.crash_mbps / r.calm_mbps) : 0;
  std::vector<uint64_t> ns = r.recovery_ns;
  std::sort(ns.begin(), ns.end());
  double p50 = ns.empty() ? 0 : static_cast<double>(ns[ns.size() / 2]) / 1e3;
  double max = ns.empty() ? 0 : static_cast<double>(ns.back()) / 1e3;
  printf("{\"tool\": \"rl-recovery\", \"target\": \"%s\", \"rw\": \"%s\", \"seconds\": %.0f, "
         "\"baseline_mb_per_s\": %.1f, \"with_crashes_mb_per_s\": %.1f, \"throughput_lost_percent\": %.2f, "
         "\"crashes\": %zu, \"recoveries\": %lu, \"recovery_us_p50\": %.1f, \"recovery_us_max\": %.1f}\n",
         o.target.c_str(), o.rw.c_str(), 2 * o.seconds, r.calm_mbps, r.crash_mbps, loss, r.crashes_at.size(),
         static_cast<unsigned long>(r.recoveries), p50, max);
  if (!o.csv.empty()) {
    FILE* f = fopen(o.csv.c_str(), "w");
    if (!f) {
      fprintf(stderr, "rl-recovery: cannot write %s\n", o.csv.c_str());
      return 1;
    }
    fprintf(f, "# seconds mb_per_s crash_window\n");
    for (std::size_t i = 0; i < r.mbps.size(); ++i)
      fprintf(f, "%.1f %.1f %d\n", 0.1 * static_cast<double>(i + 1), r.mbps[i], r.crash_window[i] ? 1 : 0);
    fclose(f);
    FILE* c = fopen((o.csv + ".crashes").c_str(), "w");
    if (c) {
      for (double t : r.crashes_at) fprintf(c, "%.3f\n", t);
      fclose(c);
    }
  }
  return 0;
}
