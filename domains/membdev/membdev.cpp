#include "domains/membdev/membdev.hpp"

#include <cerrno>
#include <cstring>

namespace rl::blk {

namespace {

class MemBDev final : public NvmeBDev {
 public:
  MemBDev(uint8_t* mem, uint64_t blocks) : mem_(mem), blocks_(blocks) {}

  RpcResult<DeviceInfo> info() override {
    DeviceInfo i{};
    i.blocks = blocks_;
    i.block_size = kBlockSize;
    static constexpr char kModel[] = "redleaf membdev";
    std::memcpy(i.model.data(), kModel, sizeof kModel);
    return i;
  }
  RpcResult<BlockResult> read(uint64_t lba, RRef<Block> buf) override {
    int32_t rc = buf ? copy(BlkOp::Read, lba, buf->data.data()) : -EINVAL;
    return BlockResult{rc, std::move(buf)};
  }
  RpcResult<int32_t> write(uint64_t lba, const RRef<Block>& buf) override {
    if (!buf) return int32_t{-EINVAL};
    return copy(BlkOp::Write, lba, const_cast<uint8_t*>(buf->data.data()));   // only read from
  }
  RpcResult<int32_t> flush() override { return int32_t{0}; }   // memory: nothing is volatile

  // Every request completes here, in place: the deque returns as it came.
  RpcResult<BlkBatch> submit_and_poll(BlkBatch batch) override {
    if (!batch) return batch;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      BlkReq& r = batch[i];
      if (r.op == BlkOp::Flush) r.status = 0;
      else r.status = r.buf ? copy(r.op, r.lba, r.buf->data.data()) : -EINVAL;
      ++stats_.submitted;
      ++stats_.completed;
      stats_.errors += r.status != 0;
    }
    return batch;
  }
  RpcResult<QueueStats> stats() override { return stats_; }

 private:
  int32_t copy(BlkOp op, uint64_t lba, uint8_t* data) {
    if (lba >= blocks_) return -ERANGE;
    uint8_t* block = mem_ + lba * kBlockSize;
    if (op == BlkOp::Read) std::memcpy(data, block, kBlockSize);
    else if (op == BlkOp::Write) std::memcpy(block, data, kBlockSize);
    else return -EINVAL;
    return 0;
  }

  uint8_t* mem_;
  uint64_t blocks_;
  QueueStats stats_{};
};

}  // namespace

std::unique_ptr<NvmeBDev> make_membdev(pci::Device& dev, std::string* error) {
  std::size_t len = 0;
  uint8_t* mem = dev.memory_bar(&len);
  if (!mem || len < kBlockSize) {
    *error = "membdev: " + dev.name() + " has no memory BAR (open a RAM device: sim:ram,blocks=N)";
    return nullptr;
  }
  return std::make_unique<MemBDev>(mem, len / kBlockSize);
}

}  // namespace rl::blk
