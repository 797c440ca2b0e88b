#include "libredleaf/posix/posix.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>

namespace rl::posix {

namespace {

// As RLIMIT_NOFILE's usual soft limit: open() fails with EMFILE beyond it.
constexpr int kMaxDescriptors = 1024;
// Linux caps one read or write at this many bytes (MAX_RW_COUNT); so do we,
// so that the byte count always fits the ssize_t result.
constexpr size_t kMaxIo = 0x7ffff000;
// A pipe's capacity: Linux's default (16 pages).
constexpr size_t kPipeBytes = 65536;
// st_dev of every file: one file system per Process, any fixed number will do.
constexpr dev_t kDevice = 0x726c;   // "rl"
// The flags the FileSystem interface understands; the others stay here.
constexpr int kFsFlags = O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_DIRECTORY;

}  // namespace

enum class Kind : uint8_t { File, Dir, PipeRead, PipeWrite, Socket };

struct Pipe {
  std::array<uint8_t, kPipeBytes> ring;
  size_t head = 0;   // next byte to read
  size_t used = 0;
  int readers = 0;   // open file descriptions of each end
  int writers = 0;
};

struct OpenFile {
  Kind kind;
  int access = O_RDONLY;       // O_ACCMODE part of the open flags
  bool append = false;
  uint64_t ino = 0;
  uint32_t generation = 0;
  uint64_t offset = 0;
  uint64_t epoch = 0;          // Mount::recoveries() when last known good
  bool counted = true;         // the fs domain counts this open: release() it at the last close
  bool stale = false;          // its inode did not survive a remount: EIO
  std::string path;            // absolute, to open it again after a remount
  std::shared_ptr<Pipe> pipe;
  std::shared_ptr<Socket> sock;
};

struct RL_DIR {
  int fd;
  std::array<struct dirent, fs::kDirPageEntries> entries;
  uint32_t count = 0, pos = 0;
  uint64_t cookie = 0;   // where the next page starts
  bool end = false;      // the fs said there are no more pages
};

namespace {

void fill_stat(const fs::Attr& a, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  st->st_dev = kDevice;
  st->st_ino = a.ino;
  st->st_mode = (a.type == fs::kTypeDir ? S_IFDIR : S_IFREG) | (a.mode & 07777);
  st->st_nlink = a.nlink;
  st->st_uid = getuid();   // one user: whoever runs the program
  st->st_gid = getgid();
  st->st_size = static_cast<off_t>(a.size);
  st->st_blksize = 4096;
  st->st_blocks = static_cast<blkcnt_t>(a.blocks);
  st->st_mtim = {a.mtime_ns / 1000000000, a.mtime_ns % 1000000000};
  st->st_ctim = {a.ctime_ns / 1000000000, a.ctime_ns % 1000000000};
  st->st_atim = st->st_mtim;   // access times are not kept (as noatime)
}

// 0, or the errno a path argument earns before any lookup.
int check_path(const char* path) {
  if (!path) return EFAULT;
  size_t n = strnlen(path, fs::kPathMax);
  if (n == fs::kPathMax) return ENAMETOOLONG;
  if (n == 0) return ENOENT;
  return 0;
}

// "/a/./b/../c" -> "/a/c": only for paths already resolved by the fs, where
// every component is known to be a directory, so ".." is purely lexical.
std::string normalize(const std::string& p) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string c = p.substr(i, j - i);
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!c.empty() && c != ".") {
      parts.push_back(std::move(c));
    }
    i = j + 1;
  }
  std::string out;
  for (auto& c : parts) out += "/" + c;
  return out.empty() ? "/" : out;
}

}  // namespace

Process::Process(fs::Mount& mount) : mount_(mount) { ensure_buffers(); }

Process::~Process() {
  for (auto& d : dirs_) (void)close(d->fd);
  dirs_.clear();
  for (auto& f : fds_)
    if (f) (void)finish(f);
}

