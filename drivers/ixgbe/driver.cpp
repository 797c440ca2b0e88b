// The 82599 driver: helpers, then reset_and_init() following the datasheet
// (4.6.3 initialization: interrupts off, global reset, EEPROM and DMA done,
// link, statistics, 4.6.7 receive, 4.6.8 transmit), then the hot path.
#include "drivers/ixgbe/driver.hpp"

#include <chrono>
#include <cstring>
#include <thread>

namespace rl::ixgbe {

namespace {
// 4.6.3.2: after setting CTRL.RST wait about 1 ms before touching any register.
constexpr auto kResetSettle = std::chrono::milliseconds(1);
constexpr auto kRegisterTimeout = std::chrono::seconds(2);
// The Microsoft RSS verification key, as Linux and DPDK use by default.
constexpr uint8_t kRssKey[40] = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
                                 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
                                 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};
}  // namespace

// Polls register `r` until the bits of `mask` are all set (or, with
// `set` false, all clear), or the timeout passes.
bool Driver::wait_bits(uint32_t r, uint32_t mask, bool set, std::string* error, const char* what) {
  auto deadline = std::chrono::steady_clock::now() + kRegisterTimeout;
  while ((dev_.read32(r) & mask) != (set ? mask : 0)) {
    if (std::chrono::steady_clock::now() > deadline) {
      *error = std::string("ixgbe: timed out waiting for ") + what;
      return false;
    }
    dev_.idle();
  }
  return true;
}

std::unique_ptr<Driver> Driver::create(pci::Device& dev, const DriverConfig& cfg, std::string* error) {
  if (cfg.rx_queues == 0 || cfg.rx_queues > kMaxQueues || cfg.tx_queues == 0 || cfg.tx_queues > kMaxQueues) {
    *error = "ixgbe: rx_queues and tx_queues must be in [1, " + std::to_string(kMaxQueues) + "]";
    return nullptr;
  }
  std::unique_ptr<Driver> d(new Driver(dev));
  if (!dev.enable_dma(error) || !d->reset_and_init(cfg, error)) return nullptr;
  return d;
}

bool Driver::reset_and_init(const DriverConfig& cfg, std::string* error) {
  // 4.6.3.1: disable interrupts, then a global reset, then interrupts off again.
  dev_.write32(reg::EIMC, 0x7FFFFFFF);
  dev_.write32(reg::CTRL, CTRL_RST);
  dev_.delay(kResetSettle);
  if (!wait_bits(reg::CTRL, CTRL_RST, false, error, "CTRL.RST to clear (global reset)")) return false;
  dev_.write32(reg::EIMC, 0x7FFFFFFF);
  // 4.6.3: EEPROM auto-read done, DMA initialization done.
  if (!wait_bits(reg::EEC, EEC_ARD, true, error, "EEC.ARD (EEPROM auto-read)")) return false;
  if (!wait_bits(reg::RDRXCTL, RDRXCTL_DMAIDONE, true, error, "RDRXCTL.DMAIDONE")) return false;
  // The MAC address: receive address 0, filled from the EEPROM (RAL: bytes 0-3, RAH: 4-5).
  uint32_t ral = dev_.read32(reg::RAL(0)), rah = dev_.read32(reg::RAH(0));
  if (!(rah & RAH_AV)) {
    *error = "ixgbe: the EEPROM loaded no MAC address (RAH(0).AV is clear)";
    return false;
  }
  for (int i = 0; i < 4; ++i) mac_[i] = static_cast<uint8_t>(ral >> (8 * i));
  mac_[4] = static_cast<uint8_t>(rah);
  mac_[5] = static_cast<uint8_t>(rah >> 8);
  // 4.6.4: link, 10G serial with autonegotiation restarted.
  dev_.write32(reg::AUTOC, (dev_.read32(reg::AUTOC) & ~(0x7u << 13)) | AUTOC_LMS_10G_SERIAL | AUTOC_AN_RESTART);
  // 4.6.5: statistics start at zero (the registers clear on read).
  (void)stats();
  totals_ = {};
  init_rx(cfg.rx_queues);
  init_tx(cfg.tx_queues);
  if (cfg.rx_queues > 1) init_rss(cfg.rx_queues);
  uint32_t fctrl = dev_.read32(reg::FCTRL) | FCTRL_BAM;
  if (cfg.promiscuous) fctrl |= FCTRL_MPE | FCTRL_UPE;
  dev_.write32(reg::FCTRL, fctrl);
  return true;
}

