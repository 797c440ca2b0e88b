#include "apps/kvstore/server.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <span>

#include "libredleaf/shared_heap.hpp"

namespace rl::kv {
namespace {

UnixSeconds now_seconds() { return static_cast<UnixSeconds>(std::time(nullptr)); }

// The table's bytes as one shared-heap object: exchangeable and DMA-able
// like every buffer there, so a later kvstore domain could own it.  The
// sizes are fixed types because an RRef's size is its type's.
template <std::size_t MiB>
std::span<std::byte> place_bytes(std::shared_ptr<void>* keep) {
  using Bytes = std::array<std::byte, (std::size_t{MiB} << 20)>;
  auto ref = std::make_shared<RRef<Bytes>>(RRef<Bytes>::make());
  std::span<std::byte> bytes((*ref)->data(), (*ref)->size());
  *keep = ref;
  return bytes;
}

std::span<std::byte> table_bytes(uint32_t mib, std::shared_ptr<void>* keep) {
  switch (mib) {
    case 16: return place_bytes<16>(keep);
    case 32: return place_bytes<32>(keep);
    case 64: return place_bytes<64>(keep);
    case 256: return place_bytes<256>(keep);
    case 1024: return place_bytes<1024>(keep);
    default: return {};
  }
}

}  // namespace

std::unique_ptr<Server> Server::start(netstack::NetStack& stack, const ServerOptions& o, std::string* why_not) {
  std::unique_ptr<Server> s(new Server(stack, o));
  const auto heap = shared_heap_stats();
  const uint64_t need = uint64_t{o.memory_mib} << 20;
  if (heap.capacity - heap.bytes_in_use < need + (8u << 20)) {
    *why_not = "the shared heap has " + std::to_string((heap.capacity - heap.bytes_in_use) >> 20) +
               " MiB free, the table needs " + std::to_string(o.memory_mib) +
               " MiB: give a smaller --memory or start with RL_SHARED_HEAP_MB=" + std::to_string((need >> 20) + 64);
    return nullptr;
  }
  auto bytes = table_bytes(o.memory_mib, &s->memory_);
  if (bytes.empty()) {
    *why_not = "--memory " + std::to_string(o.memory_mib) + ": expected 16, 32, 64, 256 or 1024 (MiB)";
    return nullptr;
  }
  TableConfig tc;
  tc.partitions = o.partitions;
  s->table_ = Table::place(bytes, tc, why_not);
  if (!s->table_) return nullptr;
  ServiceConfig sc;
  sc.pid = static_cast<uint32_t>(getpid());
  s->service_.emplace(*s->table_, now_seconds(), sc);
  auto l = stack.tcp_listen(o.port, 1024);
  auto u = stack.udp_bind(o.port);
  if (!l.ok() || !u.ok() || l.value() < 0 || u.value() < 0) {
    *why_not = "cannot listen on port " + std::to_string(o.port);
    return nullptr;
  }
  s->listener_ = l.value();
  s->udp_ = u.value();
  s->datagram_ = RRef<netstack::Chunk>::make();
  return s;
}

Server::~Server() = default;

bool Server::on_event(const netstack::Event& e) {
  if (e.socket == listener_) {
    accept_all();
    return true;
  }
  if (e.socket == udp_) {
    answer_datagrams();
    return true;
  }
  auto it = conns_.find(e.socket);
  if (it == conns_.end()) {
    if (!streams_.is_open(e.socket)) return false;   // not ours
    if (e.what & netstack::kClosed) streams_.close(e.socket);
    else if (e.what & netstack::kWritable) streams_.flush(e.socket);
    return true;
  }
  if (e.what & netstack::kWritable) streams_.flush(e.socket);
  serve(it);
  return true;
}

void Server::accept_all() {
  for (;;) {
    auto r = stack_.accept(listener_);
    if (!r.ok() || r.value() < 0) return;
    const int32_t s = r.value();
    streams_.adopt(s);
    if (conns_.size() >= o_.max_connections) {
      streams_.write(s, "SERVER_ERROR Too many open connections\r\n");   // what memcached says
      streams_.close_when_sent(s);
      ++refused_;
      continue;
    }
    conns_.emplace(s, std::make_unique<Connection>(*service_));
  }
}

// Reads what arrived, lets the session answer it, and sends the answers.
// While a slow reader leaves answers waiting, the session pauses (feed
// takes less than it is given) and the rest of the input waits in `in`;
// reading stops at 1 MiB of it, and TCP flow control holds the client.
void Server::serve(Map::iterator it) {
  const int32_t s = it->first;
  Connection& c = *it->second;
  app::Streams::ReadState peer = app::Streams::ReadState::Open;
  if (c.in.size() < (1u << 20)) peer = streams_.read(s, c.in, (1u << 20) - c.in.size());
  const UnixSeconds now = now_seconds();
  std::size_t used = 0;
  for (;;) {
    c.out.clear();
    const std::size_t n = c.session.feed(std::string_view(c.in).substr(used), c.out, now);
    used += n;
    if (!c.out.empty()) streams_.write(s, c.out);
    if (c.session.closing() || !streams_.is_open(s)) break;
    // Paused on its output: go on while the stream takes it.
    const bool progress = n > 0 || !c.out.empty();
    const bool more = (c.session.paused() || used < c.in.size()) && streams_.waiting(s) == 0 && progress;
    if (!more) break;
  }
  c.in.erase(0, used);
  // The peer is done sending: close once every command it sent is answered
  // (a paused session goes on at kWritable; the stack reports the end again).
  const bool answered_all = c.in.empty() && !c.session.paused();
  if (c.session.closing() || (peer == app::Streams::ReadState::End && answered_all)) {
    streams_.close_when_sent(s);
  } else if (peer == app::Streams::ReadState::Reset) {
    streams_.close(s);
  }
  if (!streams_.is_open(s) || streams_.closing(s)) conns_.erase(it);
}

void Server::answer_datagrams() {
  for (;;) {
    auto r = stack_.udp_recv(udp_, std::move(datagram_));
    if (!r.ok()) return;
    datagram_ = std::move(r.value());
    if (datagram_->status < 0) return;
    const uint32_t ip = datagram_->peer_ip;
    const uint16_t port = datagram_->peer_port;
    std::string_view in(reinterpret_cast<const char*>(datagram_->data.data()), datagram_->len);
    udp_response_.clear();
    auto id = answer_udp_request(*service_, in, now_seconds(), udp_response_);
    if (!id) continue;   // not a single-datagram request: memcached drops those too
    ++udp_requests_;
    const std::size_t count = udp_datagram_count(udp_response_.size());
    for (std::size_t seq = 0; seq < count; ++seq) {
      auto* out = reinterpret_cast<char*>(datagram_->data.data());
      datagram_->len = static_cast<uint32_t>(
          write_udp_datagram(*id, udp_response_, seq, std::span<char>(out, kUdpMaxDatagramBytes)));
      datagram_->peer_ip = ip;
      datagram_->peer_port = port;
      auto w = stack_.udp_send(udp_, std::move(datagram_));
      if (!w.ok()) return;
      datagram_ = std::move(w.value());
    }
  }
}

}  // namespace rl::kv
