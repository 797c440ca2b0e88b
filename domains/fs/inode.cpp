// Inodes, the block bitmap and file data: allocation, bmap over direct /
// indirect / double-indirect pointers, read, write, shrink.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "domains/fs/volume.hpp"

namespace rl::fs {

using disk::kBlockSize;
using disk::kDirect;
using disk::kPointersPerBlock;
namespace {
constexpr uint64_t kBitsPerBlock = uint64_t{kBlockSize} * 8;
constexpr uint64_t kDoubleStart = kDirect + kPointersPerBlock;   // first file block under double_indirect
// Blocks beyond what an operation frees that shrink() keeps room for: the
// inode's block, an indirect and a double-indirect block, the tail block.
constexpr uint32_t kShrinkMargin = 4;
// Generations reserved per raise of the log header's sequence: one header
// write and flush per this many creates.  A crash wastes at most this many
// of the 2^32 generations.
constexpr uint64_t kGenerationChunk = 1024;
// Read-ahead: blocks fetched past a sequential read, one queue batch (the
// driver takes kQueueBatch requests per call).
constexpr uint64_t kReadAhead = blk::kQueueBatch;
// readi maps and fetches this many blocks at a time.
constexpr uint64_t kReadPiece = 64;
}  // namespace

int64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

Volume::Volume(Cap<blk::NvmeBDev> disk, const disk::Superblock& sb, const FsInit& init, uint32_t cache_blocks)
    : sb_(sb),
      io_(disk, init.fault_before_write),
      cache_(io_, cache_blocks),
      log_(io_, cache_, sb_, init.commit_every ? init.commit_every : 64) {
  block_rotor_ = sb_.data_start;
}

// Reads blocks [start + i, ...) ahead of a mount-time scan at block i: a
// batch per kReadAhead blocks, so a remount (a shadow's recovery included)
// does not pay a driver call per metadata block.
int Volume::scan_ahead(uint64_t start, uint64_t i, uint64_t count) {
  if (i % kReadAhead != 0) return 0;
  fetch_.clear();
  for (uint64_t k = i; k < std::min(count, i + kReadAhead); ++k) fetch_.push_back(start + k);
  return cache_.prefetch(fetch_);
}

int Volume::scan_free() {
  blocks_free_ = 0;
  for (uint64_t i = 0; i < sb_.bitmap_blocks; ++i) {
    if (int r = scan_ahead(sb_.bitmap_start, i, sb_.bitmap_blocks); r < 0) return r;
    BufRef b;
    if (int r = cache_.get(sb_.bitmap_start + i, &b); r < 0) return r;
    const uint64_t first = i * kBitsPerBlock;
    const uint64_t n = std::min(kBitsPerBlock, sb_.blocks - first);
    const uint8_t* bits = b->data();
    for (uint64_t x = 0; x < n; ++x)
      if (!(bits[x / 8] & (1u << (x % 8)))) ++blocks_free_;
  }
  inodes_free_ = 0;
  uint64_t max_gen = 0;
  for (uint64_t i = 0; i < sb_.inode_blocks; ++i) {
    if (int r = scan_ahead(sb_.inode_start, i, sb_.inode_blocks); r < 0) return r;
    BufRef b;
    if (int r = cache_.get(sb_.inode_start + i, &b); r < 0) return r;
    for (uint32_t k = 0; k < disk::kInodesPerBlock; ++k) {
      uint64_t ino = i * disk::kInodesPerBlock + k;
      const disk::Inode& n = b->as<disk::Inode>()[k];
      if (ino != 0 && n.type == disk::kFree) ++inodes_free_;
      max_gen = std::max<uint64_t>(max_gen, n.generation);
    }
  }
  // Above every generation on disk (rl-fsck allocates too, and images from
  // before the bound existed carry per-slot counts) and every one an earlier
  // mount may have handed out (below the sequence on disk: ialloc).
  gen_bound_ = log_.sequence();
  next_gen_ = std::max(max_gen + 1, gen_bound_);
  return 0;
}

// ---- inodes ------------------------------------------------------------------------

int Volume::iget(uint64_t ino, InodePtr* out) {
  if (!valid_ino(ino)) return -EBADF;
  BufRef b;
  if (int r = cache_.get(sb_.inode_start + ino / disk::kInodesPerBlock, &b); r < 0) return r;
  out->ino = ino;
  out->ip = b->as<disk::Inode>() + ino % disk::kInodesPerBlock;
  out->buf = std::move(b);
  return 0;
}

int Volume::ialloc(uint16_t type, uint32_t mode, InodePtr* out) {
  if (inodes_free_ == 0) return -ENOSPC;
  for (uint64_t tried = 0; tried < sb_.inodes; ++tried) {
    uint64_t ino = inode_rotor_;
    inode_rotor_ = inode_rotor_ + 1 >= sb_.inodes ? 1 : inode_rotor_ + 1;
    if (ino == 0) continue;
    InodePtr p;
    if (int r = iget(ino, &p); r < 0) return r;
    if (p->type != disk::kFree) continue;
    uint32_t generation = 0;
    if (int r = next_generation(&generation); r < 0) return r;
    std::memset(p.ip, 0, sizeof(disk::Inode));
    p->type = type;
    p->mode = mode & 07777;
    p->generation = generation;
    p->mtime_ns = p->ctime_ns = now_ns();
    iupdate(p);
    --inodes_free_;
    *out = std::move(p);
    return 0;
  }
  return -ENOSPC;
}

int Volume::next_generation(uint32_t* gen) {
  if (next_gen_ >= gen_bound_) {
    // Durable before it is handed out: a crash from here on cannot bring
    // the counter back below it.
    if (int r = log_.raise_sequence(next_gen_ + kGenerationChunk); r < 0) return r;
    gen_bound_ = log_.sequence();
  }
  // Wraps after 2^32 allocations (as ext4's i_generation does), skipping 0:
  // the generation of a slot mkfs left empty.
  *gen = static_cast<uint32_t>(next_gen_++);
  if (*gen == 0) *gen = static_cast<uint32_t>(next_gen_++);
  return 0;
}

void Volume::ifree(InodePtr& p) {
  p->type = disk::kFree;
  p->nlink = 0;
  p->size = 0;
  iupdate(p);
  ++inodes_free_;
}

// ---- the block bitmap ---------------------------------------------------------------

int Volume::balloc(uint32_t* bno) {
  if (blocks_free_ == 0) return -ENOSPC;
  const uint64_t total = sb_.blocks;
  for (uint64_t tried = 0; tried < total;) {
    uint64_t x = block_rotor_;
    if (x < sb_.data_start || x >= total) x = sb_.data_start;
    const uint64_t bblk = x / kBitsPerBlock;
    const uint64_t end = std::min(total, (bblk + 1) * kBitsPerBlock);
    BufRef b;
    if (int r = cache_.get(sb_.bitmap_start + bblk, &b); r < 0) return r;
    uint8_t* bits = b->data();
    const uint64_t start = x;
    for (; x < end; ++x) {
      const uint64_t bit = x % kBitsPerBlock;
      if (bit % 8 == 0 && bits[bit / 8] == 0xFF && x + 8 <= end) {
        x += 7;   // a full byte: skip it
        continue;
      }
      if (!(bits[bit / 8] & (1u << (bit % 8)))) {
        bits[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
        log_.write(b.get());
        block_rotor_ = x + 1;
        --blocks_free_;
        *bno = static_cast<uint32_t>(x);
        return 0;
      }
    }
    tried += end - start;
    block_rotor_ = end >= total ? sb_.data_start : end;
  }
  return -ENOSPC;
}

int Volume::bfree(uint32_t bno) {
  // A pointer outside the data area, or to a free block, is damage on disk:
  // freeing it would corrupt more.
  if (bno < sb_.data_start || bno >= sb_.blocks) return -EIO;
  BufRef b;
  if (int r = cache_.get(sb_.bitmap_start + bno / kBitsPerBlock, &b); r < 0) return r;
  const uint64_t bit = bno % kBitsPerBlock;
  uint8_t& byte = b->data()[bit / 8];
  const auto mask = static_cast<uint8_t>(1u << (bit % 8));
  if (!(byte & mask)) return -EIO;
  byte = static_cast<uint8_t>(byte & ~mask);
  log_.write(b.get());
  ++blocks_free_;
  return 0;
}

// ---- bmap -----------------------------------------------------------------------------

// The pointer block `*slot` (inside `holder`): read, or allocated zeroed
// when `alloc`; *out stays empty for a hole.
int Volume::block_ptr_level(uint32_t* slot, Buf* holder, InodePtr&, bool alloc, BufRef* out, bool* fresh) {
  if (*slot != 0) return cache_.get(*slot, out);
  if (!alloc) return 0;
  uint32_t nb = 0;
  if (int r = balloc(&nb); r < 0) return r;
  if (int r = cache_.get_zeroed(nb, out); r < 0) return r;
  log_.write(out->get());
  *slot = nb;
  log_.write(holder);
  if (fresh) *fresh = true;
  return 0;
}

int Volume::bmap(InodePtr& p, uint64_t idx, bool alloc, uint32_t* bno, bool* fresh) {
  *bno = 0;
  if (fresh) *fresh = false;
  uint32_t* slot = nullptr;
  Buf* holder = nullptr;
  BufRef l1, l2;   // keep the pointer blocks held while `slot` points into them
  if (idx < kDirect) {
    slot = &p->direct[idx];
    holder = p.buf.get();
  } else if (idx < kDoubleStart) {
    if (int r = block_ptr_level(&p->indirect, p.buf.get(), p, alloc, &l1, nullptr); r < 0) return r;
    if (!l1) return 0;
    slot = l1->as<uint32_t>() + (idx - kDirect);
    holder = l1.get();
  } else if (idx < disk::kMaxFileBlocks) {
    const uint64_t rel = idx - kDoubleStart;
    if (int r = block_ptr_level(&p->double_indirect, p.buf.get(), p, alloc, &l1, nullptr); r < 0) return r;
    if (!l1) return 0;
    uint32_t* mid = l1->as<uint32_t>() + rel / kPointersPerBlock;
    if (int r = block_ptr_level(mid, l1.get(), p, alloc, &l2, nullptr); r < 0) return r;
    if (!l2) return 0;
    slot = l2->as<uint32_t>() + rel % kPointersPerBlock;
    holder = l2.get();
  } else {
    return -EFBIG;
  }
  if (*slot == 0 && alloc) {
    uint32_t nb = 0;
    if (int r = balloc(&nb); r < 0) return r;
    *slot = nb;
    log_.write(holder);
    if (fresh) *fresh = true;
  }
  *bno = *slot;
  return 0;
}

// ---- data -----------------------------------------------------------------------------

// The disk blocks of file blocks [first, first + n) into out[] (0 for a
// hole), each pointer block looked up once for the range rather than once
// per block as bmap would.
int Volume::map_range(InodePtr& p, uint64_t first, uint64_t n, uint32_t* out) {
  BufRef ind, dbl, mid;
  uint64_t mid_index = ~uint64_t{0};   // which second-level block `mid` is
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t idx = first + i;
    out[i] = 0;
    if (idx < kDirect) {
      out[i] = p->direct[idx];
    } else if (idx < kDoubleStart) {
      if (p->indirect == 0) continue;
      if (!ind)
        if (int r = cache_.get(p->indirect, &ind); r < 0) return r;
      out[i] = ind->as<uint32_t>()[idx - kDirect];
    } else if (idx < disk::kMaxFileBlocks) {
      if (p->double_indirect == 0) continue;
      if (!dbl)
        if (int r = cache_.get(p->double_indirect, &dbl); r < 0) return r;
      const uint64_t rel = idx - kDoubleStart;
      if (rel / kPointersPerBlock != mid_index) {
        mid.reset();
        mid_index = rel / kPointersPerBlock;
        const uint32_t m = dbl->as<uint32_t>()[mid_index];
        if (m != 0)
          if (int r = cache_.get(m, &mid); r < 0) return r;
      }
      if (mid) out[i] = mid->as<uint32_t>()[rel % kPointersPerBlock];
    } else {
      return -EFBIG;
    }
  }
  return 0;
}

// A read brings its blocks into the cache in as few driver calls as it can:
// the uncached ones of the request together, and -- when the file is read
// sequentially (this read starts where the previous one ended, or at 0) and
// the block after the request is not cached yet -- the kReadAhead blocks
// after it.  So steady sequential reading costs one batch per kReadAhead
// blocks, not a call per block.
bool Volume::sequential(const InodePtr& p, uint64_t off, uint64_t n) {
  Stream* s = nullptr;
  for (auto& st : streams_)
    if (st.ino == p.ino && st.generation == p->generation) s = &st;
  const bool seq = off == 0 || (s && s->next == off);
  if (!s) {
    s = &streams_[stream_victim_];
    stream_victim_ = (stream_victim_ + 1) % streams_.size();
    *s = Stream{p.ino, p->generation, 0};
  }
  s->next = off + n;
  return seq;
}

int64_t Volume::readi(InodePtr& p, uint64_t off, uint8_t* dst, uint64_t n) {
  if (off >= p->size) return 0;
  n = std::min(n, p->size - off);
  const uint64_t first = off / kBlockSize;
  const uint64_t end = (off + n + kBlockSize - 1) / kBlockSize;
  const uint64_t file_end = (p->size + kBlockSize - 1) / kBlockSize;
  const uint64_t window_end = sequential(p, off, n) ? std::min(file_end, end + kReadAhead) : end;
  uint64_t done = 0;
  // Pieces of at most kReadPiece blocks (a read of the fs interface is 16).
  for (uint64_t piece = first; piece < end;) {
    const uint64_t piece_end = std::min(end, piece + kReadPiece);
    const uint64_t map_end = piece_end == end ? window_end : piece_end;   // the read-ahead rides with the last piece
    map_.resize(map_end - piece);
    if (int r = map_range(p, piece, map_end - piece, map_.data()); r < 0) return r;
    fetch_.clear();
    auto want = [&](uint64_t from, uint64_t to) {
      for (uint64_t i = from; i < to; ++i)
        if (map_[i] != 0 && !cache_.cached(map_[i])) fetch_.push_back(map_[i]);   // holes read as zeros
    };
    want(0, piece_end - piece);
    if (map_end > piece_end && (map_[piece_end - piece] == 0 || !cache_.cached(map_[piece_end - piece])))
      want(piece_end - piece, map_end - piece);
    // A single block is read as below anyway.
    if (fetch_.size() >= 2)
      if (int r = cache_.prefetch(fetch_); r < 0) return r;
    for (uint64_t idx = piece; idx < piece_end; ++idx) {
      const uint64_t pos = off + done;
      const uint64_t boff = pos % kBlockSize;
      const uint64_t m = std::min<uint64_t>(n - done, kBlockSize - boff);
      const uint32_t bno = map_[idx - piece];
      if (bno == 0) {
        std::memset(dst + done, 0, m);   // a hole
      } else {
        BufRef b;
        if (int r = cache_.get(bno, &b); r < 0) return r;
        std::memcpy(dst + done, b->data() + boff, m);
      }
      done += m;
    }
    piece = piece_end;
  }
  return static_cast<int64_t>(done);
}

uint32_t Volume::write_reserve(uint64_t off, uint64_t n) const noexcept {
  if (n == 0) return 1;
  const uint64_t nb = (off + n + kBlockSize - 1) / kBlockSize - off / kBlockSize;
  const uint64_t pointer_blocks = nb / kPointersPerBlock + 4;   // indirect, double, 2+ second-level
  const uint64_t bitmap = std::min<uint64_t>(sb_.bitmap_blocks, nb + pointer_blocks);
  return static_cast<uint32_t>(std::min<uint64_t>(disk::kLogMax, nb + 1 + pointer_blocks + bitmap));
}

int64_t Volume::writei(InodePtr& p, uint64_t off, const uint8_t* src, uint64_t n) {
  const uint64_t max = disk::kMaxFileBlocks * kBlockSize;
  if (off >= max) return -EFBIG;
  n = std::min(n, max - off);
  uint64_t done = 0;
  int err = 0;
  while (done < n) {
    const uint64_t pos = off + done;
    const uint64_t boff = pos % kBlockSize;
    const uint64_t m = std::min<uint64_t>(n - done, kBlockSize - boff);
    uint32_t bno = 0;
    bool fresh = false;
    if (int r = bmap(p, pos / kBlockSize, true, &bno, &fresh); r < 0) {
      err = r;
      break;
    }
    BufRef b;
    // A new block, or one overwritten whole: its old contents do not matter.
    int r = (fresh || m == kBlockSize) ? cache_.get_zeroed(bno, &b) : cache_.get(bno, &b);
    if (r < 0) {
      err = r;
      break;
    }
    std::memcpy(b->data() + boff, src + done, m);
    log_.write(b.get());
    done += m;
  }
  if (done == 0) return err;
  if (off + done > p->size) p->size = off + done;
  p->mtime_ns = p->ctime_ns = now_ns();
  iupdate(p);
  return static_cast<int64_t>(done);
}

// ---- shrink ---------------------------------------------------------------------------

bool Volume::room_to_free(uint32_t bno) const {
  const bool bitmap_logged = log_.contains(sb_.bitmap_start + bno / kBitsPerBlock);
  return log_.room() >= (bitmap_logged ? 0u : 1u) + kShrinkMargin;
}

// Frees the blocks of the subtree under `*slot` (a pointer block of
// `level`, covering file blocks from `start`) that lie at or beyond `keep`,
// last ones first; the pointer block itself too when nothing of it is kept.
int Volume::free_tree(uint32_t* slot, Buf* holder, InodePtr& p, int level, uint64_t start, uint64_t keep,
                      uint64_t* freed_from, bool* stopped) {
  if (*slot == 0) return 0;
  const uint64_t child_span = level == 1 ? 1 : kPointersPerBlock;
  if (start + child_span * kPointersPerBlock <= keep) return 0;   // all kept
  BufRef b;
  if (int r = cache_.get(*slot, &b); r < 0) return r;
  uint32_t* e = b->as<uint32_t>();
  for (uint64_t j = kPointersPerBlock; j-- > 0;) {
    const uint64_t cstart = start + j * child_span;
    if (cstart + child_span <= keep) break;
    if (e[j] == 0) continue;
    if (level == 1) {
      if (!room_to_free(e[j])) {
        *stopped = true;
        return 0;
      }
      if (int r = bfree(e[j]); r < 0) return r;
      e[j] = 0;
      log_.write(b.get());
      *freed_from = cstart;
    } else {
      if (int r = free_tree(&e[j], b.get(), p, level - 1, cstart, keep, freed_from, stopped); r < 0) return r;
      if (*stopped) return 0;
    }
  }
  if (start < keep) return 0;   // partly kept: the block stays
  if (!room_to_free(*slot)) {
    *stopped = true;
    return 0;
  }
  if (int r = bfree(*slot); r < 0) return r;
  *slot = 0;
  log_.write(holder);
  *freed_from = start;
  return 0;
}

int Volume::shrink(InodePtr& p, uint64_t size, bool* done) {
  *done = false;
  const uint64_t keep = (size + kBlockSize - 1) / kBlockSize;
  uint64_t freed_from = ~uint64_t{0};
  bool stopped = false;
  Buf* ib = p.buf.get();
  if (int r = free_tree(&p->double_indirect, ib, p, 2, kDoubleStart, keep, &freed_from, &stopped); r < 0) return r;
  if (!stopped)
    if (int r = free_tree(&p->indirect, ib, p, 1, kDirect, keep, &freed_from, &stopped); r < 0) return r;
  for (uint64_t i = kDirect; !stopped && i-- > keep;) {
    if (p->direct[i] == 0) continue;
    if (!room_to_free(p->direct[i])) {
      stopped = true;
      break;
    }
    if (int r = bfree(p->direct[i]); r < 0) return r;
    p->direct[i] = 0;
    freed_from = i;
  }
  if (stopped) {
    // Everything from freed_from on is gone: the file is that much shorter
    // now, so a crash between pieces leaves a shorter file, never one whose
    // tail reads as zeros.
    if (freed_from != ~uint64_t{0}) p->size = std::max(size, std::min(p->size, freed_from * kBlockSize));
    iupdate(p);
    return 0;
  }
  // Bytes past the end of the last block read as zeros once the file grows
  // again: clear them now.
  if (size % kBlockSize != 0 && size < p->size) {
    uint32_t bno = 0;
    if (int r = bmap(p, size / kBlockSize, false, &bno, nullptr); r < 0) return r;
    if (bno != 0) {
      BufRef b;
      if (int r = cache_.get(bno, &b); r < 0) return r;
      std::memset(b->data() + size % kBlockSize, 0, kBlockSize - size % kBlockSize);
      log_.write(b.get());
    }
  }
  p->size = size;
  iupdate(p);
  *done = true;
  return 0;
}

int Volume::count_blocks(InodePtr& p, uint64_t* n) {
  uint64_t c = 0;
  for (uint32_t d : p->direct) c += d != 0;
  auto count_ptrs = [&](uint32_t bno, int level) -> int {
    BufRef b;
    if (int r = cache_.get(bno, &b); r < 0) return r;
    ++c;
    std::vector<uint32_t> children;
    for (uint32_t i = 0; i < kPointersPerBlock; ++i) {
      uint32_t e = b->as<uint32_t>()[i];
      if (e == 0) continue;
      if (level == 1) ++c;
      else children.push_back(e);
    }
    b.reset();
    for (uint32_t ch : children) {
      BufRef cb;
      if (int r = cache_.get(ch, &cb); r < 0) return r;
      ++c;
      for (uint32_t i = 0; i < kPointersPerBlock; ++i) c += cb->as<uint32_t>()[i] != 0;
    }
    return 0;
  };
  if (p->indirect)
    if (int r = count_ptrs(p->indirect, 1); r < 0) return r;
  if (p->double_indirect)
    if (int r = count_ptrs(p->double_indirect, 2); r < 0) return r;
  *n = c;
  return 0;
}

void Volume::fill_attr(const InodePtr& p, Attr* a) const {
  a->ino = p.ino;
  a->type = p->type == disk::kDir ? kTypeDir : kTypeFile;
  a->mode = p->mode;
  a->nlink = p->nlink;
  a->generation = p->generation;
  a->size = p->size;
  a->blocks = 0;
  a->mtime_ns = p->mtime_ns;
  a->ctime_ns = p->ctime_ns;
}

}  // namespace rl::fs
