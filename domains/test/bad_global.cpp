// Deliberately broken: a mutable global.  The domain-globals check must
// reject this .so (tests/meson.build runs it and expects the failure).
#include "idl/test_domains.rl.hpp"

namespace rl::test {
namespace {

uint64_t g_calls = 0;   // the bug: state outside the domain's heap survives a restart

class BadDomain final : public Counter {
 public:
  RpcResult<void> ping() override { return ok; }
  RpcResult<uint64_t> add(uint64_t delta) override { return g_calls += delta; }
  RpcResult<RRef<Buffer>> echo(RRef<Buffer> buf) override { return buf; }
  RpcResult<uint64_t> sum(const RRef<Buffer>&) override { return g_calls; }
  RpcResult<uint64_t> keep(RRef<Buffer>) override { return g_calls; }
  RpcResult<RRef<Buffer>> give_back() override { return RRef<Buffer>(); }
};



}  // namespace

Counter* create_counter(const CounterInit&) { return new BadDomain(); }

}  // namespace rl::test

RL_DOMAIN(rl::test::create_counter)
