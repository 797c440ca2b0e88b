// The file system domain (domains/fs): data read back as written (small,
// multi-block, sparse, through the double-indirect block, sequentially past
// uncommitted writes), truncate, the namespace calls with Linux's errnos,
// readdir, ENOSPC and the space that comes back, remounts, group commit, a
// crash at every write of a commit, unlinked-but-open files, generations
// that a crash cannot make repeat, a damaged superblock and an I/O error.
//
// Most tests run both through the fs.so domain and with the same code
// linked in ("direct"), over the membdev driver behind the block shadow.
#include <gtest/gtest.h>

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "domains/fs/disk.hpp"
#include "domains/fs/format.hpp"
#include "domains/fs/mkfs.hpp"
#include "domains/fs/mount.hpp"

namespace rl::fs {
namespace {

// ---- helpers ---------------------------------------------------------------------

RRef<Path> P(const std::string& s) { return make_path(s); }

std::string pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// A device formatted with rlfs and mounted; `remount()` unmounts and mounts again.
struct Vol {
  std::unique_ptr<Disk> disk;
  std::unique_ptr<Mount> mount;
  MountOptions opts;

  explicit Vol(uint64_t blocks, MountOptions o = {}, uint64_t inodes = 0) : opts(o) {
    std::string err;
    disk = Disk::open("sim:ram,blocks=" + std::to_string(blocks), DiskOptions{}, &err);
    if (!disk) {
      ADD_FAILURE() << err;
      return;
    }
    FormatOptions fo;
    fo.inodes = inodes;
    if (format(disk->bdev(), fo, &err) != 0) ADD_FAILURE() << "format: " << err;
    if (opts.cache_blocks == 0) opts.cache_blocks = 1024;
    mount = Mount::open(*disk, opts, &err);
    if (!mount) ADD_FAILURE() << "mount: " << err;
  }
  void remount(MountOptions o) {
    mount.reset();
    std::string err;
    mount = Mount::open(*disk, o, &err);
    ASSERT_TRUE(mount) << err;
  }
  void remount() { remount(opts); }
  FileSystem& fs() { return mount->fs(); }

  // Each unwraps the RpcResult; a failed call is a test failure and -1000.
  AttrResult open(const std::string& p, uint32_t flags, uint32_t mode = 0644) {
    auto r = fs().open(P(p), flags, mode);
    if (!r.ok()) {
      ADD_FAILURE() << "open " << p << ": " << to_string(r.error());
      return AttrResult{-1000, {}};
    }
    return r.value();
  }
  int open_status(const std::string& p, uint32_t flags) {
    auto a = open(p, flags);
    if (a.status == 0) release(a.attr.ino);
    return a.status;
  }
  int release(uint64_t ino) { return unwrap(fs().release(ino)); }
  int write(uint64_t ino, uint64_t off, const std::string& s) {
    auto d = RRef<Data>::make();
    std::memcpy(d->bytes.data(), s.data(), s.size());
    d->len = static_cast<uint32_t>(s.size());
    return unwrap(fs().write(ino, off, d));
  }
  // Writes any amount, 64 KiB per call.
  void write_all(uint64_t ino, uint64_t off, const std::string& s) {
    for (size_t done = 0; done < s.size();) {
      size_t n = std::min<size_t>(s.size() - done, kDataBytes);
      int r = write(ino, off + done, s.substr(done, n));
      ASSERT_EQ(r, static_cast<int>(n)) << "at " << off + done;
      done += n;
    }
  }
  // Reads up to n bytes; *status gets the read's status.
  std::string read(uint64_t ino, uint64_t off, size_t n, int* status = nullptr) {
    std::string out;
    while (out.size() < n) {
      auto d = RRef<Data>::make();
      d->len = static_cast<uint32_t>(std::min<size_t>(n - out.size(), kDataBytes));
      auto r = fs().read(ino, off + out.size(), std::move(d));
      if (!r.ok()) {
        ADD_FAILURE() << "read: " << to_string(r.error());
        break;
      }
      if (status) *status = r.value()->status;
      if (r.value()->status <= 0) break;
      out.append(reinterpret_cast<const char*>(r.value()->bytes.data()), r.value()->status);
    }
    return out;
  }
  AttrResult stat(const std::string& p) {
    auto r = fs().stat(P(p));
    if (!r.ok()) return AttrResult{-1000, {}};
    return r.value();
  }
  int mkdir(const std::string& p) { return unwrap(fs().mkdir(P(p), 0755)); }
  int rmdir(const std::string& p) { return unwrap(fs().rmdir(P(p))); }
  int unlink(const std::string& p) { return unwrap(fs().unlink(P(p))); }
  int rename(const std::string& a, const std::string& b) { return unwrap(fs().rename(P(a), P(b))); }
  int sync() { return unwrap(fs().sync()); }
  int truncate(uint64_t ino, uint64_t size) { return unwrap(fs().truncate(ino, size)); }
  FsStats statfs() {
    auto r = fs().statfs();
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : FsStats{};
  }
  // Creates (or replaces) a whole file.
  void put(const std::string& p, const std::string& data) {
    auto a = open(p, O_CREAT | O_WRONLY | O_TRUNC);
    ASSERT_EQ(a.status, 0) << p;
    write_all(a.attr.ino, 0, data);
    EXPECT_EQ(release(a.attr.ino), 0);
  }
  std::string get(const std::string& p, int* status = nullptr) {
    auto a = open(p, O_RDONLY);
    if (status) *status = a.status;
    if (a.status != 0) return {};
    std::string s = read(a.attr.ino, 0, a.attr.size + 1);
    release(a.attr.ino);
    return s;
  }
  // Names in a directory (without "." and ".."), all pages.
  std::vector<std::string> list(const std::string& p, bool with_dots = false) {
    std::vector<std::string> names;
    auto a = open(p, O_RDONLY | O_DIRECTORY);
    EXPECT_EQ(a.status, 0) << p;
    if (a.status != 0) return names;
    uint64_t cookie = 0;
    for (int pages = 0; pages < 1000; ++pages) {
      auto r = fs().readdir(a.attr.ino, cookie, RRef<DirPage>::make());
      EXPECT_TRUE(r.ok());
      if (!r.ok()) break;
      EXPECT_EQ(r.value()->status, 0);
      for (uint32_t i = 0; i < r.value()->count; ++i) {
        std::string n(r.value()->entries[i].name.data(), r.value()->entries[i].name_len);
        if (with_dots || (n != "." && n != "..")) names.push_back(n);
      }
      cookie = r.value()->next;
      if (cookie == 0) break;
    }
    release(a.attr.ino);
    return names;
  }

