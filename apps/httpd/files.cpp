#include "apps/httpd/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace rl::httpd {

namespace {

struct ExtensionType {
  std::string_view extension;  // lowercase, without the dot
  std::string_view type;
};
constexpr ExtensionType kTypes[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},  // RFC 9239
    {"json", "application/json"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"svg", "image/svg+xml"},
    {"ico", "image/x-icon"},
    {"pdf", "application/pdf"},
    {"wasm", "application/wasm"},  // browsers compile streamed wasm only with this type
};
constexpr std::string_view kDefaultType = "application/octet-stream";

// Closes on scope exit.
class Fd {
 public:
  Fd(FileSource& source, int fd) : source_(&source), fd_(fd) {}
  Fd(Fd&& other) noexcept : source_(other.source_), fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(source_, other.source_);
    std::swap(fd_, other.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) source_->close(fd_);
  }
  int get() const { return fd_; }

 private:
  FileSource* source_;
  int fd_;
};

// Errors that mean "there is no file for you here"; anything else is the
// disk or the process failing, which the operator should hear about.
bool means_not_found(int error) {
  return error == ENOENT || error == ENOTDIR || error == ELOOP || error == EACCES || error == EPERM ||
         error == ENAMETOOLONG || error == ENXIO || error == ENODEV;
}

