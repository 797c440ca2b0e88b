// The good-packet counters at the offsets both Intel families share (the
// statistics registers of both datasheets): packets and octets received and sent,
// clear on read, octets as low/high pairs (reading the low half first).
// Each driver adds its own drop counters, which sit elsewhere.
#pragma once

#include <cstdint>

#include "drivers/pci/device.hpp"
#include "idl/net.hpp"

namespace rl::intel {

namespace reg {
inline constexpr uint32_t GPRC = 0x04074;    // good packets received
inline constexpr uint32_t GPTC = 0x04080;    // good packets transmitted
inline constexpr uint32_t GORCL = 0x04088;   // good octets received
inline constexpr uint32_t GORCH = 0x0408C;
inline constexpr uint32_t GOTCL = 0x04090;   // good octets transmitted
inline constexpr uint32_t GOTCH = 0x04094;
inline constexpr uint32_t ROC = 0x040AC;     // receive oversize count
}  // namespace reg

// Adds what the counters gathered since the last read to `totals`.
inline void add_good_counts(const pci::Device& dev, net::NetStats& totals) {
  totals.rx_packets += dev.read32(reg::GPRC);
  totals.tx_packets += dev.read32(reg::GPTC);
  totals.rx_bytes += dev.read32(reg::GORCL) | (uint64_t{dev.read32(reg::GORCH)} << 32);
  totals.tx_bytes += dev.read32(reg::GOTCL) | (uint64_t{dev.read32(reg::GOTCH)} << 32);
  totals.rx_dropped += dev.read32(reg::ROC);
}

}  // namespace rl::intel
