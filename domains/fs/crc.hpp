// crc32c for the fs domain.  format.hpp's crc32c() asks
// __builtin_cpu_supports on every call, which links libgcc's __cpu_model --
// a mutable global, which a domain must not have.  Here the CPU is asked
// once (cpuid, no global state) and the answer kept in the object.
#pragma once

#include <cpuid.h>

#include <cstddef>
#include <cstdint>

#include "domains/fs/format.hpp"

namespace rl::fs {

class Crc32c {
 public:
  Crc32c() noexcept {
    unsigned a = 0, b = 0, c = 0, d = 0;
    sse42_ = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2);
  }
  uint32_t operator()(const void* data, std::size_t len) const noexcept {
    return sse42_ ? disk::crc32c_sse42(data, len) : disk::crc32c_bytewise(data, len);
  }
  // The CRC a struct with a trailing `crc` field carries (computed with it 0).
  template <class T>
  uint32_t of_struct(T copy) const noexcept {
    copy.crc = 0;
    return (*this)(&copy, sizeof copy);
  }

 private:
  bool sse42_ = false;
};

}  // namespace rl::fs
