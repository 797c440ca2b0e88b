#include "apps/common/streams.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace rl::app {

Streams::Streams(netstack::NetStack& stack) : stack_(stack), chunk_(RRef<netstack::Chunk>::make()) {}

void Streams::adopt(int32_t s) {
  const auto i = static_cast<std::size_t>(s);
  if (i >= outs_.size()) outs_.resize(i + 1);
  outs_[i] = Out{};
  outs_[i].open = true;
}

bool Streams::is_open(int32_t s) const {
  const auto i = static_cast<std::size_t>(s);
  return s >= 0 && i < outs_.size() && outs_[i].open;
}

Streams::Out& Streams::out(int32_t s) { return outs_[static_cast<std::size_t>(s)]; }

Streams::ReadState Streams::read(int32_t s, std::string& in, std::size_t max) {
  if (!is_open(s)) return ReadState::Reset;
  const std::size_t limit = in.size() + max;
  while (in.size() < limit) {
    auto r = stack_.recv(s, std::move(chunk_));
    if (!r.ok()) return ReadState::Reset;   // the stack failed; NetApp reports it on the next round
    chunk_ = std::move(r.value());
    const int32_t st = chunk_->status;
    if (st > 0) {
      in.append(reinterpret_cast<const char*>(chunk_->data.data()), chunk_->len);
      continue;
    }
    if (st == -EAGAIN) return ReadState::Open;
    return st == 0 ? ReadState::End : ReadState::Reset;
  }
  return ReadState::Open;
}

bool Streams::write(int32_t s, std::string_view bytes) {
  if (!is_open(s)) return false;
  Out& o = out(s);
  if (o.sent == o.bytes.size()) {
    o.bytes.clear();
    o.sent = 0;
  } else if (o.sent >= 64 * 1024 && o.sent >= o.bytes.size() / 2) {
    // A writer that keeps adding while a slow reader keeps the buffer from
    // emptying (pipelined answers) would otherwise keep every byte ever sent.
    o.bytes.erase(0, o.sent);
    o.sent = 0;
  }
  o.bytes.append(bytes);
  return flush(s);
}

bool Streams::flush(int32_t s) {
  if (!is_open(s)) return false;
  Out& o = out(s);
  while (o.sent < o.bytes.size()) {
    const std::size_t n = std::min<std::size_t>(o.bytes.size() - o.sent, netstack::kChunkBytes);
    std::memcpy(chunk_->data.data(), o.bytes.data() + o.sent, n);
    chunk_->len = static_cast<uint32_t>(n);
    auto r = stack_.send(s, std::move(chunk_));
    if (!r.ok()) return false;
    chunk_ = std::move(r.value());
    if (chunk_->status == -EAGAIN) break;   // the window is full: kWritable comes when it opens
    if (chunk_->status < 0) {
      close(s);
      return false;
    }
    o.sent += static_cast<std::size_t>(chunk_->status);
    if (static_cast<std::size_t>(chunk_->status) < n) break;
  }
  if (o.sent == o.bytes.size()) {
    o.bytes.clear();
    o.sent = 0;
    if (o.close_after) {
      close(s);
      return false;
    }
  }
  return true;
}

std::size_t Streams::waiting(int32_t s) const {
  return is_open(s) ? outs_[static_cast<std::size_t>(s)].bytes.size() - outs_[static_cast<std::size_t>(s)].sent : 0;
}

void Streams::close_when_sent(int32_t s) {
  if (!is_open(s)) return;
  if (waiting(s) == 0) return close(s);
  out(s).close_after = true;
}

void Streams::close(int32_t s) {
  if (!is_open(s)) return;   // closed already: the number may be someone else's now
  outs_[static_cast<std::size_t>(s)] = Out{};
  (void)stack_.close(s);
}

bool Streams::closing(int32_t s) const { return is_open(s) && outs_[static_cast<std::size_t>(s)].close_after; }

}  // namespace rl::app
