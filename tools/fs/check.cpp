#include "tools/fs/check.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "domains/fs/format.hpp"
#include "idl/bdev.rl.hpp"

namespace rl::fs {

const char* to_string(Problem p) noexcept {
  switch (p) {
    case Problem::LogHeader: return "log-header";
    case Problem::Superblock: return "superblock";
    case Problem::InodeType: return "inode-type";
    case Problem::BadPointer: return "bad-pointer";
    case Problem::DuplicateBlock: return "duplicate-block";
    case Problem::BadSize: return "bad-size";
    case Problem::BadDirent: return "bad-dirent";
    case Problem::DirentToFree: return "dirent-to-free-inode";
    case Problem::DirentType: return "dirent-type";
    case Problem::DotEntries: return "dot-entries";
    case Problem::DirHardLink: return "directory-hard-link";
    case Problem::Unreachable: return "unreachable";
    case Problem::Orphan: return "orphan";
    case Problem::LinkCount: return "link-count";
    case Problem::Bitmap: return "bitmap";
    case Problem::Root: return "root";
    case Problem::NoSpace: return "no-space";
  }
  return "?";
}

std::size_t CheckReport::unrepaired() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(findings.begin(), findings.end(), [](const Finding& f) { return !f.repaired; }));
}

bool CheckReport::has(Problem p) const noexcept {
  return std::any_of(findings.begin(), findings.end(), [p](const Finding& f) { return f.problem == p; });
}

bool CheckReport::crash_consistent() const noexcept {
  return fatal.empty() &&
         std::all_of(findings.begin(), findings.end(), [](const Finding& f) { return f.problem == Problem::Orphan; });
}

int CheckReport::exit_code() const noexcept {
  if (!fatal.empty()) return 8;
  if (unrepaired() > 0) return 4;
  return findings.empty() ? 0 : 1;
}

namespace {

using namespace disk;
using Bytes = std::array<uint8_t, kBlockSize>;

// Bitmap reports list at most this many runs one by one: a wiped bitmap
// block would otherwise bury everything else.
constexpr std::size_t kMaxBitmapRuns = 16;
// How far path names are followed up the tree in messages (cycles stop it too).
constexpr int kMaxPathDepth = 64;

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Where a directory entry lives, to drop or rewrite it later.
struct EntryRef {
  uint64_t lba = 0;
  uint32_t slot = 0;
};

class Checker {
 public:
  Checker(blk::BDev& d, const CheckOptions& o, CheckReport& r) : disk_(d), opt_(o), rep_(r) {}

  void run() {
    if (!superblock()) return;
    if (!log()) return;
    if (failed()) return;
    if (!superblock_from_cache()) return;   // the log may have carried block 0
    if (!load_inodes()) return;
    if (!root_ok()) return;
    // Each pass with the number of findings it added, for -v.
    struct Pass {
      const char* name;
      void (Checker::*run)();
    };
    constexpr Pass kPasses[] = {{"pass 1 (inodes, block pointers)", &Checker::pass1_blocks},
                                {"pass 2 (directory entries)", &Checker::pass2_dirents},
                                {"pass 3 (directory tree)", &Checker::pass3_tree},
                                {"pass 4 (link counts)", &Checker::pass4_links},
                                {"pass 5 (block bitmap)", &Checker::pass5_bitmap}};
    for (const Pass& p : kPasses) {
      const std::size_t before = rep_.findings.size();
      (this->*p.run)();
      if (failed()) return;
      if (opt_.verbose) note(std::string(p.name) + ": " + std::to_string(rep_.findings.size() - before) + " finding(s)");
    }
    count();
    if (opt_.repair) write_back();
  }

 private:
  // ---- findings --------------------------------------------------------------

  bool failed() const { return !rep_.fatal.empty(); }
  void find(Problem p, std::string what) { rep_.findings.push_back({p, std::move(what), opt_.repair}); }
  void unfixable(Problem p, std::string what) { rep_.findings.push_back({p, std::move(what), false}); }
  void note(std::string what) { rep_.notes.push_back(std::move(what)); }
  const char* fix(const char* repaired, const char* would) const { return opt_.repair ? repaired : would; }

  // ---- blocks: a write-back cache over the device ----------------------------
  // Every block the check reads stays here; repairs edit the cached copy and
  // mark it dirty.  Without `repair` the edits are the checker's view of the
  // repaired file system (so one error does not cascade) and never written.

  Bytes* block(uint64_t lba) {
    auto it = cache_.find(lba);
    if (it != cache_.end()) return it->second.get();
    if (failed()) return nullptr;
    auto r = disk_.read(lba, RRef<blk::Block>::make_aligned(kBlockSize));
    if (!r.ok() || r.value().status != 0) {
      rep_.fatal = "cannot read block " + std::to_string(lba) + ": " +
                   (r.ok() ? std::string(std::strerror(-r.value().status)) : std::string(to_string(r.error())));
      return nullptr;
    }
    auto b = std::make_unique<Bytes>(r.value().buf->data);
    Bytes* p = b.get();
    cache_.emplace(lba, std::move(b));
    return p;
  }
  // A block the checker allocated: zeroed, not read.
  Bytes* fresh(uint64_t lba) {
    auto b = std::make_unique<Bytes>();
    b->fill(0);
    Bytes* p = b.get();
    cache_[lba] = std::move(b);
    dirty_.insert(lba);
    return p;
  }
  void dirty(uint64_t lba) { dirty_.insert(lba); }

