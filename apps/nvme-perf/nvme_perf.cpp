// rl-nvme-perf: an fio / spdk_nvme_perf-like load generator for the NVMe
// driver, direct, through the driver domain, or through its shadow.
//
//   rl-nvme-perf --device sim:nvme|0000:01:00.0 [--rw read|write|randread|randwrite|mix]
//                [--bs BYTES] [--qd N] [--batch N] [--time SECONDS] [--through direct|domain|shadow]
//
// A progress line each second on stderr; a JSON summary on stdout.
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "drivers/nvme/driver.hpp"
#include "domains/shadow/bdev/bdev_shadow.hpp"
#include "idl/bdev.rl.hpp"

using namespace rl;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string device = "sim:nvme,blocks=65536,lba=4096";
  std::string rw = "randread";
  uint32_t bs = 4096, qd = 32, batch = 32;
  double seconds = 5;
  std::string through = "direct";
};

[[noreturn]] void usage(const char* why) {
  if (why) fprintf(stderr, "rl-nvme-perf: %s\n", why);
  fprintf(stderr,
          "usage: rl-nvme-perf [--device sim:nvme|ADDR] [--rw read|write|randread|randwrite|mix]\n"
          "                    [--bs BYTES] [--qd N] [--batch N] [--time SECONDS]\n"
          "                    [--through direct|domain|shadow]\n");
  std::exit(why ? 2 : 0);
}

uint64_t number(const char* flag, const char* v, uint64_t lo, uint64_t hi) {
  char* end = nullptr;
  unsigned long long n = std::strtoull(v, &end, 10);
  if (!*v || *end || n < lo || n > hi) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s %s: expected a number in [%llu, %llu]", flag, v,
             static_cast<unsigned long long>(lo), static_cast<unsigned long long>(hi));
    usage(msg);
  }
  return n;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") usage(nullptr);
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    const char* v = argv[++i];
    if (a == "--device") o.device = v;
    else if (a == "--rw") o.rw = v;
    else if (a == "--bs") o.bs = static_cast<uint32_t>(number("--bs", v, 512, nvme::kMaxTransfer));
    else if (a == "--qd") o.qd = static_cast<uint32_t>(number("--qd", v, 1, 1023));
    else if (a == "--batch") o.batch = static_cast<uint32_t>(number("--batch", v, 1, 1023));
    else if (a == "--time") o.seconds = static_cast<double>(number("--time", v, 1, 3600));
    else if (a == "--through") o.through = v;
    else usage(("unknown option " + a).c_str());
  }
  if (o.rw != "read" && o.rw != "write" && o.rw != "randread" && o.rw != "randwrite" && o.rw != "mix")
    usage(("--rw " + o.rw + ": expected read, write, randread, randwrite or mix").c_str());
  if (o.through != "direct" && o.through != "domain" && o.through != "shadow")
    usage(("--through " + o.through + ": expected direct, domain or shadow").c_str());
  if (o.through != "direct" && o.bs != blk::kBlockSize)
    usage("--through domain/shadow moves one 4096-byte Block per request: use --bs 4096");
  if (o.batch > o.qd) o.batch = o.qd;
  return o;
}

// Chooses the next request's direction and block.
class Pattern {
 public:
  Pattern(const Options& o, uint64_t units) : rw_(o.rw), units_(units) {}
  bool write() { return rw_ == "write" || rw_ == "randwrite" || (rw_ == "mix" && rng_() % 10 < 3); }
  uint64_t unit() { return (rw_ == "read" || rw_ == "write") ? next_++ % units_ : rng_() % units_; }

 private:
  std::string rw_;
  uint64_t units_;
  uint64_t next_ = 0;
  std::mt19937_64 rng_{1};
};

struct Stats {
  uint64_t ios = 0, errors = 0;
  double seconds = 0;                    // of the measured run, not of the setup
  std::vector<uint32_t> latency_ticks;   // a sample per I/O, capped
  void record(uint64_t ticks, int status) {
    ++ios;
    errors += status != 0;
    if (latency_ticks.size() < (16u << 20)) latency_ticks.push_back(static_cast<uint32_t>(std::min<uint64_t>(ticks, ~0u)));
  }
};

// Runs until the time is up, printing a progress line each second.
template <class Step>
void drive(const Options& o, Stats& st, Step&& step) {
  auto start = Clock::now(), last = start;
  uint64_t last_ios = 0;
  while (true) {
    step();
    auto now = Clock::now();
    if (now - last >= std::chrono::seconds(1)) {
      double dt = std::chrono::duration<double>(now - last).count();
      fprintf(stderr, "[%4.0fs] %9.1fK IOPS %8.1f MB/s, %lu errors\n", std::chrono::duration<double>(now - start).count(),
              (st.ios - last_ios) / dt / 1e3, (st.ios - last_ios) * double(o.bs) / dt / 1e6,
              static_cast<unsigned long>(st.errors));
      last = now;
      last_ios = st.ios;
    }
    if (now - start >= std::chrono::duration<double>(o.seconds)) {
      st.seconds = std::chrono::duration<double>(now - start).count();
      return;
    }
  }
}

