// rl-chaos: a workload through the shadows while driver domains crash at
// seeded random points; then every acknowledged write is read back.
//
//   rl-chaos [--target nvme|membdev|ixgbe|nullnet|all] [--crashes N] [--seed S]
//            [--kinds LIST] [--workload read|write|mix|net] [--verify] [--rate P]
//
// Block targets run the block workload (read, write or mix), network
// targets transmit and receive through the network shadow; with --verify
// every acknowledged write is read back and, on ixgbe, every acknowledged
// frame is counted at the wire's sink.  One JSON line on stdout; exit
// status 1 when anything was lost or leaked, 2 on bad arguments.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "apps/chaos/block_target.hpp"
#include "domains/shadow/bdev/bdev_shadow.hpp"
#include "domains/shadow/net/net_shadow.hpp"
#include "drivers/pci/device.hpp"
#include "libredleaf/shared_heap.hpp"
#include "sim/ixgbe/model.hpp"

using namespace rl;
using namespace rl::blk;

namespace {

struct Options {
  std::vector<std::string> targets{"membdev"};
  uint64_t crashes = 100;
  uint64_t seed = 1;
  std::vector<FaultKind> kinds;
  std::string workload = "mix";
  bool verify = false;
  double rate = 0.02;   // probability that a call into the driver crashes it
};

[[noreturn]] void usage(const char* why) {
  if (why) fprintf(stderr, "rl-chaos: %s\n", why);
  fprintf(stderr,
          "usage: rl-chaos [--target nvme|membdev|ixgbe|nullnet|all] [--crashes N] [--seed S]\n"
          "                [--kinds segv,bus,fpe,ill,stack,exception,panic,loop|all]\n"
          "                [--workload read|write|mix|net] [--verify] [--rate P]\n");
  std::exit(why ? 2 : 0);
}

Options parse(int argc, char** argv) {
  Options o;
  std::string err;
  if (!parse_fault_kinds("all", &o.kinds, &err)) usage(err.c_str());
  auto num = [](const char* flag, const char* v, double lo, double hi) {
    char* end = nullptr;
    double n = std::strtod(v, &end);
    if (!*v || *end || !(n >= lo && n <= hi)) {
      std::string m = std::string(flag) + " " + v + ": expected a number in [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "]";
      usage(m.c_str());
    }
    return n;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") usage(nullptr);
    if (a == "--verify") {
      o.verify = true;
      continue;
    }
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    if (a == "--target") {
      if (v == "all") o.targets = {"membdev", "nvme", "ixgbe", "nullnet"};
      else if (v == "membdev" || v == "nvme" || v == "ixgbe" || v == "nullnet") o.targets = {v};
      else usage(("--target " + v + ": expected nvme, membdev, ixgbe, nullnet or all").c_str());
    } else if (a == "--crashes") o.crashes = static_cast<uint64_t>(num("--crashes", v.c_str(), 1, 1e9));
    else if (a == "--seed") o.seed = static_cast<uint64_t>(num("--seed", v.c_str(), 0, 1e18));
    else if (a == "--rate") o.rate = num("--rate", v.c_str(), 1e-6, 1);
    else if (a == "--kinds") {
      if (!parse_fault_kinds(v, &o.kinds, &err)) usage(("--kinds: " + err).c_str());
    } else if (a == "--workload") {
      if (v != "read" && v != "write" && v != "mix" && v != "net")
        usage("--workload: expected read, write, mix (block targets) or net");
      o.workload = v;
    } else usage(("unknown option " + a).c_str());
  }
  return o;
}

// Block `lba` as written by version `v`: every word names both.
void fill(Block& b, uint64_t lba, uint64_t v) {
  for (std::size_t i = 0; i < kBlockSize; i += 8) {
    uint64_t w = (lba << 32) ^ (v * 0x9E3779B97F4A7C15ull) ^ i;
    std::memcpy(&b.data[i], &w, 8);
  }
}
bool holds(const Block& b, uint64_t lba, uint64_t v) {
  for (std::size_t i = 0; i < kBlockSize; i += 8) {
    uint64_t w;
    std::memcpy(&w, &b.data[i], 8);
    if (w != ((lba << 32) ^ (v * 0x9E3779B97F4A7C15ull) ^ i)) return false;
  }
  return true;
}

