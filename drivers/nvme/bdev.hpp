// The NvmeBDev implementation over the NVMe Driver (bdev.cpp).
#pragma once

#include <memory>

#include "drivers/nvme/driver.hpp"
#include "idl/bdev.hpp"

namespace rl::blk {

std::unique_ptr<NvmeBDev> make_nvme_bdev(std::unique_ptr<nvme::Driver> driver);

}  // namespace rl::blk
