#include "domains/shadow/bdev/bdev_shadow.hpp"

#include <cerrno>
#include <optional>
#include <thread>

#include "domains/shadow/recovery.hpp"

namespace rl::blk {

BlockDeviceShadow::BlockDeviceShadow(Domain& driver, pci::DeviceRef device, Config cfg)
    : domain_(driver), proxy_(driver), cfg_(cfg) {
  shadow::reset_device_on_failure(driver, device);   // no DMA into the dead driver's queues
}

bool BlockDeviceShadow::restart_driver() { return shadow::restart(domain_, cfg_.max_attempts, cfg_.backoff); }

void BlockDeviceShadow::record_recovery(std::chrono::steady_clock::time_point since) {
  ++recoveries_;
  recovery_ns_.push_back(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - since).count()));
}

template <class F>
auto BlockDeviceShadow::with_recovery(F&& call) -> decltype(call()) {
  std::optional<decltype(call())> r;   // RpcResult is not assignable: re-emplaced per attempt
  r.emplace(call());
  for (uint32_t attempt = 0; !r->ok() && r->error() == RpcError::DomainFailed && attempt < cfg_.max_attempts;
       ++attempt) {
    auto since = std::chrono::steady_clock::now();
    if (!recover_and_replay()) break;
    record_recovery(since);
    r.emplace(call());
  }
  return std::move(*r);
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
  std::optional<RpcResult<BlockResult>> r;
  r.emplace(proxy_.read(lba, std::move(buf)));
  for (uint32_t attempt = 0; !r->ok() && r->error() == RpcError::DomainFailed && attempt < cfg_.max_attempts;
       ++attempt) {
    auto since = std::chrono::steady_clock::now();
    if (!recover_and_replay()) break;
    record_recovery(since);
    RRef<Block> again = hold.adopt();   // died with the driver: ours again
    if (!again) again = RRef<Block>::make_aligned(4096);
    hold = Hold<Block>(again);
    r.emplace(proxy_.read(lba, std::move(again)));
  }
  return std::move(*r);
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
    auto since = std::chrono::steady_clock::now();
    if (!recover_and_replay()) return r;
    record_recovery(since);
    out = BlkBatch::make();
  }
  while (!out.full() && !ready_.empty()) {
    (void)out.push_back(std::move(ready_.front()));
    ready_.pop_front();
  }
  return out;
}

}  // namespace rl::blk
