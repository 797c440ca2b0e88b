// Crash consistency of rlfs: seeded crash points across the fs domain and the
// NVMe driver domain under a write workload, each followed by a remount and
// rl-fsck's check.  After every crash:
//   - the file system mounts and the checker finds nothing wrong;
//   - the tree is exactly the state after some operation at or after the
//     last acknowledged fsync (the log makes operations atomic and group
//     commit keeps them in order): nothing acknowledged is lost, nothing
//     half-done is visible.
//
// Crash kinds, by crash point:
//   fs write   the fs domain faults (a real segfault in its code) just before
//              its N-th disk write: in the middle of a commit or its install;
//   nvme       the NVMe driver domain crashes at its N-th call (the block
//              shadow replays; the workload must not notice), then the
//              process "dies" (the fs domain is killed) at a random operation;
//   process    the fs domain is killed between two operations, without sync.
//
// RL_FS_CRASH_POINTS overrides the number of crash points (default 1000);
// RL_FS_CRASH_FIRST the first seed (to rerun one that failed).
#include <fcntl.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "domains/fs/disk.hpp"
#include "domains/fs/mkfs.hpp"
#include "domains/fs/mount.hpp"
#include "tools/fs/check.hpp"

namespace rl::fs {
namespace {

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

RRef<Path> path_of(const std::string& p) { return make_path(p); }

// The tree as the workload believes it to be: a path -> nullopt (a directory)
// or a file's content.  "/" is implicit.
using Tree = std::map<std::string, std::optional<std::string>>;

std::string describe(const Tree& t) {
  std::string s;
  for (const auto& [p, c] : t) s += "  " + p + (c ? " (" + std::to_string(c->size()) + " bytes)" : "/") + "\n";
  return s;
}

// One seeded workload: operations chosen so that each succeeds on the tree
// the model holds; every result is checked against the model.
class Workload {
 public:
  explicit Workload(uint64_t seed) : rng_(seed) {}

