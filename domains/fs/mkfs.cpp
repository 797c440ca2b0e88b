#include "domains/fs/mkfs.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>

#include "domains/fs/format.hpp"

namespace rl::fs {

namespace {

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

struct Writer {
  blk::BDev& disk;
  std::string* error;

  bool put(uint64_t lba, const RRef<blk::Block>& b) {
    auto r = disk.write(lba, b);
    if (!r.ok() || r.value() != 0) {
      *error = "cannot write block " + std::to_string(lba) + ": " +
               (r.ok() ? std::string(strerror(-r.value())) : std::string(to_string(r.error())));
      return false;
    }
    return true;
  }
};

}  // namespace

int format(blk::BDev& disk, const FormatOptions& options, std::string* error) {
  auto info = disk.info();
  if (!info.ok()) {
    *error = std::string("the block device does not answer: ") + to_string(info.error());
    return -EIO;
  }
  const uint64_t blocks = info.value().blocks;
  if (blocks < disk::kMinBlocks) {
    *error = "the device has " + std::to_string(blocks) + " blocks of 4 KiB; rlfs needs at least " +
             std::to_string(disk::kMinBlocks) + " (4 MiB)";
    return -EINVAL;
  }
  if (blocks > UINT32_MAX) {
    *error = "the device is larger than rlfs's 32-bit block numbers reach (16 TiB)";
    return -EFBIG;
  }
  disk::Superblock sb = disk::layout(blocks, options.inodes);
  if (sb.data_start + 1 >= blocks) {
    *error = "too many inodes (" + std::to_string(sb.inodes) + ") for a device of " + std::to_string(blocks) +
             " blocks";
    return -EINVAL;
  }
  sb.created_ns = now_ns();
  sb.clean = 1;
  sb.crc = disk::struct_crc(sb);

  Writer w{disk, error};
  auto zero = RRef<blk::Block>::make_aligned(disk::kBlockSize);
  std::memset(zero->data.data(), 0, disk::kBlockSize);

  // Log header first: a stale committed header must never be replayed over the new tree.
  {
    disk::LogHeader h{};
    h.magic = disk::kLogMagic;
    h.crc = disk::struct_crc(h);
    auto b = RRef<blk::Block>::make_aligned(disk::kBlockSize);
    std::memset(b->data.data(), 0, disk::kBlockSize);
    std::memcpy(b->data.data(), &h, sizeof h);
    if (!w.put(sb.log_start, b)) return -EIO;
  }
  for (uint64_t i = 0; i < sb.inode_blocks; ++i)
    if (!w.put(sb.inode_start + i, zero)) return -EIO;

  const uint64_t root_block = sb.data_start;
  const uint64_t used = root_block + 1;   // metadata and the root directory
  for (uint64_t i = 0; i < sb.bitmap_blocks; ++i) {
    auto b = RRef<blk::Block>::make_aligned(disk::kBlockSize);
    std::memset(b->data.data(), 0, disk::kBlockSize);
    const uint64_t first = i * disk::kBlockSize * 8;
    for (uint64_t bit = 0; bit < disk::kBlockSize * 8 && first + bit < used; ++bit)
      b->data[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
    if (!w.put(sb.bitmap_start + i, b)) return -EIO;
  }

  // The root directory: inode 1, its block with "." and "..".
  const int64_t t = sb.created_ns;
  {
    auto b = RRef<blk::Block>::make_aligned(disk::kBlockSize);
    std::memset(b->data.data(), 0, disk::kBlockSize);
    disk::Dirent d[2]{};
    for (int i = 0; i < 2; ++i) {
      d[i].ino = disk::kRootIno;
      d[i].type = disk::kDir;
      d[i].name_len = static_cast<uint16_t>(i + 1);
      std::memcpy(d[i].name, "..", static_cast<std::size_t>(i + 1));
    }
    std::memcpy(b->data.data(), d, sizeof d);
    if (!w.put(root_block, b)) return -EIO;
  }
  {
    auto b = RRef<blk::Block>::make_aligned(disk::kBlockSize);
    std::memset(b->data.data(), 0, disk::kBlockSize);
    disk::Inode root{};
    root.type = disk::kDir;
    root.nlink = 2;
    root.mode = 0755;
    root.generation = 1;
    root.size = disk::kBlockSize;
    root.mtime_ns = root.ctime_ns = t;
    root.direct[0] = static_cast<uint32_t>(root_block);
    std::memcpy(b->data.data() + disk::kRootIno * sizeof(disk::Inode), &root, sizeof root);
    if (!w.put(sb.inode_start, b)) return -EIO;
  }
  // The superblock last, after everything it describes is in place.
  {
    auto fl = disk.flush();
    if (!fl.ok() || fl.value() != 0) {
      *error = "the device failed to flush";
      return -EIO;
    }
    auto b = RRef<blk::Block>::make_aligned(disk::kBlockSize);
    std::memset(b->data.data(), 0, disk::kBlockSize);
    std::memcpy(b->data.data(), &sb, sizeof sb);
    if (!w.put(0, b)) return -EIO;
  }
  auto fl = disk.flush();
  if (!fl.ok() || fl.value() != 0) {
    *error = "the device failed to flush";
    return -EIO;
  }
  return 0;
}

bool has_rlfs(blk::BDev& disk) {
  auto r = disk.read(0, RRef<blk::Block>::make_aligned(disk::kBlockSize));
  if (!r.ok() || r.value().status != 0) return false;
  disk::Superblock sb;
  std::memcpy(&sb, r.value().buf->data.data(), sizeof sb);
  return sb.magic == disk::kMagic;
}

}  // namespace rl::fs
