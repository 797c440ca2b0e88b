// membdev.so: the in-memory block device driver as a domain.
#include "domains/membdev/membdev.hpp"
#include "idl/bdev.rl.hpp"
#include "libredleaf/rl.hpp"

namespace rl::blk {

NvmeBDev* create_membdev(const MemBDevInit& init) {
  pci::Device* dev = pci::lookup(init.device);
  if (!dev) rl::panic("membdev: no device behind this DeviceRef (attach one with rl::pci::attach)");
  std::string error;
  auto bdev = make_membdev(*dev, &error);
  if (!bdev) rl::panic(error.c_str());
  return bdev.release();
}

}  // namespace rl::blk

RL_DOMAIN(rl::blk::create_membdev)
