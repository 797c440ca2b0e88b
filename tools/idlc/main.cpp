// idlc: the redleaf IDL compiler.
//
//   idlc HEADER --include-as idl/NAME.hpp -o OUT.rl.hpp [--depfile OUT.d] [-- CLANG_ARGS...]
//
// Reads an interface header, rejects what cannot cross a domain boundary with
// `file:line:col: error: <what> in <Interface>::<method>, <how to fix>`, and
// writes the proxies, shadow skeletons, traits and loaders for it.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "generate.hpp"
#include "parse.hpp"

namespace {

int usage(int code) {
  fprintf(code ? stderr : stdout,
          "usage: idlc HEADER --include-as PATH -o OUTPUT [--depfile FILE] [-- CLANG_ARGS...]\n"
          "  HEADER       an interface header (idl/*.hpp)\n"
          "  --include-as how generated code includes HEADER, e.g. idl/bdev.hpp\n"
          "  -o OUTPUT    the generated header to write\n"
          "  --depfile    also write a make-style dependency file (for meson/ninja)\n");
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  std::string header, include_as, output, depfile;
  std::vector<std::string> clang_args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& into) {
      if (i + 1 >= argc) {
        fprintf(stderr, "idlc: %s needs a value\n", a.c_str());
        return false;
      }
      into = argv[++i];
      return true;
    };
    if (a == "--") {
      for (++i; i < argc; ++i) clang_args.push_back(argv[i]);
    } else if (a == "-h" || a == "--help") {
      return usage(0);
    } else if (a == "-o") {
      if (!value(output)) return 2;
    } else if (a == "--include-as") {
      if (!value(include_as)) return 2;
    } else if (a == "--depfile") {
      if (!value(depfile)) return 2;
    } else if (!a.empty() && a[0] == '-') {
      fprintf(stderr, "idlc: unknown option %s\n", a.c_str());
      return usage(2);
    } else if (header.empty()) {
      header = a;
    } else {
      fprintf(stderr, "idlc: one header at a time (got %s and %s)\n", header.c_str(), a.c_str());
      return 2;
    }
  }
  if (header.empty() || output.empty()) return usage(2);

  idlc::Module module;
  module.header = include_as.empty() ? header : include_as;
  if (!idlc::parse_module(header, clang_args, module)) return 1;

  std::ofstream out(output);
  out << idlc::generate_header(module);
  if (!out) {
    fprintf(stderr, "idlc: cannot write %s\n", output.c_str());
    return 1;
  }
  if (!depfile.empty()) {
    std::ofstream d(depfile);
    d << output << ":";
    // Resolved: libclang reports paths like /usr/bin/../lib/gcc/.../../include,
    // which ninja would normalize wrongly and then rebuild on every run.
    for (const std::string& dep : module.dependencies) {
      char* real = realpath(dep.c_str(), nullptr);
      d << " \\\n  " << (real ? real : dep.c_str());
      free(real);
    }
    d << "\n";
  }
  return 0;
}
