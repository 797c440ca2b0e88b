// rl-demo: the main job.  One process runs
//   - a simulated 82599 on a TAP interface (rl0), its driver in a domain
//     behind the network shadow, lwIP's TCP/IP stack in a domain, and on it
//     the web server (port 80) and the memcached-compatible store (11211);
//   - a second simulated 82599 fed by the packet generator, its driver
//     behind its own shadow, with Maglev balancing the flows to 8 backends;
//   - a simulated NVMe drive, its driver behind the block shadow, keeping a
//     journal block per second (the file system comes with issue #9).
// It prints the URL to try, then crashes each driver domain in turn while
// a client in this process (kernel sockets, over the TAP) keeps requesting
// pages and values, and it shows each recovery and, at the end, that no
// request failed.  Needs root (TAP).  `--time` sets the length.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "apps/common/net_app.hpp"
#include "apps/demo/client.hpp"
#include "apps/httpd/server.hpp"
#include "apps/kvstore/server.hpp"
#include "apps/maglev/forward.hpp"
#include "apps/maglev/port.hpp"
#include "domains/shadow/bdev/bdev_shadow.hpp"
#include "idl/bdev.rl.hpp"

using namespace rl;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint16_t kHttpPort = 80, kKvPort = 11211;

[[noreturn]] void usage(const char* why) {
  if (why) fprintf(stderr, "rl-demo: %s\n", why);
  fprintf(stderr,
          "usage: rl-demo [--time SECONDS (default 16)] [--device sim:ixgbe,wire=tap:IFNAME] [--ip A.B.C.D/N]\n"
          "  Runs the web server, the key-value store and Maglev on simulated devices, crashes\n"
          "  each driver domain in turn while serving, and prints what happened.  Needs root.\n");
  std::exit(why ? 2 : 0);
}

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The site: a page naming the parts, and status.json, rewritten each second
// (the web server revalidates files once a second).
struct Site {
  std::string dir;
  explicit Site(const std::string& d) : dir(d) {
    std::ofstream(dir + "/index.html")
        << "<!doctype html><title>redleaf</title><h1>Served by rl-httpd on redleaf</h1>\n"
           "<p>This page crossed a simulated Intel 82599 (its driver in a domain, behind a shadow that\n"
           "restarts it when it crashes) and lwIP's TCP/IP stack (in a domain of its own).</p>\n"
           "<p>Live figures: <a href=\"status.json\">status.json</a>.</p>\n";
  }
  void status(const std::string& json) { std::ofstream(dir + "/status.json") << json << "\n"; }
};

// The NVMe drive and its journal: one block per second, read back and checked.
struct Journal {
  pci::DeviceRef ref{};
  Loaded<blk::NvmeBDevProxy> driver;
  std::unique_ptr<blk::BlockDeviceShadow> shadow;
  uint64_t written = 0, verified = 0, bad = 0;

  bool open(std::string* err) {
    auto dev = pci::open("sim:nvme,lba=4096,blocks=4096", err);
    if (!dev) return false;
    ref = pci::attach(std::move(dev));
    LoadError lerr;
    driver = blk::load_nvme(std::string(RL_NVME_DOMAIN_DIR) + "/nvme.so", "nvme", blk::NvmeInit{ref, 1, 64}, &lerr);
    if (!driver) {
      *err = "the NVMe driver domain: " + lerr.message;
      return false;
    }
    shadow = std::make_unique<blk::BlockDeviceShadow>(*driver.domain, ref);
    return true;
  }
  void record(const std::string& line) {
    auto block = RRef<blk::Block>::make();
    std::memset(block->data.data(), 0, blk::kBlockSize);
    std::memcpy(block->data.data(), line.data(), std::min<std::size_t>(line.size(), blk::kBlockSize - 1));
    const uint64_t lba = written % 4096;
    auto w = shadow->write(lba, block);
    if (!w.ok() || w.value() != 0) {
      ++bad;
      return;
    }
    ++written;
    auto r = shadow->read(lba, RRef<blk::Block>::make());
    if (r.ok() && r.value().status == 0 && std::memcmp(r.value().buf->data.data(), block->data.data(), blk::kBlockSize) == 0)
      ++verified;
    else
      ++bad;
  }
  ~Journal() {
    shadow.reset();
    driver = {};
    if (ref.id) pci::detach(ref);
  }
};