  bool put(uint64_t lba, const Bytes& data) {
    auto b = RRef<blk::Block>::make_aligned(kBlockSize);
    b->data = data;
    auto r = disk_.write(lba, b);
    if (!r.ok() || r.value() != 0) {
      rep_.fatal = "cannot write block " + std::to_string(lba) + ": " +
                   (r.ok() ? std::string(std::strerror(-r.value())) : std::string(to_string(r.error())));
      for (auto& f : rep_.findings) f.repaired = false;   // not all of it reached the disk
      return false;
    }
    return true;
  }
  bool flush() {
    auto r = disk_.flush();
    if (!r.ok() || r.value() != 0) {
      rep_.fatal = "the device failed to flush: the repairs may not be durable";
      return false;
    }
    return true;
  }
  void write_back() {
    for (uint64_t lba : dirty_)
      if (!put(lba, *cache_.at(lba))) return;
    if (!dirty_.empty()) flush();
    dirty_.clear();
  }

  // ---- superblock --------------------------------------------------------------

  bool superblock() {
    auto info = disk_.info();
    if (!info.ok()) {
      rep_.fatal = std::string("the block device does not answer: ") + to_string(info.error());
      return false;
    }
    dev_blocks_ = info.value().blocks;
    return superblock_from_cache();
  }

  bool superblock_from_cache() {
    Bytes* b = block(0);
    if (!b) return false;
    std::memcpy(&sb_, b->data(), sizeof sb_);
    if (sb_.magic != kMagic) {
      rep_.fatal = "no rlfs on this device (block 0 has no rlfs superblock): format it with rl-mkfs";
      return false;
    }
    const std::string keep = " (rl-fsck does not rewrite a superblock: restore the image or reformat with rl-mkfs)";
    if (sb_.version != kVersion) {
      unfixable(Problem::Superblock, "superblock: format version " + std::to_string(sb_.version) +
                                         ", this rl-fsck checks version " + std::to_string(kVersion) + keep);
      return false;
    }
    if (struct_crc(sb_) != sb_.crc) {
      unfixable(Problem::Superblock, "superblock: CRC mismatch, the superblock is damaged" + keep);
      return false;
    }
    const Superblock want = layout(sb_.blocks, sb_.inodes);
    const bool geometry = sb_.block_size == kBlockSize && want.inodes == sb_.inodes &&
                          want.log_start == sb_.log_start && want.log_blocks == sb_.log_blocks &&
                          want.inode_start == sb_.inode_start && want.inode_blocks == sb_.inode_blocks &&
                          want.bitmap_start == sb_.bitmap_start && want.bitmap_blocks == sb_.bitmap_blocks &&
                          want.data_start == sb_.data_start && sb_.blocks >= kMinBlocks &&
                          sb_.blocks <= UINT32_MAX && sb_.data_start < sb_.blocks;
    if (!geometry) {
      unfixable(Problem::Superblock, "superblock: geometry does not match the rlfs layout for " +
                                         std::to_string(sb_.blocks) + " blocks and " + std::to_string(sb_.inodes) +
                                         " inodes" + keep);
      return false;
    }
    if (sb_.blocks > dev_blocks_) {
      unfixable(Problem::Superblock, "superblock: the file system has " + std::to_string(sb_.blocks) +
                                         " blocks but the device only " + std::to_string(dev_blocks_) +
                                         " (was the image truncated?)" + keep);
      return false;
    }
    return true;
  }

  // ---- log ---------------------------------------------------------------------

  void clear_log(const LogHeader& old) {
    LogHeader h{};
    h.magic = kLogMagic;
    h.sequence = old.sequence;
    h.crc = struct_crc(h);
    Bytes* b = block(sb_.log_start);
    b->fill(0);
    std::memcpy(b->data(), &h, sizeof h);
    dirty(sb_.log_start);
  }

