#include "libredleaf/rref.hpp"
union Word { int i; float f; };
struct Tagged { int tag; Word w; };
auto p = rl::RRef<Tagged>::make();
