// NvmeBDev (BDev plus the batched queue) over the NVMe Driver.
//
// Blocks are 4 KiB (kBlockSize); a namespace with 512-byte LBAs takes eight
// LBAs per block.  The same object runs inside the driver domain (domain.cpp)
// or linked directly (benchmarks' "direct" mode: the cost of the domain is
// the difference between the two).
#include "drivers/nvme/bdev.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace rl::blk {
namespace {

constexpr uint32_t kQueue = 1;   // the queue this domain's calls use

class NvmeBDevImpl final : public NvmeBDev {
 public:
  explicit NvmeBDevImpl(std::unique_ptr<nvme::Driver> d)
      : drv_(std::move(d)), lbas_per_block_(kBlockSize / drv_->lba_size()),
        blocks_(drv_->lba_count() / lbas_per_block_) {
    held_.resize(nvme::kMaxQueueDepth);
    where_.assign(nvme::kMaxQueueDepth, -1);
    for (uint32_t i = nvme::kMaxQueueDepth; i-- > 0;) free_.push_back(i);
  }

  RpcResult<DeviceInfo> info() override {
    DeviceInfo i{};
    i.blocks = blocks_;
    i.block_size = kBlockSize;
    const auto& mn = drv_->controller().mn;
    std::memcpy(i.model.data(), mn.data(), std::min(i.model.size(), mn.size()));
    return i;
  }

  RpcResult<BlockResult> read(uint64_t lba, RRef<Block> buf) override {
    int rc = buf ? sync(nvme::io::READ, lba, buf->data.data()) : -EINVAL;
    return BlockResult{rc, std::move(buf)};
  }
  RpcResult<int32_t> write(uint64_t lba, const RRef<Block>& buf) override {
    if (!buf) return int32_t{-EINVAL};
    // The borrowed buffer is read-only to us; the device only reads it.
    return sync(nvme::io::WRITE, lba, const_cast<uint8_t*>(buf->data.data()));
  }
  RpcResult<int32_t> flush() override { return sync(nvme::io::FLUSH, 0, nullptr); }

  // Requests are submitted where they lie in the deque and, when they
  // complete within the call (the common case), never leave it: no request
  // or buffer moves on the fast path.  Only those still in flight at the end
  // move into the domain (held_), and return in a later call's deque.
  RpcResult<BlkBatch> submit_and_poll(BlkBatch batch) override {
    if (!batch) return batch;
    const auto n = static_cast<uint32_t>(batch.size());
    uint32_t in_flight = 0;
    for (uint32_t i = 0; i < n; ++i) {
      BlkReq& r = batch[i];
      slot_of_[i] = kNoSlot;
      if (free_.empty()) {
        r.status = -EAGAIN;
        continue;
      }
      uint8_t op = r.op == BlkOp::Read ? nvme::io::READ : r.op == BlkOp::Write ? nvme::io::WRITE : nvme::io::FLUSH;
      void* data = r.buf ? r.buf->data.data() : nullptr;
      uint32_t slot = free_.back();
      int rc = (op != nvme::io::FLUSH && !data) ? -EINVAL
                                                 : drv_->submit(kQueue, op, lba_of(r.lba), lbas_per_block(), data, slot);
      if (rc != 0) {
        r.status = rc;
        continue;
      }
      free_.pop_back();
      where_[slot] = static_cast<int32_t>(i);
      slot_of_[i] = slot;
      ++in_flight;
      ++stats_.submitted;
    }
    drv_->ring(kQueue);

    nvme::Done done[kQueueBatch];
    while (true) {
      unsigned got = drv_->poll(kQueue, done, kQueueBatch);
      for (unsigned k = 0; k < got; ++k) {
        auto slot = static_cast<uint32_t>(done[k].tag);
        ++stats_.completed;
        stats_.errors += done[k].status != 0;
        free_.push_back(slot);
        if (where_[slot] >= 0) {   // still in this deque
          auto i = static_cast<uint32_t>(where_[slot]);
          batch[i].status = done[k].status;
          slot_of_[i] = kNoSlot;
          --in_flight;
        } else {                   // held from an earlier call
          held_[slot].status = done[k].status;
          finished_.push_back(std::move(held_[slot]));
        }
      }
      if (got < kQueueBatch) break;   // the completion queue is drained
    }

    if (in_flight) {   // keep the unfinished ones; the deque returns the rest
      BlkReq r;
      for (uint32_t i = 0; i < n && batch.pop_front(r); ++i) {
        if (slot_of_[i] == kNoSlot) {
          (void)batch.push_back(std::move(r));
        } else {
          where_[slot_of_[i]] = -1;
          held_[slot_of_[i]] = std::move(r);
        }
      }
    }
    while (!finished_.empty() && !batch.full()) {
      (void)batch.push_back(std::move(finished_.back()));
      finished_.pop_back();
    }
    return batch;
  }

  RpcResult<QueueStats> stats() override { return stats_; }

 private:
  // Computed once: a division per request costs more than the rest of submit.
  uint32_t lbas_per_block() const { return lbas_per_block_; }
  uint64_t lba_of(uint64_t block) const { return block * lbas_per_block_; }

  int sync(uint8_t op, uint64_t block, uint8_t* data) {
    if (op != nvme::io::FLUSH && block >= blocks_) return -ERANGE;
    return drv_->io_sync(kQueue, op, lba_of(block), op == nvme::io::FLUSH ? 0 : lbas_per_block(), data);
  }

  static constexpr uint32_t kNoSlot = ~0u;

  std::unique_ptr<nvme::Driver> drv_;
  const uint32_t lbas_per_block_;
  const uint64_t blocks_;           // capacity in kBlockSize units
  std::vector<BlkReq> held_;        // requests in flight across calls, by slot (= tag)
  std::vector<int32_t> where_;      // per slot: index in the current deque, or -1 if held
  std::vector<uint32_t> free_;
  std::vector<BlkReq> finished_;    // held requests completed, waiting for room in a deque
  std::array<uint32_t, kQueueBatch> slot_of_{};   // per deque index: its slot while in flight
  QueueStats stats_{};
};

}  // namespace

std::unique_ptr<NvmeBDev> make_nvme_bdev(std::unique_ptr<nvme::Driver> driver) {
  return std::make_unique<NvmeBDevImpl>(std::move(driver));
}

}  // namespace rl::blk
