// The block-device shadow (design.md §7): the NvmeBDev interface in front of
// an NVMe or membdev driver domain.  It forwards every call; when the driver
// fails it resets the device, restarts the driver from its factory and init
// arguments, replays what was in flight and answers the caller as if
// nothing had happened.
//
// In flight means: handed to the driver and not yet returned completed.
// Each such request is in the shadow's ledger with a Hold on its buffer, so
// the buffer -- with a write's data -- survives the driver's death and is
// adopted back for the replay: reads are reissued, writes resent (both are
// idempotent).  Tags are the shadow's while a request is inside the driver
// and the caller's again when it comes back.  A failure during recovery
// backs off and retries, up to `max_attempts`; then the error goes up and
// the ledger is kept for a later call to replay.
//
// The shadow is trusted code (it restarts domains and resets devices) and
// serves one thread, like the queue it fronts.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <vector>

#include "idl/bdev.rl.hpp"
#include "libredleaf/domain.hpp"
#include "domains/shadow/recovery.hpp"
#include "libredleaf/hold.hpp"

namespace rl::blk {

class BlockDeviceShadow final : public NvmeBDev {
 public:
  struct Config {
    uint32_t max_attempts = 5;                     // restarts tried per failure
    std::chrono::microseconds backoff{100};        // before the 2nd attempt; doubles after
  };

  // `driver`: the loaded nvme.so or membdev.so; `device`: its device, reset
  // (function-level reset, VFIO or the model's) after each failure, before
  // the driver's memory is reused.
  BlockDeviceShadow(Domain& driver, pci::DeviceRef device, Config cfg);
  BlockDeviceShadow(Domain& driver, pci::DeviceRef device) : BlockDeviceShadow(driver, device, Config{}) {}

  RpcResult<DeviceInfo> info() override;
  RpcResult<BlockResult> read(uint64_t lba, RRef<Block> buf) override;
  RpcResult<int32_t> write(uint64_t lba, const RRef<Block>& buf) override;
  RpcResult<int32_t> flush() override;
  RpcResult<BlkBatch> submit_and_poll(BlkBatch batch) override;
  RpcResult<QueueStats> stats() override;

  uint64_t recoveries() const noexcept { return log_.count(); }
  uint64_t replayed() const noexcept { return replayed_; }
  std::size_t in_flight() const noexcept { return ledger_.size() - free_.size(); }
  // Each recovery's duration: from the failed call's return to the driver
  // serving again, replay submitted (nanoseconds).
  const std::vector<uint64_t>& recovery_ns() const noexcept { return log_.ns(); }

 private:
  struct InFlight {
    uint64_t caller_tag = 0;
    uint64_t lba = 0;
    BlkOp op = BlkOp::Read;
    bool used = false;
    Hold<Block> hold;
  };

  bool restart_driver();
  bool recover_and_replay();
  // Runs an idempotent call again after each recovery.
  template <class F>
  auto with_recovery(F&& call) -> decltype(call());
  uint32_t take_slot();
  // Completed requests come back: caller's tags, holds released, into ready_.
  void collect(BlkBatch& done);
  void complete_in_place(BlkBatch& done);

  Domain& domain_;
  NvmeBDevProxy proxy_;
  Config cfg_;
  std::vector<InFlight> ledger_;
  std::vector<uint32_t> free_;
  std::deque<BlkReq> ready_;   // completed, waiting for room in a returned deque
  uint64_t replayed_ = 0;
  shadow::RecoveryLog log_;
};

}  // namespace rl::blk
