// The NVMe driver: controller bring-up and the queue-pair hot path.
//
// Follows NVMe 1.4 section 7.6.1 (initialization) and 4 (queues).  Runs the
// same over VFIO and sim (drivers/pci); inside a domain (domain.cpp) or
// linked directly (tests, the "direct" benchmark mode).  No globals: all
// state lives in the Driver object and its shared-heap queue memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "drivers/nvme/spec.hpp"
#include "drivers/pci/device.hpp"
#include "libredleaf/rref.hpp"

namespace rl::nvme {

// Tunables, with their reasons.
inline constexpr uint32_t kMaxQueueDepth = 1024;   // the "1024 in flight per queue"
inline constexpr uint32_t kAdminDepth = 32;        // admin commands are rare and synchronous
inline constexpr uint32_t kPage = 4096;            // CC.MPS = 0
inline constexpr uint32_t kMaxTransfer = 2u << 20; // 512 pages: one PRP list page, no chaining

struct DriverConfig {
  uint32_t io_queues = 2;
  uint32_t queue_depth = 256;                        // entries per I/O queue, <= kMaxQueueDepth
  std::chrono::microseconds io_timeout{2'000'000};   // an I/O older than this completes as -ETIMEDOUT
};

// A completed I/O: the tag it was submitted with and 0 or a negative errno.
struct Done {
  uint64_t tag;
  int status;
  uint16_t nvme_status;   // (SCT << 8) | SC, for the curious
};

// errno for an NVMe status (0 for success).
int to_errno(uint16_t nvme_status);

class Driver {
 public:
  // Resets and enables the controller, identifies it, creates the I/O queues.
  static std::unique_ptr<Driver> create(pci::Device& dev, const DriverConfig& cfg, std::string* error);
  ~Driver();

  const IdentifyController& controller() const { return *ctrl_id_; }
  uint64_t lba_count() const { return lba_count_; }
  uint32_t lba_size() const { return lba_size_; }
  uint32_t io_queues() const { return static_cast<uint32_t>(queues_.size()) - 1; }

  // ---- the hot path (queue q in 1..io_queues) --------------------------------
  // Queues one command for `bytes` at `buf` (shared heap, contiguous); returns
  // 0, -EAGAIN when the queue is full, or -EINVAL.  Nothing reaches the device
  // before ring(q): one doorbell write per batch.
  int submit(uint32_t q, uint8_t opcode, uint64_t slba, uint32_t blocks, void* buf, uint64_t tag);
  void ring(uint32_t q);
  // Collects up to `max` completions into `out`; returns how many.
  unsigned poll(uint32_t q, Done* out, unsigned max);
  uint32_t in_flight(uint32_t q) const;

  // Submits one command and polls until it completes (or times out); other
  // completions met meanwhile are kept for the next poll().
  int io_sync(uint32_t q, uint8_t opcode, uint64_t slba, uint32_t blocks, void* buf);

  // Resets the controller and recreates every queue: requests in flight are
  // completed as -EIO by the next poll.
  bool reset(std::string* error);

 private:
  struct Slot {
    bool busy = false;
    bool abandoned = false;     // timed out: its cid stays unused until reset
    uint64_t tag = 0;
    std::chrono::steady_clock::time_point seen_at;   // when expire() first saw it in flight
    RRefArray<uint64_t, kPage / 8> prp_list;   // made on first need
  };
  struct Queue {
    uint16_t qid = 0;
    uint32_t depth = 0;
    RRefArray<Command, kMaxQueueDepth> sq;
    RRefArray<Completion, kMaxQueueDepth> cq;
    uint32_t sq_tail = 0, sq_head = 0, cq_head = 0;
    bool phase = true;
    bool pending_doorbell = false;
    uint32_t polls = 0;
    std::vector<Slot> slots;
    std::vector<uint16_t> free_cids;
    std::vector<Done> ready;    // completions poll() has yet to return (reset, timeout, io_sync)
  };

  Driver(pci::Device& dev, const DriverConfig& cfg) : dev_(dev), cfg_(cfg) {}
  bool bring_up(std::string* error);
  bool wait_ready(bool ready, std::string* error);
  void make_queue(Queue& q, uint16_t qid, uint32_t depth);
  int admin(Command c, uint32_t* dw0, std::string* error);
  bool build_prps(Command& c, Slot& s, void* buf, uint64_t bytes);
  void expire(Queue& q);

  pci::Device& dev_;
  DriverConfig cfg_;
  uint64_t cap_ = 0;
  uint32_t dstrd_ = 0;
  std::vector<Queue> queues_;   // [0] is the admin queue
  RRef<IdentifyController> ctrl_id_;
  uint64_t lba_count_ = 0;
  uint32_t lba_size_ = 0;
};

}  // namespace rl::nvme
