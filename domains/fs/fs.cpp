// The FileSystem calls: path resolution and the namespace and file
// operations, each one run as an operation of the log's open transaction,
// with Linux's errno choices (the POSIX layer is compared with tmpfs).
#include "domains/fs/fs.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "domains/fs/crc.hpp"
#include "domains/fs/volume.hpp"

namespace rl::fs {

namespace {

using disk::kRootIno;

constexpr uint32_t kDefaultCacheBlocks = 4096;
// A transaction pins up to kLogMax blocks and an operation holds a few more:
// a smaller cache could find nothing to evict.
constexpr uint32_t kMinCacheBlocks = disk::kLogMax + 64;
// What a namespace operation may dirty at most (rename is the largest:
// two directory blocks plus a grown one with its pointer and bitmap blocks,
// four inodes, the moved directory's ".." block) with room to spare.
constexpr uint32_t kNamespaceReserve = 32;
// Room a piece of a shrink starts with; it stops on its own when the log fills.
constexpr uint32_t kShrinkReserve = 64;

// A parsed absolute path: its components and whether it ended in '/'.
struct Parsed {
  std::vector<std::string_view> comps;
  bool trailing_slash = false;
};

enum class Last { Root, Dot, DotDot, Normal };

int parse(const Path& p, Parsed* out) {
  if (p.len == 0) return -ENOENT;
  if (p.len >= kPathMax) return -ENAMETOOLONG;   // PATH_MAX counts the NUL
  const std::string_view s(p.bytes.data(), p.len);
  if (s.find('\0') != std::string_view::npos) return -EINVAL;
  // Relative paths are the caller's to resolve against its working directory.
  if (s[0] != '/') return -EINVAL;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == '/') ++i;
    if (i == s.size()) break;
    size_t j = s.find('/', i);
    if (j == std::string_view::npos) j = s.size();
    if (j - i > kNameMax) return -ENAMETOOLONG;
    out->comps.push_back(s.substr(i, j - i));
    i = j;
  }
  out->trailing_slash = !out->comps.empty() && s.back() == '/';
  return 0;
}

Last last_kind(const Parsed& p) {
  if (p.comps.empty()) return Last::Root;
  if (p.comps.back() == ".") return Last::Dot;
  if (p.comps.back() == "..") return Last::DotDot;
  return Last::Normal;
}

class RlFs final : public FileSystem {
 public:
  RlFs(const FsInit& init, const disk::Superblock& sb, uint32_t cache_blocks) : v_(init.disk, sb, init, cache_blocks) {}

  ~RlFs() override {
    // An unmount without a crash: what is pending goes to disk.  (A domain
    // being unloaded runs no destructor: callers sync() first.)
    if (!v_.io().failed()) (void)v_.log().commit();
  }

  int mount(std::string* err) {
    if (int r = v_.log().recover(&replayed_); r < 0) return mount_error(err, "reading or replaying the log", r);
    if (int r = v_.scan_free(); r < 0) return mount_error(err, "reading the bitmap and inode table", r);
    // Inodes a crash left with no name and no open: their last release never
    // ran.  Freed now, before anyone can allocate over them.
    std::vector<uint64_t> orphans;
    for (uint64_t i = 0; i < v_.sb().inode_blocks; ++i) {
      BufRef b;
      if (int r = v_.cache().get(v_.sb().inode_start + i, &b); r < 0) return mount_error(err, "reading inodes", r);
      for (uint32_t k = 0; k < disk::kInodesPerBlock; ++k) {
        const uint64_t ino = i * disk::kInodesPerBlock + k;
        const disk::Inode& n = b->as<disk::Inode>()[k];
        if (ino != 0 && n.type != disk::kFree && n.nlink == 0) orphans.push_back(ino);
      }
    }
    for (uint64_t ino : orphans)
      if (int r = free_inode(ino); r < 0) return mount_error(err, "freeing orphaned inodes", r);
    if (int r = v_.log().commit(); r < 0) return mount_error(err, "committing the orphans' removal", r);
    InodePtr root;
    if (int r = v_.iget(kRootIno, &root); r < 0) return mount_error(err, "reading the root inode", r);
    if (root->type != disk::kDir) {
      *err = "the root inode is not a directory: the file system is damaged; run rl-fsck";
      return -EIO;
    }
    return 0;
  }

