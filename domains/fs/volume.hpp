// Volume: one mounted rlfs -- the superblock, the block layer, the log, and
// the operations on inodes (inode.cpp) and directories (dir.cpp) that the
// FileSystem (fs.cpp) builds its calls from.
//
// Every function returns 0 (or a count) or a negative errno.  Functions
// that modify blocks must run between log().begin_op() and end_op(), with a
// reservation that covers what they dirty.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "domains/fs/cache.hpp"
#include "domains/fs/format.hpp"
#include "domains/fs/log.hpp"
#include "idl/fs.rl.hpp"

namespace rl::fs {

// An inode, in place in its cached inode-table block (held while this lives).
struct InodePtr {
  uint64_t ino = 0;
  BufRef buf;
  disk::Inode* ip = nullptr;
  disk::Inode* operator->() const noexcept { return ip; }
};

int64_t now_ns() noexcept;

class Volume {
 public:
  // `sb` was checked by the caller (fs.cpp).
  Volume(Cap<blk::NvmeBDev> disk, const disk::Superblock& sb, const FsInit& init, uint32_t cache_blocks);

  // Mount work after replay: counts free blocks and inodes, and sets the
  // generation floor (see ialloc).
  int scan_free();

  const disk::Superblock& sb() const noexcept { return sb_; }
  BlockIo& io() noexcept { return io_; }
  BufferCache& cache() noexcept { return cache_; }
  Log& log() noexcept { return log_; }
  uint64_t blocks_free() const noexcept { return blocks_free_; }
  uint64_t inodes_free() const noexcept { return inodes_free_; }

  // ---- inodes (inode.cpp) ----
  bool valid_ino(uint64_t ino) const noexcept { return ino != 0 && ino < sb_.inodes; }
  int iget(uint64_t ino, InodePtr* out);
  void iupdate(InodePtr& p) { log_.write(p.buf.get()); }
  // A fresh inode of `type` (nlink 0, times now), logged.  -ENOSPC when none is free.
  //
  // Its generation is new to the file system, not only to the slot: a
  // create lost with an uncommitted transaction leaves the slot's old
  // generation on disk, so "old + 1" would hand the same (ino, generation)
  // to the next file there.  Generations come from one counter that starts,
  // at mount, above every generation an earlier mount may have handed out;
  // that bound lives in the log header's sequence (durable, only grows) and
  // is raised -- a header write and a flush -- before any generation beyond
  // it is handed out.
  int ialloc(uint16_t type, uint32_t mode, InodePtr* out);
  // Marks a truncated inode free (its blocks must be gone already).
  void ifree(InodePtr& p);
  int balloc(uint32_t* bno);
  int bfree(uint32_t bno);
  // The disk block holding file block `idx`; 0 for a hole unless `alloc`.
  // *fresh tells that it was allocated now (its contents are zeros).
  int bmap(InodePtr& p, uint64_t idx, bool alloc, uint32_t* bno, bool* fresh);
  // Reads [off, off+n) clipped at the size; returns bytes read.  The
  // uncached blocks go to the disk in batches, with read-ahead when the
  // file is read sequentially.
  int64_t readi(InodePtr& p, uint64_t off, uint8_t* dst, uint64_t n);
  // Writes inside the current transaction; returns bytes written (fewer
  // when the disk fills) or -ENOSPC/-EFBIG/-EIO when nothing was.
  int64_t writei(InodePtr& p, uint64_t off, const uint8_t* src, uint64_t n);
  // Blocks a write of `n` bytes at `off` may dirty.
  uint32_t write_reserve(uint64_t off, uint64_t n) const noexcept;
  // Frees blocks beyond `size`, from the end, while the transaction has
  // room; sets *done when the inode is down to `size`.  Needs the caller to
  // end_op/begin_op between calls until done.
  int shrink(InodePtr& p, uint64_t size, bool* done);
  // Allocated blocks (data and indirect), for st_blocks.
  int count_blocks(InodePtr& p, uint64_t* n);
  void fill_attr(const InodePtr& p, Attr* a) const;

  // ---- directories (dir.cpp) ----
  struct Found {
    uint32_t ino = 0;
    uint8_t type = 0;
    uint64_t slot = 0;    // index of the entry: block * kDirentsPerBlock + i
  };
  // -ENOENT when `name` is not in `dir`.
  int dir_lookup(InodePtr& dir, std::string_view name, Found* f);
  // Adds an entry, reusing a free slot or growing the directory by a block.
  int dir_add(InodePtr& dir, std::string_view name, uint32_t ino, uint8_t type);
  // Points entry `slot` at `ino` (0 frees the slot); name kept.
  int dir_set(InodePtr& dir, uint64_t slot, uint32_t ino, uint8_t type);
  int dir_is_empty(InodePtr& dir, bool* empty);
  // Calls visit(entry, slot) for each used entry of `dir` until it returns
  // true.  0, or a negative errno from reading the directory.
  template <class Visit>
  int scan_dir(InodePtr& dir, Visit&& visit);
  // Writes "." and ".." into a new directory's first block.
  int dir_init(InodePtr& dir, uint32_t parent);
  // Entries from slot `cookie` into `page`.
  int dir_read(InodePtr& dir, uint64_t cookie, DirPage* page);

 private:
  int block_ptr_level(uint32_t* slot, Buf* holder, InodePtr& p, bool alloc, BufRef* out, bool* fresh);
  int free_tree(uint32_t* slot, Buf* holder, InodePtr& p, int level, uint64_t start, uint64_t keep,
                uint64_t* freed_from, bool* stopped);
  bool room_to_free(uint32_t bno) const;
  int map_range(InodePtr& p, uint64_t first, uint64_t n, uint32_t* out);
  bool sequential(const InodePtr& p, uint64_t off, uint64_t n);
  int next_generation(uint32_t* gen);
  int scan_ahead(uint64_t start, uint64_t i, uint64_t count);

  disk::Superblock sb_;
  BlockIo io_;
  BufferCache cache_;
  Log log_;
  uint64_t blocks_free_ = 0, inodes_free_ = 0;
  uint64_t block_rotor_ = 0, inode_rotor_ = 1;
  // Generations: the next one, and the bound the log header holds (every
  // generation handed out is below it).
  uint64_t next_gen_ = 1, gen_bound_ = 0;

  // Read-ahead: a few files read sequentially at once, each by where its
  // last read ended (replaced round-robin).
  struct Stream {
    uint64_t ino = 0;
    uint32_t generation = 0;
    uint64_t next = 0;   // byte after the last read
  };
  std::array<Stream, 8> streams_{};
  uint32_t stream_victim_ = 0;
  std::vector<uint32_t> map_;     // readi's scratch, kept to avoid allocating per read
  std::vector<uint64_t> fetch_;
};

}  // namespace rl::fs
