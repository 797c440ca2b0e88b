// Disk: a block device for trusted code (apps, tools, tests) -- the NVMe or
// membdev driver domain, loaded behind the block shadow -- and the
// capability the fs domain calls it through.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "domains/shadow/bdev/bdev_shadow.hpp"
#include "domains/shadow/bdev/gate.hpp"
#include "drivers/pci/device.hpp"
#include "idl/bdev.rl.hpp"

namespace rl::fs {

struct DiskOptions {
  std::string through = "shadow";   // "shadow": driver crashes are recovered; "domain": they are errors
  uint64_t create_bytes = 0;        // an image file path that does not exist: create it this large
};

class Disk {
 public:
  // `spec`: an image file ("fs.img", opened as a simulated NVMe drive whose
  // storage is the file), "sim:nvme,...", "sim:ram,blocks=N" (the membdev
  // driver) or a PCI address bound to vfio-pci ("0000:01:00.0").
  static std::unique_ptr<Disk> open(const std::string& spec, const DiskOptions& options, std::string* error);
  ~Disk();
  Disk(const Disk&) = delete;
  Disk& operator=(const Disk&) = delete;

  blk::NvmeBDev& bdev() noexcept { return *front_; }        // for trusted code
  Cap<blk::NvmeBDev> cap() noexcept { return gate_->cap(); }   // for a domain
  Domain& driver() noexcept { return *driver_.domain; }
  blk::BlockDeviceShadow* shadow() noexcept { return shadow_.get(); }
  uint64_t blocks() const noexcept { return blocks_; }
  const std::string& spec() const noexcept { return spec_; }

 private:
  Disk() = default;

  std::string spec_;
  pci::DeviceRef ref_{};
  Loaded<blk::NvmeBDevProxy> driver_;
  std::unique_ptr<blk::BlockDeviceShadow> shadow_;
  blk::NvmeBDev* front_ = nullptr;
  std::unique_ptr<blk::BDevGate> gate_;
  uint64_t blocks_ = 0;
};

// Whether `spec` names a device ("sim:...", a PCI address) rather than an image file.
bool is_device_spec(const std::string& spec);

// "64M", "1G", "4096" (bytes) -> bytes; false on anything else.
bool parse_size(const std::string& text, uint64_t* bytes);

}  // namespace rl::fs
