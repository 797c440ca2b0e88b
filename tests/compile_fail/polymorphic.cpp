#include "libredleaf/rref.hpp"
struct Shape { virtual ~Shape() = default; int sides; };
auto p = rl::RRef<Shape>::make();
