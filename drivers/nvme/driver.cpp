// NVMe driver: helpers, then bring-up following NVMe 1.4 section 7.6.1, then
// the hot path (submit, ring, poll) last.
#include "drivers/nvme/driver.hpp"

#include <cerrno>
#include <cstring>
#include <thread>

#include "libredleaf/shared_heap.hpp"

namespace rl::nvme {

namespace {
constexpr std::chrono::milliseconds kAdminTimeout{2000};
constexpr uint32_t kTimedOut = 0xFFFF;   // our own marker in Done::nvme_status
}  // namespace

int to_errno(uint16_t s) {
  switch (s) {
    case sc::SUCCESS: return 0;
    case sc::INVALID_OPCODE:
    case sc::INVALID_FIELD:
    case sc::INVALID_NAMESPACE:
    case sc::INVALID_QUEUE_ID:
    case sc::INVALID_QUEUE_SIZE:
    case sc::CQ_INVALID: return -EINVAL;
    case sc::INVALID_PRP_OFFSET:
    case sc::DATA_TRANSFER_ERROR: return -EFAULT;
    case sc::LBA_OUT_OF_RANGE: return -ERANGE;
    case kTimedOut: return -ETIMEDOUT;
    default: return -EIO;
  }
}

// ---- helpers ----------------------------------------------------------------------

void Driver::make_queue(Queue& q, uint16_t qid, uint32_t depth) {
  q.qid = qid;
  q.depth = depth;
  if (!q.sq) q.sq = RRefArray<Command, kMaxQueueDepth>::make_aligned(kPage);
  if (!q.cq) q.cq = RRefArray<Completion, kMaxQueueDepth>::make_aligned(kPage);
  std::memset(q.cq.data(), 0, sizeof(Completion) * depth);   // phase 0 everywhere: nothing posted
  q.sq_tail = q.sq_head = q.cq_head = 0;
  q.phase = true;
  q.pending_doorbell = false;
  q.slots.resize(depth);
  q.free_cids.clear();
  for (uint32_t i = depth; i-- > 0;) q.free_cids.push_back(static_cast<uint16_t>(i));
}

bool Driver::wait_ready(bool ready, std::string* error) {
  // CAP.TO is the worst case for CSTS.RDY to follow CC.EN, in 500 ms units.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500) * cap::to_500ms(cap_);
  while (true) {
    uint32_t csts = dev_.read32(reg::CSTS);
    if (csts & csts::CFS) {
      *error = "controller fatal status (CSTS.CFS) during initialization";
      return false;
    }
    if (bool(csts & csts::RDY) == ready) return true;
    if (std::chrono::steady_clock::now() > deadline) {
      *error = std::string("CSTS.RDY did not become ") + (ready ? "1" : "0") + " within CAP.TO";
      return false;
    }
    dev_.idle();
  }
}

// Submits one admin command and polls for its completion.
int Driver::admin(Command c, uint32_t* dw0, std::string* error) {
  Queue& q = queues_[0];
  c.cid = static_cast<uint16_t>(q.sq_tail);
  q.sq[q.sq_tail] = c;
  q.sq_tail = (q.sq_tail + 1) % q.depth;
  dev_.write32(reg::sq_tail_doorbell(0, dstrd_), q.sq_tail);
  auto deadline = std::chrono::steady_clock::now() + kAdminTimeout;
  while (true) {
    volatile Completion& e = q.cq[q.cq_head];
    if (phase(e.status) == q.phase) {
      uint16_t status = status_of(e.status);
      if (dw0) *dw0 = e.dw0;
      q.sq_head = e.sq_head;
      if (++q.cq_head == q.depth) {
        q.cq_head = 0;
        q.phase = !q.phase;
      }
      dev_.write32(reg::cq_head_doorbell(0, dstrd_), q.cq_head);
      if (status != sc::SUCCESS && error)
        *error = "admin command " + std::to_string(c.opcode) + " failed with status " + std::to_string(status);
      return to_errno(status);
    }
    if (dev_.read32(reg::CSTS) & csts::CFS) {
      if (error) *error = "controller fatal status during an admin command";
      return -EIO;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      if (error) *error = "admin command " + std::to_string(c.opcode) + " timed out";
      return -ETIMEDOUT;
    }
    dev_.idle();
  }
}

// ---- 7.6.1 bring-up -----------------------------------------------------------------

std::unique_ptr<Driver> Driver::create(pci::Device& dev, const DriverConfig& cfg, std::string* error) {
  if (cfg.io_queues == 0 || cfg.queue_depth < 2 || cfg.queue_depth > kMaxQueueDepth) {
    *error = "nvme: io_queues must be >= 1 and queue_depth in [2, " + std::to_string(kMaxQueueDepth) + "]";
    return nullptr;
  }
  std::unique_ptr<Driver> d(new Driver(dev, cfg));
  if (!dev.enable_dma(error) || !d->bring_up(error)) return nullptr;
  return d;
}

Driver::~Driver() {
  // Stop the controller so it no longer touches our queue memory.
  dev_.write32(reg::CC, 0);
}

bool Driver::bring_up(std::string* error) {
  cap_ = dev_.read64(reg::CAP);
  dstrd_ = cap::dstrd(cap_);
  if (!cap::css_nvm(cap_) || cap::mpsmin(cap_) > 0) {
    *error = "the controller does not support the NVM command set with 4 KiB pages";
    return false;
  }
  // 1. Disable and wait for CSTS.RDY = 0 (a reset of whatever ran before).
  dev_.write32(reg::CC, 0);
  if (!wait_ready(false, error)) return false;
  // 2. Admin queue: AQA, ASQ, ACQ.
  queues_.resize(1 + cfg_.io_queues);
  uint32_t admin_depth = std::min<uint32_t>(kAdminDepth, cap::mqes(cap_) + 1);
  make_queue(queues_[0], 0, admin_depth);
  dev_.write32(reg::AQA, aqa::make(admin_depth, admin_depth));
  dev_.write64(reg::ASQ, pci::Device::iova(queues_[0].sq.data()));
  dev_.write64(reg::ACQ, pci::Device::iova(queues_[0].cq.data()));
  // 3. Enable: NVM command set, 4 KiB pages, 64-byte SQ and 16-byte CQ entries.
  dev_.write32(reg::INTMS, 0xFFFFFFFF);   // we poll
  dev_.write32(reg::CC, cc::EN | cc::css(0) | cc::mps(0) | cc::iosqes(6) | cc::iocqes(4));
  if (!wait_ready(true, error)) return false;

  // 4. Identify controller and namespace 1.
  if (!ctrl_id_) ctrl_id_ = RRef<IdentifyController>::make_aligned(kPage);
  Command c{};
  c.opcode = admin::IDENTIFY;
  c.prp1 = pci::Device::iova(ctrl_id_.get());
  c.cdw10 = CNS_CONTROLLER;
  if (admin(c, nullptr, error) != 0) return false;
  auto ns = RRef<IdentifyNamespace>::make_aligned(kPage);
  c = Command{};
  c.opcode = admin::IDENTIFY;
  c.nsid = 1;
  c.prp1 = pci::Device::iova(ns.get());
  c.cdw10 = CNS_NAMESPACE;
  if (admin(c, nullptr, error) != 0) return false;
  lba_count_ = ns->nsze;
  lba_size_ = 1u << ns->lbaf[ns->flbas & 0xF].lbads;
  if (lba_size_ < 512 || lba_size_ > kPage) {
    *error = "namespace 1 has an unsupported LBA size of " + std::to_string(lba_size_) + " bytes";
    return false;
  }

  // 5. Number of queues, then each I/O queue pair (CQ first: the SQ names it).
  c = Command{};
  c.opcode = admin::SET_FEATURES;
  c.cdw10 = FEATURE_NUMBER_OF_QUEUES;
  c.cdw11 = ((cfg_.io_queues - 1) << 16) | (cfg_.io_queues - 1);
  uint32_t granted = 0;
  if (admin(c, &granted, error) != 0) return false;
  uint32_t n = std::min({(granted & 0xFFFF) + 1, (granted >> 16) + 1, cfg_.io_queues});
  queues_.resize(1 + n);
  uint32_t depth = std::min(cfg_.queue_depth, cap::mqes(cap_) + 1);
  for (uint16_t qid = 1; qid <= n; ++qid) {
    Queue& q = queues_[qid];
    make_queue(q, qid, depth);
    c = Command{};
    c.opcode = admin::CREATE_IO_CQ;
    c.prp1 = pci::Device::iova(q.cq.data());
    c.cdw10 = ((depth - 1) << 16) | qid;
    c.cdw11 = 1;   // physically contiguous, interrupts off
    if (admin(c, nullptr, error) != 0) return false;
    c = Command{};
    c.opcode = admin::CREATE_IO_SQ;
    c.prp1 = pci::Device::iova(q.sq.data());
    c.cdw10 = ((depth - 1) << 16) | qid;
    c.cdw11 = (static_cast<uint32_t>(qid) << 16) | 1;
    if (admin(c, nullptr, error) != 0) return false;
  }
  return true;
}

bool Driver::reset(std::string* error) {
  // Whatever was in flight is lost with the queues: report it as failed.
  for (std::size_t i = 1; i < queues_.size(); ++i)
    for (Slot& s : queues_[i].slots) {
      if (s.busy && !s.abandoned) queues_[i].ready.push_back({s.tag, -EIO, 0});
      s.busy = s.abandoned = false;
    }
  std::vector<std::vector<Done>> ready;
  for (auto& q : queues_) ready.push_back(std::move(q.ready));
  bool ok = dev_.reset(error) && dev_.enable_dma(error) && bring_up(error);
  for (std::size_t i = 0; i < queues_.size() && i < ready.size(); ++i) queues_[i].ready = std::move(ready[i]);
  return ok;
}

// ---- 4.3 PRPs ---------------------------------------------------------------------

bool Driver::build_prps(Command& c, Slot& s, void* buf, uint64_t bytes) {
  uint64_t addr = pci::Device::iova(buf);
  c.prp1 = addr;
  uint64_t first = kPage - (addr & (kPage - 1));
  if (bytes <= first) return true;
  uint64_t next = addr + first;   // page aligned from here on
  uint64_t left = bytes - first;
  if (left <= kPage) {
    c.prp2 = next;
    return true;
  }
  uint64_t pages = (left + kPage - 1) / kPage;
  if (pages > kPage / 8) return false;   // beyond kMaxTransfer
  if (!s.prp_list) s.prp_list = RRefArray<uint64_t, kPage / 8>::make_aligned(kPage);
  for (uint64_t i = 0; i < pages; ++i) s.prp_list[i] = next + i * kPage;
  c.prp2 = pci::Device::iova(s.prp_list.data());
  return true;
}

// ---- the hot path ------------------------------------------------------------------

int Driver::submit(uint32_t qi, uint8_t opcode, uint64_t slba, uint32_t blocks, void* buf, uint64_t tag) {
  if (qi == 0 || qi >= queues_.size()) return -EINVAL;
  Queue& q = queues_[qi];
  uint64_t bytes = uint64_t{blocks} * lba_size_;
  if (opcode != io::FLUSH && (blocks == 0 || blocks > 65536 || bytes > kMaxTransfer)) return -EINVAL;
  // Only the shared heap is mapped for the device (IOVA == VA); anything else
  // would be an IOMMU fault at best and a silent no-op on some devices.
  if (opcode != io::FLUSH &&
      (!detail::in_shared_heap(buf) || !detail::in_shared_heap(static_cast<char*>(buf) + bytes - 1)))
    return -EFAULT;
  if (q.free_cids.empty() || (q.sq_tail + 1) % q.depth == q.sq_head) return -EAGAIN;
  uint16_t cid = q.free_cids.back();
  Slot& s = q.slots[cid];
  Command c{};
  c.opcode = opcode;
  c.cid = cid;
  c.nsid = 1;
  if (opcode != io::FLUSH) {
    if (!build_prps(c, s, buf, bytes)) return -EINVAL;
    c.cdw10 = static_cast<uint32_t>(slba);
    c.cdw11 = static_cast<uint32_t>(slba >> 32);
    c.cdw12 = blocks - 1;
  }
  q.free_cids.pop_back();
  s.busy = true;
  s.tag = tag;
  s.seen_at = {};   // stamped by the next expire(): a clock read per I/O costs ~50 ticks
  q.sq[q.sq_tail] = c;
  q.sq_tail = (q.sq_tail + 1) % q.depth;
  q.pending_doorbell = true;
  return 0;
}

void Driver::ring(uint32_t qi) {
  Queue& q = queues_[qi];
  if (!q.pending_doorbell) return;
  q.pending_doorbell = false;
  __atomic_thread_fence(__ATOMIC_RELEASE);   // entries before the doorbell
  dev_.write32(reg::sq_tail_doorbell(q.qid, dstrd_), q.sq_tail);
}

unsigned Driver::poll(uint32_t qi, Done* out, unsigned max) {
  Queue& q = queues_[qi];
  unsigned n = 0;
  while (n < max && !q.ready.empty()) {
    out[n++] = q.ready.back();
    q.ready.pop_back();
  }
  bool consumed = false;
  while (n < max) {
    volatile Completion& e = q.cq[q.cq_head];
    uint16_t status = e.status;
    if (phase(status) != q.phase) break;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);   // the entry after its phase bit
    uint16_t cid = e.cid;
    q.sq_head = e.sq_head;
    if (++q.cq_head == q.depth) {
      q.cq_head = 0;
      q.phase = !q.phase;
    }
    consumed = true;
    if (cid >= q.slots.size() || !q.slots[cid].busy) continue;   // stale or forged: ignore
    Slot& s = q.slots[cid];
    s.busy = false;
    if (s.abandoned) continue;   // already reported as timed out; keep the cid out of use
    q.free_cids.push_back(cid);
    uint16_t st = status_of(status);
    out[n++] = Done{s.tag, to_errno(st), st};
  }
  if (consumed) dev_.write32(reg::cq_head_doorbell(q.qid, dstrd_), q.cq_head);   // one per batch
  else if (n == 0) dev_.idle();
  // Timeouts are checked on every 256th poll: a scan of the slots and a clock
  // read on each would cost more than the poll itself.
  if ((++q.polls & 255) == 0) expire(q);
  return n;
}

