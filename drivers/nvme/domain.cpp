// The NVMe driver domain: NvmeBDev over the Driver, exported as nvme.so.
#include "drivers/nvme/bdev.hpp"
#include "idl/bdev.rl.hpp"
#include "libredleaf/rl.hpp"

namespace rl::blk {

NvmeBDev* create_nvme(const NvmeInit& init) {
  pci::Device* dev = pci::lookup(init.device);
  if (!dev) rl::panic("nvme: no device behind this DeviceRef (attach one with rl::pci::attach)");
  nvme::DriverConfig cfg;
  if (init.io_queues) cfg.io_queues = init.io_queues;
  if (init.queue_depth) cfg.queue_depth = init.queue_depth;
  std::string error;
  auto drv = nvme::Driver::create(*dev, cfg, &error);
  if (!drv) rl::panic(("nvme: " + error).c_str());
  return make_nvme_bdev(std::move(drv)).release();
}

}  // namespace rl::blk

RL_DOMAIN(rl::blk::create_nvme)
