// One PCI function as a driver sees it: BAR0 MMIO, config space, reset,
// DMA memory and polling -- whatever the backend (design.md §6).
//
// Backends: VFIO (a real device: BAR mmap, IOMMU mapping of the shared heap)
// and sim (a device model in this process).  The MMIO accessors are inline
// with one unlikely branch for sim, so a driver never knows which it has.
// DMA memory is the shared heap, mapped with IOVA == virtual address.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "idl/pci.hpp"
#include "libredleaf/detail/threads.hpp"

namespace rl::pci {

// A simulated device: what the sim backend dispatches register accesses to.
class Model {
 public:
  virtual ~Model() = default;
  virtual uint32_t mmio_read32(uint64_t off) = 0;
  virtual void mmio_write32(uint64_t off, uint32_t value) = 0;
  virtual uint64_t mmio_read64(uint64_t off) {
    return mmio_read32(off) | (static_cast<uint64_t>(mmio_read32(off + 4)) << 32);
  }
  virtual void mmio_write64(uint64_t off, uint64_t value) {
    mmio_write32(off, static_cast<uint32_t>(value));
    mmio_write32(off + 4, static_cast<uint32_t>(value >> 32));
  }
  virtual uint16_t vendor_id() const = 0;
  virtual uint16_t device_id() const = 0;
  virtual void function_reset() = 0;
  // The driver found no work: a model with deferred work makes progress here.
  virtual void idle() {}
  // Blocks until input may have arrived (a frame on a TAP wire) or `max`
  // has passed; false at once if this model has no input to wait for.
  virtual bool wait_for_input(std::chrono::microseconds /*max*/) { return false; }
  // A device whose storage is a memory BAR (sim:ram): that memory, else null.
  virtual uint8_t* memory(std::size_t* len) {
    *len = 0;
    return nullptr;
  }
};

class Device {
 public:
  virtual ~Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // ---- BAR0 MMIO: the hot path ------------------------------------------
  uint32_t read32(uint64_t off) const { return read<uint32_t>(off); }
  uint64_t read64(uint64_t off) const { return read<uint64_t>(off); }
  void write32(uint64_t off, uint32_t v) const { write<uint32_t>(off, v); }
  void write64(uint64_t off, uint64_t v) const { write<uint64_t>(off, v); }

  // ---- the slow paths ----------------------------------------------------
  virtual uint16_t vendor_id() const = 0;
  virtual uint16_t device_id() const = 0;
  // Sets Memory Space and Bus Master in the command register (DMA needs both).
  virtual bool enable_dma(std::string* error) = 0;
  // Function-level reset; the driver re-initializes afterwards.
  virtual bool reset(std::string* error) = 0;
  // Called by drivers when a poll found nothing: sim models progress here.
  void idle() const {
    if (model_) {
      detail::TrustedScope trusted;
      model_->idle();
    } else {
      __builtin_ia32_pause();
    }
  }
  // The device's memory BAR (a RAM or NVRAM device's storage), with its
  // length; null when it has none (or the backend does not map it yet).
  virtual uint8_t* memory_bar(std::size_t* len) const {
    if (model_) return model_->memory(len);
    *len = 0;
    return nullptr;
  }
  // For an application with nothing to do: blocks until the device may have
  // work (as an interrupt would say) or `max` has passed.  False at once if
  // it cannot tell -- a real device, whose interrupts are not wired to an
  // eventfd yet, or a model without external input: then poll on.
  bool wait_for_event(std::chrono::microseconds max) const { return model_ && model_->wait_for_input(max); }
  // A wait the datasheet asks for (e.g. after a reset): real time on a real
  // device; none on a model, whose state changes take effect at once.
  void delay(std::chrono::microseconds t) const {
    if (!model_) std::this_thread::sleep_for(t);
  }
  // IOVA of shared-heap memory (the whole heap is mapped IOVA == VA).
  static uint64_t iova(const void* p) noexcept { return reinterpret_cast<uintptr_t>(p); }

  const std::string& name() const noexcept { return name_; }
  bool simulated() const noexcept { return model_ != nullptr; }
  // The device model of a sim device (tests inject faults through it); null for real ones.
  Model* model() const noexcept { return model_; }

 protected:
  explicit Device(std::string name) : name_(std::move(name)) {}

  // One unlikely branch for sim; the model is runtime code, whoever calls it.
  template <class T>
  T read(uint64_t off) const {
    if (__builtin_expect(model_ != nullptr, 0)) {
      detail::TrustedScope trusted;
      if constexpr (sizeof(T) == 8) return model_->mmio_read64(off);
      else return model_->mmio_read32(off);
    }
    return *reinterpret_cast<volatile const T*>(bar0_ + off);
  }
  template <class T>
  void write(uint64_t off, T v) const {
    if (__builtin_expect(model_ != nullptr, 0)) {
      detail::TrustedScope trusted;
      if constexpr (sizeof(T) == 8) model_->mmio_write64(off, v);
      else model_->mmio_write32(off, v);
      return;
    }
    *reinterpret_cast<volatile T*>(bar0_ + off) = v;
  }

  volatile uint8_t* bar0_ = nullptr;
  Model* model_ = nullptr;

 private:
  std::string name_;
};

// Polls BAR0 register `reg` until the bits of `mask` are all set (or, with
// `set` false, all clear), letting a model progress meanwhile: the waits a
// datasheet asks for after a reset.  On timeout sets *error to
// "DRIVER: timed out waiting for WHAT", and returns false.
inline bool wait_bits(const Device& dev, uint32_t reg, uint32_t mask, bool set, const char* driver, const char* what,
                      std::string* error, std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while ((dev.read32(reg) & mask) != (set ? mask : 0)) {
    if (std::chrono::steady_clock::now() > deadline) {
      *error = std::string(driver) + ": timed out waiting for " + what;
      return false;
    }
    dev.idle();
  }
  return true;
}

// Opens a device: "0000:01:00.0" (VFIO) or "sim:nvme[,key=value...]".  On
// error returns null and says what is wrong and what to do.
std::unique_ptr<Device> open(const std::string& spec, std::string* error);

// The runtime's device table, through which driver domains reach devices.
DeviceRef attach(std::unique_ptr<Device> d);
Device* lookup(DeviceRef ref) noexcept;
std::unique_ptr<Device> detach(DeviceRef ref);

}  // namespace rl::pci
