// A simulated NVMe 1.4 controller with one namespace (sim:nvme).
//
// Registers, CC.EN/CSTS.RDY, admin queue and I/O queue pairs, Identify,
// Create/Delete I/O SQ/CQ, Set/Get Features (number of queues), Read, Write,
// Flush with PRP1/PRP2 and PRP lists, phase tags and status codes.  Commands
// run when their SQ tail doorbell is written.  DMA reaches only the shared
// heap (as an IOMMU would allow): anything else is a data transfer error.
// Backends: RAM, or a file that survives the process.  Fault injection:
// fatal status, dropped completions, delayed completions.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "drivers/nvme/spec.hpp"
#include "drivers/pci/device.hpp"

namespace rl::sim {

struct NvmeOptions {
  uint64_t blocks = 65536;        // namespace size in logical blocks
  uint32_t lba_shift = 9;         // 512-byte logical blocks, like QEMU's default
  uint32_t max_queues = 8;        // I/O queue pairs
  uint32_t mqes = 1023;           // max queue entries - 1
  std::string file;               // backing file; empty = RAM
  bool nocopy = false;            // benchmarks: check PRPs but move no data, keep no storage
};

class NvmeController final : public pci::Model {
 public:
  // On error (backing file) `error` is set and the controller stays disabled.
  NvmeController(const NvmeOptions& o, std::string* error);
  ~NvmeController() override;

  uint32_t mmio_read32(uint64_t off) override;
  void mmio_write32(uint64_t off, uint32_t value) override;
  uint64_t mmio_read64(uint64_t off) override;
  void mmio_write64(uint64_t off, uint64_t value) override;
  uint16_t vendor_id() const override { return 0x1b36; }   // the ids QEMU's model uses
  uint16_t device_id() const override { return 0x0010; }
  void function_reset() override;
  void idle() override;

  // ---- fault injection (tests) ----
  void inject_fatal();                       // CSTS.CFS: the controller stops
  void drop_completions(uint32_t n);         // the next n completions are lost
  void delay_completions(uint32_t n, uint32_t idles);   // the next n arrive after `idles` idle() calls

  uint64_t commands_executed() const { return executed_; }

 private:
  struct SubmissionQueue {
    bool valid = false;
    uint64_t base = 0;
    uint32_t size = 0, head = 0, tail = 0;
    uint16_t cqid = 0;
  };
  struct CompletionQueue {
    bool valid = false;
    uint64_t base = 0;
    uint32_t size = 0, head = 0, tail = 0;
    bool phase = true;
  };
  struct Pending {
    uint16_t cqid;
    nvme::Completion entry;
    uint32_t idles_left;
  };

  void enable();
  void disable();
  void doorbell(uint64_t off, uint32_t value);
  void process(uint16_t qid);
  uint16_t execute_admin(const nvme::Command& c, uint32_t& dw0);
  uint16_t execute_io(const nvme::Command& c);
  uint16_t transfer(const nvme::Command& c, uint64_t bytes, bool to_host, uint8_t* data);
  uint16_t rw(const nvme::Command& c, bool write);
  void complete(uint16_t cqid, const nvme::Completion& e);
  bool post(uint16_t cqid, nvme::Completion e);
  uint8_t* dma(uint64_t iova, uint64_t len) const;
  void fatal();

  NvmeOptions o_;
  uint64_t cap_;
  uint32_t cc_ = 0, csts_ = 0, aqa_ = 0, intms_ = 0;
  uint64_t asq_ = 0, acq_ = 0;
  std::vector<SubmissionQueue> sq_;
  std::vector<CompletionQueue> cq_;
  std::deque<Pending> delayed_;
  std::vector<uint8_t> ram_;
  int fd_ = -1;
  uint32_t drop_ = 0, delay_n_ = 0, delay_idles_ = 0;
  uint32_t queues_granted_ = 0;
  uint64_t executed_ = 0;
  std::recursive_mutex lock_;   // doorbells may come from several threads
};

}  // namespace rl::sim
