// The Maglev lookup table: full, balanced to within one slot, and removing
// or adding a backend moves few slots of the others (NSDI '16, 3.4 and 5.3).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "apps/maglev/table.hpp"

namespace rl::maglev {
namespace {

std::vector<std::string> names(int n, int first = 0) {
  std::vector<std::string> v;
  for (int i = first; i < first + n; ++i) v.push_back("backend-" + std::to_string(i));
  return v;
}

Table must_build(const std::vector<std::string>& b, uint32_t size = kDefaultTableSize) {
  std::string err;
  Table t = Table::build(b, size, &err);
  EXPECT_FALSE(t.empty()) << err;
  return t;
}

TEST(Maglev, EveryBackendGetsItsShareToWithinOneSlot) {
  for (int n : {1, 3, 10, 100}) {
    Table t = must_build(names(n));
    std::vector<uint32_t> count(n, 0);
    for (uint32_t e : t.entries()) {
      ASSERT_LT(e, static_cast<uint32_t>(n)) << "every slot is filled with a backend";
      ++count[e];
    }
    for (int i = 0; i < n; ++i) {
      EXPECT_GE(count[i], kDefaultTableSize / n) << n << " backends";
      EXPECT_LE(count[i], kDefaultTableSize / n + 1) << n << " backends";
    }
  }
}

// Slots that belonged to a backend still present and now belong to another.
double moved_fraction(const Table& a, const std::vector<std::string>& an, const Table& b,
                      const std::vector<std::string>& bn) {
  std::map<std::string, uint32_t> index;
  for (uint32_t i = 0; i < bn.size(); ++i) index[bn[i]] = i;
  uint32_t kept_owner = 0, moved = 0;
  for (std::size_t s = 0; s < a.size(); ++s) {
    auto it = index.find(an[a.entries()[s]]);
    if (it == index.end()) continue;   // its backend is gone: it has to move
    ++kept_owner;
    moved += b.entries()[s] != it->second;
  }
  return static_cast<double>(moved) / kept_owner;
}

TEST(Maglev, RemovingOrAddingABackendMovesFewOtherSlots) {
  auto before = names(100);
  Table a = must_build(before);
  auto fewer = before;
  fewer.erase(fewer.begin() + 37);
  Table b = must_build(fewer);
  double moved = moved_fraction(a, before, b, fewer);
  EXPECT_LT(moved, 0.03) << "slots of the other 99 backends that changed owner";
  auto more = before;
  more.push_back("backend-new");
  Table c = must_build(more);
  EXPECT_LT(moved_fraction(a, before, c, more), 0.03);
  printf("remove one of 100: %.2f %% of the others' slots move\n", 100 * moved);
}

TEST(Maglev, BadInputIsRefusedWithTheReason) {
  std::string err;
  EXPECT_TRUE(Table::build({}, 13, &err).empty());
  EXPECT_NE(err.find("no backends"), std::string::npos);
  EXPECT_TRUE(Table::build({"a", "a"}, 13, &err).empty());
  EXPECT_NE(err.find("distinct"), std::string::npos);
  EXPECT_TRUE(Table::build({"a", "b"}, 65536, &err).empty());
  EXPECT_NE(err.find("must be a prime"), std::string::npos);
  EXPECT_TRUE(Table::build({"a", "b", "c"}, 3, &err).empty()) << "no larger than the number of backends";
  EXPECT_TRUE(is_prime(65537));
  EXPECT_FALSE(is_prime(65535));
}

}  // namespace
}  // namespace rl::maglev