  // ---- files -------------------------------------------------------------------------

  RpcResult<AttrResult> open(const RRef<Path>& path, uint32_t flags, uint32_t mode) override {
    AttrResult res{};
    res.status = do_open(*path, flags, mode, &res.attr);
    return res;
  }

  RpcResult<int32_t> release(uint64_t ino) override {
    auto it = opens_.find(ino);
    if (it == opens_.end()) return -EBADF;
    if (--it->second > 0) return 0;
    opens_.erase(it);
    InodePtr p;
    if (int r = v_.iget(ino, &p); r < 0) return r;
    const bool orphan = p->type != disk::kFree && p->nlink == 0;
    p = InodePtr{};
    if (!orphan || v_.io().failed()) return 0;   // a read-only fs leaves it to the next mount
    return free_inode(ino);
  }

  RpcResult<RRef<Data>> read(uint64_t ino, uint64_t offset, RRef<Data> buf) override {
    if (!buf) return buf;
    InodePtr p;
    int r = open_inode(ino, &p);
    if (r == 0 && p->type == disk::kDir) r = -EISDIR;
    if (r == 0) {
      const uint64_t n = std::min<uint64_t>(buf->len, kDataBytes);
      int64_t got = v_.readi(p, offset, buf->bytes.data(), n);
      r = static_cast<int>(got);
    }
    buf->status = r;
    return buf;
  }

  RpcResult<int32_t> write(uint64_t ino, uint64_t offset, const RRef<Data>& data) override {
    InodePtr p;
    if (int r = open_inode(ino, &p); r < 0) return r;
    if (p->type == disk::kDir) return -EISDIR;
    if (!data || data->len > kDataBytes) return -EINVAL;
    const uint64_t len = data->len;
    if (len == 0) return 0;
    if (offset >= disk::kMaxFileBlocks * disk::kBlockSize) return -EFBIG;
    p = InodePtr{};
    // Pieces small enough for one transaction each, as xv6's filewrite:
    // every piece is atomic, a crash keeps a prefix of the write.
    constexpr uint64_t kPiece = 64 * disk::kBlockSize;
    uint64_t total = 0;
    while (total < len) {
      const uint64_t piece = std::min(len - total, kPiece);
      if (int r = begin(v_.write_reserve(offset + total, piece)); r < 0) return total ? int32_t(total) : r;
      int64_t w = v_.iget(ino, &p);
      if (w == 0) w = v_.writei(p, offset + total, data->bytes.data() + total, piece);
      p = InodePtr{};
      const int e = end(static_cast<int>(std::min<int64_t>(w, 0)));
      if (w < 0 || e < 0) return total ? static_cast<int32_t>(total) : (w < 0 ? static_cast<int32_t>(w) : e);
      total += static_cast<uint64_t>(w);
      if (static_cast<uint64_t>(w) < piece) break;   // the disk is full
    }
    return static_cast<int32_t>(total);
  }

  RpcResult<int32_t> truncate(uint64_t ino, uint64_t size) override {
    InodePtr p;
    if (int r = open_inode(ino, &p); r < 0) return r;
    if (p->type == disk::kDir) return -EISDIR;
    if (size > disk::kMaxFileBlocks * disk::kBlockSize) return -EFBIG;
    p = InodePtr{};
    return set_size(ino, size);
  }

  RpcResult<AttrResult> getattr(uint64_t ino) override {
    AttrResult res{};
    InodePtr p;
    res.status = v_.iget(ino, &p);
    if (res.status == 0 && p->type == disk::kFree) res.status = -EBADF;
    if (res.status == 0) res.status = attr_of(p, &res.attr);
    return res;
  }

  RpcResult<int32_t> fsync(uint64_t ino) override {
    if (!opens_.count(ino)) return -EBADF;
    return sync_all();
  }

  RpcResult<int32_t> sync() override { return sync_all(); }

  // ---- namespace -------------------------------------------------------------------

  RpcResult<AttrResult> stat(const RRef<Path>& path) override {
    AttrResult res{};
    Parsed pp;
    uint64_t ino = 0;
    res.status = parse(*path, &pp);
    if (res.status == 0) res.status = resolve(pp, &ino);
    InodePtr p;
    if (res.status == 0) res.status = v_.iget(ino, &p);
    if (res.status == 0) res.status = attr_of(p, &res.attr);
    return res;
  }

