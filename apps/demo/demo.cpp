// rl-demo: the main job.  One process runs
//   - a simulated 82599 on a TAP interface (rl0), its driver in a domain
//     behind the network shadow, lwIP's TCP/IP stack in a domain, and on it
//     the web server (port 80) and the memcached-compatible store (11211);
//   - a second simulated 82599 fed by the packet generator, its driver
//     behind its own shadow, with Maglev balancing the flows to 8 backends;
//   - a simulated NVMe drive (a temporary image file), its driver behind the
//     block shadow, holding an rlfs file system mounted through the fs
//     domain: the web server's files live in /www there, and a journal
//     appends and fsyncs a line per second to /journal.log.
// It prints the URL to try, then crashes each driver domain and the fs
// domain in turn while a client in this process (kernel sockets, over the
// TAP) keeps requesting pages and values, and it shows each recovery and, at
// the end, that no request failed and no fsync'd journal line was lost.
// Needs root (TAP).  `--time` sets the length.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "apps/common/net_app.hpp"
#include "apps/demo/client.hpp"
#include "apps/httpd/rlfs_source.hpp"
#include "apps/httpd/server.hpp"
#include "apps/kvstore/server.hpp"
#include "apps/maglev/forward.hpp"
#include "apps/maglev/port.hpp"
#include "domains/fs/disk.hpp"
#include "domains/fs/mkfs.hpp"
#include "domains/fs/mount.hpp"
#include "libredleaf/posix/posix.hpp"

using namespace rl;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint16_t kHttpPort = 80, kKvPort = 11211;

[[noreturn]] void usage(const char* why) {
  if (why) fprintf(stderr, "rl-demo: %s\n", why);
  fprintf(stderr,
          "usage: rl-demo [--time SECONDS (default 16)] [--device sim:ixgbe,wire=tap:IFNAME] [--ip A.B.C.D/N]\n"
          "  Runs the web server, the key-value store and Maglev on simulated devices and rlfs on a\n"
          "  simulated NVMe drive (a temporary image), crashes each driver domain and the file system\n"
          "  domain in turn while serving, and prints what happened.  Needs root.\n");
  std::exit(why ? 2 : 0);
}

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The NVMe drive and the file system on it: a fresh rlfs image, the NVMe
// driver domain behind the block shadow, the fs domain over it, and one
// Process through which the journal and the site write and the web server
// reads -- so that the remount after an fs crash serves all three at once.
struct Storage {
  std::unique_ptr<fs::Disk> disk;
  std::unique_ptr<fs::Mount> mount;
  std::unique_ptr<posix::Process> process;
  std::unique_ptr<httpd::RlfsSource> source;

  bool open(const std::string& image, std::string* err) {
    fs::DiskOptions d;
    d.create_bytes = 64 << 20;
    disk = fs::Disk::open(image, d, err);
    if (!disk) return false;
    if (fs::format(disk->bdev(), fs::FormatOptions{}, err) != 0) return false;
    mount = fs::Mount::open(*disk, fs::MountOptions{}, err);
    if (!mount) return false;
    process = std::make_unique<posix::Process>(*mount);
    source = std::make_unique<httpd::RlfsSource>(*process);
    return true;
  }
  ~Storage() {   // users before what they use
    source.reset();
    process.reset();
    mount.reset();
    disk.reset();
  }
};

// Writes a whole file through the Process; false with *err on failure.
bool put_file(posix::Process& p, const char* path, const std::string& content, bool durable, std::string* err) {
  int fd = p.open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  bool ok = fd >= 0 && p.write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
            (!durable || p.fsync(fd) == 0);
  if (!ok) *err = std::string("writing ") + path + " in rlfs: " + std::strerror(errno);
  if (fd >= 0) (void)p.close(fd);
  return ok;
}

