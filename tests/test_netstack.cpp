// The network stack domain against a real peer: Linux's own TCP/IP.
//
// The test process moves into a network namespace of its own, where the
// simulated 82599's wire is a TAP interface.  The path of every byte:
//   kernel socket -> TAP -> sim 82599 -> ixgbe.so -> pump -> netstack.so
// and back.  A thread runs the pump and a small echo server written against
// the NetStack API; the test's client side uses ordinary kernel sockets.
// Skips where namespaces or TAP devices cannot be made (not root, no tun).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "domains/netstack/pump.hpp"
#include "drivers/pci/device.hpp"

namespace rl::netstack {
namespace {

constexpr const char* kTap = "rlns0";
constexpr uint32_t kStackIp = 0x0a4e0002;   // 10.78.0.2
constexpr uint16_t kEchoPort = 7;

std::string dir(const char* var) {
  const char* d = std::getenv(var);
  return d ? d : ".";
}

bool run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

// The world of one test program: namespace, TAP port, driver and stack
// domains, and the thread that runs them.
class World {
 public:
  static World* get() {
    static World* w = make();
    return w;
  }
  const std::string& skip_reason() const { return skip_; }
  std::atomic<uint64_t> echoed{0};
  std::atomic<uint64_t> resets_seen{0};
  std::atomic<bool> stack_alive{true};

  ~World() = delete;   // lives until exit; the thread runs to the end

 private:
  static World* make() {
    auto* w = new World;
    w->start();
    return w;
  }
  void start() {
    if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0 || !run("command -v ip")) {
      skip_ = "needs root, /dev/net/tun and iproute2";
      return;
    }
    if (unshare(CLONE_NEWNET) != 0) {
      skip_ = std::string("cannot make a network namespace: ") + strerror(errno);
      return;
    }
    run("ip link set lo up");
    std::string err;
    auto dev = pci::open(std::string("sim:ixgbe,wire=tap:") + kTap, &err);
    if (!dev) {
      skip_ = "no TAP port: " + err;
      return;
    }
    ref_ = pci::attach(std::move(dev));
    LoadError lerr;
    driver_ = net::load_ixgbe(dir("RL_IXGBE_DOMAIN_DIR") + "/ixgbe.so", "ixgbe", net::IxgbeInit{ref_, 1, 1}, &lerr);
    if (!driver_) {
      skip_ = "ixgbe.so: " + lerr.message;
      return;
    }
    auto mac = driver_.proxy->mac_address();
    if (!mac.ok()) {
      skip_ = "the driver failed";
      return;
    }
    stack_ = load_netstack(dir("RL_NETSTACK_DOMAIN_DIR") + "/netstack.so", "netstack",
                           NetStackInit{mac.value(), kStackIp, 0xffffff00, 0, 0}, &lerr);
    if (!stack_) {
      skip_ = "netstack.so: " + lerr.message;
      return;
    }
    if (!run(std::string("ip addr add 10.78.0.1/24 dev ") + kTap) || !run(std::string("ip link set ") + kTap + " up")) {
      skip_ = "cannot configure the TAP interface";
      return;
    }
    std::thread([this] { serve(); }).detach();
  }

  // The echo server: what an application on redleaf looks like.
  void serve() {
    NetStack& st = *stack_.proxy;
    Pump pump(*driver_.proxy, st);
    const int32_t echo = st.tcp_listen(kEchoPort, 64).value();
    const int32_t udp = st.udp_bind(kEchoPort).value();
    std::map<int32_t, std::string> unsent;   // echo bytes the stack had no room for yet
    auto chunk = RRef<Chunk>::make();
    auto flush = [&](int32_t s) {
      std::string& out = unsent[s];
      while (!out.empty()) {
        chunk->len = static_cast<uint32_t>(std::min<std::size_t>(out.size(), kChunkBytes));
        std::memcpy(chunk->data.data(), out.data(), chunk->len);
        chunk = std::move(st.send(s, std::move(chunk)).value());
        if (chunk->status <= 0) return;
        out.erase(0, static_cast<std::size_t>(chunk->status));
      }
    };
    const bool debug = std::getenv("RL_NETSTACK_DEBUG") != nullptr;
    auto last = std::chrono::steady_clock::now();
    for (;;) {
      if (debug && std::chrono::steady_clock::now() - last > std::chrono::seconds(1)) {
        last = std::chrono::steady_clock::now();
        const auto& c = pump.counters();
        auto ss = st.stats().value();
        auto ns = driver_.proxy->stats().value();
        fprintf(stderr, "pump in %lu out %lu txdrop %lu | stack in %lu out %lu dropout %lu | nic rx %lu tx %lu rxdrop %lu txdrop %lu\n",
                c.frames_in, c.frames_out, c.tx_dropped, ss.frames_in, ss.frames_out, ss.frames_dropped_out,
                ns.rx_packets, ns.tx_packets, ns.rx_dropped, ns.tx_dropped);
      }
      if (pump.poll() < 0) {
        stack_alive = false;
        Domain& failed = pump.failed() == Pump::Failed::Stack ? *stack_.domain : *driver_.domain;
        fprintf(stderr, "test_netstack: %s failed: %s\n", failed.name().c_str(), failed.info().last_message.c_str());
        return;
      }
      for (;;) {
        auto ev = st.events();
        if (!ev.ok()) return;
        for (uint32_t i = 0; i < ev.value().count; ++i) {
          const Event e = ev.value().list[i];
          if (e.socket == echo) {
            for (int32_t c; (c = st.accept(e.socket).value()) >= 0;) unsent[c] = std::string();
            continue;
          }
          if (e.socket == udp) {
            for (;;) {
              chunk = std::move(st.udp_recv(udp, std::move(chunk)).value());
              if (chunk->status < 0) break;
              chunk = std::move(st.udp_send(udp, std::move(chunk)).value());
            }
            continue;
          }
          if (e.what & kWritable) flush(e.socket);
          if (!(e.what & kReadable)) continue;
          for (;;) {
            chunk = std::move(st.recv(e.socket, std::move(chunk)).value());
            if (chunk->status > 0) {
              unsent[e.socket].append(reinterpret_cast<const char*>(chunk->data.data()), chunk->len);
              continue;
            }
            if (chunk->status == -EAGAIN) break;
            if (chunk->status == -ECONNRESET) ++resets_seen;
            (void)st.close(e.socket);   // end of stream or reset
            unsent.erase(e.socket);
            break;
          }
          auto it = unsent.find(e.socket);
          if (it == unsent.end()) continue;
          echoed += it->second.size();
          flush(e.socket);
        }
        if (!ev.value().more) break;
      }
    }
  }

