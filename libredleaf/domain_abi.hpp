// What a domain .so exports, and the macro that exports it.
//
// Every domain defines exactly one `rl_domain_abi` (read-only data): the
// loader checks the magic and version, the interface's name and its ABI
// fingerprint, then calls `factory` inside the new domain.  The factory builds
// all of the domain's state on its private heap and returns its root object.
#pragma once

#include <cstdint>

namespace rl {

inline constexpr uint64_t kDomainAbiMagic = 0x5245444c45414631ull;   // "REDLEAF1"
inline constexpr uint32_t kDomainAbiVersion = 1;

struct DomainAbi {
  uint64_t magic;
  uint32_t abi_version;
  uint32_t init_size;           // sizeof the factory's init argument
  const char* interface_name;
  uint64_t fingerprint;         // of the interface's full declaration
  void* (*factory)(const void* init);
};

// FNV-1a, for fingerprints of hand-written interface declarations.
constexpr uint64_t fingerprint_of(const char* s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; ++s) h = (h ^ static_cast<unsigned char>(*s)) * 0x100000001b3ull;
  return h;
}

}  // namespace rl

// RL_DOMAIN(Interface, Init, create): `create` is `Interface* create(const Init&)`.
// Interface must provide `static constexpr const char* kName` and `kFingerprint`.
#define RL_DOMAIN(Interface, Init, create)                                          \
  extern "C" {                                                                     \
  static void* rl_domain_factory(const void* init) {                               \
    return static_cast<Interface*>(create(*static_cast<const Init*>(init)));       \
  }                                                                                \
  [[gnu::visibility("default")]] extern const ::rl::DomainAbi rl_domain_abi;       \
  const ::rl::DomainAbi rl_domain_abi = {::rl::kDomainAbiMagic,                    \
                                         ::rl::kDomainAbiVersion,                  \
                                         sizeof(Init),                             \
                                         Interface::kName,                         \
                                         Interface::kFingerprint,                  \
                                         &rl_domain_factory};                      \
  }