bool Process::ensure_buffers() {
  // A call that crashed the fs domain took the buffer it was given with it.
  if (!path_) path_ = RRef<fs::Path>::make();
  if (!path2_) path2_ = RRef<fs::Path>::make();
  if (!data_) data_ = RRef<fs::Data>::make();
  if (!page_) page_ = RRef<fs::DirPage>::make();
  return true;
}

fs::FileSystem* Process::fs() {
  if (lost_) {
    // A remount failed before; try again in case what stopped it is gone.
    std::string err;
    if (!mount_.domain() || !mount_.recover(&err)) return nullptr;
    lost_ = false;
  }
  ensure_buffers();
  return &mount_.fs();
}

template <class R>
bool Process::crashed(const RpcResult<R>& r) {
  if (r.ok()) return false;
  std::string err;
  if (!mount_.recover(&err)) lost_ = true;
  ensure_buffers();
  if (!lost_ && !checking_) {
    // Check every descriptor now, before later calls can reuse the inode
    // numbers of files the crash lost: a generation allocated by a lost
    // transaction can be allocated again, so a later check could be fooled.
    for (auto& f : fds_)
      if (f) revalidate(*f);
  }
  errno = EIO;
  return true;
}

int Process::fail(int err) {
  errno = err;
  return -1;
}

int Process::resolve(const char* path, RRef<fs::Path>& out) {
  if (int e = check_path(path)) return e;
  size_t n = std::strlen(path);
  size_t at = 0;
  if (path[0] != '/') {
    // Relative: below the working directory.
    at = cwd_.size();
    if (at + 1 + n >= fs::kPathMax) return ENAMETOOLONG;
    std::memcpy(out->bytes.data(), cwd_.data(), at);
    if (cwd_.back() != '/') out->bytes[at++] = '/';
  }
  if (at + n >= fs::kPathMax) return ENAMETOOLONG;
  std::memcpy(out->bytes.data() + at, path, n);
  out->len = static_cast<uint32_t>(at + n);
  return 0;
}

int Process::install(FilePtr f, int lowest) {
  for (int fd = lowest; fd < kMaxDescriptors; ++fd) {
    if (fd >= static_cast<int>(fds_.size())) fds_.resize(fd + 1);
    if (!fds_[fd]) {
      fds_[fd] = std::move(f);
      return fd;
    }
  }
  // Nobody holds `f` any more: close it.
  (void)finish(f);
  return fail(EMFILE);
}

Process::FilePtr Process::lookup(int fd, int* err) {
  if (fd < 0 || fd >= static_cast<int>(fds_.size()) || !fds_[fd]) {
    *err = EBADF;
    return nullptr;
  }
  FilePtr f = fds_[fd];
  // Remounted since last seen (by another Process on the same Mount).
  if (f->epoch != mount_.recoveries()) revalidate(*f);
  if (f->stale) {
    *err = EIO;
    return nullptr;
  }
  return f;
}

void Process::revalidate(OpenFile& f) {
  if (f.kind != Kind::File && f.kind != Kind::Dir) return;
  if (f.stale || f.epoch == mount_.recoveries()) return;
  // The remount forgot every open.  Open the same path again to be counted
  // anew; if the path names something else now, the inode may still exist
  // under another name (then it is used uncounted).  Any doubt -- including
  // a crash during this check -- makes the descriptor stale: EIO is better
  // than another file's data.
  f.epoch = mount_.recoveries();
  f.counted = false;
  f.stale = true;
  fs::FileSystem* fsp = fs();
  if (!fsp || resolve(f.path.c_str(), path_) != 0) return;
  checking_ = true;   // a crash in here must not start another round of checks
  auto r = fsp->open(path_, O_RDONLY, 0);
  bool same = false;
  if (!crashed(r) && r->status == 0) {
    same = r->attr.ino == f.ino && r->attr.generation == f.generation;
    if (same) f.counted = true;
    else (void)crashed(fsp->release(r->attr.ino));
  }
  if (!same && f.epoch == mount_.recoveries()) {
    auto a = fsp->getattr(f.ino);
    same = !crashed(a) && a->status == 0 && a->attr.generation == f.generation;
  }
  checking_ = false;
  f.stale = !same || f.epoch != mount_.recoveries();
}

