// A simulated RAM disk (sim:ram): a PCI function whose storage is a memory
// BAR, like an NVRAM card.  Its contents outlive the driver domain -- a
// crashed membdev loses nothing that was written -- and a function reset
// leaves them alone.  BAR0 holds two read-only registers: the capacity in
// 4 KiB blocks.
#pragma once

#include <cstdint>
#include <string>

#include "drivers/pci/device.hpp"

namespace rl::sim {

class RamModel final : public pci::Model {
 public:
  static constexpr uint64_t kCapacityLo = 0x0, kCapacityHi = 0x4;
  RamModel(uint64_t blocks, std::string* error);
  ~RamModel() override;

  uint32_t mmio_read32(uint64_t off) override;
  void mmio_write32(uint64_t, uint32_t) override {}   // nothing writable
  uint16_t vendor_id() const override { return 0x1b36; }   // Red Hat's range for emulated devices
  uint16_t device_id() const override { return 0x10ff; }   // not a real device: ours
  void function_reset() override {}
  uint8_t* memory(std::size_t* len) override {
    *len = bytes_;
    return data_;
  }

 private:
  uint64_t blocks_;
  std::size_t bytes_;
  uint8_t* data_ = nullptr;
};

}  // namespace rl::sim
