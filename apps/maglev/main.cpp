// rl-maglev: the Maglev load balancer.  So far: the lookup table.
//
//   rl-maglev --dump-table --backends NAME,NAME,... [--size M]
//
// prints the table, one backend index per line (M lines), so that it can be
// checked against the paper's algorithm.  Forwarding over a port comes with
// the network stack (issue #8).
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "apps/maglev/table.hpp"

namespace {

[[noreturn]] void usage(const char* why) {
  if (why) fprintf(stderr, "rl-maglev: %s\n", why);
  fprintf(stderr, "usage: rl-maglev --dump-table --backends NAME,NAME,... [--size M (a prime, default 65537)]\n");
  std::exit(why ? 2 : 0);
}

}  // namespace

int main(int argc, char** argv) {
  bool dump = false;
  std::vector<std::string> backends;
  unsigned long size = rl::maglev::kDefaultTableSize;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") usage(nullptr);
    if (a == "--dump-table") {
      dump = true;
      continue;
    }
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    if (a == "--backends") {
      std::stringstream ss(v);
      std::string name;
      while (std::getline(ss, name, ','))
        if (!name.empty()) backends.push_back(name);
    } else if (a == "--size") {
      char* end = nullptr;
      size = std::strtoul(v.c_str(), &end, 10);
      if (v.empty() || *end || size > 100000007ul) usage(("--size " + v + ": expected a prime up to 100000007").c_str());
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  if (!dump) usage("nothing to do: forwarding comes with the network stack; use --dump-table");
  std::string err;
  auto table = rl::maglev::Table::build(backends, static_cast<uint32_t>(size), &err);
  if (table.empty()) {
    fprintf(stderr, "rl-maglev: %s\n", err.c_str());
    return 2;
  }
  std::string out;
  out.reserve(table.size() * 3);
  for (uint32_t e : table.entries()) {
    out += std::to_string(e);
    out += '\n';
  }
  fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
