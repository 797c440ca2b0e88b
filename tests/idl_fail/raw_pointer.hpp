#include "libredleaf/idl.hpp"
namespace bad {
class RL_INTERFACE Store {
 public:
  virtual ~Store() = default;
  virtual rl::RpcResult<void> write(char* data, unsigned len) = 0;
};
}  // namespace bad
