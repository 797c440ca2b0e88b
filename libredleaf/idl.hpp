// What interface headers in idl/ use: the marks idlc reads, and the traits
// it generates for each interface.
//
//   class RL_INTERFACE BDev {                    // an interface: idlc generates its proxy
//     RL_IDEMPOTENT virtual RpcResult<int32_t> flush() = 0;   // a shadow may retry it
//     RL_BATCHED virtual RpcResult<...> submit_and_poll(RRefDeque<...>) = 0;
//   };
//   RL_FACTORY BDev* create_ramdisk(const RamdiskInit& init);  // a domain's typed factory
//
// The marks are clang annotations, seen only by idlc (libclang); GCC sees nothing.
#pragma once

#include <cstdint>

#include "libredleaf/cap.hpp"
#include "libredleaf/rpc_result.hpp"
#include "libredleaf/rref.hpp"

#ifdef __clang__
#define RL_INTERFACE __attribute__((annotate("rl_interface")))
#define RL_IDEMPOTENT __attribute__((annotate("rl_idempotent")))
#define RL_BATCHED __attribute__((annotate("rl_batched")))
#define RL_FACTORY __attribute__((annotate("rl_factory")))
#else
#define RL_INTERFACE
#define RL_IDEMPOTENT
#define RL_BATCHED
#define RL_FACTORY
#endif

namespace rl {

struct MethodInfo {
  const char* name;
  bool idempotent;
  bool batched;
};

// The init argument of a factory that takes none.
struct NoInit {};

namespace detail {
template <class> inline constexpr bool no_traits = false;
}

// Specialized by the header idlc generates for each interface.
template <class Interface>
struct InterfaceTraits {
  static_assert(detail::no_traits<Interface>,
                "redleaf: no InterfaceTraits for this interface. Include the header idlc generated "
                "from its idl/ file (#include \"idl/NAME.rl.hpp\") and mark the class RL_INTERFACE.");
};

}  // namespace rl
