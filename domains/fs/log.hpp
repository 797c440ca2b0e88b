// The write-ahead log (format.hpp describes it on disk): xv6's design with
// group commit.
//
// Every operation runs inside the one open transaction: begin_op(n) first
// makes sure n more blocks fit (committing the transaction if they might
// not), the operation dirties blocks through write(), and end_op() counts it
// and commits once `commit_every` operations have joined.  fsync/sync commit
// at once.  A dirtied block stays pinned in the cache until it is home, and a
// block dirtied twice is logged once (absorption).
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "domains/fs/cache.hpp"
#include "domains/fs/crc.hpp"
#include "domains/fs/format.hpp"

namespace rl::fs {

class Log {
 public:
  Log(BlockIo& io, BufferCache& cache, const disk::Superblock& sb, uint32_t commit_every);

  // At mount: replays a committed transaction, if the header holds one whose
  // every CRC matches; sets *replayed to the blocks copied home.  0 or -EIO.
  int recover(uint64_t* replayed);

  // Makes room for an operation that dirties at most `reserve` blocks.
  int begin_op(uint32_t reserve);
  // The operation is done; commits when enough have joined.  0 or -EIO.
  int end_op();
  // Adds a modified buffer to the transaction (pinning it).
  void write(Buf* b);
  // Writes the transaction: log copies, flush, header (the commit point),
  // flush, home blocks, flush, header cleared.  0 or -EIO.
  int commit();

  // The header's sequence: +1 per commit, raised further by raise_sequence;
  // it never goes down, and what is on disk survives any crash.
  uint64_t sequence() const noexcept { return sequence_; }
  // Makes the sequence on disk at least `at_least` (a cleared header written
  // and flushed; the open transaction is not touched).  0 or -EIO.
  int raise_sequence(uint64_t at_least);

  bool contains(uint64_t bno) const { return index_.count(bno) != 0; }
  // Blocks the transaction can still take.
  uint32_t room() const noexcept { return disk::kLogMax - static_cast<uint32_t>(blocks_.size()); }
  uint64_t commits() const noexcept { return commits_; }
  uint64_t ops_committed() const noexcept { return ops_committed_; }

 private:
  int write_header(uint32_t count);

  BlockIo& io_;
  BufferCache& cache_;
  uint64_t log_start_;
  uint32_t commit_every_;
  std::vector<Buf*> blocks_;                      // the transaction, in logging order
  std::unordered_map<uint64_t, uint32_t> index_;  // bno -> position in blocks_
  uint32_t ops_ = 0;                              // operations in the open transaction
  uint64_t sequence_ = 0;
  uint64_t commits_ = 0, ops_committed_ = 0;
  RRef<blk::Block> header_;
  Crc32c crc_;
};

}  // namespace rl::fs
