// The NVMe stack on the simulated controller: registers, the driver linked
// directly (data integrity, PRP lists, errors, faults, reset), and the driver
// as a domain behind the generated NvmeBDev proxy.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "drivers/nvme/driver.hpp"
#include "idl/bdev.rl.hpp"
#include "sim/nvme/controller.hpp"

namespace rl::nvme {
namespace {

using sim::NvmeController;

std::unique_ptr<pci::Device> sim_device(const std::string& options = "") {
  std::string err;
  auto d = pci::open("sim:nvme" + options, &err);
  EXPECT_TRUE(d) << err;
  return d;
}
NvmeController& model(pci::Device& d) { return *static_cast<NvmeController*>(d.model()); }

// A shared-heap buffer (DMA memory) of up to 2 MiB.
using Buffer = RRefArray<uint8_t, kMaxTransfer>;

TEST(Pci, BadDeviceNamesAreRefusedWithTheReason) {
  std::string err;
  EXPECT_FALSE(pci::open("sim:tape", &err));
  EXPECT_NE(err.find("no simulated device named 'tape' (have: nvme, ixgbe, ram)"), std::string::npos) << err;
  EXPECT_FALSE(pci::open("sim:nvme,blocks=many", &err));
  EXPECT_NE(err.find("blocks=many is not a number"), std::string::npos) << err;
  EXPECT_FALSE(pci::open("sim:nvme,colour=red", &err));
  EXPECT_NE(err.find("unknown sim:nvme option 'colour'"), std::string::npos) << err;
  EXPECT_FALSE(pci::open("eth0", &err));
  EXPECT_NE(err.find("neither a PCI address"), std::string::npos) << err;
  EXPECT_FALSE(pci::open("0000:7f:1f.7", &err));
  EXPECT_TRUE(err.find("/dev/vfio") != std::string::npos || err.find("no PCI device") != std::string::npos) << err;
}

TEST(SimController, RegistersFollowTheSpecification) {
  auto d = sim_device();
  uint64_t cap = d->read64(reg::CAP);
  EXPECT_EQ(cap::mqes(cap), 1023u);
  EXPECT_TRUE(cap::cqr(cap));
  EXPECT_TRUE(cap::css_nvm(cap));
  EXPECT_EQ(cap::dstrd(cap), 0u);
  EXPECT_GT(cap::to_500ms(cap), 0u);
  EXPECT_EQ(d->read32(reg::VS), 0x00010400u);
  EXPECT_EQ(d->read32(reg::CSTS) & csts::RDY, 0u);
  // CC.EN with a valid admin queue makes the controller ready; clearing it resets.
  auto sq = RRefArray<Command, 32>::make_aligned(kPage);
  auto cq = RRefArray<Completion, 32>::make_aligned(kPage);
  d->write32(reg::AQA, aqa::make(32, 32));
  d->write64(reg::ASQ, pci::Device::iova(sq.data()));
  d->write64(reg::ACQ, pci::Device::iova(cq.data()));
  d->write32(reg::CC, cc::EN | cc::iosqes(6) | cc::iocqes(4));
  EXPECT_EQ(d->read32(reg::CSTS) & csts::RDY, csts::RDY);
  d->write32(reg::CC, 0);
  EXPECT_EQ(d->read32(reg::CSTS) & csts::RDY, 0u);
  // An admin queue outside DMA-able memory cannot come ready: fatal status.
  Command on_stack[4];
  d->write64(reg::ASQ, pci::Device::iova(on_stack));
  d->write32(reg::CC, cc::EN);
  EXPECT_EQ(d->read32(reg::CSTS) & (csts::RDY | csts::CFS), csts::CFS);
}

// Drives the simulated controller's admin queue by hand, as a driver would.
class RawAdmin {
 public:
  explicit RawAdmin(pci::Device& d) : d_(d) {
    d_.write32(reg::AQA, aqa::make(8, 8));
    d_.write64(reg::ASQ, pci::Device::iova(sq_.data()));
    d_.write64(reg::ACQ, pci::Device::iova(cq_.data()));
    d_.write32(reg::CC, cc::EN | cc::iosqes(6) | cc::iocqes(4));
  }
  // Returns the (SCT << 8) | SC status of one admin command.
  uint16_t run(Command c) {
    c.cid = static_cast<uint16_t>(tail_);
    sq_[tail_] = c;
    tail_ = (tail_ + 1) % 8;
    d_.write32(reg::sq_tail_doorbell(0, 0), tail_);
    Completion e = cq_[head_];
    EXPECT_EQ(phase(e.status), phase_) << "the completion was posted with the current phase";
    EXPECT_EQ(e.cid, c.cid);
    if (++head_ == 8) {
      head_ = 0;
      phase_ = !phase_;
    }
    d_.write32(reg::cq_head_doorbell(0, 0), head_);
    return status_of(e.status);
  }

