#include "drivers/intel/rings.hpp"

namespace rl::intel {

namespace {
void program_base(const pci::Device& dev, const QueueRegs& regs, const void* ring, uint32_t bytes) {
  uint64_t base = pci::Device::iova(ring);
  dev.write32(regs.bal, static_cast<uint32_t>(base));
  dev.write32(regs.bah, static_cast<uint32_t>(base >> 32));
  dev.write32(regs.len, bytes);
}
}  // namespace

void RxRing::setup(const pci::Device& dev, QueueRegs regs) {
  regs_ = regs;
  desc_ = RRefArray<RxDesc, kRingSize>::make_aligned(4096);
  bufs_.resize(kRingSize);
  program_base(dev, regs, desc_.data(), kRingSize * sizeof(RxDesc));
  for (uint32_t i = 0; i < kRingSize; ++i) {   // every descriptor gets a buffer
    bufs_[i] = RRef<net::Packet>::make_aligned(64);
    desc_[i] = RxDesc{pci::Device::iova(bufs_[i]->data.data()), 0};
  }
  next_ = 0;
}

void RxRing::start(const pci::Device& dev) const {
  dev.write32(regs_.head, 0);
  dev.write32(regs_.tail, kRingSize - 1);
}

void TxRing::setup(const pci::Device& dev, QueueRegs regs, TxFormat format) {
  regs_ = regs;
  format_ = format;
  desc_ = RRefArray<TxDesc, kRingSize>::make_aligned(4096);
  bufs_.resize(kRingSize);
  program_base(dev, regs, desc_.data(), kRingSize * sizeof(TxDesc));
  tail_ = clean_ = 0;
}

void TxRing::start(const pci::Device& dev) const {
  dev.write32(regs_.head, 0);
  dev.write32(regs_.tail, 0);
}

}  // namespace rl::intel
