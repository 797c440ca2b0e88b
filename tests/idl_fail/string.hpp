#include <string>
#include "libredleaf/idl.hpp"
namespace bad {
class RL_INTERFACE Store {
 public:
  virtual ~Store() = default;
  virtual rl::RpcResult<int> open(std::string path) = 0;
};
}  // namespace bad
