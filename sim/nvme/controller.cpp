// The simulated NVMe controller: registers first, then queue processing,
// then admin and I/O commands, in the order of the NVMe 1.4 specification.
#include "sim/nvme/controller.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "libredleaf/shared_heap.hpp"

namespace rl::sim {

using namespace rl::nvme;

namespace {
constexpr uint32_t kPage = 4096;         // CC.MPS = 0 is the only page size we accept
constexpr uint32_t kDstrd = 0;           // doorbell stride 4 bytes
constexpr uint32_t kTimeout500ms = 10;   // CAP.TO: 5 s
constexpr uint32_t kVersion = 0x00010400;   // 1.4.0

uint16_t sqid_of(uint64_t doorbell_index) { return static_cast<uint16_t>(doorbell_index / 2); }
}  // namespace

NvmeController::NvmeController(const NvmeOptions& o, std::string* error) : o_(o) {
  // CAP: MQES, CQR=1 (contiguous queues), TO, DSTRD, CSS=NVM, MPSMIN=MPSMAX=0 (4 KiB).
  cap_ = (o_.mqes & 0xFFFF) | (uint64_t{1} << 16) | (uint64_t{kTimeout500ms} << 24) |
         (uint64_t{kDstrd} << 32) | (uint64_t{1} << 37);
  sq_.resize(o_.max_queues + 1);
  cq_.resize(o_.max_queues + 1);
  uint64_t bytes = o_.blocks << o_.lba_shift;
  if (o_.nocopy) return;   // no storage: reads and writes only walk their PRPs
  if (o_.file.empty()) {
    ram_.assign(bytes, 0);
  } else {
    fd_ = ::open(o_.file.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd_ < 0 || ftruncate(fd_, static_cast<off_t>(bytes)) != 0) {
      if (error) *error = "sim:nvme cannot use backing file " + o_.file + ": " + strerror(errno);
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
      ram_.assign(bytes, 0);
    }
  }
}

NvmeController::~NvmeController() {
  if (fd_ >= 0) ::close(fd_);
}

// ---- 3.1 registers --------------------------------------------------------------

uint32_t NvmeController::mmio_read32(uint64_t off) {
  std::lock_guard g(lock_);
  switch (off) {
    case reg::CAP: return static_cast<uint32_t>(cap_);
    case reg::CAP + 4: return static_cast<uint32_t>(cap_ >> 32);
    case reg::VS: return kVersion;
    case reg::INTMS:
    case reg::INTMC: return intms_;
    case reg::CC: return cc_;
    case reg::CSTS: return csts_;
    case reg::AQA: return aqa_;
    case reg::ASQ: return static_cast<uint32_t>(asq_);
    case reg::ASQ + 4: return static_cast<uint32_t>(asq_ >> 32);
    case reg::ACQ: return static_cast<uint32_t>(acq_);
    case reg::ACQ + 4: return static_cast<uint32_t>(acq_ >> 32);
    default: return 0;   // doorbells and reserved registers read as zero
  }
}

uint64_t NvmeController::mmio_read64(uint64_t off) {
  return mmio_read32(off) | (static_cast<uint64_t>(mmio_read32(off + 4)) << 32);
}

void NvmeController::mmio_write64(uint64_t off, uint64_t value) {
  mmio_write32(off, static_cast<uint32_t>(value));
  mmio_write32(off + 4, static_cast<uint32_t>(value >> 32));
}

void NvmeController::mmio_write32(uint64_t off, uint32_t v) {
  std::lock_guard g(lock_);
  if (off >= reg::DOORBELLS) return doorbell(off, v);
  switch (off) {
    case reg::INTMS: intms_ |= v; break;
    case reg::INTMC: intms_ &= ~v; break;
    case reg::CC: {
      uint32_t old = cc_;
      cc_ = v;
      if ((v & cc::EN) && !(old & cc::EN)) enable();
      else if (!(v & cc::EN) && (old & cc::EN)) disable();
      if (cc::shn(v)) csts_ = (csts_ & ~(3u << 2)) | (2u << 2);   // shutdown processing complete
      break;
    }
    case reg::AQA: aqa_ = v; break;
    case reg::ASQ: asq_ = (asq_ & ~0xFFFFFFFFull) | v; break;
    case reg::ASQ + 4: asq_ = (asq_ & 0xFFFFFFFFull) | (uint64_t{v} << 32); break;
    case reg::ACQ: acq_ = (acq_ & ~0xFFFFFFFFull) | v; break;
    case reg::ACQ + 4: acq_ = (acq_ & 0xFFFFFFFFull) | (uint64_t{v} << 32); break;
    default: break;
  }
}

// 7.6.1: CC.EN 0 -> 1 takes the admin queue from AQA/ASQ/ACQ and sets CSTS.RDY.
void NvmeController::enable() {
  if (csts_ & csts::CFS) return;
  bool bad = cc::get_mps(cc_) != 0 || (asq_ & (kPage - 1)) || (acq_ & (kPage - 1)) ||
             !dma(asq_, uint64_t{aqa::asqs(aqa_)} * sizeof(Command)) ||
             !dma(acq_, uint64_t{aqa::acqs(aqa_)} * sizeof(Completion));
  if (bad) return fatal();   // an unusable admin queue: the controller cannot come ready
  sq_[0] = SubmissionQueue{true, asq_, aqa::asqs(aqa_), 0, 0, 0};
  cq_[0] = CompletionQueue{true, acq_, aqa::acqs(aqa_), 0, 0, true};
  csts_ |= csts::RDY;
}

// CC.EN 1 -> 0 is a controller reset: every queue is gone, RDY clears.
void NvmeController::disable() {
  for (auto& q : sq_) q = SubmissionQueue{};
  for (auto& q : cq_) q = CompletionQueue{};
  delayed_.clear();
  queues_granted_ = 0;
  csts_ &= ~(csts::RDY | csts::CFS);
}

void NvmeController::function_reset() {
  std::lock_guard g(lock_);
  disable();
  cc_ = aqa_ = intms_ = 0;
  asq_ = acq_ = 0;
  drop_ = delay_n_ = 0;
  csts_ = 0;
}

void NvmeController::fatal() { csts_ |= csts::CFS; }

void NvmeController::inject_fatal() {
  std::lock_guard g(lock_);
  fatal();
}
void NvmeController::drop_completions(uint32_t n) {
  std::lock_guard g(lock_);
  drop_ = n;
}
void NvmeController::delay_completions(uint32_t n, uint32_t idles) {
  std::lock_guard g(lock_);
  delay_n_ = n;
  delay_idles_ = idles;
}

uint8_t* NvmeController::dma(uint64_t iova, uint64_t len) const {
  // IOVA == VA, and the IOMMU maps exactly the shared heap.
  auto* p = reinterpret_cast<uint8_t*>(iova);
  if (len == 0 || !detail::in_shared_heap(p) || !detail::in_shared_heap(p + len - 1)) return nullptr;
  return p;
}

// ---- 4.1 queues and doorbells ---------------------------------------------------

void NvmeController::doorbell(uint64_t off, uint32_t value) {
  if (!(csts_ & csts::RDY) || (csts_ & csts::CFS)) return;
  uint64_t index = (off - reg::DOORBELLS) / (4u << kDstrd);
  uint16_t qid = sqid_of(index);
  if (qid >= sq_.size()) return;
  if (index % 2 == 0) {
    SubmissionQueue& q = sq_[qid];
    if (!q.valid || value >= q.size) return fatal();   // 5.x: an invalid doorbell write
    q.tail = value;
    process(qid);
  } else {
    CompletionQueue& q = cq_[qid];
    if (!q.valid || value >= q.size) return fatal();
    q.head = value;
  }
}

void NvmeController::process(uint16_t qid) {
  SubmissionQueue& q = sq_[qid];
  while (q.valid && q.head != q.tail && !(csts_ & csts::CFS)) {
    const auto* entry = reinterpret_cast<const Command*>(dma(q.base + uint64_t{q.head} * sizeof(Command), sizeof(Command)));
    if (!entry) return fatal();
    Command c = *entry;
    q.head = (q.head + 1) % q.size;
    uint32_t dw0 = 0;
    uint16_t status = qid == 0 ? execute_admin(c, dw0) : execute_io(c);
    ++executed_;
    Completion e{};
    e.dw0 = dw0;
    e.sq_head = static_cast<uint16_t>(q.head);
    e.sq_id = qid;
    e.cid = c.cid;
    e.status = make_status(status >> 8, status & 0xFF, status != sc::SUCCESS);
    complete(q.cqid, e);
  }
}

void NvmeController::complete(uint16_t cqid, const Completion& e) {
  if (drop_) {
    --drop_;
    return;
  }
  if (delay_n_) {
    --delay_n_;
    delayed_.push_back({cqid, e, delay_idles_});
    return;
  }
  if (!post(cqid, e)) delayed_.push_back({cqid, e, 0});   // CQ full: retried from idle()
}

// 4.6: the entry goes at the tail with the current phase; the phase flips on wrap.
bool NvmeController::post(uint16_t cqid, Completion e) {
  CompletionQueue& q = cq_[cqid];
  if (!q.valid) return true;   // the queue was deleted: nowhere to report
  if ((q.tail + 1) % q.size == q.head) return false;
  auto* slot = reinterpret_cast<Completion*>(dma(q.base + uint64_t{q.tail} * sizeof(Completion), sizeof(Completion)));
  if (!slot) {
    fatal();
    return true;
  }
  e.status = static_cast<uint16_t>((e.status & ~1u) | (q.phase ? 1 : 0));
  // The status word (with the phase) last: the host polls on it.
  Completion staged = e;
  staged.status = static_cast<uint16_t>(slot->status);   // keep the old phase until the end
  std::memcpy(slot, &staged, sizeof staged);
  __atomic_store_n(&slot->status, e.status, __ATOMIC_RELEASE);
  if (++q.tail == q.size) {
    q.tail = 0;
    q.phase = !q.phase;
  }
  return true;
}

void NvmeController::idle() {
  std::lock_guard g(lock_);
  for (std::size_t i = 0; i < delayed_.size();) {
    Pending& p = delayed_[i];
    if (p.idles_left > 0) {
      --p.idles_left;
      ++i;
    } else if (post(p.cqid, p.entry)) {
      delayed_.erase(delayed_.begin() + static_cast<long>(i));
    } else {
      ++i;
    }
  }
}

// ---- 4.3 PRPs ------------------------------------------------------------------

// Moves `bytes` between `data` and the host pages described by PRP1/PRP2.
uint16_t NvmeController::transfer(const Command& c, uint64_t bytes, bool to_host, uint8_t* data) {
  auto copy = [&](uint64_t iova, uint64_t len) -> bool {
    uint8_t* p = dma(iova, len);
    if (!p) return false;
    if (!data) return true;   // nocopy
    if (to_host) std::memcpy(p, data, len);
    else std::memcpy(data, p, len);
    data += len;
    return true;
  };
  if (c.prp1 & 3) return sc::INVALID_PRP_OFFSET;   // PRP1 offsets are dword aligned
  uint64_t first = std::min<uint64_t>(bytes, kPage - (c.prp1 & (kPage - 1)));
  if (!copy(c.prp1, first)) return sc::DATA_TRANSFER_ERROR;
  uint64_t left = bytes - first;
  if (left == 0) return sc::SUCCESS;
  if (left <= kPage) {   // PRP2 is the second page itself
    if (c.prp2 & (kPage - 1)) return sc::INVALID_PRP_OFFSET;
    return copy(c.prp2, left) ? sc::SUCCESS : sc::DATA_TRANSFER_ERROR;
  }
  // PRP2 points to a PRP list; its last entry chains to the next list page.
  if (c.prp2 & 7) return sc::INVALID_PRP_OFFSET;
  uint64_t list = c.prp2;
  while (left > 0) {
    uint64_t slots = (kPage - (list & (kPage - 1))) / 8;
    for (uint64_t i = 0; i < slots && left > 0; ++i) {
      const auto* entry = reinterpret_cast<const uint64_t*>(dma(list + i * 8, 8));
      if (!entry) return sc::DATA_TRANSFER_ERROR;
      uint64_t e = *entry;
      if (i == slots - 1 && left > kPage) {   // chain to the next list page
        list = e;
        break;
      }
      if (e & (kPage - 1)) return sc::INVALID_PRP_OFFSET;
      uint64_t len = std::min<uint64_t>(left, kPage);
      if (!copy(e, len)) return sc::DATA_TRANSFER_ERROR;
      left -= len;
    }
  }
  return sc::SUCCESS;
}

// ---- 5 admin commands -------------------------------------------------------------

uint16_t NvmeController::execute_admin(const Command& c, uint32_t& dw0) {
  uint16_t qid = static_cast<uint16_t>(c.cdw10 & 0xFFFF);
  uint32_t qsize = (c.cdw10 >> 16) + 1;
  switch (c.opcode) {
    case admin::IDENTIFY: {
      std::vector<uint8_t> page(kPage, 0);
      uint32_t cns = c.cdw10 & 0xFF;
      if (cns == CNS_CONTROLLER) {
        auto* id = reinterpret_cast<IdentifyController*>(page.data());
        id->vid = vendor_id();
        id->ssvid = vendor_id();
        auto fill = [](auto& field, const char* text) {
          std::fill(field.begin(), field.end(), ' ');
          std::memcpy(field.data(), text, std::min(field.size(), std::strlen(text)));
        };
        fill(id->sn, "RLSIM0001");
        fill(id->mn, "redleaf simulated NVMe");
        fill(id->fr, "1.0");
        id->mdts = 9;   // 2 MiB transfers
        id->ver = kVersion;
        id->sqes = 0x66;
        id->cqes = 0x44;
        id->maxcmd = static_cast<uint16_t>(o_.mqes + 1);
        id->nn = 1;
        id->vwc = o_.file.empty() ? 0 : 1;
      } else if (cns == CNS_NAMESPACE) {
        if (c.nsid != 1) return sc::INVALID_NAMESPACE;
        auto* ns = reinterpret_cast<IdentifyNamespace*>(page.data());
        ns->nsze = ns->ncap = ns->nuse = o_.blocks;
        ns->nlbaf = 0;
        ns->flbas = 0;
        ns->lbaf[0].lbads = static_cast<uint8_t>(o_.lba_shift);
      } else {
        return sc::INVALID_FIELD;
      }
      return transfer(c, kPage, true, page.data());
    }
    case admin::SET_FEATURES:
    case admin::GET_FEATURES: {
      if ((c.cdw10 & 0xFF) != FEATURE_NUMBER_OF_QUEUES) return sc::INVALID_FIELD;
      if (c.opcode == admin::SET_FEATURES) {
        uint32_t want = std::max((c.cdw11 & 0xFFFF), (c.cdw11 >> 16)) + 1;
        queues_granted_ = std::min(want, o_.max_queues);
      }
      uint32_t n = (queues_granted_ ? queues_granted_ : o_.max_queues) - 1;
      dw0 = (n << 16) | n;
      return sc::SUCCESS;
    }
    case admin::CREATE_IO_CQ: {
      if (qid == 0 || qid >= cq_.size() || cq_[qid].valid) return sc::INVALID_QUEUE_ID;
      if (qsize < 2 || qsize > o_.mqes + 1) return sc::INVALID_QUEUE_SIZE;
      if (!(c.cdw11 & 1)) return sc::INVALID_FIELD;   // CAP.CQR: queues must be contiguous
      if ((c.prp1 & (kPage - 1)) || !dma(c.prp1, uint64_t{qsize} * sizeof(Completion))) return sc::INVALID_FIELD;
      cq_[qid] = CompletionQueue{true, c.prp1, qsize, 0, 0, true};
      return sc::SUCCESS;
    }
    case admin::CREATE_IO_SQ: {
      uint16_t cqid = static_cast<uint16_t>(c.cdw11 >> 16);
      if (qid == 0 || qid >= sq_.size() || sq_[qid].valid) return sc::INVALID_QUEUE_ID;
      if (qsize < 2 || qsize > o_.mqes + 1) return sc::INVALID_QUEUE_SIZE;
      if (cqid == 0 || cqid >= cq_.size() || !cq_[cqid].valid) return sc::CQ_INVALID;
      if (!(c.cdw11 & 1)) return sc::INVALID_FIELD;
      if ((c.prp1 & (kPage - 1)) || !dma(c.prp1, uint64_t{qsize} * sizeof(Command))) return sc::INVALID_FIELD;
      sq_[qid] = SubmissionQueue{true, c.prp1, qsize, 0, 0, cqid};
      return sc::SUCCESS;
    }
    case admin::DELETE_IO_SQ:
      if (qid == 0 || qid >= sq_.size() || !sq_[qid].valid) return sc::INVALID_QUEUE_ID;
      sq_[qid] = SubmissionQueue{};
      return sc::SUCCESS;
    case admin::DELETE_IO_CQ:
      if (qid == 0 || qid >= cq_.size() || !cq_[qid].valid) return sc::INVALID_QUEUE_ID;
      for (const auto& s : sq_)
        if (s.valid && s.cqid == qid) return sc::INVALID_QUEUE_ID;   // delete its SQs first
      cq_[qid] = CompletionQueue{};
      return sc::SUCCESS;
    default:
      return sc::INVALID_OPCODE;
  }
}

// ---- 6 NVM command set --------------------------------------------------------------

uint16_t NvmeController::execute_io(const Command& c) {
  switch (c.opcode) {
    case io::READ: return rw(c, false);
    case io::WRITE: return rw(c, true);
    case io::FLUSH:
      if (c.nsid != 1 && c.nsid != 0xFFFFFFFF) return sc::INVALID_NAMESPACE;
      if (fd_ >= 0 && fdatasync(fd_) != 0) return sc::DATA_TRANSFER_ERROR;
      return sc::SUCCESS;
    default:
      return sc::INVALID_OPCODE;
  }
}

uint16_t NvmeController::rw(const Command& c, bool write) {
  if (c.nsid != 1) return sc::INVALID_NAMESPACE;
  uint64_t slba = c.cdw10 | (static_cast<uint64_t>(c.cdw11) << 32);
  uint64_t nlb = (c.cdw12 & 0xFFFF) + 1;
  if (slba >= o_.blocks || nlb > o_.blocks - slba) return sc::LBA_OUT_OF_RANGE;
  uint64_t bytes = nlb << o_.lba_shift;
  uint64_t at = slba << o_.lba_shift;
  if (o_.nocopy) return transfer(c, bytes, !write, nullptr);
  if (fd_ < 0) return transfer(c, bytes, !write, ram_.data() + at);
  std::vector<uint8_t> buf(bytes);
  if (!write && pread(fd_, buf.data(), bytes, static_cast<off_t>(at)) != static_cast<ssize_t>(bytes))
    return sc::DATA_TRANSFER_ERROR;
  uint16_t s = transfer(c, bytes, !write, buf.data());
  if (s == sc::SUCCESS && write && pwrite(fd_, buf.data(), bytes, static_cast<off_t>(at)) != static_cast<ssize_t>(bytes))
    return sc::DATA_TRANSFER_ERROR;
  return s;
}

}  // namespace rl::sim
