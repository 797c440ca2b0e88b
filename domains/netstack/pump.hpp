// The pump: trusted code that moves frames between a Net (a driver domain,
// its shadow, or a driver called directly) and a NetStack (the stack domain).
// One poll() is one round of the application's loop:
//   receive a batch -> the stack takes it and fills it with its replies ->
//   transmit them -> the emptied buffers are the next receive batch.
// The batch moves by ownership: no frame is copied between the driver and
// the stack.  Frames the driver cannot take (a full ring) are offered again
// a few times, then dropped and counted: TCP sends them again.
#pragma once

#include <cstdint>

#include "idl/net.rl.hpp"
#include "idl/netstack.rl.hpp"

namespace rl::netstack {

class Pump {
 public:
  struct Counters {
    uint64_t frames_in = 0, frames_out = 0, tx_dropped = 0;
  };
  enum class Failed { None, Driver, Stack };

  Pump(net::Net& net, NetStack& stack, uint32_t batch = static_cast<uint32_t>(net::kNetBatch))
      : net_(net), stack_(stack), frames_(net::PacketBatch::make()) {
    for (uint32_t i = 0; i < batch; ++i) (void)frames_.push_back(RRef<net::Packet>::make());
  }

  // One round.  Returns the frames moved (received + sent), or -1 when the
  // driver or the stack failed (see failed()): the batch went down with the
  // callee, and the pump is done.
  int64_t poll() {
    auto rx = net_.submit_and_poll(std::move(frames_), false);
    if (!rx.ok()) return fail(Failed::Driver);
    frames_ = std::move(rx.value());
    uint64_t in = 0;
    while (in < frames_.size() && frames_[in]->len) ++in;
    auto out = stack_.exchange(std::move(frames_));
    if (!out.ok()) return fail(Failed::Stack);
    frames_ = std::move(out.value());
    uint64_t sent = 0;
    std::size_t pending = 0;   // the stack's frames come first
    while (pending < frames_.size() && frames_[pending]->len) ++pending;
    for (int attempt = 0; pending && attempt < kTxAttempts; ++attempt) {
      auto tx = net_.submit_and_poll(std::move(frames_), true);
      if (!tx.ok()) return fail(Failed::Driver);
      frames_ = std::move(tx.value());
      const std::size_t left = waiting();
      sent += pending - left;
      pending = left;
    }
    if (pending)
      for (std::size_t i = 0; i < frames_.size(); ++i)
        if (frames_[i]->len) {   // the driver never took it
          frames_[i]->len = 0;
          ++counters_.tx_dropped;
        }
    counters_.frames_in += in;
    counters_.frames_out += sent;
    return static_cast<int64_t>(in + sent);
  }

  Failed failed() const noexcept { return failed_; }
  const Counters& counters() const noexcept { return counters_; }

 private:
  static constexpr int kTxAttempts = 4;   // a ring full for four rounds in a row is congestion, not a hiccup

  std::size_t waiting() {   // after a transmit, unsent frames may be anywhere
    std::size_t n = 0;
    for (std::size_t i = 0; i < frames_.size(); ++i) n += frames_[i]->len != 0;
    return n;
  }
  int64_t fail(Failed who) {
    failed_ = who;
    return -1;
  }
  net::Net& net_;
  NetStack& stack_;
  net::PacketBatch frames_;
  Failed failed_ = Failed::None;
  Counters counters_{};
};

}  // namespace rl::netstack
