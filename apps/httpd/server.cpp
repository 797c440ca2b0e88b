#include "apps/httpd/server.hpp"

#include <ctime>

namespace rl::httpd {

bool Server::listen(std::string* why_not) {
  auto l = stack_.tcp_listen(o_.port, 1024);
  if (!l.ok() || l.value() < 0) {
    *why_not = "cannot listen on port " + std::to_string(o_.port) + " (" + std::to_string(l.ok() ? l.value() : -1) + ")";
    return false;
  }
  listener_ = l.value();
  return true;
}

bool Server::on_event(const netstack::Event& e) {
    now_ms_ = monotonic_ms();
    if (e.socket == listener_) {
      accept_all();
      return true;
    }
    auto it = conns_.find(e.socket);
    if (it == conns_.end()) {   // answered and closing once sent (or refused with 503), or not ours
      if (!streams_.is_open(e.socket)) return false;
      if (e.what & netstack::kClosed) streams_.close(e.socket);
      else if (e.what & netstack::kWritable) streams_.flush(e.socket);
      return true;
    }
    bool resume = false;
    if (e.what & rl::netstack::kWritable) {
      if (!streams_.flush(e.socket) && !streams_.is_open(e.socket)) {
        forget(it);
        return true;
      }
      // serve() stopped at kMaxBuffered: go on once half of it is sent.
      resume = streams_.waiting(e.socket) <= kMaxBuffered / 2;
    }
    if (resume || (e.what & (netstack::kReadable | netstack::kClosed)))
      serve(it, (e.what & netstack::kClosed) != 0);
    sweep_idle();
    return true;
}

void Server::tick() {
    now_ms_ = monotonic_ms();
    sweep_idle();
}

void Server::accept_all() {
    for (;;) {
      auto r = stack_.accept(listener_);
      if (!r.ok() || r.value() < 0) return;
      const int32_t s = r.value();
      streams_.adopt(s);
      if (conns_.size() >= o_.max_connections) {
        // Graceful refusal: a complete answer, then close -- the client
        // knows to come back, instead of waiting on a full backlog.
        auto resp = error_response(503, false, false, date());
        streams_.write(s, resp.head);
        streams_.write(s, resp.body);
        streams_.close_when_sent(s);
        ++stats_.refused_503;
        continue;
      }
      ++stats_.accepted;
      conns_[s].last_active_ms = now_ms_;
    }
  }

void Server::serve(Map::iterator it, bool closed_event) {
    const int32_t s = it->first;
    Connection& c = it->second;
    c.last_active_ms = now_ms_;
    // Read no more than one request's worth ahead: the parser answers a
    // request over its limits as soon as the first byte over arrives.  And
    // read nothing while kMaxBuffered of answers wait on a client that does
    // not read them: what it sends meanwhile stays in the stack, under TCP
    // flow control, instead of growing `in` without bound.  (A reset is
    // still read: it ends the connection.)
    if (c.peer == app::Streams::ReadState::Open && (streams_.waiting(s) < kMaxBuffered || closed_event))
      c.peer = streams_.read(s, c.in, 64 * 1024);
    std::string_view in = c.in;
    bool open = true;
    while (open && !in.empty() && streams_.waiting(s) < kMaxBuffered) {
      FeedResult r = c.parser.feed(in);
      in.remove_prefix(r.consumed);
      if (r.status == ParseStatus::NeedMore) break;
      httpd::Response resp = r.status == ParseStatus::Done
                                 ? respond(c.parser.request(), files_, now_ms_, date())
                                 : error_response(c.parser.error_status(), false, false, date());
      ++stats_.requests;
      ++stats_.by_status[resp.status];
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
    if (open && c.peer == app::Streams::ReadState::Reset) {
      streams_.close(s);   // the peer is gone: nobody reads the answers
    } else if (open && c.peer == app::Streams::ReadState::End && c.in.empty()) {
      streams_.close_when_sent(s);   // the peer is done sending: everything it sent is answered
    }
    if (!streams_.is_open(s) || streams_.closing(s)) forget(it);
  }

void Server::forget(Map::iterator it) { conns_.erase(it); }

void Server::sweep_idle() {
    if (now_ms_ - last_sweep_ms_ < 1000) return;
    last_sweep_ms_ = now_ms_;
    const auto limit = static_cast<int64_t>(o_.idle_timeout * 1000);
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (now_ms_ - it->second.last_active_ms > limit && streams_.waiting(it->first) == 0) {
        streams_.close(it->first);
        ++stats_.idle_closed;
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }

std::string_view Server::date() { return date_.at(std::time(nullptr)); }

}  // namespace rl::httpd