int Process::finish(FilePtr& f) {
  FilePtr mine = std::move(f);
  if (mine.use_count() > 1) return 0;   // another descriptor still shares it
  switch (mine->kind) {
    case Kind::PipeRead: --mine->pipe->readers; return 0;
    case Kind::PipeWrite: --mine->pipe->writers; return 0;
    case Kind::Socket: release_socket(*mine->sock); return 0;
    case Kind::File:
    case Kind::Dir: break;
  }
  // After a remount the fs no longer counts opens from before it.
  if (!mine->counted || mine->stale || mine->epoch != mount_.recoveries()) return 0;
  fs::FileSystem* fsp = fs();
  if (!fsp) return fail(EIO);
  auto r = fsp->release(mine->ino);
  if (crashed(r)) return -1;
  return *r < 0 ? fail(-*r) : 0;
}

int Process::open(const char* path, int flags, mode_t mode) {
  if ((flags & O_ACCMODE) == O_ACCMODE) return fail(EINVAL);
  if (int e = resolve(path, path_)) return fail(e);
  fs::FileSystem* fsp = fs();
  if (!fsp) return fail(EIO);
  auto r = fsp->open(path_, static_cast<uint32_t>(flags & kFsFlags), mode & 07777);
  if (crashed(r)) return -1;
  if (r->status < 0) return fail(-r->status);
  auto f = std::make_shared<OpenFile>();
  f->kind = r->attr.type == fs::kTypeDir ? Kind::Dir : Kind::File;
  f->access = flags & O_ACCMODE;
  f->append = (flags & O_APPEND) != 0;
  f->ino = r->attr.ino;
  f->generation = r->attr.generation;
  f->epoch = mount_.recoveries();
  f->path.assign(path_->bytes.data(), path_->len);
  return install(std::move(f), 0);
}

int Process::close(int fd) {
  if (fd < 0 || fd >= static_cast<int>(fds_.size()) || !fds_[fd]) return fail(EBADF);
  return finish(fds_[fd]);
}

ssize_t Process::read_at(OpenFile& f, void* buf, size_t count, uint64_t offset) {
  fs::FileSystem* fsp = fs();
  if (!fsp) return fail(EIO);
  count = std::min(count, kMaxIo);
  size_t done = 0;
  while (done < count) {
    uint32_t chunk = static_cast<uint32_t>(std::min<size_t>(count - done, fs::kDataBytes));
    data_->len = chunk;
    auto r = fsp->read(f.ino, offset + done, std::move(data_));
    if (crashed(r)) return -1;
    data_ = std::move(*r);
    int32_t got = data_->status;
    if (got < 0) return done > 0 ? static_cast<ssize_t>(done) : fail(-got);
    std::memcpy(static_cast<uint8_t*>(buf) + done, data_->bytes.data(), static_cast<size_t>(got));
    done += static_cast<size_t>(got);
    if (static_cast<uint32_t>(got) < chunk) break;   // end of file
  }
  return static_cast<ssize_t>(done);
}

ssize_t Process::write_at(OpenFile& f, const void* buf, size_t count, uint64_t offset, uint64_t* end) {
  fs::FileSystem* fsp = fs();
  if (!fsp) return fail(EIO);
  count = std::min(count, kMaxIo);
  if (f.append) {
    // O_APPEND: the end of the file at the time of the write (pwrite too, as on Linux).
    auto a = fsp->getattr(f.ino);
    if (crashed(a)) return -1;
    if (a->status < 0) return fail(-a->status);
    offset = a->attr.size;
  }
  size_t done = 0;
  while (done < count) {
    uint32_t chunk = static_cast<uint32_t>(std::min<size_t>(count - done, fs::kDataBytes));
    std::memcpy(data_->bytes.data(), static_cast<const uint8_t*>(buf) + done, chunk);
    data_->len = chunk;
    auto r = fsp->write(f.ino, offset + done, data_);
    if (crashed(r)) return -1;
    int32_t put = *r;
    if (put < 0) {
      if (done == 0) return fail(-put);
      break;   // report what was written
    }
    done += static_cast<size_t>(put);
    if (static_cast<uint32_t>(put) < chunk) break;   // the disk is full
  }
  *end = offset + done;
  return static_cast<ssize_t>(done);
}

