// What every generated proxy shares: the callee's core, the reference that
// keeps its slot from being reused, and the typed factory call.
#pragma once

#include <memory>
#include <string>

#include "cross_call.hpp"
#include "domain.hpp"
#include "idl.hpp"

namespace rl {

template <class Interface>
class ProxyBase : public Interface {
 public:
  explicit ProxyBase(Domain& d) noexcept : core_(d.core()) { core_->proxies.fetch_add(1); }
  ~ProxyBase() override { core_->proxies.fetch_sub(1); }
  ProxyBase(const ProxyBase&) = delete;
  ProxyBase& operator=(const ProxyBase&) = delete;

  // The capability other domains receive to call through this proxy.
  Cap<Interface> cap() noexcept { return Cap<Interface>::from_proxy(this); }

 protected:
  // The callee's root object, read inside the call: a restart replaces it.
  // Null only while a restart runs the factory; calls then fail cleanly.
  Interface* impl() const noexcept {
    return static_cast<Interface*>(core_->root.load(std::memory_order_acquire));
  }
  template <class T>
  static RpcResult<T> not_ready() noexcept { return detail::Trusted::error<T>(RpcError::DomainFailed); }

  detail::DomainCore* const core_;
};

// A loaded domain and the proxy that calls it.
template <class Proxy>
struct Loaded {
  std::unique_ptr<Domain> domain;
  std::unique_ptr<Proxy> proxy;
  explicit operator bool() const noexcept { return domain && proxy; }
};

// The typed factory: loads `path` as an implementation of Proxy's interface.
template <class Proxy, class Init>
Loaded<Proxy> load_domain(const std::string& path, const std::string& name, const Init& init,
                          LoadError* error) {
  static_assert(detail::require_exchangeable<Init>());
  using I = typename Proxy::interface_type;
  Loaded<Proxy> l;
  l.domain = Domain::load(path, name, InterfaceTraits<I>::kName, InterfaceTraits<I>::kFingerprint, &init,
                          sizeof init, error);
  if (l.domain) l.proxy = std::make_unique<Proxy>(*l.domain);
  return l;
}

}  // namespace rl
