// The kvstore's server over redleaf's network stack: memcached's text
// protocol on TCP and UDP (apps/kvstore/protocol.hpp), the MICA-like table
// (table.hpp) placed in the shared heap.  An event handler for NetApp's
// loop, so the demo can run it next to the web server on one stack.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "apps/common/streams.hpp"
#include "apps/kvstore/protocol.hpp"
#include "apps/kvstore/table.hpp"
#include "idl/netstack.rl.hpp"

namespace rl::kv {

struct ServerOptions {
  uint16_t port = 11211;        // TCP and UDP, as memcached
  uint32_t memory_mib = 32;     // the table's memory: 16, 32, 64, 256 or 1024
  uint32_t partitions = 4;
  uint32_t max_connections = 1024;
};

class Server {
 public:
  // Places the table in the shared heap and listens.  Nothing, and why,
  // if either fails.
  static std::unique_ptr<Server> start(netstack::NetStack& stack, const ServerOptions& o, std::string* why_not);
  ~Server();

  // Handles the event if the socket is the server's; false if it is not.
  bool on_event(const netstack::Event& e);

  const Service& service() const { return *service_; }
  uint64_t udp_requests() const { return udp_requests_; }
  uint64_t refused() const { return refused_; }

 private:
  struct Connection {
    explicit Connection(Service& s) : session(s) {}
    Session session;
    std::string in;    // received, not yet taken by the session (it is paused on its output)
    std::string out;   // replies of this round, handed to the stream
  };
  using Map = std::map<int32_t, std::unique_ptr<Connection>>;

  Server(netstack::NetStack& stack, const ServerOptions& o) : stack_(stack), o_(o), streams_(stack) {}
  void accept_all();
  void serve(Map::iterator it);
  void answer_datagrams();

  netstack::NetStack& stack_;
  ServerOptions o_;
  app::Streams streams_;
  std::shared_ptr<void> memory_;   // the RRef holding the table's bytes (type depends on the size)
  std::optional<Table> table_;
  std::optional<Service> service_;
  int32_t listener_ = -1, udp_ = -1;
  Map conns_;
  RRef<netstack::Chunk> datagram_;
  std::string udp_response_;
  uint64_t udp_requests_ = 0, refused_ = 0;
};

}  // namespace rl::kv