ssize_t Process::pipe_read(Pipe& p, void* buf, size_t count) {
  if (count == 0) return 0;
  if (p.used == 0) return p.writers > 0 ? fail(EAGAIN) : 0;
  size_t n = std::min(count, p.used);
  for (size_t i = 0; i < n; ++i) static_cast<uint8_t*>(buf)[i] = p.ring[(p.head + i) % kPipeBytes];
  p.head = (p.head + n) % kPipeBytes;
  p.used -= n;
  return static_cast<ssize_t>(n);
}

ssize_t Process::pipe_write(Pipe& p, const void* buf, size_t count) {
  if (count == 0) return 0;   // before EPIPE, as Linux
  if (p.readers == 0) return fail(EPIPE);
  size_t n = std::min(count, kPipeBytes - p.used);
  // Writes of at most PIPE_BUF bytes are atomic: all or nothing.
  if (n == 0 || (count <= PIPE_BUF && n < count)) return fail(EAGAIN);
  size_t tail = (p.head + p.used) % kPipeBytes;
  for (size_t i = 0; i < n; ++i) p.ring[(tail + i) % kPipeBytes] = static_cast<const uint8_t*>(buf)[i];
  p.used += n;
  return static_cast<ssize_t>(n);
}

ssize_t Process::read(int fd, void* buf, size_t count) {
  int err = 0;
  FilePtr f = lookup(fd, &err);
  if (!f) return fail(err);
  switch (f->kind) {
    case Kind::PipeRead: return pipe_read(*f->pipe, buf, count);
    case Kind::Socket: return socket_read(*f->sock, buf, count, 0);
    case Kind::PipeWrite: return fail(EBADF);
    case Kind::Dir: return fail(EISDIR);
    case Kind::File: break;
  }
  if (f->access == O_WRONLY) return fail(EBADF);
  ssize_t n = read_at(*f, buf, count, f->offset);
  if (n > 0) f->offset += static_cast<uint64_t>(n);
  return n;
}

ssize_t Process::write(int fd, const void* buf, size_t count) {
  int err = 0;
  FilePtr f = lookup(fd, &err);
  if (!f) return fail(err);
  switch (f->kind) {
    case Kind::PipeWrite: return pipe_write(*f->pipe, buf, count);
    case Kind::Socket: return socket_write(*f->sock, buf, count, 0);
    case Kind::PipeRead:
    case Kind::Dir: return fail(EBADF);   // both are open read-only
    case Kind::File: break;
  }
  if (f->access == O_RDONLY) return fail(EBADF);
  // With O_APPEND write_at() writes at the end; either way the offset
  // follows the data written, as on Linux.
  uint64_t end = 0;
  ssize_t n = write_at(*f, buf, count, f->offset, &end);
  if (n > 0) f->offset = end;
  return n;
}

// pread and pwrite: the file behind `fd` if it can take a positioned
// transfer, or -1 with errno as Linux sets it (a directory: EISDIR for
// reads, EBADF for writes).
Process::FilePtr Process::positioned(int fd, off_t offset, int wrong_access, int on_dir) {
  if (offset < 0) {   // Linux checks this before the descriptor
    errno = EINVAL;
    return nullptr;
  }
  int err = 0;
  FilePtr f = lookup(fd, &err);
  if (f) {
    switch (f->kind) {
      case Kind::PipeRead:
      case Kind::PipeWrite:
      case Kind::Socket: err = ESPIPE; break;
      case Kind::Dir: err = on_dir; break;
      case Kind::File: err = f->access == wrong_access ? EBADF : 0; break;
    }
  }
  if (err) {
    errno = err;
    return nullptr;
  }
  return f;
}

