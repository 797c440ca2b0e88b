#include "libredleaf/rref.hpp"
static_assert(rl::detail::require_exchangeable<int&>());
