#include "sim/ixgbe/tap.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace rl::sim {

std::unique_ptr<Tap> Tap::open(const std::string& name, std::string* error) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    *error = "sim:ixgbe wire=tap:" + name + ": an interface name has 1 to " + std::to_string(IFNAMSIZ - 1) +
             " characters";
    return nullptr;
  }
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *error = std::string("sim:ixgbe wire=tap: cannot open /dev/net/tun: ") + strerror(errno) +
             (errno == ENOENT ? " (load the tun module: modprobe tun)" : "");
    return nullptr;
  }
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;   // raw Ethernet frames, no packet-info header
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    *error = "sim:ixgbe wire=tap: cannot create TAP interface " + name + ": " + strerror(errno) +
             (errno == EPERM ? " (needs CAP_NET_ADMIN: run as root)" : "");
    ::close(fd);
    return nullptr;
  }
  // Up, so the kernel sends to it once it has an address.
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s >= 0) {
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
      ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
      (void)ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    ::close(s);
  }
  return std::unique_ptr<Tap>(new Tap(fd));
}

Tap::~Tap() { ::close(fd_); }

void Tap::wait_readable(long max_us) {
  pollfd p{fd_, POLLIN, 0};
  timespec t{max_us / 1000000, (max_us % 1000000) * 1000};
  (void)::ppoll(&p, 1, &t, nullptr);
}

bool Tap::write(const uint8_t* frame, std::size_t len) { return ::write(fd_, frame, len) == static_cast<ssize_t>(len); }

std::size_t Tap::read(uint8_t* buf, std::size_t cap) {
  ssize_t n = ::read(fd_, buf, cap);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

}  // namespace rl::sim
