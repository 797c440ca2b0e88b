// rl-fsck's checker: a fresh rlfs and a tree written by the fs are clean;
// each corruption is reported by a check-only run (which writes nothing)
// and repaired by a repairing run, after which a check finds nothing.  The
// tree is built twice: by the fs itself (the layout users get) and by hand
// through the format (known inode and block numbers, no fs needed).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "domains/fs/disk.hpp"
#include "domains/fs/format.hpp"
#include "domains/fs/mkfs.hpp"
#include "domains/fs/mount.hpp"
#include "tools/fs/check.hpp"

namespace rl::fs {
namespace {

using namespace disk;
using Bytes = std::array<uint8_t, kBlockSize>;

// Raw access to the disk format, beneath the fs.
class Raw {
 public:
  explicit Raw(blk::BDev& d) : d_(d) {}

  Bytes get(uint64_t lba) {
    auto r = d_.read(lba, RRef<blk::Block>::make_aligned(kBlockSize));
    EXPECT_TRUE(r.ok() && r.value().status == 0) << "read " << lba;
    return r.value().buf->data;
  }
  void put(uint64_t lba, const Bytes& b) {
    auto blk = RRef<blk::Block>::make_aligned(kBlockSize);
    blk->data = b;
    auto r = d_.write(lba, blk);
    EXPECT_TRUE(r.ok() && r.value() == 0) << "write " << lba;
  }
  Superblock sb() {
    Superblock s;
    auto b = get(0);
    std::memcpy(&s, b.data(), sizeof s);
    return s;
  }
  Inode inode(uint64_t ino) {
    auto b = get(sb().inode_start + ino / kInodesPerBlock);
    Inode in;
    std::memcpy(&in, b.data() + (ino % kInodesPerBlock) * sizeof(Inode), sizeof in);
    return in;
  }
  void set_inode(uint64_t ino, const Inode& in) {
    const uint64_t lba = sb().inode_start + ino / kInodesPerBlock;
    auto b = get(lba);
    std::memcpy(b.data() + (ino % kInodesPerBlock) * sizeof(Inode), &in, sizeof in);
    put(lba, b);
  }
  bool bit(uint64_t blk) {
    auto b = get(sb().bitmap_start + blk / (kBlockSize * 8));
    return b[(blk % (kBlockSize * 8)) / 8] & (1u << (blk % 8));
  }
  void set_bit(uint64_t blk, bool on) {
    const uint64_t lba = sb().bitmap_start + blk / (kBlockSize * 8);
    auto b = get(lba);
    uint8_t& byte = b[(blk % (kBlockSize * 8)) / 8];
    byte = on ? byte | (1u << (blk % 8)) : byte & ~(1u << (blk % 8));
    put(lba, b);
  }

  struct Slot {
    uint64_t lba;
    uint32_t index;
  };
  // The entry `name` of directory `dir` (direct blocks: test trees are small).
  std::optional<Slot> find(uint64_t dir, const std::string& name) {
    Inode in = inode(dir);
    for (uint64_t i = 0; i < in.size / kBlockSize && i < kDirect; ++i) {
      if (in.direct[i] == 0) continue;
      auto b = get(in.direct[i]);
      for (uint32_t s = 0; s < kDirentsPerBlock; ++s) {
        Dirent d;
        std::memcpy(&d, b.data() + s * sizeof(Dirent), sizeof d);
        if (d.ino != 0 && std::string(d.name, d.name_len) == name) return Slot{in.direct[i], s};
      }
    }
    return std::nullopt;
  }
  Dirent dirent(Slot s) {
    Dirent d;
    auto b = get(s.lba);
    std::memcpy(&d, b.data() + s.index * sizeof(Dirent), sizeof d);
    return d;
  }
  void set_dirent(Slot s, const Dirent& d) {
    auto b = get(s.lba);
    std::memcpy(b.data() + s.index * sizeof(Dirent), &d, sizeof d);
    put(s.lba, b);
  }
  // The inode `path` names, 0 if none.
  uint64_t lookup(const std::string& path) {
    uint64_t ino = kRootIno;
    std::size_t pos = 1;
    while (pos < path.size()) {
      std::size_t end = path.find('/', pos);
      if (end == std::string::npos) end = path.size();
      auto s = find(ino, path.substr(pos, end - pos));
      if (!s) return 0;
      ino = dirent(*s).ino;
      pos = end + 1;
    }
    return ino;
  }
  uint64_t free_inode() {
    for (uint64_t i = 2; i < sb().inodes; ++i)
      if (inode(i).type == kFree) return i;
    return 0;
  }
  uint64_t free_block() {
    Superblock s = sb();
    for (uint64_t b = s.data_start; b < s.blocks; ++b)
      if (!bit(b)) return b;
    return 0;
  }

