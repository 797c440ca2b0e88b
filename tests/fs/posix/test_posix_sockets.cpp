// Sockets of the POSIX subset (libredleaf/posix/sockets.cpp) against a real
// peer and against Linux's own sockets.
//
// The test process moves into a network namespace of its own, where the
// simulated 82599's wire is a TAP interface (as tests/test_netstack.cpp).
// NetApp drives the driver and stack domains; the server side uses only
// Process calls inside NetApp::run's rounds, the client side is ordinary
// kernel sockets in a thread.  Misuse is compared with what Linux's sockets
// answer for the same calls.  Skips where namespaces or TAP devices cannot
// be made (not root, no /dev/net/tun, no iproute2).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "apps/common/net_app.hpp"
#include "domains/fs/disk.hpp"
#include "domains/fs/mkfs.hpp"
#include "domains/fs/mount.hpp"
#include "libredleaf/posix/posix.hpp"

namespace rl::posix {
namespace {

constexpr const char* kTap = "rlpx0";
constexpr uint32_t kStackIp = 0x0a4f0002;   // 10.79.0.2
constexpr uint32_t kHostIp = 0x0a4f0001;    // 10.79.0.1
// Each phase of a test gives up after this long: a lost frame must not hang the suite.
constexpr std::chrono::seconds kPhase{8};

bool run_cmd(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

sockaddr_in addr(uint32_t ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(ip);
  a.sin_port = htons(port);
  return a;
}
sockaddr* sa(sockaddr_in& a) { return reinterpret_cast<sockaddr*>(&a); }

std::string errname(int e) { return e ? std::string(strerrorname_np(e) ? strerrorname_np(e) : "?") : "0"; }

// Thrown from a round to leave NetApp::run, whose stop() cannot be undone:
// every phase of every test runs the same NetApp.
struct PhaseOver {};

// The namespace, the port, the domains, a RAM-disk rlfs for the Process
// (which needs a Mount), and the Process with the stack attached.
class World {
 public:
  static World& get() {
    static World w;
    return w;
  }
  const std::string& skip_reason() const { return skip_; }
  Process& p() { return *process_; }
  app::NetApp& net() { return *app_; }
  fs::Mount& mount() { return *mount_; }

  // Runs NetApp rounds, handing every socket event to on_event, until
  // done() is true (returns true) or the phase's deadline passes (false).
  bool drive(const std::function<void(const netstack::Event&)>& on_event, const std::function<bool()>& done) {
    const auto end = std::chrono::steady_clock::now() + kPhase;
    bool finished = false;
    try {
      app_->run(on_event, [&] {
        if (done()) {
          finished = true;
          throw PhaseOver{};
        }
        if (std::chrono::steady_clock::now() > end) throw PhaseOver{};
      });
    } catch (const PhaseOver&) {
    }
    return finished;
  }

 private:
  World() {
    if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0 || !run_cmd("command -v ip")) {
      skip_ = "needs root, /dev/net/tun and iproute2";
      return;
    }
    if (unshare(CLONE_NEWNET) != 0) {
      skip_ = std::string("cannot make a network namespace: ") + strerror(errno);
      return;
    }
    run_cmd("ip link set lo up");
    std::string err;
    disk_ = fs::Disk::open("sim:ram,blocks=2048", fs::DiskOptions{}, &err);
    if (!disk_) {
      skip_ = "no RAM disk: " + err;
      return;
    }
    if (fs::format(disk_->bdev(), fs::FormatOptions{}, &err) != 0 ||
        !(mount_ = fs::Mount::open(*disk_, fs::MountOptions{}, &err))) {
      skip_ = "no file system: " + err;
      return;
    }
    app::NetAppOptions o;
    o.device = std::string("sim:ixgbe,wire=tap:") + kTap;
    o.ip = kStackIp;
    o.prefix = 24;
    app_ = app::NetApp::open(o, &err);
    if (!app_) {
      skip_ = "no network: " + err;
      return;
    }
    if (!run_cmd(std::string("ip addr add 10.79.0.1/24 dev ") + kTap) || !run_cmd(std::string("ip link set ") + kTap + " up")) {
      skip_ = "cannot configure the TAP interface";
      return;
    }
    process_ = std::make_unique<Process>(*mount_);
    process_->attach_network(app_->stack(), kStackIp);
  }
  ~World() {
    process_.reset();   // closes its sockets: before the stack goes
    app_.reset();
    mount_.reset();
    disk_.reset();
  }

  std::string skip_;
  std::unique_ptr<fs::Disk> disk_;
  std::unique_ptr<fs::Mount> mount_;
  std::unique_ptr<app::NetApp> app_;
  std::unique_ptr<Process> process_;
};

#define NEED_WORLD()                                                  \
  World& w = World::get();                                            \
  if (!w.skip_reason().empty()) GTEST_SKIP() << w.skip_reason();      \
  Process& p = w.p()

// A Linux TCP client: connects (retrying while the path comes up), sends
// `out`, half-closes, and reads until end of stream.
struct Client {
  std::string out, in;
  std::string error;
  bool reset = false;   // close with RST instead (SO_LINGER 0) after sending
  std::atomic<bool> finished{false};