  // Replays a committed transaction as a mount would.  With repair it is
  // written home and the header cleared, each step flushed, before anything
  // else is touched (the same order as the fs's own install); without, the
  // logged copies only replace the checker's view of their home blocks.
  bool log() {
    Bytes* b = block(sb_.log_start);
    if (!b) return false;
    LogHeader h;
    std::memcpy(&h, b->data(), sizeof h);
    if (std::all_of(b->begin(), b->end(), [](uint8_t x) { return x == 0; })) return true;
    std::string bad;
    if (h.magic != kLogMagic) bad = "bad magic";
    else if (struct_crc(h) != h.crc) bad = "CRC mismatch (a torn or damaged header)";
    else if (h.count > kLogMax) bad = "count " + std::to_string(h.count) + " > " + std::to_string(kLogMax);
    else
      for (uint32_t i = 0; i < h.count && bad.empty(); ++i)
        if (h.home[i] >= sb_.blocks || (h.home[i] >= sb_.log_start && h.home[i] < sb_.log_start + sb_.log_blocks))
          bad = "logged block " + std::to_string(i) + " belongs at block " + std::to_string(h.home[i]) +
                ", outside the file system or inside the log";
    if (!bad.empty()) {
      find(Problem::LogHeader, "log header at block " + std::to_string(sb_.log_start) + ": " + bad +
                                   fix("; cleared, nothing replayed", "; would be cleared, nothing replayed"));
      clear_log(h);
      return true;
    }
    if (h.count == 0) return true;
    std::vector<uint64_t> copies;
    for (uint32_t i = 0; i < h.count; ++i) {
      Bytes* c = block(sb_.log_start + 1 + i);
      if (!c) return false;
      if (crc32c(c->data(), kBlockSize) != h.data_crc[i]) {
        // The header was written after its blocks: a copy that does not
        // match means this transaction never committed.  A mount ignores it.
        note("the log holds a transaction that never committed (logged block " + std::to_string(i) +
             " does not match its CRC): ignored, as a mount does" + fix("; header cleared", ""));
        clear_log(h);
        if (!opt_.repair) return true;
        dirty_.erase(sb_.log_start);
        return put(sb_.log_start, *block(sb_.log_start)) && flush();
      }
    }
    for (uint32_t i = 0; i < h.count; ++i) {
      const Bytes copy = *block(sb_.log_start + 1 + i);
      auto it = cache_.find(h.home[i]);
      if (it == cache_.end()) it = cache_.emplace(h.home[i], std::make_unique<Bytes>()).first;
      *it->second = copy;
    }
    rep_.log_replayed = h.count;
    if (opt_.repair) {
      for (uint32_t i = 0; i < h.count; ++i)
        if (!put(h.home[i], *cache_.at(h.home[i]))) return false;
      if (!flush()) return false;
      clear_log(h);
      dirty_.erase(sb_.log_start);
      if (!put(sb_.log_start, *block(sb_.log_start)) || !flush()) return false;
      note("recovered the log: replayed a committed transaction of " + std::to_string(h.count) + " blocks");
    } else {
      rep_.log_pending = true;
      note("the log holds a committed transaction of " + std::to_string(h.count) +
           " blocks: checked as if replayed (a mount or rl-fsck -y replays it)");
    }
    return true;
  }

  // ---- inodes --------------------------------------------------------------------

  bool load_inodes() {
    for (uint64_t i = 0; i < sb_.inode_blocks; ++i)
      if (!block(sb_.inode_start + i)) return false;
    owner_.assign(sb_.blocks, 0);
    parent_.assign(sb_.inodes, 0);
    dotdot_.assign(sb_.inodes, EntryRef{});
    has_dotdot_.assign(sb_.inodes, false);
    link_.assign(sb_.inodes, EntryRef{});
    return true;
  }
  uint64_t inode_lba(uint64_t ino) const { return sb_.inode_start + ino / kInodesPerBlock; }
  Inode& inode(uint64_t ino) {
    Bytes* b = cache_.at(inode_lba(ino)).get();
    return reinterpret_cast<Inode*>(b->data())[ino % kInodesPerBlock];
  }
  void touch(uint64_t ino) { dirty(inode_lba(ino)); }
  bool allocated(uint64_t ino) { return ino > 0 && ino < sb_.inodes && inode(ino).type != kFree; }

  std::string where(uint64_t ino) {
    std::string path = path_of(ino);
    return "inode " + std::to_string(ino) + (path.empty() ? "" : " (" + path + ")");
  }
  // The path a directory entry gives `ino`, or "" when there is none.
  std::string path_of(uint64_t ino) {
    std::string path;
    for (int depth = 0; depth < kMaxPathDepth; ++depth) {
      if (ino == kRootIno) return path.empty() ? "/" : path;
      auto n = name_.find(ino);
      if (n == name_.end()) return "";
      path = "/" + n->second + path;
      ino = n->second.empty() ? 0 : name_parent_[ino];
    }
    return "";
  }

  bool root_ok() {
    if (inode(kRootIno).type == kDir) return true;
    unfixable(Problem::Root, "the root inode (1) is not a directory: the tree cannot be checked; "
                             "restore the image or reformat with rl-mkfs");
    return false;
  }

  // ---- pass 1: block pointers ----------------------------------------------------

  // Claims block `p` for `ino`; clears a pointer that is out of range or
  // names a block already claimed (the earlier inode keeps it).
  bool claim(uint64_t ino, uint32_t& p, uint64_t container, const char* role) {
    if (p == 0) return false;
    if (p < sb_.data_start || p >= sb_.blocks) {
      find(Problem::BadPointer, where(ino) + ": " + role + " pointer names block " + std::to_string(p) +
                                    ", outside the data area [" + std::to_string(sb_.data_start) + ", " +
                                    std::to_string(sb_.blocks) + ")" + fix("; cleared", "; would be cleared"));
    } else if (owner_[p] != 0) {
      find(Problem::DuplicateBlock, where(ino) + ": " + role + " block " + std::to_string(p) +
                                        " is also used by " + where(owner_[p]) +
                                        fix("; pointer cleared in this inode", "; would be cleared in this inode"));
    } else {
      owner_[p] = static_cast<uint32_t>(ino);
      return true;
    }
    p = 0;
    dirty(container);
    return false;
  }