// After the warm-up: the private heap's size as the leak baseline, then the
// seeded crashes begin.
constexpr uint64_t kWarmupCalls = 64;
int64_t start_crashing(const Options& o, Domain& d) {
  auto base = static_cast<int64_t>(d.private_heap_bytes());
  InjectionPlan plan;
  plan.probability = o.rate;
  plan.seed = o.seed;
  plan.kinds = o.kinds;
  d.inject(plan);
  return base;
}

struct Result {
  uint64_t crashes = 0, recoveries = 0, ok = 0, failed = 0, lost = 0, stale_reads = 0, lost_packets = 0;
  int64_t shared_leak = 0, private_leak = 0;
  std::vector<uint64_t> recovery_ns;
};

Result run_target(const Options& o, const std::string& target, uint64_t crashes) {
  Result res;
  int64_t shared_before = static_cast<int64_t>(shared_heap_stats().bytes_in_use);
  {
    tools::BlockTarget dev(target, 16384, "rl-chaos");
    auto& drv = dev.driver;
    pci::DeviceRef ref = dev.ref;
    drv.domain->set_call_timeout(std::chrono::milliseconds(2));   // for injected infinite loops
    BlockDeviceShadow shadow(*drv.domain, ref);
    const uint64_t blocks = 4096;
    const uint32_t depth = 48;
    std::mt19937_64 rng(o.seed);
    std::map<uint64_t, uint64_t> acked;                  // lba -> version acknowledged
    std::vector<int64_t> lba_of(depth, -1), version_of(depth, 0);
    std::vector<uint8_t> busy(blocks, 0);
    std::vector<uint32_t> idle;
    for (uint32_t t = 0; t < depth; ++t) idle.push_back(t);
    uint64_t next_version = 1;
    // A warm-up without crashes, then the private heap's size as a baseline.
    bool injecting = false;
    int64_t private_base = 0;
    uint64_t calls = 0;
    auto q = BlkBatch::make();
    auto done_with_crashes = [&] { return drv.domain->faults_injected() >= crashes; };
    while (true) {
      if (!injecting && calls == kWarmupCalls) {
        private_base = start_crashing(o, *drv.domain);
        injecting = true;
      }
      if (injecting && done_with_crashes()) drv.domain->stop_injecting();
      bool draining = injecting && done_with_crashes();
      while (!draining && !idle.empty() && !q.full()) {
        uint64_t lba = rng() % blocks;
        if (busy[lba]) continue;
        bool write = o.workload == "write" || (o.workload == "mix" && (rng() & 1));
        uint32_t t = idle.back();
        idle.pop_back();
        busy[lba] = 1;
        lba_of[t] = static_cast<int64_t>(lba);
        auto buf = RRef<Block>::make_aligned(4096);
        if (write) {
          version_of[t] = static_cast<int64_t>(next_version++);
          fill(*buf, lba, static_cast<uint64_t>(version_of[t]));
        }
        (void)q.push_back(BlkReq{lba, t, write ? BlkOp::Write : BlkOp::Read, 0, std::move(buf)});
      }
      if (draining && idle.size() == depth) break;
      auto r = shadow.submit_and_poll(std::move(q));
      ++calls;
      if (!r.ok()) {
        fprintf(stderr, "rl-chaos: the shadow gave up: %s\n", to_string(r.error()));
        res.failed += depth - idle.size();
        break;
      }
      q = std::move(r.value());
      BlkReq d;
      auto empty = BlkBatch::make();
      while (q.pop_front(d)) {
        if (d.tag >= depth || lba_of[d.tag] < 0) continue;
        auto lba = static_cast<uint64_t>(lba_of[d.tag]);
        if (d.status != 0) {
          ++res.failed;
        } else {
          ++res.ok;
          if (d.op == BlkOp::Write) acked[lba] = static_cast<uint64_t>(version_of[d.tag]);
          else if (acked.count(lba) && !holds(*d.buf, lba, acked[lba])) ++res.stale_reads;
        }
        busy[lba] = 0;
        lba_of[d.tag] = -1;
        idle.push_back(static_cast<uint32_t>(d.tag));
      }
      q = std::move(empty);
    }
    drv.domain->stop_injecting();
    if (o.verify) {
      for (auto& [lba, v] : acked) {
        auto r = shadow.read(lba, RRef<Block>::make_aligned(4096));
        if (!r.ok() || r.value().status != 0 || !holds(*r.value().buf, lba, v)) ++res.lost;
      }
    }
    res.lost += res.stale_reads;
    res.crashes = drv.domain->faults_injected();
    res.recoveries = shadow.recoveries();
    res.recovery_ns = shadow.recovery_ns();
    // The driver's private heap after the last restart, against the one before any crash.
    res.private_leak = static_cast<int64_t>(drv.domain->private_heap_bytes()) - private_base;
    q = {};
  }
  res.shared_leak = static_cast<int64_t>(shared_heap_stats().bytes_in_use) - shared_before;
  return res;
}