  std::string skip_;
  pci::DeviceRef ref_{};
  Loaded<net::NetProxy> driver_;
  Loaded<NetStackProxy> stack_;
};

class NetStackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!World::get()->skip_reason().empty()) GTEST_SKIP() << World::get()->skip_reason();
  }
};

int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(kStackIp);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ADD_FAILURE() << "connect: " << strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

std::string read_exactly(int fd, std::size_t n) {
  std::string got(n, '\0');
  std::size_t have = 0;
  while (have < n) {
    ssize_t r = read(fd, got.data() + have, n - have);
    if (r <= 0) break;
    have += static_cast<std::size_t>(r);
  }
  got.resize(have);
  return got;
}

TEST_F(NetStackTest, EchoesOverTcp) {
  int fd = connect_to(kEchoPort);
  ASSERT_GE(fd, 0);
  const std::string hello = "hello, redleaf\n";
  ASSERT_EQ(write(fd, hello.data(), hello.size()), static_cast<ssize_t>(hello.size()));
  EXPECT_EQ(read_exactly(fd, hello.size()), hello);
  close(fd);
}

// More than the stack's send buffer and the receive window: flow control
// in both directions, chunks split and joined at arbitrary places.
TEST_F(NetStackTest, EchoesTwoMegabytesIntact) {
  int fd = connect_to(kEchoPort);
  ASSERT_GE(fd, 0);
  std::string data(2 << 20, '\0');
  std::mt19937 rng(7);
  for (auto& c : data) c = static_cast<char>(rng());
  std::string got;
  std::thread writer([&] {
    std::size_t off = 0;
    while (off < data.size()) {
      ssize_t w = write(fd, data.data() + off, std::min<std::size_t>(data.size() - off, 100000));
      if (w <= 0) break;
      off += static_cast<std::size_t>(w);
    }
  });
  got = read_exactly(fd, data.size());
  writer.join();
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "the echoed bytes differ";
  close(fd);
}

TEST_F(NetStackTest, ServesManyConnectionsAtOnce) {
  std::vector<int> fds;
  for (int i = 0; i < 50; ++i) {
    int fd = connect_to(kEchoPort);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  for (std::size_t i = 0; i < fds.size(); ++i) {
    std::string msg = "connection " + std::to_string(i) + "\n";
    ASSERT_EQ(write(fds[i], msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
  }
  for (std::size_t i = 0; i < fds.size(); ++i) {
    std::string msg = "connection " + std::to_string(i) + "\n";
    EXPECT_EQ(read_exactly(fds[i], msg.size()), msg);
    close(fds[i]);
  }
}

TEST_F(NetStackTest, EchoesUdpDatagrams) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kEchoPort);
  a.sin_addr.s_addr = htonl(kStackIp);
  int answered = 0;
  for (int i = 0; i < 20; ++i) {
    std::string msg = "datagram " + std::to_string(i) + std::string(static_cast<std::size_t>(i) * 70, 'x');
    ASSERT_EQ(sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a),
              static_cast<ssize_t>(msg.size()));
    char buf[2048];
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r == static_cast<ssize_t>(msg.size()) && std::string(buf, static_cast<std::size_t>(r)) == msg) ++answered;
  }
  EXPECT_EQ(answered, 20);   // a TAP on one machine loses nothing; the first may wait for ARP, not be dropped
  close(fd);
}

// A peer that resets: the stack reports it, the server closes, and it keeps
// serving others.
TEST_F(NetStackTest, APeerResetIsReportedAndOthersGoOn) {
  const uint64_t before = World::get()->resets_seen.load();
  int fd = connect_to(kEchoPort);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "x", 1), 1);
  ASSERT_EQ(read_exactly(fd, 1), "x");
  linger lg{1, 0};   // close with SO_LINGER 0: the kernel sends RST
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
  for (int i = 0; i < 200 && World::get()->resets_seen.load() == before; ++i) usleep(10000);
  EXPECT_GT(World::get()->resets_seen.load(), before);
  int again = connect_to(kEchoPort);
  ASSERT_GE(again, 0);
  ASSERT_EQ(write(again, "y", 1), 1);
  EXPECT_EQ(read_exactly(again, 1), "y");
  close(again);
}

TEST_F(NetStackTest, AClosedPortIsRefused) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(8081);
  a.sin_addr.s_addr = htonl(kStackIp);
  EXPECT_NE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(errno, ECONNREFUSED);
  close(fd);
  EXPECT_TRUE(World::get()->stack_alive.load());
}

}  // namespace
}  // namespace rl::netstack