  // A data block at `logical` past the end of the file: stale data a later
  // extension would expose.
  void data(uint64_t ino, uint32_t& p, uint64_t container, uint64_t logical, uint64_t limit, uint64_t& last) {
    if (!claim(ino, p, container, "data")) return;
    if (logical >= limit) {
      find(Problem::BadSize, where(ino) + ": block " + std::to_string(p) + " is mapped at file block " +
                                 std::to_string(logical) + ", past the end (size " +
                                 std::to_string(inode(ino).size) + ")" + fix("; freed", "; would be freed"));
      owner_[p] = 0;
      released_.insert(p);
      p = 0;
      dirty(container);
      return;
    }
    last = std::max(last, logical + 1);
  }

  // Walks an indirect block of data pointers starting at file block `first`.
  void indirect(uint64_t ino, uint32_t& p, uint64_t container, uint64_t first, uint64_t limit, uint64_t& last) {
    if (!claim(ino, p, container, "indirect")) return;
    const uint64_t lba = p;
    Bytes* b = block(lba);
    if (!b) return;
    auto* ptr = reinterpret_cast<uint32_t*>(b->data());
    for (uint32_t j = 0; j < kPointersPerBlock; ++j) data(ino, ptr[j], lba, first + j, limit, last);
  }

  void pass1_blocks() {
    for (uint64_t ino = 1; ino < sb_.inodes && !failed(); ++ino) {
      Inode& in = inode(ino);
      if (in.type == kFree) continue;
      if (in.type != kFile && in.type != kDir) {
        find(Problem::InodeType, "inode " + std::to_string(ino) + " has unknown type " + std::to_string(in.type) +
                                     fix("; freed", "; would be freed"));
        wipe(ino);
        continue;
      }
      const uint64_t reach = kMaxFileBlocks * kBlockSize;
      if (in.type == kDir && in.size % kBlockSize != 0) {
        find(Problem::BadSize, where(ino) + ": directory size " + std::to_string(in.size) +
                                   " is not a multiple of 4096" + fix("; rounded up", "; would be rounded up"));
        in.size = std::min(reach, (in.size + kBlockSize - 1) / kBlockSize * kBlockSize);
        touch(ino);
      }
      const bool size_ok = in.size <= reach;
      const uint64_t limit = size_ok ? (in.size + kBlockSize - 1) / kBlockSize : kMaxFileBlocks;
      const uint64_t lba = inode_lba(ino);
      uint64_t last = 0;
      for (uint32_t i = 0; i < kDirect; ++i) data(ino, in.direct[i], lba, i, limit, last);
      indirect(ino, in.indirect, lba, kDirect, limit, last);
      if (failed()) return;
      if (claim(ino, in.double_indirect, lba, "double indirect")) {
        const uint64_t dlba = in.double_indirect;
        Bytes* b = block(dlba);
        if (!b) return;
        auto* ptr = reinterpret_cast<uint32_t*>(b->data());
        for (uint32_t k = 0; k < kPointersPerBlock && !failed(); ++k)
          indirect(ino, ptr[k], dlba, kDirect + kPointersPerBlock + uint64_t{k} * kPointersPerBlock, limit, last);
      }
      if (!size_ok) {
        find(Problem::BadSize, where(ino) + ": size " + std::to_string(in.size) + " is beyond what an inode reaches" +
                                   fix("; set to its last block", "; would be set to its last block"));
        in.size = last * kBlockSize;
        touch(ino);
      }
    }
  }

  // Applies `f(pointer, container lba)` to every block pointer of `ino`,
  // indirect blocks included (after their entries).
  template <class F>
  void each_pointer(uint64_t ino, F&& f) {
    Inode& in = inode(ino);
    const uint64_t lba = inode_lba(ino);
    for (uint32_t i = 0; i < kDirect; ++i) f(in.direct[i], lba);
    auto walk_indirect = [&](uint32_t& p, uint64_t container) {
      if (p != 0 && p < sb_.blocks && owner_[p] == ino) {
        Bytes* b = block(p);
        if (!b) return;
        auto* ptr = reinterpret_cast<uint32_t*>(b->data());
        for (uint32_t j = 0; j < kPointersPerBlock; ++j) f(ptr[j], uint64_t{p});
      }
      f(p, container);
    };
    if (in.double_indirect != 0 && in.double_indirect < sb_.blocks && owner_[in.double_indirect] == ino) {
      const uint64_t d = in.double_indirect;
      Bytes* b = block(d);
      if (!b) return;
      auto* ptr = reinterpret_cast<uint32_t*>(b->data());
      for (uint32_t k = 0; k < kPointersPerBlock; ++k) walk_indirect(ptr[k], d);
    }
    f(in.double_indirect, lba);
    walk_indirect(in.indirect, lba);
  }

