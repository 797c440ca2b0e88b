// The writer the process-kill test kills: over an rlfs image file (the
// simulated NVMe drive's storage is the file), it writes files forever --
// /w/<n> holding a pattern of n -- and prints "durable <n>" after each
// one's fsync returned.  Every other file is written under a temporary name
// and renamed, every third appended to after its fsync, every fourth
// unlinked (and the 200th before each file), so the log carries several kinds of operations when the kill
// lands.
#include <fcntl.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "domains/fs/disk.hpp"
#include "domains/fs/mount.hpp"
#include "libredleaf/posix/posix.hpp"

namespace {

std::string pattern(uint64_t n) {
  std::string s;
  const uint64_t len = 100 + (n * 7919) % 20000;
  for (uint64_t i = 0; s.size() < len; ++i) s += std::to_string(n) + ":" + std::to_string(i) + " ";
  s.resize(len);
  return s;
}

[[noreturn]] void die(const char* what) {
  perror(what);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: kill_writer IMAGE FIRST\n");
    return 16;
  }
  std::string err;
  auto disk = rl::fs::Disk::open(argv[1], rl::fs::DiskOptions{}, &err);
  if (!disk) {
    fprintf(stderr, "kill_writer: %s\n", err.c_str());
    return 1;
  }
  rl::fs::MountOptions mo;
  mo.commit_every = 16;
  auto mount = rl::fs::Mount::open(*disk, mo, &err);
  if (!mount) {
    fprintf(stderr, "kill_writer: %s\n", err.c_str());
    return 1;
  }
  rl::posix::Process p(*mount);
  if (p.mkdir("/w", 0755) != 0 && errno != EEXIST) die("mkdir /w");
  for (uint64_t n = std::strtoull(argv[2], nullptr, 10);; ++n) {
    const std::string path = "/w/" + std::to_string(n), data = pattern(n);
    const std::string tmp = path + ".tmp";
    const bool renamed = n % 2 == 0;   // write-then-rename, as editors do
    int fd = p.open((renamed ? tmp : path).c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) die("open");
    if (p.write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) die("write");
    if (p.fsync(fd) != 0) die("fsync");
    p.close(fd);
    if (renamed) {
      if (p.rename(tmp.c_str(), path.c_str()) != 0) die("rename");
      if (p.sync() != 0) die("sync");
    }
    printf("durable %lu\n", static_cast<unsigned long>(n));
    fflush(stdout);
    if (n % 3 == 0) {   // not synced: may or may not survive, never half
      int a = p.open(path.c_str(), O_WRONLY | O_APPEND);
      if (a < 0 || p.write(a, "appended", 8) != 8) die("append");
      p.close(a);
    }
    if (n % 4 == 3) (void)p.unlink(path.c_str());   // not synced either: gone or whole
    if (n >= 200) (void)p.unlink(("/w/" + std::to_string(n - 200)).c_str());   // the image stays small
  }
}
