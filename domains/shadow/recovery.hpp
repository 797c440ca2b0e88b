// What every shadow does to bring a driver back: reset its device once the
// driver is dead (before its DMA memory is reused), then restart it.
#pragma once

#include <chrono>
#include <thread>

#include "drivers/pci/device.hpp"
#include "libredleaf/domain.hpp"

namespace rl::shadow {

// Resets `device` (VFIO_DEVICE_RESET or the model's) each time `driver` has
// failed, after its threads left and before its memory is freed.
inline void reset_device_on_failure(Domain& driver, pci::DeviceRef device) {
  driver.on_reclaim([device] {
    std::string error;
    if (pci::Device* d = pci::lookup(device)) d->reset(&error);
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

}  // namespace rl::shadow
