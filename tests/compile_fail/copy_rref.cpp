#include "libredleaf/rref.hpp"
void f(rl::RRef<int>& a) { rl::RRef<int> b = a; }   // RRef is move-only
