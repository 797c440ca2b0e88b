// Crash injection and the watchdog (inject.hpp, Domain's injection methods).
#include <sys/mman.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "detail/injection.hpp"
#include "detail/log.hpp"
#include "detail/threads.hpp"
#include "domain.hpp"

namespace rl {

using namespace detail;

namespace {

constexpr const char* kKindNames[kFaultKinds] = {"segv", "bus", "fpe", "ill", "stack", "exception", "panic", "loop"};
constexpr auto kDefaultLoopTimeout = std::chrono::milliseconds(10);

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A read-only mapping of an empty file: reading it raises SIGBUS.
const void* bus_page() {
  static const void* page = [] {
    int fd = memfd_create("rl-bus-page", MFD_CLOEXEC);
    if (fd < 0) return static_cast<const void*>(nullptr);
    void* p = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? nullptr : static_cast<const void*>(p);
  }();
  return page;
}

// ---- signals from outside ------------------------------------------------------

void on_inject_signal(int signo) {
  for (uint32_t id = 1; id < kMaxDomains; ++id) {
    Domain* d = Domain::of(&g_cores[id]);
    if (!d) continue;
    d->inject_signalled(signo);
  }
}

// ---- the watchdog --------------------------------------------------------------

std::atomic<uint64_t> g_watch_period_us{0};   // 0: not started

void watchdog_loop() {
  struct Seen {
    DomainCore* core;
    uint64_t calls;
    std::chrono::steady_clock::time_point since;
  };
  std::unordered_map<ThreadState*, Seen> seen, next;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::microseconds(g_watch_period_us.load()));
    auto now = std::chrono::steady_clock::now();
    std::vector<Domain*> hung;
    next.clear();
    for_each_thread([&](ThreadState& t) {
      auto* core = __atomic_load_n(&t.current, __ATOMIC_RELAXED);
      uint64_t calls = __atomic_load_n(&t.calls, __ATOMIC_RELAXED);
      auto it = seen.find(&t);
      Seen s{core, calls, now};
      if (it != seen.end() && it->second.core == core && it->second.calls == calls) s.since = it->second.since;
      next[&t] = s;
      if (t.domain_thread || core == &g_trusted_core) return;
      Domain* d = Domain::of(core);
      auto limit = d ? d->call_timeout() : std::chrono::microseconds(0);
      if (limit.count() > 0 && now - s.since > limit && core->alive()) hung.push_back(d);
    });
    seen.swap(next);
    for (Domain* d : hung) {
      char msg[96];
      snprintf(msg, sizeof msg, "a call made no progress for %lld us (watchdog)",
               static_cast<long long>(d->call_timeout().count()));
      d->kill(FailureCause::Hang, msg);
    }
  }
}

}  // namespace

const char* to_string(FaultKind k) noexcept {
  auto i = static_cast<int>(k);
  return i >= 0 && i < kFaultKinds ? kKindNames[i] : "?";
}

bool parse_fault_kinds(const std::string& list, std::vector<FaultKind>* out, std::string* error) {
  std::vector<FaultKind> kinds;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item == "all") {
      for (int i = 0; i < kFaultKinds; ++i) kinds.push_back(static_cast<FaultKind>(i));
      continue;
    }
    int found = -1;
    for (int i = 0; i < kFaultKinds; ++i)
      if (item == kKindNames[i]) found = i;
    if (found < 0) {
      *error = "unknown fault kind '" + item + "' (have: segv, bus, fpe, ill, stack, exception, panic, loop, all)";
      return false;
    }
    kinds.push_back(static_cast<FaultKind>(found));
  }
  if (kinds.empty()) {
    *error = "no fault kinds given (have: segv, bus, fpe, ill, stack, exception, panic, loop, all)";
    return false;
  }
  *out = std::move(kinds);
  return true;
}

Domain::Injection& Domain::injection() {
  std::lock_guard g(lock_);
  if (!injection_) injection_ = std::make_unique<Injection>();
  return *injection_;
}

