// rl::posix::Process: a POSIX subset for programs over a mounted rlfs
// (domains/fs through rl::fs::Mount).
//
// One Process per program: its own file descriptor table and working
// directory.  The calls keep the POSIX signatures and semantics -- they
// return -1 and set errno on failure -- so code written against <unistd.h>
// ports by prefixing the calls with a Process.  What differs, and why:
//
// - No descriptors are open at start (0, 1, 2 included): the program's
//   stdio stays the host's.  New descriptors take the lowest free number.
// - open() understands O_RDONLY/O_WRONLY/O_RDWR, O_CREAT, O_EXCL, O_TRUNC,
//   O_APPEND and O_DIRECTORY; other flags (O_CLOEXEC, O_NONBLOCK ...) are
//   accepted and ignored.  At most 1024 descriptors (EMFILE).
// - Permission bits are stored (and reported by stat) but never enforced:
//   there is one user, so EACCES never happens.  No umask: `mode` is kept
//   as given (& 07777).
// - Pipes live inside the Process (64 KiB each).  Programs here are
//   single-threaded poll loops, so nothing blocks: a read of an empty pipe
//   whose write end is open fails with EAGAIN, a write to a full pipe writes
//   what fits or fails with EAGAIN; read returns 0 (EOF) once every write end
//   is closed; a write with no read end left fails with EPIPE (no SIGPIPE).
// - If the fs domain crashes during a call, that call fails with EIO and the
//   file system is remounted (Mount::recover: the log replays what was
//   committed).  Right then every descriptor is checked: if its inode still
//   exists with the same generation it keeps working (and is counted open
//   again when its path still names it), otherwise -- the file was created
//   by operations the crash lost -- every call on it fails with EIO until it
//   is closed.  Descriptors of other Processes on the same Mount are checked
//   at their next use, which cannot tell a lost file's inode from a new file
//   that reused it with the same generation: share a Mount between Processes
//   only if that matters less than memory.
// - Sockets (sockets.cpp): once attach_network() has given the Process a
//   network stack domain (idl/netstack.hpp), socket() makes AF_INET
//   SOCK_STREAM (TCP) and SOCK_DGRAM (UDP) sockets; SOCK_NONBLOCK and
//   SOCK_CLOEXEC are accepted and change nothing.  Before it, socket() fails
//   with EAFNOSUPPORT.  The program keeps driving the stack (NetApp::run):
//   nothing blocks -- "nothing yet" is EAGAIN -- and the stack's events name
//   its own sockets, which socket_fd() turns into descriptors.  Because the
//   stack only has what servers need:
//   * connect() fails with EOPNOTSUPP: the stack opens no connections.
//   * TCP bind() needs a port (port 0 is EINVAL: there is no getsockname to
//     learn the one chosen), and listen() on an unbound socket is EINVAL
//     (Linux would bind an ephemeral port).  The stack binds and listens in
//     one step, so bind() only checks this Process's sockets for EADDRINUSE;
//     another user of the stack holding the port is reported by listen().
//   * bind() takes INADDR_ANY, or the stack's own address if attach_network
//     was told it (else EADDRNOTAVAIL).
//   * accept() cannot name the peer: the address it fills is all zero.
//   * UDP sockets have no connect(), so write()/send() on them fail with
//     EDESTADDRREQ: use sendto().  Datagrams are at most 16 KiB (EMSGSIZE).
//   * Flags: MSG_DONTWAIT, MSG_NOSIGNAL and MSG_WAITALL change nothing;
//     MSG_PEEK works on TCP sockets only; other flags fail with EOPNOTSUPP.
//   * A failed stack domain makes socket calls fail with ENETDOWN.
//   Errors are Linux's otherwise: EPIPE writing to an unconnected TCP
//   socket (and no SIGPIPE), ENOTCONN reading from one, ECONNRESET once
//   after a reset (then end of stream), ENOTSOCK for socket calls on other
//   descriptors, ESPIPE for lseek/pread/pwrite.  The stack must outlive the
//   Process: closing a socket (also in ~Process) calls it.
// - The working directory is remembered as a path: renaming a directory
//   above it leaves it pointing at the old name (there is no inode-based
//   lookup in the FileSystem interface).
#pragma once

#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "domains/fs/mount.hpp"
#include "idl/netstack.hpp"

namespace rl::posix {

struct OpenFile;   // an open file description (shared by dup'ed descriptors)
struct Pipe;
struct Socket;     // a socket's state (sockets.cpp)

// An open directory stream, as DIR*.
struct RL_DIR;

class Process {
 public:
  // `mount` must outlive the Process.
  explicit Process(fs::Mount& mount);
  ~Process();   // closes every descriptor
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  int open(const char* path, int flags, mode_t mode = 0);
  int close(int fd);
  ssize_t read(int fd, void* buf, size_t count);
  ssize_t write(int fd, const void* buf, size_t count);
  ssize_t pread(int fd, void* buf, size_t count, off_t offset);
  ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset);
  off_t lseek(int fd, off_t offset, int whence);
  int ftruncate(int fd, off_t length);
  int fstat(int fd, struct stat* st);
  int stat(const char* path, struct stat* st);
  int fsync(int fd);
  int sync();   // as syncfs(2): returns 0 or -1/EIO