  // Runs one operation.  Returns false when the fs failed the call (a crash);
  // `pending` is then the tree the operation would have produced.
  bool step(Mount& m, Tree* pending) {
    Tree next = tree_;
    bool fsync_it = false;
    const int op = static_cast<int>(pick(100));
    std::vector<std::string> files, dirs{"/"};
    for (const auto& [p, c] : tree_) (c ? files : dirs).push_back(p);

    if (op < 30 || files.empty()) {   // create or replace a file
      std::string p = child(dirs[pick(dirs.size())], "f");
      if (tree_.count(p) && !tree_.at(p)) return true;   // a directory of that name: skip
      std::string data = bytes(pick(4) == 0 ? 20000 + pick(90000) : pick(6000));
      next[p] = std::string();   // open(O_CREAT | O_TRUNC) is one operation, each write another
      *pending = next;
      auto o = m.fs().open(path_of(p), O_CREAT | O_TRUNC | O_WRONLY, 0644);
      if (!o.ok()) return false;
      expect_ok(o.value().status, "create " + p);
      record(next);
      if (!write_all(m, o.value().attr.ino, p, 0, data, pending)) return false;
      next = tree_;
      fsync_it = pick(8) == 0;
      if (fsync_it && !fsync(m, o.value().attr.ino)) return false;
      if (!m.fs().release(o.value().attr.ino).ok()) return false;
    } else if (op < 50) {             // write inside or past the end of a file
      const std::string& p = files[pick(files.size())];
      uint64_t off = pick(tree_.at(p)->size() + 8192);
      std::string data = bytes(1 + pick(pick(3) ? 9000 : 80000));
      auto o = m.fs().open(path_of(p), O_WRONLY, 0);
      if (!o.ok()) return false;
      expect_ok(o.value().status, "open " + p);
      if (!write_all(m, o.value().attr.ino, p, off, data, pending)) return false;
      next = tree_;
      fsync_it = pick(6) == 0;
      if (fsync_it && !fsync(m, o.value().attr.ino)) return false;
      if (!m.fs().release(o.value().attr.ino).ok()) return false;
    } else if (op < 58) {             // truncate
      const std::string& p = files[pick(files.size())];
      std::string content = *tree_.at(p);
      uint64_t size = pick(content.size() + 5000);
      content.resize(size, '\0');
      next[p] = content;
      *pending = next;
      auto o = m.fs().open(path_of(p), O_WRONLY, 0);
      if (!o.ok()) return false;
      expect_ok(o.value().status, "open " + p);
      auto t = m.fs().truncate(o.value().attr.ino, size);
      if (!t.ok()) return false;
      expect_ok(t.value(), "truncate " + p);
      if (!m.fs().release(o.value().attr.ino).ok()) return false;
    } else if (op < 68) {             // unlink
      const std::string p = files[pick(files.size())];
      next.erase(p);
      *pending = next;
      auto r = m.fs().unlink(path_of(p));
      if (!r.ok()) return false;
      expect_ok(r.value(), "unlink " + p);
    } else if (op < 76) {             // mkdir
      if (dirs.size() > 6) return true;
      std::string p = child(dirs[pick(dirs.size())], "d");
      if (tree_.count(p)) return true;
      next[p] = std::nullopt;
      *pending = next;
      auto r = m.fs().mkdir(path_of(p), 0755);
      if (!r.ok()) return false;
      expect_ok(r.value(), "mkdir " + p);
    } else if (op < 80) {             // rmdir an empty directory
      std::string victim;
      for (const auto& d : dirs)
        if (d != "/" && empty_dir(d)) victim = d;
      if (victim.empty()) return true;
      next.erase(victim);
      *pending = next;
      auto r = m.fs().rmdir(path_of(victim));
      if (!r.ok()) return false;
      expect_ok(r.value(), "rmdir " + victim);
    } else if (op < 92) {             // rename a file, maybe over another
      const std::string from = files[pick(files.size())];
      std::string to = pick(2) ? files[pick(files.size())] : child(dirs[pick(dirs.size())], "f");
      if (tree_.count(to) && !tree_.at(to)) return true;
      if (to == from) return true;
      next[to] = next[from];
      next.erase(from);
      *pending = next;
      auto r = m.fs().rename(path_of(from), path_of(to));
      if (!r.ok()) return false;
      expect_ok(r.value(), "rename " + from + " " + to);
    } else if (op < 95) {             // rename a directory to a new name
      if (dirs.size() < 2) return true;
      const std::string from = dirs[1 + pick(dirs.size() - 1)];
      std::string parent = dirs[pick(dirs.size())];
      if (parent == from || parent.rfind(from + "/", 0) == 0) return true;
      std::string to = child(parent, "d");
      if (tree_.count(to)) return true;
      Tree moved;
      for (const auto& [p, c] : next) {
        if (p == from || p.rfind(from + "/", 0) == 0)
          moved[to + p.substr(from.size())] = c;
        else
          moved[p] = c;
      }
      next = moved;
      *pending = next;
      auto r = m.fs().rename(path_of(from), path_of(to));
      if (!r.ok()) return false;
      expect_ok(r.value(), "rename " + from + " " + to);
    } else {                          // sync
      *pending = next;
      auto r = m.fs().sync();
      if (!r.ok()) return false;
      expect_ok(r.value(), "sync");
      fsync_it = true;
    }
    if (next != tree_) record(next);   // the single-call operations
    if (fsync_it) durable_ = history_.size() - 1;
    return true;
  }

  // The trees a crash may leave: the one after the last fsync, and every
  // later one (the interrupted operation's included).
  std::vector<Tree> allowed(const std::optional<Tree>& interrupted) const {
    std::vector<Tree> out(history_.begin() + static_cast<long>(durable_), history_.end());
    if (interrupted) out.push_back(*interrupted);
    return out;
  }
  std::size_t operations() const { return history_.size() - 1; }

 private:
  uint64_t pick(uint64_t n) { return n ? std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_) : 0; }
  std::string child(const std::string& dir, const char* prefix) {
    return (dir == "/" ? "" : dir) + "/" + prefix + std::to_string(pick(5));
  }
  std::string bytes(uint64_t n) {
    std::string s(n, '\0');
    uint64_t x = rng_();
    for (auto& c : s) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      c = static_cast<char>(x >> 56);
    }
    return s;
  }
  bool empty_dir(const std::string& d) const {
    for (const auto& [p, c] : tree_)
      if (p.rfind(d + "/", 0) == 0) return false;
    return true;
  }
  static void expect_ok(int32_t status, const std::string& what) {
    EXPECT_EQ(status, 0) << what << ": " << strerror(-status);
  }
  static bool fsync(Mount& m, uint64_t ino) {
    auto r = m.fs().fsync(ino);
    if (!r.ok()) return false;
    expect_ok(r.value(), "fsync");
    return true;
  }
  // Each write() call is one operation: a crash may keep any prefix of them.
  bool write_all(Mount& m, uint64_t ino, const std::string& p, uint64_t off, const std::string& data,
                 Tree* pending) {
    auto buf = RRef<Data>::make();
    for (std::size_t done = 0; done < data.size();) {
      const std::size_t n = std::min<std::size_t>(kDataBytes, data.size() - done);
      std::memcpy(buf->bytes.data(), data.data() + done, n);
      buf->len = static_cast<uint32_t>(n);
      Tree next = tree_;
      std::string& content = *next[p];
      if (content.size() < off + done + n) content.resize(off + done + n, '\0');
      content.replace(off + done, n, data, done, n);
      *pending = next;
      auto r = m.fs().write(ino, off + done, buf);
      if (!r.ok()) return false;
      EXPECT_EQ(r.value(), static_cast<int32_t>(n)) << "write " << n << " bytes at " << off + done;
      if (r.value() != static_cast<int32_t>(n)) return true;
      record(next);
      done += n;
    }
    return true;
  }
  void record(const Tree& t) {
    tree_ = t;
    history_.push_back(t);
  }

