// rl::fs::format: writes an empty rlfs on a block device (rl-mkfs, tests).
#pragma once

#include <cstdint>
#include <string>

#include "idl/bdev.rl.hpp"

namespace rl::fs {

struct FormatOptions {
  uint64_t inodes = 0;   // inode slots; 0 = one per 16 KiB of device
};

// The empty file system: superblock, a cleared log, a zeroed inode table,
// the bitmap (metadata blocks and the root directory's block in use) and
// the root directory with "." and "..".  Flushed before returning.
// Returns 0, or -errno with *error saying what went wrong.
int format(blk::BDev& disk, const FormatOptions& options, std::string* error);

// Whether block 0 holds an rlfs superblock (for "refuse to overwrite").
bool has_rlfs(blk::BDev& disk);

}  // namespace rl::fs