// 4.6.7: receive, with advanced one-buffer descriptors, CRC strip, drop when full.
void Driver::init_rx(uint32_t queues) {
  dev_.write32(reg::RXCTRL, dev_.read32(reg::RXCTRL) & ~RXCTRL_RXEN);
  dev_.write32(reg::RXPBSIZE(0), 512u << 10);   // all 512 KB of packet buffer to pool 0
  for (uint32_t i = 1; i < 8; ++i) dev_.write32(reg::RXPBSIZE(i), 0);
  dev_.write32(reg::HLREG0, dev_.read32(reg::HLREG0) | HLREG0_RXCRCSTRP);
  dev_.write32(reg::RDRXCTL, dev_.read32(reg::RDRXCTL) | RDRXCTL_CRCSTRIP);
  rx_.resize(queues);
  for (uint32_t q = 0; q < queues; ++q) {
    RxRing& r = rx_[q];
    r.desc = RRefArray<RxDesc, kRingSize>::make_aligned(4096);
    r.bufs.resize(kRingSize);
    dev_.write32(reg::SRRCTL(q), SRRCTL_DESCTYPE_ADV_ONEBUF | SRRCTL_DROP_EN | kBufferKiB);
    uint64_t base = pci::Device::iova(r.desc.data());
    dev_.write32(reg::RDBAL(q), static_cast<uint32_t>(base));
    dev_.write32(reg::RDBAH(q), static_cast<uint32_t>(base >> 32));
    dev_.write32(reg::RDLEN(q), kRingSize * sizeof(RxDesc));
    for (uint32_t i = 0; i < kRingSize; ++i) {   // every descriptor gets a buffer
      r.bufs[i] = RRef<net::Packet>::make_aligned(64);
      r.desc[i] = RxDesc{pci::Device::iova(r.bufs[i]->data.data()), 0};
    }
    dev_.write32(reg::RXDCTL(q), dev_.read32(reg::RXDCTL(q)) | RXDCTL_ENABLE);
    dev_.write32(reg::RDH(q), 0);
    dev_.write32(reg::RDT(q), kRingSize - 1);   // one descriptor stays back: head == tail means empty
  }
  dev_.write32(reg::RXCTRL, dev_.read32(reg::RXCTRL) | RXCTRL_RXEN);
}

// 4.6.8: transmit with CRC and padding by the device, DMA TX enabled.
void Driver::init_tx(uint32_t queues) {
  dev_.write32(reg::HLREG0, dev_.read32(reg::HLREG0) | HLREG0_TXCRCEN | HLREG0_TXPADEN);
  dev_.write32(reg::TXPBSIZE(0), 160u << 10);
  dev_.write32(reg::RTTDCS, dev_.read32(reg::RTTDCS) & ~RTTDCS_ARBDIS);
  tx_.resize(queues);
  for (uint32_t q = 0; q < queues; ++q) {
    TxRing& t = tx_[q];
    t.desc = RRefArray<TxDesc, kRingSize>::make_aligned(4096);
    t.bufs.resize(kRingSize);
    uint64_t base = pci::Device::iova(t.desc.data());
    dev_.write32(reg::TDBAL(q), static_cast<uint32_t>(base));
    dev_.write32(reg::TDBAH(q), static_cast<uint32_t>(base >> 32));
    dev_.write32(reg::TDLEN(q), kRingSize * sizeof(TxDesc));
  }
  dev_.write32(reg::DMATXCTL, DMATXCTL_TE);
  for (uint32_t q = 0; q < queues; ++q) {
    dev_.write32(reg::TDH(q), 0);
    dev_.write32(reg::TDT(q), 0);
    // Prefetch, host and write-back thresholds as the datasheet suggests.
    dev_.write32(reg::TXDCTL(q), TXDCTL_ENABLE | 36 | (8 << 8) | (4 << 16));
  }
}

