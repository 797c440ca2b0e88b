#include <vector>
#include "libredleaf/rref.hpp"
struct Batch { std::vector<int> items; };
auto p = rl::RRef<Batch>::make();
