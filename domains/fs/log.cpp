#include "domains/fs/log.hpp"

#include <cerrno>

#include "libredleaf/rl.hpp"

namespace rl::fs {

using disk::LogHeader;

Log::Log(BlockIo& io, BufferCache& cache, const disk::Superblock& sb, uint32_t commit_every)
    : io_(io), cache_(cache), log_start_(sb.log_start), commit_every_(commit_every) {
  blocks_.reserve(disk::kLogMax);
  index_.reserve(disk::kLogMax);
  header_ = RRef<blk::Block>::make_aligned(blk::kBlockSize);
}

int Log::write_header(uint32_t count) {
  header_->data.fill(0);
  auto* h = reinterpret_cast<LogHeader*>(header_->data.data());
  h->magic = disk::kLogMagic;
  h->count = count;
  h->sequence = sequence_;
  for (uint32_t i = 0; i < count; ++i) {
    Buf* b = blocks_[i];
    h->home[i] = static_cast<uint32_t>(b->bno);
    h->data_crc[i] = crc_(b->data(), blk::kBlockSize);
  }
  h->crc = crc_.of_struct(*h);
  return io_.write(log_start_, header_);
}

int Log::recover(uint64_t* replayed) {
  *replayed = 0;
  if (int r = io_.read(log_start_, header_); r < 0) return r;
  LogHeader h;
  std::memcpy(&h, header_->data.data(), sizeof h);
  // Anything but a valid committed header is a transaction that never
  // reached its commit point (or none at all): nothing to do.
  if (h.magic != disk::kLogMagic || h.crc != crc_.of_struct(h)) return 0;
  sequence_ = h.sequence;
  if (h.count == 0 || h.count > disk::kLogMax) return 0;
  std::vector<RRef<blk::Block>> copies;
  copies.reserve(h.count);
  for (uint32_t i = 0; i < h.count; ++i) {
    auto b = RRef<blk::Block>::make_aligned(blk::kBlockSize);
    if (int r = io_.read(log_start_ + 1 + i, b); r < 0) return r;
    // A log slot overwritten by a later, uncommitted transaction: the header
    // is stale (its own transaction is already home), do not replay.
    if (crc_(b->data.data(), blk::kBlockSize) != h.data_crc[i]) return 0;
    copies.push_back(std::move(b));
  }
  for (uint32_t i = 0; i < h.count; ++i)
    if (int r = io_.write(h.home[i], copies[i]); r < 0) return r;
  if (int r = io_.flush(); r < 0) return r;
  if (int r = write_header(0); r < 0) return r;
  if (int r = io_.flush(); r < 0) return r;
  *replayed = h.count;
  return 0;
}

int Log::raise_sequence(uint64_t at_least) {
  if (at_least > sequence_) sequence_ = at_least;
  // Safe between commits: the header on disk is cleared, or holds a
  // transaction already home, and the open one is only in the cache.
  if (int r = write_header(0); r < 0) return r;
  return io_.flush();
}

int Log::begin_op(uint32_t reserve) {
  if (reserve > disk::kLogMax) reserve = disk::kLogMax;
  if (reserve > room()) return commit();
  return 0;
}

int Log::end_op() {
  ++ops_;
  if (ops_ >= commit_every_) return commit();
  return 0;
}

void Log::write(Buf* b) {
  if (index_.count(b->bno)) return;
  // An operation dirtied more than it reserved: a bug in the fs, and going
  // on would overflow the log and break atomicity.
  if (blocks_.size() >= disk::kLogMax) rl::panic("fs: a transaction outgrew the log (an operation under-reserved)");
  index_.emplace(b->bno, static_cast<uint32_t>(blocks_.size()));
  blocks_.push_back(b);
  cache_.pin(b);
}

int Log::commit() {
  if (blocks_.empty()) {
    ops_committed_ += ops_;
    ops_ = 0;
    return 0;
  }
  int r = 0;
  const auto count = static_cast<uint32_t>(blocks_.size());
  ++sequence_;
  // The cache buffers themselves go to the log slots and then home: the
  // device reads them by borrow, nothing is copied.
  std::vector<BlockIo::Write> writes(count);
  for (uint32_t i = 0; i < count; ++i) writes[i] = {log_start_ + 1 + i, blocks_[i]};
  r = io_.write_many(writes);
  if (r == 0) r = io_.flush();
  if (r == 0) r = write_header(count);   // the commit point, once flushed
  if (r == 0) r = io_.flush();
  for (uint32_t i = 0; i < count; ++i) writes[i].bno = blocks_[i]->bno;
  if (r == 0) r = io_.write_many(writes);
  if (r == 0) r = io_.flush();
  // Cleared without a flush: the next commit's first flush orders it, and a
  // stale header is harmless anyway (its blocks are home; replaying them
  // again, if their CRCs still matched, rewrites the same data).
  if (r == 0) r = write_header(0);
  if (r < 0) return r;   // blocks stay pinned: the fs is read-only from now on
  for (Buf* b : blocks_) cache_.unpin(b);
  blocks_.clear();
  index_.clear();
  ++commits_;
  ops_committed_ += ops_;
  ops_ = 0;
  return 0;
}

}  // namespace rl::fs
