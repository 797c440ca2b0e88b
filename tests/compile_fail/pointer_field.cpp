#include "libredleaf/rref.hpp"
struct Packet { int len; char* data; };
auto p = rl::RRef<Packet>::make();
