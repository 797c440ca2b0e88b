#include "domains/shadow/bdev/bdev_shadow.hpp"

#include <cerrno>
#include <thread>
#include <utility>

#include "domains/shadow/recovery.hpp"

namespace rl::blk {

BlockDeviceShadow::BlockDeviceShadow(Domain& driver, pci::DeviceRef device, Config cfg)
    : domain_(driver), proxy_(driver), cfg_(cfg) {
  shadow::reset_device_on_failure(driver, device);   // no DMA into the dead driver's queues
}

bool BlockDeviceShadow::restart_driver() { return shadow::restart(domain_, cfg_.max_attempts, cfg_.backoff); }

template <class F>
auto BlockDeviceShadow::with_recovery(F&& call) -> decltype(call()) {
  return shadow::call_with_recovery(call, cfg_.max_attempts, [this] { return recover_and_replay(); }, log_);
}

uint32_t BlockDeviceShadow::take_slot() {
  if (free_.empty()) {
    free_.push_back(static_cast<uint32_t>(ledger_.size()));
    ledger_.emplace_back();
  }
  uint32_t s = free_.back();
  free_.pop_back();
  ledger_[s].used = true;
  return s;
}

// The common case: every request in `done` is ours -- caller's tags back in
// place, without moving a request.  Anything odd takes the careful path.
void BlockDeviceShadow::complete_in_place(BlkBatch& done) {
  for (std::size_t i = 0; i < done.size(); ++i) {
    uint64_t t = done[i].tag;
    if (t >= ledger_.size() || !ledger_[t].used) return collect(done);
  }
  for (std::size_t i = 0; i < done.size(); ++i) {
    BlkReq& r = done[i];
    InFlight& f = ledger_[r.tag];
    free_.push_back(static_cast<uint32_t>(r.tag));
    r.tag = f.caller_tag;
    f.hold.release();
    f.used = false;
  }
}

void BlockDeviceShadow::collect(BlkBatch& done) {
  BlkReq r;
  while (done.pop_front(r)) {
    // The driver is not trusted: a tag that is not in flight is dropped.
    if (r.tag >= ledger_.size() || !ledger_[r.tag].used) continue;
    InFlight& f = ledger_[r.tag];
    r.tag = f.caller_tag;
    f.hold.release();
    f.used = false;
    free_.push_back(static_cast<uint32_t>(&f - ledger_.data()));
    ready_.push_back(std::move(r));
  }
}

// Restart, then hand every request of the ledger to the new driver: their
// buffers were orphaned by the old one's death and are adopted back.
bool BlockDeviceShadow::recover_and_replay() {
  for (uint32_t round = 0; round < cfg_.max_attempts; ++round) {
    if (!restart_driver()) return false;
    bool failed = false;
    auto batch = BlkBatch::make();
    for (uint32_t s = 0; s < ledger_.size() && !failed; ++s) {
      InFlight& f = ledger_[s];
      if (!f.used) continue;
      RRef<Block> buf = f.hold.adopt();
      if (!buf && f.hold) continue;   // not orphaned: still alive elsewhere (cannot happen after a death)
      f.hold = Hold<Block>(buf);
      (void)batch.push_back(BlkReq{f.lba, s, f.op, 0, std::move(buf)});
      ++replayed_;
      if (batch.full()) {
        auto r = proxy_.submit_and_poll(std::move(batch));
        if (!r.ok()) failed = true;
        else collect(r.value());
        batch = BlkBatch::make();
      }
    }
    if (!failed && !batch.empty()) {
      auto r = proxy_.submit_and_poll(std::move(batch));
      if (!r.ok()) failed = true;
      else collect(r.value());
    }
    if (!failed) return true;   // the replay is in; the rest completes in later calls
  }
  return false;
}

RpcResult<DeviceInfo> BlockDeviceShadow::info() {
  return with_recovery([&] { return proxy_.info(); });
}

RpcResult<int32_t> BlockDeviceShadow::write(uint64_t lba, const RRef<Block>& buf) {
  return with_recovery([&] { return proxy_.write(lba, buf); });   // the proxy borrows buf for the call
}

RpcResult<int32_t> BlockDeviceShadow::flush() {
  return with_recovery([&] { return proxy_.flush(); });
}

RpcResult<QueueStats> BlockDeviceShadow::stats() {
  return with_recovery([&] { return proxy_.stats(); });
}

RpcResult<BlockResult> BlockDeviceShadow::read(uint64_t lba, RRef<Block> buf) {
  Hold<Block> hold(buf);
  bool retry = false;
  return with_recovery([&] {
    if (std::exchange(retry, true)) {   // the buffer died with the driver and is ours again
      buf = hold.adopt();
      if (!buf) buf = RRef<Block>::make_aligned(4096);
      hold = Hold<Block>(buf);
    }
    return proxy_.read(lba, std::move(buf));
  });
}

RpcResult<BlkBatch> BlockDeviceShadow::submit_and_poll(BlkBatch batch) {
  if (!batch) return batch;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    BlkReq& r = batch[i];
    uint32_t s = take_slot();
    InFlight& f = ledger_[s];
    f.caller_tag = r.tag;
    f.lba = r.lba;
    f.op = r.op;
    f.hold = Hold<Block>(r.buf);
    r.tag = s;
  }
  auto r = proxy_.submit_and_poll(std::move(batch));
  BlkBatch out;
  if (r.ok()) {
    out = std::move(r.value());
    complete_in_place(out);
  } else {
    if (r.error() != RpcError::DomainFailed) return r;
    auto since = shadow::RecoveryLog::Clock::now();
    if (!recover_and_replay()) return r;
    log_.record(since);
    out = BlkBatch::make();
  }
  while (!out.full() && !ready_.empty()) {
    (void)out.push_back(std::move(ready_.front()));
    ready_.pop_front();
  }
  return out;
}

}  // namespace rl::blk