void Domain::inject(const InjectionPlan& plan) {
  Injection& in = injection();
  {
    std::lock_guard g(in.lock);
    in.plan = plan;
    in.planned = plan.at_call > 0 || plan.probability > 0;
    in.counted = 0;
  }
  for (FaultKind k : plan.kinds)
    if (k == FaultKind::InfiniteLoop && call_timeout().count() == 0) set_call_timeout(kDefaultLoopTimeout);
  core_->inject.store(1, std::memory_order_release);
}

void Domain::inject_next(FaultKind kind) {
  if (kind == FaultKind::InfiniteLoop && call_timeout().count() == 0) set_call_timeout(kDefaultLoopTimeout);
  injection().pending.store(static_cast<int>(kind));
  core_->inject.store(1, std::memory_order_release);
}

void Domain::inject_on_signal(int signo, FaultKind kind) {
  if (kind == FaultKind::InfiniteLoop && call_timeout().count() == 0) set_call_timeout(kDefaultLoopTimeout);
  Injection& in = injection();
  in.signal_kind.store(static_cast<int>(kind));
  in.on_signal.store(signo);
  struct sigaction sa {};
  sa.sa_handler = on_inject_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(signo, &sa, nullptr);
}

void Domain::inject_signalled(int signo) noexcept {
  Injection* in = injection_.get();
  if (!in || in->on_signal.load() != signo) return;
  in->pending.store(in->signal_kind.load());
  core_->inject.store(1, std::memory_order_release);
}

void Domain::stop_injecting() {
  core_->inject.store(0);
  if (Injection* in = injection_.get()) {
    std::lock_guard g(in->lock);
    in->planned = false;
    in->pending.store(-1);
    in->on_signal.store(0);
  }
}

uint64_t Domain::faults_injected() const noexcept { return injection_ ? injection_->injected.load() : 0; }

bool Domain::should_fail(uint32_t method, FaultKind* kind) noexcept {
  Injection* in = injection_.get();
  if (!in) return false;
  int pending = in->pending.exchange(-1);
  if (pending >= 0) {
    *kind = static_cast<FaultKind>(pending);
    return true;
  }
  std::lock_guard g(in->lock);
  const InjectionPlan& p = in->plan;
  if (!in->planned || (p.method != kAnyMethod && p.method != method)) return false;
  uint64_t n = ++in->counted;
  uint64_t h = splitmix64(p.seed * 0x100000001B3ull + n);
  bool fire = n == p.at_call || (p.probability > 0 && static_cast<double>(h >> 11) * 0x1.0p-53 < p.probability);
  if (!fire) return false;
  *kind = p.kinds.empty() ? FaultKind::Segfault : p.kinds[splitmix64(h) % p.kinds.size()];
  return true;
}

void Domain::commit_fault(FaultKind kind) {
  if (Injection* in = injection_.get()) in->injected.fetch_add(1);
  if (abi_->fault) abi_->fault(static_cast<int>(kind), bus_page());   // in the domain's own code
  panic("injected fault (the domain has no fault entry)");
}

void Domain::set_call_timeout(std::chrono::microseconds limit) {
  call_timeout_us_.store(static_cast<uint64_t>(limit.count()));
  if (limit.count() <= 0) return;
  // Look four times per timeout, at most every 100 us, at least every 50 ms.
  uint64_t period = std::clamp<uint64_t>(static_cast<uint64_t>(limit.count()) / 4, 100, 50000);
  uint64_t cur = g_watch_period_us.load();
  while ((cur == 0 || period < cur) && !g_watch_period_us.compare_exchange_weak(cur, period)) {
  }
  if (cur == 0) {
    TrustedScope trusted;
    std::thread(watchdog_loop).detach();
  }
}

std::chrono::microseconds Domain::call_timeout() const noexcept {
  return std::chrono::microseconds(call_timeout_us_.load(std::memory_order_relaxed));
}

namespace detail {

void inject_point(DomainCore* core, uint32_t method) {
  Domain* d = Domain::of(core);
  FaultKind kind;
  if (d && d->should_fail(method, &kind)) d->commit_fault(kind);
}

}  // namespace detail
}  // namespace rl