// Maglev on the generator's port: one batch per round of the main loop.
struct Balancer {
  std::unique_ptr<maglev::Port> port;
  std::unique_ptr<maglev::Forwarder> fwd;
  net::PacketBatch q;
  uint64_t unsent = 0;

  bool open(std::string* err) {
    port = maglev::Port::open("sim:ixgbe,wire=gen:flows=100000:rate=0.2", maglev::Through::Shadow,
                              std::string(RL_IXGBE_DOMAIN_DIR) + "/ixgbe.so", err);
    if (!port) return false;
    maglev::BackendSet set;
    for (int i = 0; i < 8; ++i) {
      maglev::Backend b;
      if (!maglev::parse_backend("be" + std::to_string(i) + "=10.9.0." + std::to_string(i + 1), &b, err) ||
          !set.add(b, err))
        return false;
    }
    auto snap = set.build(err);
    auto mac = port->net().mac_address();
    if (!snap || !mac.ok()) return false;
    maglev::ForwarderConfig cfg;
    cfg.conntrack_entries = uint64_t{1} << 18;
    cfg.port_mac = mac.value();
    fwd = std::make_unique<maglev::Forwarder>(cfg, std::move(snap));
    q = net::PacketBatch::make();
    for (std::size_t i = 0; i < 32; ++i) (void)q.push_back(RRef<net::Packet>::make_aligned(64));
    return true;
  }
  void round() {
    auto rx = port->net().submit_and_poll(std::move(q), false);
    if (!rx.ok()) return refill();
    q = std::move(rx.value());
    if (fwd->process(q) == 0) return;
    auto tx = port->net().submit_and_poll(std::move(q), true);
    if (!tx.ok()) return refill();
    q = std::move(tx.value());
    for (std::size_t i = 0; i < q.size(); ++i)
      if (q[i]->len) {
        ++unsent;
        q[i]->len = 0;
      }
  }
  void refill() {   // only without a shadow; the demo's has one
    q = net::PacketBatch::make();
    for (std::size_t i = 0; i < 32; ++i) (void)q.push_back(RRef<net::Packet>::make_aligned(64));
  }
};

struct Crash {
  double at;
  const char* target;
  FaultKind kind;
  const char* what;
};

}  // namespace