 private:
  pci::Device& d_;
  RRefArray<Command, 8> sq_ = RRefArray<Command, 8>::make_aligned(kPage);
  RRefArray<Completion, 8> cq_ = RRefArray<Completion, 8>::make_aligned(kPage);
  uint32_t tail_ = 0, head_ = 0;
  bool phase_ = true;
};

TEST(SimController, RejectsBadAdminCommandsWithTheirStatusCodes) {
  auto d = sim_device();
  RawAdmin a(*d);
  auto queue = RRefArray<Completion, 64>::make_aligned(kPage);
  Command c{};
  c.opcode = 0x7E;
  EXPECT_EQ(a.run(c), sc::INVALID_OPCODE);
  c = Command{};
  c.opcode = admin::CREATE_IO_CQ;
  c.prp1 = pci::Device::iova(queue.data());
  c.cdw10 = (63u << 16) | 99;   // queue 99: beyond the controller's queues
  c.cdw11 = 1;
  EXPECT_EQ(a.run(c), sc::INVALID_QUEUE_ID);
  c.cdw10 = (63u << 16) | 1;
  EXPECT_EQ(a.run(c), sc::SUCCESS);
  EXPECT_EQ(a.run(c), sc::INVALID_QUEUE_ID) << "queue 1 exists already";
  c = Command{};
  c.opcode = admin::CREATE_IO_SQ;
  c.prp1 = pci::Device::iova(queue.data());
  c.cdw10 = (7u << 16) | 2;
  c.cdw11 = (5u << 16) | 1;   // completion queue 5 does not exist
  EXPECT_EQ(a.run(c), sc::CQ_INVALID);
  c = Command{};
  c.opcode = admin::IDENTIFY;
  c.nsid = 7;
  c.prp1 = pci::Device::iova(queue.data());
  c.cdw10 = CNS_NAMESPACE;
  EXPECT_EQ(a.run(c), sc::INVALID_NAMESPACE);
  // Eight commands wrapped the queues once: the phase flipped and still matched.
  for (int i = 0; i < 4; ++i) {
    c = Command{};
    c.opcode = admin::GET_FEATURES;
    c.cdw10 = FEATURE_NUMBER_OF_QUEUES;
    EXPECT_EQ(a.run(c), sc::SUCCESS);
  }
}

class Direct : public ::testing::Test {
 protected:
  void SetUp() override {
    dev = sim_device(",blocks=32768");
    std::string err;
    DriverConfig cfg;
    cfg.io_queues = 2;
    cfg.queue_depth = 1024;
    drv = Driver::create(*dev, cfg, &err);
    ASSERT_TRUE(drv) << err;
  }
  std::unique_ptr<pci::Device> dev;
  std::unique_ptr<Driver> drv;
};

TEST_F(Direct, IdentifiesTheController) {
  std::string mn(drv->controller().mn.data(), drv->controller().mn.size());
  EXPECT_EQ(mn.substr(0, 22), "redleaf simulated NVMe");
  EXPECT_EQ(drv->lba_size(), 512u);
  EXPECT_EQ(drv->lba_count(), 32768u);
  EXPECT_EQ(drv->io_queues(), 2u);
}

TEST_F(Direct, RandomWritesReadBackIntactWithPrpLists) {
  std::mt19937_64 rng(42);
  std::vector<uint8_t> mirror(32768 * 512, 0);
  auto buf = Buffer::make_aligned(kPage);
  for (int i = 0; i < 600; ++i) {
    uint32_t blocks = 1 + rng() % 600;                       // up to 300 KiB: PRP lists
    uint64_t lba = rng() % (32768 - blocks);
    uint32_t offset = (rng() % 2) ? 0 : 4 * (rng() % 512);   // PRP1 with an offset sometimes
    uint8_t* data = buf.data() + offset;
    bool write = rng() % 2;
    if (write) {
      for (uint32_t k = 0; k < blocks * 512; ++k) data[k] = static_cast<uint8_t>(rng());
      ASSERT_EQ(drv->io_sync(1 + i % 2, io::WRITE, lba, blocks, data), 0) << "op " << i;
      std::memcpy(&mirror[lba * 512], data, blocks * 512);
    } else {
      ASSERT_EQ(drv->io_sync(1 + i % 2, io::READ, lba, blocks, data), 0) << "op " << i;
      ASSERT_EQ(std::memcmp(&mirror[lba * 512], data, blocks * 512), 0) << "op " << i << " lba " << lba;
    }
  }
}

TEST_F(Direct, KeepsAThousandRequestsInFlightOnOneQueue) {
  auto pages = RRefArray<uint8_t, 1023 * 512>::make_aligned(kPage);
  for (uint32_t i = 0; i < 1023; ++i) {
    std::memset(pages.data() + i * 512, static_cast<int>(i & 0xFF), 512);
    ASSERT_EQ(drv->submit(1, io::WRITE, i, 1, pages.data() + i * 512, i), 0) << i;
  }
  EXPECT_EQ(drv->submit(1, io::WRITE, 0, 1, pages.data(), 9999), -EAGAIN) << "the queue is full";
  EXPECT_EQ(drv->in_flight(1), 1023u);
  drv->ring(1);
  std::vector<bool> seen(1023);
  Done done[64];
  unsigned total = 0;
  while (total < 1023) {
    unsigned n = drv->poll(1, done, 64);
    for (unsigned k = 0; k < n; ++k) {
      ASSERT_EQ(done[k].status, 0);
      seen[done[k].tag] = true;
    }
    total += n;
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), 1023);
  auto check = Buffer::make_aligned(kPage);
  ASSERT_EQ(drv->io_sync(2, io::READ, 700, 1, check.data()), 0);
  EXPECT_EQ(check[0], 700 & 0xFF);
}

TEST_F(Direct, ReportsBadRequestsAsErrors) {
  auto buf = Buffer::make_aligned(kPage);
  EXPECT_EQ(drv->io_sync(1, io::READ, 32768 - 2, 8, buf.data()), -ERANGE) << "LBA out of range";
  alignas(4096) static thread_local uint8_t not_dma[4096];
  EXPECT_EQ(drv->io_sync(1, io::READ, 0, 8, not_dma), -EFAULT) << "memory the IOMMU does not map";
  EXPECT_EQ(drv->io_sync(1, 0x7F, 0, 1, buf.data()), -EINVAL) << "invalid opcode";
  EXPECT_EQ(drv->io_sync(1, io::READ, 0, 1, buf.data() + 2), -EFAULT) << "PRP1 not dword aligned";
  EXPECT_EQ(drv->submit(9, io::READ, 0, 1, buf.data(), 0), -EINVAL) << "no such queue";
  EXPECT_EQ(drv->io_sync(1, io::FLUSH, 0, 0, nullptr), 0);
}

TEST_F(Direct, AFatalControllerIsResetAndKeepsItsData) {
  auto buf = Buffer::make_aligned(kPage);
  std::memset(buf.data(), 0xAB, 4096);
  ASSERT_EQ(drv->io_sync(1, io::WRITE, 100, 8, buf.data()), 0);
  model(*dev).inject_fatal();
  EXPECT_EQ(drv->io_sync(1, io::READ, 100, 8, buf.data()), -EIO);
  std::string err;
  ASSERT_TRUE(drv->reset(&err)) << err;
  Done stale[8];
  unsigned n = drv->poll(1, stale, 8);
  ASSERT_EQ(n, 1u) << "the request lost with the queues is reported";
  EXPECT_EQ(stale[0].status, -EIO);
  std::memset(buf.data(), 0, 4096);
  ASSERT_EQ(drv->io_sync(1, io::READ, 100, 8, buf.data()), 0);
  EXPECT_EQ(buf[4095], 0xAB);
}

TEST(DirectFaults, ADroppedCompletionTimesOutAndADelayedOneArrives) {
  auto dev = sim_device();
  std::string err;
  DriverConfig cfg;
  cfg.io_timeout = std::chrono::milliseconds(50);
  auto drv = Driver::create(*dev, cfg, &err);
  ASSERT_TRUE(drv) << err;
  auto buf = Buffer::make_aligned(kPage);
  model(*dev).drop_completions(1);
  EXPECT_EQ(drv->io_sync(1, io::READ, 0, 1, buf.data()), -ETIMEDOUT);
  model(*dev).delay_completions(1, 100);
  EXPECT_EQ(drv->io_sync(1, io::READ, 0, 1, buf.data()), 0);
}

TEST(DirectFaults, AFileBackedNamespaceSurvivesTheController) {
  char path[] = "/tmp/rl-nvme-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  auto buf = Buffer::make_aligned(kPage);
  {
    auto dev = sim_device(std::string(",blocks=4096,file=") + path);
    std::string err;
    auto drv = Driver::create(*dev, DriverConfig{}, &err);
    ASSERT_TRUE(drv) << err;
    std::memcpy(buf.data(), "persistent", 11);
    ASSERT_EQ(drv->io_sync(1, io::WRITE, 7, 1, buf.data()), 0);
    ASSERT_EQ(drv->io_sync(1, io::FLUSH, 0, 0, nullptr), 0);
  }
  {
    auto dev = sim_device(std::string(",blocks=4096,file=") + path);
    std::string err;
    auto drv = Driver::create(*dev, DriverConfig{}, &err);
    ASSERT_TRUE(drv) << err;
    std::memset(buf.data(), 0, 512);
    ASSERT_EQ(drv->io_sync(1, io::READ, 7, 1, buf.data()), 0);
    EXPECT_STREQ(reinterpret_cast<const char*>(buf.data()), "persistent");
  }
  unlink(path);
}

}  // namespace
}  // namespace rl::nvme

