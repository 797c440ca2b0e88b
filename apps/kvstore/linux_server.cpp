// rl-kvstore-linux-test: TEST ONLY.  Runs the kvstore protocol engine
// (protocol.hpp over table.hpp) on Linux sockets -- epoll, TCP and UDP on
// 127.0.0.1 -- so that real memcached clients (memccapable, memcaslap,
// libmemcached's tools) can be pointed at it before redleaf's own network
// stack serves it.  It is not installed and is not rl-kvstore.
//
//   rl-kvstore-linux-test PORT [--memory-mib N] [--partitions P]
//
// Prints "listening on 127.0.0.1:PORT" once both sockets are bound; exits 0
// on SIGINT or SIGTERM.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "apps/kvstore/protocol.hpp"
#include "apps/kvstore/table.hpp"

namespace {

using rl::kv::Session;
using rl::kv::UnixSeconds;

constexpr std::size_t kReadChunkBytes = 64 << 10;
constexpr int kMaxEvents = 64;
constexpr int kDatagramsPerWakeup = 64;   // then let TCP clients have a turn
constexpr uint32_t kDefaultMemoryMib = 64;  // memcached's default -m

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

UnixSeconds now_seconds() { return static_cast<UnixSeconds>(std::time(nullptr)); }

struct Connection {
  Connection(int fd_, rl::kv::Service& service) : fd(fd_), session(service) {}
  int fd;
  Session session;
  std::string input;   // received bytes the session has not taken yet (it is paused on its output)
  std::string output;  // replies not yet sent, from `sent` on
  std::size_t sent = 0;
  uint32_t events = 0;  // what epoll watches for now
};

class Server {
 public:
  Server(rl::kv::Service& service, int epoll_fd, int listen_fd, int udp_fd)
      : service_(service), epoll_fd_(epoll_fd), listen_fd_(listen_fd), udp_fd_(udp_fd) {}