  static int unwrap(RpcResult<int32_t> r) {
    if (!r.ok()) {
      ADD_FAILURE() << "call failed: " << to_string(r.error());
      return -1000;
    }
    return r.value();
  }
};

constexpr uint64_t kDiskBlocks = 8192;   // 32 MiB

class FsTest : public ::testing::TestWithParam<const char*> {
 protected:
  MountOptions opts() {
    MountOptions o;
    o.through = GetParam();
    return o;
  }
};

// ---- data ------------------------------------------------------------------------

TEST_P(FsTest, WritesReadBackSmallMultiBlockAndUnaligned) {
  Vol v(kDiskBlocks, opts());
  auto a = v.open("/hello", O_CREAT | O_RDWR, 0640);
  ASSERT_EQ(a.status, 0);
  EXPECT_EQ(a.attr.type, kTypeFile);
  EXPECT_EQ(a.attr.mode, 0640u);
  EXPECT_EQ(a.attr.nlink, 1u);
  EXPECT_EQ(a.attr.size, 0u);
  EXPECT_EQ(v.write(a.attr.ino, 0, "hello, world"), 12);
  EXPECT_EQ(v.read(a.attr.ino, 0, 100), "hello, world");
  EXPECT_EQ(v.read(a.attr.ino, 7, 3), "wor");
  int st = 1;
  EXPECT_EQ(v.read(a.attr.ino, 12, 10, &st), "");
  EXPECT_EQ(st, 0) << "end of file reads 0 bytes";

  // Three blocks and a bit, from an unaligned offset, then overwrite across a block boundary.
  std::string big = pattern(3 * 4096 + 100, 1);
  v.write_all(a.attr.ino, 1000, big);
  std::string expect = "hello, world" + std::string(1000 - 12, '\0') + big;
  EXPECT_EQ(v.read(a.attr.ino, 0, expect.size() + 10), expect);
  std::string patch = pattern(200, 2);
  EXPECT_EQ(v.write(a.attr.ino, 4000, patch), 200);
  expect.replace(4000, 200, patch);
  EXPECT_EQ(v.read(a.attr.ino, 0, expect.size()), expect);
  auto g = v.fs().getattr(a.attr.ino);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g.value().attr.size, expect.size());
  EXPECT_EQ(g.value().attr.blocks, 4u * 8) << "four 4 KiB blocks, in 512-byte units";
  EXPECT_EQ(v.release(a.attr.ino), 0);
  EXPECT_EQ(v.get("/hello"), expect);
}

TEST_P(FsTest, SparseFileReadsZerosInHoles) {
  Vol v(kDiskBlocks, opts());
  auto a = v.open("/sparse", O_CREAT | O_RDWR);
  ASSERT_EQ(a.status, 0);
  const uint64_t far = 10ull << 20;
  EXPECT_EQ(v.write(a.attr.ino, far, "end"), 3);
  auto s = v.stat("/sparse");
  EXPECT_EQ(s.attr.size, far + 3);
  EXPECT_LE(s.attr.blocks, 4u * 8) << "only the last block and its pointer blocks are allocated";
  EXPECT_EQ(v.read(a.attr.ino, 5000, 4096), std::string(4096, '\0'));
  EXPECT_EQ(v.read(a.attr.ino, far - 2, 10), std::string(2, '\0') + "end");
  v.release(a.attr.ino);
}

TEST_P(FsTest, LargeFileThroughDoubleIndirectAndBack) {
  Vol v(kDiskBlocks, opts());
  const uint64_t free0 = v.statfs().blocks_free;
  // Past 12 direct + 1024 indirect blocks (4.05 MiB): into the double-indirect tree.
  const std::string data = pattern(6 << 20, 3);
  auto a = v.open("/big", O_CREAT | O_RDWR);
  ASSERT_EQ(a.status, 0);
  v.write_all(a.attr.ino, 0, data);
  EXPECT_EQ(v.sync(), 0);
  v.release(a.attr.ino);
  v.remount();
  EXPECT_EQ(v.get("/big"), data) << "every byte back after a remount";
  const uint64_t data_blocks = (6 << 20) / 4096;
  EXPECT_EQ(free0 - v.statfs().blocks_free, data_blocks + 1 + 1 + 1) << "data + indirect + double + one second-level";
  auto b = v.open("/big", O_RDWR);
  EXPECT_EQ(v.truncate(b.attr.ino, 5000), 0);
  EXPECT_EQ(v.stat("/big").attr.size, 5000u);
  EXPECT_EQ(v.read(b.attr.ino, 0, 10000), data.substr(0, 5000));
  EXPECT_EQ(free0 - v.statfs().blocks_free, 2u) << "the pointer blocks went with the data";
  v.release(b.attr.ino);
  EXPECT_EQ(v.unlink("/big"), 0);
  EXPECT_EQ(v.statfs().blocks_free, free0);
}

TEST_P(FsTest, TruncateShrinksAndGrowsWithZeros) {
  Vol v(kDiskBlocks, opts());
  auto a = v.open("/t", O_CREAT | O_RDWR);
  const std::string data = pattern(10000, 4);
  v.write_all(a.attr.ino, 0, data);
  EXPECT_EQ(v.truncate(a.attr.ino, 3000), 0);
  EXPECT_EQ(v.truncate(a.attr.ino, 9000), 0);
  EXPECT_EQ(v.read(a.attr.ino, 0, 20000), data.substr(0, 3000) + std::string(6000, '\0'))
      << "bytes cut off come back as zeros when the file grows again";
  EXPECT_EQ(v.truncate(a.attr.ino, 0), 0);
  EXPECT_EQ(v.stat("/t").attr.blocks, 0u);
  v.release(a.attr.ino);
  a = v.open("/t", O_RDWR);
  v.write_all(a.attr.ino, 0, data);
  v.release(a.attr.ino);
  EXPECT_EQ(v.open_status("/t", O_WRONLY | O_TRUNC), 0);
  EXPECT_EQ(v.stat("/t").attr.size, 0u) << "O_TRUNC";
}

TEST_P(FsTest, TimesFollowLinux) {
  Vol v(kDiskBlocks, opts());
  ASSERT_EQ(v.mkdir("/d"), 0);
  auto d0 = v.stat("/d").attr;
  auto a = v.open("/d/f", O_CREAT | O_RDWR);
  auto d1 = v.stat("/d").attr;
  EXPECT_GT(d1.mtime_ns, d0.mtime_ns) << "a new entry changes the directory";
  auto f0 = v.stat("/d/f").attr;
  v.write(a.attr.ino, 0, "x");
  auto f1 = v.stat("/d/f").attr;
  EXPECT_GT(f1.mtime_ns, f0.mtime_ns);
  EXPECT_GE(f1.ctime_ns, f1.mtime_ns);
  v.release(a.attr.ino);
  ASSERT_EQ(v.rename("/d/f", "/d/g"), 0);
  auto f2 = v.stat("/d/g").attr;
  EXPECT_EQ(f2.mtime_ns, f1.mtime_ns) << "rename changes ctime only";
  EXPECT_GT(f2.ctime_ns, f1.ctime_ns);
}

// ---- namespace ---------------------------------------------------------------------

TEST_P(FsTest, NamespaceErrnosMatchLinux) {
  Vol v(kDiskBlocks, opts());
  ASSERT_EQ(v.mkdir("/d"), 0);
  ASSERT_EQ(v.mkdir("/d/sub"), 0);
  v.put("/d/f", "data");
  v.put("/file", "x");

  // open
  EXPECT_EQ(v.open_status("/missing", O_RDONLY), -ENOENT);
  EXPECT_EQ(v.open_status("/nodir/x", O_CREAT | O_WRONLY), -ENOENT);
  EXPECT_EQ(v.open_status("/d/f", O_CREAT | O_EXCL | O_WRONLY), -EEXIST);
  EXPECT_EQ(v.open_status("/d", O_CREAT | O_EXCL | O_WRONLY), -EEXIST);
  EXPECT_EQ(v.open_status("/d", O_CREAT | O_RDONLY), -EISDIR);
  EXPECT_EQ(v.open_status("/nodir/new/", O_CREAT | O_WRONLY), -ENOENT);
  EXPECT_EQ(v.open_status("/d/new/", O_CREAT | O_WRONLY), -EISDIR) << "O_CREAT with a trailing slash";
  EXPECT_EQ(v.open_status("/d", O_WRONLY), -EISDIR);
  EXPECT_EQ(v.open_status("/d", O_RDWR), -EISDIR);
  EXPECT_EQ(v.open_status("/d", O_RDONLY), 0);
  EXPECT_EQ(v.open_status("/d/f", O_RDONLY | O_DIRECTORY), -ENOTDIR);
  EXPECT_EQ(v.open_status("/d/f/", O_RDONLY), -ENOTDIR);
  EXPECT_EQ(v.open_status("/file/x", O_RDONLY), -ENOTDIR);
  EXPECT_EQ(v.open_status("/file/x", O_CREAT | O_WRONLY), -ENOTDIR);
  EXPECT_EQ(v.open_status("", O_RDONLY), -ENOENT);
  EXPECT_EQ(v.open_status("/" + std::string(256, 'a'), O_CREAT | O_WRONLY), -ENAMETOOLONG);
  EXPECT_EQ(v.open_status("/" + std::string(255, 'a'), O_CREAT | O_WRONLY), 0) << "255 bytes is the limit";
  EXPECT_EQ(v.open_status("//d///./sub/..//f", O_RDONLY), 0) << "repeated slashes, . and ..";
  EXPECT_EQ(v.open_status("/..", O_RDONLY), 0) << "/.. is /";

  // mkdir
  EXPECT_EQ(v.mkdir("/d"), -EEXIST);
  EXPECT_EQ(v.mkdir("/d/f"), -EEXIST);
  EXPECT_EQ(v.mkdir("/"), -EEXIST);
  EXPECT_EQ(v.mkdir("/d/."), -EEXIST);
  EXPECT_EQ(v.mkdir("/x/y"), -ENOENT);
  EXPECT_EQ(v.mkdir("/file/y"), -ENOTDIR);
  EXPECT_EQ(v.mkdir("/trail/"), 0) << "a trailing slash names a directory";

  // rmdir
  EXPECT_EQ(v.rmdir("/d"), -ENOTEMPTY);
  EXPECT_EQ(v.rmdir("/"), -EBUSY);
  EXPECT_EQ(v.rmdir("/d/f"), -ENOTDIR);
  EXPECT_EQ(v.rmdir("/d/sub/."), -EINVAL);
  EXPECT_EQ(v.rmdir("/d/sub/.."), -ENOTEMPTY);
  EXPECT_EQ(v.rmdir("/nothere"), -ENOENT);

  // unlink
  EXPECT_EQ(v.unlink("/d"), -EISDIR);
  EXPECT_EQ(v.unlink("/d/f/"), -ENOTDIR);
  EXPECT_EQ(v.unlink("/nothere"), -ENOENT);
  EXPECT_EQ(v.unlink("/"), -EISDIR);

  // rename
  EXPECT_EQ(v.rename("/file", "/d"), -EISDIR);
  EXPECT_EQ(v.rename("/d/sub", "/file"), -ENOTDIR);
  EXPECT_EQ(v.rename("/trail", "/d"), -ENOTEMPTY);
  EXPECT_EQ(v.rename("/d", "/d/sub/inside"), -EINVAL);
  EXPECT_EQ(v.rename("/d", "/d/x"), -EINVAL);
  EXPECT_EQ(v.rename("/nothere", "/x"), -ENOENT);
  EXPECT_EQ(v.rename("/file", "/nodir/x"), -ENOENT);
  EXPECT_EQ(v.rename("/file/", "/x"), -ENOTDIR);
  EXPECT_EQ(v.rename("/file", "/file"), 0);
  EXPECT_EQ(v.rename("/", "/x"), -EBUSY);
  EXPECT_EQ(v.get("/file"), "x") << "failed renames changed nothing";

  // file calls on a directory or a stale inode
  auto d = v.open("/d", O_RDONLY);
  int st = 0;
  v.read(d.attr.ino, 0, 10, &st);
  EXPECT_EQ(st, -EISDIR);
  EXPECT_EQ(v.write(d.attr.ino, 0, "x"), -EISDIR);
  EXPECT_EQ(v.truncate(d.attr.ino, 0), -EISDIR);
  v.release(d.attr.ino);
  EXPECT_EQ(v.write(d.attr.ino, 0, "x"), -EBADF) << "released";
  EXPECT_EQ(v.release(d.attr.ino), -EBADF);
  EXPECT_EQ(v.write(12345, 0, "x"), -EBADF);
}

TEST_P(FsTest, LinkCountsFollowLinux) {
  Vol v(kDiskBlocks, opts());
  EXPECT_EQ(v.stat("/").attr.nlink, 2u);
  ASSERT_EQ(v.mkdir("/a"), 0);
  ASSERT_EQ(v.mkdir("/b"), 0);
  ASSERT_EQ(v.mkdir("/a/c"), 0);
  v.put("/a/f", "f");
  EXPECT_EQ(v.stat("/").attr.nlink, 4u) << "2 + two subdirectories";
  EXPECT_EQ(v.stat("/a").attr.nlink, 3u);
  EXPECT_EQ(v.stat("/a/f").attr.nlink, 1u);
  // Move a directory: ".." follows, both parents' counts change.
  ASSERT_EQ(v.rename("/a/c", "/b/c"), 0);
  EXPECT_EQ(v.stat("/a").attr.nlink, 2u);
  EXPECT_EQ(v.stat("/b").attr.nlink, 3u);
  EXPECT_EQ(v.stat("/b/c/..").attr.ino, v.stat("/b").attr.ino) << "the moved directory's .. points at its new parent";
  // A directory over an empty one.
  ASSERT_EQ(v.mkdir("/a/e"), 0);
  ASSERT_EQ(v.rename("/a/e", "/b/c"), 0);
  EXPECT_EQ(v.stat("/a").attr.nlink, 2u);
  EXPECT_EQ(v.stat("/b").attr.nlink, 3u);
  // A file over a file frees the old one.
  const uint64_t inodes_free = v.statfs().inodes_free;
  v.put("/b/g", "old");
  ASSERT_EQ(v.rename("/a/f", "/b/g"), 0);
  EXPECT_EQ(v.get("/b/g"), "f");
  EXPECT_EQ(v.stat("/a/f").status, -ENOENT);
  EXPECT_EQ(v.statfs().inodes_free, inodes_free);
  ASSERT_EQ(v.rmdir("/b/c"), 0);
  EXPECT_EQ(v.stat("/b").attr.nlink, 2u);
}

TEST_P(FsTest, ReaddirListsEverythingOnceDotsFirst) {
  Vol v(kDiskBlocks, opts());
  ASSERT_EQ(v.mkdir("/d"), 0);
  std::set<std::string> want;
  for (int i = 0; i < 70; ++i) {   // several directory blocks, several pages
    std::string n = "file-" + std::to_string(i);
    v.put("/d/" + n, n);
    want.insert(n);
  }
  ASSERT_EQ(v.mkdir("/d/sub"), 0);
  want.insert("sub");
  auto all = v.list("/d", true);
  ASSERT_GE(all.size(), 2u);
  EXPECT_EQ(all[0], ".");
  EXPECT_EQ(all[1], "..");
  auto names = v.list("/d");
  EXPECT_EQ(names.size(), want.size()) << "no duplicates";
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), want);
  for (int i = 0; i < 70; i += 2) {
    EXPECT_EQ(v.unlink("/d/file-" + std::to_string(i)), 0);
    want.erase("file-" + std::to_string(i));
  }
  names = v.list("/d");
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), want);
  v.put("/d/again", "a");   // reuses a freed slot
  EXPECT_EQ(v.list("/d").size(), want.size() + 1);
  auto f = v.open("/d/again", O_RDONLY);
  auto r = v.fs().readdir(f.attr.ino, 0, RRef<DirPage>::make());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value()->status, -ENOTDIR);
  v.release(f.attr.ino);
}