namespace rl::blk {
namespace {

std::string nvme_so() {
  const char* dir = std::getenv("RL_NVME_DOMAIN_DIR");
  return std::string(dir ? dir : "drivers/nvme") + "/nvme.so";
}

struct NvmeDomainTest : ::testing::Test {
  void SetUp() override {
    std::string err;
    auto dev = pci::open("sim:nvme,blocks=65536", &err);
    ASSERT_TRUE(dev) << err;
    ref = pci::attach(std::move(dev));
    LoadError lerr;
    nvme = load_nvme(nvme_so(), "nvme", NvmeInit{ref, 2, 256}, &lerr);
    ASSERT_TRUE(nvme) << lerr.message;
  }
  void TearDown() override {
    nvme = {};
    pci::detach(ref);
  }
  pci::DeviceRef ref{};
  Loaded<NvmeBDevProxy> nvme;
};

TEST_F(NvmeDomainTest, ServesBDevThroughTheProxy) {
  auto info = nvme.proxy->info();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->blocks, 65536u * 512 / kBlockSize);
  EXPECT_EQ(std::string(info->model.data(), 22), "redleaf simulated NVMe");
  auto out = RRef<Block>::make_aligned(4096);
  for (uint32_t i = 0; i < kBlockSize; ++i) out->data[i] = static_cast<uint8_t>(i * 7);
  auto w = nvme.proxy->write(42, out);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, 0);
  EXPECT_EQ(out.borrows(), 0u);
  auto r = nvme.proxy->read(42, RRef<Block>::make_aligned(4096));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 0);
  EXPECT_EQ(std::memcmp(r->buf->data.data(), out->data.data(), kBlockSize), 0);
  EXPECT_EQ(r->buf.owner(), 0u) << "the buffer came back to the caller";
  EXPECT_EQ(*nvme.proxy->flush(), 0);
  auto bad = nvme.proxy->read(1u << 30, RRef<Block>::make_aligned(4096));
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, -ERANGE);
}

