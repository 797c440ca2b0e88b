// What rl-pktgen and rl-fwd share: options, opening the port (directly or
// through its driver's domain, the driver chosen by PCI IDs: an 82599 or an
// 82574L), the once-a-second status line and the summary.
#pragma once

#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "apps/common/nic.hpp"
#include "drivers/e1000e/driver.hpp"
#include "drivers/ixgbe/net.hpp"
#include "idl/net.rl.hpp"

namespace rl::tools {

struct NetOptions {
  std::string device = "sim:ixgbe,wire=loopback";
  uint32_t batch = 32;
  uint32_t queues = 1;
  double seconds = 3;
  uint16_t size = 60;
  bool domain = false;   // --through domain: the driver runs in its domain (ixgbe.so, e1000e.so)
  uint32_t ip = 0;       // --ip A.B.C.D (rl-responder), host byte order
  bool mac_mode = false; // --mode mac (rl-fwd): answer each frame's sender from the port's address
};

[[noreturn]] inline void usage(const char* prog, const char* why) {
  if (why) fprintf(stderr, "%s: %s\n", prog, why);
  fprintf(stderr,
          "usage: %s [--device sim:ixgbe,wire=loopback|pair:NAME|sink|pcap:FILE|tap:IFNAME|gen:...|ADDR]\n"
          "          [--batch 1..64] [--queues 1..16] [--time SECONDS] [--size 60..1514]\n"
          "          [--through direct|domain] [--ip A.B.C.D (rl-responder)] [--mode io|mac (rl-fwd)]\n"
          "  wire=gen[:size=N|MIN-MAX][:flows=N][:rate=MPPS][:count=N] generates UDP frames to the port\n",
          prog);
  std::exit(why ? 2 : 0);
}

inline NetOptions parse_net_options(int argc, char** argv) {
  NetOptions o;
  auto num = [&](const char* flag, const char* v, long lo, long hi) {
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) {
      std::string msg = std::string(flag) + " " + v + ": expected a number in [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "]";
      usage(argv[0], msg.c_str());
    }
    return n;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") usage(argv[0], nullptr);
    if (i + 1 >= argc) usage(argv[0], ("missing value for " + a).c_str());
    const char* v = argv[++i];
    if (a == "--device") o.device = v;
    else if (a == "--batch") o.batch = static_cast<uint32_t>(num("--batch", v, 1, static_cast<long>(net::kNetBatch)));
    else if (a == "--queues") o.queues = static_cast<uint32_t>(num("--queues", v, 1, 16));
    else if (a == "--time") o.seconds = static_cast<double>(num("--time", v, 1, 3600));
    else if (a == "--size") o.size = static_cast<uint16_t>(num("--size", v, 60, 1514));
    else if (a == "--mode") {
      if (std::string(v) != "io" && std::string(v) != "mac") usage(argv[0], "--mode: expected io or mac");
      o.mac_mode = std::string(v) == "mac";
    } else if (a == "--ip") {
      in_addr addr{};
      if (inet_pton(AF_INET, v, &addr) != 1) usage(argv[0], (std::string("--ip ") + v + ": expected A.B.C.D").c_str());
      o.ip = ntohl(addr.s_addr);
    } else if (a == "--through") {
      if (std::string(v) != "direct" && std::string(v) != "domain")
        usage(argv[0], "--through: expected direct or domain");
      o.domain = std::string(v) == "domain";
    } else usage(argv[0], ("unknown option " + a).c_str());
  }
  return o;
}

// The port, its driver and (with --through domain) the domain around it.
class Port {
 public:
  Port(const NetOptions& o, const char* prog) {
    std::string err;
    auto dev = pci::open(o.device, &err);
    if (!dev) fail(prog, err);
    if (o.domain) {
      ref_ = pci::attach(std::move(dev));
      auto nic = app::load_nic_driver(ref_, o.queues, &err);
      if (!nic.loaded) fail(prog, err);
      loaded_ = std::move(nic.loaded);
      net_ = loaded_.proxy.get();
      return;
    }
    dev_ = std::move(dev);
    switch (intel::family_of(dev_->vendor_id(), dev_->device_id())) {
      case intel::Family::Ixgbe: {
        ixgbe::DriverConfig cfg;
        cfg.rx_queues = o.queues;
        auto drv = ixgbe::Driver::create(*dev_, cfg, &err);
        if (!drv) fail(prog, err);
        direct_ = ixgbe::make_ixgbe_net(std::move(drv));
        break;
      }
      case intel::Family::E1000e: {
        if (o.queues > 1) fail(prog, "the 82574L driver has one receive queue: leave out --queues");
        auto drv = e1000e::Driver::create(*dev_, &err);
        if (!drv) fail(prog, err);
        direct_ = e1000e::make_e1000e_net(std::move(drv));
        break;
      }
      case intel::Family::None:
        fail(prog, app::no_nic_driver(*dev_));
    }
    net_ = direct_.get();
  }
  ~Port() {
    loaded_ = {};
    if (ref_.id) pci::detach(ref_);
  }
  net::Net& net() { return *net_; }

 private:
  [[noreturn]] static void fail(const char* prog, const std::string& why) {
    fprintf(stderr, "%s: %s\n", prog, why.c_str());
    std::exit(1);
  }
  std::unique_ptr<pci::Device> dev_;
  std::unique_ptr<net::Net> direct_;
  pci::DeviceRef ref_{};
  Loaded<net::NetProxy> loaded_;
  net::Net* net_ = nullptr;
};

// Counts, prints a status line each second, and the JSON summary at the end.
// SIGINT and SIGTERM end the run early, with the summary.
class Meter {
 public:
  explicit Meter(const char* what) : what_(what), start_(Clock::now()), last_(start_) {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
  }
  void add(uint64_t packets, uint64_t bytes) {
    packets_ += packets;
    bytes_ += bytes;
  }
  // Returns false when `seconds` have passed.
  bool tick(double seconds) {
    auto now = Clock::now();
    if (now - last_ >= std::chrono::seconds(1)) {
      double dt = std::chrono::duration<double>(now - last_).count();
      fprintf(stderr, "[%4.0fs] %s %8.3f Mpps %7.3f Gbit/s\n", std::chrono::duration<double>(now - start_).count(),
              what_, (packets_ - last_packets_) / dt / 1e6, (bytes_ - last_bytes_) * 8 / dt / 1e9);
      last_ = now;
      last_packets_ = packets_;
      last_bytes_ = bytes_;
    }
    return !stop_requested() && now - start_ < std::chrono::duration<double>(seconds);
  }
  void summary(const NetOptions& o, const net::NetStats& st) const {
    double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    printf("{\"tool\": \"%s\", \"device\": \"%s\", \"through\": \"%s\", \"batch\": %u, \"seconds\": %.2f, "
           "\"packets\": %lu, \"mpps\": %.3f, \"gbit_per_s\": %.3f, \"rx_dropped\": %lu}\n",
           what_, o.device.c_str(), o.domain ? "domain" : "direct", o.batch, secs,
           static_cast<unsigned long>(packets_), packets_ / secs / 1e6, bytes_ * 8 / secs / 1e9,
           static_cast<unsigned long>(st.rx_dropped));
  }

 private:
  using Clock = std::chrono::steady_clock;
  static std::atomic<bool>& stop_requested() {
    static std::atomic<bool> stop{false};
    return stop;
  }
  static void on_signal(int) { stop_requested().store(true); }
  const char* what_;
  Clock::time_point start_, last_;
  uint64_t packets_ = 0, bytes_ = 0, last_packets_ = 0, last_bytes_ = 0;
};

}  // namespace rl::tools
