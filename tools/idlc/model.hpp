// What idlc extracts from an idl/ header: interfaces, their methods and
// parameters, and factories -- already validated, ready to generate from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace idlc {

enum class Passing {
  Value,      // an exchangeable value or an RRef moved into the callee
  Borrow,     // const RRef<T>& (or RRefArray/RRefDeque): an immutable borrow
};

struct Param {
  std::string name;
  std::string type;        // as written in the generated code (fully qualified)
  Passing passing;
  bool holds_rref;         // moved ownership needs a give()
};

struct Method {
  std::string name;
  std::string result;      // T of RpcResult<T> ("void" allowed)
  bool result_holds_rref;
  std::vector<Param> params;
  bool idempotent;
  bool batched;
  std::string declared_in; // the interface that declares it (for inherited methods)
};

struct Interface {
  std::string name;        // unqualified, e.g. Counter
  std::string qualified;   // e.g. rl::test::Counter
  std::string ns;          // e.g. rl::test
  std::vector<Method> methods;   // inherited ones first
  uint64_t fingerprint;
  std::string declaration; // the canonical text the fingerprint is computed from
};

struct Factory {
  std::string name;        // e.g. create_counter
  std::string ns;
  std::string interface;   // qualified
  std::string init;        // qualified init type, or empty
};

struct Module {
  std::string header;      // as included: "idl/test_domains.hpp"
  std::vector<Interface> interfaces;
  std::vector<Factory> factories;
  std::vector<std::string> dependencies;   // every file the header includes
};

// FNV-1a over the canonical declaration text.
inline uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace idlc