TEST_F(NvmeDomainTest, BatchesComeBackCompleted) {
  auto batch = BlkBatch::make();
  for (uint64_t i = 0; i < kQueueBatch; ++i) {
    auto b = RRef<Block>::make_aligned(4096);
    b->data[0] = static_cast<uint8_t>(i);
    ASSERT_TRUE(batch.push_back(BlkReq{i, i, BlkOp::Write, 1, std::move(b)}));
  }
  std::size_t completed = 0;
  for (int round = 0; round < 1000 && completed < kQueueBatch; ++round) {
    auto r = nvme.proxy->submit_and_poll(std::move(batch));
    ASSERT_TRUE(r.ok());
    batch = std::move(r.value());
    BlkReq done;
    while (batch.pop_front(done)) {
      EXPECT_EQ(done.status, 0);
      EXPECT_EQ(done.buf->data[0], static_cast<uint8_t>(done.tag));
      ++completed;
    }
  }
  EXPECT_EQ(completed, kQueueBatch);
  auto st = nvme.proxy->stats();
  EXPECT_EQ(st->completed, kQueueBatch);
  auto r = nvme.proxy->read(31, RRef<Block>::make_aligned(4096));
  EXPECT_EQ(r->buf->data[0], 31);
}

TEST_F(NvmeDomainTest, ACrashedDriverRestartsAndTheDataIsStillThere) {
  auto quiesced = std::make_shared<int>(0);   // the hook also runs at unload, after this test
  nvme.domain->on_reclaim([quiesced, dev = ref] {
    std::string err;
    EXPECT_TRUE(pci::lookup(dev)->reset(&err)) << err;
    ++*quiesced;
  });
  auto b = RRef<Block>::make_aligned(4096);
  b->data[9] = 99;
  ASSERT_EQ(*nvme.proxy->write(5, b), 0);
  nvme.domain->kill();
  auto dead = nvme.proxy->flush();
  ASSERT_FALSE(dead.ok());
  EXPECT_EQ(dead.error(), RpcError::DomainFailed);
  EXPECT_EQ(*quiesced, 1) << "the device was stopped before the driver's memory was freed";
  EXPECT_EQ(pci::lookup(ref)->read32(nvme::reg::CSTS) & nvme::csts::RDY, 0u);
  ASSERT_TRUE(nvme.domain->restart().ok()) << "the factory re-initializes the controller";
  auto r = nvme.proxy->read(5, RRef<Block>::make_aligned(4096));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->buf->data[9], 99);
}

TEST(NvmeDomainLoad, AMissingDeviceFailsTheLoadWithTheReason) {
  LoadError err;
  auto l = load_nvme(nvme_so(), "nvme", NvmeInit{pci::DeviceRef{4000}, 1, 64}, &err);
  EXPECT_FALSE(l);
  EXPECT_NE(err.message.find("nvme: no device behind this DeviceRef"), std::string::npos) << err.message;
}

}  // namespace
}  // namespace rl::blk
