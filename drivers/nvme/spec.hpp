// NVMe 1.4 as the driver and the simulated controller both read it:
// controller registers (section 3.1), queue entries (4.2, 4.6), admin and
// NVM command set opcodes (5, 6), identify data (5.15), status codes (4.6.1.2).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace rl::nvme {

// ---- 3.1 Controller registers (BAR0) ----------------------------------------
namespace reg {
inline constexpr uint32_t CAP = 0x00;     // 64-bit Controller Capabilities
inline constexpr uint32_t VS = 0x08;      // Version
inline constexpr uint32_t INTMS = 0x0C;   // Interrupt Mask Set
inline constexpr uint32_t INTMC = 0x10;   // Interrupt Mask Clear
inline constexpr uint32_t CC = 0x14;      // Controller Configuration
inline constexpr uint32_t CSTS = 0x1C;    // Controller Status
inline constexpr uint32_t AQA = 0x24;     // Admin Queue Attributes
inline constexpr uint32_t ASQ = 0x28;     // 64-bit Admin Submission Queue Base
inline constexpr uint32_t ACQ = 0x30;     // 64-bit Admin Completion Queue Base
inline constexpr uint32_t DOORBELLS = 0x1000;

// SQ y tail doorbell: 1000h + (2y) * (4 << CAP.DSTRD); CQ y head: (2y + 1).
constexpr uint32_t sq_tail_doorbell(uint32_t qid, uint32_t dstrd) { return DOORBELLS + (2 * qid) * (4u << dstrd); }
constexpr uint32_t cq_head_doorbell(uint32_t qid, uint32_t dstrd) { return DOORBELLS + (2 * qid + 1) * (4u << dstrd); }
}  // namespace reg

namespace cap {   // fields of CAP
constexpr uint32_t mqes(uint64_t c) { return static_cast<uint32_t>(c & 0xFFFF); }          // max entries - 1
constexpr uint32_t to_500ms(uint64_t c) { return static_cast<uint32_t>((c >> 24) & 0xFF); }
constexpr uint32_t dstrd(uint64_t c) { return static_cast<uint32_t>((c >> 32) & 0xF); }
constexpr bool css_nvm(uint64_t c) { return (c >> 37) & 1; }
constexpr uint32_t mpsmin(uint64_t c) { return static_cast<uint32_t>((c >> 48) & 0xF); }
constexpr uint32_t mpsmax(uint64_t c) { return static_cast<uint32_t>((c >> 52) & 0xF); }
constexpr bool cqr(uint64_t c) { return (c >> 16) & 1; }   // queues must be physically contiguous
}  // namespace cap

namespace cc {    // fields of CC
inline constexpr uint32_t EN = 1u << 0;
constexpr uint32_t css(uint32_t v) { return (v & 7) << 4; }
constexpr uint32_t mps(uint32_t v) { return (v & 0xF) << 7; }      // page size 2^(12 + MPS)
constexpr uint32_t iosqes(uint32_t v) { return (v & 0xF) << 16; }  // log2 of SQ entry size
constexpr uint32_t iocqes(uint32_t v) { return (v & 0xF) << 20; }  // log2 of CQ entry size
constexpr uint32_t shn(uint32_t cc) { return (cc >> 14) & 3; }
constexpr uint32_t get_mps(uint32_t cc) { return (cc >> 7) & 0xF; }
constexpr uint32_t get_iosqes(uint32_t cc) { return (cc >> 16) & 0xF; }
constexpr uint32_t get_iocqes(uint32_t cc) { return (cc >> 20) & 0xF; }
}  // namespace cc

namespace csts {  // fields of CSTS
inline constexpr uint32_t RDY = 1u << 0;
inline constexpr uint32_t CFS = 1u << 1;   // controller fatal status
constexpr uint32_t shst(uint32_t v) { return (v >> 2) & 3; }
}  // namespace csts

namespace aqa {
constexpr uint32_t make(uint32_t sq_entries, uint32_t cq_entries) {
  return ((cq_entries - 1) << 16) | (sq_entries - 1);
}
constexpr uint32_t asqs(uint32_t v) { return (v & 0xFFF) + 1; }
constexpr uint32_t acqs(uint32_t v) { return ((v >> 16) & 0xFFF) + 1; }
}  // namespace aqa

