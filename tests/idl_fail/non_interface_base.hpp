#include "libredleaf/idl.hpp"
namespace bad {
class Helper {
 public:
  int counter = 0;
};
class RL_INTERFACE Store : public Helper {
 public:
  virtual ~Store() = default;
  virtual rl::RpcResult<int> size() = 0;
};
}  // namespace bad
