// The rlfs checker behind rl-fsck, as a library so tests and the crash tests
// can run it in-process.
//
// It reads the disk format only (domains/fs/format.hpp) through a BDev from
// trusted code -- no fs domain -- so it judges exactly what a mount would
// find.  Passes, in the order e2fsck runs them:
//   log        a committed transaction is replayed (as a mount would); a
//              damaged header is reported and cleared
//   superblock magic, version, CRC, geometry == layout()
//   1 inodes   types, block pointers, blocks referenced twice, sizes
//   2 dirents  names, inode numbers, types, "." and ".."
//   3 tree     every directory reachable from the root, ".." right
//   4 links    orphans, unreachable files, link counts
//   5 bitmap   exactly the metadata blocks and the referenced blocks marked
// Without `repair` nothing is written: a committed log is applied to the
// checker's view only, and each finding says what a repair would do.  With
// `repair` the fixes go straight to the disk (fsck runs on an unmounted
// image), then the device is flushed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "idl/bdev.hpp"

namespace rl::fs {

struct CheckOptions {
  bool repair = false;    // -y / -p: fix what can be fixed
  bool verbose = false;   // also note each pass and what it found (rl-fsck -v)
};

// What kind of problem a finding is, for tests and scripts.
enum class Problem : uint8_t {
  LogHeader,       // damaged log header (bad CRC, count, home block)
  Superblock,      // bad magic/version/CRC/geometry: never repaired
  InodeType,       // an inode of an unknown type
  BadPointer,      // a block pointer outside [data_start, blocks)
  DuplicateBlock,  // a block referenced twice
  BadSize,         // size out of reach, a directory not a block multiple, blocks past the end
  BadDirent,       // bad name, or an inode number out of range
  DirentToFree,    // an entry naming a free inode
  DirentType,      // an entry's type differs from its inode's
  DotEntries,      // "." or ".." missing, duplicated or wrong
  DirHardLink,     // a second entry naming a directory
  Unreachable,     // an allocated inode not reachable from the root
  Orphan,          // an inode with nlink 0 and no entry: freed
  LinkCount,       // nlink differs from the references
  Bitmap,          // block bitmap differs from what is in use
  Root,            // the root inode is not a directory: cannot repair
  NoSpace,         // a repair needed a block or inode and found none
};
const char* to_string(Problem p) noexcept;

struct Finding {
  Problem problem;
  std::string what;    // what is wrong, and where ("inode 12 (/a/b): ...")
  bool repaired;       // written to disk (only with CheckOptions::repair)
};

struct CheckReport {
  // Operational failure: the device could not be read or holds no rlfs.
  // When set, nothing else in the report is meaningful.
  std::string fatal;
  std::vector<Finding> findings;
  std::vector<std::string> notes;   // informational: the log replay, what was created
  uint64_t log_replayed = 0;        // blocks a committed transaction carried (0 = none)
  bool log_pending = false;         // a committed log was seen but (no repair) left on disk
  // Geometry and usage, as after the repairs (or as they would be).
  uint64_t blocks = 0, blocks_used = 0;
  uint64_t inodes = 0, inodes_used = 0;   // usable slots (inode 0 excluded), allocated
  uint64_t files = 0, dirs = 0;

  bool clean() const noexcept { return fatal.empty() && findings.empty(); }
  // What a crash may leave by design: at most orphans (files unlinked while
  // open, which the next mount frees).  For crash tests that check the image
  // before mounting it again.
  bool crash_consistent() const noexcept;
  std::size_t unrepaired() const noexcept;
  bool has(Problem p) const noexcept;
  // e2fsck's exit status: 0 clean, 1 errors corrected, 4 errors left,
  // 8 operational error.
  int exit_code() const noexcept;
};

// Checks (and with o.repair repairs) the rlfs on `disk`.
CheckReport check(blk::BDev& disk, const CheckOptions& o);

}  // namespace rl::fs