 private:
  blk::BDev& d_;
};

// Builds a tree by hand, as the fs would: inodes, blocks, bitmap, entries.
class Builder {
 public:
  explicit Builder(Raw& raw) : raw_(raw) {}

  uint64_t mkdir(uint64_t parent, const std::string& name) {
    const uint64_t ino = alloc(kDir);
    Inode in = raw_.inode(ino);
    in.nlink = 2;
    in.size = kBlockSize;
    in.direct[0] = static_cast<uint32_t>(block());
    raw_.set_inode(ino, in);
    link(ino, ".", ino, kDir);
    link(ino, "..", parent, kDir);
    link(parent, name, ino, kDir);
    Inode p = raw_.inode(parent);
    ++p.nlink;
    raw_.set_inode(parent, p);
    return ino;
  }
  // A file of `blocks` blocks; past kDirect they go through an indirect block.
  uint64_t file(uint64_t parent, const std::string& name, uint32_t blocks) {
    const uint64_t ino = alloc(kFile);
    Inode in = raw_.inode(ino);
    in.nlink = 1;
    in.size = uint64_t{blocks} * kBlockSize - 100;
    Bytes ind{};
    for (uint32_t i = 0; i < blocks; ++i) {
      const uint32_t b = static_cast<uint32_t>(block());
      if (i < kDirect) {
        in.direct[i] = b;
      } else {
        if (in.indirect == 0) in.indirect = static_cast<uint32_t>(block());
        std::memcpy(ind.data() + (i - kDirect) * 4, &b, 4);
      }
    }
    if (in.indirect) raw_.put(in.indirect, ind);
    raw_.set_inode(ino, in);
    link(parent, name, ino, kFile);
    return ino;
  }

 private:
  uint64_t alloc(uint16_t type) {
    const uint64_t ino = raw_.free_inode();
    Inode in{};
    in.type = type;
    in.mode = 0644;
    in.generation = raw_.inode(ino).generation + 1;
    raw_.set_inode(ino, in);
    return ino;
  }
  uint64_t block() {
    const uint64_t b = raw_.free_block();
    raw_.set_bit(b, true);
    raw_.put(b, Bytes{});
    return b;
  }
  void link(uint64_t dir, const std::string& name, uint64_t ino, uint16_t type) {
    Inode in = raw_.inode(dir);
    for (uint64_t i = 0; i < in.size / kBlockSize; ++i) {
      auto b = raw_.get(in.direct[i]);
      for (uint32_t s = 0; s < kDirentsPerBlock; ++s) {
        Dirent d;
        std::memcpy(&d, b.data() + s * sizeof(Dirent), sizeof d);
        if (d.ino != 0) continue;
        d = Dirent{};
        d.ino = static_cast<uint32_t>(ino);
        d.type = static_cast<uint8_t>(type);
        d.name_len = static_cast<uint16_t>(name.size());
        std::memcpy(d.name, name.data(), name.size());
        raw_.set_dirent({in.direct[i], s}, d);
        return;
      }
    }
    ADD_FAILURE() << "directory " << dir << " is full";
  }