  int mkdir(const char* path, mode_t mode);
  int rmdir(const char* path);
  int unlink(const char* path);
  int rename(const char* from, const char* to);

  // Directory streams take a descriptor, as glibc's do (dirfd()).
  RL_DIR* opendir(const char* path);
  struct dirent* readdir(RL_DIR* dir);   // null at the end (errno unchanged) or on error (errno set)
  int closedir(RL_DIR* dir);
  int dirfd(RL_DIR* dir);

  int dup(int fd);
  int dup2(int fd, int newfd);
  int pipe(int fds[2]);

  int chdir(const char* path);
  char* getcwd(char* buf, size_t size);

  // Sockets over `stack` (not owned; must outlive the Process).  `address`
  // (host order) is the stack's own IPv4 address, which bind() then accepts
  // besides INADDR_ANY; 0 = unknown.
  void attach_network(netstack::NetStack& stack, uint32_t address = 0);
  int socket(int domain, int type, int protocol);
  int bind(int fd, const struct sockaddr* addr, socklen_t len);
  int listen(int fd, int backlog);
  int accept(int fd, struct sockaddr* addr, socklen_t* len);
  int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags);
  int connect(int fd, const struct sockaddr* addr, socklen_t len);   // always EOPNOTSUPP (see above)
  ssize_t recv(int fd, void* buf, size_t count, int flags);
  ssize_t send(int fd, const void* buf, size_t count, int flags);
  ssize_t recvfrom(int fd, void* buf, size_t count, int flags, struct sockaddr* from, socklen_t* len);
  ssize_t sendto(int fd, const void* buf, size_t count, int flags, const struct sockaddr* to, socklen_t len);
  // The lowest descriptor of the stack's socket `stack_socket` (from
  // NetStack::events), or -1 if no descriptor has it.
  int socket_fd(int32_t stack_socket) const;

  // The file system's counters (rl-sh's df).
  int statfs(fs::FsStats* out);

  // Descriptors in use (tests).
  int open_descriptors() const;

 private:
  using FilePtr = std::shared_ptr<OpenFile>;

  fs::FileSystem* fs();                       // null when the fs cannot be mounted again
  template <class R> bool crashed(const RpcResult<R>& r);
  int fail(int err);                          // errno = err; -1
  template <class Call> int path_call(const char* path, Call&& call);
  int resolve(const char* path, RRef<fs::Path>& out);   // absolute path into `out`; 0 or an errno
  int install(FilePtr f, int lowest);         // the lowest free descriptor >= lowest
  FilePtr lookup(int fd, int* err);
  FilePtr positioned(int fd, off_t offset, int wrong_access, int on_dir);           // the description, checked after a remount
  void revalidate(OpenFile& f);               // after a remount: still the same inode?
  int finish(FilePtr& f);                     // drops a reference; the last one releases the inode
  ssize_t read_at(OpenFile& f, void* buf, size_t count, uint64_t offset);
  ssize_t write_at(OpenFile& f, const void* buf, size_t count, uint64_t offset, uint64_t* end);
  ssize_t pipe_read(Pipe& p, void* buf, size_t count);
  ssize_t pipe_write(Pipe& p, const void* buf, size_t count);
  int refill(RL_DIR& d);
  // Sockets (sockets.cpp).
  int install_socket(std::shared_ptr<Socket> s);   // a new descriptor for it; closes it on failure
  std::shared_ptr<Socket> socket_of(int fd, int* err);   // EBADF, ENOTSOCK
  const Socket* socket_at(int fd) const;            // null unless fd is an open socket
  void release_socket(Socket& s);                   // its last descriptor was closed
  bool ensure_chunk();
  ssize_t socket_read(Socket& s, void* buf, size_t count, int flags);
  ssize_t socket_write(Socket& s, const void* buf, size_t count, int flags);
  ssize_t udp_recv(Socket& s, void* buf, size_t count, int flags, struct sockaddr* from, socklen_t* len);
  bool ensure_buffers();

  fs::Mount& mount_;
  std::vector<FilePtr> fds_;
  std::vector<std::unique_ptr<RL_DIR>> dirs_;
  std::string cwd_ = "/";
  bool checking_ = false;   // inside revalidate()
  bool lost_ = false;   // a remount failed: calls fail with EIO until one succeeds
  // Reused by every call: no shared-heap allocation per call.
  RRef<fs::Path> path_;
  RRef<fs::Path> path2_;
  RRef<fs::Data> data_;
  RRef<fs::DirPage> page_;
  netstack::NetStack* net_ = nullptr;
  uint32_t net_ip_ = 0;
  RRef<netstack::Chunk> chunk_;   // made at the first socket transfer
};

}  // namespace rl::posix
