// The 82599 driver: reset_and_init() following the datasheet
// (4.6.3 initialization: interrupts off, global reset, EEPROM and DMA done,
// link, statistics, 4.6.7 receive, 4.6.8 transmit), then the hot path.
#include "drivers/ixgbe/driver.hpp"

#include <chrono>
#include <cstring>

namespace rl::ixgbe {

namespace {
// 4.6.3.2: after setting CTRL.RST wait about 1 ms before touching any register.
constexpr auto kResetSettle = std::chrono::milliseconds(1);
// The Microsoft RSS verification key, as Linux and DPDK use by default.
constexpr uint8_t kRssKey[40] = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
                                 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
                                 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};
}  // namespace

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
  if (!pci::wait_bits(dev_, reg::CTRL, CTRL_RST, false, "ixgbe", "CTRL.RST to clear (global reset)", error)) return false;
  dev_.write32(reg::EIMC, 0x7FFFFFFF);
  // 4.6.3: EEPROM auto-read done, DMA initialization done.
  if (!pci::wait_bits(dev_, reg::EEC, EEC_ARD, true, "ixgbe", "EEC.ARD (EEPROM auto-read)", error)) return false;
  if (!pci::wait_bits(dev_, reg::RDRXCTL, RDRXCTL_DMAIDONE, true, "ixgbe", "RDRXCTL.DMAIDONE", error)) return false;
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
    dev_.write32(reg::SRRCTL(q), SRRCTL_DESCTYPE_ADV_ONEBUF | SRRCTL_DROP_EN | kBufferKiB);
    rx_[q].setup(dev_, intel::QueueRegs{reg::RDBAL(q), reg::RDBAH(q), reg::RDLEN(q), reg::RDH(q), reg::RDT(q)});
    dev_.write32(reg::RXDCTL(q), dev_.read32(reg::RXDCTL(q)) | RXDCTL_ENABLE);
    rx_[q].start(dev_);
  }
  dev_.write32(reg::RXCTRL, dev_.read32(reg::RXCTRL) | RXCTRL_RXEN);
}

// 4.6.8: transmit with CRC and padding by the device, DMA TX enabled.
void Driver::init_tx(uint32_t queues) {
  dev_.write32(reg::HLREG0, dev_.read32(reg::HLREG0) | HLREG0_TXCRCEN | HLREG0_TXPADEN);
  dev_.write32(reg::TXPBSIZE(0), 160u << 10);
  dev_.write32(reg::RTTDCS, dev_.read32(reg::RTTDCS) & ~RTTDCS_ARBDIS);
  tx_.resize(queues);
  for (uint32_t q = 0; q < queues; ++q)
    tx_[q].setup(dev_, intel::QueueRegs{reg::TDBAL(q), reg::TDBAH(q), reg::TDLEN(q), reg::TDH(q), reg::TDT(q)},
                 intel::TxFormat{TXD_DTYP_DATA, TXD_PAYLEN_SHIFT});
  dev_.write32(reg::DMATXCTL, DMATXCTL_TE);
  for (uint32_t q = 0; q < queues; ++q) {
    tx_[q].start(dev_);
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
  intel::add_good_counts(dev_, totals_);
  totals_.rx_dropped += dev_.read32(reg::MPC(0));
  return totals_;
}

// ---- the hot path ------------------------------------------------------------------

uint32_t Driver::rx(uint32_t queue, net::PacketBatch& batch) { return rx_[queue].rx(dev_, batch); }

uint32_t Driver::tx(uint32_t queue, net::PacketBatch& batch) { return tx_[queue].tx(dev_, batch); }

}  // namespace rl::ixgbe