int main(int argc, char** argv) {
  app::NetAppOptions net;
  double seconds = 16;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") usage(nullptr);
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    std::string v = argv[++i], err;
    if (a == "--time") {
      char* end = nullptr;
      seconds = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || seconds < 8 || seconds > 86400) usage("--time: expected 8..86400 seconds");
    } else if (a != "--through" && app::parse_net_app_option(net, a, v, &err)) {
      if (!err.empty()) usage(err.c_str());
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  const auto tap = net.device.find("wire=tap:");
  if (tap == std::string::npos) usage("--device: the demo serves over a TAP interface (sim:ixgbe,wire=tap:IFNAME)");
  const std::string ifname = net.device.substr(tap + 9, net.device.find(',', tap) - tap - 9);
  if (geteuid() != 0) {
    fprintf(stderr, "rl-demo: creating the TAP interface %s needs root: run it as root (sudo ./redleaf demo)\n",
            ifname.c_str());
    return 2;
  }

  char dir_template[] = "/tmp/rl-demo-XXXXXX";
  if (!mkdtemp(dir_template)) {
    perror("rl-demo: mkdtemp");
    return 1;
  }
  Site site(dir_template);
  std::string err;
  auto netapp = app::NetApp::open(net, &err);
  if (!netapp) {
    fprintf(stderr, "rl-demo: %s\n", err.c_str());
    return 1;
  }
  httpd::FileStoreOptions fo;
  fo.root = site.dir;
  httpd::FileStore files(fo);
  httpd::Server web(netapp->stack(), files, httpd::ServerConfig{kHttpPort, 1000, 60});
  kv::ServerOptions ko;
  ko.memory_mib = 16;
  auto store = kv::Server::start(netapp->stack(), ko, &err);
  if (!web.listen(&err) || !store) {
    fprintf(stderr, "rl-demo: %s\n", err.c_str());
    return 1;
  }
  Journal journal;
  Balancer balancer;
  if (!journal.open(&err) || !balancer.open(&err)) {
    fprintf(stderr, "rl-demo: %s\n", err.c_str());
    return 1;
  }

  // The host's side of the wire, so that curl on this machine reaches us.
  const uint32_t mask = ~uint32_t{0} << (32 - net.prefix);
  uint32_t host = (net.ip & mask) | 1;
  if (host == net.ip) host += 1;
  char host_ip[INET_ADDRSTRLEN];
  in_addr ha{htonl(host)};
  inet_ntop(AF_INET, &ha, host_ip, sizeof host_ip);
  const std::string cmd = "ip addr add " + std::string(host_ip) + "/" + std::to_string(net.prefix) + " dev " +
                          ifname + " 2>/dev/null; ip link set " + ifname + " up";
  if (std::system(cmd.c_str()) != 0) fprintf(stderr, "rl-demo: could not configure %s (%s)\n", ifname.c_str(), cmd.c_str());

  const std::string addr = netapp->address();
  printf("redleaf demo: web server and key-value store on %s (%s), Maglev on a generator port, NVMe journal\n"
         "  try, from another shell:   curl http://%s/        curl http://%s/status.json\n"
         "                             printf 'get demo:1\\r\\n' | timeout 1 bash -c 'cat > /dev/tcp/%s/11211'\n"
         "  the demo's own client requests pages and values all along; each driver crashes once.\n\n",
         addr.c_str(), ifname.c_str(), addr.c_str(), addr.c_str(), addr.c_str());
  fflush(stdout);

  demo::Client client(addr, kHttpPort, kKvPort);
  client.start();

  const Crash crashes[] = {
      {seconds * 0.25, "ixgbe (web port)", FaultKind::Segfault, "segmentation fault"},
      {seconds * 0.45, "nvme", FaultKind::BusError, "bus error"},
      {seconds * 0.65, "ixgbe (Maglev port)", FaultKind::Exception, "uncaught exception"},
      {seconds * 0.8, "ixgbe (web port)", FaultKind::Panic, "rl::panic"},
  };
  std::size_t next_crash = 0;
  struct Pending {
    const Crash* crash;
    uint64_t before;
    double at;
  };
  std::vector<Pending> pending;
  auto recoveries = [&](const Crash& c) -> uint64_t {
    if (!std::strcmp(c.target, "nvme")) return journal.shadow->recoveries();
    if (!std::strcmp(c.target, "ixgbe (Maglev port)")) return balancer.port->recoveries();
    return netapp->shadow()->recoveries();
  };
  auto last_ns = [&](const Crash& c) -> double {
    const std::vector<uint64_t>& v = !std::strcmp(c.target, "nvme") ? journal.shadow->recovery_ns()
                                     : !std::strcmp(c.target, "ixgbe (web port)") ? netapp->shadow()->recovery_ns()
                                                                                 : std::vector<uint64_t>{};
    return v.empty() ? 0 : v.back() / 1000.0;
  };

  const auto t0 = Clock::now();
  auto last_second = t0;
  int rc = netapp->run(
      [&](const netstack::Event& e) {
        if (!web.on_event(e)) (void)store->on_event(e);
      },
      [&] {
        web.tick();
        balancer.round();
        const double now = since(t0);
        if (next_crash < std::size(crashes) && now >= crashes[next_crash].at) {
          const Crash& c = crashes[next_crash++];
          Domain& d = !std::strcmp(c.target, "nvme") ? *journal.driver.domain
                      : !std::strcmp(c.target, "ixgbe (Maglev port)") ? *balancer.port->domain()
                                                                      : netapp->driver_domain();
          printf("[%5.1fs] crashing the %s driver domain: %s\n", now, c.target, c.what);
          fflush(stdout);
          pending.push_back({&c, recoveries(c), now});
          d.inject_next(c.kind);
        }
        for (auto it = pending.begin(); it != pending.end();) {
          if (recoveries(*it->crash) > it->before) {
            const double us = last_ns(*it->crash);
            printf("[%5.1fs]   %s restarted by its shadow%s; serving goes on (client: %lu ok, %lu failed so far)\n",
                   since(t0), it->crash->target, us > 0 ? (" in " + std::to_string(static_cast<long>(us)) + " µs").c_str() : "",
                   client.ok(), client.failed());
            fflush(stdout);
            it = pending.erase(it);
          } else {
            ++it;
          }
        }
        if (Clock::now() - last_second >= std::chrono::seconds(1)) {
          last_second = Clock::now();
          const auto& ws = web.stats();
          const auto& mc = balancer.fwd->counters();
          char json[512];
          snprintf(json, sizeof json,
                   "{\"seconds\": %.0f, \"http_requests\": %lu, \"kv_gets\": %lu, \"kv_sets\": %lu, "
                   "\"maglev_forwarded\": %lu, \"journal_blocks\": %lu, \"crashes\": %zu}",
                   since(t0), ws.requests, store->service().stats().cmd_get, store->service().stats().cmd_set,
                   mc.forwarded, journal.written, next_crash);
          site.status(json);
          journal.record(json);
        }
        if (since(t0) >= seconds) client.request_stop();
        if (client.finished()) netapp->stop();
      });
  client.stop();

  const auto s = netapp->summary();
  const auto& ws = web.stats();
  const auto& mc = balancer.fwd->counters();
  const uint64_t restarts = s.driver_recoveries + journal.shadow->recoveries() + balancer.port->recoveries();
  printf("\nsummary after %.1f s\n", since(t0));
  printf("  client (kernel sockets over %s): %lu requests answered correctly, %lu failed\n", ifname.c_str(),
         client.ok(), client.failed());
  printf("  web server: %lu requests; key-value store: %lu gets, %lu sets\n", ws.requests,
         store->service().stats().cmd_get, store->service().stats().cmd_set);
  printf("  Maglev: %lu frames in, %lu forwarded to 8 backends, %lu dropped\n", mc.in, mc.forwarded,
         mc.dropped_total() + balancer.unsent);
  printf("  NVMe journal: %lu blocks written, %lu read back intact, %lu bad\n", journal.written, journal.verified,
         journal.bad);
  printf("  crashes injected: %zu; driver restarts by shadows: %lu\n", next_crash, restarts);
  printf("{\"tool\": \"rl-demo\", \"client_ok\": %lu, \"client_failed\": %lu, \"http_requests\": %lu, "
         "\"kv_gets\": %lu, \"maglev_forwarded\": %lu, \"journal_written\": %lu, \"journal_bad\": %lu, "
         "\"crashes\": %zu, \"restarts\": %lu}\n",
         client.ok(), client.failed(), ws.requests, store->service().stats().cmd_get, mc.forwarded, journal.written,
         journal.bad, next_crash, restarts);
  std::system(("rm -rf " + site.dir).c_str());
  const bool good = rc == 0 && client.failed() == 0 && client.ok() > 0 && journal.bad == 0 && restarts >= next_crash;
  return good ? 0 : 1;
}
