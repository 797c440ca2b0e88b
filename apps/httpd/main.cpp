// rl-httpd: an HTTP/1.1 server on redleaf -- the driver and the TCP/IP
// stack in their own domains, the HTTP logic (apps/httpd/http.hpp) here.
//
//   rl-httpd [--root DIR] [--port 80] [--max-connections N] [--idle-timeout S] [NetApp options]
//
// Keep-alive and pipelining; a connection over --max-connections is answered
// 503 and closed (not left hanging in a backlog); a connection idle longer
// than --idle-timeout is closed, as nginx's keepalive_timeout does.
// SIGINT/SIGTERM or --time end it with a JSON summary on stdout.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "apps/common/net_app.hpp"
#include "apps/common/streams.hpp"
#include "apps/httpd/files.hpp"
#include "apps/httpd/http.hpp"

namespace {

using rl::app::Streams;
namespace httpd = rl::httpd;

struct Options {
  rl::app::NetAppOptions net;
  std::string root;
  uint16_t port = 80;
  uint32_t max_connections = 1000;
  double idle_timeout = 60;
};

[[noreturn]] void usage(const char* why) {
  if (why) fprintf(stderr, "rl-httpd: %s\n", why);
  fprintf(stderr,
          "usage: rl-httpd [--root DIR] [--port N] [--max-connections N] [--idle-timeout SECONDS] [options]\n"
          "  --root DIR              serve files from DIR (default: only the built-in page at /)\n"
          "  --port N                TCP port (default 80)\n"
          "  --max-connections N     open connections at most (default 1000; more are answered 503)\n"
          "  --idle-timeout S        close keep-alive connections idle that long (default 60)\n"
          "%s",
          rl::app::net_app_usage());
  std::exit(why ? 2 : 0);
}

Options parse(int argc, char** argv) {
  Options o;
  auto number = [](const std::string& flag, const std::string& v, double lo, double hi) {
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end || !(d >= lo && d <= hi))
      usage((flag + " " + v + ": expected a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]").c_str());
    return d;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") usage(nullptr);
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    std::string err;
    if (rl::app::parse_net_app_option(o.net, a, v, &err)) {
      if (!err.empty()) usage(err.c_str());
    } else if (a == "--root") {
      o.root = v;
    } else if (a == "--port") {
      o.port = static_cast<uint16_t>(number(a, v, 1, 65535));
    } else if (a == "--max-connections") {
      o.max_connections = static_cast<uint32_t>(number(a, v, 1, 60000));
    } else if (a == "--idle-timeout") {
      o.idle_timeout = number(a, v, 0.1, 86400);
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  return o;
}

struct Connection {
  httpd::RequestParser parser;
  std::string in;                     // read, not yet parsed: only while answers wait (see serve)
  Streams::ReadState peer = Streams::ReadState::Open;   // End: the peer sent FIN; Reset: it is gone
  int64_t last_active_ms = 0;
};

class Server {
 public:
  Server(rl::app::NetApp& app, const Options& o, httpd::FileStore& files)
      : app_(app), o_(o), files_(files), streams_(app.stack()) {}

  bool listen() {
    auto l = app_.stack().tcp_listen(o_.port, 1024);
    if (!l.ok() || l.value() < 0) {
      fprintf(stderr, "rl-httpd: cannot listen on port %u (%d)\n", o_.port, l.ok() ? l.value() : -1);
      return false;
    }
    listener_ = l.value();
    return true;
  }

  void on_event(const rl::netstack::Event& e) {
    now_ms_ = httpd::monotonic_ms();
    if (e.socket == listener_) return accept_all();
    auto it = conns_.find(e.socket);
    if (it == conns_.end()) {   // answered and closing once sent (or refused with 503)
      if (e.what & rl::netstack::kClosed) streams_.close(e.socket);
      else if (e.what & rl::netstack::kWritable) streams_.flush(e.socket);
      return;
    }
    bool resume = false;
    if (e.what & rl::netstack::kWritable) {
      if (!streams_.flush(e.socket) && !streams_.is_open(e.socket)) return forget(it);
      // serve() stopped at kMaxBuffered: go on once half of it is sent.
      resume = streams_.waiting(e.socket) <= kMaxBuffered / 2;
    }
    if (resume || (e.what & (rl::netstack::kReadable | rl::netstack::kClosed)))
      serve(it, (e.what & rl::netstack::kClosed) != 0);
    sweep_idle();
  }

  // Every round of the poll loop: closes idle connections even when no
  // socket has anything to say (sweep_idle looks once a second).
  void tick() {
    now_ms_ = httpd::monotonic_ms();
    sweep_idle();
  }

  void summary(const rl::app::NetApp::Summary& s) const {
    std::string by_status;
    for (auto& [code, n] : statuses_) by_status += (by_status.empty() ? "" : ", ") + ("\"" + std::to_string(code) + "\": " + std::to_string(n));
    printf("{\"tool\": \"rl-httpd\", \"seconds\": %.2f, \"requests\": %lu, \"status\": {%s}, \"connections\": %lu, "
           "\"refused_503\": %lu, \"idle_closed\": %lu, \"driver_crashes\": %lu, \"driver_recoveries\": %lu, "
           "\"frames_in\": %lu, \"frames_out\": %lu}\n",
           s.seconds, requests_, by_status.c_str(), accepted_, refused_, idle_closed_, s.driver_crashes,
           s.driver_recoveries, s.frames_in, s.frames_out);
  }

 private:
  using Map = std::map<int32_t, Connection>;

  void accept_all() {
    for (;;) {
      auto r = app_.stack().accept(listener_);
      if (!r.ok() || r.value() < 0) return;
      const int32_t s = r.value();
      streams_.adopt(s);
      if (conns_.size() >= o_.max_connections) {
        // Graceful refusal: a complete answer, then close -- the client
        // knows to come back, instead of waiting on a full backlog.
        auto resp = httpd::error_response(503, false, false, date());
        streams_.write(s, resp.head);
        streams_.write(s, resp.body);
        streams_.close_when_sent(s);
        ++refused_;
        continue;
      }
      ++accepted_;
      conns_[s].last_active_ms = now_ms_;
    }
  }

  void serve(Map::iterator it, bool closed_event = false) {
    const int32_t s = it->first;
    Connection& c = it->second;
    c.last_active_ms = now_ms_;
    // Read no more than one request's worth ahead: the parser answers a
    // request over its limits as soon as the first byte over arrives.  And
    // read nothing while kMaxBuffered of answers wait on a client that does
    // not read them: what it sends meanwhile stays in the stack, under TCP
    // flow control, instead of growing `in` without bound.  (A reset is
    // still read: it ends the connection.)
    if (c.peer == Streams::ReadState::Open && (streams_.waiting(s) < kMaxBuffered || closed_event))
      c.peer = streams_.read(s, c.in, 64 * 1024);
    std::string_view in = c.in;
    bool open = true;
    while (open && !in.empty() && streams_.waiting(s) < kMaxBuffered) {
      httpd::FeedResult r = c.parser.feed(in);
      in.remove_prefix(r.consumed);
      if (r.status == httpd::ParseStatus::NeedMore) break;
      httpd::Response resp = r.status == httpd::ParseStatus::Done
                                 ? httpd::respond(c.parser.request(), files_, now_ms_, date())
                                 : httpd::error_response(c.parser.error_status(), false, false, date());
      ++requests_;
      ++statuses_[resp.status];
      streams_.write(s, resp.head);
      if (!resp.body.empty()) streams_.write(s, resp.body);
      if (!resp.keep_alive) {
        streams_.close_when_sent(s);
        open = false;
        break;
      }
      c.parser.reset();
    }
    c.in.erase(0, c.in.size() - in.size());
    if (open && c.peer == Streams::ReadState::Reset) {
      streams_.close(s);   // the peer is gone: nobody reads the answers
    } else if (open && c.peer == Streams::ReadState::End && c.in.empty()) {
      streams_.close_when_sent(s);   // the peer is done sending: everything it sent is answered
    }
    if (!streams_.is_open(s) || streams_.closing(s)) forget(it);
  }

  void forget(Map::iterator it) { conns_.erase(it); }

  void sweep_idle() {
    if (now_ms_ - last_sweep_ms_ < 1000) return;
    last_sweep_ms_ = now_ms_;
    const auto limit = static_cast<int64_t>(o_.idle_timeout * 1000);
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (now_ms_ - it->second.last_active_ms > limit && streams_.waiting(it->first) == 0) {
        streams_.close(it->first);
        ++idle_closed_;
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::string_view date() { return date_.at(std::time(nullptr)); }

  static constexpr std::size_t kMaxBuffered = 4 << 20;   // pipelined answers waiting on a slow reader

  rl::app::NetApp& app_;
  const Options& o_;
  httpd::FileStore& files_;
  Streams streams_;
  httpd::HttpDate date_;
  int32_t listener_ = -1;
  Map conns_;
  int64_t now_ms_ = 0, last_sweep_ms_ = 0;
  uint64_t requests_ = 0, accepted_ = 0, refused_ = 0, idle_closed_ = 0;
  std::map<int, uint64_t> statuses_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  httpd::FileStoreOptions fo;
  fo.root = o.root;
  httpd::FileStore files(fo);
  if (std::string why = files.check_root(); !why.empty()) {
    fprintf(stderr, "rl-httpd: %s\n", why.c_str());
    return 2;
  }
  std::string err;
  auto app = rl::app::NetApp::open(o.net, &err);
  if (!app) {
    fprintf(stderr, "rl-httpd: %s\n", err.c_str());
    return 1;
  }
  Server server(*app, o, files);
  if (!server.listen()) return 1;
  fprintf(stderr, "rl-httpd: serving %s on http://%s:%u/ (driver %s, device %s)\n",
          o.root.empty() ? "the built-in page" : o.root.c_str(), app->address().c_str(), o.port,
          o.net.shadow ? "behind its shadow" : "in its domain", o.net.device.c_str());
  int rc = app->run([&](const rl::netstack::Event& e) { server.on_event(e); }, [&] { server.tick(); });
  server.summary(app->summary());
  return rc;
}