  // Frees inode `ino` and the blocks it owns (in the checker's map; the
  // bitmap pass then clears their bits).
  void free_inode(uint64_t ino) {
    each_pointer(ino, [&](uint32_t& p, uint64_t) {
      if (p != 0 && p < sb_.blocks && owner_[p] == ino) {
        owner_[p] = 0;
        released_.insert(p);
      }
    });
    wipe(ino);
  }
  void wipe(uint64_t ino) {
    Inode& in = inode(ino);
    const uint32_t gen = in.generation;   // kept: the next allocation bumps it
    in = Inode{};
    in.generation = gen;
    touch(ino);
  }

  // The device block holding file block `logical` of `ino`, 0 for a hole.
  uint64_t map(uint64_t ino, uint64_t logical) {
    Inode& in = inode(ino);
    if (logical < kDirect) return in.direct[logical];
    logical -= kDirect;
    auto entry = [&](uint32_t p, uint64_t i) -> uint32_t {
      if (p == 0) return 0;
      Bytes* b = block(p);
      return b ? reinterpret_cast<uint32_t*>(b->data())[i] : 0;
    };
    if (logical < kPointersPerBlock) return entry(in.indirect, logical);
    logical -= kPointersPerBlock;
    return entry(entry(in.double_indirect, logical / kPointersPerBlock), logical % kPointersPerBlock);
  }

  // ---- pass 2: directory entries ---------------------------------------------------

  Dirent& dirent(const EntryRef& e) { return reinterpret_cast<Dirent*>(cache_.at(e.lba)->data())[e.slot]; }
  void drop(const EntryRef& e) {
    dirent(e) = Dirent{};
    dirty(e.lba);
  }
  static std::string name_of(const Dirent& d) { return std::string(d.name, std::min<uint32_t>(d.name_len, kNameMax)); }

  // Calls f(EntryRef, Dirent&) for each used entry of directory `dir`.
  template <class F>
  void each_entry(uint64_t dir, F&& f) {
    const uint64_t nblocks = inode(dir).size / kBlockSize;
    for (uint64_t i = 0; i < nblocks && !failed(); ++i) {
      const uint64_t lba = map(dir, i);
      if (lba == 0 || lba >= sb_.blocks || owner_[lba] != dir) continue;   // a hole: no entries
      Bytes* b = block(lba);
      if (!b) return;
      for (uint32_t s = 0; s < kDirentsPerBlock; ++s) {
        Dirent& d = reinterpret_cast<Dirent*>(b->data())[s];
        if (d.ino != 0) f(EntryRef{lba, s}, d);
      }
    }
  }

  void pass2_dirents() {
    parent_[kRootIno] = kRootIno;   // an entry naming the root is a second link to it
    for (uint64_t dir = 1; dir < sb_.inodes && !failed(); ++dir) {
      if (inode(dir).type != kDir) continue;
      bool dot = false;
      std::set<std::string> names;
      each_entry(dir, [&](EntryRef ref, Dirent& d) {
        auto here = [&] { return "directory " + where(dir) + ": entry"; };   // only for findings
        const std::string name = name_of(d);
        const bool name_ok = d.name_len >= 1 && d.name_len <= kNameMax &&
                             name.find('\0') == std::string::npos && name.find('/') == std::string::npos;
        if (!name_ok) {
          find(Problem::BadDirent, here() + " in slot " + std::to_string(ref.slot) + " of block " +
                                       std::to_string(ref.lba) + " has an invalid name (length " +
                                       std::to_string(d.name_len) + ")" + fix("; removed", "; would be removed"));
          return drop(ref);
        }
        const std::string quoted = " '" + name + "'";
        if (d.ino >= sb_.inodes) {
          find(Problem::BadDirent, here() + quoted + " names inode " + std::to_string(d.ino) + ", beyond the " +
                                       std::to_string(sb_.inodes) + " the table holds" +
                                       fix("; removed", "; would be removed"));
          return drop(ref);
        }
        Inode& target = inode(d.ino);
        if (target.type == kFree) {
          find(Problem::DirentToFree, here() + quoted + " names free inode " + std::to_string(d.ino) +
                                          fix("; removed", "; would be removed"));
          return drop(ref);
        }
        if (!names.insert(name).second) {
          find(Problem::BadDirent, here() + quoted + " appears twice" + fix("; second removed", "; would be removed"));
          return drop(ref);
        }
        if (d.type != target.type) {
          find(Problem::DirentType, here() + quoted + " says type " + std::to_string(d.type) + ", inode " +
                                        std::to_string(d.ino) + " is type " + std::to_string(target.type) +
                                        fix("; corrected", "; would be corrected"));
          d.type = static_cast<uint8_t>(target.type);
          dirty(ref.lba);
        }
        if (name == ".") {
          if (d.ino != dir) {
            find(Problem::DotEntries, here() + " '.' names inode " + std::to_string(d.ino) + ", not itself" +
                                          fix("; corrected", "; would be corrected"));
            d.ino = static_cast<uint32_t>(dir);
            d.type = kDir;
            dirty(ref.lba);
          }
          dot = true;
          return;
        }
        if (name == "..") {
          if (target.type != kDir) {
            find(Problem::DotEntries, here() + " '..' names a file" + fix("; removed", "; would be removed"));
            return drop(ref);
          }
          dotdot_[dir] = ref;
          has_dotdot_[dir] = true;
          return;
        }
        if (target.type == kDir) {
          if (parent_[d.ino] != 0) {
            find(Problem::DirHardLink, here() + quoted + " is a second link to directory " + where(d.ino) +
                                           fix("; removed", "; would be removed"));
            return drop(ref);
          }
          parent_[d.ino] = static_cast<uint32_t>(dir);
          link_[d.ino] = ref;
        }
        if (!name_.count(d.ino)) {
          name_[d.ino] = name;
          name_parent_[d.ino] = dir;
        }
      });
      if (!dot && !failed()) {
        find(Problem::DotEntries, "directory " + where(dir) + " has no '.' entry" + fix("; added", "; would be added"));
        add_entry(dir, ".", dir, kDir);
      }
    }
  }

