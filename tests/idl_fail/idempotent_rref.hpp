#include <array>
#include <cstdint>
#include "libredleaf/idl.hpp"
namespace bad {
struct Block { std::array<uint8_t, 512> data; };
class RL_INTERFACE Store {
 public:
  virtual ~Store() = default;
  RL_IDEMPOTENT virtual rl::RpcResult<int> write(uint64_t lba, rl::RRef<Block> block) = 0;
};
}  // namespace bad