// The site, in rlfs under /www: a page naming the parts (the client looks
// for "It is a file of rlfs", which rl-httpd's built-in page lacks), and
// status.json, rewritten each second (the web server revalidates files once
// a second).
constexpr const char* kSiteRoot = "/www";
bool make_site(posix::Process& p, std::string* err) {
  if (p.mkdir(kSiteRoot, 0755) != 0) {
    *err = std::string("mkdir /www in rlfs: ") + std::strerror(errno);
    return false;
  }
  return put_file(p, "/www/index.html",
                  "<!doctype html><title>redleaf</title><h1>Served by rl-httpd on redleaf</h1>\n"
                  "<p>This page crossed a simulated Intel 82599 (its driver in a domain, behind a shadow that\n"
                  "restarts it when it crashes) and lwIP's TCP/IP stack (in a domain of its own).</p>\n"
                  "<p>It is a file of rlfs, read through the file system domain from a simulated NVMe drive\n"
                  "whose driver is in a domain too.</p>\n"
                  "<p>Live figures: <a href=\"status.json\">status.json</a>.</p>\n",
                  true, err);
}

// The journal: /journal.log in rlfs, one line per second appended with
// O_APPEND and fsync'd, then read back.  A line is acknowledged when fsync
// returned 0: from then on no crash may lose it, which missing() verifies
// by reading the whole file back.
struct Journal {
  posix::Process* p = nullptr;
  int fd = -1;
  uint64_t seq = 0;
  std::vector<std::string> acked;   // in the order written
  uint64_t verified = 0, bad = 0, unacknowledged = 0;
  double last_failed_call_us = 0;   // the call that met a crash, remount included

