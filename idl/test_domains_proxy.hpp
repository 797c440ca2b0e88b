// Proxies of the test interfaces.  Hand-written until tools/idlc generates
// them; each method is exactly the generator's output: give RRef arguments to
// the callee, borrow `const RRef&` ones, cross_call, take RRef results back.
#pragma once

#include "idl/test_domains.hpp"
#include "libredleaf/proxy.hpp"

namespace rl::test {

class CounterProxy final : public ProxyBase<Counter> {
 public:
  using interface_type = Counter;
  using ProxyBase::ProxyBase;

  RpcResult<void> ping() override {
    return detail::cross_call(core_, [&]() -> RpcResult<void> {
      Counter* i = impl();
      if (!i) [[unlikely]] return not_ready<void>();
      return i->ping();
    });
  }
  RpcResult<uint64_t> add(uint64_t delta) override {
    return detail::cross_call(core_, [&]() -> RpcResult<uint64_t> {
      Counter* i = impl();
      if (!i) [[unlikely]] return not_ready<uint64_t>();
      return i->add(delta);
    });
  }
  RpcResult<RRef<Buffer>> echo(RRef<Buffer> buf) override {
    auto r = detail::cross_call(core_, [&]() -> RpcResult<RRef<Buffer>> {
      Counter* i = impl();
      if (!i) [[unlikely]] return not_ready<RRef<Buffer>>();
      detail::give(buf, core_->id);
      return i->echo(std::move(buf));
    });
    if (r.ok()) detail::give(r.value(), detail::current_domain_id());
    return r;
  }
  RpcResult<uint64_t> sum(const RRef<Buffer>& buf) override {
    detail::Borrow<RRef<Buffer>> borrow(buf);
    return detail::cross_call(core_, [&]() -> RpcResult<uint64_t> {
      Counter* i = impl();
      if (!i) [[unlikely]] return not_ready<uint64_t>();
      return i->sum(buf);
    });
  }
  RpcResult<uint64_t> keep(RRef<Buffer> buf) override {
    return detail::cross_call(core_, [&]() -> RpcResult<uint64_t> {
      Counter* i = impl();
      if (!i) [[unlikely]] return not_ready<uint64_t>();
      detail::give(buf, core_->id);
      return i->keep(std::move(buf));
    });
  }
  RpcResult<RRef<Buffer>> give_back() override {
    auto r = detail::cross_call(core_, [&]() -> RpcResult<RRef<Buffer>> {
      Counter* i = impl();
      if (!i) [[unlikely]] return not_ready<RRef<Buffer>>();
      return i->give_back();
    });
    if (r.ok()) detail::give(r.value(), detail::current_domain_id());
    return r;
  }
};

class CrasherProxy final : public ProxyBase<Crasher> {
 public:
  using interface_type = Crasher;
  using ProxyBase::ProxyBase;

  RpcResult<uint64_t> crash(Fault how) override {
    return detail::cross_call(core_, [&]() -> RpcResult<uint64_t> {
      Crasher* i = impl();
      if (!i) [[unlikely]] return not_ready<uint64_t>();
      return i->crash(how);
    });
  }
  RpcResult<uint64_t> leak(uint64_t private_bytes, uint64_t shared_buffers) override {
    return detail::cross_call(core_, [&]() -> RpcResult<uint64_t> {
      Crasher* i = impl();
      if (!i) [[unlikely]] return not_ready<uint64_t>();
      return i->leak(private_bytes, shared_buffers);
    });
  }
  RpcResult<uint32_t> spawn_spinners(uint32_t n) override {
    return detail::cross_call(core_, [&]() -> RpcResult<uint32_t> {
      Crasher* i = impl();
      if (!i) [[unlikely]] return not_ready<uint32_t>();
      return i->spawn_spinners(n);
    });
  }
  RpcResult<uint32_t> spinners() override {
    return detail::cross_call(core_, [&]() -> RpcResult<uint32_t> {
      Crasher* i = impl();
      if (!i) [[unlikely]] return not_ready<uint32_t>();
      return i->spinners();
    });
  }
  RpcResult<void> stop_spinning() override {
    return detail::cross_call(core_, [&]() -> RpcResult<void> {
      Crasher* i = impl();
      if (!i) [[unlikely]] return not_ready<void>();
      return i->stop_spinning();
    });
  }
  RpcResult<uint64_t> hold(const RRef<Buffer>& buf, Fault how) override {
    detail::Borrow<RRef<Buffer>> borrow(buf);
    return detail::cross_call(core_, [&]() -> RpcResult<uint64_t> {
      Crasher* i = impl();
      if (!i) [[unlikely]] return not_ready<uint64_t>();
      return i->hold(buf, how);
    });
  }
  RpcResult<uint64_t> alive() override {
    return detail::cross_call(core_, [&]() -> RpcResult<uint64_t> {
      Crasher* i = impl();
      if (!i) [[unlikely]] return not_ready<uint64_t>();
      return i->alive();
    });
  }
};

class RelayProxy final : public ProxyBase<Relay> {
 public:
  using interface_type = Relay;
  using ProxyBase::ProxyBase;

  RpcResult<uint64_t> forward(Fault how) override {
    return detail::cross_call(core_, [&]() -> RpcResult<uint64_t> {
      Relay* i = impl();
      if (!i) [[unlikely]] return not_ready<uint64_t>();
      return i->forward(how);
    });
  }
  RpcResult<uint64_t> forward_then_crash(Fault how) override {
    return detail::cross_call(core_, [&]() -> RpcResult<uint64_t> {
      Relay* i = impl();
      if (!i) [[unlikely]] return not_ready<uint64_t>();
      return i->forward_then_crash(how);
    });
  }
  RpcResult<uint64_t> served() override {
    return detail::cross_call(core_, [&]() -> RpcResult<uint64_t> {
      Relay* i = impl();
      if (!i) [[unlikely]] return not_ready<uint64_t>();
      return i->served();
    });
  }
};

}  // namespace rl::test