ssize_t Process::pread(int fd, void* buf, size_t count, off_t offset) {
  FilePtr f = positioned(fd, offset, O_WRONLY, EISDIR);
  return f ? read_at(*f, buf, count, static_cast<uint64_t>(offset)) : -1;
}

ssize_t Process::pwrite(int fd, const void* buf, size_t count, off_t offset) {
  FilePtr f = positioned(fd, offset, O_RDONLY, EBADF);
  uint64_t end = 0;
  return f ? write_at(*f, buf, count, static_cast<uint64_t>(offset), &end) : -1;
}

off_t Process::lseek(int fd, off_t offset, int whence) {
  int err = 0;
  FilePtr f = lookup(fd, &err);
  if (!f) return fail(err);
  // Linux's order: an unknown whence before a pipe's ESPIPE.
  if (whence < SEEK_SET || whence > SEEK_HOLE) return fail(EINVAL);
  if (f->kind == Kind::PipeRead || f->kind == Kind::PipeWrite || f->kind == Kind::Socket) return fail(ESPIPE);
  off_t base = 0;
  if (whence == SEEK_CUR) base = static_cast<off_t>(f->offset);
  if (whence == SEEK_END || whence == SEEK_DATA || whence == SEEK_HOLE) {
    // As tmpfs: a directory has no end to seek from.
    if (f->kind == Kind::Dir) return fail(EINVAL);
    fs::FileSystem* fsp = fs();
    if (!fsp) return fail(EIO);
    auto a = fsp->getattr(f->ino);
    if (crashed(a)) return -1;
    if (a->status < 0) return fail(-a->status);
    off_t size = static_cast<off_t>(a->attr.size);
    if (whence == SEEK_END) {
      base = size;
    } else {
      // Holes are not reported: the whole file is data, as generic_file_llseek says.
      if (offset < 0) return fail(EINVAL);
      if (offset >= size) return fail(ENXIO);
      f->offset = static_cast<uint64_t>(whence == SEEK_DATA ? offset : size);
      return static_cast<off_t>(f->offset);
    }
  }
  off_t pos = 0;
  if (__builtin_add_overflow(base, offset, &pos) || pos < 0) return fail(EINVAL);
  f->offset = static_cast<uint64_t>(pos);
  return pos;
}

int Process::ftruncate(int fd, off_t length) {
  if (length < 0) return fail(EINVAL);
  int err = 0;
  FilePtr f = lookup(fd, &err);
  if (!f) return fail(err);
  // As Linux: only a regular file open for writing.
  if (f->kind != Kind::File || f->access == O_RDONLY) return fail(EINVAL);
  fs::FileSystem* fsp = fs();
  if (!fsp) return fail(EIO);
  auto r = fsp->truncate(f->ino, static_cast<uint64_t>(length));
  if (crashed(r)) return -1;
  return *r < 0 ? fail(-*r) : 0;
}

int Process::fstat(int fd, struct stat* st) {
  int err = 0;
  FilePtr f = lookup(fd, &err);
  if (!f) return fail(err);
  if (f->kind == Kind::PipeRead || f->kind == Kind::PipeWrite || f->kind == Kind::Socket) {
    std::memset(st, 0, sizeof *st);
    st->st_dev = kDevice;
    // Unique while the pipe or socket lives.
    st->st_ino = f->pipe ? reinterpret_cast<uintptr_t>(f->pipe.get()) : reinterpret_cast<uintptr_t>(f->sock.get());
    st->st_mode = f->pipe ? S_IFIFO | 0600 : S_IFSOCK | 0777;
    st->st_nlink = 1;
    st->st_uid = getuid();
    st->st_gid = getgid();
    st->st_blksize = 4096;
    return 0;
  }
  fs::FileSystem* fsp = fs();
  if (!fsp) return fail(EIO);
  auto a = fsp->getattr(f->ino);
  if (crashed(a)) return -1;
  if (a->status < 0) return fail(-a->status);
  fill_stat(a->attr, st);
  return 0;
}

