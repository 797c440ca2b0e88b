// rl-httpd's server: HTTP/1.1 connections over redleaf's network stack,
// as an event handler for NetApp's loop (so the demo can run it next to
// the kvstore on one stack).  Keep-alive and pipelining; a connection over
// max_connections is answered 503 and closed (not left hanging in a
// backlog); one idle longer than idle_timeout is closed, as nginx's
// keepalive_timeout does; a client that does not read its answers is held
// back by TCP flow control once kMaxBuffered of them wait.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "apps/common/streams.hpp"
#include "apps/httpd/files.hpp"
#include "apps/httpd/http.hpp"
#include "idl/netstack.rl.hpp"

namespace rl::httpd {

struct ServerConfig {
  uint16_t port = 80;
  uint32_t max_connections = 1000;
  double idle_timeout = 60;   // seconds
};

struct ServerStats {
  uint64_t requests = 0, accepted = 0, refused_503 = 0, idle_closed = 0;
  std::map<int, uint64_t> by_status;
};

class Server {
 public:
  Server(netstack::NetStack& stack, FileStore& files, ServerConfig config)
      : stack_(stack), files_(files), o_(config), streams_(stack) {}

  bool listen(std::string* why_not);
  // Handles the event if the socket is the server's; false if it is not.
  bool on_event(const netstack::Event& e);
  // Every round of the poll loop: closes idle connections even when no
  // socket has anything to say (the sweep looks once a second).
  void tick();
  const ServerStats& stats() const { return stats_; }

 private:
  struct Connection {
    RequestParser parser;
    std::string in;   // read, not yet parsed: only while answers wait (see serve)
    app::Streams::ReadState peer = app::Streams::ReadState::Open;   // End: the peer sent FIN; Reset: it is gone
    int64_t last_active_ms = 0;
  };
  using Map = std::map<int32_t, Connection>;

  void accept_all();
  void serve(Map::iterator it, bool closed_event = false);
  void forget(Map::iterator it);
  void sweep_idle();
  std::string_view date();

  static constexpr std::size_t kMaxBuffered = 4 << 20;   // pipelined answers waiting on a slow reader

  netstack::NetStack& stack_;
  FileStore& files_;
  ServerConfig o_;
  app::Streams streams_;
  HttpDate date_;
  int32_t listener_ = -1;
  Map conns_;
  int64_t now_ms_ = 0, last_sweep_ms_ = 0;
  ServerStats stats_;
};

}  // namespace rl::httpd
