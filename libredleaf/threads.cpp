// Threads, stacks and faults: the thread registry, per-(thread, domain)
// stacks with guard pages, the fault and unwind signal handlers, and the
// domain-side calls rl::panic / spawn / sleep_for_us / check_alive.
#include <dlfcn.h>
#include <link.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <locale>
#include <mutex>
#include <thread>
#include <vector>

#include <jemalloc/jemalloc.h>

#include "cross_call.hpp"
#include "detail/log.hpp"
#include "detail/threads.hpp"
#include "domain.hpp"
#include "rl.hpp"

namespace rl::detail {

constinit DomainCore g_trusted_core{{1}};
DomainCore g_cores[kMaxDomains];
constinit thread_local ThreadState tls;

namespace {

// A domain stack's reservation; only touched pages use memory.  The guard is
// larger than any frame -fstack-clash-protection lets through unprobed.
constexpr std::size_t kDomainStackSize = 1u << 20;
constexpr std::size_t kStackGuard = 64u << 10;
constexpr int kUnwindSignal = SIGUSR2;   // reserved by redleaf: "leave the dead domain"

std::once_flag g_process_once;
pthread_key_t g_exit_key;
std::mutex g_threads_lock;
std::vector<ThreadState*>* g_threads;     // never destroyed: threads may exit during static teardown
std::atomic<int64_t> g_exited_bytes{0};
std::atomic<int64_t> g_exited_objects{0};
uintptr_t g_runtime_lo = 0, g_runtime_hi = 0;   // executable text: trusted code
bool g_membarrier = false;

void on_thread_exit(void* p);
void on_fault(int sig, siginfo_t* si, void* ucv);
void on_unwind_request(int sig, siginfo_t* si, void* ucv);

int find_runtime_text(struct dl_phdr_info* info, size_t, void*) {
  // The first object is the executable, which links libredleaf statically.
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
      uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
      if (!g_runtime_lo || lo < g_runtime_lo) g_runtime_lo = lo;
      g_runtime_hi = std::max(g_runtime_hi, lo + ph.p_memsz);
    }
  }
  return 1;
}

void process_init() {
  g_threads = new std::vector<ThreadState*>();
  pthread_key_create(&g_exit_key, on_thread_exit);
  dl_iterate_phdr(find_runtime_text, nullptr);

  struct sigaction sa {};
  sa.sa_sigaction = on_fault;
  // SA_NODEFER: we leave the handler by jumping, so the signal must not stay blocked.
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) sigaction(sig, &sa, nullptr);
  sa.sa_sigaction = on_unwind_request;
  sigaction(kUnwindSignal, &sa, nullptr);

  g_membarrier = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
  if (!g_membarrier)
    warn("membarrier() is unavailable (%s); domain failure falls back to signalling every thread",
         strerror(errno));

  // Libraries that create globals lazily would otherwise create them inside
  // the first domain that uses them, in its private heap (design.md §9).
  std::locale loc;
  (void)loc;
  const char* version = nullptr;
  size_t len = sizeof version;
  mallctl("version", &version, &len, nullptr, 0);
}

void on_thread_exit(void* p) {
  auto* t = static_cast<ThreadState*>(p);
  heap_thread_exit(*t);
  g_exited_bytes.fetch_add(t->shared_bytes.exchange(0));
  g_exited_objects.fetch_add(t->shared_objects.exchange(0));
  {
    std::lock_guard g(g_threads_lock);
    g_threads->erase(std::remove(g_threads->begin(), g_threads->end(), t), g_threads->end());
  }
  stack_t off{};
  off.ss_flags = SS_DISABLE;
  sigaltstack(&off, nullptr);
  munmap(t->sigstack, t->sigstack_size);
  for (StackSlot& s : t->stacks)
    if (s.base) munmap(s.base, s.size);
}

inline bool is_dead(const Frame* f) noexcept {
  return f->callee->life.load(std::memory_order_relaxed) != f->callee_life;
}

// The outermost frame of this thread whose callee died: the innermost live
// caller resumes there.  Null if the dead domain has not been entered yet.
Frame* failed_frame(ThreadState& t) noexcept {
  Frame* target = nullptr;
  for (Frame* f = t.top; f; f = f->prev)
    if (f->saved_sp && is_dead(f)) target = f;
  return target;
}