// ---- space -------------------------------------------------------------------------

TEST_P(FsTest, FullDiskWritesWhatFitsThenSpaceComesBack) {
  Vol v(disk::kMinBlocks, opts());
  const auto s0 = v.statfs();
  ASSERT_GT(s0.blocks_free, 100u);
  auto a = v.open("/fill", O_CREAT | O_RDWR);
  const std::string chunk = pattern(kDataBytes, 5);
  uint64_t written = 0;
  int r = 0;
  for (int i = 0; i < 1000; ++i) {
    r = v.write(a.attr.ino, written, chunk);
    if (r <= 0) break;
    written += r;
    if (r < static_cast<int>(chunk.size())) {
      r = v.write(a.attr.ino, written, chunk);
      break;
    }
  }
  EXPECT_EQ(r, -ENOSPC) << "once full, nothing more";
  EXPECT_EQ(v.statfs().blocks_free, 0u);
  EXPECT_GT(written, (s0.blocks_free - 4) * 4096 - kDataBytes) << "the disk filled up";
  EXPECT_EQ(v.stat("/fill").attr.size, written);
  EXPECT_EQ(v.mkdir("/nospace"), -ENOSPC);
  EXPECT_EQ(v.stat("/nospace").status, -ENOENT) << "a failed mkdir leaves nothing";
  EXPECT_EQ(v.read(a.attr.ino, written - 100, 100), chunk.substr((written - 100) % chunk.size(), 100));
  v.release(a.attr.ino);
  EXPECT_EQ(v.unlink("/fill"), 0);
  EXPECT_EQ(v.statfs().blocks_free, s0.blocks_free) << "every block back";
  EXPECT_EQ(v.statfs().inodes_free, s0.inodes_free);
  v.put("/after", chunk);
  EXPECT_EQ(v.get("/after"), chunk);
}

