// The README's worked example, built and run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "idl/example.rl.hpp"

TEST(Example, TheReadmeAdderWorks) {
  const char* dir = std::getenv("RL_EXAMPLE_DOMAIN_DIR");
  rl::LoadError err;
  auto adder = example::load_adder(std::string(dir ? dir : ".") + "/adder.so", "adder", {.bias = 1}, &err);
  ASSERT_TRUE(adder) << err.message;
  auto sum = adder.proxy->add(2, 3);   // RpcResult<int64_t>: 6, or an RpcError
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(*sum, 6);
}
