#include <cstdint>
#include "libredleaf/idl.hpp"
namespace bad {
class RL_INTERFACE Store {
 public:
  virtual ~Store() = default;
  virtual rl::RpcResult<int> read(uint64_t key) = 0;
  virtual rl::RpcResult<int> read(uint64_t key, uint32_t len) = 0;
};
}  // namespace bad