  RpcResult<int32_t> mkdir(const RRef<Path>& path, uint32_t mode) override {
    Parsed pp;
    uint64_t parent = 0;
    if (int r = parse(*path, &pp); r < 0) return r;
    if (int r = resolve_parent(pp, &parent); r < 0) return r;
    if (last_kind(pp) != Last::Normal) return -EEXIST;
    const std::string_view name = pp.comps.back();
    InodePtr dp;
    if (int r = v_.iget(parent, &dp); r < 0) return r;
    Volume::Found f;
    if (int r = v_.dir_lookup(dp, name, &f); r != -ENOENT) return r == 0 ? -EEXIST : r;
    if (int r = begin(kNamespaceReserve); r < 0) return r;
    return end(make_dir(dp, name, mode));
  }

  RpcResult<int32_t> rmdir(const RRef<Path>& path) override {
    Parsed pp;
    uint64_t parent = 0;
    if (int r = parse(*path, &pp); r < 0) return r;
    if (int r = resolve_parent(pp, &parent); r < 0) return r;
    switch (last_kind(pp)) {
      case Last::Root: return -EBUSY;
      case Last::Dot: return -EINVAL;
      case Last::DotDot: return -ENOTEMPTY;
      case Last::Normal: break;
    }
    InodePtr dp, tp;
    Volume::Found f;
    if (int r = v_.iget(parent, &dp); r < 0) return r;
    if (int r = v_.dir_lookup(dp, pp.comps.back(), &f); r < 0) return r;
    if (int r = v_.iget(f.ino, &tp); r < 0) return r;
    if (tp->type != disk::kDir) return -ENOTDIR;
    bool empty = false;
    if (int r = v_.dir_is_empty(tp, &empty); r < 0) return r;
    if (!empty) return -ENOTEMPTY;
    if (int r = begin(kNamespaceReserve); r < 0) return r;
    int r = v_.dir_set(dp, f.slot, 0, 0);
    if (r == 0) {
      const int64_t now = now_ns();
      dp->nlink -= 1;   // the removed directory's ".."
      dp->mtime_ns = dp->ctime_ns = now;
      v_.iupdate(dp);
      tp->nlink = 0;
      tp->ctime_ns = now;
      v_.iupdate(tp);
    }
    dp = InodePtr{};
    tp = InodePtr{};
    return finish_and_reap(end(r), f.ino);
  }

  RpcResult<int32_t> unlink(const RRef<Path>& path) override {
    Parsed pp;
    uint64_t parent = 0;
    if (int r = parse(*path, &pp); r < 0) return r;
    if (int r = resolve_parent(pp, &parent); r < 0) return r;
    if (last_kind(pp) != Last::Normal) return -EISDIR;
    InodePtr dp, tp;
    Volume::Found f;
    if (int r = v_.iget(parent, &dp); r < 0) return r;
    if (int r = v_.dir_lookup(dp, pp.comps.back(), &f); r < 0) return r;
    if (int r = v_.iget(f.ino, &tp); r < 0) return r;
    if (tp->type == disk::kDir) return -EISDIR;
    if (pp.trailing_slash) return -ENOTDIR;
    if (int r = begin(kNamespaceReserve); r < 0) return r;
    int r = v_.dir_set(dp, f.slot, 0, 0);
    if (r == 0) {
      const int64_t now = now_ns();
      dp->mtime_ns = dp->ctime_ns = now;
      v_.iupdate(dp);
      tp->nlink -= 1;
      tp->ctime_ns = now;
      v_.iupdate(tp);
    }
    dp = InodePtr{};
    tp = InodePtr{};
    return finish_and_reap(end(r), f.ino);
  }

