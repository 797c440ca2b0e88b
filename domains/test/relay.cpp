// The nesting test domain: calls an inner Crasher (A -> Relay -> Crasher).
#include "domains/test/faults.hpp"

namespace rl::test {
namespace {

class RelayDomain final : public Relay {
 public:
  explicit RelayDomain(Cap<Crasher> inner) : inner_(inner) {}

  RpcResult<uint64_t> forward(Fault how) override {
    ++served_;
    auto r = inner_->crash(how);
    return r.ok() ? uint64_t{0} : 1 + static_cast<uint64_t>(r.error());
  }
  RpcResult<uint64_t> forward_then_crash(Fault how) override {
    ++served_;
    auto r = inner_->alive();
    if (!r.ok()) return uint64_t{1};
    fail_with(how);
    return uint64_t{0};
  }
  RpcResult<uint64_t> served() override { return served_; }

 private:
  Cap<Crasher> inner_;
  uint64_t served_ = 0;
};



}  // namespace

Relay* create_relay(const RelayInit& init) { return new RelayDomain(init.inner); }

}  // namespace rl::test

RL_DOMAIN(rl::test::create_relay)
