// rl-recovery: RedLeaf's recovery experiment.  Sequential 4 KiB reads or
// writes through the block shadow, first without crashes, then with the
// driver crashed once per interval; throughput sampled every 100 ms.
//
//   rl-recovery [--target membdev|nvme] [--rw read|write] [--time SECONDS]
//               [--crash-every SECONDS] [--csv FILE]
//
// JSON summary on stdout; with --csv the two time series (and the crash
// instants) for plotting (bench/recovery-experiment draws them).
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
  std::vector<double> crashes_at;  // seconds since the start
  double mean_mbps = 0;
  uint64_t recoveries = 0;
  std::vector<uint64_t> recovery_ns;
};

constexpr auto kSample = std::chrono::milliseconds(100);
constexpr uint64_t kBlocks = 65536;   // 256 MiB, walked sequentially

Run run(const Options& o, bool crash) {
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
  // The crasher: from outside the I/O thread, as an operator's signal would.
  std::thread crasher([&] {
    if (!crash) return;
    const FaultKind kinds[] = {FaultKind::Segfault, FaultKind::Panic, FaultKind::Exception, FaultKind::BusError};
    for (int n = 1; !stop.load(); ++n) {
      auto at = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(n * o.crash_every));
      while (Clock::now() < at && !stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (stop.load()) break;
      dev.domain().inject_next(kinds[n % 4]);
      r.crashes_at.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
  });
  uint64_t lba = 0, bytes = 0, sample_bytes = 0;
  auto next_sample = start + kSample;
  auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
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
      bytes += sample_bytes;
      sample_bytes = 0;
      next_sample += kSample;
    }
  }
  stop.store(true);
  crasher.join();
  r.mean_mbps = static_cast<double>(bytes) / 1e6 / (static_cast<double>(r.mbps.size()) * 0.1);
  r.recoveries = shadow.recoveries();
  r.recovery_ns = shadow.recovery_ns();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  Run base = run(o, false);
  Run crashed = run(o, true);
  double loss = 100.0 * (1.0 - crashed.mean_mbps / base.mean_mbps);
  std::vector<uint64_t> ns = crashed.recovery_ns;
  std::sort(ns.begin(), ns.end());
  double p50 = ns.empty() ? 0 : static_cast<double>(ns[ns.size() / 2]) / 1e3;
  double max = ns.empty() ? 0 : static_cast<double>(ns.back()) / 1e3;
  printf("{\"tool\": \"rl-recovery\", \"target\": \"%s\", \"rw\": \"%s\", \"seconds\": %.0f, "
         "\"baseline_mb_per_s\": %.1f, \"with_crashes_mb_per_s\": %.1f, \"throughput_lost_percent\": %.2f, "
         "\"crashes\": %zu, \"recoveries\": %lu, \"recovery_us_p50\": %.1f, \"recovery_us_max\": %.1f}\n",
         o.target.c_str(), o.rw.c_str(), o.seconds, base.mean_mbps, crashed.mean_mbps, loss, crashed.crashes_at.size(),
         static_cast<unsigned long>(crashed.recoveries), p50, max);
  if (!o.csv.empty()) {
    FILE* f = fopen(o.csv.c_str(), "w");
    if (!f) {
      fprintf(stderr, "rl-recovery: cannot write %s\n", o.csv.c_str());
      return 1;
    }
    fprintf(f, "# seconds baseline_mb_per_s with_crashes_mb_per_s\n");
    for (std::size_t i = 0; i < std::min(base.mbps.size(), crashed.mbps.size()); ++i)
      fprintf(f, "%.1f %.1f %.1f\n", 0.1 * static_cast<double>(i + 1), base.mbps[i], crashed.mbps[i]);
    fclose(f);
    FILE* c = fopen((o.csv + ".crashes").c_str(), "w");
    if (c) {
      for (double t : crashed.crashes_at) fprintf(c, "%.3f\n", t);
      fclose(c);
    }
  }
  return 0;
}