  RpcResult<int32_t> rename(const RRef<Path>& from, const RRef<Path>& to) override {
    Parsed a, b;
    uint64_t from_parent = 0, to_parent = 0;
    if (int r = parse(*from, &a); r < 0) return r;
    if (int r = parse(*to, &b); r < 0) return r;
    if (int r = resolve_parent(a, &from_parent); r < 0) return r;
    if (int r = resolve_parent(b, &to_parent); r < 0) return r;
    if (last_kind(a) != Last::Normal || last_kind(b) != Last::Normal) return -EBUSY;
    Volume::Found src, dst;
    {
      InodePtr fp, tp;
      if (int r = v_.iget(from_parent, &fp); r < 0) return r;
      if (int r = v_.iget(to_parent, &tp); r < 0) return r;
      if (int r = v_.dir_lookup(fp, a.comps.back(), &src); r < 0) return r;
      if (int r = v_.dir_lookup(tp, b.comps.back(), &dst); r < 0 && r != -ENOENT) return r;
    }
    const bool src_dir = src.type == disk::kDir;
    const bool dst_exists = dst.ino != 0;
    const bool dst_dir = dst_exists && dst.type == disk::kDir;
    if (!src_dir && (a.trailing_slash || b.trailing_slash)) return -ENOTDIR;
    bool under = false;
    // Moving a directory under itself would cut it off from the tree.
    if (src_dir) {
      if (int r = is_under(to_parent, src.ino, &under); r < 0) return r;
      if (under) return -EINVAL;
    }
    // Replacing an ancestor of the source: it cannot be empty.
    if (dst_dir) {
      if (int r = is_under(from_parent, dst.ino, &under); r < 0) return r;
      if (under) return -ENOTEMPTY;
    }
    if (dst_exists && dst.ino == src.ino) return 0;   // two names of one inode: rename(2) does nothing
    if (dst_exists) {
      if (src_dir && !dst_dir) return -ENOTDIR;
      if (!src_dir && dst_dir) return -EISDIR;
      if (dst_dir) {
        InodePtr dp;
        bool empty = false;
        if (int r = v_.iget(dst.ino, &dp); r < 0) return r;
        if (int r = v_.dir_is_empty(dp, &empty); r < 0) return r;
        if (!empty) return -ENOTEMPTY;
      }
    }
    if (int r = begin(kNamespaceReserve); r < 0) return r;
    int r = move_entry(from_parent, to_parent, src, dst, b.comps.back());
    return finish_and_reap(end(r), dst_exists ? dst.ino : 0);
  }

  RpcResult<RRef<DirPage>> readdir(uint64_t ino, uint64_t cookie, RRef<DirPage> page) override {
    if (!page) return page;
    InodePtr p;
    int r = open_inode(ino, &p);
    if (r == 0 && p->type != disk::kDir) r = -ENOTDIR;
    if (r == 0) r = v_.dir_read(p, cookie, page.get());
    if (r < 0) {
      page->count = 0;
      page->next = 0;
    }
    page->status = r;
    return page;
  }

  RpcResult<FsStats> statfs() override {
    FsStats s{};
    s.block_size = disk::kBlockSize;
    s.blocks = v_.sb().blocks;
    s.blocks_free = v_.blocks_free();
    s.inodes = v_.sb().inodes - 1;   // inode 0 is never used
    s.inodes_free = v_.inodes_free();
    s.commits = v_.log().commits();
    s.ops_committed = v_.log().ops_committed();
    s.cache_hits = v_.cache().hits();
    s.cache_misses = v_.cache().misses();
    s.disk_reads = v_.io().counters().reads;
    s.disk_writes = v_.io().counters().writes;
    s.disk_flushes = v_.io().counters().flushes;
    s.replayed_at_mount = replayed_;
    return s;
  }

 private:
  static int mount_error(std::string* err, const char* what, int r) {
    *err = std::string("I/O error while ") + what + " (" + std::strerror(-r) + "): check the device";
    return r;
  }

  // ---- transactions ----
  int begin(uint32_t reserve) {
    // After an I/O error the cache may hold changes the disk never got:
    // nothing more is written until a remount.
    if (v_.io().failed()) return -EIO;
    return v_.log().begin_op(reserve);
  }
  int end(int result) {
    const int r = v_.log().end_op();
    if (v_.io().failed()) return -EIO;
    return r < 0 ? r : result;
  }
  int sync_all() {
    if (v_.io().failed()) return -EIO;
    return v_.log().commit();
  }

  // Frees `ino` when its last name went and nobody has it open.
  int finish_and_reap(int result, uint64_t ino) {
    if (result < 0 || ino == 0 || opens_.count(ino)) return result;
    InodePtr p;
    if (int r = v_.iget(ino, &p); r < 0) return r;
    if (p->type == disk::kFree || p->nlink != 0) return result;
    p = InodePtr{};
    if (int r = free_inode(ino); r < 0) return r;
    return result;
  }

