#include "libredleaf/idl.hpp"
namespace bad {
class RL_INTERFACE Store {
 public:
  virtual ~Store() = default;
  virtual int size() = 0;
};
}  // namespace bad