TEST_P(FsTest, InodesRunOut) {
  Vol v(disk::kMinBlocks, opts(), 64);
  const uint64_t n = v.statfs().inodes_free;
  uint64_t made = 0;
  for (; made < n + 5; ++made)
    if (v.open_status("/f" + std::to_string(made), O_CREAT | O_WRONLY) != 0) break;
  EXPECT_EQ(made, n);
  EXPECT_EQ(v.open_status("/one-more", O_CREAT | O_WRONLY), -ENOSPC);
  EXPECT_EQ(v.unlink("/f0"), 0);
  EXPECT_EQ(v.open_status("/one-more", O_CREAT | O_WRONLY), 0);
}

// ---- durability ----------------------------------------------------------------------

TEST_P(FsTest, RemountKeepsWhatWasSynced) {
  Vol v(kDiskBlocks, opts());
  ASSERT_EQ(v.mkdir("/dir"), 0);
  v.put("/dir/a", pattern(20000, 6));
  v.put("/b", "bee");
  ASSERT_EQ(v.rename("/b", "/dir/b"), 0);
  auto a = v.open("/dir/a", O_RDWR);
  ASSERT_EQ(v.unwrap(v.fs().fsync(a.attr.ino)), 0);
  const auto before = v.statfs();
  v.release(a.attr.ino);
  v.remount();
  EXPECT_EQ(v.get("/dir/a"), pattern(20000, 6));
  EXPECT_EQ(v.get("/dir/b"), "bee");
  EXPECT_EQ(v.stat("/b").status, -ENOENT);
  const auto after = v.statfs();
  EXPECT_EQ(after.blocks_free, before.blocks_free);
  EXPECT_EQ(after.inodes_free, before.inodes_free);
  EXPECT_EQ(after.replayed_at_mount, 0u) << "a clean unmount leaves nothing to replay";
}

