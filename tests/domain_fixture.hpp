// Helpers shared by the domain tests: where the test domains are, loading
// them with a clear failure, and measuring heap usage.
#pragma once

#include <gtest/gtest.h>
#include <jemalloc/jemalloc.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "idl/test_domains.rl.hpp"
#include "libredleaf/proxy.hpp"
#include "libredleaf/shared_heap.hpp"

namespace rl::test {

inline std::string domain_path(const std::string& name) {
  const char* dir = std::getenv("RL_TEST_DOMAIN_DIR");
  return std::string(dir ? dir : "domains/test") + "/" + name + ".so";
}

template <class Proxy, class Init>
Loaded<Proxy> must_load(const std::string& so, const Init& init) {
  LoadError err;
  auto l = load_domain<Proxy>(domain_path(so), so, init, &err);
  EXPECT_TRUE(l) << err.message;
  return l;
}

// Bytes allocated through jemalloc in every arena (the private heaps included).
inline std::size_t jemalloc_allocated() {
  uint64_t epoch = 1;
  size_t len = sizeof epoch;
  mallctl("epoch", &epoch, &len, &epoch, len);
  size_t allocated = 0;
  len = sizeof allocated;
  mallctl("stats.allocated", &allocated, &len, nullptr, 0);
  return allocated;
}

// Polls `cond` for up to `seconds`; the tests never wait unbounded.
template <class F>
bool eventually(F cond, double seconds = 5.0) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return cond();
}

}  // namespace rl::test
