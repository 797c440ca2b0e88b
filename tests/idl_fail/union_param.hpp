#include <cstdint>
#include "libredleaf/idl.hpp"
namespace bad {
union Word { uint32_t u; float f; };
class RL_INTERFACE Store {
 public:
  virtual ~Store() = default;
  virtual rl::RpcResult<int> put(Word w) = 0;
};
}  // namespace bad