  std::mt19937_64 rng_;
  Tree tree_;
  std::vector<Tree> history_{Tree{}};
  std::size_t durable_ = 0;
};

// The tree on disk, read through the file system (inode calls need an open inode).
bool read_tree(Mount& m, const std::string& dir, Tree* out, std::string* why) {
  auto od = m.fs().open(path_of(dir), O_RDONLY | O_DIRECTORY, 0);
  if (!od.ok() || od.value().status != 0) {
    *why = "cannot open directory " + dir;
    return false;
  }
  const uint64_t ino = od.value().attr.ino;
  struct Release {
    Mount& m;
    uint64_t ino;
    ~Release() { (void)m.fs().release(ino); }
  } release{m, ino};
  auto page = RRef<DirPage>::make();
  uint64_t cookie = 0;
  do {
    auto r = m.fs().readdir(ino, cookie, std::move(page));
    if (!r.ok() || r.value()->status != 0) {
      *why = "readdir " + dir + " failed";
      return false;
    }
    page = std::move(r.value());
    for (uint32_t i = 0; i < page->count; ++i) {
      const DirEntry& e = page->entries[i];
      std::string name(e.name.data(), e.name_len);
      if (name == "." || name == "..") continue;
      std::string p = (dir == "/" ? "" : dir) + "/" + name;
      if (e.type == kTypeDir) {
        (*out)[p] = std::nullopt;
        if (!read_tree(m, p, out, why)) return false;
        continue;
      }
      auto o = m.fs().open(path_of(p), O_RDONLY, 0);
      if (!o.ok() || o.value().status != 0) {
        *why = "cannot open " + p;
        return false;
      }
      std::string content;
      auto buf = RRef<Data>::make();
      for (;;) {
        buf->len = kDataBytes;
        auto rd = m.fs().read(o.value().attr.ino, content.size(), std::move(buf));
        if (!rd.ok() || rd.value()->status < 0) {
          *why = "cannot read " + p;
          return false;
        }
        buf = std::move(rd.value());
        if (buf->status == 0) break;
        content.append(reinterpret_cast<const char*>(buf->bytes.data()), static_cast<std::size_t>(buf->status));
      }
      if (content.size() != o.value().attr.size) {
        *why = p + ": read " + std::to_string(content.size()) + " bytes of " + std::to_string(o.value().attr.size);
        return false;
      }
      (*out)[p] = content;
      (void)m.fs().release(o.value().attr.ino);
    }
    cookie = page->next;
  } while (cookie != 0);
  return true;
}

std::string findings(const CheckReport& r) {
  std::string s = r.fatal;
  for (const auto& f : r.findings) s += std::string("\n  ") + to_string(f.problem) + ": " + f.what;
  return s;
}

enum class Kind { FsWrite, Nvme, Process };
const char* name(Kind k) { return k == Kind::FsWrite ? "fs write" : k == Kind::Nvme ? "nvme" : "process"; }

struct Totals {
  uint64_t points = 0, fs_faults = 0, nvme_faults = 0, kills = 0, replayed = 0, operations = 0;
};

