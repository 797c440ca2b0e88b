// Domains as trusted code sees them: load, call (through proxies), kill,
// restart, unload, and what happened to them (design.md §2).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "detail/domain_core.hpp"
#include "domain_abi.hpp"
#include "inject.hpp"
#include "rpc_result.hpp"

namespace rl {

enum class DomainState : uint8_t { Live, Failed, Reclaimed, Unloaded };
enum class FailureCause : uint8_t {
  None, Segfault, BusError, FloatingPoint, IllegalInstruction, StackOverflow,
  Exception, Panic, Killed,
  Hang,   // the watchdog saw a call make no progress for longer than the call timeout
};
const char* to_string(DomainState s) noexcept;
const char* to_string(FailureCause c) noexcept;

struct DomainInfo {
  std::string name;
  DomainState state;
  FailureCause last_cause;
  std::string last_message;   // the panic message or a description of the fault
  uint64_t incarnation;       // 1 for the first start, +1 per restart
  uint64_t failures;
  uint64_t restarts;
  uint64_t reclaimed_shared_objects;   // freed or orphaned at the last reclaim
};

// The result of loading: a domain or a message saying what is wrong and what to do.
struct LoadError {
  std::string message;
};

class Domain {
 public:
  // Loads `path`, checks that it implements `interface_name` with
  // `fingerprint`, creates its private heap and runs its factory with a copy
  // of `init` (kept for restarts).  On error returns null and fills `error`.
  static std::unique_ptr<Domain> load(const std::string& path, const std::string& name,
                                      const char* interface_name, uint64_t fingerprint,
                                      const void* init, std::size_t init_size, LoadError* error);
  ~Domain();   // unloads: later calls through old proxies return DomainUnloaded
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;

  detail::DomainCore* core() const noexcept { return core_; }
  uint32_t id() const noexcept { return core_->id; }
  const std::string& name() const noexcept { return name_; }
  bool alive() const noexcept { return core_->alive(); }
  DomainState state() const noexcept;
  DomainInfo info() const;

  // Fails the domain from outside, as if it had crashed: threads inside are
  // unwound, its heaps reclaimed.  Returns false if it was not alive.
  bool kill();
  bool kill(FailureCause cause, const char* message);

  // ---- crash injection (inject.hpp); plans survive restarts ---------------
  void inject(const InjectionPlan& plan);       // replaces the plan
  void inject_next(FaultKind kind);             // the next call fails so
  // Each time the process receives `signo` (e.g. SIGUSR1), the next call
  // into this domain fails with `kind`: `kill -USR1 <pid>` from a shell.
  void inject_on_signal(int signo, FaultKind kind);
  void stop_injecting();                        // the plan and anything pending
  uint64_t faults_injected() const noexcept;
  // A call that stays in this domain longer than `limit` without making a
  // cross-domain call of its own is a hang: the watchdog kills the domain
  // (FailureCause::Hang).  0 turns it off.  Domain-spawned threads are exempt.
  void set_call_timeout(std::chrono::microseconds limit);
  std::chrono::microseconds call_timeout() const noexcept;
  // Recreates a failed domain from its factory and init arguments.
  // Returns DomainFailed if the factory itself fails, InvalidArgument if the
  // domain is alive or unloaded.
  RpcResult<void> restart();

  // Runs `quiesce` each time the domain has failed, after its threads left and
  // before its memory is freed: a driver's device must stop DMA into memory
  // that is about to be reused (e.g. reset the device).
  void on_reclaim(std::function<void()> quiesce);

  // Bytes currently allocated in the domain's private heap (jemalloc stats).
  std::size_t private_heap_bytes() const;
  // Runtime threads spawned by this domain that are still running.
  int spawned_threads() const;

  // ---- used by the runtime's slow paths -------------------------------------
  static Domain* of(const detail::DomainCore* core) noexcept;
  // Marks the domain failed (first caller wins; returns whether it won).
  // Async-signal-safe.
  bool mark_failed(FailureCause cause, const char* message) noexcept;
  // Unwinds threads still inside, destroys the private heap, frees shared
  // objects.  Idempotent; runs once per failure.
  void reclaim();
  void register_tcache(unsigned tcache);
  // At an injection point: whether this call fails, and how (inject.cpp).
  bool should_fail(uint32_t method, FaultKind* kind) noexcept;
  void commit_fault(FaultKind kind);
  void inject_signalled(int signo) noexcept;   // from the signal handler
  void thread_started();
  void thread_finished();

 private:
  Domain() = default;
  bool start(std::string* error);   // factory call for the current incarnation
  void destroy_private_heap(bool keep_arena);
  bool create_private_heap(std::string* error);

  detail::DomainCore* core_ = nullptr;
  std::string name_;
  std::string path_;
  void* handle_ = nullptr;
  const DomainAbi* abi_ = nullptr;
  std::vector<unsigned char> init_;
  mutable std::mutex lock_;                 // lifecycle: fail/reclaim/restart/unload
  std::vector<unsigned> tcaches_;           // explicit jemalloc tcaches of this incarnation
  std::function<void()> quiesce_;
  std::mutex tcache_lock_;
  std::atomic<int> threads_{0};
  std::atomic<bool> reclaim_pending_{false};
  std::atomic<bool> reclaimed_{false};
  bool unloaded_ = false;
  bool heap_live_ = false;
  bool arena_kept_ = false;    // reset, not destroyed: reused by restart()
  // Failure record; written by mark_failed (maybe in a signal handler).
  std::atomic<uint8_t> cause_{0};
  char message_[160] = {};
  std::atomic<uint64_t> failures_{0};
  uint64_t restarts_ = 0;
  uint64_t first_incarnation_ = 0;   // slots are reused: life keeps counting across domains
  std::atomic<uint64_t> reclaimed_objects_{0};
  // Crash injection and the watchdog (inject.cpp).
  struct Injection;
  Injection& injection();
  std::unique_ptr<Injection> injection_;
  std::atomic<uint64_t> call_timeout_us_{0};
};

}  // namespace rl