bool is_net(const std::string& target) { return target == "ixgbe" || target == "nullnet"; }

// Transmits and receives through the network shadow while the driver
// crashes; on ixgbe (a generator feeds the port, transmitted frames go to a
// counting sink) every frame reported sent must be at the sink, once.
Result run_net_target(const Options& o, const std::string& target, uint64_t crashes) {
  Result res;
  int64_t shared_before = static_cast<int64_t>(shared_heap_stats().bytes_in_use);
  {
    pci::DeviceRef ref{0};
    LoadError lerr;
    Loaded<net::NetProxy> drv;
    if (target == "ixgbe") {
      std::string err;
      auto dev = pci::open("sim:ixgbe,wire=gen:size=60-1514:flows=16", &err);
      if (!dev) {
        fprintf(stderr, "rl-chaos: %s\n", err.c_str());
        std::exit(1);
      }
      ref = pci::attach(std::move(dev));
      drv = net::load_ixgbe(std::string(RL_IXGBE_DOMAIN_DIR) + "/ixgbe.so", "ixgbe", net::IxgbeInit{ref, 1, 1}, &lerr);
    } else {
      drv = net::load_nullnet(std::string(RL_NULLNET_DOMAIN_DIR) + "/nullnet.so", "nullnet", net::NullNetInit{60}, &lerr);
    }
    if (!drv) {
      fprintf(stderr, "rl-chaos: %s\n", lerr.message.c_str());
      std::exit(1);
    }
    drv.domain->set_call_timeout(std::chrono::milliseconds(2));
    net::NetDeviceShadow shadow(*drv.domain, ref);
    auto q = net::PacketBatch::make();
    for (uint32_t i = 0; i < net::kNetBatch; ++i) (void)q.push_back(RRef<net::Packet>::make_aligned(64));
    uint64_t calls = 0, acked = 0, received = 0;
    int64_t private_base = 0;
    bool injecting = false;
    while (!injecting || drv.domain->faults_injected() < crashes) {
      if (!injecting && calls == kWarmupCalls) {
        private_base = start_crashing(o, *drv.domain);
        injecting = true;
      }
      bool tx = calls++ % 2 == 1;
      uint64_t frames = 0;
      for (std::size_t i = 0; i < q.size(); ++i) {
        if (tx && q[i]->len == 0) q[i]->len = 60;   // received frames go back out; empty buffers get one
        frames += q[i]->len != 0;
      }
      auto r = shadow.submit_and_poll(std::move(q), tx);
      if (!r.ok()) {
        fprintf(stderr, "rl-chaos: the shadow gave up: %s\n", to_string(r.error()));
        ++res.failed;
        break;
      }
      q = std::move(r.value());
      uint64_t left = 0;
      for (std::size_t i = 0; i < q.size(); ++i) left += q[i]->len != 0;
      if (tx) {
        acked += frames - left;
        res.ok += frames - left;
        for (std::size_t i = 0; i < q.size(); ++i) q[i]->len = 0;   // unsent frames are dropped by this workload
      } else {
        received += left;
      }
    }
    drv.domain->stop_injecting();
    if (o.verify && target == "ixgbe") {
      auto* model = static_cast<sim::IxgbeModel*>(pci::lookup(ref)->model());
      uint64_t at_sink = model->sunk_frames();
      // Frames a crash caught inside the driver are acknowledged without certainty.
      uint64_t certain = acked - shadow.unknown_fate();
      if (at_sink < certain) res.lost_packets += certain - at_sink;   // reported sent, never on the wire
      if (at_sink > acked) res.failed += at_sink - acked;  // on the wire more than once
    }
    (void)received;
    res.crashes = drv.domain->faults_injected();
    res.recoveries = shadow.recoveries();
    res.recovery_ns = shadow.recovery_ns();
    res.private_leak = static_cast<int64_t>(drv.domain->private_heap_bytes()) - private_base;
    q = {};
    drv = {};
    if (ref.id) pci::detach(ref);
  }
  res.shared_leak = static_cast<int64_t>(shared_heap_stats().bytes_in_use) - shared_before;
  return res;
}

