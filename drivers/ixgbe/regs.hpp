// Intel 82599 registers and descriptors as the driver and the model use them
// (82599 datasheet rev. 3.3: section 8 registers, 7.1.6 RX and 7.2.3 TX
// advanced descriptors).
#pragma once

#include <cstddef>
#include <cstdint>

#include "drivers/intel/descriptors.hpp"
#include "drivers/intel/stats.hpp"

namespace rl::ixgbe {

namespace reg {
inline constexpr uint32_t CTRL = 0x00000;
inline constexpr uint32_t STATUS = 0x00008;
inline constexpr uint32_t CTRL_EXT = 0x00018;
inline constexpr uint32_t EIMC = 0x00888;          // interrupt mask clear
inline constexpr uint32_t EEC = 0x10010;           // EEPROM/flash control
inline constexpr uint32_t RDRXCTL = 0x02F00;
inline constexpr uint32_t RXCTRL = 0x03000;
inline constexpr uint32_t HLREG0 = 0x04240;
inline constexpr uint32_t AUTOC = 0x042A0;
inline constexpr uint32_t LINKS = 0x042A4;
inline constexpr uint32_t DMATXCTL = 0x04A80;
inline constexpr uint32_t FCTRL = 0x05080;
inline constexpr uint32_t MRQC = 0x05818;
inline constexpr uint32_t RTTDCS = 0x04900;
// Statistics: clear on read; the good-packet counters sit where the 82574's
// do (drivers/intel/stats.hpp).
using intel::reg::GPRC;
using intel::reg::GPTC;
using intel::reg::GORCL;
using intel::reg::GORCH;
using intel::reg::GOTCL;
using intel::reg::GOTCH;
using intel::reg::ROC;
constexpr uint32_t MPC(uint32_t i) { return 0x03FA0 + 4 * i; }   // missed packets, per packet buffer
constexpr uint32_t RXPBSIZE(uint32_t i) { return 0x03C00 + 4 * i; }
constexpr uint32_t TXPBSIZE(uint32_t i) { return 0x0CC00 + 4 * i; }
constexpr uint32_t RSSRK(uint32_t i) { return 0x05C80 + 4 * i; }  // 10 registers: the 40-byte key
constexpr uint32_t RETA(uint32_t i) { return 0x05C00 + 4 * i; }   // 32 registers: 128 one-byte entries
// Receive address filters: entry 0 holds the MAC the EEPROM loaded at reset.
constexpr uint32_t RAL(uint32_t i) { return 0x0A200 + 8 * i; }
constexpr uint32_t RAH(uint32_t i) { return 0x0A204 + 8 * i; }
// Per RX queue (0..63).
constexpr uint32_t RDBAL(uint32_t q) { return 0x01000 + 0x40 * q; }
constexpr uint32_t RDBAH(uint32_t q) { return 0x01004 + 0x40 * q; }
constexpr uint32_t RDLEN(uint32_t q) { return 0x01008 + 0x40 * q; }
constexpr uint32_t RDH(uint32_t q) { return 0x01010 + 0x40 * q; }
constexpr uint32_t RDT(uint32_t q) { return 0x01018 + 0x40 * q; }
constexpr uint32_t RXDCTL(uint32_t q) { return 0x01028 + 0x40 * q; }
constexpr uint32_t SRRCTL(uint32_t q) { return 0x02100 + 4 * q; }
// Per TX queue (0..127; the driver uses the first 64).
constexpr uint32_t TDBAL(uint32_t q) { return 0x06000 + 0x40 * q; }
constexpr uint32_t TDBAH(uint32_t q) { return 0x06004 + 0x40 * q; }
constexpr uint32_t TDLEN(uint32_t q) { return 0x06008 + 0x40 * q; }
constexpr uint32_t TDH(uint32_t q) { return 0x06010 + 0x40 * q; }
constexpr uint32_t TDT(uint32_t q) { return 0x06018 + 0x40 * q; }
constexpr uint32_t TXDCTL(uint32_t q) { return 0x06028 + 0x40 * q; }
}  // namespace reg

// Bits.
inline constexpr uint32_t CTRL_RST = 1u << 26;               // device reset, self-clearing
inline constexpr uint32_t CTRL_LRST = 1u << 3;               // link reset
inline constexpr uint32_t EEC_ARD = 1u << 9;                 // EEPROM auto-read done
inline constexpr uint32_t RDRXCTL_DMAIDONE = 1u << 3;        // DMA init done
inline constexpr uint32_t RDRXCTL_CRCSTRIP = 1u << 1;
inline constexpr uint32_t RXCTRL_RXEN = 1u << 0;
inline constexpr uint32_t HLREG0_TXCRCEN = 1u << 0;
inline constexpr uint32_t HLREG0_RXCRCSTRP = 1u << 1;
inline constexpr uint32_t HLREG0_TXPADEN = 1u << 10;
inline constexpr uint32_t FCTRL_MPE = 1u << 8;               // multicast promiscuous
inline constexpr uint32_t FCTRL_UPE = 1u << 9;               // unicast promiscuous
inline constexpr uint32_t FCTRL_BAM = 1u << 10;              // broadcast accept
inline constexpr uint32_t AUTOC_LMS_10G_SERIAL = 0x3u << 13;
inline constexpr uint32_t AUTOC_AN_RESTART = 1u << 12;
inline constexpr uint32_t LINKS_UP = 1u << 30;
inline constexpr uint32_t RAH_AV = 1u << 31;                 // address valid
inline constexpr uint32_t LINKS_SPEED_MASK = 0x3u << 28;
inline constexpr uint32_t LINKS_SPEED_10G = 0x3u << 28;
inline constexpr uint32_t RXDCTL_ENABLE = 1u << 25;
inline constexpr uint32_t TXDCTL_ENABLE = 1u << 25;
inline constexpr uint32_t SRRCTL_DESCTYPE_ADV_ONEBUF = 1u << 25;
inline constexpr uint32_t SRRCTL_DROP_EN = 1u << 28;
inline constexpr uint32_t DMATXCTL_TE = 1u << 0;
inline constexpr uint32_t RTTDCS_ARBDIS = 1u << 6;
inline constexpr uint32_t MRQC_RSS = 0x1;
inline constexpr uint32_t MRQC_IPV4 = 1u << 17;
inline constexpr uint32_t MRQC_IPV4_TCP = 1u << 16;
inline constexpr uint32_t MRQC_IPV4_UDP = 1u << 22;

// 7.1.6 / 7.2.3.2.4: the advanced descriptors, whose layout the 82574L
// shares (drivers/intel/descriptors.hpp).  What is the 82599's own: the
// data descriptor's type, and the payload length in its upper dword.
using intel::RxDesc;
using intel::TxDesc;
using intel::RXD_STAT_DD;
using intel::RXD_STAT_EOP;
using intel::rxd_status;
using intel::rxd_length;
using intel::rxd_rss_hash;
using intel::rxd_writeback_qw1;
using intel::TXD_DCMD_EOP;
using intel::TXD_DCMD_IFCS;
using intel::TXD_DCMD_RS;
using intel::TXD_DCMD_DEXT;
using intel::TXD_STAT_DD;
using intel::txd_cmd_type_len;
using intel::txd_status;
using intel::txd_qw1;
inline constexpr uint32_t TXD_DTYP_DATA = 0x3u << 20;
inline constexpr uint32_t TXD_PAYLEN_SHIFT = 14;

}  // namespace rl::ixgbe
