// Domain lifecycle: load, start, fail, reclaim, restart, unload (design.md §2).
#include "domain.hpp"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstring>
#include <thread>

#include "cross_call.hpp"
#include "detail/injection.hpp"
#include "detail/log.hpp"
#include "detail/threads.hpp"
#include "shared_heap.hpp"


namespace rl {

using namespace detail;

namespace {

// How long a failed domain's threads get to leave before its heap is kept
// rather than destroyed under them.
constexpr auto kUnwindTimeout = std::chrono::seconds(2);
constexpr auto kUnwindResend = std::chrono::microseconds(1000);
constexpr auto kUnwindFirstResend = std::chrono::microseconds(10);

std::mutex g_slots_lock;
Domain* g_objects[kMaxDomains];

struct CodeRangeQuery {
  uintptr_t base;
  DomainCore* core;
};

int collect_code_ranges(struct dl_phdr_info* info, size_t, void* p) {
  auto* q = static_cast<CodeRangeQuery*>(p);
  if (info->dlpi_addr != q->base) return 0;
  int n = 0;
  for (int i = 0; i < info->dlpi_phnum && n < kMaxCodeRanges; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
      q->core->code_lo[n] = info->dlpi_addr + ph.p_vaddr;
      q->core->code_hi[n] = info->dlpi_addr + ph.p_vaddr + ph.p_memsz;
      ++n;
    }
  }
  return 1;
}

std::string hex64(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "%016" PRIx64, v);
  return b;
}

}  // namespace

Domain* Domain::of(const DomainCore* core) noexcept {
  if (core == &g_trusted_core) return nullptr;
  return g_objects[core->id];
}

std::unique_ptr<Domain> Domain::load(const std::string& path, const std::string& name,
                                     const char* interface_name, uint64_t fingerprint,
                                     const void* init, std::size_t init_size, LoadError* error) {
  thread_init();
  TrustedScope trusted;
  auto refuse = [&](std::string msg) -> std::unique_ptr<Domain> {
    if (error) error->message = "domain '" + name + "': " + msg;
    return nullptr;
  };
  if (access(path.c_str(), R_OK) != 0)
    return refuse("cannot read " + path + " (" + strerror(errno) +
                  "); build the domains with `./redleaf build` or check the path");
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) return refuse(std::string("dlopen failed: ") + dlerror());
  auto* abi = static_cast<const DomainAbi*>(dlsym(h, "rl_domain_abi"));
  std::string problem;
  if (!abi)
    problem = path + " is not a redleaf domain: it exports no rl_domain_abi (declare it with RL_DOMAIN)";
  else if (abi->magic != kDomainAbiMagic || abi->abi_version != kDomainAbiVersion)
    problem = path + " was built for domain ABI version " + std::to_string(abi->abi_version) +
              ", this runtime speaks version " + std::to_string(kDomainAbiVersion) + "; rebuild it";
  else if (std::strcmp(abi->interface_name, interface_name) != 0)
    problem = path + " implements interface " + abi->interface_name + ", but was loaded as " + interface_name;
  else if (abi->fingerprint != fingerprint)
    problem = "interface " + std::string(interface_name) + " differs: " + path +
              " was built against fingerprint " + hex64(abi->fingerprint) +
              ", the caller expects " + hex64(fingerprint) +
              "; rebuild the domain and its caller against the same idl/ header";
  else if (abi->init_size != init_size)
    problem = "init argument of " + std::to_string(init_size) + " bytes, the domain's factory expects " +
              std::to_string(abi->init_size);
  if (!problem.empty()) {
    dlclose(h);
    return refuse(problem);
  }

  std::unique_ptr<Domain> d(new Domain());
  {
    std::lock_guard g(g_slots_lock);
    for (uint32_t i = 1; i < kMaxDomains; ++i) {
      if (!g_objects[i] && g_cores[i].proxies.load() == 0) {
        g_objects[i] = d.get();
        d->core_ = &g_cores[i];
        break;
      }
    }
  }
  if (!d->core_) {
    dlclose(h);
    return refuse("no free domain slot (" + std::to_string(kMaxDomains - 1) + " domains are loaded)");
  }
  DomainCore* c = d->core_;
  c->id = static_cast<uint32_t>(c - g_cores);
  c->unloaded.store(false);
  c->root.store(nullptr);
  link_map* lm = nullptr;
  dlinfo(h, RTLD_DI_LINKMAP, &lm);
  CodeRangeQuery q{lm ? lm->l_addr : 0, c};
  for (int i = 0; i < kMaxCodeRanges; ++i) c->code_lo[i] = c->code_hi[i] = 0;
  dl_iterate_phdr(collect_code_ranges, &q);

  d->name_ = name;
  d->path_ = path;
  d->handle_ = h;
  d->abi_ = abi;
  d->init_.assign(static_cast<const unsigned char*>(init), static_cast<const unsigned char*>(init) + init_size);
  d->first_incarnation_ = (c->life.load() >> 1) + 1;
  std::string why;
  if (!d->create_private_heap(&why) || !d->start(&why)) return refuse(why);
  return d;
}

