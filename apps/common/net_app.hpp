// What rl-httpd, rl-kvstore and the demo share: a port (a simulated 82599
// on a TAP device, or a PCI address), its driver domain -- behind the
// network shadow by default, so a driver crash is recovered without the
// application seeing it -- the network stack domain, and the poll loop that
// moves frames and hands socket events to the application.
//
// Trusted code: it loads domains and restarts them.  The application's own
// logic (HTTP, memcached) runs here too, outside any domain, as a Linux
// program linked against redleaf.
#pragma once

#include <arpa/inet.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "domains/netstack/pump.hpp"
#include "domains/shadow/net/net_shadow.hpp"
#include "drivers/pci/device.hpp"
#include "idl/net.rl.hpp"
#include "idl/netstack.rl.hpp"
#include "libredleaf/inject.hpp"

namespace rl::app {

struct NetAppOptions {
  std::string device = "sim:ixgbe,wire=tap:rl0";
  uint32_t ip = 0x0a000002;        // 10.0.0.2, host order
  uint32_t prefix = 24;
  uint32_t gateway = 0;
  bool shadow = true;              // --through shadow (default) | domain
  double crash_every = 0;          // --crash-driver-every SECONDS: inject a driver fault that often (0 = never)
  double seconds = 0;              // --time SECONDS: stop after that long (0 = until SIGINT/SIGTERM)
};

// The usage lines of the options above, for an application's --help.
const char* net_app_usage();

// Takes `flag value` if it is one of the options above.  Returns false if
// the flag is not ours; on a bad value sets *error.
bool parse_net_app_option(NetAppOptions& o, const std::string& flag, const std::string& value, std::string* error);

// An application's command line: `--flag value` pairs.  NetApp's options
// are taken here, the application's go to own(flag, value), which returns
// false for a flag it does not know.  -h/--help, a missing value, a bad
// value or an unknown flag end in usage(why) (why is null for --help).
using Usage = void (*)(const char* why);
template <class Own>
void parse_app_options(int argc, char** argv, NetAppOptions& net, Usage usage, Own&& own) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") usage(nullptr);
    if (i + 1 >= argc) usage(("missing value for " + flag).c_str());
    const std::string value = argv[++i];
    std::string error;
    if (parse_net_app_option(net, flag, value, &error)) {
      if (!error.empty()) usage(error.c_str());
    } else if (!own(flag, value)) {
      usage(("unknown option " + flag).c_str());
    }
  }
}
// A numeric option's value in [lo, hi]; anything else ends in usage(why).
double number_option(const std::string& flag, const std::string& value, double lo, double hi, Usage usage);
// The same for a whole number (no fraction, no exponent).
long integer_option(const std::string& flag, const std::string& value, long lo, long hi, Usage usage);

class NetApp {
 public:
  // Opens the port and loads the domains; on failure says why in *error.
  static std::unique_ptr<NetApp> open(const NetAppOptions& o, std::string* error);
  ~NetApp();

  netstack::NetStack& stack() { return *stack_.proxy; }
  const NetAppOptions& options() const { return options_; }
  std::string address() const;   // "10.0.0.2"

  // Runs until stopped (SIGINT/SIGTERM, --time, or stop()): each round moves
  // frames, then calls on_event for each socket event, then on_round() --
  // for the application's timers, which must fire when no event comes (an
  // idle connection's timeout).  SIGUSR1 prints an `rl-stats` line: the
  // NIC's own counters beside the frames the stack moved, the faults
  // injected and the recoveries.  Returns 0, or 1 after printing why the
  // driver (without a shadow) or the stack failed.
  template <class OnEvent>
  int run(OnEvent&& on_event) {
    return run(on_event, [] {});
  }
  template <class OnEvent, class OnRound>
  int run(OnEvent&& on_event, OnRound&& on_round) {
    for (;;) {
      if (!round()) return 1;
      bool any = false;
      for (bool more = true; more;) {
        auto ev = stack().events();
        if (!ev.ok()) return stack_failed();
        for (uint32_t i = 0; i < ev.value().count; ++i) on_event(ev.value().list[i]);
        any |= ev.value().count > 0;
        more = ev.value().more != 0;
      }
      on_round();
      if (should_stop()) return 0;
      report_if_asked();
      idle(any);
    }
  }
  void stop() { stop_ = true; }

  // What happened, for the summary line.
  struct Summary {
    uint64_t frames_in, frames_out, tx_dropped;
    uint64_t driver_crashes, driver_recoveries;
    std::vector<uint64_t> recovery_ns;
    double seconds;
  };
  Summary summary() const;
  Domain& driver_domain() { return *driver_.domain; }
  net::NetDeviceShadow* shadow() { return shadow_.get(); }

 private:
  NetApp() = default;
  bool round();               // false after a failure it printed
  int stack_failed();
  bool should_stop();
  void report_if_asked();
  void idle(bool had_events);

  NetAppOptions options_;
  pci::DeviceRef ref_{};
  const char* driver_name_ = "";
  Loaded<net::NetProxy> driver_;
  std::unique_ptr<net::NetDeviceShadow> shadow_;
  Loaded<netstack::NetStackProxy> stack_;
  std::optional<netstack::Pump> pump_;
  std::chrono::steady_clock::time_point start_, next_crash_;
  uint64_t idle_rounds_ = 0;
  bool stop_ = false;
};

}  // namespace rl::app