  // ---- allocation for repairs -----------------------------------------------------

  uint64_t alloc_block(uint64_t ino) {
    for (; next_block_ < sb_.blocks; ++next_block_)
      if (next_block_ >= sb_.data_start && owner_[next_block_] == 0) {
        owner_[next_block_] = static_cast<uint32_t>(ino);
        fresh(next_block_);
        return next_block_++;
      }
    return 0;
  }
  uint64_t alloc_inode() {
    for (uint64_t ino = kRootIno + 1; ino < sb_.inodes; ++ino)
      if (inode(ino).type == kFree) return ino;
    return 0;
  }

  // Adds an entry to `dir`: a free slot, or a new direct block.
  bool add_entry(uint64_t dir, const std::string& name, uint64_t ino, uint16_t type) {
    EntryRef slot{};
    bool found = false;
    const uint64_t nblocks = inode(dir).size / kBlockSize;
    for (uint64_t i = 0; i < nblocks && !found; ++i) {
      const uint64_t lba = map(dir, i);
      if (lba == 0 || lba >= sb_.blocks || owner_[lba] != dir) continue;
      Bytes* b = block(lba);
      if (!b) return false;
      for (uint32_t s = 0; s < kDirentsPerBlock && !found; ++s)
        if (reinterpret_cast<Dirent*>(b->data())[s].ino == 0) {
          slot = {lba, s};
          found = true;
        }
    }
    if (!found) {
      // A new block: in the first direct hole (a damaged pointer that was
      // cleared), else appended.
      Inode& in = inode(dir);
      uint64_t n = 0;
      while (n < nblocks && n < kDirect && in.direct[n] != 0) ++n;
      uint64_t lba = 0;
      if (n < kDirect && (lba = alloc_block(dir)) != 0) {
        in.direct[n] = static_cast<uint32_t>(lba);
        in.size = std::max(in.size, (n + 1) * kBlockSize);
        touch(dir);
        slot = {lba, 0};
      } else {
        unfixable(Problem::NoSpace, "cannot add '" + name + "' to directory " + where(dir) +
                                        ": no free slot and no room for another block");
        return false;
      }
    }
    Dirent& d = dirent(slot);
    d = Dirent{};
    d.ino = static_cast<uint32_t>(ino);
    d.type = static_cast<uint8_t>(type);
    d.name_len = static_cast<uint16_t>(name.size());
    std::memcpy(d.name, name.data(), name.size());
    dirty(slot.lba);
    if (name == "..") {
      dotdot_[dir] = slot;
      has_dotdot_[dir] = true;
    } else if (name != ".") {
      if (type == kDir) link_[ino] = slot;
      name_[ino] = name;
      name_parent_[ino] = dir;
    }
    return true;
  }

  // /lost+found, created on first use.
  uint64_t lost_found() {
    if (lost_found_ != 0) return lost_found_;
    uint64_t found = 0;
    bool file = false;
    each_entry(kRootIno, [&](EntryRef, Dirent& d) {
      if (name_of(d) == "lost+found") {
        if (inode(d.ino).type == kDir) found = d.ino;
        else file = true;
      }
    });
    if (found) return lost_found_ = found;
    if (file) {
      unfixable(Problem::NoSpace, "/lost+found is not a directory: rename it so rl-fsck can reattach files");
      return 0;
    }
    const uint64_t ino = alloc_inode();
    if (ino == 0) {
      unfixable(Problem::NoSpace, "no free inode to create /lost+found");
      return 0;
    }
    const uint64_t lba = alloc_block(ino);
    if (lba == 0) {
      unfixable(Problem::NoSpace, "no free block to create /lost+found");
      return 0;
    }
    Inode& in = inode(ino);
    const uint32_t gen = in.generation + 1;
    in = Inode{};
    in.type = kDir;
    in.nlink = 2;
    in.mode = 0700;
    in.generation = gen;
    in.size = kBlockSize;
    in.mtime_ns = in.ctime_ns = now_ns();
    in.direct[0] = static_cast<uint32_t>(lba);
    touch(ino);
    add_entry(ino, ".", ino, kDir);
    add_entry(ino, "..", kRootIno, kDir);
    if (!add_entry(kRootIno, "lost+found", ino, kDir)) {
      free_inode(ino);
      return 0;
    }
    parent_[ino] = kRootIno;
    ++inode(kRootIno).nlink;   // lost+found's ".."
    touch(kRootIno);
    note(std::string(fix("created", "would create")) + " /lost+found (inode " + std::to_string(ino) + ")");
    return lost_found_ = ino;
  }

