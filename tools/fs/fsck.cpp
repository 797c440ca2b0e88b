// rl-fsck: checks (and repairs) an rlfs, e2fsck style.
//
//   rl-fsck [-n | -y | -p] [-v] [-f] [--through shadow|domain] IMAGE|SPEC
//
// Exit status as e2fsck's: 0 clean, 1 errors corrected, 4 errors left
// uncorrected, 8 operational error, 16 usage error.
#include <cstdio>
#include <cstring>
#include <string>

#include "domains/fs/disk.hpp"
#include "tools/fs/check.hpp"

namespace {

constexpr int kUsage = 16;
constexpr int kOperational = 8;
// Without -v, this many findings are listed; the count covers the rest.
constexpr std::size_t kListed = 50;

int usage(const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "rl-fsck: %s\n", why.c_str());
  std::fprintf(stderr,
               "usage: rl-fsck [-n | -y | -p] [-v] [-f] [--through shadow|domain] IMAGE|SPEC\n"
               "  -n      check only, change nothing (the default)\n"
               "  -y, -p  repair what can be repaired (-a: as -p)\n"
               "  -v      list every finding and note\n"
               "  -f      accepted for e2fsck habits: the check is always full\n"
               "  IMAGE   an image file (rl-mkfs makes one), or sim:nvme,..., sim:ram,blocks=N, a PCI address\n"
               "exit: 0 clean, 1 errors corrected, 4 errors left, 8 operational error, 16 usage error\n");
  return why.empty() ? 0 : kUsage;
}

}  // namespace

int main(int argc, char** argv) {
  rl::fs::CheckOptions opt;
  bool check_only = false;
  std::string through = "shadow", spec;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") return usage("");
    if (a == "-n") check_only = true;
    else if (a == "-y" || a == "-p" || a == "-a") opt.repair = true;
    else if (a == "-v") opt.verbose = true;
    else if (a == "-f") {
    } else if (a == "--through") {
      if (i + 1 >= argc) return usage("--through needs a value: shadow or domain");
      through = argv[++i];
      if (through != "shadow" && through != "domain") return usage("--through " + through + ": use shadow or domain");
    } else if (a.size() > 1 && a[0] == '-') {
      return usage("unknown option " + a);
    } else if (!spec.empty()) {
      return usage("one device at a time: got " + spec + " and " + a);
    } else {
      spec = a;
    }
  }
  if (spec.empty()) return usage("no image or device given");
  if (check_only && opt.repair) return usage("-n and -y/-p contradict each other: choose one");

  std::string err;
  rl::fs::DiskOptions dopt;
  dopt.through = through;
  auto disk = rl::fs::Disk::open(spec, dopt, &err);
  if (!disk) {
    std::fprintf(stderr, "rl-fsck: %s\n", err.c_str());
    return kOperational;
  }
  const rl::fs::CheckReport r = rl::fs::check(disk->bdev(), opt);
  if (!r.fatal.empty()) {
    std::fprintf(stderr, "rl-fsck: %s: %s\n", spec.c_str(), r.fatal.c_str());
    return kOperational;
  }
  for (const auto& n : r.notes) std::printf("rlfs: %s\n", n.c_str());
  std::size_t listed = 0;
  for (const auto& f : r.findings) {
    if (!opt.verbose && listed == kListed) break;
    ++listed;
    if (opt.verbose) std::printf("rlfs: [%s] %s\n", rl::fs::to_string(f.problem), f.what.c_str());
    else std::printf("rlfs: %s\n", f.what.c_str());
  }
  if (listed < r.findings.size())
    std::printf("rlfs: ... and %zu more (-v lists them all)\n", r.findings.size() - listed);

  const std::string usage_line = std::to_string(r.inodes_used) + "/" + std::to_string(r.inodes) + " files, " +
                                 std::to_string(r.blocks_used) + "/" + std::to_string(r.blocks) + " blocks";
  const int code = r.exit_code();
  if (code == 0) {
    std::printf("rlfs: clean, %s\n", usage_line.c_str());
  } else if (r.blocks == 0) {
    // The check stopped early (a damaged superblock or root): no usage to show.
    std::printf("rlfs: %zu error(s) left uncorrected: the file system cannot be checked further\n", r.unrepaired());
  } else if (code == 1) {
    std::printf("rlfs: %s\nrlfs: %zu error(s) corrected: FILE SYSTEM WAS MODIFIED\n", usage_line.c_str(),
                r.findings.size());
  } else {
    std::printf("rlfs: %s\nrlfs: %zu error(s) left uncorrected%s\n", usage_line.c_str(), r.unrepaired(),
                opt.repair ? "" : ": run rl-fsck -y to repair");
  }
  return code;
}