TEST_P(FsTest, GroupCommitCarriesManyOperationsPerCommit) {
  MountOptions o = opts();
  o.commit_every = 64;
  Vol v(kDiskBlocks, o);
  const auto s0 = v.statfs();
  for (int i = 0; i < 200; ++i) v.put("/g" + std::to_string(i), "x");
  ASSERT_EQ(v.sync(), 0);
  const auto s1 = v.statfs();
  const uint64_t commits = s1.commits - s0.commits;
  const uint64_t ops = s1.ops_committed - s0.ops_committed;
  EXPECT_GE(ops, 400u) << "a create and a write per file, each an operation";
  EXPECT_GT(ops, commits * 10) << commits << " commits for " << ops << " operations";
  EXPECT_GE(commits, 1u);
}

TEST_P(FsTest, UnlinkedOpenFileLivesUntilRelease) {
  Vol v(kDiskBlocks, opts());
  const auto s0 = v.statfs();
  auto a = v.open("/tmpfile", O_CREAT | O_RDWR);
  v.write_all(a.attr.ino, 0, pattern(50000, 7));
  ASSERT_EQ(v.unlink("/tmpfile"), 0);
  EXPECT_EQ(v.stat("/tmpfile").status, -ENOENT);
  EXPECT_EQ(v.read(a.attr.ino, 0, 50000), pattern(50000, 7)) << "still readable";
  EXPECT_EQ(v.write(a.attr.ino, 50000, "more"), 4) << "and writable";
  auto g = v.fs().getattr(a.attr.ino);
  EXPECT_EQ(g.value().attr.nlink, 0u);
  EXPECT_LT(v.statfs().blocks_free, s0.blocks_free);
  EXPECT_EQ(v.release(a.attr.ino), 0);
  EXPECT_EQ(v.statfs().blocks_free, s0.blocks_free) << "freed by the last release";
  EXPECT_EQ(v.statfs().inodes_free, s0.inodes_free);

  // Unmounted while still open (as by a crash): the next mount frees it.
  auto b = v.open("/orphan", O_CREAT | O_RDWR);
  v.write_all(b.attr.ino, 0, pattern(30000, 8));
  ASSERT_EQ(v.unlink("/orphan"), 0);
  ASSERT_EQ(v.sync(), 0);
  v.remount();
  EXPECT_EQ(v.statfs().blocks_free, s0.blocks_free);
  EXPECT_EQ(v.statfs().inodes_free, s0.inodes_free);
}

