#include <array>
#include "libredleaf/rref.hpp"
struct Inner { long a; const char* name; };
struct Outer { int x; std::array<Inner, 2> inners; };
auto p = rl::RRef<Outer>::make();