double percentile_us(std::vector<uint64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))]) / 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  Result total;
  std::string names;
  for (std::size_t i = 0; i < o.targets.size(); ++i) {
    uint64_t share = o.crashes / o.targets.size() + (i < o.crashes % o.targets.size() ? 1 : 0);
    Result r = is_net(o.targets[i]) ? run_net_target(o, o.targets[i], share) : run_target(o, o.targets[i], share);
    total.crashes += r.crashes;
    total.recoveries += r.recoveries;
    total.ok += r.ok;
    total.failed += r.failed;
    total.lost += r.lost;
    total.lost_packets += r.lost_packets;
    total.shared_leak += r.shared_leak;
    total.private_leak += r.private_leak;
    total.recovery_ns.insert(total.recovery_ns.end(), r.recovery_ns.begin(), r.recovery_ns.end());
    names += (i ? "," : "") + o.targets[i];
  }
  std::string kinds;
  for (FaultKind k : o.kinds) kinds += std::string(kinds.empty() ? "" : ",") + to_string(k);
  printf("{\"tool\": \"rl-chaos\", \"targets\": \"%s\", \"workload\": \"%s\", \"kinds\": \"%s\", \"seed\": %lu, "
         "\"crashes_injected\": %lu, \"recoveries\": %lu, \"process_alive\": true, \"requests_ok\": %lu, "
         "\"requests_failed\": %lu, \"verified\": %s, \"acknowledged_writes_lost\": %lu, "
         "\"acknowledged_packets_lost\": %lu, "
         "\"shared_heap_leaked_bytes\": %ld, \"private_heap_leaked_bytes\": %ld, "
         "\"recovery_us_p50\": %.1f, \"recovery_us_p99\": %.1f, \"recovery_us_max\": %.1f}\n",
         names.c_str(), o.workload.c_str(), kinds.c_str(), static_cast<unsigned long>(o.seed),
         static_cast<unsigned long>(total.crashes), static_cast<unsigned long>(total.recoveries),
         static_cast<unsigned long>(total.ok), static_cast<unsigned long>(total.failed), o.verify ? "true" : "false",
         static_cast<unsigned long>(total.lost), static_cast<unsigned long>(total.lost_packets),
         static_cast<long>(total.shared_leak),
         static_cast<long>(total.private_leak), percentile_us(total.recovery_ns, 0.5),
         percentile_us(total.recovery_ns, 0.99), percentile_us(total.recovery_ns, 1.0));
  bool bad = total.lost || total.lost_packets || total.failed || total.shared_leak || total.private_leak > 0;
  return bad ? 1 : 0;
}