  // Gives `ino` an entry "#ino" in /lost+found.
  bool reattach(uint64_t ino) {
    const uint64_t lf = lost_found();
    if (lf == 0) return false;
    const uint16_t type = inode(ino).type;
    if (!add_entry(lf, "#" + std::to_string(ino), ino, type)) return false;
    if (type == kDir) {
      parent_[ino] = static_cast<uint32_t>(lf);
      ++inode(lf).nlink;   // the reattached directory's ".." names it
      touch(lf);
    }
    return true;
  }

  // ---- pass 3: the directory tree -----------------------------------------------------

  std::vector<bool> reachable() {
    std::vector<std::vector<uint32_t>> children(sb_.inodes);
    for (uint64_t d = 2; d < sb_.inodes; ++d)
      if (parent_[d] != 0 && inode(d).type == kDir) children[parent_[d]].push_back(static_cast<uint32_t>(d));
    std::vector<bool> seen(sb_.inodes, false);
    std::vector<uint32_t> todo{static_cast<uint32_t>(kRootIno)};
    seen[kRootIno] = true;
    while (!todo.empty()) {
      const uint32_t d = todo.back();
      todo.pop_back();
      for (uint32_t c : children[d])
        if (!seen[c]) {
          seen[c] = true;
          todo.push_back(c);
        }
    }
    return seen;
  }

  bool empty_dir(uint64_t dir) {
    bool empty = true;
    each_entry(dir, [&](EntryRef, Dirent& d) {
      const std::string n = name_of(d);
      if (n != "." && n != "..") empty = false;
    });
    return empty;
  }

  void pass3_tree() {
    auto seen = reachable();
    for (uint64_t d = 2; d < sb_.inodes && !failed(); ++d) {
      if (inode(d).type != kDir || seen[d]) continue;
      // Climb to the top of the detached subtree; a cycle is cut at `d`.
      uint64_t top = d;
      std::set<uint64_t> path{d};
      while (parent_[top] != 0 && !path.count(parent_[top])) {
        top = parent_[top];
        path.insert(top);
      }
      if (parent_[top] != 0) {   // a cycle: cut d's entry in its parent
        top = d;
        drop(link_[d]);
        parent_[d] = 0;
      }
      if (inode(top).nlink == 0 && empty_dir(top)) {
        find(Problem::Orphan, "directory inode " + std::to_string(top) + " has no links and no entries" +
                                  fix("; freed", "; would be freed"));
        free_inode(top);
      } else {
        find(Problem::Unreachable, "directory inode " + std::to_string(top) + " is not reachable from the root" +
                                       fix("; reattached as /lost+found/#", "; would be reattached as /lost+found/#") +
                                       std::to_string(top));
        if (!reattach(top)) return;
      }
      seen = reachable();
    }
    // ".." of every directory names its parent (the root's itself).
    for (uint64_t d = 1; d < sb_.inodes && !failed(); ++d) {
      if (inode(d).type != kDir) continue;
      const uint64_t parent = d == kRootIno ? kRootIno : parent_[d];
      if (parent == 0) continue;
      if (!has_dotdot_[d]) {
        find(Problem::DotEntries, "directory " + where(d) + " has no '..' entry" + fix("; added", "; would be added"));
        add_entry(d, "..", parent, kDir);
      } else if (dirent(dotdot_[d]).ino != parent) {
        find(Problem::DotEntries, "directory " + where(d) + ": '..' names inode " +
                                      std::to_string(dirent(dotdot_[d]).ino) + ", its parent is inode " +
                                      std::to_string(parent) + fix("; corrected", "; would be corrected"));
        dirent(dotdot_[d]).ino = static_cast<uint32_t>(parent);
        dirty(dotdot_[d].lba);
      }
    }
  }

  // ---- pass 4: files and link counts --------------------------------------------------

  std::vector<uint32_t> references() {
    std::vector<uint32_t> refs(sb_.inodes, 0);
    for (uint64_t d = 1; d < sb_.inodes && !failed(); ++d)
      if (inode(d).type == kDir)
        each_entry(d, [&](EntryRef, Dirent& e) {
          if (e.ino < sb_.inodes) ++refs[e.ino];
        });
    return refs;
  }

