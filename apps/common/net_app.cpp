#include "apps/common/net_app.hpp"

#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "apps/common/nic.hpp"

namespace rl::app {
namespace {

// Polling spins, as DPDK does, while there is work.  After a few empty
// rounds the server waits for the port instead -- as DPDK's interrupt mode
// does -- so that on a two-core machine the clients and the kernel's TAP
// path get the CPU: on a simulated port fed by a TAP, until a frame arrives
// (at most 1 ms, so lwIP's timers keep running); where the device cannot
// say (a real NIC, its interrupts not wired yet), a nap of 20 µs after
// about a millisecond of empty rounds.
constexpr uint64_t kIdleRoundsBeforeWait = 16;
constexpr std::chrono::microseconds kMaxWait{1000};
constexpr uint64_t kIdleRoundsBeforeNap = 2000;
constexpr long kNapNs = 20'000;

std::atomic<bool> g_stop_requested{false};
std::atomic<bool> g_report_requested{false};
void on_stop_signal(int) { g_stop_requested = true; }
void on_report_signal(int) { g_report_requested = true; }

bool parse_number(const std::string& v, double lo, double hi, double* out) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !(d >= lo && d <= hi)) return false;
  *out = d;
  return true;
}

}  // namespace

const char* net_app_usage() {
  return "  --device DEV            sim:ixgbe,wire=tap:IFNAME (default tap:rl0), another sim wire, or the PCI address of an 82599 or 82574L\n"
         "  --ip A.B.C.D[/N]        the stack's address (default 10.0.0.2/24)\n"
         "  --gateway A.B.C.D       default route (default none)\n"
         "  --through shadow|domain the driver domain behind its shadow (default: crashes are recovered) or alone\n"
         "  --crash-driver-every S  inject a fault into the driver domain every S seconds (0.05..3600)\n"
         "  --time S                stop after S seconds (default: at SIGINT/SIGTERM)\n";
}

bool parse_net_app_option(NetAppOptions& o, const std::string& flag, const std::string& value, std::string* error) {
  auto ipv4 = [&](const std::string& text, uint32_t* out) {
    in_addr a{};
    if (inet_pton(AF_INET, text.c_str(), &a) != 1) {
      *error = flag + " " + value + ": expected A.B.C.D";
      return false;
    }
    *out = ntohl(a.s_addr);
    return true;
  };
  if (flag == "--device") {
    o.device = value;
  } else if (flag == "--ip") {
    std::string addr = value;
    auto slash = value.find('/');
    if (slash != std::string::npos) {
      double prefix = 0;
      if (!parse_number(value.substr(slash + 1), 1, 30, &prefix)) {
        *error = "--ip " + value + ": the prefix length must be 1..30";
        return true;
      }
      o.prefix = static_cast<uint32_t>(prefix);
      addr = value.substr(0, slash);
    }
    ipv4(addr, &o.ip);
  } else if (flag == "--gateway") {
    ipv4(value, &o.gateway);
  } else if (flag == "--through") {
    if (value != "shadow" && value != "domain") *error = "--through " + value + ": expected shadow or domain";
    o.shadow = value == "shadow";
  } else if (flag == "--crash-driver-every") {
    if (!parse_number(value, 0.05, 3600, &o.crash_every)) *error = "--crash-driver-every " + value + ": expected 0.05..3600 seconds";
  } else if (flag == "--time") {
    if (!parse_number(value, 0.1, 1e7, &o.seconds)) *error = "--time " + value + ": expected a number of seconds";
  } else {
    return false;
  }
  return true;
}

double number_option(const std::string& flag, const std::string& value, double lo, double hi, Usage usage) {
  double d = 0;
  if (!parse_number(value, lo, hi, &d)) {
    char range[64];
    snprintf(range, sizeof range, "[%g, %g]", lo, hi);
    usage((flag + " " + value + ": expected a number in " + range).c_str());
  }
  return d;
}

long integer_option(const std::string& flag, const std::string& value, long lo, long hi, Usage usage) {
  char* end = nullptr;
  const long n = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end || n < lo || n > hi)
    usage((flag + " " + value + ": expected a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]").c_str());
  return n;
}

