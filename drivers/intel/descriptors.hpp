// Descriptors both Intel NIC families here use: the 82599's advanced
// one-buffer descriptors and the 82574L's extended ones have the same
// layout where a polling driver looks (82599 datasheet 7.1.6 and 7.2.3.2.4;
// the 82574 datasheet's extended receive and TCP/IP data descriptors):
//  - receive, read format: buffer address, then a quadword the device owns;
//    write-back qw1: extended status (DD bit 0, EOP bit 1) in 31:0, length in 47:32.
//  - transmit data, read format: buffer address, then cmd_type_len (length
//    15:0, DTYP 23:20, DCMD 31:24) and a family-specific upper dword;
//    write-back: status in 35:32, DD bit 32.
// They differ in DTYP (82599: 0011, 82574: 0001) and in the upper dword of a
// transmit descriptor (82599: PAYLEN in 63:46; 82574: options, all zero here).
// Plain quadwords rather than unions: rings live in the shared heap, where
// only exchangeable types go.
#pragma once

#include <cstdint>

namespace rl::intel {

struct RxDesc {
  uint64_t qw0;
  uint64_t qw1;
};
static_assert(sizeof(RxDesc) == 16);
inline constexpr uint32_t RXD_STAT_DD = 1u << 0;
inline constexpr uint32_t RXD_STAT_EOP = 1u << 1;
constexpr uint32_t rxd_status(uint64_t qw1) { return static_cast<uint32_t>(qw1); }
constexpr uint16_t rxd_length(uint64_t qw1) { return static_cast<uint16_t>(qw1 >> 32); }
constexpr uint32_t rxd_rss_hash(uint64_t qw0) { return static_cast<uint32_t>(qw0 >> 32); }
constexpr uint64_t rxd_writeback_qw1(uint32_t status, uint16_t length) { return status | (uint64_t{length} << 32); }

struct TxDesc {
  uint64_t qw0;
  uint64_t qw1;
};
static_assert(sizeof(TxDesc) == 16);
inline constexpr uint32_t TXD_DCMD_EOP = 1u << 24;    // end of packet
inline constexpr uint32_t TXD_DCMD_IFCS = 1u << 25;   // insert the FCS
inline constexpr uint32_t TXD_DCMD_RS = 1u << 27;     // report status (write DD back)
inline constexpr uint32_t TXD_DCMD_DEXT = 1u << 29;   // not a legacy descriptor
inline constexpr uint32_t TXD_STAT_DD = 1u << 0;
constexpr uint32_t txd_cmd_type_len(uint64_t qw1) { return static_cast<uint32_t>(qw1); }
constexpr uint32_t txd_status(uint64_t qw1) { return static_cast<uint32_t>(qw1 >> 32); }
constexpr uint64_t txd_qw1(uint32_t cmd_type_len, uint32_t upper) { return cmd_type_len | (uint64_t{upper} << 32); }

}  // namespace rl::intel
