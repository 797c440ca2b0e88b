// The echo/counter test domain: state, RRefs in and out, borrows.
#include <vector>

#include "idl/test_domains.rl.hpp"

namespace rl::test {
namespace {

class CounterDomain final : public Counter {
 public:
  explicit CounterDomain(uint64_t start) : total_(start) {}

  RpcResult<void> ping() override { return ok; }
  RpcResult<uint64_t> add(uint64_t delta) override { return total_ += delta; }
  RpcResult<RRef<Buffer>> echo(RRef<Buffer> buf) override {
    if (buf) buf->bytes[0] = static_cast<uint8_t>(buf->bytes[0] + 1);
    return buf;
  }
  RpcResult<uint64_t> sum(const RRef<Buffer>& buf) override {
    uint64_t s = 0;
    for (uint32_t i = 0; i < buf->len && i < buf->bytes.size(); ++i) s += buf->bytes[i];
    return s;
  }
  RpcResult<uint64_t> keep(RRef<Buffer> buf) override {
    kept_.push_back(std::move(buf));
    return static_cast<uint64_t>(kept_.size());
  }
  RpcResult<RRef<Buffer>> give_back() override {
    if (kept_.empty()) return RRef<Buffer>();
    RRef<Buffer> b = std::move(kept_.back());
    kept_.pop_back();
    return b;
  }

 private:
  uint64_t total_;
  std::vector<RRef<Buffer>> kept_;
};



}  // namespace

Counter* create_counter(const CounterInit& init) { return new CounterDomain(init.start); }

}  // namespace rl::test

RL_DOMAIN(rl::test::create_counter)