  Raw& raw_;
};

// What users rely on, for every tree: the paths and their sizes.
constexpr uint32_t kBigBlocks = 20;   // past the direct pointers: an indirect block

class FsckTest : public testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string name = testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name)
      if (c == '/') c = '_';   // parameterized tests are "Name/0"
    path_ = testing::TempDir() + "rlfs-check-" + std::to_string(getpid()) + "-" + name + ".img";
    ::unlink(path_.c_str());
    std::string err;
    DiskOptions o;
    o.create_bytes = 16 << 20;
    disk_ = Disk::open(path_, o, &err);
    ASSERT_TRUE(disk_) << err;
    ASSERT_EQ(format(disk_->bdev(), FormatOptions{}, &err), 0) << err;
    raw_ = std::make_unique<Raw>(disk_->bdev());
  }
  void TearDown() override {
    raw_.reset();
    disk_.reset();
    ::unlink(path_.c_str());
  }

  CheckReport run(bool repair) {
    CheckOptions o;
    o.repair = repair;
    o.verbose = true;
    return check(disk_->bdev(), o);
  }
  static std::string dump(const CheckReport& r) {
    std::string s = r.fatal;
    for (const auto& f : r.findings) s += std::string("\n  [") + to_string(f.problem) + "] " + f.what;
    return s;
  }

  // /a, /a/b, /a/b/f (3 blocks), /a/big (an indirect block), /h (1 block).
  void tree() {
    if (std::string(GetParam()) == "fs") tree_by_fs();
    else tree_by_hand();
  }
  void tree_by_hand() {
    Builder b(*raw_);
    const uint64_t a = b.mkdir(kRootIno, "a");
    const uint64_t ab = b.mkdir(a, "b");
    b.file(ab, "f", 3);
    b.file(a, "big", kBigBlocks);
    b.file(kRootIno, "h", 1);
  }
  void tree_by_fs() {
    std::string err;
    auto m = Mount::open(*disk_, MountOptions{}, &err);
    ASSERT_TRUE(m) << err;
    auto path = [](const std::string& p) { return make_path(p); };
    ASSERT_EQ(*m->fs().mkdir(path("/a"), 0755), 0);
    ASSERT_EQ(*m->fs().mkdir(path("/a/b"), 0755), 0);
    auto put = [&](const std::string& p, uint32_t blocks) {
      auto a = m->fs().open(path(p), O_CREAT | O_RDWR, 0644);
      ASSERT_TRUE(a.ok());
      ASSERT_EQ(a->status, 0) << p;
      auto data = RRef<Data>::make();
      data->len = kDataBytes;
      std::memset(data->bytes.data(), 'x', kDataBytes);
      const uint64_t bytes = uint64_t{blocks} * kBlockSize - 100;
      for (uint64_t off = 0; off < bytes; off += kDataBytes) {
        data->len = static_cast<uint32_t>(std::min<uint64_t>(kDataBytes, bytes - off));
        ASSERT_EQ(*m->fs().write(a->attr.ino, off, data), static_cast<int32_t>(data->len)) << p;
      }
      ASSERT_EQ(*m->fs().release(a->attr.ino), 0);
    };
    put("/a/b/f", 3);
    put("/a/big", kBigBlocks);
    put("/h", 1);
    ASSERT_EQ(*m->fs().sync(), 0);
  }

  // A corruption is reported without repair (nothing written), repaired with
  // it, and a check afterwards is clean.
  void detected_and_repaired(Problem p) {
    auto before = run(false);
    EXPECT_TRUE(before.has(p)) << "expected " << to_string(p) << ", got:" << dump(before);
    EXPECT_EQ(before.exit_code(), 4) << dump(before);
    EXPECT_EQ(before.unrepaired(), before.findings.size());
    auto again = run(false);
    EXPECT_EQ(again.findings.size(), before.findings.size()) << "a check without repair writes nothing";
    auto fixed = run(true);
    EXPECT_TRUE(fixed.has(p)) << dump(fixed);
    EXPECT_EQ(fixed.exit_code(), 1) << dump(fixed);
    auto after = run(false);
    EXPECT_TRUE(after.clean()) << "after repair:" << dump(after);
    EXPECT_EQ(after.exit_code(), 0);
  }

  std::string path_;
  std::unique_ptr<Disk> disk_;
  std::unique_ptr<Raw> raw_;
};

TEST_P(FsckTest, FreshFileSystemIsClean) {
  auto r = run(false);
  EXPECT_TRUE(r.clean()) << dump(r);
  EXPECT_EQ(r.exit_code(), 0);
  EXPECT_EQ(r.inodes_used, 1u);
  EXPECT_EQ(r.dirs, 1u);
  EXPECT_EQ(r.blocks, 4096u);
  EXPECT_EQ(r.blocks_used, raw_->sb().data_start + 1) << "metadata and the root directory's block";
}