void crash_point(Disk& disk, uint64_t seed, Totals* totals) {
  SCOPED_TRACE("crash point " + std::to_string(seed) + " (rerun: RL_FS_CRASH_FIRST=" + std::to_string(seed) +
               " RL_FS_CRASH_POINTS=1)");
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 1);
  const Kind kind = static_cast<Kind>(seed % 3);
  std::string err;
  ASSERT_EQ(format(disk.bdev(), FormatOptions{}, &err), 0) << err;

  MountOptions mo;
  mo.commit_every = 1 + static_cast<uint32_t>(rng() % 32);   // small groups: more commits to crash in
  if (kind == Kind::FsWrite) mo.fault_before_write = 1 + rng() % 200;
  auto m = Mount::open(disk, mo, &err);
  ASSERT_TRUE(m) << err;
  const uint64_t ops = 20 + rng() % 60;
  const uint64_t kill_at = rng() % ops;
  const uint64_t nvme_faults_before = disk.driver().faults_injected();   // counts across points
  if (kind == Kind::Nvme) {
    InjectionPlan plan;
    plan.at_call = 1 + rng() % 40;   // commits go to the driver in batches of up to 32 writes
    plan.seed = seed;
    plan.kinds = {FaultKind::Segfault, FaultKind::Panic, FaultKind::Exception};
    disk.driver().inject(plan);
  }

  Workload w(seed);
  std::optional<Tree> interrupted;
  for (uint64_t i = 0; i < ops; ++i) {
    if (kind != Kind::FsWrite && i == kill_at) break;   // the process dies here
    Tree pending;
    if (!w.step(*m, &pending)) {
      ASSERT_EQ(kind, Kind::FsWrite) << "a call failed without an injected fs fault";
      interrupted = pending;
      ++totals->fs_faults;
      break;
    }
  }
  if (kind == Kind::Nvme) {
    totals->nvme_faults += disk.driver().faults_injected() - nvme_faults_before;
    disk.driver().stop_injecting();
  }
  // The crash: whatever the fs domain held in memory is gone, unsynced.
  if (m->domain()->alive()) {
    m->domain()->kill();
    ++totals->kills;
  }
  m.reset();

  // Remount: the log replays.  Then the checker, then the tree.
  auto again = Mount::open(disk, MountOptions{}, &err);
  ASSERT_TRUE(again) << "remount failed: " << err;
  auto st = again->fs().statfs();
  ASSERT_TRUE(st.ok());
  totals->replayed += st.value().replayed_at_mount;
  Tree on_disk;
  std::string why;
  ASSERT_TRUE(read_tree(*again, "/", &on_disk, &why)) << why;
  ASSERT_TRUE(again->fs().sync().ok());
  again.reset();

  auto report = check(disk.bdev(), CheckOptions{});
  ASSERT_TRUE(report.clean()) << "after a " << name(kind) << " crash: " << findings(report);

  auto allowed = w.allowed(interrupted);
  bool found = false;
  for (const auto& t : allowed) found = found || t == on_disk;
  EXPECT_TRUE(found) << "after a " << name(kind) << " crash the tree is none of the " << allowed.size()
                     << " states since the last fsync.\nOn disk:\n"
                     << describe(on_disk) << "Last durable:\n"
                     << describe(allowed.front()) << "Latest:\n"
                     << describe(allowed.back());
  totals->operations += w.operations();
  ++totals->points;
}

TEST(FsCrash, EveryCrashPointRecoversCleanAndLosesNothingAcknowledged) {
  std::string err;
  // A 16 MiB simulated NVMe drive behind the block shadow.
  auto disk = Disk::open("sim:nvme,lba=4096,blocks=4096", DiskOptions{}, &err);
  ASSERT_TRUE(disk) << err;
  const uint64_t first = env_or("RL_FS_CRASH_FIRST", 0);
  const uint64_t points = env_or("RL_FS_CRASH_POINTS", 1000);
  Totals t;
  for (uint64_t seed = first; seed < first + points; ++seed) {
    crash_point(*disk, seed, &t);
    if (HasFatalFailure() || HasNonfatalFailure()) break;
  }
  EXPECT_EQ(t.points, points);
  // The injections really happened (a plan that never fires proves nothing).
  EXPECT_GT(t.fs_faults, points / 6);
  EXPECT_GT(t.nvme_faults, points / 6);
  EXPECT_GT(t.replayed, 0u);
  printf("%lu crash points: %lu fs faults, %lu NVMe driver faults (recovered by the shadow: %lu), "
         "%lu kills; %lu operations; %lu blocks replayed from the log at remount\n",
         static_cast<unsigned long>(t.points), static_cast<unsigned long>(t.fs_faults),
         static_cast<unsigned long>(t.nvme_faults), static_cast<unsigned long>(disk->shadow()->recoveries()),
         static_cast<unsigned long>(t.kills), static_cast<unsigned long>(t.operations),
         static_cast<unsigned long>(t.replayed));
}

}  // namespace
}  // namespace rl::fs