void run_direct(const Options& o, pci::Device& dev, Stats& st) {
  std::string err;
  nvme::DriverConfig cfg;
  cfg.io_queues = 1;
  cfg.queue_depth = std::max<uint32_t>(o.qd + 1, 2);
  auto drv = nvme::Driver::create(dev, cfg, &err);
  if (!drv) {
    fprintf(stderr, "rl-nvme-perf: %s\n", err.c_str());
    std::exit(1);
  }
  if (o.bs % drv->lba_size()) usage("--bs must be a multiple of the namespace's LBA size");
  uint32_t lbas = o.bs / drv->lba_size();
  Pattern pat(o, drv->lba_count() / lbas);
  std::vector<RRefArray<uint8_t, nvme::kMaxTransfer>> bufs(o.qd);
  for (auto& b : bufs) b = RRefArray<uint8_t, nvme::kMaxTransfer>::make_aligned(4096);
  std::vector<uint64_t> started(o.qd);
  std::vector<uint32_t> idle;
  for (uint32_t i = 0; i < o.qd; ++i) idle.push_back(i);
  std::vector<nvme::Done> done(o.qd);
  drive(o, st, [&] {
    for (uint32_t n = 0; n < o.batch && !idle.empty(); ++n) {
      uint32_t t = idle.back();
      uint8_t op = pat.write() ? nvme::io::WRITE : nvme::io::READ;
      if (drv->submit(1, op, pat.unit() * lbas, lbas, bufs[t].data(), t) != 0) break;
      idle.pop_back();
      started[t] = __rdtsc();
    }
    drv->ring(1);
    unsigned got = drv->poll(1, done.data(), o.qd);
    uint64_t now = __rdtsc();
    for (unsigned k = 0; k < got; ++k) {
      st.record(now - started[done[k].tag], done[k].status);
      idle.push_back(static_cast<uint32_t>(done[k].tag));
    }
  });
}

void run_domain(const Options& o, pci::DeviceRef ref, Stats& st) {
  LoadError lerr;
  auto nvme = blk::load_nvme(std::string(RL_NVME_DOMAIN_DIR) + "/nvme.so", "nvme",
                             blk::NvmeInit{ref, 1, std::max<uint32_t>(o.qd + 1, 2)}, &lerr);
  if (!nvme) {
    fprintf(stderr, "rl-nvme-perf: %s\n", lerr.message.c_str());
    std::exit(1);
  }
  // A failed driver's queue memory is freed: stop the device first.
  nvme.domain->on_reclaim([ref] {
    std::string e;
    if (pci::Device* d = pci::lookup(ref)) d->reset(&e);
  });
  // The shadow replays what a crashed driver had in flight (domains/shadow/bdev).
  std::unique_ptr<blk::BlockDeviceShadow> shadow;
  blk::NvmeBDev* dev = nvme.proxy.get();
  if (o.through == "shadow") {
    shadow = std::make_unique<blk::BlockDeviceShadow>(*nvme.domain, ref);
    dev = shadow.get();
  }
  Pattern pat(o, dev->info()->blocks);
  std::vector<blk::BlkReq> idle(o.qd);
  for (uint32_t i = 0; i < o.qd; ++i) idle[i] = blk::BlkReq{0, i, blk::BlkOp::Read, 0, RRef<blk::Block>::make_aligned(4096)};
  std::vector<uint64_t> started(o.qd);
  auto q = blk::BlkBatch::make();
  drive(o, st, [&] {
    for (uint32_t n = 0; n < o.batch && !idle.empty() && !q.full(); ++n) {
      blk::BlkReq r = std::move(idle.back());
      idle.pop_back();
      r.lba = pat.unit();
      r.op = pat.write() ? blk::BlkOp::Write : blk::BlkOp::Read;
      started[r.tag] = __rdtsc();
      (void)q.push_back(std::move(r));
    }
    auto res = dev->submit_and_poll(std::move(q));
    if (!res.ok()) {
      fprintf(stderr, "rl-nvme-perf: the nvme domain failed (%s)\n", to_string(res.error()));
      std::exit(1);
    }
    q = std::move(res.value());
    uint64_t now = __rdtsc();
    blk::BlkReq r;
    while (q.pop_front(r)) {
      st.record(now - started[r.tag], r.status);
      idle.push_back(std::move(r));
    }
  });
}

// TSC ticks per nanosecond, measured against the steady clock.
double tsc_per_ns() {
  auto t0 = Clock::now();
  uint64_t c0 = __rdtsc();
  while (Clock::now() - t0 < std::chrono::milliseconds(50)) {
  }
  return static_cast<double>(__rdtsc() - c0) / std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::string err;
  auto device = pci::open(o.device, &err);
  if (!device) {
    fprintf(stderr, "rl-nvme-perf: %s\n", err.c_str());
    return 1;
  }
  Stats st;
  double ratio = tsc_per_ns();
  if (o.through == "direct") {
    run_direct(o, *device, st);
  } else {
    auto ref = pci::attach(std::move(device));
    run_domain(o, ref, st);
    pci::detach(ref);
  }
  double secs = st.seconds;
  auto& lat = st.latency_ticks;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * lat.size()))] / ratio / 1e3;
  };
  printf("{\"device\": \"%s\", \"rw\": \"%s\", \"bs\": %u, \"qd\": %u, \"batch\": %u, \"through\": \"%s\", "
         "\"seconds\": %.2f, \"ios\": %lu, \"errors\": %lu, \"iops\": %.0f, \"mb_per_s\": %.1f, "
         "\"latency_us\": {\"p50\": %.2f, \"p99\": %.2f, \"p99.9\": %.2f}}\n",
         o.device.c_str(), o.rw.c_str(), o.bs, o.qd, o.batch, o.through.c_str(), secs,
         static_cast<unsigned long>(st.ios), static_cast<unsigned long>(st.errors), st.ios / secs,
         st.ios * double(o.bs) / secs / 1e6, pct(0.5), pct(0.99), pct(0.999));
  return st.errors ? 1 : 0;
}
