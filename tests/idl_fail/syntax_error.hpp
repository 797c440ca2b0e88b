#include "libredleaf/idl.hpp"
namespace bad {
class RL_INTERFACE Store {
 public:
  virtual ~Store() = default;
  virtual rl::RpcResult<int> size() = 0
};
}  // namespace bad