TEST_P(FsckTest, WrittenTreeIsClean) {
  tree();
  auto r = run(false);
  EXPECT_TRUE(r.clean()) << dump(r);
  EXPECT_EQ(r.files, 3u);
  EXPECT_EQ(r.dirs, 3u);
  EXPECT_GE(r.blocks_used, raw_->sb().data_start + 3 + 3 + kBigBlocks + 1 + 1);
  auto y = run(true);
  EXPECT_EQ(y.exit_code(), 0) << "repair of a clean fs changes nothing:" << dump(y);
}

TEST_P(FsckTest, BitmapBitCleared) {
  tree();
  const uint64_t b = raw_->inode(raw_->lookup("/h")).direct[0];
  ASSERT_TRUE(raw_->bit(b));
  raw_->set_bit(b, false);
  detected_and_repaired(Problem::Bitmap);
  EXPECT_TRUE(raw_->bit(b));
}

TEST_P(FsckTest, BitmapBitSet) {
  tree();
  const uint64_t b = raw_->sb().blocks - 1;
  ASSERT_FALSE(raw_->bit(b));
  raw_->set_bit(b, true);
  detected_and_repaired(Problem::Bitmap);
  EXPECT_FALSE(raw_->bit(b));
}

TEST_P(FsckTest, WrongLinkCount) {
  tree();
  const uint64_t a = raw_->lookup("/a");
  Inode in = raw_->inode(a);
  ASSERT_EQ(in.nlink, 3u) << "'.', its entry in / and b's '..'";
  in.nlink = 7;
  raw_->set_inode(a, in);
  detected_and_repaired(Problem::LinkCount);
  EXPECT_EQ(raw_->inode(a).nlink, 3u);
}

TEST_P(FsckTest, EntryToFreeInode) {
  tree();
  auto slot = raw_->find(kRootIno, "h");
  ASSERT_TRUE(slot);
  Dirent d = raw_->dirent(*slot);
  d.ino = static_cast<uint32_t>(raw_->free_inode());
  std::memcpy(d.name, "ghost", 6);
  d.name_len = 5;
  raw_->set_dirent({slot->lba, kDirentsPerBlock - 1}, d);
  detected_and_repaired(Problem::DirentToFree);
  EXPECT_EQ(raw_->lookup("/ghost"), 0u);
  EXPECT_NE(raw_->lookup("/h"), 0u);
}

TEST_P(FsckTest, BlockReferencedTwice) {
  tree();
  const uint64_t h = raw_->lookup("/h"), big = raw_->lookup("/a/big");
  Inode hi = raw_->inode(h), bi = raw_->inode(big);
  const uint32_t shared = hi.direct[0];
  bi.direct[5] = shared;   // big's own block 5 is now referenced by nothing
  raw_->set_inode(big, bi);
  detected_and_repaired(Problem::DuplicateBlock);
  // Exactly one of them keeps the block; the other lost the pointer.
  const bool h_has = raw_->inode(h).direct[0] == shared, big_has = raw_->inode(big).direct[5] == shared;
  EXPECT_NE(h_has, big_has);
  EXPECT_TRUE(raw_->bit(shared));
}

TEST_P(FsckTest, OrphanInodeIsFreed) {
  tree();
  const uint64_t h = raw_->lookup("/h");
  const uint32_t b = raw_->inode(h).direct[0];
  auto slot = raw_->find(kRootIno, "h");
  raw_->set_dirent(*slot, Dirent{});
  Inode in = raw_->inode(h);
  in.nlink = 0;   // unlinked while open, then a crash
  raw_->set_inode(h, in);
  auto crashed = run(false);
  EXPECT_TRUE(crashed.crash_consistent()) << "a crash leaves these by design:" << dump(crashed);
  detected_and_repaired(Problem::Orphan);
  EXPECT_EQ(raw_->inode(h).type, kFree);
  EXPECT_FALSE(raw_->bit(b)) << "its block is free again";
  EXPECT_EQ(raw_->lookup("/lost+found"), 0u) << "an orphan is freed, not reattached";
}

TEST_P(FsckTest, UnreachableFileGoesToLostFound) {
  tree();
  const uint64_t h = raw_->lookup("/h");
  raw_->set_dirent(*raw_->find(kRootIno, "h"), Dirent{});   // nlink stays 1
  EXPECT_FALSE(run(false).crash_consistent()) << "a lost name is damage, not a crash";
  detected_and_repaired(Problem::Unreachable);
  EXPECT_EQ(raw_->lookup("/lost+found/#" + std::to_string(h)), h);
  EXPECT_EQ(raw_->inode(h).nlink, 1u);
}

