// rl-mkfs: writes an empty rlfs on an image file or a block device.
//
//   rl-mkfs [--size 64M] [--inodes N] [-f] IMAGE|SPEC
//
// A missing image file is created with --size (default 64M).  An existing
// rlfs is only overwritten with -f.  Exit status: 0 done, 1 failed, 16 usage.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "domains/fs/disk.hpp"
#include "domains/fs/format.hpp"
#include "domains/fs/mkfs.hpp"

namespace {

constexpr int kFailed = 1;
constexpr int kUsage = 16;
constexpr uint64_t kDefaultSize = 64ull << 20;

int usage(const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "rl-mkfs: %s\n", why.c_str());
  std::fprintf(stderr,
               "usage: rl-mkfs [--size SIZE] [--inodes N] [-f] IMAGE|SPEC\n"
               "  --size SIZE  size of a new image file: bytes or 64M, 1G (at least 4M; default 64M);\n"
               "               with -f an existing image is resized to it\n"
               "  --inodes N   inode slots (default: one per 16 KiB, at least 64)\n"
               "  -f           overwrite an existing rlfs (its files are lost)\n"
               "  IMAGE        an image file, or sim:nvme,..., sim:ram,blocks=N, a PCI address\n");
  return why.empty() ? 0 : kUsage;
}

std::string mib(uint64_t blocks) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f MiB", static_cast<double>(blocks) * rl::fs::disk::kBlockSize / (1 << 20));
  return b;
}

void range(const char* what, uint64_t first, uint64_t n) {
  std::printf("  %-8s blocks %llu-%llu (%llu)\n", what, static_cast<unsigned long long>(first),
              static_cast<unsigned long long>(first + n - 1), static_cast<unsigned long long>(n));
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t size = 0, inodes = 0;
  bool force = false;
  std::string spec;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") return usage("");
    if (a == "-f") {
      force = true;
    } else if (a == "--size") {
      if (i + 1 >= argc) return usage("--size needs a value, e.g. --size 64M");
      const std::string v = argv[++i];
      if (!rl::fs::parse_size(v, &size)) return usage("--size " + v + ": expected bytes or a number with K, M or G");
      if (size < rl::fs::disk::kMinBlocks * rl::fs::disk::kBlockSize)
        return usage("--size " + v + ": rlfs needs at least 4M");
      if (size % rl::fs::disk::kBlockSize != 0) return usage("--size " + v + ": must be a multiple of 4096 bytes");
    } else if (a == "--inodes") {
      if (i + 1 >= argc) return usage("--inodes needs a value");
      const std::string v = argv[++i];
      char* end = nullptr;
      errno = 0;
      unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end || errno || n < 1 || n > UINT32_MAX)
        return usage("--inodes " + v + ": expected a number from 1 to " + std::to_string(UINT32_MAX));
      inodes = n;
    } else if (a.size() > 1 && a[0] == '-') {
      return usage("unknown option " + a);
    } else if (!spec.empty()) {
      return usage("one image at a time: got " + spec + " and " + a);
    } else {
      spec = a;
    }
  }
  if (spec.empty()) return usage("no image or device given");

  rl::fs::DiskOptions dopt;
  if (!rl::fs::is_device_spec(spec)) {
    struct stat st{};
    if (stat(spec.c_str(), &st) != 0) {
      if (errno != ENOENT) {
        std::fprintf(stderr, "rl-mkfs: %s: %s\n", spec.c_str(), std::strerror(errno));
        return kFailed;
      }
      dopt.create_bytes = size ? size : kDefaultSize;
    } else if (size != 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) != size) {
      if (!force) {
        std::fprintf(stderr, "rl-mkfs: %s exists with %lld bytes, not --size %llu: give -f to resize and overwrite it\n",
                     spec.c_str(), static_cast<long long>(st.st_size), static_cast<unsigned long long>(size));
        return kFailed;
      }
      if (truncate(spec.c_str(), static_cast<off_t>(size)) != 0) {
        std::fprintf(stderr, "rl-mkfs: cannot resize %s: %s\n", spec.c_str(), std::strerror(errno));
        return kFailed;
      }
    }
  } else if (size != 0) {
    return usage("--size applies to image files: a device's size is its own");
  }

  std::string err;
  auto disk = rl::fs::Disk::open(spec, dopt, &err);
  if (!disk) {
    std::fprintf(stderr, "rl-mkfs: %s\n", err.c_str());
    return kFailed;
  }
  if (!force && rl::fs::has_rlfs(disk->bdev())) {
    std::fprintf(stderr, "rl-mkfs: %s already holds an rlfs: give -f to overwrite it (its files are lost)\n",
                 spec.c_str());
    return kFailed;
  }
  rl::fs::FormatOptions fopt;
  fopt.inodes = inodes;
  if (rl::fs::format(disk->bdev(), fopt, &err) != 0) {
    std::fprintf(stderr, "rl-mkfs: %s: %s\n", spec.c_str(), err.c_str());
    return kFailed;
  }
  const auto sb = rl::fs::disk::layout(disk->blocks(), inodes);
  std::printf("rl-mkfs: %s: rlfs, %llu blocks of 4096 bytes (%s), %llu inodes\n", spec.c_str(),
              static_cast<unsigned long long>(sb.blocks), mib(sb.blocks).c_str(),
              static_cast<unsigned long long>(sb.inodes - 1));
  range("log", sb.log_start, sb.log_blocks);
  range("inodes", sb.inode_start, sb.inode_blocks);
  range("bitmap", sb.bitmap_start, sb.bitmap_blocks);
  range("data", sb.data_start, sb.blocks - sb.data_start);
  return 0;
}
