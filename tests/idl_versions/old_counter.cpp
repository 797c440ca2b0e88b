// A counter domain built against the old Counter interface (counter_v0.hpp).
#include <vector>

#include "tests/counter_v0.rl.hpp"

namespace rl::test {
namespace {

class OldCounter final : public Counter {
 public:
  RpcResult<void> ping() override { return ok; }
  RpcResult<uint64_t> add(uint32_t delta) override { return total_ += delta; }
  RpcResult<RRef<Buffer>> echo(RRef<Buffer> buf) override { return buf; }
  RpcResult<uint64_t> sum(const RRef<Buffer>&) override { return total_; }
  RpcResult<uint64_t> keep(RRef<Buffer>) override { return total_; }

 private:
  uint64_t total_ = 0;
};

}  // namespace

Counter* create_counter(const CounterInit&) { return new OldCounter(); }

}  // namespace rl::test

RL_DOMAIN(rl::test::create_counter)
