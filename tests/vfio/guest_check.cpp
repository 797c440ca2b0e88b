// rl-vfio-check: runs inside the QEMU guest against QEMU's own NVMe model,
// bound to vfio-pci: our VFIO backend and NVMe driver on a real IOMMU.
//
//   rl-vfio-check ADDR [NVME-DOMAIN]   e.g. 0000:00:04.0 /nvme.so
//
// With the domain: the driver then runs as nvme.so behind the block shadow
// and is crashed in the middle of I/O, recovered through a real
// VFIO_DEVICE_RESET, and every acknowledged write is read back.
//
// Prints `RL-VFIO-CHECK: PASS ...` or `RL-VFIO-CHECK: FAIL <why>`; the host
// side (run_qemu.py) also checks the disk image afterwards.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "domains/shadow/bdev/bdev_shadow.hpp"
#include "drivers/nvme/driver.hpp"

using namespace rl;
using namespace rl::nvme;

namespace {

int fail(const std::string& why) {
  printf("RL-VFIO-CHECK: FAIL %s\n", why.c_str());
  return 1;
}

// The pattern the host finds in the disk image at kPatternLba.
constexpr uint64_t kPatternLba = 1000;
constexpr uint32_t kPatternBlocks = 8;
void fill_pattern(uint8_t* p) {
  for (uint32_t i = 0; i < kPatternBlocks * 512; ++i) p[i] = static_cast<uint8_t>("redleaf-vfio-"[i % 13]);
}

// nvme.so behind the block shadow, crashed every 40 calls while writing and
// reading 4 KiB blocks with 32 in flight; every acknowledged write is read back.
bool crash_and_recover(std::unique_ptr<pci::Device> dev, const char* domain, uint64_t* crashes, std::string* why) {
  pci::DeviceRef ref = pci::attach(std::move(dev));
  LoadError lerr;
  auto nvme = blk::load_nvme(domain, "nvme", blk::NvmeInit{ref, 1, 64}, &lerr);
  if (!nvme) {
    *why = lerr.message;
    return false;
  }
  std::map<uint64_t, uint8_t> acked;   // block -> byte value of its last acknowledged write
  {
    blk::BlockDeviceShadow shadow(*nvme.domain, ref);
    const FaultKind kinds[] = {FaultKind::Segfault, FaultKind::Panic, FaultKind::Exception};
    std::vector<RRef<blk::Block>> idle;
    for (int i = 0; i < 32; ++i) idle.push_back(RRef<blk::Block>::make_aligned(4096));
    auto q = blk::BlkBatch::make();
    uint64_t next = 0;
    for (int call = 1; call <= 400; ++call) {
      if (call % 40 == 0) nvme.domain->inject_next(kinds[(call / 40) % 3]);
      while (!idle.empty() && !q.full()) {
        uint64_t block = 2048 + next % 1024;   // away from the pattern
        auto b = std::move(idle.back());
        idle.pop_back();
        b->data.fill(static_cast<uint8_t>(next));
        (void)q.push_back(blk::BlkReq{block, next, blk::BlkOp::Write, 0, std::move(b)});
        ++next;
      }
      auto r = shadow.submit_and_poll(std::move(q));
      if (!r.ok()) {
        *why = std::string("the shadow gave up: ") + to_string(r.error());
        return false;
      }
      q = std::move(r.value());
      blk::BlkReq d;
      auto empty = blk::BlkBatch::make();
      while (q.pop_front(d)) {
        if (d.status != 0) {
          *why = "a write failed after recovery: " + std::to_string(d.status);
          return false;
        }
        acked[d.lba] = d.buf->data[0];
        idle.push_back(std::move(d.buf));
      }
      q = std::move(empty);
    }
    *crashes = nvme.domain->faults_injected();
    if (shadow.recoveries() < *crashes) {
      *why = std::to_string(shadow.recoveries()) + " recoveries for " + std::to_string(*crashes) + " crashes";
      return false;
    }
    // Drain what is still in flight, then read everything back.
    for (int spins = 0; shadow.in_flight() > 0 && spins < 100000; ++spins) {
      auto r = shadow.submit_and_poll(std::move(q));
      if (!r.ok()) break;
      q = std::move(r.value());
      blk::BlkReq d;
      auto empty = blk::BlkBatch::make();
      while (q.pop_front(d)) acked[d.lba] = d.buf->data[0];
      q = std::move(empty);
    }
    for (auto& [block, value] : acked) {
      auto r = shadow.read(block, RRef<blk::Block>::make_aligned(4096));
      if (!r.ok() || r.value().status != 0) {
        *why = "read-back of block " + std::to_string(block) + " failed";
        return false;
      }
      for (uint8_t byte : r.value().buf->data)
        if (byte != value) {
          *why = "acknowledged write of block " + std::to_string(block) + " lost";
          return false;
        }
    }
    printf("recovery: %lu crashes, %lu recoveries, %zu blocks verified\n", static_cast<unsigned long>(*crashes),
           static_cast<unsigned long>(shadow.recoveries()), acked.size());
  }
  nvme = {};
  pci::detach(ref);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: rl-vfio-check PCI-ADDRESS [NVME-DOMAIN]\n");
    return 2;
  }
  std::string err;
  auto dev = pci::open(argv[1], &err);
  if (!dev) return fail("open: " + err);
  DriverConfig cfg;
  cfg.io_queues = 2;
  cfg.queue_depth = 64;
  auto drv = Driver::create(*dev, cfg, &err);
  if (!drv) return fail("driver: " + err);

