// An older version of rl::test::Counter (idl/test_domains.hpp): add() took a
// uint32_t and give_back() did not exist.  A domain built against it must be
// refused by a caller built against the current header (test_idl.cpp).
#pragma once

#include <array>
#include <cstdint>

#include "libredleaf/idl.hpp"

namespace rl::test {

struct Buffer {
  std::array<uint8_t, 64> bytes;
  uint32_t len;
};

class RL_INTERFACE Counter {
 public:
  virtual ~Counter() = default;
  RL_IDEMPOTENT virtual RpcResult<void> ping() = 0;
  virtual RpcResult<uint64_t> add(uint32_t delta) = 0;
  virtual RpcResult<RRef<Buffer>> echo(RRef<Buffer> buf) = 0;
  RL_IDEMPOTENT virtual RpcResult<uint64_t> sum(const RRef<Buffer>& buf) = 0;
  virtual RpcResult<uint64_t> keep(RRef<Buffer> buf) = 0;
};
struct CounterInit {
  uint64_t start;
};
RL_FACTORY Counter* create_counter(const CounterInit& init);

}  // namespace rl::test
