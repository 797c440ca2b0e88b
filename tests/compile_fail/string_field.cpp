#include <string>
#include "libredleaf/rref.hpp"
struct Request { int id; std::string path; };
auto p = rl::RRef<Request>::make();
