// rl-httpd's static file store: files under one root directory, read into
// memory once and served from there (a hot 1 KiB file is served 80K+ times a
// second; an open and a read per request would cost more than the rest of
// the request).  A cached file is checked against the disk at most once per
// `revalidate_ms`; the caller passes the clock, so tests control it.
//
// Nothing outside the root is ever opened: the path is walked one segment at
// a time with openat(O_NOFOLLOW) from the root, so a symlink anywhere below
// the root is refused (like nginx's "disable_symlinks on"), even one that
// points inside.  We chose this over realpath() + a prefix check because that
// check and the later open() race with anyone who can swap a directory for a
// symlink; the walk has no gap.  The root itself may be a symlink: the
// operator chose it.
//
// Files above `max_file_size` are not served (500, and one log line when
// first seen or changed): keeping whole files in memory is what makes small
// files fast, and large downloads are not this server's job.
//
// Not thread-safe: one FileStore per server thread.  Served content is
// shared and immutable, so a response can outlive a cache update.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rl::httpd {

// Where the files are: Linux's file system (the default), or another one
// offering the same calls -- rl-httpd --root rlfs:/www serves an rlfs image
// through the POSIX subset (apps/httpd/rlfs_source.hpp).
class FileSource {
 public:
  virtual ~FileSource() = default;
  // Opens root/relative for reading without ever leaving the root; -1 and errno otherwise.
  virtual int open_beneath(const std::string& root, std::string_view relative) = 0;
  virtual int open_directory(const std::string& path) = 0;
  virtual int fstat(int fd, struct stat* st) = 0;
  virtual ssize_t read(int fd, void* buf, std::size_t count) = 0;
  virtual int close(int fd) = 0;
};
FileSource& linux_files();

struct FileStoreOptions {
  std::string root;                           // "" = no directory: only the built-in page
  std::size_t max_file_size = 8 << 20;        // larger files answer 500
  std::size_t max_cache_bytes = 256 << 20;    // past it, files are read per request, not cached
  std::int64_t revalidate_ms = 1000;          // check a cached file against the disk this often
  std::function<void(std::string_view)> log;  // one line, no newline; default: stderr
  FileSource* source = nullptr;               // default: linux_files()
};

enum class FileStatus : std::uint8_t {
  Found,
  NotFound,   // missing, not a regular file or directory, unreadable, or reached through a symlink
  Directory,  // a directory: the caller redirects to ".../" or looks up its index.html
  TooLarge,   // over max_file_size
  Error,      // the disk failed us (EMFILE, EIO, ...): logged, answer 500
};

struct FileLookup {
  FileStatus status = FileStatus::NotFound;
  std::shared_ptr<const std::string> content;  // when Found
  std::string_view content_type;               // when Found
};

// "text/html; charset=utf-8" for "a/index.html"; by extension, any case.
std::string_view content_type_for(std::string_view path);

// CLOCK_MONOTONIC in milliseconds, for FileStore::get.
std::int64_t monotonic_ms();

class FileStore {
 public:
  explicit FileStore(FileStoreOptions options = {});

  // Empty when the store can serve: no root was given, or the root is a
  // directory we can open.  Otherwise the reason, for the server to print
  // before it exits.
  std::string check_root() const;
  bool has_root() const { return !options_.root.empty(); }

  // `relative_path` is relative to the root, segments separated by one "/"
  // (what resolve_target() gives); a path with an empty, "." or ".."
  // segment or a NUL is NotFound.
  FileLookup get(std::string_view relative_path, std::int64_t now_ms);

  std::uint64_t files_read() const { return files_read_; }  // reads from disk so far
  std::size_t cached_bytes() const { return cached_bytes_; }

 private:
  struct Entry {
    std::shared_ptr<const std::string> content;  // null when too large
    std::string_view content_type;
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    timespec modified{}, changed{};  // mtime, and ctime for in-place rewrites that keep mtime
    std::int64_t checked_ms = 0;
  };
  struct PathHash {  // lets get() look a string_view up without making a std::string
    using is_transparent = void;
    std::size_t operator()(std::string_view path) const { return std::hash<std::string_view>{}(path); }
  };
  void log(const std::string& line) const;
  FileSource& source() const { return options_.source ? *options_.source : linux_files(); }

  FileStoreOptions options_;
  std::unordered_map<std::string, Entry, PathHash, std::equal_to<>> cache_;
  std::size_t cached_bytes_ = 0;
  std::uint64_t files_read_ = 0;
};

}  // namespace rl::httpd