  void pass4_links() {
    auto refs = references();
    for (uint64_t ino = 2; ino < sb_.inodes && !failed(); ++ino) {
      Inode& in = inode(ino);
      if (in.type != kFile || refs[ino] != 0) continue;
      if (in.nlink == 0) {
        find(Problem::Orphan, "file inode " + std::to_string(ino) + " (" + std::to_string(in.size) +
                                  " bytes) has no links and no entries" + fix("; freed", "; would be freed"));
        free_inode(ino);
      } else {
        find(Problem::Unreachable, "file inode " + std::to_string(ino) + " (" + std::to_string(in.size) +
                                       " bytes) has no directory entry" +
                                       fix("; reattached as /lost+found/#", "; would be reattached as /lost+found/#") +
                                       std::to_string(ino));
        if (!reattach(ino)) return;
      }
    }
    if (failed()) return;
    refs = references();
    for (uint64_t ino = 1; ino < sb_.inodes && !failed(); ++ino) {
      Inode& in = inode(ino);
      if (in.type == kFree || in.nlink == refs[ino]) continue;
      find(Problem::LinkCount, where(ino) + ": link count " + std::to_string(in.nlink) + ", " +
                                   std::to_string(refs[ino]) + " entries name it" +
                                   fix("; corrected", "; would be corrected"));
      in.nlink = refs[ino];
      touch(ino);
    }
  }

  // ---- pass 5: the block bitmap ---------------------------------------------------------

  void pass5_bitmap() {
    for (uint64_t i = 0; i < sb_.bitmap_blocks; ++i)
      if (!block(sb_.bitmap_start + i)) return;
    const uint64_t per = uint64_t{kBlockSize} * 8;
    auto bit = [&](uint64_t b) -> uint8_t& { return (*cache_.at(sb_.bitmap_start + b / per))[(b % per) / 8]; };
    // What is wrong with block b's bit.  A block this check freed (an
    // orphan's, one past the end of a file) was reported with its inode:
    // its bit is fixed without a finding of its own.
    enum State { kOk, kUnmarked, kUnused, kReleased };
    auto state = [&](uint64_t b) {
      const bool want = b < sb_.data_start || owner_[b] != 0;
      const bool have = bit(b) & (1u << (b % 8));
      if (want == have) return kOk;
      if (want) return kUnmarked;
      return released_.count(b) ? kReleased : kUnused;
    };
    std::size_t runs = 0, more = 0;
    uint64_t b = 0;
    while (b < sb_.blocks) {
      const State st = state(b);
      if (st == kOk) {
        ++b;
        continue;
      }
      uint64_t e = b;
      for (; e < sb_.blocks && state(e) == st; ++e) {
        if (st == kUnmarked) bit(e) |= static_cast<uint8_t>(1u << (e % 8));
        else bit(e) &= static_cast<uint8_t>(~(1u << (e % 8)));
        dirty(sb_.bitmap_start + e / per);
      }
      const std::string range = e - b == 1 ? "block " + std::to_string(b)
                                           : "blocks " + std::to_string(b) + "-" + std::to_string(e - 1);
      if (st == kReleased) {
      } else if (runs++ < kMaxBitmapRuns) {
        find(Problem::Bitmap, "bitmap: " + range +
                                  (st == kUnmarked ? " in use but marked free" : " marked in use but used by nothing") +
                                  fix("; corrected", "; would be corrected"));
      } else {
        more += e - b;
      }
      b = e;
    }
    if (more > 0)
      find(Problem::Bitmap, "bitmap: " + std::to_string(more) + " more blocks wrong in " +
                                std::to_string(runs - kMaxBitmapRuns) + " more ranges" +
                                fix("; corrected", "; would be corrected"));
  }

  void count() {
    rep_.blocks = sb_.blocks;
    rep_.inodes = sb_.inodes - 1;
    for (uint64_t b = 0; b < sb_.blocks; ++b) rep_.blocks_used += b < sb_.data_start || owner_[b] != 0;
    for (uint64_t ino = 1; ino < sb_.inodes; ++ino) {
      const uint16_t t = inode(ino).type;
      rep_.inodes_used += t != kFree;
      rep_.files += t == kFile;
      rep_.dirs += t == kDir;
    }
  }

  blk::BDev& disk_;
  const CheckOptions& opt_;
  CheckReport& rep_;
  uint64_t dev_blocks_ = 0;
  Superblock sb_{};
  std::unordered_map<uint64_t, std::unique_ptr<Bytes>> cache_;
  std::set<uint64_t> dirty_;            // ordered: written back in block order
  std::vector<uint32_t> owner_;         // per block: the inode using it, 0 = none
  std::vector<uint32_t> parent_;        // per directory: the directory whose entry names it
  std::vector<EntryRef> link_;          // per directory: that entry
  std::vector<EntryRef> dotdot_;        // per directory: its ".." entry
  std::vector<bool> has_dotdot_;
  std::unordered_map<uint64_t, std::string> name_;          // an entry's name per inode, for messages
  std::unordered_map<uint64_t, uint64_t> name_parent_;      // the directory holding that entry
  std::set<uint64_t> released_;        // blocks this check freed, with the finding that did
  uint64_t next_block_ = 0;
  uint64_t lost_found_ = 0;
};

}  // namespace

CheckReport check(blk::BDev& disk, const CheckOptions& o) {
  CheckReport r;
  Checker(disk, o, r).run();
  return r;
}

}  // namespace rl::fs
