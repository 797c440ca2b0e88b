// What every generated shadow skeleton shares (design.md §7).
//
// A shadow implements the same interface as the domain it guards and
// forwards each call through the proxy.  The generated methods report each
// request to the hooks below; after a failure the default hook restarts the
// domain from its factory and init arguments (which the Domain keeps), and
// idempotent methods are retried once.  Issue-specific shadows (request
// tracking and replay) override the hooks.
#pragma once

#include <atomic>
#include <cstdint>

#include "domain.hpp"

namespace rl {

template <class Interface, class Proxy>
class ShadowBase : public Interface {
 public:
  explicit ShadowBase(Domain& guarded) : domain_(guarded), proxy_(guarded) {}

  uint64_t recoveries() const noexcept { return recoveries_.load(); }
  Domain& domain() noexcept { return domain_; }

 protected:
  Proxy& proxy() noexcept { return proxy_; }

  virtual void request_started(uint32_t method) { (void)method; }
  virtual void request_completed(uint32_t method, bool ok) {
    (void)method;
    (void)ok;
  }
  // The guarded domain failed while serving `method`.  The default restarts
  // it (another thread may have done so already) and, when the method can be
  // retried, asks for the retry.
  virtual bool domain_failed(uint32_t method, bool can_retry) {
    (void)method;
    bool live = domain_.restart().ok() || domain_.alive();
    if (live) recoveries_.fetch_add(1);
    return live && can_retry;
  }

 private:
  Domain& domain_;
  Proxy proxy_;
  std::atomic<uint64_t> recoveries_{0};
};

}  // namespace rl
