// The faulty test domain: fails in every way the runtime must contain.
// Built twice: faulty.so, and leaky.so (RL_LEAKY) which first grows its
// private and shared heaps before every crash.
#include <atomic>
#include <memory>
#include <vector>

#include "domains/test/faults.hpp"

namespace rl::test {
namespace {

struct SpinState {
  std::atomic<bool> stop{false};
  std::atomic<uint32_t> spinning{0};
  std::atomic<uint64_t> work{0};
};

class CrasherDomain final : public Crasher {
 public:
  explicit CrasherDomain(const CrasherInit& init) : leak_before_crash_(init.leak_before_crash != 0) {}

  RpcResult<uint64_t> crash(Fault how) override {
    ++calls_;
    if (leak_before_crash_) (void)leak(4u << 20, 16);
    if (how == Fault::Spin) {
      spin_->spinning.fetch_add(1);
      while (!spin_->stop.load(std::memory_order_relaxed)) spin_->work.fetch_add(1, std::memory_order_relaxed);
      spin_->spinning.fetch_sub(1);
      return calls_;
    }
    fail_with(how);
    return calls_;
  }

  RpcResult<uint64_t> leak(uint64_t private_bytes, uint64_t shared_buffers) override {
    ++calls_;
    if (private_bytes) {
      auto block = std::make_unique<char[]>(private_bytes);
      for (uint64_t i = 0; i < private_bytes; i += 4096) block[i] = 1;   // really touched
      blocks_.push_back(std::move(block));
    }
    for (uint64_t i = 0; i < shared_buffers; ++i) buffers_.push_back(RRef<Buffer>::make());
    return static_cast<uint64_t>(buffers_.size());
  }

  RpcResult<uint32_t> spawn_spinners(uint32_t n) override {
    ++calls_;
    uint32_t started = 0;
    for (uint32_t i = 0; i < n; ++i)
      started += rl::spawn(i % 2 == 0 ? &busy_spin : &sleepy_spin, spin_.get()) ? 1 : 0;
    return started;
  }
  RpcResult<uint32_t> spinners() override { return spin_->spinning.load(); }
  RpcResult<void> stop_spinning() override {
    spin_->stop.store(true);
    return ok;
  }

  RpcResult<uint64_t> hold(const RRef<Buffer>& buf, Fault how) override {
    ++calls_;
    uint64_t first = buf->bytes[0];
    fail_with(how);
    return first;
  }

  RpcResult<uint64_t> alive() override { return ++calls_; }

 private:
  // Runtime threads: one kind loops in the domain's own code, the other
  // sleeps in the runtime's cancellation point.  Both must be unwound.
  static void busy_spin(void* p) {
    auto* s = static_cast<SpinState*>(p);
    s->spinning.fetch_add(1);
    while (!s->stop.load(std::memory_order_relaxed)) s->work.fetch_add(1, std::memory_order_relaxed);
    s->spinning.fetch_sub(1);
  }
  static void sleepy_spin(void* p) {
    auto* s = static_cast<SpinState*>(p);
    s->spinning.fetch_add(1);
    while (!s->stop.load(std::memory_order_relaxed)) rl::sleep_for_us(200);
    s->spinning.fetch_sub(1);
  }

  bool leak_before_crash_;
  uint64_t calls_ = 0;
  std::unique_ptr<SpinState> spin_ = std::make_unique<SpinState>();
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<RRef<Buffer>> buffers_;
};

}  // namespace

Crasher* create_crasher(const CrasherInit& init) {
#ifdef RL_LEAKY
  CrasherInit leaky = init;
  leaky.leak_before_crash = 1;
  return new CrasherDomain(leaky);
#else
  return new CrasherDomain(init);
#endif
}

}  // namespace rl::test

RL_DOMAIN(rl::test::create_crasher)