  // Truncates to 0 and frees, in as many transactions as the blocks need.
  int free_inode(uint64_t ino) {
    for (;;) {
      if (int r = begin(kShrinkReserve); r < 0) return r;
      InodePtr p;
      bool done = false;
      int r = v_.iget(ino, &p);
      if (r == 0) r = v_.shrink(p, 0, &done);
      if (r == 0 && done) v_.ifree(p);
      p = InodePtr{};
      if (int e = end(r); e < 0) return e;
      if (done) return 0;
    }
  }

  int set_size(uint64_t ino, uint64_t size) {
    for (;;) {
      if (int r = begin(kShrinkReserve); r < 0) return r;
      InodePtr p;
      bool done = true;
      int r = v_.iget(ino, &p);
      if (r == 0 && size < p->size) r = v_.shrink(p, size, &done);
      if (r == 0 && done) {
        p->size = size;   // growing: the new bytes are a hole
        p->mtime_ns = p->ctime_ns = now_ns();
        v_.iupdate(p);
      }
      p = InodePtr{};
      if (int e = end(r); e < 0) return e;
      if (done) return 0;
    }
  }

  // An inode this fs has open (file operations take only open inodes: a
  // stale number may name a reused slot).
  int open_inode(uint64_t ino, InodePtr* p) {
    if (!opens_.count(ino)) return -EBADF;
    if (int r = v_.iget(ino, p); r < 0) return r;
    if ((*p)->type == disk::kFree) return -EBADF;
    return 0;
  }

  int attr_of(InodePtr& p, Attr* a) {
    v_.fill_attr(p, a);
    uint64_t n = 0;
    if (int r = v_.count_blocks(p, &n); r < 0) return r;
    a->blocks = n * (disk::kBlockSize / 512);
    return 0;
  }

  // ---- paths ----
  // Follows `n` components from the root; each one it enters must be a directory.
  int walk(const Parsed& pp, size_t n, uint64_t* ino) {
    uint64_t cur = kRootIno;
    for (size_t i = 0; i < n; ++i) {
      InodePtr d;
      if (int r = v_.iget(cur, &d); r < 0) return r;
      if (d->type != disk::kDir) return -ENOTDIR;
      Volume::Found f;
      if (int r = v_.dir_lookup(d, pp.comps[i], &f); r < 0) return r;
      if (!v_.valid_ino(f.ino)) return -EIO;   // a damaged entry
      cur = f.ino;
    }
    *ino = cur;
    return 0;
  }

  int resolve(const Parsed& pp, uint64_t* ino) {
    if (int r = walk(pp, pp.comps.size(), ino); r < 0) return r;
    InodePtr p;
    if (int r = v_.iget(*ino, &p); r < 0) return r;
    if (p->type == disk::kFree) return -EIO;
    if (pp.trailing_slash && p->type != disk::kDir) return -ENOTDIR;
    return 0;
  }

  // The directory that holds the last component ("/" for "/").
  int resolve_parent(const Parsed& pp, uint64_t* parent) {
    const size_t n = pp.comps.empty() ? 0 : pp.comps.size() - 1;
    if (int r = walk(pp, n, parent); r < 0) return r;
    InodePtr p;
    if (int r = v_.iget(*parent, &p); r < 0) return r;
    if (p->type != disk::kDir) return -ENOTDIR;
    return 0;
  }

  // Whether directory `dir` is `ancestor` or lies below it (following "..").
  int is_under(uint64_t dir, uint64_t ancestor, bool* under) {
    *under = false;
    for (uint64_t steps = 0; steps < v_.sb().inodes; ++steps) {
      if (dir == ancestor) {
        *under = true;
        return 0;
      }
      if (dir == kRootIno) return 0;
      InodePtr d;
      Volume::Found f;
      if (int r = v_.iget(dir, &d); r < 0) return r;
      if (int r = v_.dir_lookup(d, "..", &f); r < 0) return r == -ENOENT ? -EIO : r;
      dir = f.ino;
    }
    return -EIO;   // a loop of ".." entries: damage
  }

