#include "libredleaf/idl.hpp"
namespace bad {
class Store {
 public:
  virtual ~Store() = default;
  virtual rl::RpcResult<int> size() = 0;
};
}  // namespace bad