[[noreturn]] void resume_at(ThreadState& t, Frame* target) noexcept {
  for (Frame* f = t.top; f && f != target; f = f->prev)
    if (f->stack) f->stack->active = false;
  t.cancel_point = false;
  rl_resume(target->saved_sp);
}

// Async-signal-safe hex formatting for fault messages.
void hex(char* out, uintptr_t v) {
  out[0] = '0';
  out[1] = 'x';
  for (int i = 0; i < 16; ++i) out[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xF];
  out[18] = '\0';
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
  }
  return "signal";
}

void on_fault(int sig, siginfo_t* si, void* ucv) {
  auto* uc = static_cast<ucontext_t*>(ucv);
  auto pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  auto sp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  auto addr = reinterpret_cast<uintptr_t>(si->si_addr);
  ThreadState& t = tls;
  DomainCore* d = t.current;
  char where[20];
  hex(where, pc);
  if (!t.ready || d == &g_trusted_core || !t.top) {
    char msg[128] = " in trusted code, outside every domain (a bug in the application or in redleaf); pc=";
    strcat(msg, where);
    fatal_in_signal(signal_name(sig), msg);
  }
  if (pc >= g_runtime_lo && pc < g_runtime_hi) {
    char msg[128] = " inside the redleaf runtime while serving a domain (a runtime bug); pc=";
    strcat(msg, where);
    fatal_in_signal(signal_name(sig), msg);
  }

  FailureCause cause = FailureCause::Segfault;
  switch (sig) {
    case SIGBUS: cause = FailureCause::BusError; break;
    case SIGFPE: cause = FailureCause::FloatingPoint; break;
    case SIGILL: cause = FailureCause::IllegalInstruction; break;
    default: break;
  }
  const StackSlot& s = t.stacks[d->id];
  bool in_guard = s.base && addr >= reinterpret_cast<uintptr_t>(s.base) &&
                  addr < reinterpret_cast<uintptr_t>(s.base) + kStackGuard;
  // Without stack switching (ASan builds) the thread's own stack overflows:
  // a fault just below the stack pointer.
  bool below_sp = addr <= sp && sp - addr <= kStackGuard;
  if (sig == SIGSEGV && (in_guard || below_sp)) cause = FailureCause::StackOverflow;

  char msg[96];
  char a[20];
  hex(a, addr);
  msg[0] = '\0';
  strcat(msg, signal_name(sig));
  strcat(msg, " at pc=");
  strcat(msg, where);
  strcat(msg, " addr=");
  strcat(msg, a);
  if (Domain* dom = Domain::of(d)) dom->mark_failed(cause, msg);
  Frame* target = failed_frame(t);
  if (!target) fatal_in_signal(signal_name(sig), " in a domain with no call frame to return to");
  resume_at(t, target);
}

void on_unwind_request(int, siginfo_t*, void* ucv) {
  int saved_errno = errno;
  ThreadState& t = tls;
  DomainCore* d = t.current;
  if (t.ready && d->life.load(std::memory_order_relaxed) != t.current_life) {
    auto pc = static_cast<uintptr_t>(static_cast<ucontext_t*>(ucv)->uc_mcontext.gregs[REG_RIP]);
    // Only leave from the domain's own code or a runtime cancellation point;
    // inside a library (malloc, stdio) a lock may be held: the killer retries.
    if (d->runs_code_at(pc) || t.cancel_point)
      if (Frame* target = failed_frame(t)) resume_at(t, target);
  }
  errno = saved_errno;
}

}  // namespace

void thread_init() {
  ThreadState& t = tls;
  if (t.ready) return;
  TrustedScope trusted;
  std::call_once(g_process_once, process_init);
  std::size_t size = std::max<std::size_t>(64u << 10, 4 * sysconf(_SC_MINSIGSTKSZ));
  void* ss = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ss == MAP_FAILED) fatal("cannot map a signal stack: %s", strerror(errno));
  stack_t st{};
  st.ss_sp = ss;
  st.ss_size = size;
  if (sigaltstack(&st, nullptr) != 0) fatal("sigaltstack failed: %s", strerror(errno));
  t.sigstack = ss;
  t.sigstack_size = size;
  t.pthread = pthread_self();
  pthread_setspecific(g_exit_key, &t);
  {
    std::lock_guard g(g_threads_lock);
    g_threads->push_back(&t);
  }
  t.ready = true;
}

