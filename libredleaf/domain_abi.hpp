// What a domain .so exports, and the macro that exports it.
//
// Every domain defines exactly one `rl_domain_abi` (read-only data): the
// loader checks the magic and version, the interface's name and its ABI
// fingerprint (computed by idlc from the interface's full declaration), then
// calls `factory` inside the new domain.  The factory builds all of the
// domain's state on its private heap and returns its root object.
#pragma once

#include <cstdint>

#include "libredleaf/detail/fault_gadget.hpp"
#include "libredleaf/idl.hpp"

namespace rl {

inline constexpr uint64_t kDomainAbiMagic = 0x5245444c45414631ull;   // "REDLEAF1"
inline constexpr uint32_t kDomainAbiVersion = 2;   // 2: the fault entry for crash injection

struct DomainAbi {
  uint64_t magic;
  uint32_t abi_version;
  uint32_t init_size;           // sizeof the factory's init argument
  const char* interface_name;
  uint64_t fingerprint;         // of the interface's full declaration
  void* (*factory)(const void* init);
  void (*fault)(int kind, const void* bus_page);   // commits an injected fault (fault_gadget.hpp)
};

namespace detail {

template <class I, class Init>
constexpr DomainAbi make_abi(I* (*)(const Init&), void* (*entry)(const void*), void (*fault)(int, const void*)) {
  return {kDomainAbiMagic, kDomainAbiVersion, sizeof(Init), InterfaceTraits<I>::kName,
          InterfaceTraits<I>::kFingerprint, entry, fault};
}
template <class I>
constexpr DomainAbi make_abi(I* (*)(), void* (*entry)(const void*), void (*fault)(int, const void*)) {
  return {kDomainAbiMagic, kDomainAbiVersion, sizeof(NoInit), InterfaceTraits<I>::kName,
          InterfaceTraits<I>::kFingerprint, entry, fault};
}
template <class I, class Init>
void* call_factory(I* (*create)(const Init&), const void* init) {
  return static_cast<I*>(create(*static_cast<const Init*>(init)));
}
template <class I>
void* call_factory(I* (*create)(), const void*) {
  return static_cast<I*>(create());
}

}  // namespace detail
}  // namespace rl

// RL_DOMAIN(create): exports `create`, the factory declared with RL_FACTORY in
// the domain's idl/ header, as this .so's entry point.
#define RL_DOMAIN(create)                                                              \
  extern "C" {                                                                        \
  static void* rl_domain_factory(const void* init) {                                  \
    return ::rl::detail::call_factory(&create, init);                                 \
  }                                                                                   \
  static void rl_domain_fault(int kind, const void* bus_page) {                       \
    ::rl::detail::commit_fault(kind, bus_page);                                       \
  }                                                                                   \
  [[gnu::visibility("default")]] extern const ::rl::DomainAbi rl_domain_abi;          \
  constinit const ::rl::DomainAbi rl_domain_abi =                                     \
      ::rl::detail::make_abi(&create, &rl_domain_factory, &rl_domain_fault);          \
  }
