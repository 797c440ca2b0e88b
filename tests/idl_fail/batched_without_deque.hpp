#include <cstdint>
#include "libredleaf/idl.hpp"
namespace bad {
class RL_INTERFACE Store {
 public:
  virtual ~Store() = default;
  RL_BATCHED virtual rl::RpcResult<int> flush(uint32_t count) = 0;
};
}  // namespace bad