// A request first seen in flight by one check and still there more than the
// timeout later completes as -ETIMEDOUT (so the bound is the timeout plus the
// check interval); its cid stays reserved, as the device may still answer.
void Driver::expire(Queue& q) {
  auto now = std::chrono::steady_clock::now();
  for (Slot& s : q.slots) {
    if (!s.busy || s.abandoned) continue;
    if (s.seen_at == std::chrono::steady_clock::time_point{}) s.seen_at = now;
    else if (now - s.seen_at > cfg_.io_timeout) {
      s.abandoned = true;
      q.ready.push_back({s.tag, -ETIMEDOUT, kTimedOut});
    }
  }
}

uint32_t Driver::in_flight(uint32_t qi) const {
  const Queue& q = queues_[qi];
  return q.depth - static_cast<uint32_t>(q.free_cids.size());
}

int Driver::io_sync(uint32_t q, uint8_t opcode, uint64_t slba, uint32_t blocks, void* buf) {
  constexpr uint64_t kSyncTag = ~uint64_t{0};   // never a caller's tag: tags are slots or indices
  int rc = submit(q, opcode, slba, blocks, buf, kSyncTag);
  if (rc != 0) return rc;
  ring(q);
  Done d[8];
  std::vector<Done> others;
  int result = 0;
  for (bool done = false; !done;) {
    unsigned n = poll(q, d, 8);
    for (unsigned i = 0; i < n; ++i) {
      if (d[i].tag == kSyncTag) {
        result = d[i].status;
        done = true;
      } else {
        others.push_back(d[i]);
      }
    }
    if (!done && n == 0 && (dev_.read32(reg::CSTS) & csts::CFS)) {
      result = -EIO;
      done = true;
    }
  }
  for (const Done& o : others) queues_[q].ready.push_back(o);
  return result;
}

}  // namespace rl::nvme
