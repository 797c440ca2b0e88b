#include <vector>
#include "libredleaf/idl.hpp"
namespace bad {
class RL_INTERFACE Store {
 public:
  virtual ~Store() = default;
  virtual rl::RpcResult<int> put_all(std::vector<int> keys) = 0;
};
}  // namespace bad
