#include "apps/maglev/table.hpp"

#include <set>

namespace rl::maglev {

namespace {
uint64_t fnv1a(const std::string& s, uint64_t basis) {
  uint64_t h = basis;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}
}  // namespace

uint64_t name_hash1(const std::string& name) { return fnv1a(name, 0xcbf29ce484222325ull); }

uint64_t name_hash2(const std::string& name) {
  uint64_t x = fnv1a(name, 0x84222325cbf29ce4ull);   // another basis: a second, independent-enough hash
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bool is_prime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

Table Table::build(const std::vector<std::string>& backends, uint32_t size, std::string* error) {
  Table t;
  if (backends.empty()) {
    *error = "no backends";
    return t;
  }
  if (std::set<std::string>(backends.begin(), backends.end()).size() != backends.size()) {
    *error = "backend names must be distinct";
    return t;
  }
  if (!is_prime(size) || size <= backends.size()) {
    *error = "the table size " + std::to_string(size) +
             " must be a prime larger than the number of backends (e.g. 65537)";
    return t;
  }
  const auto n = static_cast<uint32_t>(backends.size());
  std::vector<uint64_t> offset(n), skip(n), next(n, 0);
  for (uint32_t i = 0; i < n; ++i) {
    offset[i] = name_hash1(backends[i]) % size;
    skip[i] = name_hash2(backends[i]) % (size - 1) + 1;
  }
  constexpr uint32_t kFree = 0xFFFFFFFF;
  t.entries_.assign(size, kFree);
  uint32_t filled = 0;
  while (true) {
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t slot = (offset[i] + next[i] * skip[i]) % size;
      while (t.entries_[slot] != kFree) {
        ++next[i];
        slot = (offset[i] + next[i] * skip[i]) % size;
      }
      t.entries_[slot] = i;
      ++next[i];
      if (++filled == size) return t;
    }
  }
}

}  // namespace rl::maglev