// No empty, "." or ".." segment, no NUL: what resolve_target() produces.
// Checked again here so the store is safe whoever calls it.
bool is_clean_relative_path(std::string_view path) {
  if (path.empty() || path.find('\0') != std::string_view::npos) return false;
  while (true) {
    const std::size_t slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

// Linux: opens root/relative one segment at a time; O_NOFOLLOW on every
// segment means no symlink below the root is followed, and the walk can only
// go down because the path has no "..".  The last segment is opened with
// O_NONBLOCK so a FIFO cannot stall the server, and O_NOCTTY in case of a tty.
class LinuxFiles final : public FileSource {
 public:
  int open_beneath(const std::string& root, std::string_view relative) override {
    int dir = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    std::string segment;
    while (dir >= 0) {
      const std::size_t slash = relative.find('/');
      segment.assign(relative.substr(0, slash));
      const bool last = slash == std::string_view::npos;
      const int next = ::openat(dir, segment.c_str(),
                                last ? O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC
                                     : O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      const int saved = errno;   // close() could change it
      ::close(dir);
      errno = saved;
      if (last || next < 0) return next;
      dir = next;
      relative.remove_prefix(slash + 1);
    }
    return -1;
  }
  int open_directory(const std::string& path) override { return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); }
  int fstat(int fd, struct stat* st) override { return ::fstat(fd, st); }
  ssize_t read(int fd, void* buf, std::size_t count) override { return ::read(fd, buf, count); }
  int close(int fd) override { return ::close(fd); }
};

FileStatus open_beneath(FileSource& source, const std::string& root, std::string_view relative, Fd* file,
                        int* error) {
  *file = Fd(source, source.open_beneath(root, relative));
  if (file->get() >= 0) return FileStatus::Found;
  *error = errno;
  return means_not_found(*error) ? FileStatus::NotFound : FileStatus::Error;
}

bool same_time(const timespec& a, const timespec& b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }

}  // namespace

FileSource& linux_files() {
  static LinuxFiles files;
  return files;
}

std::string_view content_type_for(std::string_view path) {
  const std::string_view name = path.substr(path.rfind('/') + 1);  // npos + 1 == 0
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return kDefaultType;  // ".htaccess" has no extension
  const std::string_view extension = name.substr(dot + 1);
  for (const ExtensionType& t : kTypes) {
    if (t.extension.size() != extension.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < extension.size() && same; ++i) {
      const char c = extension[i];
      same = (c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c) == t.extension[i];
    }
    if (same) return t.type;
  }
  return kDefaultType;
}

std::int64_t monotonic_ms() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

FileStore::FileStore(FileStoreOptions options) : options_(std::move(options)) {
  if (!options_.log)
    options_.log = [](std::string_view line) {
      std::fprintf(stderr, "rl-httpd: %.*s\n", static_cast<int>(line.size()), line.data());
    };
}

void FileStore::log(const std::string& line) const { options_.log(line); }

std::string FileStore::check_root() const {
  if (!has_root()) return {};
  const Fd dir(source(), source().open_directory(options_.root));
  if (dir.get() < 0) return "cannot open the document root " + options_.root + ": " + std::strerror(errno);
  return {};
}

FileLookup FileStore::get(std::string_view relative_path, std::int64_t now_ms) {
  if (!has_root() || !is_clean_relative_path(relative_path)) return {};
  const auto answer = [](const Entry& e) {
    if (!e.content) return FileLookup{FileStatus::TooLarge, nullptr, {}};
    return FileLookup{FileStatus::Found, e.content, e.content_type};
  };
  auto cached = cache_.find(relative_path);
  if (cached != cache_.end() && now_ms - cached->second.checked_ms < options_.revalidate_ms)
    return answer(cached->second);

  const auto forget = [&] {
    if (cached == cache_.end()) return;
    if (cached->second.content) cached_bytes_ -= cached->second.content->size();
    cache_.erase(cached);
  };
  const std::string full_path = options_.root + "/" + std::string(relative_path);
  Fd file(source(), -1);
  int error = 0;
  const FileStatus opened = open_beneath(source(), options_.root, relative_path, &file, &error);
  if (opened != FileStatus::Found) {
    if (opened == FileStatus::Error) log("cannot open " + full_path + ": " + std::strerror(error));
    forget();
    return {opened, nullptr, {}};
  }
  struct stat st {};
  if (source().fstat(file.get(), &st) != 0) {
    log("cannot stat " + full_path + ": " + std::strerror(errno));
    forget();
    return {FileStatus::Error, nullptr, {}};
  }
  if (!S_ISREG(st.st_mode)) {
    forget();
    return {S_ISDIR(st.st_mode) ? FileStatus::Directory : FileStatus::NotFound, nullptr, {}};
  }

  if (cached != cache_.end()) {
    Entry& e = cached->second;
    if (e.device == st.st_dev && e.inode == st.st_ino && e.size == st.st_size &&
        same_time(e.modified, st.st_mtim) && same_time(e.changed, st.st_ctim)) {
      e.checked_ms = now_ms;
      return answer(e);
    }
    forget();
  }

  Entry fresh;
  fresh.content_type = content_type_for(relative_path);
  fresh.device = st.st_dev;
  fresh.inode = st.st_ino;
  fresh.size = st.st_size;
  fresh.modified = st.st_mtim;
  fresh.changed = st.st_ctim;
  fresh.checked_ms = now_ms;
  if (static_cast<std::uint64_t>(st.st_size) > options_.max_file_size) {
    // Logged once per version of the file: the entry remembers it.
    log(full_path + " is " + std::to_string(st.st_size) + " bytes, over the " +
        std::to_string(options_.max_file_size) + "-byte limit (max_file_size); answering 500");
    cache_.emplace(std::string(relative_path), std::move(fresh));
    return {FileStatus::TooLarge, nullptr, {}};
  }

  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = source().read(file.get(), data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      log("cannot read " + full_path + ": " + std::strerror(errno));
      return {FileStatus::Error, nullptr, {}};
    }
    if (n == 0) break;  // shrank while we read: serve what is there; the size check reloads it later
    got += static_cast<std::size_t>(n);
  }
  data.resize(got);
  ++files_read_;
  fresh.content = std::make_shared<const std::string>(std::move(data));
  const FileLookup found{FileStatus::Found, fresh.content, fresh.content_type};
  if (cached_bytes_ + fresh.content->size() <= options_.max_cache_bytes) {
    cached_bytes_ += fresh.content->size();
    cache_.emplace(std::string(relative_path), std::move(fresh));
  }
  return found;
}

}  // namespace rl::httpd