TEST_P(FsckTest, UnreachableDirectoryGoesToLostFound) {
  tree();
  const uint64_t a = raw_->lookup("/a"), ab = raw_->lookup("/a/b"), f = raw_->lookup("/a/b/f");
  raw_->set_dirent(*raw_->find(a, "b"), Dirent{});
  detected_and_repaired(Problem::Unreachable);
  const std::string moved = "/lost+found/#" + std::to_string(ab);
  EXPECT_EQ(raw_->lookup(moved), ab);
  EXPECT_EQ(raw_->lookup(moved + "/f"), f) << "its files come along";
  EXPECT_EQ(raw_->lookup(moved + "/.."), raw_->lookup("/lost+found")) << "'..' names its new parent";
  EXPECT_EQ(raw_->inode(a).nlink, 2u) << "a lost its subdirectory";
  EXPECT_EQ(raw_->inode(raw_->lookup("/lost+found")).nlink, 3u);
  EXPECT_EQ(raw_->inode(kRootIno).nlink, 4u) << "., .., a/.., lost+found/..";
}

TEST_P(FsckTest, BadSuperblockCrcIsReportedNotRepaired) {
  tree();
  auto b = raw_->get(0);
  b[offsetof(Superblock, created_ns)] ^= 0xff;
  raw_->put(0, b);
  auto r = run(false);
  EXPECT_TRUE(r.has(Problem::Superblock)) << dump(r);
  EXPECT_EQ(r.exit_code(), 4);
  auto y = run(true);
  EXPECT_TRUE(y.has(Problem::Superblock));
  EXPECT_EQ(y.exit_code(), 4) << "a superblock is never rewritten";
  EXPECT_EQ(raw_->get(0), b);
}

TEST_P(FsckTest, NoFileSystemIsAnOperationalError) {
  raw_->put(0, Bytes{});
  auto r = run(false);
  EXPECT_FALSE(r.fatal.empty());
  EXPECT_NE(r.fatal.find("rl-mkfs"), std::string::npos) << "says what to do: " << r.fatal;
  EXPECT_EQ(r.exit_code(), 8);
}

// A transaction committed in the log but not installed (a crash between the
// commit and the install): replayed, not an error.  Here the on-disk inode
// of /a has a wrong link count and the log carries the right one, so the
// check is clean only if it judges the replayed state.
TEST_P(FsckTest, CommittedLogIsReplayed) {
  tree();
  const Superblock sb = raw_->sb();
  const uint64_t a = raw_->lookup("/a");
  const uint64_t home = sb.inode_start + a / kInodesPerBlock;
  const Bytes good = raw_->get(home);
  Inode in = raw_->inode(a);
  in.nlink = 9;
  raw_->set_inode(a, in);

  LogHeader h{};
  h.magic = kLogMagic;
  h.count = 1;
  h.sequence = 42;
  h.home[0] = static_cast<uint32_t>(home);
  h.data_crc[0] = crc32c(good.data(), kBlockSize);
  h.crc = struct_crc(h);
  Bytes hb{};
  std::memcpy(hb.data(), &h, sizeof h);
  raw_->put(sb.log_start + 1, good);
  raw_->put(sb.log_start, hb);

  auto n = run(false);
  EXPECT_TRUE(n.clean()) << dump(n);
  EXPECT_TRUE(n.log_pending);
  EXPECT_EQ(n.log_replayed, 1u);
  EXPECT_EQ(raw_->inode(a).nlink, 9u) << "a check without repair writes nothing";

  auto y = run(true);
  EXPECT_TRUE(y.clean()) << dump(y);
  EXPECT_EQ(y.exit_code(), 0) << "a replay is recovery, not an error";
  EXPECT_EQ(y.log_replayed, 1u);
  EXPECT_EQ(raw_->inode(a).nlink, 3u);
  LogHeader after;
  auto ab = raw_->get(sb.log_start);
  std::memcpy(&after, ab.data(), sizeof after);
  EXPECT_EQ(after.count, 0u);
  EXPECT_EQ(after.crc, struct_crc(after));

  auto again = run(false);
  EXPECT_TRUE(again.clean());
  EXPECT_EQ(again.log_replayed, 0u) << "replayed once";
}

