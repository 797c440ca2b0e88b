// rl-maglev: the Maglev load balancer (NSDI '16) on one port.
//
//   rl-maglev --backends NAME=A.B.C.D[@MAC],... [--device DEV] [--through direct|domain|shadow]
//             [--time S] [--batch 1..64] [--frames N] [--conntrack N] [--size M] [--control -|PATH]
//   rl-maglev --dump-table --backends NAME,NAME,... [--size M]
//
// Forwarding: every IPv4 TCP/UDP frame received goes back out of the port
// readdressed to its backend (apps/maglev/forward.hpp); a status line each
// second on stderr, a JSON summary on stdout.  --control reads "add
// NAME=IP[@MAC]" / "remove NAME" lines while it runs.  With --through domain
// or shadow, SIGUSR1 crashes the driver (the shadow recovers it).
//
// --dump-table prints the lookup table, one backend index per line (M
// lines), so that it can be checked against the paper's algorithm.
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "apps/maglev/control.hpp"
#include "apps/maglev/forward.hpp"
#include "apps/maglev/port.hpp"
#include "apps/maglev/table.hpp"

namespace {

using namespace rl;
using namespace rl::maglev;

[[noreturn]] void usage(const char* why) {
  if (why) fprintf(stderr, "rl-maglev: %s\n", why);
  fprintf(stderr,
          "usage: rl-maglev --backends NAME=A.B.C.D[@XX:XX:XX:XX:XX:XX],... [--device DEV]\n"
          "                 [--through direct|domain|shadow] [--time SECONDS] [--batch 1..64] [--frames N]\n"
          "                 [--conntrack ENTRIES] [--size M (a prime, default 65537)] [--control -|PATH]\n"
          "                 [--crash-driver-every MS (domain or shadow: a driver fault that often)]\n"
          "       rl-maglev --dump-table --backends NAME,NAME,... [--size M (a prime, default 65537)]\n"
          "  DEV: sim:ixgbe,wire=gen:... (default sim:ixgbe,wire=gen:flows=1000000) or a PCI address\n"
          "  --control: lines 'add NAME=A.B.C.D[@MAC]' or 'remove NAME' from stdin (-) or a FIFO\n");
  std::exit(why ? 2 : 0);
}

struct Options {
  bool dump = false;
  std::string backends;
  unsigned long size = kDefaultTableSize;
  std::string device = "sim:ixgbe,wire=gen:flows=1000000";
  Through through = Through::Direct;
  double seconds = 3;
  uint32_t batch = 32;
  uint64_t frames = 0;   // stop after this many received frames (0: no limit)
  uint64_t conntrack = ForwarderConfig{}.conntrack_entries;
  std::string control;
  unsigned long crash_every_ms = 0;   // inject a driver fault that often (domain, shadow)
};

unsigned long number(const std::string& flag, const std::string& v, unsigned long lo, unsigned long hi) {
  char* end = nullptr;
  unsigned long n = std::strtoul(v.c_str(), &end, 10);
  if (v.empty() || *end || v[0] == '-' || n < lo || n > hi)
    usage((flag + " " + v + ": expected a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]").c_str());
  return n;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") usage(nullptr);
    if (a == "--dump-table") {
      o.dump = true;
      continue;
    }
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    if (a == "--backends") {
      o.backends = v;
    } else if (a == "--size") {
      char* end = nullptr;
      o.size = std::strtoul(v.c_str(), &end, 10);
      if (v.empty() || *end || o.size > 100000007ul) usage(("--size " + v + ": expected a prime up to 100000007").c_str());
    } else if (a == "--device") {
      o.device = v;
    } else if (a == "--through") {
      if (!parse_through(v, &o.through)) usage(("--through " + v + ": expected direct, domain or shadow").c_str());
    } else if (a == "--crash-driver-every") {
      o.crash_every_ms = number(a, v, 10, 3600000);
    } else if (a == "--time") {
      o.seconds = static_cast<double>(number(a, v, 1, 3600));
    } else if (a == "--batch") {
      o.batch = static_cast<uint32_t>(number(a, v, 1, net::kNetBatch));
    } else if (a == "--frames") {
      o.frames = number(a, v, 1, 1ul << 50);
    } else if (a == "--conntrack") {
      o.conntrack = number(a, v, 4, 1ul << 28);
    } else if (a == "--control") {
      o.control = v;
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  return o;
}

int dump_table(const Options& o) {
  std::vector<std::string> backends;
  std::stringstream ss(o.backends);
  std::string name;
  while (std::getline(ss, name, ','))
    if (!name.empty()) backends.push_back(name);
  std::string err;
  auto table = Table::build(backends, static_cast<uint32_t>(o.size), &err);
  if (table.empty()) {
    fprintf(stderr, "rl-maglev: %s\n", err.c_str());
    return 2;
  }
  std::string out;
  out.reserve(table.size() * 3);
  for (uint32_t e : table.entries()) {
    out += std::to_string(e);
    out += '\n';
  }
  fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

struct Totals {
  uint64_t tx_unsent = 0;   // forwarded frames the transmit ring had no room for
  uint64_t table_builds = 1;
};

void print_summary(const Options& o, double secs, const Forwarder& f, const Totals& t, Port& port) {
  const auto& c = f.counters();
  const uint64_t out = c.forwarded - t.tx_unsent;
  auto st = port.net().stats();
  printf("{\"tool\": \"rl-maglev\", \"device\": \"%s\", \"through\": \"%s\", \"batch\": %u, \"seconds\": %.2f, "
         "\"packets_in\": %lu, \"packets_out\": %lu, \"mpps\": %.3f, \"dropped\": %lu, \"drops\": {",
         o.device.c_str(), to_string(o.through), o.batch, secs, static_cast<unsigned long>(c.in),
         static_cast<unsigned long>(out), static_cast<double>(out) / secs / 1e6,
         static_cast<unsigned long>(c.dropped_total() + t.tx_unsent));
  for (size_t v = 1; v < c.dropped.size(); ++v)
    printf("\"%s\": %lu, ", to_string(static_cast<Verdict>(v)), static_cast<unsigned long>(c.dropped[v]));
  const auto& ct = f.conntrack().stats();
  printf("\"tx_full\": %lu}, \"rx_missed\": %lu, \"conntrack\": {\"capacity\": %lu, \"hits\": %lu, \"misses\": %lu, "
         "\"evictions\": %lu, \"expired\": %lu, \"rehomed\": %lu}, \"table_builds\": %lu, \"recoveries\": %lu, "
         "\"wire_frames\": %lu, \"backends\": {",
         static_cast<unsigned long>(t.tx_unsent), static_cast<unsigned long>(st.ok() ? st.value().rx_dropped : 0),
         static_cast<unsigned long>(f.conntrack().capacity()), static_cast<unsigned long>(ct.hits),
         static_cast<unsigned long>(ct.misses), static_cast<unsigned long>(ct.evictions),
         static_cast<unsigned long>(ct.expired), static_cast<unsigned long>(c.rehomed),
         static_cast<unsigned long>(t.table_builds), static_cast<unsigned long>(port.recoveries()),
         static_cast<unsigned long>(port.wire_frames()));
  const Snapshot& s = f.backends();
  bool first = true;
  for (const auto& [name, n] : f.per_backend()) {
    bool live = false;
    for (uint32_t slot = 0; slot < kMaxBackends; ++slot) live |= s.dest[slot].live && s.name[slot] == name;
    printf("%s\"%s\": {\"packets\": %lu, \"live\": %s}", first ? "" : ", ", name.c_str(),
           static_cast<unsigned long>(n), live ? "true" : "false");
    first = false;
  }
  printf("}}\n");
}

int forward(const Options& o) {
  std::vector<Backend> list;
  std::string err;
  if (!parse_backends(o.backends, &list, &err)) usage(err.c_str());
  BackendSet set(static_cast<uint32_t>(o.size));
  for (const auto& b : list)
    if (!set.add(b, &err)) usage(("--backends: " + err).c_str());
  auto initial = set.build(&err);
  if (!initial) usage(err.c_str());

  auto port = Port::open(o.device, o.through, std::string(RL_IXGBE_DOMAIN_DIR) + "/ixgbe.so", &err);
  if (!port) {
    fprintf(stderr, "rl-maglev: %s\n", err.c_str());
    return 1;
  }
  auto mac = port->net().mac_address();
  if (!mac.ok()) {
    fprintf(stderr, "rl-maglev: the driver failed (%s)\n", to_string(mac.error()));
    return 1;
  }
  if (Domain* d = port->domain()) d->inject_on_signal(SIGUSR1, FaultKind::Segfault);
  if (o.crash_every_ms && !port->domain()) usage("--crash-driver-every needs the driver in a domain (--through domain or shadow)");

  ForwarderConfig cfg;
  cfg.conntrack_entries = o.conntrack;
  cfg.port_mac = mac.value();
  Forwarder fwd(cfg, std::move(initial));
  Mailbox box;
  Control control(set, box);
  if (!o.control.empty() && !control.start(o.control, &err)) usage(err.c_str());
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  auto q = net::PacketBatch::make();
  for (uint32_t i = 0; i < o.batch; ++i) (void)q.push_back(RRef<net::Packet>::make_aligned(64));
  Totals t;
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto last = start;
  auto next_crash = start + std::chrono::milliseconds(o.crash_every_ms);
  uint64_t last_in = 0, last_out = 0, last_drop = 0;
  net::Net& net = port->net();
  while (!g_stop.load(std::memory_order_relaxed)) {
    if (auto next = box.take()) {   // between batches: never mid-batch
      fwd.install(std::move(next));
      ++t.table_builds;
    }
    const auto now = Clock::now();
    fwd.advance(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(now - start).count()));
    if (now - last >= std::chrono::seconds(1)) {
      const auto& c = fwd.counters();
      double dt = std::chrono::duration<double>(now - last).count();
      uint64_t out = c.forwarded - t.tx_unsent, drop = c.dropped_total() + t.tx_unsent;
      const auto& ct = fwd.conntrack().stats();
      fprintf(stderr, "[%4.0fs] rl-maglev in %8.3f Mpps out %8.3f Mpps dropped %lu conntrack hits %5.1f %% backends %u\n",
              std::chrono::duration<double>(now - start).count(), (c.in - last_in) / dt / 1e6,
              (out - last_out) / dt / 1e6, static_cast<unsigned long>(drop - last_drop),
              ct.hits + ct.misses ? 100.0 * ct.hits / (ct.hits + ct.misses) : 0.0, fwd.backends().live);
      last = now;
      last_in = c.in;
      last_out = out;
      last_drop = drop;
    }
    if (o.crash_every_ms && now >= next_crash) {
      port->domain()->inject_next(FaultKind::Segfault);
      next_crash += std::chrono::milliseconds(o.crash_every_ms);
    }
    if (now - start >= std::chrono::duration<double>(o.seconds)) break;
    if (o.frames && fwd.counters().in >= o.frames) break;

    auto rx = net.submit_and_poll(std::move(q), false);
    if (!rx.ok()) {
      fprintf(stderr, "rl-maglev: the driver failed (%s)\n", to_string(rx.error()));
      return 1;
    }
    q = std::move(rx.value());
    if (fwd.process(q) == 0) continue;
    auto tx = net.submit_and_poll(std::move(q), true);
    if (!tx.ok()) {
      fprintf(stderr, "rl-maglev: the driver failed (%s)\n", to_string(tx.error()));
      return 1;
    }
    q = std::move(tx.value());
    for (std::size_t i = 0; i < q.size(); ++i)   // what the ring had no room for is dropped, as a NIC would
      if (q[i]->len) {
        ++t.tx_unsent;
        q[i]->len = 0;
      }
  }
  control.stop();
  print_summary(o, std::chrono::duration<double>(Clock::now() - start).count(), fwd, t, *port);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  if (o.dump) return dump_table(o);
  if (o.backends.empty()) usage("no backends: --backends NAME=A.B.C.D[@MAC],...");
  return forward(o);
}
