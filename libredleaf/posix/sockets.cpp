// Sockets of rl::posix::Process over the network stack domain
// (idl/netstack.hpp).  The rules and what differs from Linux are in
// posix.hpp; the reasons are here.
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "libredleaf/posix/posix.hpp"

namespace rl::posix {

namespace {

// Linux's SOCK_MAX: types at or above it are EINVAL, below it but not
// ours are ESOCKTNOSUPPORT.
constexpr int kSockMax = SOCK_PACKET + 1;
// Linux's SOCK_TYPE_MASK: the bits of `type` above it are flags.
constexpr int kTypeMask = 0xf;
// The largest UDP payload in one IPv4 datagram.
constexpr size_t kMaxUdpPayload = 65507;
// As posix.cpp: Linux's cap on one transfer (MAX_RW_COUNT).
constexpr size_t kMaxIoBytes = 0x7ffff000;
// Flags that mean nothing when no call ever blocks (and no SIGPIPE is sent).
constexpr int kHarmlessFlags = MSG_DONTWAIT | MSG_NOSIGNAL | MSG_WAITALL;

}  // namespace

struct Socket {
  enum class State : uint8_t { Fresh, Bound, Listening, Connected };
  bool tcp = true;
  State state = State::Fresh;
  uint16_t port = 0;       // bound port, host order (TCP: kept until listen())
  int32_t id = -1;         // the stack's socket: listener, connection or UDP socket
  // Bytes the stack handed over that the program has not read yet: the
  // stack's recv moves a whole chunk, the program may ask for less.
  std::string rx;
  size_t rx_at = 0;
  bool eof = false;        // the peer's FIN was read
  int error = 0;           // a reset seen, reported once (then reads see end of stream)
};

void Process::attach_network(netstack::NetStack& stack, uint32_t address) {
  net_ = &stack;
  net_ip_ = address;
}

bool Process::ensure_chunk() {
  // A call into a crashed stack took its chunk with it.
  if (!chunk_) chunk_ = RRef<netstack::Chunk>::make();
  return static_cast<bool>(chunk_);
}

int Process::socket(int domain, int type, int protocol) {
  // Linux's order: flags, family, type, then the protocol.
  if (type & ~kTypeMask & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return fail(EINVAL);
  const int base = type & kTypeMask;
  if (domain != AF_INET) return fail(EAFNOSUPPORT);
  if (base >= kSockMax) return fail(EINVAL);
  if (!net_) return fail(EAFNOSUPPORT);   // no network attached: no AF_INET here
  auto s = std::make_shared<Socket>();
  if (base == SOCK_STREAM) {
    if (protocol != 0 && protocol != IPPROTO_TCP) return fail(EPROTONOSUPPORT);
  } else if (base == SOCK_DGRAM) {
    if (protocol != 0 && protocol != IPPROTO_UDP) return fail(EPROTONOSUPPORT);
    s->tcp = false;
  } else {
    return fail(ESOCKTNOSUPPORT);   // raw, seqpacket ...: the stack has none
  }
  return install_socket(std::move(s));
}

int Process::bind(int fd, const struct sockaddr* addr, socklen_t len) {
  int err = 0;
  auto s = socket_of(fd, &err);
  if (!s) return fail(err);
  if (!addr) return fail(EFAULT);
  if (len < static_cast<socklen_t>(sizeof(sockaddr_in))) return fail(EINVAL);
  sockaddr_in in;
  std::memcpy(&in, addr, sizeof in);
  if (in.sin_family != AF_INET) return fail(EAFNOSUPPORT);
  const uint32_t ip = ntohl(in.sin_addr.s_addr);
  if (ip != INADDR_ANY && (net_ip_ == 0 || ip != net_ip_)) return fail(EADDRNOTAVAIL);
  if (s->state != Socket::State::Fresh) return fail(EINVAL);   // bound already
  const uint16_t port = ntohs(in.sin_port);
  if (s->tcp && port == 0) return fail(EINVAL);   // an ephemeral port could not be learnt: no getsockname
  // The stack lets sockets share a port (it sets SO_REUSEADDR), and binds a
  // TCP port only at listen(): this Process's own sockets are checked here.
  if (port != 0) {
    for (size_t i = 0; i < fds_.size(); ++i) {
      const Socket* o = socket_at(static_cast<int>(i));
      if (o && o != s.get() && o->tcp == s->tcp && o->port == port && o->state != Socket::State::Fresh &&
          o->state != Socket::State::Connected)
        return fail(EADDRINUSE);
    }
  }
  if (s->tcp) {
    s->port = port;
    s->state = Socket::State::Bound;
    return 0;
  }
  auto r = net_->udp_bind(port);
  if (!r.ok()) return fail(ENETDOWN);
  if (*r < 0) return fail(-*r);
  s->id = *r;
  s->port = port;
  s->state = Socket::State::Bound;
  return 0;
}

int Process::listen(int fd, int backlog) {
  int err = 0;
  auto s = socket_of(fd, &err);
  if (!s) return fail(err);
  if (!s->tcp) return fail(EOPNOTSUPP);
  if (s->state == Socket::State::Listening) return 0;   // Linux only updates the backlog
  if (s->state != Socket::State::Bound) return fail(EINVAL);
  auto r = net_->tcp_listen(s->port, static_cast<uint32_t>(std::clamp(backlog, 1, 4096)));
  if (!r.ok()) return fail(ENETDOWN);
  if (*r < 0) return fail(-*r);
  s->id = *r;
  s->state = Socket::State::Listening;
  return 0;
}

int Process::accept(int fd, struct sockaddr* addr, socklen_t* len) { return accept4(fd, addr, len, 0); }

int Process::accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return fail(EINVAL);
  int err = 0;
  auto s = socket_of(fd, &err);
  if (!s) return fail(err);
  if (!s->tcp) return fail(EOPNOTSUPP);
  if (s->state != Socket::State::Listening) return fail(EINVAL);
  if (addr && (!len || static_cast<int>(*len) < 0)) return fail(EINVAL);
  auto r = net_->accept(s->id);
  if (!r.ok()) return fail(ENETDOWN);
  if (*r < 0) return fail(-*r);
  auto c = std::make_shared<Socket>();
  c->state = Socket::State::Connected;
  c->id = *r;
  c->port = s->port;
  int nfd = install_socket(std::move(c));   // on EMFILE the connection is closed again
  if (nfd < 0) return -1;
  if (addr) {
    // The stack does not say who connected: an all-zero address.
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    std::memcpy(addr, &peer, std::min<size_t>(*len, sizeof peer));
    *len = sizeof peer;
  }
  return nfd;
}

int Process::connect(int fd, const struct sockaddr*, socklen_t) {
  int err = 0;
  auto s = socket_of(fd, &err);
  if (!s) return fail(err);
  return fail(EOPNOTSUPP);   // the stack opens no connections, it only accepts them
}

ssize_t Process::socket_read(Socket& s, void* buf, size_t count, int flags) {
  if (flags & ~(kHarmlessFlags | MSG_PEEK)) return fail(EOPNOTSUPP);
  if (!s.tcp) return udp_recv(s, buf, count, flags, nullptr, nullptr);
  if (s.state != Socket::State::Connected) return fail(ENOTCONN);
  if (count == 0) return 0;
  count = std::min(count, kMaxIoBytes);
  // Take from the stack until `count` bytes wait or it has no more now.
  while (s.rx.size() - s.rx_at < count && !s.eof && !s.error) {
    if (!ensure_chunk()) return fail(ENOMEM);
    auto r = net_->recv(s.id, std::move(chunk_));
    if (!r.ok()) {
      if (s.rx.size() == s.rx_at) return fail(ENETDOWN);
      break;
    }
    chunk_ = std::move(*r);
    const int32_t st = chunk_->status;
    if (st > 0) {
      s.rx.append(reinterpret_cast<const char*>(chunk_->data.data()), chunk_->len);
    } else if (st == 0) {
      s.eof = true;
    } else if (st == -EAGAIN) {
      break;
    } else {
      s.error = -st;
    }
  }
  const size_t avail = s.rx.size() - s.rx_at;
  if (avail > 0) {
    const size_t n = std::min(count, avail);
    std::memcpy(buf, s.rx.data() + s.rx_at, n);
    if (!(flags & MSG_PEEK)) {
      s.rx_at += n;
      if (s.rx_at == s.rx.size()) {
        s.rx.clear();
        s.rx_at = 0;
      }
    }
    return static_cast<ssize_t>(n);
  }
  if (s.error) {
    // As Linux: the reset is reported once, later reads see end of stream.
    const int e = s.error;
    s.error = 0;
    s.eof = true;
    return fail(e);
  }
  return s.eof ? 0 : fail(EAGAIN);
}

ssize_t Process::socket_write(Socket& s, const void* buf, size_t count, int flags) {
  if (flags & ~kHarmlessFlags) return fail(EOPNOTSUPP);
  if (!s.tcp) return fail(EDESTADDRREQ);   // no connect(): UDP needs sendto
  if (s.state != Socket::State::Connected) return fail(EPIPE);   // as Linux (without SIGPIPE)
  if (count == 0) return 0;
  count = std::min(count, kMaxIoBytes);
  size_t done = 0;
  while (done < count) {
    if (!ensure_chunk()) break;
    const size_t n = std::min<size_t>(count - done, netstack::kChunkBytes);
    std::memcpy(chunk_->data.data(), static_cast<const uint8_t*>(buf) + done, n);
    chunk_->len = static_cast<uint32_t>(n);
    auto r = net_->send(s.id, std::move(chunk_));
    if (!r.ok()) {
      if (done == 0) return fail(ENETDOWN);
      break;
    }
    chunk_ = std::move(*r);
    const int32_t st = chunk_->status;
    if (st < 0) {
      if (done == 0) return fail(-st);   // EAGAIN (window full), EPIPE, ECONNRESET
      break;
    }
    done += static_cast<size_t>(st);
    if (static_cast<size_t>(st) < n) break;   // the window is full: kWritable comes when it opens
  }
  return done > 0 ? static_cast<ssize_t>(done) : fail(ENOMEM);
}

ssize_t Process::udp_recv(Socket& s, void* buf, size_t count, int flags, struct sockaddr* from, socklen_t* len) {
  if (flags & MSG_PEEK) return fail(EOPNOTSUPP);   // a datagram is taken whole from the stack
  if (from && (!len || static_cast<int>(*len) < 0)) return fail(EINVAL);
  // Unbound: nothing can arrive (Linux would wait; we never block).
  if (s.id < 0) return fail(EAGAIN);
  if (!ensure_chunk()) return fail(ENOMEM);
  auto r = net_->udp_recv(s.id, std::move(chunk_));
  if (!r.ok()) return fail(ENETDOWN);
  chunk_ = std::move(*r);
  if (chunk_->status < 0) return fail(-chunk_->status);
  // As Linux: a datagram longer than `count` is cut, the rest is dropped.
  const size_t n = std::min<size_t>(count, chunk_->len);
  std::memcpy(buf, chunk_->data.data(), n);
  if (from) {
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(chunk_->peer_ip);
    peer.sin_port = htons(chunk_->peer_port);
    std::memcpy(from, &peer, std::min<size_t>(*len, sizeof peer));
    *len = sizeof peer;
  }
  return static_cast<ssize_t>(n);
}

ssize_t Process::recv(int fd, void* buf, size_t count, int flags) {
  return recvfrom(fd, buf, count, flags, nullptr, nullptr);
}

ssize_t Process::send(int fd, const void* buf, size_t count, int flags) {
  return sendto(fd, buf, count, flags, nullptr, 0);
}

ssize_t Process::recvfrom(int fd, void* buf, size_t count, int flags, struct sockaddr* from, socklen_t* len) {
  int err = 0;
  auto s = socket_of(fd, &err);
  if (!s) return fail(err);
  if (!s->tcp) {
    if (flags & ~(kHarmlessFlags | MSG_PEEK)) return fail(EOPNOTSUPP);
    return udp_recv(*s, buf, count, flags, from, len);
  }
  if (from && (!len || static_cast<int>(*len) < 0)) return fail(EINVAL);
  ssize_t n = socket_read(*s, buf, count, flags);
  if (n >= 0 && from) *len = 0;   // as Linux: a stream socket names no sender
  return n;
}

ssize_t Process::sendto(int fd, const void* buf, size_t count, int flags, const struct sockaddr* to, socklen_t len) {
  int err = 0;
  auto s = socket_of(fd, &err);
  if (!s) return fail(err);
  if (s->tcp) return socket_write(*s, buf, count, flags);   // as Linux: the address is ignored
  if (flags & ~kHarmlessFlags) return fail(EOPNOTSUPP);
  if (!to) return fail(EDESTADDRREQ);
  if (len < static_cast<socklen_t>(sizeof(sockaddr_in))) return fail(EINVAL);
  sockaddr_in in;
  std::memcpy(&in, to, sizeof in);
  if (in.sin_family != AF_INET) return fail(EAFNOSUPPORT);
  if (count > kMaxUdpPayload) return fail(EMSGSIZE);
  if (count > netstack::kChunkBytes) return fail(EMSGSIZE);   // the stack's datagrams fit one chunk
  if (s->id < 0) {
    // As Linux: the first send binds an unbound socket to a free port.
    auto r = net_->udp_bind(0);
    if (!r.ok()) return fail(ENETDOWN);
    if (*r < 0) return fail(-*r);
    s->id = *r;
    s->state = Socket::State::Bound;
  }
  if (!ensure_chunk()) return fail(ENOMEM);
  std::memcpy(chunk_->data.data(), buf, count);
  chunk_->len = static_cast<uint32_t>(count);
  chunk_->peer_ip = ntohl(in.sin_addr.s_addr);
  chunk_->peer_port = ntohs(in.sin_port);
  auto r = net_->udp_send(s->id, std::move(chunk_));
  if (!r.ok()) return fail(ENETDOWN);
  chunk_ = std::move(*r);
  if (chunk_->status < 0) return fail(-chunk_->status);
  return static_cast<ssize_t>(count);
}

void Process::release_socket(Socket& s) {
  if (s.id < 0 || !net_) return;
  // The stack sends what is queued, then FIN; errors have no one to go to.
  (void)net_->close(s.id);
  s.id = -1;
}

int Process::socket_fd(int32_t stack_socket_id) const {
  if (stack_socket_id < 0) return -1;
  for (size_t fd = 0; fd < fds_.size(); ++fd) {
    const Socket* s = socket_at(static_cast<int>(fd));
    if (s && s->id == stack_socket_id) return static_cast<int>(fd);
  }
  return -1;
}

}  // namespace rl::posix
