#include <cstdint>
#include "libredleaf/idl.hpp"
namespace bad {
struct Request {
  uint32_t id;
  const char* path;
};
class RL_INTERFACE Store {
 public:
  virtual ~Store() = default;
  virtual rl::RpcResult<int> submit(Request req) = 0;
};
}  // namespace bad
