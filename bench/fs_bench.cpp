// rl-bench-fs: rlfs on a simulated NVMe drive, through the fs domain and
// linked in directly, with Linux in the same run as a reference (not a
// target): ext4 on a loop device whose image lives in tmpfs (the same size),
// or a tmpfs directory where loop devices are unavailable.
//
// Workloads, through the same POSIX calls on each side:
//   create   1,000 files of 4 KiB in 10 directories (open O_CREAT, write, close), then sync
//   read     each of them (open, read, close)
//   delete   each of them (unlink), then sync
//   seqwrite a 64 MiB file in 1 MiB writes, then fsync
//   seqread  the file in 1 MiB reads
// Rounds alternate the three sides; each phase reports the median, the
// spread (min-max) and TSC ticks per operation, and the ratios.  The NVMe
// model copies data like a RAM disk, so both sides pay memory copies, not
// flash latency.
//
// Takes Google Benchmark's --benchmark_repetitions=N as the number of rounds
// (so ./redleaf bench runs it); --rounds N, --files N, --seq-mib N.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "domains/fs/disk.hpp"
#include "domains/fs/mkfs.hpp"
#include "domains/fs/mount.hpp"
#include "libredleaf/posix/posix.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  int rounds = 5;
  int files = 1000;
  int seq_mib = 64;
  uint64_t disk_mib = 256;
};

// The calls a workload makes, on Linux or on a Process.
struct Calls {
  std::function<int(const char*, int, mode_t)> open;
  std::function<int(int)> close;
  std::function<ssize_t(int, void*, size_t)> read;
  std::function<ssize_t(int, const void*, size_t)> write;
  std::function<int(int)> fsync;
  std::function<int(const char*, mode_t)> mkdir;
  std::function<int(const char*)> unlink;
  std::function<int()> sync;
};

[[noreturn]] void die(const std::string& what) {
  fprintf(stderr, "rl-bench-fs: %s\n", what.c_str());
  std::exit(1);
}

void must(bool ok, const std::string& what) {
  if (!ok) die(what + ": " + strerror(errno));
}

// One phase's result: operations (or bytes), seconds, ticks.
struct Sample {
  double per_second;
  double ticks_per_op;
};

template <class F>
Sample timed(double ops, F&& body) {
  const auto t0 = Clock::now();
  const uint64_t c0 = __rdtsc();
  body();
  const uint64_t c1 = __rdtsc();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return {ops / s, static_cast<double>(c1 - c0) / ops};
}

