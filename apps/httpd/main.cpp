// rl-httpd: an HTTP/1.1 server on redleaf -- the driver and the TCP/IP
// stack in their own domains, the HTTP logic (apps/httpd/http.hpp) here.
//
//   rl-httpd [--root DIR] [--port 80] [--max-connections N] [--idle-timeout S] [NetApp options]
//   rl-httpd --root rlfs:/www --fs IMAGE ...   the root inside an rlfs image (issue #9)
//
// Keep-alive and pipelining; a connection over --max-connections is answered
// 503 and closed (not left hanging in a backlog); a connection idle longer
// than --idle-timeout is closed, as nginx's keepalive_timeout does.
// SIGINT/SIGTERM or --time end it with a JSON summary on stdout.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "apps/common/net_app.hpp"
#include "apps/httpd/files.hpp"
#include "apps/httpd/http.hpp"
#include "apps/httpd/rlfs_source.hpp"
#include "apps/httpd/server.hpp"

namespace {

namespace httpd = rl::httpd;

struct Options {
  rl::app::NetAppOptions net;
  std::string root;
  std::string fs_image;   // --fs: the rlfs image behind --root rlfs:/DIR
  httpd::ServerConfig server;
};

[[noreturn]] void usage(const char* why) {
  if (why) fprintf(stderr, "rl-httpd: %s\n", why);
  fprintf(stderr,
          "usage: rl-httpd [--root DIR] [--port N] [--max-connections N] [--idle-timeout SECONDS] [options]\n"
          "  --root DIR              serve files from DIR (default: only the built-in page at /)\n"
          "  --root rlfs:/DIR --fs IMAGE\n"
          "                          serve DIR of an rlfs image (rl-mkfs; put files with rl-sh)\n"
          "  --port N                TCP port (default 80)\n"
          "  --max-connections N     open connections at most (default 1000; more are answered 503)\n"
          "  --idle-timeout S        close keep-alive connections idle that long (default 60)\n"
          "%s",
          rl::app::net_app_usage());
  std::exit(why ? 2 : 0);
}

Options parse(int argc, char** argv) {
  Options o;
  rl::app::parse_app_options(argc, argv, o.net, usage, [&](const std::string& a, const std::string& v) {
    using rl::app::integer_option, rl::app::number_option;
    if (a == "--root") o.root = v;
    else if (a == "--fs") o.fs_image = v;
    else if (a == "--port") o.server.port = static_cast<uint16_t>(integer_option(a, v, 1, 65535, usage));
    else if (a == "--max-connections") o.server.max_connections = static_cast<uint32_t>(integer_option(a, v, 1, 60000, usage));
    else if (a == "--idle-timeout") o.server.idle_timeout = number_option(a, v, 0.1, 86400, usage);
    else return false;
    return true;
  });
  const bool rlfs = o.root.rfind("rlfs:", 0) == 0;
  if (rlfs && o.fs_image.empty()) usage("--root rlfs:/DIR needs --fs IMAGE (an rlfs image or device spec)");
  if (!rlfs && !o.fs_image.empty()) usage("--fs IMAGE goes with --root rlfs:/DIR");
  if (rlfs && (o.root.size() < 6 || o.root[5] != '/')) usage("--root rlfs:/DIR takes an absolute path, e.g. rlfs:/www");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  httpd::FileStoreOptions fo;
  fo.root = o.root;
  std::unique_ptr<httpd::RlfsSource> rlfs;
  std::string err;
  if (!o.fs_image.empty()) {
    rlfs = httpd::RlfsSource::open(o.fs_image, &err);
    if (!rlfs) {
      fprintf(stderr, "rl-httpd: %s\n", err.c_str());
      return 1;
    }
    fo.root = o.root.substr(5);
    fo.source = rlfs.get();
  }
  httpd::FileStore files(fo);
  if (std::string why = files.check_root(); !why.empty()) {
    fprintf(stderr, "rl-httpd: %s\n", why.c_str());
    return 2;
  }
  auto app = rl::app::NetApp::open(o.net, &err);
  if (!app) {
    fprintf(stderr, "rl-httpd: %s\n", err.c_str());
    return 1;
  }
  httpd::Server server(app->stack(), files, o.server);
  if (!server.listen(&err)) {
    fprintf(stderr, "rl-httpd: %s\n", err.c_str());
    return 1;
  }
  fprintf(stderr, "rl-httpd: serving %s on http://%s:%u/ (driver %s, device %s)\n",
          o.root.empty() ? "the built-in page" : (o.root + (rlfs ? " of " + o.fs_image : "")).c_str(), app->address().c_str(), o.server.port,
          o.net.shadow ? "behind its shadow" : "in its domain", o.net.device.c_str());
  int rc = app->run([&](const rl::netstack::Event& e) { (void)server.on_event(e); }, [&] { server.tick(); });
  const auto s = app->summary();
  const auto& st = server.stats();
  std::string by_status;
  for (auto& [code, n] : st.by_status)
    by_status += (by_status.empty() ? "" : ", ") + ("\"" + std::to_string(code) + "\": " + std::to_string(n));
  printf("{\"tool\": \"rl-httpd\", \"seconds\": %.2f, \"requests\": %lu, \"status\": {%s}, \"connections\": %lu, "
         "\"refused_503\": %lu, \"idle_closed\": %lu, \"driver_crashes\": %lu, \"driver_recoveries\": %lu, "
         "\"frames_in\": %lu, \"frames_out\": %lu}\n",
         s.seconds, st.requests, by_status.c_str(), st.accepted, st.refused_503, st.idle_closed, s.driver_crashes,
         s.driver_recoveries, s.frames_in, s.frames_out);
  return rc;
}
