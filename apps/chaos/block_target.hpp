// A block driver domain on a fresh simulated device, for rl-chaos and
// rl-recovery: "membdev" (sim:ram) or "nvme" (sim:nvme).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "drivers/pci/device.hpp"
#include "idl/bdev.rl.hpp"

namespace rl::tools {

struct BlockTarget {
  pci::DeviceRef ref{};
  Loaded<blk::NvmeBDevProxy> driver;

  BlockTarget(const std::string& target, uint64_t blocks, const char* prog) {
    std::string spec = target == "nvme" ? "sim:nvme,lba=4096,blocks=" + std::to_string(blocks)
                                        : "sim:ram,blocks=" + std::to_string(blocks);
    std::string err;
    auto dev = pci::open(spec, &err);
    if (!dev) fail(prog, err);
    ref = pci::attach(std::move(dev));
    LoadError lerr;
    driver = target == "nvme"
                 ? blk::load_nvme(std::string(RL_NVME_DOMAIN_DIR) + "/nvme.so", "nvme", blk::NvmeInit{ref, 1, 64}, &lerr)
                 : blk::load_membdev(std::string(RL_MEMBDEV_DOMAIN_DIR) + "/membdev.so", "membdev",
                                     blk::MemBDevInit{ref}, &lerr);
    if (!driver) fail(prog, lerr.message);
  }
  ~BlockTarget() {
    driver = {};
    pci::detach(ref);
  }
  Domain& domain() { return *driver.domain; }

 private:
  [[noreturn]] static void fail(const char* prog, const std::string& why) {
    fprintf(stderr, "%s: %s\n", prog, why.c_str());
    std::exit(1);
  }
};

}  // namespace rl::tools