// ---- 4.2 Submission queue entry ---------------------------------------------
struct Command {
  uint8_t opcode;
  uint8_t flags;        // FUSE 1:0, PSDT 7:6 (0 = PRPs)
  uint16_t cid;
  uint32_t nsid;
  uint32_t cdw2, cdw3;
  uint64_t mptr;
  uint64_t prp1;
  uint64_t prp2;
  uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
static_assert(sizeof(Command) == 64);
static_assert(offsetof(Command, nsid) == 4);
static_assert(offsetof(Command, prp1) == 24);
static_assert(offsetof(Command, prp2) == 32);
static_assert(offsetof(Command, cdw10) == 40);
static_assert(offsetof(Command, cdw15) == 60);

// ---- 4.6 Completion queue entry ---------------------------------------------
struct Completion {
  uint32_t dw0;         // command specific
  uint32_t dw1;
  uint16_t sq_head;
  uint16_t sq_id;
  uint16_t cid;
  uint16_t status;      // bit 0: phase tag; 8:1 SC; 11:9 SCT; 15 DNR
};
static_assert(sizeof(Completion) == 16);
static_assert(offsetof(Completion, cid) == 12);
static_assert(offsetof(Completion, status) == 14);

constexpr bool phase(uint16_t status) { return status & 1; }
constexpr uint16_t status_code(uint16_t status) { return (status >> 1) & 0xFF; }
constexpr uint16_t status_type(uint16_t status) { return (status >> 9) & 0x7; }
// The 15-bit status without the phase: (SCT << 8) | SC.
constexpr uint16_t status_of(uint16_t status) { return (status >> 1) & 0x7FF; }
constexpr uint16_t make_status(uint16_t sct, uint16_t sc, bool dnr) {
  return static_cast<uint16_t>((sc << 1) | (sct << 9) | (dnr ? 0x8000 : 0));
}

// 4.6.1.2 status codes, as (SCT << 8) | SC.
namespace sc {
inline constexpr uint16_t SUCCESS = 0x000;
inline constexpr uint16_t INVALID_OPCODE = 0x001;
inline constexpr uint16_t INVALID_FIELD = 0x002;
inline constexpr uint16_t DATA_TRANSFER_ERROR = 0x004;
inline constexpr uint16_t INVALID_NAMESPACE = 0x00B;
inline constexpr uint16_t INVALID_PRP_OFFSET = 0x013;
inline constexpr uint16_t LBA_OUT_OF_RANGE = 0x080;
inline constexpr uint16_t CQ_INVALID = 0x100;          // command specific (SCT 1)
inline constexpr uint16_t INVALID_QUEUE_ID = 0x101;
inline constexpr uint16_t INVALID_QUEUE_SIZE = 0x102;
}  // namespace sc

// ---- 5, 6 Opcodes -------------------------------------------------------------
namespace admin {
inline constexpr uint8_t DELETE_IO_SQ = 0x00;
inline constexpr uint8_t CREATE_IO_SQ = 0x01;
inline constexpr uint8_t DELETE_IO_CQ = 0x04;
inline constexpr uint8_t CREATE_IO_CQ = 0x05;
inline constexpr uint8_t IDENTIFY = 0x06;
inline constexpr uint8_t SET_FEATURES = 0x09;
inline constexpr uint8_t GET_FEATURES = 0x0A;
}  // namespace admin
namespace io {
inline constexpr uint8_t FLUSH = 0x00;
inline constexpr uint8_t WRITE = 0x01;
inline constexpr uint8_t READ = 0x02;
}  // namespace io

inline constexpr uint32_t CNS_NAMESPACE = 0x00;
inline constexpr uint32_t CNS_CONTROLLER = 0x01;
inline constexpr uint32_t FEATURE_NUMBER_OF_QUEUES = 0x07;

// ---- 5.15 Identify data -----------------------------------------------------
struct IdentifyController {
  uint16_t vid;
  uint16_t ssvid;
  std::array<char, 20> sn;
  std::array<char, 40> mn;
  std::array<char, 8> fr;
  uint8_t rab;
  std::array<uint8_t, 3> ieee;
  uint8_t cmic;
  uint8_t mdts;            // max transfer: 2^MDTS pages (0 = no limit)
  uint16_t cntlid;
  uint32_t ver;
  std::array<uint8_t, 428> reserved1;
  uint8_t sqes;            // 512
  uint8_t cqes;
  uint16_t maxcmd;
  uint32_t nn;             // 516: number of namespaces
  uint16_t oncs;
  uint16_t fuses;
  uint8_t fna;
  uint8_t vwc;             // 525: volatile write cache present
  std::array<uint8_t, 3570> reserved2;
};
static_assert(sizeof(IdentifyController) == 4096);
static_assert(offsetof(IdentifyController, sn) == 4);
static_assert(offsetof(IdentifyController, mn) == 24);
static_assert(offsetof(IdentifyController, mdts) == 77);
static_assert(offsetof(IdentifyController, ver) == 80);
static_assert(offsetof(IdentifyController, sqes) == 512);
static_assert(offsetof(IdentifyController, nn) == 516);
static_assert(offsetof(IdentifyController, vwc) == 525);

struct LbaFormat {
  uint16_t ms;             // metadata size
  uint8_t lbads;           // LBA data size, log2
  uint8_t rp;
};
static_assert(sizeof(LbaFormat) == 4);

struct IdentifyNamespace {
  uint64_t nsze;           // size in logical blocks
  uint64_t ncap;
  uint64_t nuse;
  uint8_t nsfeat;
  uint8_t nlbaf;           // number of LBA formats - 1
  uint8_t flbas;           // 3:0 the format in use
  std::array<uint8_t, 101> reserved1;
  std::array<LbaFormat, 16> lbaf;   // 128
  std::array<uint8_t, 3904> reserved2;
};
static_assert(sizeof(IdentifyNamespace) == 4096);
static_assert(offsetof(IdentifyNamespace, flbas) == 26);
static_assert(offsetof(IdentifyNamespace, lbaf) == 128);

}  // namespace rl::nvme