bool Domain::start(std::string* error) {
  // A new incarnation: the life word moves on, so nothing from the previous one matches.
  uint64_t next = ((core_->life.load() >> 1) + 1) << 1;
  reclaimed_.store(false);
  core_->root.store(nullptr);
  core_->life.store(next | 1);
  auto r = cross_call(core_, [this]() -> RpcResult<uintptr_t> {
    return reinterpret_cast<uintptr_t>(abi_->factory(init_.data()));
  });
  if (!r.ok()) {
    *error = "the factory of " + path_ + " failed: " + to_string(info().last_cause) + " (" + message_ + ")";
    return false;
  }
  if (r.value() == 0) {
    mark_failed(FailureCause::Panic, "the factory returned null");
    reclaim();
    *error = "the factory of " + path_ + " returned null";
    return false;
  }
  core_->root.store(reinterpret_cast<void*>(r.value()), std::memory_order_release);
  return true;
}

Domain::~Domain() {
  TrustedScope trusted;
  stop_injecting();   // the slot is reused: its next domain starts unarmed
  {
    std::lock_guard g(lock_);
    unloaded_ = true;
    core_->unloaded.store(true);
  }
  mark_failed(FailureCause::None, "unloaded");
  reclaim();
  // Spawned threads leave through the failure path; wait for them to finish.
  auto deadline = std::chrono::steady_clock::now() + kUnwindTimeout;
  while (threads_.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  bool clean = threads_.load() == 0 && reclaimed_.load();
  if (clean) destroy_private_heap(/*keep_arena=*/false);   // an arena a failure only reset
  if (clean) dlclose(handle_);   // else its code may still be running: keep it mapped
  std::lock_guard g(g_slots_lock);
  g_objects[core_->id] = nullptr;
}

DomainState Domain::state() const noexcept {
  if (core_->unloaded.load()) return DomainState::Unloaded;
  if (core_->alive()) return DomainState::Live;
  return reclaimed_.load() ? DomainState::Reclaimed : DomainState::Failed;
}

DomainInfo Domain::info() const {
  DomainInfo i;
  i.name = name_;
  i.state = state();
  i.last_cause = static_cast<FailureCause>(cause_.load());
  i.last_message = message_;
  i.incarnation = (core_->life.load() >> 1) - first_incarnation_ + 1;
  i.failures = failures_.load();
  i.restarts = restarts_;
  i.reclaimed_shared_objects = reclaimed_objects_.load();
  return i;
}

bool Domain::mark_failed(FailureCause cause, const char* message) noexcept {
  uint64_t life = core_->life.load();
  do {
    if (!(life & 1)) return false;
  } while (!core_->life.compare_exchange_weak(life, life & ~uint64_t{1}));
  cause_.store(static_cast<uint8_t>(cause));
  std::size_t i = 0;
  for (; message && message[i] && i + 1 < sizeof message_; ++i) message_[i] = message[i];
  message_[i] = '\0';
  if (cause != FailureCause::None) failures_.fetch_add(1);
  reclaim_pending_.store(true);
  return true;
}

bool Domain::kill() { return kill(FailureCause::Killed, "killed"); }

bool Domain::kill(FailureCause cause, const char* message) {
  TrustedScope trusted;
  if (!mark_failed(cause, message)) return false;
  reclaim();
  return true;
}

void Domain::reclaim() {
  TrustedScope trusted;
  std::lock_guard g(lock_);
  if (!reclaim_pending_.exchange(false)) return;
  // Threads still running the domain's code are sent back to their callers.
  auto deadline = std::chrono::steady_clock::now() + kUnwindTimeout;
  auto pause = kUnwindFirstResend;   // a thread in the domain's code leaves within microseconds
  while (signal_threads_in(core_) > 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      warn("domain '%s': a thread did not leave within 2 s (blocked outside the domain's code?); "
           "its private heap is kept to stay safe", name_.c_str());
      return;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, kUnwindResend);
  }
  if (quiesce_) quiesce_();   // e.g. reset the device before its DMA memory is reused
  destroy_private_heap(/*keep_arena=*/!unloaded_);
  reclaimed_objects_.store(heap_reclaim_owner(core_->id));
  reclaimed_.store(true);
}

RpcResult<void> Domain::restart() {
  TrustedScope trusted;
  if (core_->unloaded.load() || core_->alive()) return Trusted::error<void>(RpcError::InvalidArgument);
  reclaim();   // normally done already by the failing call
  std::string why;
  {
    std::lock_guard g(lock_);
    if (!reclaimed_.load()) return Trusted::error<void>(RpcError::DomainFailed);
    if (!create_private_heap(&why)) {
      warn("domain '%s': %s", name_.c_str(), why.c_str());
      return Trusted::error<void>(RpcError::DomainFailed);
    }
    ++restarts_;
  }
  // Not under lock_: a factory that fails reclaims through the call's failure path.
  if (!start(&why)) return Trusted::error<void>(RpcError::DomainFailed);
  return rl::ok;
}

void Domain::on_reclaim(std::function<void()> quiesce) {
  TrustedScope trusted;
  std::lock_guard g(lock_);
  quiesce_ = std::move(quiesce);
}

int Domain::spawned_threads() const { return threads_.load(); }
void Domain::thread_started() { threads_.fetch_add(1); }
void Domain::thread_finished() { threads_.fetch_sub(1); }

namespace detail {

RpcError call_refused(DomainCore* callee) noexcept {
  return callee->unloaded.load(std::memory_order_relaxed) ? RpcError::DomainUnloaded : RpcError::DomainFailed;
}

RpcError call_failed(Frame& fr) noexcept {
  TrustedScope trusted;
  Domain* d = Domain::of(fr.callee);
  if (!d) return RpcError::DomainUnloaded;
  d->reclaim();
  return call_refused(fr.callee);
}

}  // namespace detail
}  // namespace rl