TEST_P(FsckTest, TornLogHeaderIsCleared) {
  tree();
  const Superblock sb = raw_->sb();
  const uint64_t a = raw_->lookup("/a");
  const uint64_t home = sb.inode_start + a / kInodesPerBlock;
  const Bytes before = raw_->get(home);
  Bytes junk{};
  junk.fill(0x5a);
  raw_->put(sb.log_start + 1, junk);
  LogHeader h{};
  h.magic = kLogMagic;
  h.count = 1;
  h.home[0] = static_cast<uint32_t>(home);
  h.data_crc[0] = crc32c(junk.data(), kBlockSize);
  h.crc = struct_crc(h) ^ 1;   // torn
  Bytes hb{};
  std::memcpy(hb.data(), &h, sizeof h);
  raw_->put(sb.log_start, hb);
  detected_and_repaired(Problem::LogHeader);
  EXPECT_EQ(raw_->get(home), before) << "a damaged header is never replayed";
}

// Whatever the damage to the metadata, one repair leaves a file system the
// next check finds clean (repairs converge) and the fs mounts.  Seeded:
// a failure is reproducible.
TEST_P(FsckTest, RandomDamageIsRepairedInOnePass) {
  tree();
  const Superblock sb = raw_->sb();
  std::vector<uint64_t> meta;   // the blocks whose damage fsck must handle
  for (uint64_t b = sb.inode_start; b < sb.inode_start + 2; ++b) meta.push_back(b);
  meta.push_back(sb.bitmap_start);
  for (const char* p : {"/", "/a", "/a/b"}) meta.push_back(raw_->inode(raw_->lookup(p)).direct[0]);
  meta.push_back(raw_->inode(raw_->lookup("/a/big")).indirect);
  const Bytes pristine_log = raw_->get(sb.log_start);
  std::vector<std::pair<uint64_t, Bytes>> saved;
  for (uint64_t b : meta) saved.emplace_back(b, raw_->get(b));
  uint64_t seed = 12345;
  auto rnd = [&] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return seed >> 33;
  };
  constexpr int kRounds = 200;
  int damaged = 0;   // rounds whose damage was found: most must be
  for (int round = 0; round < kRounds; ++round) {
    for (auto& [b, data] : saved) raw_->put(b, data);
    raw_->put(sb.log_start, pristine_log);
    // A few bytes of one or two blocks, in the live part (inodes, entries).
    for (int hits = 1 + static_cast<int>(rnd() % 2); hits > 0; --hits) {
      const uint64_t b = meta[rnd() % meta.size()];
      Bytes data = raw_->get(b);
      for (int n = 1 + static_cast<int>(rnd() % 6); n > 0; --n) {
        const std::size_t at = b == sb.inode_start ? 128 + rnd() % (5 * 128)   // inodes 1-5
                               : b == sb.bitmap_start ? (sb.data_start + rnd() % 64) / 8
                               : rnd() % 1024;
        data[at] ^= static_cast<uint8_t>(1u << (rnd() % 8));
      }
      raw_->put(b, data);
    }
    auto y = run(true);
    if (y.has(Problem::Root)) continue;   // the root itself: not repairable, rightly
    ASSERT_TRUE(y.fatal.empty()) << "round " << round << ": " << y.fatal;
    damaged += !y.findings.empty();
    if (round % 8 == 0) {
      std::string err;
      auto m = Mount::open(*disk_, MountOptions{}, &err);
      ASSERT_TRUE(m) << "round " << round << ": the repaired fs does not mount: " << err << dump(y);
    }
    auto n = run(false);
    ASSERT_TRUE(n.clean()) << "round " << round << ": first repair:" << dump(y) << "\nsecond check:" << dump(n);
  }
  EXPECT_GT(damaged, kRounds / 2);
}

TEST_P(FsckTest, RepairedFileSystemMounts) {
  tree();
  const uint64_t a = raw_->lookup("/a");
  raw_->set_dirent(*raw_->find(a, "b"), Dirent{});
  raw_->set_bit(raw_->sb().blocks - 1, true);
  auto y = run(true);
  EXPECT_EQ(y.exit_code(), 1) << dump(y);
  std::string err;
  auto m = Mount::open(*disk_, MountOptions{}, &err);
  ASSERT_TRUE(m) << err;
  auto st = m->fs().stat(make_path("/lost+found"));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->status, 0);
  EXPECT_EQ(st->attr.type, kTypeDir);
}