// Read-ahead fills only blocks the cache does not hold: a block overwritten
// by the open transaction (pinned, not yet on disk) is read as written,
// not as the disk has it, wherever it falls in a sequential read.
TEST_P(FsTest, SequentialReadSeesUncommittedWrites) {
  MountOptions o = opts();
  o.commit_every = 100000;
  Vol v(kDiskBlocks, o);
  std::string data = pattern(4 << 20, 21);   // 1,024 blocks: more than the cache
  v.put("/big", data);
  ASSERT_EQ(v.sync(), 0);
  v.remount();   // a cold cache
  auto a = v.open("/big", O_RDWR);
  ASSERT_EQ(a.status, 0);
  // Blocks inside the first read-ahead window, just past it, and far on;
  // one of them partly.
  for (uint64_t off : {uint64_t{20} << 12, uint64_t{49} << 12, (uint64_t{700} << 12) + 100}) {
    const std::string patch = pattern(off % 4096 ? 1000 : 4096, static_cast<uint32_t>(off));
    ASSERT_EQ(v.write(a.attr.ino, off, patch), static_cast<int>(patch.size()));
    data.replace(off, patch.size(), patch);
  }
  EXPECT_TRUE(v.read(a.attr.ino, 0, data.size()) == data) << "read back differs from what was written";
  // Unaligned sequential reads, each starting where the last ended.
  std::string got;
  for (uint64_t off = 0; off < data.size();) {
    std::string part = v.read(a.attr.ino, off, 12345);
    ASSERT_FALSE(part.empty()) << "at " << off;
    got += part;
    off += part.size();
  }
  EXPECT_TRUE(got == data) << "read back in 12,345-byte pieces differs";
  EXPECT_EQ(v.release(a.attr.ino), 0);
}