  // Identify, as QEMU's model fills it in.
  std::string mn(drv->controller().mn.data(), drv->controller().mn.size());
  std::string sn(drv->controller().sn.data(), drv->controller().sn.size());
  if (mn.rfind("QEMU NVMe Ctrl", 0) != 0) return fail("identify: model '" + mn + "'");
  if (sn.rfind("rltest", 0) != 0) return fail("identify: serial '" + sn + "'");
  if (drv->lba_size() != 512) return fail("identify: LBA size " + std::to_string(drv->lba_size()));
  uint64_t lbas = drv->lba_count();
  printf("identify: %s, %lu LBAs of %u bytes, %u I/O queues\n", mn.substr(0, 14).c_str(),
         static_cast<unsigned long>(lbas), drv->lba_size(), drv->io_queues());

  // Thousands of random writes and reads of random sizes, checked against a mirror.
  std::mt19937_64 rng(7);
  std::vector<uint8_t> mirror(lbas * 512, 0);
  std::vector<bool> written(lbas, false);
  auto buf = RRefArray<uint8_t, 128 * 512 + 4096>::make_aligned(4096);
  int ops = 0;
  for (; ops < 3000; ++ops) {
    uint32_t blocks = 1 + static_cast<uint32_t>(rng() % 128);   // up to 64 KiB: PRP lists
    uint64_t lba = rng() % (lbas - blocks);
    if (lba <= kPatternLba + kPatternBlocks && lba + blocks >= kPatternLba) continue;   // keep the pattern area
    uint8_t* data = buf.data() + 4 * (rng() % 1024);   // PRP1 offsets
    if (rng() % 2) {
      for (uint32_t i = 0; i < blocks * 512; ++i) data[i] = static_cast<uint8_t>(rng());
      int rc = drv->io_sync(1 + ops % 2, io::WRITE, lba, blocks, data);
      if (rc) return fail("write lba " + std::to_string(lba) + ": " + strerror(-rc));
      std::memcpy(&mirror[lba * 512], data, blocks * 512);
    } else {
      int rc = drv->io_sync(1 + ops % 2, io::READ, lba, blocks, data);
      if (rc) return fail("read lba " + std::to_string(lba) + ": " + strerror(-rc));
      if (std::memcmp(&mirror[lba * 512], data, blocks * 512) != 0) return fail("data mismatch at lba " + std::to_string(lba));
    }
  }

  // The pattern for the host, flushed.
  fill_pattern(buf.data());
  if (int rc = drv->io_sync(1, io::WRITE, kPatternLba, kPatternBlocks, buf.data())) return fail("pattern write: " + std::to_string(rc));
  if (int rc = drv->io_sync(1, io::FLUSH, 0, 0, nullptr)) return fail("flush: " + std::to_string(rc));

  // DMA to memory the IOMMU does not map (outside the shared heap) is refused,
  // and I/O goes on.
  std::vector<uint8_t> unmapped(8192);
  uint8_t* outside = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(unmapped.data()) + 4095) & ~uintptr_t{4095});
  int rc = drv->io_sync(1, io::READ, 0, 8, outside);
  if (rc == 0) return fail("a read into unmapped memory succeeded");
  printf("unmapped DMA: refused (%s)\n", strerror(-rc));
  if (int rc2 = drv->io_sync(1, io::READ, kPatternLba, 1, buf.data())) return fail("I/O after the DMA fault: " + std::to_string(rc2));

  // A controller reset in the middle of I/O: everything in flight is reported, then I/O works.
  auto many = RRefArray<uint8_t, 32 * 4096>::make_aligned(4096);
  for (uint32_t i = 0; i < 32; ++i)
    if (drv->submit(1, io::READ, i * 8, 8, many.data() + i * 4096, i) != 0) return fail("submit before reset");
  drv->ring(1);
  if (!drv->reset(&err)) return fail("reset: " + err);
  Done done[64];
  unsigned reported = 0;
  for (int spins = 0; spins < 1000 && reported < 32; ++spins) reported += drv->poll(1, done, 64);
  if (reported != 32) return fail("after reset " + std::to_string(reported) + " of 32 in-flight requests were reported");
  std::memset(buf.data(), 0, kPatternBlocks * 512);
  if (int rc3 = drv->io_sync(2, io::READ, kPatternLba, kPatternBlocks, buf.data())) return fail("read after reset: " + std::to_string(rc3));
  std::vector<uint8_t> expect(kPatternBlocks * 512);
  fill_pattern(expect.data());
  if (std::memcmp(expect.data(), buf.data(), expect.size()) != 0) return fail("pattern lost across the reset");

  std::string recovered;
  if (argc == 3) {
    drv.reset();   // the domain drives the controller from here on
    std::string why;
    uint64_t crashes = 0;
    if (!crash_and_recover(std::move(dev), argv[2], &crashes, &why)) return fail("recovery: " + why);
    recovered = ", " + std::to_string(crashes) + " driver crashes recovered through VFIO_DEVICE_RESET";
  }
  printf("RL-VFIO-CHECK: PASS %d random ops, unmapped DMA refused, reset with %u requests in flight%s\n", ops,
         reported, recovered.c_str());
  return 0;
}
