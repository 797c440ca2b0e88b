// Cap<I>: an interface reference -- a capability to call another domain.
//
// Only trusted code creates one (it wraps a proxy), so a domain can call
// exactly the domains it was handed.  It is exchangeable: passing it moves no
// memory, only the right to call.
#pragma once

namespace rl {

template <class Interface>
class Cap {
 public:
  Cap() noexcept = default;
  Interface* operator->() const noexcept { return proxy_; }
  explicit operator bool() const noexcept { return proxy_ != nullptr; }

  // Trusted code only: `proxy` must be a proxy object, never a domain's own object.
  static Cap from_proxy(Interface* proxy) noexcept { return Cap(proxy, 0); }

 private:
  // Two parameters: a one-argument constructor would confuse the member
  // counting of aggregates that hold a Cap (exchangeable.hpp).
  Cap(Interface* p, int) noexcept : proxy_(p) {}
  Interface* proxy_ = nullptr;
};

}  // namespace rl
