// What may cross: the positive side of the Exchangeable concept (the
// negative side is in compile_fail/, where each case must not compile).
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "idl/test_domains.hpp"
#include "libredleaf/exchangeable.hpp"

namespace {

enum class Color : uint8_t { Red, Green };
struct Header { uint16_t type; uint32_t len; Color c; };
struct WithArray { Header h; std::array<uint8_t, 32> payload; std::array<Header, 2> more; };
struct WithRRef { uint32_t n; rl::RRef<Header> h; };
struct WithPointer { int a; int* p; };
struct WithString { std::string s; };
struct WithCArray { int a[2]; };
union Either { int a; float b; };
struct Virtual { virtual void f(); int a; };
class NotAggregate { public: NotAggregate(int); private: int x_; };

TEST(Exchangeable, AcceptsPlainDataAndTheRRefFamily) {
  EXPECT_TRUE(rl::Exchangeable<int>);
  EXPECT_TRUE(rl::Exchangeable<double>);
  EXPECT_TRUE(rl::Exchangeable<Color>);
  EXPECT_TRUE(rl::Exchangeable<Header>);
  EXPECT_TRUE(rl::Exchangeable<WithArray>);
  EXPECT_TRUE((rl::Exchangeable<std::array<Header, 4>>));
  EXPECT_TRUE(rl::Exchangeable<rl::RRef<Header>>);
  EXPECT_TRUE((rl::Exchangeable<rl::RRefArray<uint8_t, 4096>>));
  EXPECT_TRUE((rl::Exchangeable<rl::RRefDeque<rl::RRef<Header>, 32>>));
  EXPECT_TRUE(rl::Exchangeable<WithRRef>);
  EXPECT_TRUE(rl::Exchangeable<rl::test::Buffer>);
  EXPECT_TRUE(rl::Exchangeable<rl::test::RelayInit>);   // holds an interface reference
}

TEST(Exchangeable, RejectsWhatWouldDangleOrCannotBeChecked) {
  EXPECT_FALSE(rl::Exchangeable<int*>);
  EXPECT_FALSE(rl::Exchangeable<int&>);
  EXPECT_FALSE(rl::Exchangeable<WithPointer>);
  EXPECT_FALSE(rl::Exchangeable<std::string>);
  EXPECT_FALSE(rl::Exchangeable<WithString>);
  EXPECT_FALSE(rl::Exchangeable<std::vector<int>>);
  EXPECT_FALSE(rl::Exchangeable<WithCArray>);
  EXPECT_FALSE(rl::Exchangeable<Either>);
  EXPECT_FALSE(rl::Exchangeable<Virtual>);
  EXPECT_FALSE(rl::Exchangeable<NotAggregate>);
  EXPECT_FALSE((rl::Exchangeable<std::array<int*, 2>>));
}

}  // namespace