void for_each_thread(const std::function<void(ThreadState&)>& fn) {
  std::lock_guard g(g_threads_lock);
  if (!g_threads) return;
  for (ThreadState* t : *g_threads) fn(*t);
}

int signal_threads_in(const DomainCore* d) {
  if (g_membarrier) syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  int n = 0;
  std::lock_guard g(g_threads_lock);
  for (ThreadState* t : *g_threads) {
    if (t == &tls) continue;
    // Without membarrier, signalling every thread is the barrier.
    if (t->current == d || !g_membarrier) {
      if (t->current == d) ++n;
      pthread_kill(static_cast<pthread_t>(t->pthread), kUnwindSignal);
    }
  }
  return n;
}

int64_t exited_thread_bytes() noexcept { return g_exited_bytes.load(); }
int64_t exited_thread_objects() noexcept { return g_exited_objects.load(); }

void prepare_stack(StackSlot* s) {
  thread_init();
  std::size_t size = kDomainStackSize + kStackGuard;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) fatal("cannot map a %zu KiB domain stack: %s", size >> 10, strerror(errno));
  if (mprotect(p, kStackGuard, PROT_NONE) != 0) fatal("cannot protect a stack guard: %s", strerror(errno));
  s->base = static_cast<char*>(p);
  s->size = size;
  s->top = s->base + size;   // page aligned, so 16-byte aligned
}

void unwind_dead_caller() noexcept {
  ThreadState& t = tls;
  Frame* target = failed_frame(t);
  if (!target) fatal("a domain returned into a dead caller, but no frame leads out of it");
  resume_at(t, target);
}

}  // namespace rl::detail

namespace rl {

using namespace detail;

void panic(const char* message) noexcept {
  ThreadState& t = tls;
  if (t.current == &g_trusted_core) fatal("rl::panic in trusted code: %s", message);
  if (Domain* d = Domain::of(t.current)) d->mark_failed(FailureCause::Panic, message);
  Frame* target = failed_frame(t);
  if (!target) fatal("rl::panic with no call frame to return to: %s", message);
  resume_at(t, target);
}

namespace detail {
void fail_with_exception(const char* what) noexcept {
  ThreadState& t = tls;
  char msg[128] = "uncaught C++ exception: ";
  strncat(msg, what, sizeof msg - strlen(msg) - 1);
  if (Domain* d = Domain::of(t.current)) d->mark_failed(FailureCause::Exception, msg);
  Frame* target = failed_frame(t);
  if (!target) fatal("%s, with no call frame to return to", msg);
  resume_at(t, target);
}
}  // namespace detail

void check_alive() noexcept {
  ThreadState& t = tls;
  if (__builtin_expect(t.current->life.load(std::memory_order_relaxed) != t.current_life, 0))
    if (Frame* target = failed_frame(t)) resume_at(t, target);
}

void sleep_for_us(uint64_t us) noexcept {
  ThreadState& t = tls;
  timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
  t.cancel_point = true;
  check_alive();
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) check_alive();
  t.cancel_point = false;
  check_alive();
}

uint32_t current_domain() noexcept { return tls.current->id; }

namespace {
struct SpawnArgs {
  DomainCore* core;
  uint64_t life;
  void (*fn)(void*);
  void* arg;
};
}  // namespace

bool spawn(void (*fn)(void*), void* arg) noexcept {
  ThreadState& t = tls;
  Domain* dom = Domain::of(t.current);
  if (!dom) return false;
  SpawnArgs a{t.current, t.current_life, fn, arg};
  TrustedScope trusted;
  try {
    dom->thread_started();
    std::thread([a, dom] {
      thread_init();
      tls.domain_thread = true;   // lives inside the domain: not a hung call
      if (a.core->life.load() == a.life) {
        auto r = cross_call(a.core, [&]() -> RpcResult<void> {
          a.fn(a.arg);
          return ok;
        });
        (void)r;   // a failure was recorded by the domain's failure path
      }
      dom->thread_finished();
    }).detach();
    return true;
  } catch (...) {
    dom->thread_finished();
    return false;
  }
}

}  // namespace rl