  void run(uint16_t port) {
    const auto end = std::chrono::steady_clock::now() + kPhase;
    int s = -1;
    for (;;) {
      s = ::socket(AF_INET, SOCK_STREAM, 0);
      timeval tv{1, 0};
      setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      sockaddr_in a = addr(kStackIp, port);
      if (::connect(s, sa(a), sizeof a) == 0) break;
      ::close(s);
      s = -1;
      if (std::chrono::steady_clock::now() > end) {
        error = std::string("connect: ") + strerror(errno);
        finished = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    size_t sent = 0;
    while (sent < out.size() && std::chrono::steady_clock::now() < end) {
      ssize_t n = ::send(s, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
      else if (n < 0 && errno != EAGAIN && errno != EINTR) break;
    }
    if (sent < out.size()) error = "sent only " + std::to_string(sent) + " bytes";
    if (reset) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));   // let the data arrive first
      linger l{1, 0};
      setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      ::close(s);
      finished = true;
      return;
    }
    ::shutdown(s, SHUT_WR);
    char buf[8192];
    while (std::chrono::steady_clock::now() < end) {
      ssize_t n = ::recv(s, buf, sizeof buf, 0);
      if (n > 0) in.append(buf, static_cast<size_t>(n));
      else if (n == 0) break;
      else if (errno != EAGAIN && errno != EINTR) {
        error = std::string("recv: ") + strerror(errno);
        break;
      }
    }
    ::close(s);
    finished = true;
  }
};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 12345;
  for (auto& c : s) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

TEST(PosixSockets, TcpEchoOf100KB) {
  NEED_WORLD();
  const uint16_t port = 7100;
  const int lfd = p.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(lfd, 0) << strerror(errno);
  sockaddr_in a = addr(INADDR_ANY, port);
  ASSERT_EQ(p.bind(lfd, sa(a), sizeof a), 0) << strerror(errno);
  ASSERT_EQ(p.listen(lfd, 8), 0) << strerror(errno);

  Client c;
  c.out = pattern(100 * 1024);
  std::thread t([&] { c.run(port); });

  int cfd = -1;
  bool closed = false, peer_addr_zero = true, event_for_conn = false;
  std::string pending;   // read but not yet echoed
  auto serve = [&] {
    if (cfd < 0 || closed) return;
    char buf[5000];   // not a multiple of anything the stack moves
    bool eof = false;
    for (;;) {
      ssize_t n = p.read(cfd, buf, sizeof buf);
      if (n > 0) pending.append(buf, static_cast<size_t>(n));
      else {
        eof = n == 0;
        if (n < 0) {
          EXPECT_EQ(errno, EAGAIN) << strerror(errno);
        }
        break;
      }
    }
    while (!pending.empty()) {
      ssize_t n = p.write(cfd, pending.data(), pending.size());
      if (n <= 0) {
        EXPECT_EQ(errno, EAGAIN) << strerror(errno);
        break;
      }
      pending.erase(0, static_cast<size_t>(n));
    }
    if (eof && pending.empty()) {
      EXPECT_EQ(p.close(cfd), 0);
      closed = true;
    }
  };
  auto on_event = [&](const netstack::Event& e) {
    const int fd = p.socket_fd(e.socket);
    if (fd == lfd) {
      sockaddr_in peer;
      std::memset(&peer, 0xff, sizeof peer);
      socklen_t len = sizeof peer;
      int n = p.accept(lfd, sa(peer), &len);
      if (n < 0) {
        EXPECT_EQ(errno, EAGAIN);
        return;
      }
      EXPECT_EQ(cfd, -1) << "one client only";
      cfd = n;
      peer_addr_zero = len == sizeof peer && peer.sin_family == AF_INET && peer.sin_addr.s_addr == 0 && peer.sin_port == 0;
      serve();   // data may have come with the connection
    } else if (fd >= 0 && fd == cfd) {
      event_for_conn = true;
      serve();
    }
  };
  // On every round too: kWritable after a short write is an event, but an
  // echo the window refused is retried here as well.
  const bool done = w.drive(on_event, [&] {
    serve();
    return c.finished && closed;
  });
  t.join();
  EXPECT_TRUE(done) << "the echo did not finish in time";
  EXPECT_EQ(c.error, "");
  EXPECT_EQ(c.in.size(), c.out.size());
  EXPECT_TRUE(c.in == c.out) << "the echo differs from what was sent";
  EXPECT_TRUE(peer_addr_zero) << "accept() must fill a zeroed AF_INET address";
  EXPECT_TRUE(event_for_conn) << "socket_fd() never mapped an event to the connection";
  EXPECT_EQ(p.close(lfd), 0);
  EXPECT_EQ(p.open_descriptors(), 0);
}

TEST(PosixSockets, UdpEchoWithSendtoRecvfrom) {
  NEED_WORLD();
  const uint16_t port = 7101;
  const int first = p.socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(first, 0) << strerror(errno);
  sockaddr_in a = addr(kStackIp, port);   // the stack's own address, not only INADDR_ANY
  ASSERT_EQ(p.bind(first, sa(a), sizeof a), 0) << strerror(errno);
  // dup shares the socket: the copy keeps working after the original closes.
  const int fd = p.dup(first);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(p.close(first), 0);

  int host = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  sockaddr_in ha = addr(kHostIp, 0);
  ASSERT_EQ(::bind(host, sa(ha), sizeof ha), 0);
  socklen_t hl = sizeof ha;
  ASSERT_EQ(getsockname(host, sa(ha), &hl), 0);

  const int kCount = 5;
  int echoed = 0;   // datagrams the host got back intact
  bool sender_ok = true;
  auto last_send = std::chrono::steady_clock::time_point{};
  auto on_event = [&](const netstack::Event& e) {
    if (p.socket_fd(e.socket) != fd) return;
    for (;;) {
      char buf[2048];
      sockaddr_in from;
      socklen_t len = sizeof from;
      ssize_t n = p.recvfrom(fd, buf, sizeof buf, 0, sa(from), &len);
      if (n < 0) {
        EXPECT_EQ(errno, EAGAIN) << strerror(errno);
        break;
      }
      sender_ok &= len == sizeof from && from.sin_addr.s_addr == ha.sin_addr.s_addr && from.sin_port == ha.sin_port;
      EXPECT_EQ(p.sendto(fd, buf, static_cast<size_t>(n), 0, sa(from), len), n) << strerror(errno);
    }
  };
  const bool done = w.drive(on_event, [&] {
    // Resend until echoed: the first datagram may wait for ARP, and UDP may drop.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_send > std::chrono::milliseconds(200)) {
      last_send = now;
      std::string msg = "datagram " + std::to_string(echoed);
      sockaddr_in to = addr(kStackIp, port);
      ::sendto(host, msg.data(), msg.size(), 0, sa(to), sizeof to);
    }
    char buf[2048];
    ssize_t n;
    while ((n = ::recv(host, buf, sizeof buf, 0)) > 0) {
      if (std::string(buf, static_cast<size_t>(n)) == "datagram " + std::to_string(echoed)) {
        ++echoed;
        last_send = {};
      }
    }
    return echoed == kCount;
  });
  EXPECT_TRUE(done) << echoed << " of " << kCount << " datagrams echoed in time";
  EXPECT_TRUE(sender_ok) << "recvfrom() must name the sender";
  ::close(host);
  EXPECT_EQ(p.close(fd), 0);
  EXPECT_EQ(p.open_descriptors(), 0);
}

TEST(PosixSockets, ResetIsReportedOnceThenEndOfStream) {
  NEED_WORLD();
  const uint16_t port = 7102;
  const int lfd = p.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  ASSERT_GE(lfd, 0);
  sockaddr_in a = addr(INADDR_ANY, port);
  ASSERT_EQ(p.bind(lfd, sa(a), sizeof a), 0);
  ASSERT_EQ(p.listen(lfd, 1), 0);
  Client c;
  c.out = "hello";
  c.reset = true;
  std::thread t([&] { c.run(port); });
  int cfd = -1;
  std::string got, peeked;
  int read_error = 0;
  const bool done = w.drive([](const netstack::Event&) {}, [&] {
    if (cfd < 0) {
      cfd = p.accept(lfd, nullptr, nullptr);
      if (cfd < 0) {
        EXPECT_EQ(errno, EAGAIN);
      }
      return false;
    }
    char buf[64];
    if (peeked.empty()) {
      // MSG_PEEK leaves the bytes for the next read.
      ssize_t k = p.recv(cfd, buf, 2, MSG_PEEK);
      if (k > 0) peeked.assign(buf, static_cast<size_t>(k));
    }
    ssize_t n = p.read(cfd, buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
    if (n < 0 && errno != EAGAIN) read_error = errno;
    return read_error != 0 || n == 0;
  });
  t.join();
  ASSERT_TRUE(done) << "no reset seen in time";
  EXPECT_EQ(peeked, "he");
  EXPECT_EQ(got, "hello");
  EXPECT_EQ(errname(read_error), "ECONNRESET");
  char buf[8];
  EXPECT_EQ(p.read(cfd, buf, sizeof buf), 0) << "after the reset: end of stream";
  errno = 0;
  EXPECT_EQ(p.write(cfd, "x", 1), -1);
  EXPECT_TRUE(errno == EPIPE || errno == ECONNRESET) << errname(errno);
  EXPECT_EQ(p.close(cfd), 0);
  EXPECT_EQ(p.close(lfd), 0);
}

// The outcome of one call: failed or not, and errno.
struct Outcome {
  bool failed;
  int err;
};
template <class F>
Outcome outcome(F&& f) {
  errno = 0;
  const long r = static_cast<long>(f());
  return {r < 0, r < 0 ? errno : 0};
}
// Ours and Linux's must fail alike (descriptor numbers differ: not compared).
#define SAME(ours, linux)                                                            \
  do {                                                                               \
    const Outcome o_ = outcome([&] { return ours; });                                \
    const Outcome l_ = outcome([&] { return linux; });                               \
    EXPECT_EQ(o_.failed, l_.failed) << #ours;                                        \
    EXPECT_EQ(errname(o_.err), errname(l_.err)) << #ours << " vs Linux's " << #linux; \
  } while (0)

TEST(PosixSockets, MisuseFailsAsOnLinux) {
  NEED_WORLD();
  constexpr int kNb = SOCK_NONBLOCK;   // Linux's side must not block either
  // socket(): bad types and protocols.
  SAME(p.socket(AF_INET, 99, 0), ::socket(AF_INET, 99, 0));
  SAME(p.socket(AF_INET, SOCK_STREAM | 0x1000, 0), ::socket(AF_INET, SOCK_STREAM | 0x1000, 0));
  SAME(p.socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), ::socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
  SAME(p.socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP), ::socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
  SAME(p.socket(AF_INET, SOCK_SEQPACKET, 0), ::socket(AF_INET, SOCK_SEQPACKET, 0));
  // Families other than AF_INET: Linux has them, we do not.
  errno = 0;
  EXPECT_EQ(p.socket(AF_INET6, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errname(errno), "EAFNOSUPPORT");
  errno = 0;
  EXPECT_EQ(p.socket(AF_UNIX, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errname(errno), "EAFNOSUPPORT");

  // Sockets on both sides: fresh TCP, TCP bound, TCP listening, UDP fresh, UDP bound.
  const int ot = p.socket(AF_INET, SOCK_STREAM, 0), lt = ::socket(AF_INET, SOCK_STREAM | kNb, 0);
  const int ob = p.socket(AF_INET, SOCK_STREAM, 0), lb = ::socket(AF_INET, SOCK_STREAM | kNb, 0);
  const int ol = p.socket(AF_INET, SOCK_STREAM, 0), ll = ::socket(AF_INET, SOCK_STREAM | kNb, 0);
  const int ou = p.socket(AF_INET, SOCK_DGRAM, 0), lu = ::socket(AF_INET, SOCK_DGRAM | kNb, 0);
  const int oub = p.socket(AF_INET, SOCK_DGRAM, 0), lub = ::socket(AF_INET, SOCK_DGRAM | kNb, 0);
  ASSERT_TRUE(ot >= 0 && ob >= 0 && ol >= 0 && ou >= 0 && oub >= 0);
  ASSERT_TRUE(lt >= 0 && lb >= 0 && ll >= 0 && lu >= 0 && lub >= 0);
  // Linux binds on loopback; the stack on its address.  Same ports both sides.
  sockaddr_in any1 = addr(INADDR_ANY, 7201), any2 = addr(INADDR_ANY, 7202), any3 = addr(INADDR_ANY, 7203);
  SAME(p.bind(ob, sa(any1), sizeof any1), ::bind(lb, sa(any1), sizeof any1));
  SAME(p.bind(ol, sa(any2), sizeof any2), ::bind(ll, sa(any2), sizeof any2));
  SAME(p.listen(ol, 4), ::listen(ll, 4));
  SAME(p.bind(oub, sa(any3), sizeof any3), ::bind(lub, sa(any3), sizeof any3));

  // bind(): in use, twice, short, wrong family, not our address.
  SAME(p.bind(ot, sa(any1), sizeof any1), ::bind(lt, sa(any1), sizeof any1));   // EADDRINUSE (bound)
  SAME(p.bind(ot, sa(any2), sizeof any2), ::bind(lt, sa(any2), sizeof any2));   // EADDRINUSE (listening)
  SAME(p.bind(ou, sa(any3), sizeof any3), ::bind(lu, sa(any3), sizeof any3));   // EADDRINUSE (UDP)
  sockaddr_in other = addr(INADDR_ANY, 7204);
  SAME(p.bind(ob, sa(other), sizeof other), ::bind(lb, sa(other), sizeof other));   // EINVAL: bound already
  SAME(p.bind(ot, sa(other), sizeof other - 1), ::bind(lt, sa(other), sizeof other - 1));
  sockaddr_in v6 = other;
  v6.sin_family = AF_INET6;
  SAME(p.bind(ot, sa(v6), sizeof v6), ::bind(lt, sa(v6), sizeof v6));
  sockaddr_in stranger = addr(0x0a4f0063, 7205);   // 10.79.0.99: nobody's
  SAME(p.bind(ot, sa(stranger), sizeof stranger), ::bind(lt, sa(stranger), sizeof stranger));
  SAME(p.bind(999, sa(other), sizeof other), ::bind(999, sa(other), sizeof other));

  // listen() and accept().
  SAME(p.listen(ou, 4), ::listen(lu, 4));     // EOPNOTSUPP: unbound UDP
  SAME(p.listen(oub, 4), ::listen(lub, 4));   // EOPNOTSUPP: bound UDP
  SAME(p.listen(-1, 4), ::listen(-1, 4));
  SAME(p.accept(ot, nullptr, nullptr), ::accept(lt, nullptr, nullptr));   // EINVAL: unbound
  SAME(p.accept(ob, nullptr, nullptr), ::accept(lb, nullptr, nullptr));   // EINVAL: not listening
  SAME(p.accept(ou, nullptr, nullptr), ::accept(lu, nullptr, nullptr));   // EOPNOTSUPP
  SAME(p.accept(ol, nullptr, nullptr), ::accept(ll, nullptr, nullptr));   // EAGAIN: nobody yet
  SAME(p.accept4(ol, nullptr, nullptr, 0x4000), ::accept4(ll, nullptr, nullptr, 0x4000));   // EINVAL flags
  SAME(p.accept(999, nullptr, nullptr), ::accept(999, nullptr, nullptr));
  // Listen on an unbound TCP socket: Linux picks a port, we cannot (documented).
  errno = 0;
  EXPECT_EQ(p.listen(ot, 4), -1);
  EXPECT_EQ(errname(errno), "EINVAL");

  // Transfers on sockets that are not connected.
  char buf[16] = "x";
  SAME(p.send(ol, buf, 1, MSG_NOSIGNAL), ::send(ll, buf, 1, MSG_NOSIGNAL));   // EPIPE: listening
  SAME(p.send(ot, buf, 1, MSG_NOSIGNAL), ::send(lt, buf, 1, MSG_NOSIGNAL));   // EPIPE: fresh
  SAME(p.recv(ol, buf, sizeof buf, 0), ::recv(ll, buf, sizeof buf, 0));       // ENOTCONN
  SAME(p.read(ot, buf, sizeof buf), ::read(lt, buf, sizeof buf));              // ENOTCONN
  SAME(p.send(oub, buf, 1, 0), ::send(lub, buf, 1, 0));                        // EDESTADDRREQ
  SAME(p.write(oub, buf, 1), ::write(lub, buf, 1));                            // EDESTADDRREQ
  SAME(p.recvfrom(ou, buf, sizeof buf, 0, nullptr, nullptr), ::recvfrom(lu, buf, sizeof buf, 0, nullptr, nullptr));   // EAGAIN
  SAME(p.recv(oub, buf, sizeof buf, 0), ::recv(lub, buf, sizeof buf, 0));      // EAGAIN
  SAME(p.lseek(ol, 0, SEEK_SET), ::lseek(ll, 0, SEEK_SET));                    // ESPIPE
  SAME(p.pread(oub, buf, 1, 0), ::pread(lub, buf, 1, 0));                      // ESPIPE
  SAME(p.fsync(ob), ::fsync(lb));                                             // EINVAL
  struct stat ost, lst;
  SAME(p.fstat(ol, &ost), ::fstat(ll, &lst));
  EXPECT_TRUE(S_ISSOCK(ost.st_mode));

  // Socket calls on a file: ENOTSOCK.
  const int of = p.open("/f", O_RDWR | O_CREAT, 0644);
  char tmpl[] = "/tmp/rl-sockets-XXXXXX";
  const int lf = mkstemp(tmpl);
  ASSERT_TRUE(of >= 0 && lf >= 0);
  unlink(tmpl);
  SAME(p.bind(of, sa(other), sizeof other), ::bind(lf, sa(other), sizeof other));
  SAME(p.listen(of, 1), ::listen(lf, 1));
  SAME(p.accept(of, nullptr, nullptr), ::accept(lf, nullptr, nullptr));
  SAME(p.connect(of, sa(other), sizeof other), ::connect(lf, sa(other), sizeof other));
  SAME(p.recv(of, buf, 1, 0), ::recv(lf, buf, 1, 0));
  SAME(p.sendto(of, buf, 1, 0, sa(other), sizeof other), ::sendto(lf, buf, 1, 0, sa(other), sizeof other));

  // connect(): the stack has no active open (documented).
  errno = 0;
  EXPECT_EQ(p.connect(ot, sa(other), sizeof other), -1);
  EXPECT_EQ(errname(errno), "EOPNOTSUPP");

  // dup2 shares the description; the socket lives until its last descriptor closes.
  const int copy = p.dup2(ol, 100);
  ASSERT_EQ(copy, 100);
  EXPECT_EQ(p.close(ol), 0);
  SAME(p.accept(copy, nullptr, nullptr), ::accept(ll, nullptr, nullptr));   // still listening: EAGAIN
  SAME(p.close(ol), ::close(999));                                            // EBADF

  EXPECT_EQ(p.close(copy), 0);
  for (int fd : {ot, ob, ou, oub, of}) EXPECT_EQ(p.close(fd), 0);
  for (int fd : {lt, lb, ll, lu, lub, lf}) ::close(fd);
  EXPECT_EQ(p.unlink("/f"), 0);
  EXPECT_EQ(p.open_descriptors(), 0);
}

TEST(PosixSockets, PortFreedByClose) {
  NEED_WORLD();
  // A closed listener's port can be listened on again.
  for (int round = 0; round < 2; ++round) {
    const int fd = p.socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in a = addr(INADDR_ANY, 7300);
    ASSERT_EQ(p.bind(fd, sa(a), sizeof a), 0) << "round " << round << ": " << strerror(errno);
    ASSERT_EQ(p.listen(fd, 1), 0) << "round " << round << ": " << strerror(errno);
    EXPECT_EQ(p.close(fd), 0);
  }
}

TEST(PosixSockets, NoNetworkAttached) {
  NEED_WORLD();
  (void)p;
  // Without attach_network there is no AF_INET.
  Process q(w.mount());
  errno = 0;
  EXPECT_EQ(q.socket(AF_INET, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errname(errno), "EAFNOSUPPORT");
}

}  // namespace
}  // namespace rl::posix