int Process::stat(const char* path, struct stat* st) {
  if (int e = resolve(path, path_)) return fail(e);
  fs::FileSystem* fsp = fs();
  if (!fsp) return fail(EIO);
  auto a = fsp->stat(path_);
  if (crashed(a)) return -1;
  if (a->status < 0) return fail(-a->status);
  fill_stat(a->attr, st);
  return 0;
}

int Process::fsync(int fd) {
  int err = 0;
  FilePtr f = lookup(fd, &err);
  if (!f) return fail(err);
  if (f->kind == Kind::PipeRead || f->kind == Kind::PipeWrite || f->kind == Kind::Socket) return fail(EINVAL);
  fs::FileSystem* fsp = fs();
  if (!fsp) return fail(EIO);
  auto r = fsp->fsync(f->ino);
  if (crashed(r)) return -1;
  return *r < 0 ? fail(-*r) : 0;
}

int Process::sync() {
  fs::FileSystem* fsp = fs();
  if (!fsp) return fail(EIO);
  auto r = fsp->sync();
  if (crashed(r)) return -1;
  return *r < 0 ? fail(-*r) : 0;
}

// mkdir, rmdir and unlink: one path in, 0 or -errno out.
template <class Call>
int Process::path_call(const char* path, Call&& call) {
  if (int e = resolve(path, path_)) return fail(e);
  fs::FileSystem* fsp = fs();
  if (!fsp) return fail(EIO);
  auto r = call(*fsp);
  if (crashed(r)) return -1;
  return *r < 0 ? fail(-*r) : 0;
}

int Process::mkdir(const char* path, mode_t mode) {
  return path_call(path, [&](fs::FileSystem& f) { return f.mkdir(path_, mode & 07777); });
}

int Process::rmdir(const char* path) {
  return path_call(path, [&](fs::FileSystem& f) { return f.rmdir(path_); });
}

int Process::unlink(const char* path) {
  return path_call(path, [&](fs::FileSystem& f) { return f.unlink(path_); });
}

int Process::rename(const char* from, const char* to) {
  if (int e = resolve(from, path_)) return fail(e);
  if (int e = resolve(to, path2_)) return fail(e);
  fs::FileSystem* fsp = fs();
  if (!fsp) return fail(EIO);
  auto r = fsp->rename(path_, path2_);
  if (crashed(r)) return -1;
  return *r < 0 ? fail(-*r) : 0;
}

RL_DIR* Process::opendir(const char* path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return nullptr;
  auto d = std::make_unique<RL_DIR>();
  d->fd = fd;
  dirs_.push_back(std::move(d));
  return dirs_.back().get();
}

int Process::refill(RL_DIR& d) {
  int err = 0;
  FilePtr f = lookup(d.fd, &err);
  if (!f) return err;
  fs::FileSystem* fsp = fs();
  if (!fsp) return EIO;
  auto r = fsp->readdir(f->ino, d.cookie, std::move(page_));
  if (crashed(r)) return EIO;
  page_ = std::move(*r);
  if (page_->status < 0) return -page_->status;
  d.count = std::min(page_->count, fs::kDirPageEntries);
  d.pos = 0;
  for (uint32_t i = 0; i < d.count; ++i) {
    const fs::DirEntry& e = page_->entries[i];
    struct dirent& out = d.entries[i];
    std::memset(&out, 0, sizeof out);
    out.d_ino = e.ino;
    out.d_type = e.type == fs::kTypeDir ? DT_DIR : DT_REG;
    out.d_reclen = sizeof out;
    size_t n = std::min<size_t>(e.name_len, sizeof out.d_name - 1);
    std::memcpy(out.d_name, e.name.data(), n);
    out.d_name[n] = '\0';
  }
  d.cookie = page_->next;
  d.end = page_->next == 0;
  for (uint32_t i = 0; i < d.count; ++i) d.entries[i].d_off = static_cast<off_t>(d.cookie);
  return 0;
}

struct dirent* Process::readdir(RL_DIR* d) {
  if (!d) {
    errno = EBADF;
    return nullptr;
  }
  // A page may come back empty with more to follow (a directory of holes).
  while (d->pos == d->count) {
    if (d->end) return nullptr;
    if (int e = refill(*d)) {
      errno = e;
      return nullptr;
    }
  }
  return &d->entries[d->pos++];
}

