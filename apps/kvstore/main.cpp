// rl-kvstore: a memcached-compatible key-value store on redleaf -- the
// driver and the TCP/IP stack in their domains, the protocol and the
// MICA-like table (in the shared heap) here.
//
//   rl-kvstore [--port 11211] [--memory MIB] [--partitions P] [--max-connections N] [NetApp options]
//
// Speaks memcached's text protocol over TCP and over UDP (with its 8-byte
// frame header), so memcached's own clients work.  SIGINT/SIGTERM or --time
// end it with a JSON summary on stdout.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "apps/common/net_app.hpp"
#include "apps/kvstore/server.hpp"

namespace {

struct Options {
  rl::app::NetAppOptions net;
  rl::kv::ServerOptions kv;
};

[[noreturn]] void usage(const char* why) {
  if (why) fprintf(stderr, "rl-kvstore: %s\n", why);
  fprintf(stderr,
          "usage: rl-kvstore [--port N] [--memory MIB] [--partitions P] [--max-connections N] [options]\n"
          "  --port N              TCP and UDP port (default 11211)\n"
          "  --memory MIB          the table's memory in the shared heap: 16, 32 (default), 64, 256 or 1024\n"
          "  --partitions P        table partitions, a power of two (default 4)\n"
          "  --max-connections N   open connections at most (default 1024)\n"
          "%s",
          rl::app::net_app_usage());
  std::exit(why ? 2 : 0);
}

Options parse(int argc, char** argv) {
  Options o;
  rl::app::parse_app_options(argc, argv, o.net, usage, [&](const std::string& a, const std::string& v) {
    using rl::app::integer_option;
    if (a == "--port") o.kv.port = static_cast<uint16_t>(integer_option(a, v, 1, 65535, usage));
    else if (a == "--memory") o.kv.memory_mib = static_cast<uint32_t>(integer_option(a, v, 16, 1024, usage));
    else if (a == "--partitions") o.kv.partitions = static_cast<uint32_t>(integer_option(a, v, 1, 256, usage));
    else if (a == "--max-connections") o.kv.max_connections = static_cast<uint32_t>(integer_option(a, v, 1, 60000, usage));
    else return false;
    return true;
  });
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::string err;
  auto app = rl::app::NetApp::open(o.net, &err);
  if (!app) {
    fprintf(stderr, "rl-kvstore: %s\n", err.c_str());
    return 1;
  }
  auto server = rl::kv::Server::start(app->stack(), o.kv, &err);
  if (!server) {
    fprintf(stderr, "rl-kvstore: %s\n", err.c_str());
    return 2;
  }
  fprintf(stderr, "rl-kvstore: memcached protocol on %s:%u, TCP and UDP, %u MiB in %u partitions (driver %s, device %s)\n",
          app->address().c_str(), o.kv.port, o.kv.memory_mib, o.kv.partitions,
          o.net.shadow ? "behind its shadow" : "in its domain", o.net.device.c_str());
  int rc = app->run([&](const rl::netstack::Event& e) { (void)server->on_event(e); });
  const auto s = app->summary();
  const auto& st = server->service().stats();
  printf("{\"tool\": \"rl-kvstore\", \"seconds\": %.2f, \"cmd_get\": %lu, \"cmd_set\": %lu, \"get_hits\": %lu, "
         "\"get_misses\": %lu, \"udp_requests\": %lu, \"connections\": %lu, \"refused\": %lu, "
         "\"driver_crashes\": %lu, \"driver_recoveries\": %lu}\n",
         s.seconds, st.cmd_get, st.cmd_set, st.get_hits, st.get_misses, server->udp_requests(), st.total_connections,
         server->refused(), s.driver_crashes, s.driver_recoveries);
  return rc;
}