  // ---- operation bodies (inside a transaction) ----
  int do_open(const Path& path, uint32_t flags, uint32_t mode, Attr* attr) {
    Parsed pp;
    if (int r = parse(path, &pp); r < 0) return r;
    uint64_t ino = 0;
    if (flags & O_CREAT) {
      uint64_t parent = 0;
      if (int r = resolve_parent(pp, &parent); r < 0) return r;
      if (last_kind(pp) != Last::Normal) return (flags & O_EXCL) ? -EEXIST : -EISDIR;
      if (pp.trailing_slash) return -EISDIR;
      InodePtr dp;
      Volume::Found f;
      if (int r = v_.iget(parent, &dp); r < 0) return r;
      int r = v_.dir_lookup(dp, pp.comps.back(), &f);
      if (r == 0) {
        if (flags & O_EXCL) return -EEXIST;
        if (f.type == disk::kDir) return -EISDIR;
        ino = f.ino;
      } else if (r == -ENOENT) {
        if (int b = begin(kNamespaceReserve); b < 0) return b;
        r = make_file(dp, pp.comps.back(), mode, &ino);
        dp = InodePtr{};
        if (int e = end(r); e < 0) return e;
        ++opens_[ino];
        InodePtr p;
        if (int g = v_.iget(ino, &p); g < 0) return g;
        return attr_of(p, attr);
      } else {
        return r;
      }
    } else {
      if (int r = resolve(pp, &ino); r < 0) return r;
    }
    InodePtr p;
    if (int r = v_.iget(ino, &p); r < 0) return r;
    if (p->type == disk::kDir) {
      if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) return -EISDIR;
    } else {
      if (flags & O_DIRECTORY) return -ENOTDIR;
      if (flags & O_TRUNC) {
        // As Linux: O_TRUNC truncates whatever the access mode.
        p = InodePtr{};
        if (int r = set_size(ino, 0); r < 0) return r;
        if (int r = v_.iget(ino, &p); r < 0) return r;
      }
    }
    ++opens_[ino];
    return attr_of(p, attr);
  }

  int make_file(InodePtr& dp, std::string_view name, uint32_t mode, uint64_t* ino) {
    InodePtr p;
    if (int r = v_.ialloc(disk::kFile, mode, &p); r < 0) return r;
    p->nlink = 1;
    v_.iupdate(p);
    if (int r = v_.dir_add(dp, name, static_cast<uint32_t>(p.ino), disk::kFile); r < 0) {
      v_.ifree(p);
      return r;
    }
    dp->mtime_ns = dp->ctime_ns = p->mtime_ns;
    v_.iupdate(dp);
    *ino = p.ino;
    return 0;
  }

  int make_dir(InodePtr& dp, std::string_view name, uint32_t mode) {
    InodePtr p;
    if (int r = v_.ialloc(disk::kDir, mode, &p); r < 0) return r;
    p->nlink = 2;   // its name and its "."
    if (int r = v_.dir_init(p, static_cast<uint32_t>(dp.ino)); r < 0) {
      v_.ifree(p);
      return r;
    }
    if (int r = v_.dir_add(dp, name, static_cast<uint32_t>(p.ino), disk::kDir); r < 0) {
      bool done = false;
      (void)v_.shrink(p, 0, &done);
      v_.ifree(p);
      return r;
    }
    dp->nlink += 1;   // the new directory's ".."
    dp->mtime_ns = dp->ctime_ns = p->mtime_ns;
    v_.iupdate(dp);
    return 0;
  }

  int move_entry(uint64_t from_parent, uint64_t to_parent, const Volume::Found& src, const Volume::Found& dst,
                 std::string_view new_name) {
    InodePtr fp, tp, sp;
    if (int r = v_.iget(from_parent, &fp); r < 0) return r;
    if (int r = v_.iget(to_parent, &tp); r < 0) return r;
    if (int r = v_.iget(src.ino, &sp); r < 0) return r;
    const int64_t now = now_ns();
    const bool src_dir = src.type == disk::kDir;
    // The new name first: if the directory cannot grow, nothing has changed.
    if (dst.ino != 0) {
      if (int r = v_.dir_set(tp, dst.slot, src.ino, src.type); r < 0) return r;
      InodePtr old;
      if (int r = v_.iget(dst.ino, &old); r < 0) return r;
      if (old->type == disk::kDir) {
        old->nlink = 0;
        tp->nlink -= 1;   // the replaced directory's ".."
      } else {
        old->nlink -= 1;
      }
      old->ctime_ns = now;
      v_.iupdate(old);
    } else {
      if (int r = v_.dir_add(tp, new_name, src.ino, src.type); r < 0) return r;
    }
    if (int r = v_.dir_set(fp, src.slot, 0, 0); r < 0) return r;
    if (src_dir && from_parent != to_parent) {
      Volume::Found dotdot;
      if (int r = v_.dir_lookup(sp, "..", &dotdot); r < 0) return r == -ENOENT ? -EIO : r;
      if (int r = v_.dir_set(sp, dotdot.slot, static_cast<uint32_t>(to_parent), disk::kDir); r < 0) return r;
      fp->nlink -= 1;
      tp->nlink += 1;
    }
    sp->ctime_ns = now;
    fp->mtime_ns = fp->ctime_ns = now;
    tp->mtime_ns = tp->ctime_ns = now;
    v_.iupdate(sp);
    v_.iupdate(fp);
    v_.iupdate(tp);
    return 0;
  }

  Volume v_;
  uint64_t replayed_ = 0;
  std::unordered_map<uint64_t, uint32_t> opens_;   // inode -> opens not yet released
};

