#include "domains/fs/cache.hpp"

#include "libredleaf/detail/fault_gadget.hpp"
#include "libredleaf/hold.hpp"

namespace rl::fs {

namespace {
RRef<blk::Block> new_block() { return RRef<blk::Block>::make_aligned(blk::kBlockSize); }
}  // namespace

// ---- BlockIo -------------------------------------------------------------------

int BlockIo::read(uint64_t bno, RRef<blk::Block>& buf) {
  if (failed_) return -EIO;
  ++n_.reads;
  auto r = disk_->read(bno, std::move(buf));
  if (!r.ok()) {
    buf = new_block();   // the one we passed died with the call
    return fail();
  }
  buf = std::move(r.value().buf);
  if (!buf) buf = new_block();
  if (r.value().status != 0) return fail();
  return 0;
}

int BlockIo::write(uint64_t bno, const RRef<blk::Block>& buf) {
  if (failed_) return -EIO;
  ++n_.writes;
  // Crash tests: a real fault in our own code, just before the N-th write,
  // so the test can stop the fs anywhere inside a commit.
  if (fault_at_ != 0 && n_.writes == fault_at_) detail::fault_segfault();
  auto r = disk_->write(bno, buf);
  if (!r.ok() || r.value() != 0) return fail();
  return 0;
}

int BlockIo::write_many(const std::vector<Write>& writes) {
  if (failed_) return -EIO;
  // The injected fault comes just before its write, as in write().
  std::size_t limit = writes.size();
  bool fault = false;
  if (fault_at_ > n_.writes && fault_at_ - n_.writes <= writes.size()) {
    limit = fault_at_ - n_.writes - 1;
    fault = true;
  }
  std::size_t next = 0, done = 0;
  bool bad_status = false;
  auto q = blk::BlkBatch::make();
  // A claim on each buffer while it travels: if the call fails (a driver
  // died and nothing recovered it) the buffer, with the cached data, is
  // adopted back instead of lost.
  std::vector<Hold<blk::Block>> holds(limit);
  // Completions may trail submissions (a real queue); a device that never
  // completes is an I/O error, not a hang.
  for (uint64_t spins = 0; done < limit; ++spins) {
    if (spins > (uint64_t{1} << 26)) return fail();
    while (next < limit && !q.full() && next - done < blk::kQueueBatch) {
      Buf* b = writes[next].buf;
      holds[next] = Hold<blk::Block>(b->block);
      (void)q.push_back(blk::BlkReq{writes[next].bno, next, blk::BlkOp::Write, 0, std::move(b->block)});
      ++n_.writes;
      ++next;
    }
    auto r = disk_->submit_and_poll(std::move(q));
    if (!r.ok()) {
      for (std::size_t i = 0; i < next; ++i) {
        Buf* b = writes[i].buf;
        if (b->block) continue;
        b->block = holds[i].adopt();
        if (!b->block) {   // still someone else's: its contents are lost to the cache
          b->block = new_block();
          b->valid = false;
        }
      }
      return fail();
    }
    q = std::move(r.value());
    blk::BlkReq c;
    while (q.pop_front(c)) {
      Buf* b = c.tag < writes.size() ? writes[c.tag].buf : nullptr;
      if (!b) continue;
      b->block = std::move(c.buf);
      holds[c.tag].release();
      if (!b->block) {
        b->block = new_block();
        b->valid = false;
        bad_status = true;
      }
      bad_status |= c.status != 0;
      ++done;
    }
  }
  if (bad_status) return fail();
  if (fault) {
    ++n_.writes;
    detail::fault_segfault();
  }
  return 0;
}

int BlockIo::read_many(const std::vector<Read>& reads) {
  if (failed_) return -EIO;
  if (!batch_) batch_ = blk::BlkBatch::make();
  std::size_t next = 0, done = 0;
  bool bad = false;
  // As write_many: completions may trail submissions, and a device that
  // never completes is an I/O error, not a hang.
  for (uint64_t spins = 0; done < reads.size(); ++spins) {
    if (spins > (uint64_t{1} << 26)) return fail();
    while (next < reads.size() && !batch_.full() && next - done < blk::kQueueBatch) {
      Buf* b = reads[next].buf;
      (void)batch_.push_back(blk::BlkReq{reads[next].bno, next, blk::BlkOp::Read, 0, std::move(b->block)});
      ++n_.reads;
      ++next;
    }
    auto r = disk_->submit_and_poll(std::move(batch_));
    if (!r.ok()) {
      // The buffers in flight died with the call; their contents were to be
      // overwritten anyway, so fresh ones do (the caller drops them as invalid).
      for (std::size_t i = 0; i < next; ++i)
        if (!reads[i].buf->block) reads[i].buf->block = new_block();
      return fail();
    }
    batch_ = std::move(r.value());
    blk::BlkReq c;
    while (batch_.pop_front(c)) {
      Buf* b = c.tag < reads.size() ? reads[c.tag].buf : nullptr;
      if (!b) continue;
      b->block = std::move(c.buf);
      if (!b->block) {
        b->block = new_block();
        bad = true;
      }
      bad |= c.status != 0;
      ++done;
    }
  }
  return bad ? fail() : 0;
}

int BlockIo::flush() {
  if (failed_) return -EIO;
  ++n_.flushes;
  auto r = disk_->flush();
  if (!r.ok() || r.value() != 0) return fail();
  return 0;
}

uint64_t BlockIo::device_blocks() {
  auto r = disk_->info();
  if (!r.ok()) return 0;
  return r.value().blocks;
}

// ---- BufRef --------------------------------------------------------------------

BufRef& BufRef::operator=(BufRef&& o) noexcept {
  if (this != &o) {
    reset();
    c_ = o.c_;
    b_ = o.b_;
    o.b_ = nullptr;
  }
  return *this;
}

void BufRef::reset() noexcept {
  if (b_) c_->release(b_);
  b_ = nullptr;
}

// ---- BufferCache ---------------------------------------------------------------

BufferCache::BufferCache(BlockIo& io, uint32_t capacity) : io_(io), capacity_(capacity) {
  lru_.prev = lru_.next = &lru_;
  bufs_.reserve(capacity_);
  map_.reserve(capacity_);
}

BufferCache::~BufferCache() = default;

void BufferCache::lru_unlink(Buf* b) noexcept {
  if (!b->prev) return;
  b->prev->next = b->next;
  b->next->prev = b->prev;
  b->prev = b->next = nullptr;
}

void BufferCache::lru_push_mru(Buf* b) noexcept {
  b->prev = lru_.prev;
  b->next = &lru_;
  lru_.prev->next = b;
  lru_.prev = b;
}

// Finds or makes the buffer for `bno`, held (refs + 1), without I/O.
int BufferCache::slot(uint64_t bno, BufRef* out, bool* hit) {
  auto it = map_.find(bno);
  Buf* b = nullptr;
  if (it != map_.end()) {
    b = it->second;
    *hit = b->valid;
  } else {
    *hit = false;
    if (bufs_.size() < capacity_) {
      bufs_.push_back(std::make_unique<Buf>());
      b = bufs_.back().get();
      b->block = new_block();
    } else {
      b = lru_.next;
      // Every buffer is held or pinned: more than the capacity is in use at
      // once, which the capacity floor (make_fs) rules out.
      if (b == &lru_) return -ENOMEM;
      lru_unlink(b);
      map_.erase(b->bno);
    }
    b->bno = bno;
    b->valid = false;
    map_.emplace(bno, b);
  }
  if (b->refs++ == 0 && !b->pinned) lru_unlink(b);
  *out = BufRef(this, b);
  return 0;
}

int BufferCache::get(uint64_t bno, BufRef* out) {
  bool hit = false;
  BufRef ref;
  if (int r = slot(bno, &ref, &hit); r < 0) return r;
  if (hit) {
    ++hits_;
  } else {
    ++misses_;
    if (int r = io_.read(bno, ref->block); r < 0) return r;   // ref's release keeps it invalid
    ref->valid = true;
  }
  *out = std::move(ref);
  return 0;
}

int BufferCache::prefetch(const std::vector<uint64_t>& bnos) {
  fetching_.clear();
  reads_.clear();
  for (uint64_t bno : bnos) {
    if (map_.count(bno)) continue;
    bool hit = false;
    BufRef ref;
    // No buffer free: the rest is left to get(), one block at a time.
    if (slot(bno, &ref, &hit) < 0) break;
    reads_.push_back({bno, ref.get()});
    fetching_.push_back(std::move(ref));
  }
  if (reads_.empty()) return 0;
  misses_ += reads_.size();
  const int r = io_.read_many(reads_);
  if (r == 0)
    for (auto& ref : fetching_) ref->valid = true;
  // Released in order: the first block read becomes the least recently used
  // of them, as it will be the first one consumed.  On failure they are
  // still invalid, and release() forgets them.
  fetching_.clear();
  return r;
}

int BufferCache::get_zeroed(uint64_t bno, BufRef* out) {
  bool hit = false;
  BufRef ref;
  if (int r = slot(bno, &ref, &hit); r < 0) return r;
  ref->block->data.fill(0);
  ref->valid = true;
  *out = std::move(ref);
  return 0;
}

void BufferCache::pin(Buf* b) noexcept {
  if (b->pinned) return;
  b->pinned = true;
  if (b->refs == 0) lru_unlink(b);
}

void BufferCache::unpin(Buf* b) noexcept {
  if (!b->pinned) return;
  b->pinned = false;
  if (b->refs == 0) lru_push_mru(b);
}

void BufferCache::release(Buf* b) noexcept {
  if (--b->refs == 0 && !b->pinned) {
    if (!b->valid) {
      // A failed read: forget the block rather than keep garbage.
      map_.erase(b->bno);
      b->bno = ~uint64_t{0};
      // Least recently used: reused first.
      b->prev = &lru_;
      b->next = lru_.next;
      lru_.next->prev = b;
      lru_.next = b;
      return;
    }
    lru_push_mru(b);
  }
}

void BufferCache::invalidate_clean() noexcept {
  for (auto& b : bufs_)
    if (!b->pinned && b->refs == 0) b->valid = false;
}

}  // namespace rl::fs
