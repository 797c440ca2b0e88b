#include "apps/maglev/control.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace rl::maglev {

namespace {
constexpr int kPollMs = 100;   // how soon stop() is noticed
}

bool Control::start(const std::string& path, std::string* error) {
  int fd = 0;
  bool close_fd = false;
  if (path != "-") {
    struct stat st{};
    if (stat(path.c_str(), &st) != 0) {
      *error = "--control " + path + ": " + std::strerror(errno);
      return false;
    }
    // Read-write on a FIFO: we are a writer too, so it never reads as
    // closed between two `echo add ... > FIFO`.
    fd = ::open(path.c_str(), (S_ISFIFO(st.st_mode) ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
      *error = "--control " + path + ": " + std::strerror(errno);
      return false;
    }
    close_fd = true;
  }
  thread_ = std::thread([this, fd, close_fd] { run(fd, close_fd); });
  return true;
}

void Control::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Control::run(int fd, bool close_fd) {
  std::string pending;
  char buf[4096];
  while (!stop_) {
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, kPollMs);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r < 0) break;
      continue;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;   // end of input: forwarding goes on with the last set
    pending.append(buf, static_cast<std::size_t>(n));
    for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
      line(pending.substr(0, nl));
      pending.erase(0, nl + 1);
    }
  }
  if (!pending.empty() && !stop_) line(pending);
  if (close_fd) close(fd);
}

void Control::line(const std::string& l) {
  std::string error;
  bool changed = false;
  if (!set_.apply(l, &changed, &error)) {
    ++refused_;
    fprintf(stderr, "rl-maglev: control: %s\n", error.c_str());
    return;
  }
  if (!changed) return;
  auto snap = set_.build(&error);
  if (!snap) {   // cannot happen with a valid set; say so rather than go on silently
    ++refused_;
    fprintf(stderr, "rl-maglev: control: %s: %s\n", l.c_str(), error.c_str());
    return;
  }
  fprintf(stderr, "rl-maglev: control: %s: %u backends, lookup table rebuilt in %.2f ms\n", l.c_str(), snap->live,
          snap->build_ms);
  box_.post(std::move(snap));
  ++applied_;
}

}  // namespace rl::maglev
