#include "libredleaf/rref.hpp"
struct View { int& len; };
void f(int& x) { auto p = rl::RRef<View>::make(x); }