  int run() {
    epoll_event events[kMaxEvents];
    while (!g_stop) {
      const int n = epoll_wait(epoll_fd_, events, kMaxEvents, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("epoll_wait");
        return 1;
      }
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_fd_) {
          accept_all();
        } else if (fd == udp_fd_) {
          answer_datagrams();
        } else if (auto it = connections_.find(fd); it != connections_.end()) {
          if (!serve(*it->second, events[i].events)) close_connection(fd);
        }
      }
    }
    return 0;
  }

 private:
  void accept_all() {
    while (true) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or a client that left already
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto connection = std::make_unique<Connection>(fd, service_);
      connection->events = EPOLLIN;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        continue;
      }
      connections_.emplace(fd, std::move(connection));
    }
  }

  void close_connection(int fd) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    connections_.erase(fd);
  }

  // Reads what the client sent, runs it, sends the replies.  False: close.
  bool serve(Connection& c, uint32_t ready) {
    if (ready & EPOLLIN) {
      char buffer[kReadChunkBytes];
      while (c.input.empty() && !c.session.closing()) {
        const ssize_t n = recv(c.fd, buffer, sizeof buffer, 0);
        if (n == 0) return false;
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          if (errno == EINTR) continue;
          return false;
        }
        const auto got = static_cast<std::size_t>(n);
        const std::size_t used = c.session.feed(std::string_view(buffer, got), c.output, now_seconds());
        if (used < got) c.input.assign(buffer + used, got - used);
        if (!pump(c)) return false;
      }
    } else if (ready & (EPOLLERR | EPOLLHUP)) {
      return false;
    }
    if (!pump(c)) return false;
    watch(c);
    return true;
  }

  // Sends output and feeds held-back input until one of them blocks.
  bool pump(Connection& c) {
    while (true) {
      while (c.sent < c.output.size()) {
        const ssize_t n = send(c.fd, c.output.data() + c.sent, c.output.size() - c.sent, MSG_NOSIGNAL);
        if (n > 0) {
          c.sent += static_cast<std::size_t>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          return true;
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else {
          return false;
        }
      }
      c.output.clear();
      c.sent = 0;
      if (c.session.closing()) return false;  // everything said: close, as memcached does after quit
      if (c.input.empty() && !c.session.paused()) return true;
      const std::size_t used = c.session.feed(c.input, c.output, now_seconds());
      c.input.erase(0, used);
      if (used == 0 && c.output.empty() && !c.session.paused()) return true;
    }
  }

  void watch(Connection& c) {
    uint32_t want = 0;
    if (c.input.empty() && !c.session.closing()) want |= EPOLLIN;
    if (c.sent < c.output.size()) want |= EPOLLOUT;
    if (want == c.events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = c.fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.events = want;
  }

  void answer_datagrams() {
    char request[1 << 16];
    char datagram[rl::kv::kUdpMaxDatagramBytes];
    for (int i = 0; i < kDatagramsPerWakeup; ++i) {
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      const ssize_t n = recvfrom(udp_fd_, request, sizeof request, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 0) return;
      const auto id = rl::kv::answer_udp_request(service_, std::string_view(request, static_cast<std::size_t>(n)),
                                                 now_seconds(), udp_response_);
      if (!id) continue;
      for (std::size_t seq = 0; seq < rl::kv::udp_datagram_count(udp_response_.size()); ++seq) {
        const std::size_t len = rl::kv::write_udp_datagram(*id, udp_response_, seq, datagram);
        // A full socket buffer drops the datagram: UDP clients retry.
        sendto(udp_fd_, datagram, len, 0, reinterpret_cast<sockaddr*>(&from), from_len);
      }
    }
  }

  rl::kv::Service& service_;
  int epoll_fd_, listen_fd_, udp_fd_;
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::string udp_response_;
};

bool parse_number(std::string_view text, uint32_t* out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size();
}

int usage() {
  std::fprintf(stderr, "usage: rl-kvstore-linux-test PORT [--memory-mib N] [--partitions P]\n");
  return 2;
}

int bound_socket(int type, uint16_t port) {
  const int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      (type == SOCK_STREAM && listen(fd, SOMAXCONN) != 0)) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t port = 0, memory_mib = kDefaultMemoryMib, partitions = 1;
  if (argc < 2 || !parse_number(argv[1], &port) || port == 0 || port > 65535) return usage();
  for (int i = 2; i < argc; ++i) {
    const std::string_view option = argv[i];
    if (i + 1 >= argc) return usage();
    uint32_t* target = option == "--memory-mib" ? &memory_mib : option == "--partitions" ? &partitions : nullptr;
    if (!target || !parse_number(argv[++i], target)) return usage();
  }

  const std::size_t memory_bytes = std::size_t{memory_mib} << 20;
  void* memory = mmap(nullptr, memory_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  rl::kv::TableConfig config;
  config.partitions = partitions;
  config.hash_seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  std::string why_not;
  auto table = rl::kv::Table::place(std::span(static_cast<std::byte*>(memory), memory_bytes), config, &why_not);
  if (!table) {
    std::fprintf(stderr, "rl-kvstore-linux-test: %s\n", why_not.c_str());
    return 2;
  }
  rl::kv::Service service(*table, now_seconds(), rl::kv::ServiceConfig{static_cast<uint32_t>(getpid())});

  const int listen_fd = bound_socket(SOCK_STREAM, static_cast<uint16_t>(port));
  const int udp_fd = bound_socket(SOCK_DGRAM, static_cast<uint16_t>(port));
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (listen_fd < 0 || udp_fd < 0 || epoll_fd < 0) {
    std::fprintf(stderr, "rl-kvstore-linux-test: cannot listen on 127.0.0.1:%u: %s\n", port, std::strerror(errno));
    return 1;
  }
  for (int fd : {listen_fd, udp_fd}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  }
  struct sigaction action{};
  action.sa_handler = on_signal;  // no SA_RESTART: epoll_wait returns EINTR and the loop sees the flag
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  std::printf("listening on 127.0.0.1:%u\n", port);
  std::fflush(stdout);
  return Server(service, epoll_fd, listen_fd, udp_fd).run();
}