// What the fs leaves after a busy life -- a directory grown past its
// direct blocks, unlinks, renames, rmdir, truncation, a sparse file reaching
// the double indirect block, an unlinked file still open -- the checker
// agrees with: the fs's conventions and the checker's are the same.
class FsckFsOnlyTest : public FsckTest {};

TEST_P(FsckFsOnlyTest, BusyFileSystemIsClean) {
  std::string err;
  auto m = Mount::open(*disk_, MountOptions{}, &err);
  ASSERT_TRUE(m) << err;
  FileSystem& fs = m->fs();
  auto path = [](const std::string& p) { return make_path(p); };
  auto data = RRef<Data>::make();
  std::memset(data->bytes.data(), 'y', kDataBytes);
  auto create = [&](const std::string& p, uint64_t offset, uint32_t len) -> uint64_t {
    auto a = fs.open(path(p), O_CREAT | O_RDWR, 0644);
    EXPECT_TRUE(a.ok() && a->status == 0) << p;
    data->len = len;
    EXPECT_EQ(*fs.write(a->attr.ino, offset, data), static_cast<int32_t>(len)) << p;
    return a->attr.ino;
  };
  ASSERT_EQ(*fs.mkdir(path("/many"), 0755), 0);
  constexpr int kFiles = 250;   // 17 directory blocks: past the 12 direct ones
  for (int i = 0; i < kFiles; ++i) ASSERT_EQ(*fs.release(create("/many/f" + std::to_string(i), 0, 100)), 0);
  for (int i = 0; i < kFiles; i += 3) ASSERT_EQ(*fs.unlink(path("/many/f" + std::to_string(i))), 0);
  ASSERT_EQ(*fs.mkdir(path("/d1"), 0755), 0);
  ASSERT_EQ(*fs.mkdir(path("/d1/d2"), 0755), 0);
  ASSERT_EQ(*fs.mkdir(path("/gone"), 0755), 0);
  ASSERT_EQ(*fs.rmdir(path("/gone")), 0);
  ASSERT_EQ(*fs.rename(path("/many/f1"), path("/d1/d2/moved")), 0);
  ASSERT_EQ(*fs.rename(path("/d1/d2"), path("/many/d2")), 0);
  const uint64_t big = create("/big", 0, kDataBytes);
  for (uint64_t off = kDataBytes; off < 8 * kDataBytes; off += kDataBytes) {
    data->len = kDataBytes;
    ASSERT_EQ(*fs.write(big, off, data), static_cast<int32_t>(kDataBytes));
  }
  ASSERT_EQ(*fs.truncate(big, 5000), 0);
  ASSERT_EQ(*fs.release(big), 0);
  const uint64_t sparse = create("/sparse", 5'000'000, 4096);   // past kDirect + kPointersPerBlock blocks
  ASSERT_EQ(*fs.release(sparse), 0);
  const uint64_t open_unlinked = create("/tmpfile", 0, 9000);
  ASSERT_EQ(*fs.unlink(path("/tmpfile")), 0);
  ASSERT_EQ(*fs.sync(), 0);

  auto r = run(false);
  // The open, unlinked file is an orphan on disk until its release: by
  // design, what a crash now would leave.
  EXPECT_TRUE(r.crash_consistent()) << dump(r);
  ASSERT_EQ(*fs.release(open_unlinked), 0);
  ASSERT_EQ(*fs.sync(), 0);
  m.reset();
  r = run(false);
  EXPECT_TRUE(r.clean()) << dump(r);
  EXPECT_EQ(r.dirs, 4u) << "/, /many, /d1, /many/d2";
  EXPECT_EQ(r.files, static_cast<uint64_t>(kFiles - (kFiles + 2) / 3 + 2));
  EXPECT_EQ(raw_->inode(raw_->lookup("/many")).nlink, 3u);
}

INSTANTIATE_TEST_SUITE_P(Tree, FsckTest, testing::Values("hand", "fs"));
INSTANTIATE_TEST_SUITE_P(Tree, FsckFsOnlyTest, testing::Values("fs"));

}  // namespace
}  // namespace rl::fs
