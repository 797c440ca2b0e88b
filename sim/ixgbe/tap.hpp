// A Linux TAP device as a simulated port's wire (sim:ixgbe,wire=tap:NAME):
// frames the port transmits appear on the interface NAME, frames the kernel
// sends to NAME arrive at the port, so ping, curl and wrk reach our stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace rl::sim {

class Tap {
 public:
  // Creates (or attaches to) the interface and sets it up; the caller
  // assigns addresses.  Null and a reason (with what to do) on failure.
  static std::unique_ptr<Tap> open(const std::string& name, std::string* error);
  ~Tap();
  Tap(const Tap&) = delete;
  Tap& operator=(const Tap&) = delete;

  // One frame to the kernel; false if it refused it (interface down, ...).
  bool write(const uint8_t* frame, std::size_t len);
  // One frame from the kernel into `buf`; 0 when none is waiting.
  std::size_t read(uint8_t* buf, std::size_t cap);
  // Blocks until a frame is waiting or `max_us` has passed.
  void wait_readable(long max_us);

 private:
  explicit Tap(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace rl::sim
