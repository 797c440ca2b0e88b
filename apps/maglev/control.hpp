// Changing the backends while rl-maglev forwards: a control thread reads
// lines "add NAME=A.B.C.D[@MAC]" / "remove NAME" from stdin or a FIFO,
// rebuilds the lookup table on its own thread (about a millisecond for
// 65,537 slots, never on the forwarding thread) and posts the new snapshot;
// the forwarding thread takes it between two batches.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "apps/maglev/backends.hpp"

namespace rl::maglev {

// One slot, lock-free: post() replaces a snapshot not yet taken (it was
// never used, so it is freed at once); take() costs one load when empty.
class Mailbox {
 public:
  Mailbox() = default;
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;
  ~Mailbox() { delete slot_.load(); }
  void post(std::unique_ptr<const Snapshot> s) { delete slot_.exchange(s.release(), std::memory_order_acq_rel); }
  std::unique_ptr<const Snapshot> take() {
    if (!slot_.load(std::memory_order_relaxed)) return nullptr;
    return std::unique_ptr<const Snapshot>(slot_.exchange(nullptr, std::memory_order_acquire));
  }

 private:
  std::atomic<const Snapshot*> slot_{nullptr};
};

class Control {
 public:
  // `set` belongs to the control thread once start() returns.
  Control(BackendSet& set, Mailbox& box) : set_(set), box_(box) {}
  ~Control() { stop(); }
  // "-": stdin; a FIFO (opened read-write, so writers may come and go); a
  // regular file: its lines once.
  bool start(const std::string& path, std::string* error);
  void stop();
  // Commands applied, commands refused.
  uint64_t applied() const { return applied_.load(); }
  uint64_t refused() const { return refused_.load(); }

 private:
  void run(int fd, bool close_fd);
  void line(const std::string& l);

  BackendSet& set_;
  Mailbox& box_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> applied_{0}, refused_{0};
};

}  // namespace rl::maglev
