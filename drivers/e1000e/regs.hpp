// Intel 82574L registers as the driver uses them (the 82574 GbE Controller
// datasheet's register descriptions; offsets and bits as QEMU 7.2's model
// and Linux's e1000e define them too).  Descriptors and the good-packet
// counters are shared with the 82599 (drivers/intel).
#pragma once

#include <cstdint>

#include "drivers/intel/descriptors.hpp"

namespace rl::e1000e {

namespace reg {
inline constexpr uint32_t CTRL = 0x00000;
inline constexpr uint32_t STATUS = 0x00008;
inline constexpr uint32_t EECD = 0x00010;       // EEPROM/flash control
inline constexpr uint32_t EERD = 0x00014;       // EEPROM read
inline constexpr uint32_t ICR = 0x000C0;        // interrupt cause, clear on read
inline constexpr uint32_t IMC = 0x000D8;        // interrupt mask clear
inline constexpr uint32_t RCTL = 0x00100;
inline constexpr uint32_t TCTL = 0x00400;
inline constexpr uint32_t TIPG = 0x00410;
inline constexpr uint32_t RDBAL = 0x02800;
inline constexpr uint32_t RDBAH = 0x02804;
inline constexpr uint32_t RDLEN = 0x02808;
inline constexpr uint32_t RDH = 0x02810;
inline constexpr uint32_t RDT = 0x02818;
inline constexpr uint32_t TDBAL = 0x03800;
inline constexpr uint32_t TDBAH = 0x03804;
inline constexpr uint32_t TDLEN = 0x03808;
inline constexpr uint32_t TDH = 0x03810;
inline constexpr uint32_t TDT = 0x03818;
inline constexpr uint32_t MPC = 0x04010;        // missed packets (no room in the FIFO)
inline constexpr uint32_t RNBC = 0x040A0;       // receive no buffers (ring full; not a drop by itself)
inline constexpr uint32_t RFCTL = 0x05008;      // receive filter control
constexpr uint32_t MTA(uint32_t i) { return 0x05200 + 4 * i; }   // 128 entries: the multicast table
inline constexpr uint32_t RAL0 = 0x05400;       // receive address 0: the MAC the EEPROM loaded
inline constexpr uint32_t RAH0 = 0x05404;
}  // namespace reg

// Bits.
inline constexpr uint32_t CTRL_SLU = 1u << 6;           // set link up
inline constexpr uint32_t CTRL_RST = 1u << 26;          // device reset, self-clearing
inline constexpr uint32_t STATUS_LU = 1u << 1;          // link up
inline constexpr uint32_t STATUS_SPEED_SHIFT = 6;       // 00: 10, 01: 100, 1x: 1000 Mb/s
inline constexpr uint32_t EECD_AUTO_RD = 1u << 9;       // EEPROM auto-read done
inline constexpr uint32_t EERD_START = 1u << 0;
inline constexpr uint32_t EERD_DONE = 1u << 1;
inline constexpr uint32_t EERD_ADDR_SHIFT = 2;
inline constexpr uint32_t EERD_DATA_SHIFT = 16;
inline constexpr uint32_t RCTL_EN = 1u << 1;
inline constexpr uint32_t RCTL_UPE = 1u << 3;           // unicast promiscuous
inline constexpr uint32_t RCTL_MPE = 1u << 4;           // multicast promiscuous
inline constexpr uint32_t RCTL_BAM = 1u << 15;          // broadcast accept
inline constexpr uint32_t RCTL_BSIZE_2048 = 0u << 16;   // with BSEX clear
inline constexpr uint32_t RCTL_SECRC = 1u << 26;        // strip the CRC
inline constexpr uint32_t RFCTL_EXSTEN = 1u << 15;      // extended receive descriptors
inline constexpr uint32_t TCTL_EN = 1u << 1;
inline constexpr uint32_t TCTL_PSP = 1u << 3;           // pad short packets
inline constexpr uint32_t TCTL_CT = 0x0Fu << 4;         // collision threshold (the datasheet's value)
inline constexpr uint32_t TCTL_COLD = 0x3Fu << 12;      // collision distance, full duplex
// Inter-packet gap for copper (IPGT 8, IPGR1 8, IPGR2 6), as the datasheet recommends.
inline constexpr uint32_t TIPG_COPPER = 8 | (8u << 10) | (6u << 20);
inline constexpr uint32_t RAH_AV = 1u << 31;             // address valid
// The extended transmit data descriptor (7.2.10.3): DTYP 0001; upper dword all options off.
inline constexpr uint32_t TXD_DTYP_DATA = 0x1u << 20;

}  // namespace rl::e1000e
