// The fs domain's block layer: BlockIo (every disk access, counted, with the
// crash-injection hook) and BufferCache (fixed capacity, hash lookup + LRU).
//
// Each cached block is an RRef<blk::Block> in the shared heap, so the log
// and home writes hand the very buffer to the device by borrow: no copy.
// A buffer is evictable only when no operation holds it (refs == 0) and no
// open transaction has dirtied it (pinned); only evictable buffers are on
// the LRU list, so eviction never scans past busy ones.
//
// One thread uses an instance at a time (the FileSystem is not thread-safe).
#pragma once

#include <cerrno>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "idl/bdev.rl.hpp"

namespace rl::fs {

struct IoCounters {
  uint64_t reads = 0, writes = 0, flushes = 0;
};

struct Buf;

class BlockIo {
 public:
  BlockIo(Cap<blk::NvmeBDev> disk, uint64_t fault_before_write) noexcept
      : disk_(disk), fault_at_(fault_before_write) {}

  // Each returns 0, or -EIO when the device failed or the call could not be
  // made; after the first failure every call fails (see failed()).
  int read(uint64_t bno, RRef<blk::Block>& buf);
  int write(uint64_t bno, const RRef<blk::Block>& buf);
  int flush();
  // Writes each buffer to its block, a queue batch per call (the buffers
  // travel with the requests and come back), and waits for them all: a
  // commit's many writes cost a few calls, not one each.
  struct Write {
    uint64_t bno;
    Buf* buf;
  };
  int write_many(const std::vector<Write>& writes);
  // Fills each buffer with its block, a queue batch per call, and waits for
  // them all: a read of many uncached blocks costs a call per kQueueBatch
  // blocks, not one each.  On failure the buffers' contents are undefined.
  struct Read {
    uint64_t bno;
    Buf* buf;
  };
  int read_many(const std::vector<Read>& reads);
  // Sticky: once one I/O failed, the disk may hold anything the fs did not
  // expect, so the fs stays read-only until remounted.
  bool failed() const noexcept { return failed_; }
  const IoCounters& counters() const noexcept { return n_; }
  uint64_t device_blocks();   // 0 when the device does not answer

 private:
  int fail() noexcept {
    failed_ = true;
    return -EIO;
  }
  Cap<blk::NvmeBDev> disk_;
  blk::BlkBatch batch_;   // read_many's queue, kept between calls (empty when lost with a failed call)
  uint64_t fault_at_;
  IoCounters n_;
  bool failed_ = false;
};

struct Buf {
  uint64_t bno = 0;
  RRef<blk::Block> block;
  bool valid = false;      // holds the block's contents
  bool pinned = false;     // dirtied by the open transaction: kept until written home
  uint32_t refs = 0;       // operations holding it
  Buf* prev = nullptr;     // LRU list (evictable buffers only)
  Buf* next = nullptr;
  uint8_t* data() noexcept { return block->data.data(); }
  template <class T> T* as(std::size_t offset = 0) noexcept { return reinterpret_cast<T*>(data() + offset); }
};

class BufferCache;

// Holds a buffer for the duration of an operation: not evictable meanwhile.
class BufRef {
 public:
  BufRef() noexcept = default;
  BufRef(BufferCache* c, Buf* b) noexcept : c_(c), b_(b) {}
  BufRef(BufRef&& o) noexcept : c_(o.c_), b_(o.b_) { o.b_ = nullptr; }
  BufRef& operator=(BufRef&& o) noexcept;
  BufRef(const BufRef&) = delete;
  BufRef& operator=(const BufRef&) = delete;
  ~BufRef() { reset(); }
  void reset() noexcept;
  Buf* get() const noexcept { return b_; }
  Buf* operator->() const noexcept { return b_; }
  explicit operator bool() const noexcept { return b_ != nullptr; }

 private:
  BufferCache* c_ = nullptr;
  Buf* b_ = nullptr;
};

class BufferCache {
 public:
  BufferCache(BlockIo& io, uint32_t capacity);
  ~BufferCache();
  BufferCache(const BufferCache&) = delete;
  BufferCache& operator=(const BufferCache&) = delete;

  // Block `bno` with its contents (read on a miss): 0 or -EIO.
  int get(uint64_t bno, BufRef* out);
  // Reads, in batches, whichever of `bnos` are not cached (the blocks of a
  // read and its read-ahead), then leaves them evictable as the most recently
  // used.  Best effort: stops taking blocks when no buffer is free (all held
  // or pinned) -- a later get() reads those one by one.  Never replaces a
  // cached block, so a pinned (dirty) one keeps its contents.  0 or -EIO.
  int prefetch(const std::vector<uint64_t>& bnos);
  bool cached(uint64_t bno) const { return map_.count(bno) != 0; }
  // Block `bno` filled with zeros, without reading it: for a block just
  // allocated, whose old contents nobody may see.
  int get_zeroed(uint64_t bno, BufRef* out);

  void pin(Buf* b) noexcept;
  void unpin(Buf* b) noexcept;
  void release(Buf* b) noexcept;
  // Forgets every unpinned block (the next get reads the disk again).
  void invalidate_clean() noexcept;

  // Lookups served from the cache; blocks read from the disk into it
  // (read-ahead included).
  uint64_t hits() const noexcept { return hits_; }
  uint64_t misses() const noexcept { return misses_; }
  uint32_t capacity() const noexcept { return capacity_; }

 private:
  int slot(uint64_t bno, BufRef* out, bool* hit);
  void lru_unlink(Buf* b) noexcept;
  void lru_push_mru(Buf* b) noexcept;

  BlockIo& io_;
  uint32_t capacity_;
  std::vector<std::unique_ptr<Buf>> bufs_;   // grown lazily up to capacity_
  std::unordered_map<uint64_t, Buf*> map_;
  Buf lru_;                                  // sentinel: lru_.next is the least recently used
  std::vector<BufRef> fetching_;             // prefetch's scratch, kept to avoid allocating per read
  std::vector<BlockIo::Read> reads_;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace rl::fs