  bool open(posix::Process& proc, std::string* err) {
    p = &proc;
    fd = p->open("/journal.log", O_RDWR | O_CREAT | O_APPEND, 0644);
    if (fd < 0) *err = std::string("opening /journal.log in rlfs: ") + std::strerror(errno);
    return fd >= 0;
  }
  // A line that meets a crash is not acknowledged, so it is written again
  // under a new number, as an application would; it may or may not be in
  // the file.
  void record(const std::string& text) {
    for (int attempt = 0; attempt < 2; ++attempt)
      if (append("#" + std::to_string(++seq) + " " + text + "\n")) return;
    ++bad;
  }
  bool append(const std::string& line) {
    const auto t = Clock::now();
    const ssize_t n = p->write(fd, line.data(), line.size());
    if (n != static_cast<ssize_t>(line.size()) || p->fsync(fd) != 0) {
      last_failed_call_us = std::chrono::duration<double, std::micro>(Clock::now() - t).count();
      ++unacknowledged;
      return false;
    }
    acked.push_back(line);
    const off_t end = p->lseek(fd, 0, SEEK_CUR);
    std::string back(line.size(), '\0');
    if (end >= n && p->pread(fd, back.data(), back.size(), end - n) == n && back == line) ++verified;
    else ++bad;
    return true;
  }
  // How many of the first `count` acknowledged lines are missing from the
  // file (all of them if it cannot be read).  They were appended in order,
  // so each is searched for after the previous one.
  uint64_t missing(std::size_t count) {
    std::string all;
    struct stat st;
    if (p->fstat(fd, &st) != 0) return count;
    all.resize(static_cast<std::size_t>(st.st_size));
    if (p->pread(fd, all.data(), all.size(), 0) != static_cast<ssize_t>(all.size())) return count;
    uint64_t lost = 0;
    std::size_t at = 0;
    for (std::size_t i = 0; i < count && i < acked.size(); ++i) {
      const std::size_t found = all.find(acked[i], at);
      if (found == std::string::npos) ++lost;
      else at = found + acked[i].size();
    }
    return lost;
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
  const char* role;   // "driver domain" or "domain (rlfs)"
  FaultKind kind;
  const char* what;
};

// The temporary directory holding the image, removed on every way out.
struct TempDir {
  std::string path;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
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
  const TempDir tmp{dir_template};
  std::string err;
  Storage storage;
  Journal journal;
  if (!storage.open(tmp.path + "/nvme.img", &err) || !make_site(*storage.process, &err) ||
      !journal.open(*storage.process, &err)) {
    fprintf(stderr, "rl-demo: %s\n", err.c_str());
    return 1;
  }
  auto netapp = app::NetApp::open(net, &err);
  if (!netapp) {
    fprintf(stderr, "rl-demo: %s\n", err.c_str());
    return 1;
  }
  httpd::FileStoreOptions fo;
  fo.root = kSiteRoot;
  fo.source = storage.source.get();
  httpd::FileStore files(fo);
  if (std::string why = files.check_root(); !why.empty()) {
    fprintf(stderr, "rl-demo: %s\n", why.c_str());
    return 1;
  }
  httpd::Server web(netapp->stack(), files, httpd::ServerConfig{kHttpPort, 1000, 60});
  kv::ServerOptions ko;
  ko.memory_mib = 16;
  auto store = kv::Server::start(netapp->stack(), ko, &err);
  if (!web.listen(&err) || !store) {
    fprintf(stderr, "rl-demo: %s\n", err.c_str());
    return 1;
  }
  Balancer balancer;
  if (!balancer.open(&err)) {
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
  printf("redleaf demo: web server and key-value store on %s (%s), Maglev on a generator port,\n"
         "  rlfs on a simulated NVMe drive (the site's files in /www, a journal in /journal.log)\n"
         "  try, from another shell:   curl http://%s/        curl http://%s/status.json\n"
         "                             printf 'get demo:1\\r\\n' | timeout 1 bash -c 'cat > /dev/tcp/%s/11211'\n"
         "  the demo's own client requests pages and values all along; each driver and the file\n"
         "  system crash once.\n\n",
         addr.c_str(), ifname.c_str(), addr.c_str(), addr.c_str(), addr.c_str());
  fflush(stdout);

  demo::Client client(addr, kHttpPort, kKvPort);
  client.start();

  const Crash crashes[] = {
      {seconds * 0.25, "ixgbe (web port)", "driver domain", FaultKind::Segfault, "segmentation fault"},
      {seconds * 0.45, "nvme", "driver domain", FaultKind::BusError, "bus error"},
      {seconds * 0.55, "fs", "domain (rlfs)", FaultKind::DivideByZero, "division by zero"},
      {seconds * 0.65, "ixgbe (Maglev port)", "driver domain", FaultKind::Exception, "uncaught exception"},
      {seconds * 0.8, "ixgbe (web port)", "driver domain", FaultKind::Panic, "rl::panic"},
  };
  auto is = [](const Crash& c, const char* target) { return !std::strcmp(c.target, target); };
  std::size_t next_crash = 0;
  struct Pending {
    const Crash* crash;
    uint64_t before;
    std::size_t acked;   // journal lines fsync'd before the crash
  };
  std::vector<Pending> pending;
  uint64_t journal_lost = 0;   // acknowledged lines missing after an fs crash or at the end
  auto recoveries = [&](const Crash& c) -> uint64_t {
    if (is(c, "nvme")) return storage.disk->shadow()->recoveries();
    if (is(c, "fs")) return storage.mount->recoveries();
    if (is(c, "ixgbe (Maglev port)")) return balancer.port->recoveries();
    return netapp->shadow()->recoveries();
  };
  auto last_us = [&](const Crash& c) -> double {
    if (is(c, "fs")) return journal.last_failed_call_us;
    const std::vector<uint64_t>& v = is(c, "nvme")               ? storage.disk->shadow()->recovery_ns()
                                     : is(c, "ixgbe (web port)") ? netapp->shadow()->recovery_ns()
                                                                 : std::vector<uint64_t>{};
    return v.empty() ? 0 : v.back() / 1000.0;
  };

  const auto t0 = Clock::now();
  auto status = [&] {
    const auto& ws = web.stats();
    const auto& mc = balancer.fwd->counters();
    char json[512];
    snprintf(json, sizeof json,
             "{\"seconds\": %.0f, \"http_requests\": %lu, \"kv_gets\": %lu, \"kv_sets\": %lu, "
             "\"maglev_forwarded\": %lu, \"journal_lines\": %zu, \"crashes\": %zu}",
             since(t0), ws.requests, store->service().stats().cmd_get, store->service().stats().cmd_set,
             mc.forwarded, journal.acked.size(), next_crash);
    return std::string(json);
  };
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
          printf("[%5.1fs] crashing the %s %s: %s\n", now, c.target, c.role, c.what);
          fflush(stdout);
          pending.push_back({&c, recoveries(c), journal.acked.size()});
          if (is(c, "fs")) {
            // The journal's next call meets the fault, here and now: the
            // POSIX layer answers it EIO and remounts (the log replays what
            // was committed), and the journal writes the line again.  The
            // web server only ever sees the remounted file system.
            storage.mount->domain()->inject_next(c.kind);
            journal.record(status());
          } else {
            Domain& d = is(c, "nvme")                  ? storage.disk->driver()
                        : is(c, "ixgbe (Maglev port)") ? *balancer.port->domain()
                                                       : netapp->driver_domain();
            d.inject_next(c.kind);
          }
        }
        for (auto it = pending.begin(); it != pending.end();) {
          if (recoveries(*it->crash) <= it->before) {
            ++it;
            continue;
          }
          const double us = last_us(*it->crash);
          const std::string in = us > 0 ? " in " + std::to_string(static_cast<long>(us)) + " µs" : "";
          if (is(*it->crash, "fs")) {
            const uint64_t lost = journal.missing(it->acked);
            journal_lost += lost;
            printf("[%5.1fs]   fs domain restarted and rlfs remounted (log replayed)%s; /journal.log: %zu of %zu "
                   "lines fsync'd before the crash read back%s (client: %lu ok, %lu failed so far)\n",
                   since(t0), in.c_str(), it->acked - lost, it->acked, lost ? ", SOME LOST" : "", client.ok(),
                   client.failed());
          } else {
            printf("[%5.1fs]   %s restarted by its shadow%s; serving goes on (client: %lu ok, %lu failed so far)\n",
                   since(t0), it->crash->target, in.c_str(), client.ok(), client.failed());
          }
          fflush(stdout);
          it = pending.erase(it);
        }
        if (Clock::now() - last_second >= std::chrono::seconds(1)) {
          last_second = Clock::now();
          const std::string json = status();
          std::string why;
          if (!put_file(*storage.process, "/www/status.json", json + "\n", false, &why))
            fprintf(stderr, "rl-demo: %s\n", why.c_str());
          journal.record(json);
        }
        if (since(t0) >= seconds) client.request_stop();
        if (client.finished()) netapp->stop();
      });
  client.stop();

  // Every line fsync returned 0 for must be in the file, in order.
  const uint64_t lost_at_end = journal.missing(journal.acked.size());
  journal_lost += lost_at_end;
  const auto s = netapp->summary();
  const auto& ws = web.stats();
  const auto& mc = balancer.fwd->counters();
  const uint64_t restarts = s.driver_recoveries + storage.disk->shadow()->recoveries() +
                            balancer.port->recoveries() + storage.mount->recoveries();
  fs::FsStats fst{};
  (void)storage.process->statfs(&fst);
  printf("\nsummary after %.1f s\n", since(t0));
  printf("  client (kernel sockets over %s): %lu requests answered correctly, %lu failed\n", ifname.c_str(),
         client.ok(), client.failed());
  printf("  web server: %lu requests (files from rlfs /www); key-value store: %lu gets, %lu sets\n", ws.requests,
         store->service().stats().cmd_get, store->service().stats().cmd_set);
  printf("  Maglev: %lu frames in, %lu forwarded to 8 backends, %lu dropped\n", mc.in, mc.forwarded,
         mc.dropped_total() + balancer.unsent);
  printf("  rlfs journal: %zu lines fsync'd, %lu read back intact, %lu bad, %lu lost (%lu met the crash, written "
         "again); %lu of %lu blocks free\n",
         journal.acked.size(), journal.verified, journal.bad, journal_lost, journal.unacknowledged, fst.blocks_free,
         fst.blocks);
  printf("  crashes injected: %zu; restarts: %lu (drivers by their shadows, the fs domain by a remount)\n",
         next_crash, restarts);
  printf("{\"tool\": \"rl-demo\", \"client_ok\": %lu, \"client_failed\": %lu, \"http_requests\": %lu, "
         "\"kv_gets\": %lu, \"maglev_forwarded\": %lu, \"journal_written\": %zu, \"journal_bad\": %lu, "
         "\"journal_lost\": %lu, \"fs_remounts\": %lu, \"crashes\": %zu, \"restarts\": %lu}\n",
         client.ok(), client.failed(), ws.requests, store->service().stats().cmd_get, mc.forwarded,
         journal.acked.size(), journal.bad, journal_lost, storage.mount->recoveries(), next_crash, restarts);
  const bool good = rc == 0 && client.failed() == 0 && client.ok() > 0 && journal.bad == 0 && journal_lost == 0 &&
                    !journal.acked.empty() && restarts >= next_crash;
  return good ? 0 : 1;
}