std::map<std::string, Sample> run_workload(const Calls& c, const std::string& root, const Config& cfg) {
  std::map<std::string, Sample> out;
  std::vector<char> small(4096, 'x');
  auto name = [&](int i) { return root + "/d" + std::to_string(i % 10) + "/f" + std::to_string(i); };
  for (int d = 0; d < 10; ++d) must(c.mkdir((root + "/d" + std::to_string(d)).c_str(), 0755) == 0, "mkdir");
  must(c.sync() == 0, "sync");

  out["create"] = timed(cfg.files, [&] {
    for (int i = 0; i < cfg.files; ++i) {
      int fd = c.open(name(i).c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
      must(fd >= 0, "create " + name(i));
      must(c.write(fd, small.data(), small.size()) == 4096, "write");
      c.close(fd);
    }
    must(c.sync() == 0, "sync");
  });
  out["read"] = timed(cfg.files, [&] {
    for (int i = 0; i < cfg.files; ++i) {
      int fd = c.open(name(i).c_str(), O_RDONLY, 0);
      must(fd >= 0, "open " + name(i));
      must(c.read(fd, small.data(), small.size()) == 4096, "read");
      c.close(fd);
    }
  });
  out["delete"] = timed(cfg.files, [&] {
    for (int i = 0; i < cfg.files; ++i) must(c.unlink(name(i).c_str()) == 0, "unlink " + name(i));
    must(c.sync() == 0, "sync");
  });

  std::vector<char> mib(1 << 20);
  for (std::size_t i = 0; i < mib.size(); ++i) mib[i] = static_cast<char>(i * 7);
  const std::string big = root + "/big";
  out["seqwrite"] = timed(cfg.seq_mib, [&] {
    int fd = c.open(big.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    must(fd >= 0, "create " + big);
    for (int i = 0; i < cfg.seq_mib; ++i) must(c.write(fd, mib.data(), mib.size()) == (1 << 20), "write 1 MiB");
    must(c.fsync(fd) == 0, "fsync");
    c.close(fd);
  });
  out["seqread"] = timed(cfg.seq_mib, [&] {
    int fd = c.open(big.c_str(), O_RDONLY, 0);
    must(fd >= 0, "open " + big);
    for (int i = 0; i < cfg.seq_mib; ++i) must(c.read(fd, mib.data(), mib.size()) == (1 << 20), "read 1 MiB");
    c.close(fd);
  });
  must(c.unlink(big.c_str()) == 0, "unlink big");
  return out;   // the directories stay: Linux's go with its round directory, ours with the next format
}

Calls linux_calls(const std::string& root) {
  Calls c;
  c.open = [](const char* p, int f, mode_t m) { return ::open(p, f, m); };
  c.close = [](int fd) { return ::close(fd); };
  c.read = [](int fd, void* b, size_t n) { return ::read(fd, b, n); };
  c.write = [](int fd, const void* b, size_t n) { return ::write(fd, b, n); };
  c.fsync = [](int fd) { return ::fsync(fd); };
  c.mkdir = [](const char* p, mode_t m) { return ::mkdir(p, m); };
  c.unlink = [](const char* p) { return ::unlink(p); };
  c.sync = [root] {   // syncfs: this file system only, like Process::sync
    int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY);
    int r = fd >= 0 ? ::syncfs(fd) : -1;
    if (fd >= 0) ::close(fd);
    return r;
  };
  return c;
}

Calls process_calls(rl::posix::Process& p) {
  Calls c;
  c.open = [&p](const char* path, int f, mode_t m) { return p.open(path, f, m); };
  c.close = [&p](int fd) { return p.close(fd); };
  c.read = [&p](int fd, void* b, size_t n) { return p.read(fd, b, n); };
  c.write = [&p](int fd, const void* b, size_t n) { return p.write(fd, b, n); };
  c.fsync = [&p](int fd) { return p.fsync(fd); };
  c.mkdir = [&p](const char* path, mode_t m) { return p.mkdir(path, m); };
  c.unlink = [&p](const char* path) { return p.unlink(path); };
  c.sync = [&p] { return p.sync(); };
  return c;
}

// Linux's side: ext4 on a loop device over a tmpfs image, else a tmpfs directory.
struct LinuxSide {
  std::string scratch, image, mountpoint, label;
  bool mounted = false;

  explicit LinuxSide(const Config& cfg) {
    char tmpl[] = "/dev/shm/rl-bench-fs.XXXXXX";
    must(mkdtemp(tmpl) != nullptr, "mkdtemp in /dev/shm");
    scratch = tmpl;
    image = scratch + "/ext4.img";
    mountpoint = scratch + "/mnt";
    must(::mkdir(mountpoint.c_str(), 0755) == 0, "mkdir " + mountpoint);
    std::string why;
    int fd = ::open(image.c_str(), O_CREAT | O_RDWR, 0644);
    if (fd >= 0 && ftruncate(fd, static_cast<off_t>(cfg.disk_mib << 20)) == 0) {
      ::close(fd);
      std::string mk = "mkfs.ext4 -q -F " + image + " >/dev/null 2>&1";
      std::string mnt = "mount -o loop " + image + " " + mountpoint + " 2>/dev/null";
      if (std::system(mk.c_str()) != 0) why = "mkfs.ext4 failed (e2fsprogs missing?)";
      else if (std::system(mnt.c_str()) != 0) why = "mount -o loop failed (not root, or no loop devices)";
      else mounted = true;
    } else {
      if (fd >= 0) ::close(fd);
      why = std::string("cannot create the image: ") + strerror(errno);
    }
    label = mounted ? "ext4 (loop on tmpfs)" : "tmpfs";
    if (!mounted) fprintf(stderr, "rl-bench-fs: Linux reference is a tmpfs directory: %s\n", why.c_str());
  }
  // A fresh directory per round.
  std::string round_dir(int round) {
    std::string d = mountpoint + "/r" + std::to_string(round);
    must(::mkdir(d.c_str(), 0755) == 0, "mkdir " + d);
    return d;
  }
  ~LinuxSide() {
    if (mounted) (void)std::system(("umount " + mountpoint).c_str());
    (void)std::system(("rm -rf " + scratch).c_str());
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& flag) -> std::string {
      if (a.rfind(flag + "=", 0) == 0) return a.substr(flag.size() + 1);
      if (a == flag && i + 1 < argc) return argv[++i];
      return "";
    };
    std::string v;
    if (!(v = value("--benchmark_repetitions")).empty() || !(v = value("--rounds")).empty()) cfg.rounds = std::atoi(v.c_str());
    else if (!(v = value("--files")).empty()) cfg.files = std::atoi(v.c_str());
    else if (!(v = value("--seq-mib")).empty()) cfg.seq_mib = std::atoi(v.c_str());
    else if (a.rfind("--benchmark_", 0) == 0) continue;   // the other Google Benchmark flags
    else {
      fprintf(stderr, "usage: rl-bench-fs [--rounds N] [--files N] [--seq-mib N]\n");
      return 16;
    }
  }
  if (cfg.rounds < 1 || cfg.files < 10 || cfg.seq_mib < 1 || uint64_t(cfg.seq_mib) * 2 > cfg.disk_mib) {
    fprintf(stderr, "rl-bench-fs: --rounds >= 1, --files >= 10, --seq-mib from 1 to %lu\n",
            static_cast<unsigned long>(cfg.disk_mib / 2));
    return 16;
  }

  std::string err;
  const std::string spec = "sim:nvme,lba=4096,blocks=" + std::to_string(cfg.disk_mib * 256);
  auto disk = rl::fs::Disk::open(spec, rl::fs::DiskOptions{}, &err);
  if (!disk) die(err);
  LinuxSide linux_side(cfg);

  const std::vector<std::string> sides = {"domain", "direct", "linux"};
  std::map<std::string, std::map<std::string, std::vector<Sample>>> results;   // side -> phase -> rounds
  for (int round = 0; round < cfg.rounds; ++round) {
    for (const auto& side : sides) {
      std::map<std::string, Sample> r;
      if (side == "linux") {
        const std::string dir = linux_side.round_dir(round);
        r = run_workload(linux_calls(dir), dir, cfg);
      } else {
        if (rl::fs::format(disk->bdev(), rl::fs::FormatOptions{}, &err) != 0) die("format: " + err);
        rl::fs::MountOptions mo;
        mo.through = side;
        auto m = rl::fs::Mount::open(*disk, mo, &err);
        if (!m) die(err);
        rl::posix::Process p(*m);
        r = run_workload(process_calls(p), "", cfg);
      }
      for (auto& [phase, s] : r) results[side][phase].push_back(s);
    }
  }

  printf("rl-bench-fs: %d rounds; rlfs on a %lu MiB simulated NVMe drive (through the block shadow); "
         "Linux: %s\n", cfg.rounds, static_cast<unsigned long>(cfg.disk_mib), linux_side.label.c_str());
  printf("%-9s %-8s %14s %24s %12s\n", "phase", "side", "median", "spread (min-max)", "ticks/op");
  const std::vector<std::pair<std::string, std::string>> phases = {
      {"create", "files/s"}, {"read", "files/s"}, {"delete", "files/s"}, {"seqwrite", "MiB/s"}, {"seqread", "MiB/s"}};
  for (const auto& [phase, unit] : phases) {
    std::map<std::string, double> med;
    for (const auto& side : sides) {
      std::vector<double> v, t;
      for (const auto& s : results[side][phase]) {
        v.push_back(s.per_second);
        t.push_back(s.ticks_per_op);
      }
      med[side] = median(v);
      printf("%-9s %-8s %10.0f %-7s [%9.0f - %9.0f] %12.0f\n", phase.c_str(), side.c_str(), med[side], unit.c_str(),
             *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()), median(t));
    }
    printf("%-9s domain/direct %.2fx   domain/linux %.2fx\n", phase.c_str(), med["domain"] / med["direct"],
           med["domain"] / med["linux"]);
  }
  return 0;
}
