#include "sim/ram/model.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace rl::sim {

RamModel::RamModel(uint64_t blocks, std::string* error) : blocks_(blocks), bytes_(blocks * 4096) {
  // Untouched pages cost nothing: a large disk is cheap until written.
  void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    *error = "sim:ram cannot map " + std::to_string(bytes_ >> 20) + " MiB: " + strerror(errno);
    return;
  }
  data_ = static_cast<uint8_t*>(p);
}

RamModel::~RamModel() {
  if (data_) munmap(data_, bytes_);
}

uint32_t RamModel::mmio_read32(uint64_t off) {
  if (off == kCapacityLo) return static_cast<uint32_t>(blocks_);
  if (off == kCapacityHi) return static_cast<uint32_t>(blocks_ >> 32);
  return 0;
}

}  // namespace rl::sim
