// The file system domain (domains/fs): rlfs, a crash-consistent file system
// of our own in the spirit of xv6's, over any NvmeBDev (the NVMe driver or
// membdev, usually behind the block shadow).
//
// The interface is the one a VFS would call: namespace operations take whole
// paths (absolute, resolved inside the domain, no symlinks), file operations
// take the inode number that open() returned.  File descriptors, offsets and
// O_APPEND live in the caller (libredleaf/posix): the domain keeps only how
// many opens each inode has, so an unlinked file lives until its last
// release(), as POSIX requires.
//
// Every failure is a negative POSIX errno (-ENOENT, -EEXIST, -ENOTDIR,
// -EISDIR, -ENOSPC, -ENAMETOOLONG, -EINVAL, -ENOTEMPTY, -EIO ...).
//
// Durability: every operation is atomic on disk (write-ahead log); an
// operation is durable once fsync() or sync() returned 0 after it.  Commits
// are grouped: many operations share one log transaction until an fsync, a
// full log or `commit_every` operations.
#pragma once

#include <array>
#include <cstdint>

#include "idl/bdev.hpp"
#include "libredleaf/idl.hpp"

namespace rl::fs {

inline constexpr uint32_t kPathMax = 4096;   // bytes with the terminating NUL, as Linux's PATH_MAX
inline constexpr uint32_t kNameMax = 255;    // bytes of one name, as Linux's NAME_MAX

// A path: bytes[0, len), not NUL-terminated.  Passed borrowed.
struct Path {
  std::array<char, kPathMax> bytes;
  uint32_t len;
};

// File data for read() and write(): bytes[0, len).
inline constexpr uint32_t kDataBytes = 65536;
struct Data {
  std::array<uint8_t, kDataBytes> bytes;
  uint32_t len;
  int32_t status;   // after read(): bytes read (0 at end of file) or -errno
};

inline constexpr uint32_t kTypeFile = 1;
inline constexpr uint32_t kTypeDir = 2;

struct Attr {
  uint64_t ino;
  uint32_t type;        // kTypeFile or kTypeDir
  uint32_t mode;        // permission bits (07777), kept but not enforced: one user
  uint32_t nlink;
  uint32_t generation;  // changes each time the inode number is reused
  uint64_t size;        // bytes
  uint64_t blocks;      // 512-byte units allocated, as st_blocks
  int64_t mtime_ns;     // CLOCK_REALTIME
  int64_t ctime_ns;
};

struct AttrResult {
  int32_t status;       // 0 or -errno
  Attr attr;
};

// A page of directory entries.  "." and ".." come first, as on Linux.
inline constexpr uint32_t kDirPageEntries = 32;
struct DirEntry {
  uint64_t ino;
  uint32_t type;
  uint32_t name_len;
  std::array<char, kNameMax + 1> name;   // NUL-terminated too
};
struct DirPage {
  std::array<DirEntry, kDirPageEntries> entries;
  uint32_t count;
  int32_t status;       // 0 or -errno
  uint64_t next;        // cookie for the next call; 0 = no more entries
};

struct FsStats {
  uint64_t block_size;
  uint64_t blocks, blocks_free;
  uint64_t inodes, inodes_free;
  uint64_t commits;            // log transactions written
  uint64_t ops_committed;      // operations they carried (group commit: > commits)
  uint64_t cache_hits, cache_misses;
  uint64_t disk_reads, disk_writes, disk_flushes;
  uint64_t replayed_at_mount;  // blocks the log replayed when this instance mounted
};

class RL_INTERFACE FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Resolves `path` and opens it with the open(2) flags O_ACCMODE, O_CREAT,
  // O_EXCL, O_TRUNC, O_DIRECTORY (others are ignored); `mode` for a new
  // file.  Counts one open of the inode: release() it.
  virtual RpcResult<AttrResult> open(const RRef<Path>& path, uint32_t flags, uint32_t mode) = 0;
  virtual RpcResult<int32_t> release(uint64_t ino) = 0;

  // Reads up to buf->len bytes at `offset` into buf (status = bytes or -errno).
  virtual RpcResult<RRef<Data>> read(uint64_t ino, uint64_t offset, RRef<Data> buf) = 0;
  // Writes data[0, len) at `offset`; returns bytes written or -errno
  // (-ENOSPC when the disk is full and nothing could be written).
  virtual RpcResult<int32_t> write(uint64_t ino, uint64_t offset, const RRef<Data>& data) = 0;
  virtual RpcResult<int32_t> truncate(uint64_t ino, uint64_t size) = 0;
  virtual RpcResult<AttrResult> getattr(uint64_t ino) = 0;
  // Commits every operation so far and flushes the device: they survive any crash.
  virtual RpcResult<int32_t> fsync(uint64_t ino) = 0;
  virtual RpcResult<int32_t> sync() = 0;

  virtual RpcResult<AttrResult> stat(const RRef<Path>& path) = 0;
  virtual RpcResult<int32_t> mkdir(const RRef<Path>& path, uint32_t mode) = 0;
  virtual RpcResult<int32_t> rmdir(const RRef<Path>& path) = 0;
  virtual RpcResult<int32_t> unlink(const RRef<Path>& path) = 0;
  // As rename(2): replaces a file, or an empty directory with a directory;
  // -EINVAL when moving a directory under itself.
  virtual RpcResult<int32_t> rename(const RRef<Path>& from, const RRef<Path>& to) = 0;
  // Entries of directory `ino` from `cookie` (0 = the start).
  virtual RpcResult<RRef<DirPage>> readdir(uint64_t ino, uint64_t cookie, RRef<DirPage> page) = 0;

  RL_IDEMPOTENT virtual RpcResult<FsStats> statfs() = 0;
};

struct FsInit {
  Cap<blk::NvmeBDev> disk;     // formatted by rl-mkfs (or rl::fs::format)
  uint32_t cache_blocks;       // buffer cache size in blocks; 0 = 4096 (16 MiB)
  uint32_t commit_every;       // operations per group commit at most; 0 = 64
  // Tests: the domain faults (a real segfault in its own code) just before
  // its N-th write to the disk, counted from mount; 0 = never.
  uint64_t fault_before_write;
};
// Mounts: replays the log, frees inodes left orphaned by a crash.  Fails to
// load, with the reason, when the device holds no rlfs or a damaged one.
RL_FACTORY FileSystem* create_fs(const FsInit& init);

}  // namespace rl::fs
