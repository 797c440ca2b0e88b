// Block devices (RedLeaf's BDev and the NVMe driver's batched queue).
#pragma once

#include <array>
#include <cstdint>

#include "idl/pci.hpp"
#include "libredleaf/idl.hpp"

namespace rl::blk {

inline constexpr uint32_t kBlockSize = 4096;   // the unit of every BDev transfer

struct Block {
  std::array<uint8_t, kBlockSize> data;
};

// A read's outcome: 0 or a negative errno, and the buffer back.
struct BlockResult {
  int32_t status;
  RRef<Block> buf;
};

struct DeviceInfo {
  uint64_t blocks;           // capacity in kBlockSize units
  uint32_t block_size;
  std::array<char, 40> model;
};

// A plain block device: one request per call.
class RL_INTERFACE BDev {
 public:
  virtual ~BDev() = default;

  RL_IDEMPOTENT virtual RpcResult<DeviceInfo> info() = 0;
  // Fills `buf` with block `lba` and hands it back.
  virtual RpcResult<BlockResult> read(uint64_t lba, RRef<Block> buf) = 0;
  // Writes block `lba` from a borrowed buffer: a shadow can replay it after a crash.
  // Returns 0 or a negative errno.
  RL_IDEMPOTENT virtual RpcResult<int32_t> write(uint64_t lba, const RRef<Block>& buf) = 0;
  RL_IDEMPOTENT virtual RpcResult<int32_t> flush() = 0;
};

enum class BlkOp : uint32_t { Read = 0, Write = 1, Flush = 2 };

struct BlkReq {
  uint64_t lba;
  uint64_t tag;              // the submitter's, returned unchanged
  BlkOp op;
  int32_t status;            // 0, or a negative errno, once completed
  RRef<Block> buf;           // moves with the request
};

inline constexpr std::size_t kQueueBatch = 32;
using BlkBatch = RRefDeque<BlkReq, kQueueBatch>;

struct QueueStats {
  uint64_t submitted;
  uint64_t completed;
  uint64_t errors;
};

// The batched path: requests go in, completed ones come back, in one call.
class RL_INTERFACE BlockQueue {
 public:
  virtual ~BlockQueue() = default;

  // Submits what `submit` holds and returns the requests completed meanwhile
  // (their buffers included) in the same deque.
  RL_BATCHED virtual RpcResult<BlkBatch> submit_and_poll(BlkBatch submit) = 0;
  RL_IDEMPOTENT virtual RpcResult<QueueStats> stats() = 0;
};

// An NVMe namespace: both the simple and the batched interface.  membdev
// implements it too, so one shadow and one workload serve both.
class RL_INTERFACE NvmeBDev : public BDev {
 public:
  RL_BATCHED virtual RpcResult<BlkBatch> submit_and_poll(BlkBatch submit) = 0;
  RL_IDEMPOTENT virtual RpcResult<QueueStats> stats() = 0;
};

struct NvmeInit {
  pci::DeviceRef device;   // from rl::pci::attach(rl::pci::open("sim:nvme" or "0000:01:00.0"))
  uint32_t io_queues;
  uint32_t queue_depth;
};
// The NVMe driver domain (drivers/nvme): fails to load, with the reason, if
// the device cannot be brought up.
RL_FACTORY NvmeBDev* create_nvme(const NvmeInit& init);

struct MemBDevInit {
  pci::DeviceRef device;   // a RAM device: rl::pci::attach(rl::pci::open("sim:ram,blocks=N"))
};
// An in-memory block device driver (domains/membdev), as in RedLeaf's
// recovery experiment: its storage is the device's memory BAR, so a crash
// of the driver loses no acknowledged write.
RL_FACTORY NvmeBDev* create_membdev(const MemBDevInit& init);

}  // namespace rl::blk
