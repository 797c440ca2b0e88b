// Mount: the fs domain (fs.so) over a Disk, for trusted code -- or, for
// comparisons, the same file system code linked in without a domain.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "domains/fs/disk.hpp"
#include "idl/fs.rl.hpp"

namespace rl::fs {

struct MountOptions {
  uint32_t cache_blocks = 0;        // FsInit's
  uint32_t commit_every = 0;
  uint64_t fault_before_write = 0;
  std::string through = "domain";   // "domain": fs.so, its crashes contained; "direct": linked in
};

// A path for the FileSystem calls.  `len` is the string's length even past
// kPathMax (only the bytes that fit are copied), so the domain's own length
// check can be exercised.
inline RRef<Path> make_path(std::string_view s) {
  auto p = RRef<Path>::make();
  std::memcpy(p->bytes.data(), s.data(), std::min<std::size_t>(s.size(), kPathMax));
  p->len = static_cast<uint32_t>(s.size());
  return p;
}

class Mount {
 public:
  // Mounts the rlfs on `disk` (which must outlive the Mount): replays its
  // log.  Fails with the reason when there is no rlfs or a damaged one.
  static std::unique_ptr<Mount> open(Disk& disk, const MountOptions& options, std::string* error);
  ~Mount();
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  // Ask for it at each call: recover() may replace it.
  FileSystem& fs() noexcept { return *fs_; }
  Domain* domain() noexcept { return loaded_.domain.get(); }   // null when direct
  Disk& disk() noexcept { return disk_; }

  // After a call failed with RpcError (the fs domain crashed): restarts the
  // domain, which mounts again -- the log replays what was committed; what
  // was not is gone, as after a power cut.  An injected fault
  // (fault_before_write) is not armed again.
  bool recover(std::string* error);
  uint64_t recoveries() const noexcept { return recoveries_; }

 private:
  explicit Mount(Disk& d) : disk_(d) {}

  Disk& disk_;
  FsInit init_{};
  Loaded<FileSystemProxy> loaded_;
  std::unique_ptr<FileSystem> direct_;
  FileSystem* fs_ = nullptr;
  uint64_t recoveries_ = 0;
};

}  // namespace rl::fs