// The driver crashes in the middle of a batched read.  Behind the block
// shadow the read completes as if nothing happened (the shadow restarts the
// driver and replays the batch); without one it is an I/O error, and what
// the cache holds stays readable.
TEST(FsRead, ADriverCrashDuringABatchedRead) {
  const std::string data = pattern(1 << 20, 31);
  for (const char* through : {"shadow", "domain"}) {
    SCOPED_TRACE(std::string("disk through ") + through);
    std::string err;
    DiskOptions dopts;
    dopts.through = through;
    auto disk = Disk::open("sim:ram,blocks=" + std::to_string(kDiskBlocks), dopts, &err);
    ASSERT_TRUE(disk) << err;
    ASSERT_EQ(format(disk->bdev(), FormatOptions{}, &err), 0) << err;
    {
      auto m = Mount::open(*disk, MountOptions{}, &err);
      ASSERT_TRUE(m) << err;
      auto a = m->fs().open(P("/f"), O_CREAT | O_RDWR, 0644);
      ASSERT_EQ(a.value().status, 0);
      for (size_t off = 0; off < data.size(); off += kDataBytes) {
        auto d = RRef<Data>::make();
        d->len = kDataBytes;
        std::memcpy(d->bytes.data(), data.data() + off, kDataBytes);
        ASSERT_EQ(*m->fs().write(a.value().attr.ino, off, d), static_cast<int>(kDataBytes));
      }
      ASSERT_EQ(*m->fs().release(a.value().attr.ino), 0);
    }
    auto m = Mount::open(*disk, MountOptions{}, &err);   // a cold cache
    ASSERT_TRUE(m) << err;
    auto a = m->fs().open(P("/f"), O_RDONLY, 0);
    ASSERT_EQ(a.value().status, 0);
    // One block past the direct ones: its indirect block comes into the
    // cache too, so the next read needs nothing but data blocks.
    auto warm = RRef<Data>::make();
    warm->len = 1;
    ASSERT_EQ(m->fs().read(a.value().attr.ino, disk::kDirect * disk::kBlockSize, std::move(warm)).value()->status, 1);
    disk->driver().inject_next(FaultKind::Segfault);   // the next driver call: the read's batch
    auto d = RRef<Data>::make();
    d->len = kDataBytes;
    auto r = m->fs().read(a.value().attr.ino, 0, std::move(d));
    ASSERT_TRUE(r.ok()) << "the fs domain itself never fails";
    if (std::string(through) == "shadow") {
      ASSERT_EQ(r.value()->status, static_cast<int>(kDataBytes));
      EXPECT_EQ(std::memcmp(r.value()->bytes.data(), data.data(), kDataBytes), 0);
      EXPECT_EQ(disk->shadow()->recoveries(), 1u);
      std::string rest;
      for (size_t off = kDataBytes; off < data.size(); off += kDataBytes) {
        auto buf = RRef<Data>::make();
        buf->len = kDataBytes;
        auto more = m->fs().read(a.value().attr.ino, off, std::move(buf));
        ASSERT_TRUE(more.ok());
        ASSERT_EQ(more.value()->status, static_cast<int>(kDataBytes)) << "at " << off;
        rest.append(reinterpret_cast<const char*>(more.value()->bytes.data()), kDataBytes);
      }
      EXPECT_TRUE(rest == data.substr(kDataBytes)) << "the rest of the file differs";
    } else {
      EXPECT_EQ(r.value()->status, -EIO);
      EXPECT_EQ(m->fs().stat(P("/f")).value().status, 0) << "what is cached can still be read";
    }
    EXPECT_EQ(*m->fs().release(a.value().attr.ino), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Through, FsTest, ::testing::Values("domain", "direct"));

// ---- crashes -------------------------------------------------------------------------

// The state every crash must leave: what was synced before, and the new
// transaction either all there or not at all; nothing leaked.
void expect_consistent(Vol& v, const FsStats& empty, bool* new_state) {
  EXPECT_EQ(v.get("/keep/a"), pattern(9000, 10));
  int st = 0;
  std::string b = v.get("/keep/b", &st);
  *new_state = st == 0;
  auto moved = v.stat("/moved");
  if (*new_state) {
    EXPECT_EQ(b, pattern(70000, 11)) << "the new file is whole";
    EXPECT_EQ(moved.status, 0) << "and the rename in the same transaction happened";
    EXPECT_EQ(v.stat("/keep/old").status, -ENOENT);
  } else {
    EXPECT_EQ(st, -ENOENT);
    EXPECT_EQ(moved.status, -ENOENT);
    EXPECT_EQ(v.stat("/keep/old").status, 0);
  }
  // Removing everything gives back exactly the space of an empty fs.
  EXPECT_EQ(v.unlink("/keep/a"), 0);
  if (*new_state) {
    EXPECT_EQ(v.unlink("/keep/b"), 0);
    EXPECT_EQ(v.rmdir("/moved"), 0);
  } else {
    EXPECT_EQ(v.rmdir("/keep/old"), 0);
  }
  EXPECT_EQ(v.rmdir("/keep"), 0);
  auto s = v.statfs();
  EXPECT_EQ(s.blocks_free, empty.blocks_free) << "no block leaked or lost";
  EXPECT_EQ(s.inodes_free, empty.inodes_free);
}

TEST(FsCrash, FaultAtEveryWriteOfACommitLeavesAConsistentTree) {
  // How many writes the first phase and the commit take, from a run without a fault.
  uint64_t setup_writes = 0, commit_writes = 0;
  FsStats empty{};
  auto setup = [&](Vol& v) {
    ASSERT_EQ(v.mkdir("/keep"), 0);
    ASSERT_EQ(v.mkdir("/keep/old"), 0);
    v.put("/keep/a", pattern(9000, 10));
    ASSERT_EQ(v.sync(), 0);
  };
  auto second = [&](Vol& v) -> bool {   // false once the domain died
    auto a = v.fs().open(P("/keep/b"), O_CREAT | O_WRONLY, 0644);
    if (!a.ok()) return false;
    const std::string data = pattern(70000, 11);
    for (size_t off = 0; off < data.size(); off += kDataBytes) {
      auto d = RRef<Data>::make();
      d->len = static_cast<uint32_t>(std::min<size_t>(kDataBytes, data.size() - off));
      std::memcpy(d->bytes.data(), data.data() + off, d->len);
      if (!v.fs().write(a.value().attr.ino, off, d).ok()) return false;
    }
    if (!v.fs().rename(P("/keep/old"), P("/moved")).ok()) return false;
    if (!v.fs().release(a.value().attr.ino).ok()) return false;
    auto s = v.fs().sync();
    return s.ok();
  };
  {
    MountOptions o;
    o.commit_every = 1000;   // one transaction for the whole second phase
    Vol v(kDiskBlocks, o);
    empty = v.statfs();
    setup(v);
    setup_writes = v.statfs().disk_writes;
    v.remount();   // as the armed runs below: the counts start again at the mount
    ASSERT_TRUE(second(v));
    commit_writes = v.statfs().disk_writes;
  }
  ASSERT_GT(commit_writes, 20u) << "log copies, header, home blocks, cleared header";
  // (The first write is the log header raising the generation bound, before the create.)
  int old_states = 0, new_states = 0, replays = 0;
  for (uint64_t k = 1; k <= commit_writes; ++k) {
    SCOPED_TRACE("fault before write " + std::to_string(k) + " of the commit");
    MountOptions o;
    o.commit_every = 1000;
    Vol v(kDiskBlocks, o);
    setup(v);
    ASSERT_EQ(v.statfs().disk_writes, setup_writes);
    // The setup ran without a fault; mount again with one armed.
    MountOptions armed = o;
    armed.fault_before_write = k;
    v.remount(armed);
    EXPECT_FALSE(second(v)) << "the domain faulted";
    ASSERT_NE(v.mount->domain(), nullptr);
    EXPECT_FALSE(v.mount->domain()->alive());
    std::string err;
    ASSERT_TRUE(v.mount->recover(&err)) << err;
    replays += v.statfs().replayed_at_mount > 0;
    bool is_new = false;
    expect_consistent(v, empty, &is_new);
    (is_new ? new_states : old_states) += 1;
  }
  EXPECT_GT(old_states, 0) << "crashes before the commit point lose the transaction";
  EXPECT_GT(new_states, 0) << "crashes after it keep it";
  EXPECT_GT(replays, 0) << "crashes between the commit point and the header's clearing replay the log";
}

// A create lost with its transaction leaves its slot free with the old
// generation on disk.  The next file in that slot must still get a new
// generation: a process that held the lost file across the crash checks
// (ino, generation) to tell it from whatever took its place.
TEST(FsCrash, ALostCreateNeverRepeatsItsGeneration) {
  MountOptions o;
  o.commit_every = 1000;   // nothing commits before the crash
  Vol v(kDiskBlocks, o);
  ASSERT_EQ(v.sync(), 0);
  std::map<uint32_t, int> seen;   // generation -> round
  uint64_t slot = 0;
  // Creates /lost; returns its generation (0 on a failure).
  auto create_lost = [&](int round) -> uint32_t {
    auto a = v.open("/lost", O_CREAT | O_RDWR);
    EXPECT_EQ(a.status, 0);
    if (a.status != 0) return 0;
    if (slot == 0) slot = a.attr.ino;
    EXPECT_EQ(a.attr.ino, slot) << "the lost create left its slot free, so the next create takes it again";
    auto [it, fresh] = seen.emplace(a.attr.generation, round);
    EXPECT_TRUE(fresh) << "round " << round << " got generation " << a.attr.generation << " again (round "
                       << it->second << ")";
    return a.attr.generation;
  };
  // The fs domain killed before any commit: the create leaves no trace.
  for (int round = 0; round < 3; ++round) {
    create_lost(round);
    ASSERT_NE(v.mount->domain(), nullptr);
    v.mount->domain()->kill();
    std::string err;
    ASSERT_TRUE(v.mount->recover(&err)) << err;
    EXPECT_EQ(v.stat("/lost").status, -ENOENT) << "the create never committed";
  }
  // A fault inside the commit itself, at its first write (before the commit
  // point): the first create after a mount writes the same as above.
  v.remount();
  create_lost(3);
  const uint64_t writes = v.statfs().disk_writes;
  MountOptions armed = o;
  armed.fault_before_write = writes + 1;
  v.mount->domain()->kill();
  v.remount(armed);
  create_lost(4);
  EXPECT_FALSE(v.fs().sync().ok()) << "the domain faulted in the commit";
  std::string err;
  ASSERT_TRUE(v.mount->recover(&err)) << err;
  EXPECT_EQ(v.stat("/lost").status, -ENOENT) << "the commit never reached its commit point";
  // A committed create keeps its generation across a remount; the next
  // file in the slot after it gets a new one too.
  const uint32_t kept = create_lost(5);
  ASSERT_EQ(v.sync(), 0);
  v.remount();
  EXPECT_EQ(v.stat("/lost").attr.generation, kept);
  ASSERT_EQ(v.unlink("/lost"), 0);
  create_lost(6);
}

// ---- mount checks and I/O errors -------------------------------------------------

TEST(FsMount, RefusesADeviceWithoutRlfsWithAReason) {
  std::string err;
  auto disk = Disk::open("sim:ram,blocks=2048", DiskOptions{}, &err);
  ASSERT_TRUE(disk) << err;
  MountOptions o;
  EXPECT_FALSE(Mount::open(*disk, o, &err));
  EXPECT_NE(err.find("no rlfs"), std::string::npos) << err;
  EXPECT_NE(err.find("rl-mkfs"), std::string::npos) << err;
  // A damaged superblock: one flipped bit.
  ASSERT_EQ(format(disk->bdev(), FormatOptions{}, &err), 0) << err;
  auto r = disk->bdev().read(0, RRef<blk::Block>::make_aligned(4096));
  ASSERT_TRUE(r.ok());
  auto blk = std::move(r.value().buf);
  blk->data[offsetof(disk::Superblock, inodes)] ^= 1;
  ASSERT_EQ(*disk->bdev().write(0, blk), 0);
  o.through = "direct";
  err.clear();
  EXPECT_FALSE(Mount::open(*disk, o, &err));
  EXPECT_NE(err.find("checksum"), std::string::npos) << err;
}

TEST(FsMount, AnIoErrorMakesItReadOnly) {
  std::string err;
  DiskOptions dopts;
  dopts.through = "domain";   // no shadow: a driver crash is an error the fs sees
  auto disk = Disk::open("sim:ram,blocks=2048", dopts, &err);
  ASSERT_TRUE(disk) << err;
  ASSERT_EQ(format(disk->bdev(), FormatOptions{}, &err), 0) << err;
  MountOptions o;
  auto m = Mount::open(*disk, o, &err);
  ASSERT_TRUE(m) << err;
  auto a = m->fs().open(P("/f"), O_CREAT | O_RDWR, 0644);
  ASSERT_EQ(a.value().status, 0);
  disk->driver().inject_next(FaultKind::Segfault);
  EXPECT_EQ(*m->fs().sync(), -EIO);
  EXPECT_EQ(*m->fs().mkdir(P("/d"), 0755), -EIO) << "read-only after an I/O error";
  auto d = RRef<Data>::make();
  d->len = 1;
  EXPECT_EQ(*m->fs().write(a.value().attr.ino, 0, d), -EIO);
  EXPECT_EQ(m->fs().stat(P("/f")).value().status, 0) << "what is cached can still be read";
}

}  // namespace
}  // namespace rl::fs
