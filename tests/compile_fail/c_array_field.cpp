#include "libredleaf/rref.hpp"
struct Frame { int len; unsigned char bytes[64]; };
auto p = rl::RRef<Frame>::make();
