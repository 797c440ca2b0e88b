// BDevGate: lets a domain call a block device that is trusted code -- the
// block shadow -- as it would call a driver domain.
//
// A Cap<NvmeBDev> normally wraps a proxy into a driver domain.  The shadow is
// not a domain: called directly from the fs domain, its allocations would
// land in the fs domain's private heap (operator new routes by the current
// domain) and die with it.  The gate makes each call a cross-domain call into
// trusted code: the thread's current domain becomes the runtime's for the
// call, on a stack of its own, and RRef ownership moves as through a proxy.
#pragma once

#include "idl/bdev.rl.hpp"
#include "libredleaf/cross_call.hpp"

namespace rl::blk {

class BDevGate final : public NvmeBDev {
 public:
  explicit BDevGate(NvmeBDev& target) noexcept : target_(target) {}
  Cap<NvmeBDev> cap() noexcept { return Cap<NvmeBDev>::from_proxy(this); }

 private:
  // Defined before its callers: its return type is deduced.
  template <class F>
  static auto enter(F&& call) {
    return detail::cross_call(&detail::g_trusted_core, std::forward<F>(call));
  }

 public:
  RpcResult<DeviceInfo> info() override {
    return enter([&] { return target_.info(); });
  }
  RpcResult<BlockResult> read(uint64_t lba, RRef<Block> buf) override {
    auto r = enter([&] {
      detail::give(buf, detail::kTrustedId);
      return target_.read(lba, std::move(buf));
    });
    if (r.ok()) detail::give(r.value(), detail::current_domain_id());
    return r;
  }
  RpcResult<int32_t> write(uint64_t lba, const RRef<Block>& buf) override {
    detail::Borrow<RRef<Block>> borrow(buf);
    return enter([&] { return target_.write(lba, buf); });
  }
  RpcResult<int32_t> flush() override {
    return enter([&] { return target_.flush(); });
  }
  RpcResult<BlkBatch> submit_and_poll(BlkBatch batch) override {
    auto r = enter([&] {
      detail::give(batch, detail::kTrustedId);
      return target_.submit_and_poll(std::move(batch));
    });
    if (r.ok()) detail::give(r.value(), detail::current_domain_id());
    return r;
  }
  RpcResult<QueueStats> stats() override {
    return enter([&] { return target_.stats(); });
  }

 private:
  NvmeBDev& target_;
};

}  // namespace rl::blk
