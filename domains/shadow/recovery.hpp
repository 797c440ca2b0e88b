// What every shadow does to bring a driver back: reset its device once the
// driver is dead (before its DMA memory is reused), then restart it.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "drivers/pci/device.hpp"
#include "libredleaf/domain.hpp"

namespace rl::shadow {

// Resets `device` (VFIO_DEVICE_RESET or the model's) each time `driver` has
// failed, after its threads left and before its memory is freed.  A reset
// that fails is said on stderr: the restarted driver then starts on a device
// that may still hold the dead one's state.
inline void reset_device_on_failure(Domain& driver, pci::DeviceRef device) {
  driver.on_reclaim([device] {
    std::string error;
    pci::Device* d = pci::lookup(device);
    if (d && !d->reset(&error))
      fprintf(stderr, "rl: reset of %s after a driver failure: %s\n", d->name().c_str(), error.c_str());
  });
}

// Restarts a failed `driver` (another thread may have done it already):
// `attempts` tries, backing off from `backoff` and doubling.
inline bool restart(Domain& driver, uint32_t attempts, std::chrono::microseconds backoff) {
  for (uint32_t attempt = 0; attempt < attempts; ++attempt) {
    if (driver.alive() || driver.restart().ok()) return true;
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
  return false;
}

// Each recovery's duration, from the failed call's return to the driver
// serving again (nanoseconds); their number is the shadow's recoveries.
class RecoveryLog {
 public:
  using Clock = std::chrono::steady_clock;
  void record(Clock::time_point since) {
    ns_.push_back(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - since).count()));
  }
  uint64_t count() const noexcept { return ns_.size(); }
  const std::vector<uint64_t>& ns() const noexcept { return ns_; }

 private:
  std::vector<uint64_t> ns_;
};

// Runs `call`; while it fails with DomainFailed, brings the driver back with
// `recover` (false: give up) and runs it again, up to `attempts` times.
template <class Call, class Recover>
auto call_with_recovery(Call&& call, uint32_t attempts, Recover&& recover, RecoveryLog& log) -> decltype(call()) {
  std::optional<decltype(call())> r;   // RpcResult is not assignable: re-emplaced per attempt
  r.emplace(call());
  for (uint32_t attempt = 0; !r->ok() && r->error() == RpcError::DomainFailed && attempt < attempts; ++attempt) {
    auto since = RecoveryLog::Clock::now();
    if (!recover()) break;
    log.record(since);
    r.emplace(call());
  }
  return std::move(*r);
}

}  // namespace rl::shadow
