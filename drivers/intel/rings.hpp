// Descriptor rings as both Intel NIC families run them (descriptors.hpp):
// one receive ring and one transmit ring per queue, each a ring of
// descriptors in the shared heap beside the RRef<Packet> each descriptor's
// buffer belongs to.  The hot paths swap buffers with the caller's batch,
// so a frame moves between the application and the wire without a copy.
// The families differ only in register offsets (QueueRegs), in the order of
// their enable steps (each driver calls setup() and start() where its
// datasheet says) and in the transmit descriptor's type bits (TxFormat).
#pragma once

#include <cstdint>
#include <vector>

#include "drivers/intel/descriptors.hpp"
#include "drivers/pci/device.hpp"
#include "idl/net.hpp"

namespace rl::intel {

inline constexpr uint32_t kRingSize = 512;   // descriptors per ring

// One queue's registers: descriptor base (low, high), ring length in bytes, head, tail.
struct QueueRegs {
  uint32_t bal, bah, len, head, tail;
};

class RxRing {
 public:
  // Allocates the descriptors, gives each a buffer, programs base and length.
  void setup(const pci::Device& dev, QueueRegs regs);
  // Head 0, tail at the last descriptor: all but one belong to the device
  // (head == tail would mean empty).
  void start(const pci::Device& dev) const;

  // Swaps received frames into `batch` (whose entries are empty buffers):
  // returns how many entries now hold a frame (they come first).
  uint32_t rx(const pci::Device& dev, net::PacketBatch& batch) {
    const auto n = static_cast<uint32_t>(batch.size());
    uint32_t got = 0;
    uint32_t last = next_;
    while (got < n) {
      volatile RxDesc& d = desc_[next_];
      uint64_t qw1 = d.qw1;
      if (!(rxd_status(qw1) & RXD_STAT_DD)) break;
      // Swap: the frame goes to the caller, the caller's empty buffer to the ring.
      RRef<net::Packet>& out = batch[got];
      if (!out) out = RRef<net::Packet>::make_aligned(64);   // the caller gave no buffer here
      out.swap(bufs_[next_]);
      out->len = rxd_length(qw1);
      desc_[next_] = RxDesc{pci::Device::iova(bufs_[next_]->data.data()), 0};
      last = next_;
      next_ = (next_ + 1) % kRingSize;
      ++got;
    }
    if (got) dev.write32(regs_.tail, last);   // one tail write per batch
    return got;
  }

 private:
  RRefArray<RxDesc, kRingSize> desc_;
  std::vector<RRef<net::Packet>> bufs_;
  QueueRegs regs_{};
  uint32_t next_ = 0;   // the next descriptor to look at
};

// What a family's transmit data descriptor carries besides the shared bits.
struct TxFormat {
  uint32_t dtyp;            // descriptor type, bits 23:20 of cmd_type_len
  uint32_t paylen_shift;    // where the upper dword takes the payload length; 0: it does not
};

class TxRing {
 public:
  // Allocates the descriptors and programs base and length.
  void setup(const pci::Device& dev, QueueRegs regs, TxFormat format);
  // Head and tail 0: the ring is empty.
  void start(const pci::Device& dev) const;

  // Sends the frames in `batch`, swapping each for a buffer the device is done
  // with (len 0); returns how many were sent (frames not sent stay, len kept).
  uint32_t tx(const pci::Device& dev, net::PacketBatch& batch) {
    const auto n = static_cast<uint32_t>(batch.size());
    uint32_t sent = 0;
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t next = (tail_ + 1) % kRingSize;
      if (next == clean_) {   // full: reclaim what the device finished
        volatile TxDesc& c = desc_[clean_];
        if (!(txd_status(c.qw1) & TXD_STAT_DD)) break;
        clean_ = (clean_ + 1) % kRingSize;
      }
      RRef<net::Packet>& p = batch[i];
      if (!p || p->len == 0) continue;
      uint32_t len = p->len;
      uint32_t upper = format_.paylen_shift ? len << format_.paylen_shift : 0;
      const uint32_t cmd_type_len = TXD_DCMD_EOP | TXD_DCMD_RS | TXD_DCMD_IFCS | TXD_DCMD_DEXT | format_.dtyp | len;
      desc_[tail_] = TxDesc{pci::Device::iova(p->data.data()), txd_qw1(cmd_type_len, upper)};
      // The frame's buffer stays with the ring until the device is done; the
      // caller gets the buffer of an earlier, finished frame (or an empty one).
      p.swap(bufs_[tail_]);
      if (!p) p = RRef<net::Packet>::make_aligned(64);
      p->len = 0;
      tail_ = next;
      ++sent;
    }
    if (sent) {
      __atomic_thread_fence(__ATOMIC_RELEASE);
      dev.write32(regs_.tail, tail_);
    }
    return sent;
  }

 private:
  RRefArray<TxDesc, kRingSize> desc_;
  std::vector<RRef<net::Packet>> bufs_;
  QueueRegs regs_{};
  TxFormat format_{};
  uint32_t tail_ = 0, clean_ = 0;   // next to fill, next to reclaim
};

}  // namespace rl::intel
