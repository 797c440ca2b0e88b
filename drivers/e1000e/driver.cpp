// The 82574L driver: reset_and_init() follows the datasheet's software
// initialization (interrupts off, software reset, EEPROM done, link, MAC
// address, multicast table, statistics, receive, transmit).
#include "drivers/e1000e/driver.hpp"

#include <chrono>
#include <cstdio>

#include "drivers/intel/ids.hpp"
#include "drivers/intel/ring_net.hpp"
#include "drivers/intel/stats.hpp"

namespace rl::e1000e {

namespace {
// After CTRL.RST wait at least 1 ms before touching other registers.
constexpr auto kResetSettle = std::chrono::milliseconds(1);
// STATUS.SPEED: 00 10 Mb/s, 01 100 Mb/s, 1x 1000 Mb/s.
constexpr uint32_t kSpeedMbps[4] = {10, 100, 1000, 1000};
}  // namespace

std::unique_ptr<Driver> Driver::create(pci::Device& dev, std::string* error) {
  if (intel::family_of(dev.vendor_id(), dev.device_id()) != intel::Family::E1000e) {
    char id[32];
    snprintf(id, sizeof id, "%04x:%04x", dev.vendor_id(), dev.device_id());
    *error = "e1000e: " + dev.name() + " is PCI device " + id + ", not an 82574L (8086:10d3)";
    return nullptr;
  }
  std::unique_ptr<Driver> d(new Driver(dev));
  if (!dev.enable_dma(error) || !d->reset_and_init(error)) return nullptr;
  return d;
}

bool Driver::reset_and_init(std::string* error) {
  // Mask every interrupt (the driver polls), reset, mask again, clear causes.
  dev_.write32(reg::IMC, 0xFFFFFFFF);
  dev_.write32(reg::CTRL, dev_.read32(reg::CTRL) | CTRL_RST);
  dev_.delay(kResetSettle);
  if (!pci::wait_bits(dev_, reg::CTRL, CTRL_RST, false, "e1000e", "CTRL.RST to clear (software reset)", error))
    return false;
  dev_.write32(reg::IMC, 0xFFFFFFFF);
  (void)dev_.read32(reg::ICR);
  if (!pci::wait_bits(dev_, reg::EECD, EECD_AUTO_RD, true, "e1000e", "EECD.AUTO_RD (EEPROM auto-read)", error))
    return false;
  // Link: copper with autonegotiation; SLU lets the MAC follow the PHY.
  dev_.write32(reg::CTRL, dev_.read32(reg::CTRL) | CTRL_SLU);
  if (!read_mac(error)) return false;
  // The multicast table starts empty (promiscuous mode takes all anyway).
  for (uint32_t i = 0; i < 128; ++i) dev_.write32(reg::MTA(i), 0);
  // Statistics start at zero (the registers clear on read).
  (void)stats();
  totals_ = {};
  init_rx();
  init_tx();
  return true;
}

// The MAC address: receive address 0, loaded from the EEPROM at reset; if
// it is not valid, the EEPROM's words 0-2 through EERD.
bool Driver::read_mac(std::string* error) {
  uint32_t ral = dev_.read32(reg::RAL0), rah = dev_.read32(reg::RAH0);
  if (!(rah & RAH_AV)) {
    uint16_t words[3];
    for (uint32_t w = 0; w < 3; ++w) {
      dev_.write32(reg::EERD, EERD_START | (w << EERD_ADDR_SHIFT));
      if (!pci::wait_bits(dev_, reg::EERD, EERD_DONE, true, "e1000e", "EERD.DONE (EEPROM read)", error)) return false;
      words[w] = static_cast<uint16_t>(dev_.read32(reg::EERD) >> EERD_DATA_SHIFT);
    }
    ral = words[0] | (uint32_t{words[1]} << 16);
    rah = words[2] | RAH_AV;
    dev_.write32(reg::RAL0, ral);
    dev_.write32(reg::RAH0, rah);
  }
  for (int i = 0; i < 4; ++i) mac_[i] = static_cast<uint8_t>(ral >> (8 * i));
  mac_[4] = static_cast<uint8_t>(rah);
  mac_[5] = static_cast<uint8_t>(rah >> 8);
  if ((mac_[0] | mac_[1] | mac_[2] | mac_[3] | mac_[4] | mac_[5]) == 0 || (mac_[0] & 1)) {
    *error = "e1000e: the EEPROM holds no usable MAC address";
    return false;
  }
  return true;
}

// Receive: one queue of extended descriptors, 2 KiB buffers, CRC stripped,
// promiscuous and broadcast; the ring is filled before receive is enabled.
void Driver::init_rx() {
  dev_.write32(reg::RCTL, 0);
  dev_.write32(reg::RFCTL, dev_.read32(reg::RFCTL) | RFCTL_EXSTEN);
  rx_.setup(dev_, intel::QueueRegs{reg::RDBAL, reg::RDBAH, reg::RDLEN, reg::RDH, reg::RDT});
  rx_.start(dev_);
  dev_.write32(reg::RCTL, RCTL_EN | RCTL_UPE | RCTL_MPE | RCTL_BAM | RCTL_BSIZE_2048 | RCTL_SECRC);
}

// Transmit: one queue, padding of short frames, the datasheet's collision values.
void Driver::init_tx() {
  dev_.write32(reg::TCTL, 0);
  tx_.setup(dev_, intel::QueueRegs{reg::TDBAL, reg::TDBAH, reg::TDLEN, reg::TDH, reg::TDT},
            intel::TxFormat{TXD_DTYP_DATA, 0});
  tx_.start(dev_);
  dev_.write32(reg::TIPG, TIPG_COPPER);
  dev_.write32(reg::TCTL, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD);
}

net::LinkState Driver::link() const {
  uint32_t status = dev_.read32(reg::STATUS);
  return net::LinkState{(status & STATUS_LU) ? 1u : 0u, kSpeedMbps[(status >> STATUS_SPEED_SHIFT) & 3]};
}

net::NetStats Driver::stats() {
  intel::add_good_counts(dev_, totals_);
  totals_.rx_dropped += dev_.read32(reg::MPC);
  return totals_;
}

std::unique_ptr<net::Net> make_e1000e_net(std::unique_ptr<Driver> driver) {
  return std::make_unique<intel::RingNet<Driver>>(std::move(driver));
}

}  // namespace rl::e1000e
