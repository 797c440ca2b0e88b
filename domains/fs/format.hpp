// rlfs on disk: the format the fs domain, rl-mkfs and rl-fsck share.
//
// Blocks are the BDev's 4 KiB.  In order:
//
//   0                  superblock
//   log_start          log header, then log_blocks - 1 logged copies
//   inode_start        inode table, 32 inodes of 128 bytes per block (inode 0 unused, 1 = root)
//   bitmap_start       block bitmap, one bit per block of the device (1 = in use)
//   data_start..       file and directory blocks, indirect blocks
//
// The write-ahead log (xv6's design, with group commit): a transaction's
// blocks are first written to the log, the device is flushed, then the
// header (count, home block numbers, a CRC of each logged block) is written
// and flushed -- that write is the commit point -- then the blocks are
// written home, flushed, and the header cleared.  Mount replays a committed
// header whose CRCs all match; anything else is a transaction that never
// committed.
//
// Directories are arrays of 264-byte entries, 15 per block (the rest of the
// block unused); ino 0 marks a free slot; "." and ".." are real entries.
// All integers are little-endian (the only byte order we run on).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace rl::fs::disk {

inline constexpr uint32_t kBlockSize = 4096;
inline constexpr uint64_t kMagic = 0x3130305346534c52ull;   // "RLSFS001"
inline constexpr uint32_t kVersion = 1;
inline constexpr uint64_t kRootIno = 1;

// ---- superblock (block 0) ----------------------------------------------------

struct Superblock {
  uint64_t magic;
  uint32_t version;
  uint32_t block_size;
  uint64_t blocks;           // of the whole device
  uint64_t inodes;           // slots in the inode table, inode 0 included
  uint64_t log_start, log_blocks;       // header + copies
  uint64_t inode_start, inode_blocks;
  uint64_t bitmap_start, bitmap_blocks;
  uint64_t data_start;
  int64_t created_ns;
  uint32_t clean;            // 1 after a clean unmount (informational)
  uint32_t crc;              // crc32c of the struct with this field 0
};
static_assert(sizeof(Superblock) <= kBlockSize);

// ---- log ---------------------------------------------------------------------

inline constexpr uint32_t kLogMagic = 0x474c4c52;   // "RLLG"
inline constexpr uint32_t kLogMax = 500;           // blocks one transaction can carry

struct LogHeader {
  uint32_t magic;
  uint32_t count;            // 0 = nothing committed
  uint64_t sequence;         // grows with every commit, and bounds every generation handed out (ialloc)
  uint32_t home[kLogMax];    // where logged copy i belongs
  uint32_t data_crc[kLogMax];   // crc32c of logged copy i
  uint32_t crc;              // crc32c of the header with this field 0
};
static_assert(sizeof(LogHeader) <= kBlockSize);

// ---- inodes ------------------------------------------------------------------

inline constexpr uint16_t kFree = 0;
inline constexpr uint16_t kFile = 1;
inline constexpr uint16_t kDir = 2;

inline constexpr uint32_t kDirect = 12;
inline constexpr uint32_t kPointersPerBlock = kBlockSize / 4;
inline constexpr uint64_t kMaxFileBlocks =
    kDirect + kPointersPerBlock + uint64_t{kPointersPerBlock} * kPointersPerBlock;

struct Inode {
  uint16_t type;             // kFree, kFile, kDir
  uint16_t reserved;
  uint32_t nlink;            // directory entries naming it ("." and ".." included for directories)
  uint32_t mode;             // permission bits
  uint32_t generation;       // from a file-system-wide counter: never repeats for a slot, even across crashes
  uint64_t size;             // bytes
  int64_t mtime_ns;
  int64_t ctime_ns;
  uint32_t direct[kDirect];  // block numbers; 0 = a hole
  uint32_t indirect;         // a block of kPointersPerBlock pointers
  uint32_t double_indirect;  // a block of pointers to indirect blocks
  uint32_t spare[8];
};
static_assert(sizeof(Inode) == 128);
inline constexpr uint32_t kInodesPerBlock = kBlockSize / sizeof(Inode);

// ---- directories ---------------------------------------------------------------

inline constexpr uint32_t kNameMax = 255;

struct Dirent {
  uint32_t ino;              // 0 = free slot
  uint16_t name_len;
  uint8_t type;              // kFile or kDir, as the inode's
  uint8_t reserved;
  char name[kNameMax + 1];   // NUL-padded
};
static_assert(sizeof(Dirent) == 264);
inline constexpr uint32_t kDirentsPerBlock = kBlockSize / sizeof(Dirent);   // 15

// ---- geometry ------------------------------------------------------------------

inline constexpr uint64_t kMinBlocks = 1024;   // 4 MiB

// Where everything goes on a device of `blocks` blocks with `inodes` inode
// slots (0 = one per 16 KiB, at least 64).
inline Superblock layout(uint64_t blocks, uint64_t inodes) {
  Superblock s{};
  s.magic = kMagic;
  s.version = kVersion;
  s.block_size = kBlockSize;
  s.blocks = blocks;
  if (inodes == 0) inodes = blocks / 4;
  if (inodes < 64) inodes = 64;
  inodes = (inodes + kInodesPerBlock - 1) / kInodesPerBlock * kInodesPerBlock;
  s.inodes = inodes;
  s.log_start = 1;
  s.log_blocks = 1 + kLogMax;
  s.inode_start = s.log_start + s.log_blocks;
  s.inode_blocks = inodes / kInodesPerBlock;
  s.bitmap_start = s.inode_start + s.inode_blocks;
  s.bitmap_blocks = (blocks + kBlockSize * 8 - 1) / (kBlockSize * 8);
  s.data_start = s.bitmap_start + s.bitmap_blocks;
  return s;
}

// ---- crc32c (Castagnoli), bytewise table --------------------------------------

namespace detail {
constexpr std::array<uint32_t, 256> crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
inline constexpr std::array<uint32_t, 256> kCrcTable = crc_table();
}  // namespace detail

inline uint32_t crc32c_bytewise(const void* data, std::size_t len, uint32_t crc = 0) {
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < len; ++i) crc = detail::kCrcTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

// SSE4.2's crc32 instruction computes the same polynomial 8 bytes at a time:
// a logged 4 KiB block costs ~0.2 µs instead of ~4.
[[gnu::target("sse4.2")]] inline uint32_t crc32c_sse42(const void* data, std::size_t len, uint32_t crc = 0) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t c = ~crc;
  for (; len >= 8; len -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; len > 0; --len, ++p) c32 = __builtin_ia32_crc32qi(c32, *p);
  return ~c32;
}

// For trusted code (rl-fsck, rl-mkfs): __builtin_cpu_supports reads libgcc's
// mutable __cpu_model, which a domain may not link (design.md §2); the fs
// domain asks the CPU once at mount instead (domains/fs/crc.hpp).
inline uint32_t crc32c(const void* data, std::size_t len, uint32_t crc = 0) {
  return __builtin_cpu_supports("sse4.2") ? crc32c_sse42(data, len, crc) : crc32c_bytewise(data, len, crc);
}

// The CRC a struct with a trailing `crc` field carries: computed with it 0.
template <class T>
inline uint32_t struct_crc(T copy) {
  copy.crc = 0;
  return crc32c(&copy, sizeof copy);
}

}  // namespace rl::fs::disk