std::string geometry_mismatch(const disk::Superblock& sb) {
  const disk::Superblock want = disk::layout(sb.blocks, sb.inodes);
  if (sb.inodes != want.inodes || sb.log_start != want.log_start || sb.log_blocks != want.log_blocks ||
      sb.inode_start != want.inode_start || sb.inode_blocks != want.inode_blocks ||
      sb.bitmap_start != want.bitmap_start || sb.bitmap_blocks != want.bitmap_blocks ||
      sb.data_start != want.data_start)
    return "the superblock's layout does not match rlfs's for " + std::to_string(sb.blocks) + " blocks and " +
           std::to_string(sb.inodes) + " inodes: the superblock is damaged; run rl-fsck or reformat with rl-mkfs";
  if (sb.blocks < disk::kMinBlocks || sb.data_start >= sb.blocks)
    return "the superblock describes a device of " + std::to_string(sb.blocks) +
           " blocks, too small for rlfs: the superblock is damaged; reformat with rl-mkfs";
  return {};
}

}  // namespace

std::unique_ptr<FileSystem> make_fs(const FsInit& init, std::string* err) {
  if (!init.disk) {
    *err = "FsInit.disk holds no block device: pass the capability of a formatted device";
    return nullptr;
  }
  BlockIo probe(init.disk, 0);
  const uint64_t device_blocks = probe.device_blocks();
  auto block = RRef<blk::Block>::make_aligned(blk::kBlockSize);
  if (probe.read(0, block) < 0) {
    *err = "cannot read the superblock (block 0): the device failed; check it and retry";
    return nullptr;
  }
  disk::Superblock sb;
  std::memcpy(&sb, block->data.data(), sizeof sb);
  if (sb.magic != disk::kMagic) {
    *err = "no rlfs on this device (block 0 does not start with rlfs's magic): format it with rl-mkfs";
    return nullptr;
  }
  if (sb.crc != Crc32c().of_struct(sb)) {
    *err = "the superblock's checksum does not match: the superblock is damaged; run rl-fsck or reformat with rl-mkfs";
    return nullptr;
  }
  if (sb.version != disk::kVersion || sb.block_size != disk::kBlockSize) {
    *err = "rlfs version " + std::to_string(sb.version) + " with " + std::to_string(sb.block_size) +
           "-byte blocks: this fs reads version " + std::to_string(disk::kVersion) + " with 4096-byte blocks";
    return nullptr;
  }
  if (std::string m = geometry_mismatch(sb); !m.empty()) {
    *err = m;
    return nullptr;
  }
  if (device_blocks != 0 && sb.blocks > device_blocks) {
    *err = "the file system spans " + std::to_string(sb.blocks) + " blocks but the device has only " +
           std::to_string(device_blocks) + ": wrong device, or reformat it with rl-mkfs";
    return nullptr;
  }
  const uint32_t cache_blocks = std::max(init.cache_blocks ? init.cache_blocks : kDefaultCacheBlocks, kMinCacheBlocks);
  auto fs = std::make_unique<RlFs>(init, sb, cache_blocks);
  if (fs->mount(err) < 0) return nullptr;
  return fs;
}

}  // namespace rl::fs
