#include "domains/shadow/net/net_shadow.hpp"

#include <thread>

#include "domains/shadow/recovery.hpp"

namespace rl::net {

NetDeviceShadow::NetDeviceShadow(Domain& driver, pci::DeviceRef device, Config cfg)
    : domain_(driver), proxy_(driver), cfg_(cfg) {
  if (device.id) shadow::reset_device_on_failure(driver, device);   // no DMA into the dead driver's rings
}

bool NetDeviceShadow::restart_driver() {
  if (!shadow::restart(domain_, cfg_.max_attempts, cfg_.backoff)) return false;
  base_ = device_stats();   // the new incarnation counts from zero
  last_ = {};
  return true;
}

template <class F>
auto NetDeviceShadow::with_recovery(F&& call) -> decltype(call()) {
  return shadow::call_with_recovery(call, cfg_.max_attempts, [this] { return restart_driver(); }, log_);
}

void NetDeviceShadow::count(const PacketBatch& q, bool tx, uint64_t frames_in, uint64_t bytes_in) {
  uint64_t frames = 0, bytes = 0;
  auto& batch = const_cast<PacketBatch&>(q);   // read only
  for (std::size_t i = 0; i < batch.size(); ++i) {
    uint16_t len = batch[i] ? batch[i]->len : 0;
    if (!tx && len == 0) break;   // received frames come first, empty buffers after
    frames += len != 0;
    bytes += len;
  }
  if (tx) {   // sent: what went in and did not come back
    counted_.tx_packets += frames_in - frames;
    counted_.tx_bytes += bytes_in - bytes;
  } else {
    counted_.rx_packets += frames;
    counted_.rx_bytes += bytes;
  }
}

RpcResult<PacketBatch> NetDeviceShadow::submit_and_poll(PacketBatch packets, bool tx) {
  if (!packets) return packets;
  uint64_t frames_in = 0, bytes_in = 0;
  if (tx) {
    for (std::size_t i = 0; i < packets.size(); ++i) {
      sent_[i] = packets[i].get();
      sent_len_[i] = packets[i] ? packets[i]->len : 0;
      frames_in += sent_len_[i] != 0;
      bytes_in += sent_len_[i];
    }
    for (std::size_t i = packets.size(); i < kNetBatch; ++i) sent_[i] = nullptr;
  }
  DequeHold<RRef<Packet>, kNetBatch> hold(packets);
  auto r = proxy_.submit_and_poll(std::move(packets), tx);
  if (r.ok()) {
    count(r.value(), tx, frames_in, bytes_in);
    return r;   // the hold ends here
  }
  if (r.error() != RpcError::DomainFailed) return r;
  auto out = recover(hold, tx);
  if (out.ok()) count(out.value(), tx, frames_in, bytes_in);
  return out;
}

// A frame of the last transmit call that the driver never touched: same
// buffer, same length.
bool NetDeviceShadow::untouched(const RRef<Packet>& p) const {
  for (std::size_t k = 0; k < kNetBatch && sent_[k]; ++k)
    if (sent_[k] == p.get() && sent_len_[k] == p->len && p->len != 0) return true;
  return false;
}

RpcResult<PacketBatch> NetDeviceShadow::recover(DequeHold<RRef<Packet>, kNetBatch>& hold, bool tx) {
  auto since = shadow::RecoveryLog::Clock::now();
  if (!restart_driver()) return detail::Trusted::error<PacketBatch>(RpcError::DomainFailed);
  PacketBatch batch = hold.adopt();   // orphaned by the death: as the driver left it
  if (!batch) batch = PacketBatch::make();
  // Frames the driver had already taken into its ring: sent or not, no one
  // can tell (the device was reset).  Counted, never resent.
  for (std::size_t k = 0; tx && k < kNetBatch && sent_[k]; ++k) {
    bool still_here = false;
    for (std::size_t i = 0; i < batch.size() && !still_here; ++i) still_here = batch[i].get() == sent_[k];
    unknown_fate_ += !still_here && sent_len_[k] != 0;
  }
  std::size_t resend = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    RRef<Packet>& p = batch[i];
    if (!p) p = RRef<Packet>::make_aligned(64);   // the driver had moved it away: a fresh buffer
    if (tx && untouched(p)) ++resend;
    else p->len = 0;   // a buffer to refill (received frames of the dead driver are dropped)
  }
  log_.record(since);
  if (!tx || resend == 0) return batch;
  resent_ += resend;
  DequeHold<RRef<Packet>, kNetBatch> again(batch);
  auto r = proxy_.submit_and_poll(std::move(batch), true);   // once
  if (r.ok()) return r;
  if (r.error() != RpcError::DomainFailed || !restart_driver()) return r;
  // Failed again: not resent a second time.  Frames still untouched go back
  // unsent, with their lengths (the caller may try them again); the rest are buffers.
  PacketBatch left = again.adopt();
  if (!left) left = PacketBatch::make();
  for (std::size_t i = 0; i < left.size(); ++i) {
    if (!left[i]) left[i] = RRef<Packet>::make_aligned(64);
    if (untouched(left[i])) ++unsent_;
    else left[i]->len = 0;
  }
  return left;
}

RpcResult<LinkState> NetDeviceShadow::link() {
  return with_recovery([&] { return proxy_.link(); });
}

RpcResult<NetStats> NetDeviceShadow::stats() {
  auto r = with_recovery([&] { return proxy_.stats(); });
  if (!r.ok()) return r;
  last_ = r.value();
  NetStats s = counted_;   // packets and bytes as they passed through here
  s.rx_dropped = base_.rx_dropped + last_.rx_dropped;
  s.tx_dropped = base_.tx_dropped + last_.tx_dropped;
  return s;
}

NetStats NetDeviceShadow::device_stats() const noexcept {
  return NetStats{base_.rx_packets + last_.rx_packets, base_.tx_packets + last_.tx_packets,
                  base_.rx_bytes + last_.rx_bytes,     base_.tx_bytes + last_.tx_bytes,
                  base_.rx_dropped + last_.rx_dropped, base_.tx_dropped + last_.tx_dropped};
}

RpcResult<std::array<uint8_t, 6>> NetDeviceShadow::mac_address() {
  return with_recovery([&] { return proxy_.mac_address(); });
}

}  // namespace rl::net