int Process::closedir(RL_DIR* d) {
  auto it = std::find_if(dirs_.begin(), dirs_.end(), [&](const auto& p) { return p.get() == d; });
  if (it == dirs_.end()) return fail(EBADF);
  int fd = d->fd;
  dirs_.erase(it);
  return close(fd);
}

int Process::dirfd(RL_DIR* d) { return d ? d->fd : fail(EINVAL); }

int Process::dup(int fd) {
  if (fd < 0 || fd >= static_cast<int>(fds_.size()) || !fds_[fd]) return fail(EBADF);
  return install(fds_[fd], 0);
}

int Process::dup2(int fd, int newfd) {
  if (fd < 0 || fd >= static_cast<int>(fds_.size()) || !fds_[fd]) return fail(EBADF);
  if (newfd < 0 || newfd >= kMaxDescriptors) return fail(EBADF);
  if (fd == newfd) return newfd;
  if (newfd >= static_cast<int>(fds_.size())) fds_.resize(newfd + 1);
  FilePtr old = std::move(fds_[newfd]);
  fds_[newfd] = fds_[fd];
  if (old) (void)finish(old);   // as dup2(2): errors closing newfd are not reported
  return newfd;
}

int Process::pipe(int fds[2]) {
  auto p = std::make_shared<Pipe>();
  auto r = std::make_shared<OpenFile>();
  r->kind = Kind::PipeRead;
  r->pipe = p;
  auto w = std::make_shared<OpenFile>();
  w->kind = Kind::PipeWrite;
  w->access = O_WRONLY;
  w->pipe = p;
  p->readers = p->writers = 1;
  int rfd = install(std::move(r), 0);
  if (rfd < 0) {
    p->writers = 0;
    return -1;
  }
  int wfd = install(std::move(w), 0);
  if (wfd < 0) {
    int saved = errno;
    (void)close(rfd);
    return fail(saved);
  }
  fds[0] = rfd;
  fds[1] = wfd;
  return 0;
}

int Process::install_socket(std::shared_ptr<Socket> s) {
  auto f = std::make_shared<OpenFile>();
  f->kind = Kind::Socket;
  f->access = O_RDWR;
  f->sock = std::move(s);
  return install(std::move(f), 0);
}

std::shared_ptr<Socket> Process::socket_of(int fd, int* err) {
  FilePtr f = lookup(fd, err);
  if (!f) return nullptr;
  if (f->kind != Kind::Socket) *err = ENOTSOCK;
  return f->sock;
}

const Socket* Process::socket_at(int fd) const {
  if (fd < 0 || fd >= static_cast<int>(fds_.size()) || !fds_[fd]) return nullptr;
  return fds_[fd]->sock.get();
}

int Process::chdir(const char* path) {
  struct stat st;
  if (stat(path, &st) != 0) return -1;
  if (!S_ISDIR(st.st_mode)) return fail(ENOTDIR);
  // The fs walked every component, so each is a directory: ".." is lexical now.
  cwd_ = normalize(std::string(path_->bytes.data(), path_->len));
  return 0;
}

char* Process::getcwd(char* buf, size_t size) {
  if (!buf || size == 0) {
    errno = EINVAL;
    return nullptr;
  }
  if (cwd_.size() + 1 > size) {
    errno = ERANGE;
    return nullptr;
  }
  std::memcpy(buf, cwd_.c_str(), cwd_.size() + 1);
  return buf;
}

int Process::statfs(fs::FsStats* out) {
  fs::FileSystem* fsp = fs();
  if (!fsp) return fail(EIO);
  auto r = fsp->statfs();
  if (crashed(r)) return -1;
  *out = *r;
  return 0;
}

int Process::open_descriptors() const {
  return static_cast<int>(std::count_if(fds_.begin(), fds_.end(), [](const FilePtr& f) { return f != nullptr; }));
}

}  // namespace rl::posix