std::unique_ptr<NetApp> NetApp::open(const NetAppOptions& o, std::string* error) {
  std::unique_ptr<NetApp> app(new NetApp);
  app->options_ = o;
  auto dev = pci::open(o.device, error);
  if (!dev) return nullptr;
  app->ref_ = pci::attach(std::move(dev));
  auto nic = load_nic_driver(app->ref_, 1, error);
  if (!nic.loaded) return nullptr;
  app->driver_ = std::move(nic.loaded);
  app->driver_name_ = nic.name;
  net::Net* net = app->driver_.proxy.get();
  if (o.shadow) {
    app->shadow_ = std::make_unique<net::NetDeviceShadow>(*app->driver_.domain, app->ref_);
    net = app->shadow_.get();
  }
  auto mac = net->mac_address();
  if (!mac.ok()) {
    *error = std::string("the driver failed at start: ") + to_string(mac.error());
    return nullptr;
  }
  const uint32_t mask = o.prefix ? ~uint32_t{0} << (32 - o.prefix) : 0;
  LoadError lerr;
  app->stack_ = netstack::load_netstack(std::string(RL_NETSTACK_DOMAIN_DIR) + "/netstack.so", "netstack",
                                        netstack::NetStackInit{mac.value(), o.ip, mask, o.gateway, 0}, &lerr);
  if (!app->stack_) {
    *error = "the network stack domain: " + lerr.message;
    return nullptr;
  }
  app->pump_.emplace(*net, *app->stack_.proxy);
  app->start_ = std::chrono::steady_clock::now();
  app->next_crash_ = app->start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                       std::chrono::duration<double>(o.crash_every));
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGUSR1, on_report_signal);
  prctl(PR_SET_TIMERSLACK, 1UL);   // naps of 20 µs, not the default 50 µs of slack on top
  return app;
}

NetApp::~NetApp() {
  pump_.reset();
  stack_ = {};
  shadow_.reset();
  driver_ = {};
  if (ref_.id) pci::detach(ref_);
}

std::string NetApp::address() const {
  char buf[INET_ADDRSTRLEN];
  in_addr a{htonl(options_.ip)};
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

bool NetApp::round() {
  if (options_.crash_every > 0 && std::chrono::steady_clock::now() >= next_crash_) {
    driver_.domain->inject_next(FaultKind::Segfault);
    next_crash_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(options_.crash_every));
  }
  int64_t moved = pump_->poll();
  if (moved >= 0) {
    idle_rounds_ = moved ? 0 : idle_rounds_ + 1;
    return true;
  }
  if (pump_->failed() == netstack::Pump::Failed::Stack) return stack_failed() == 0;
  DomainInfo info = driver_.domain->info();
  fprintf(stderr, "rl: the driver domain failed (%s: %s) and runs without a shadow (--through domain); stopping\n",
          to_string(info.last_cause), info.last_message.c_str());
  return false;
}

int NetApp::stack_failed() {
  DomainInfo info = stack_.domain->info();
  fprintf(stderr, "rl: the network stack domain failed (%s: %s); its connections are gone; stopping\n",
          to_string(info.last_cause), info.last_message.c_str());
  return 1;
}

bool NetApp::should_stop() {
  if (stop_ || g_stop_requested) return true;
  return options_.seconds > 0 &&
         std::chrono::steady_clock::now() - start_ >= std::chrono::duration<double>(options_.seconds);
}

void NetApp::report_if_asked() {
  // A load each round; the atomic exchange only when a report was asked for.
  if (!g_report_requested.load(std::memory_order_relaxed) || !g_report_requested.exchange(false)) return;
  auto r = shadow_ ? shadow_->stats() : driver_.proxy->stats();
  if (!r.ok()) {
    printf("rl-stats: the driver gave no statistics (%s)\n", to_string(r.error()));
    fflush(stdout);
    return;
  }
  const net::NetStats d = shadow_ ? shadow_->device_stats() : r.value();
  const auto& c = pump_->counters();
  std::vector<uint64_t> ns = shadow_ ? shadow_->recovery_ns() : std::vector<uint64_t>{};
  std::sort(ns.begin(), ns.end());
  const uint64_t median_ns = ns.empty() ? 0 : ns[ns.size() / 2];
  printf("rl-stats: driver %s device_rx %lu device_tx %lu device_rx_dropped %lu stack_in %lu stack_out %lu "
         "injected %lu recoveries %lu recovery_us_median %lu\n",
         driver_name_, static_cast<unsigned long>(d.rx_packets), static_cast<unsigned long>(d.tx_packets),
         static_cast<unsigned long>(d.rx_dropped), static_cast<unsigned long>(c.frames_in),
         static_cast<unsigned long>(c.frames_out), static_cast<unsigned long>(driver_.domain->faults_injected()),
         static_cast<unsigned long>(shadow_ ? shadow_->recoveries() : 0), static_cast<unsigned long>(median_ns / 1000));
  fflush(stdout);
}

void NetApp::idle(bool had_events) {
  if (had_events) idle_rounds_ = 0;
  if (idle_rounds_ < kIdleRoundsBeforeWait) return;
  if (pci::Device* dev = pci::lookup(ref_); dev && dev->wait_for_event(kMaxWait)) return;
  if (idle_rounds_ < kIdleRoundsBeforeNap) return;
  timespec nap{0, kNapNs};
  nanosleep(&nap, nullptr);
}

NetApp::Summary NetApp::summary() const {
  const auto& c = pump_->counters();
  Summary s{c.frames_in, c.frames_out, c.tx_dropped, driver_.domain->faults_injected(),
            shadow_ ? shadow_->recoveries() : 0, shadow_ ? shadow_->recovery_ns() : std::vector<uint64_t>{},
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count()};
  return s;
}

}  // namespace rl::app