// 7.1.2.8: RSS over the IPv4 five-tuple; the redirection table round-robins the queues.
void Driver::init_rss(uint32_t queues) {
  for (uint32_t i = 0; i < 10; ++i) {
    uint32_t k;
    std::memcpy(&k, kRssKey + 4 * i, 4);
    dev_.write32(reg::RSSRK(i), k);
  }
  for (uint32_t i = 0; i < 32; ++i) {
    uint32_t v = 0;
    for (uint32_t b = 0; b < 4; ++b) v |= ((4 * i + b) % queues) << (8 * b);
    dev_.write32(reg::RETA(i), v);
  }
  dev_.write32(reg::MRQC, MRQC_RSS | MRQC_IPV4 | MRQC_IPV4_TCP | MRQC_IPV4_UDP);
}

net::LinkState Driver::link() const {
  uint32_t links = dev_.read32(reg::LINKS);
  uint32_t speed = 0;
  switch (links & LINKS_SPEED_MASK) {
    case 0x1u << 28: speed = 100; break;
    case 0x2u << 28: speed = 1000; break;
    case 0x3u << 28: speed = 10000; break;
  }
  return net::LinkState{(links & LINKS_UP) ? 1u : 0u, speed};
}

net::NetStats Driver::stats() {
  totals_.rx_packets += dev_.read32(reg::GPRC);
  totals_.tx_packets += dev_.read32(reg::GPTC);
  totals_.rx_bytes += dev_.read32(reg::GORCL) | (uint64_t{dev_.read32(reg::GORCH)} << 32);
  totals_.tx_bytes += dev_.read32(reg::GOTCL) | (uint64_t{dev_.read32(reg::GOTCH)} << 32);
  totals_.rx_dropped += dev_.read32(reg::MPC(0)) + dev_.read32(reg::ROC);
  return totals_;
}

// ---- the hot path ------------------------------------------------------------------

uint32_t Driver::rx(uint32_t qi, net::PacketBatch& batch) {
  RxRing& r = rx_[qi];
  const auto n = static_cast<uint32_t>(batch.size());
  uint32_t got = 0;
  uint32_t last = r.next;
  while (got < n) {
    volatile RxDesc& d = r.desc[r.next];
    uint64_t qw1 = d.qw1;
    if (!(rxd_status(qw1) & RXD_STAT_DD)) break;
    // Swap: the frame goes to the caller, the caller's empty buffer to the ring.
    RRef<net::Packet>& out = batch[got];
    if (!out) out = RRef<net::Packet>::make_aligned(64);   // the caller gave no buffer here
    out.swap(r.bufs[r.next]);
    out->len = rxd_length(qw1);
    r.desc[r.next] = RxDesc{pci::Device::iova(r.bufs[r.next]->data.data()), 0};
    last = r.next;
    r.next = (r.next + 1) % kRingSize;
    ++got;
  }
  if (got) dev_.write32(reg::RDT(qi), last);   // one tail write per batch
  return got;
}

uint32_t Driver::tx(uint32_t qi, net::PacketBatch& batch) {
  TxRing& t = tx_[qi];
  const auto n = static_cast<uint32_t>(batch.size());
  uint32_t sent = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t next = (t.tail + 1) % kRingSize;
    if (next == t.clean) {   // full: reclaim what the device finished
      volatile TxDesc& c = t.desc[t.clean];
      if (!(txd_status(c.qw1) & TXD_STAT_DD)) break;
      t.clean = (t.clean + 1) % kRingSize;
    }
    RRef<net::Packet>& p = batch[i];
    if (!p || p->len == 0) continue;
    uint16_t len = p->len;
    t.desc[t.tail] = TxDesc{pci::Device::iova(p->data.data()),
                            txd_qw1(TXD_DCMD_EOP | TXD_DCMD_RS | TXD_DCMD_IFCS | TXD_DCMD_DEXT | TXD_DTYP_DATA | len,
                                    uint32_t{len} << TXD_PAYLEN_SHIFT)};
    // The frame's buffer stays with the ring until the device is done; the
    // caller gets the buffer of an earlier, finished frame (or an empty one).
    p.swap(t.bufs[t.tail]);
    if (!p) p = RRef<net::Packet>::make_aligned(64);
    p->len = 0;
    t.tail = next;
    ++sent;
  }
  if (sent) {
    __atomic_thread_fence(__ATOMIC_RELEASE);
    dev_.write32(reg::TDT(qi), t.tail);
  }
  return sent;
}

}  // namespace rl::ixgbe
