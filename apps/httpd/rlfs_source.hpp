// rl-httpd --root rlfs:/DIR --fs IMAGE: the document root inside an rlfs
// image, read through the POSIX subset (libredleaf/posix) over the fs domain
// over the NVMe driver domain behind its shadow.
#pragma once

#include <fcntl.h>

#include <memory>
#include <string>

#include "apps/httpd/files.hpp"
#include "domains/fs/disk.hpp"
#include "domains/fs/mount.hpp"
#include "libredleaf/posix/posix.hpp"

namespace rl::httpd {

class RlfsSource final : public FileSource {
 public:
  // Over a Process the caller owns and keeps using: the demo writes the
  // files it serves through the same Process and Mount, so a
  // remount after an fs crash is seen by both at once.
  explicit RlfsSource(posix::Process& process) : posix_(&process) {}
  // `image`: an rlfs image file or device spec (see rl::fs::Disk::open); the
  // source owns the disk, the mount and the Process.
  static std::unique_ptr<RlfsSource> open(const std::string& image, std::string* error);

  // rlfs has no symbolic links, so the root cannot be left through one: the
  // path is opened in one call.
  int open_beneath(const std::string& root, std::string_view relative) override {
    return posix_->open((root + "/" + std::string(relative)).c_str(), O_RDONLY);
  }
  int open_directory(const std::string& path) override { return posix_->open(path.c_str(), O_RDONLY | O_DIRECTORY); }
  int fstat(int fd, struct stat* st) override { return posix_->fstat(fd, st); }
  ssize_t read(int fd, void* buf, std::size_t count) override { return posix_->read(fd, buf, count); }
  int close(int fd) override { return posix_->close(fd); }

 private:
  RlfsSource() = default;

  // Only when open() made them; destroyed in reverse: Process, Mount, Disk.
  std::unique_ptr<fs::Disk> disk_;
  std::unique_ptr<fs::Mount> mount_;
  std::unique_ptr<posix::Process> owned_;
  posix::Process* posix_ = nullptr;
};

inline std::unique_ptr<RlfsSource> RlfsSource::open(const std::string& image, std::string* error) {
  std::unique_ptr<RlfsSource> s(new RlfsSource);
  s->disk_ = fs::Disk::open(image, fs::DiskOptions{}, error);
  if (!s->disk_) return nullptr;
  s->mount_ = fs::Mount::open(*s->disk_, fs::MountOptions{}, error);
  if (!s->mount_) return nullptr;
  s->owned_ = std::make_unique<posix::Process>(*s->mount_);
  s->posix_ = s->owned_.get();
  return s;
}

}  // namespace rl::httpd
