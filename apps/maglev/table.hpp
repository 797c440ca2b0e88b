// The Maglev lookup table (Eisenbud et al., "Maglev: A Fast and Reliable
// Software Network Load Balancer", NSDI '16, section 3.4).
//
// Each backend's preference list is a permutation of the M table slots,
// from two hashes of its name: offset = h1 % M, skip = h2 % (M - 1) + 1,
// permutation[j] = (offset + j * skip) % M (M prime, so every slot comes
// up).  Backends take turns claiming their next preferred free slot until
// the table is full: each backend gets floor(M/N) or ceil(M/N) slots, and
// adding or removing one backend moves few slots of the others.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rl::maglev {

inline constexpr uint32_t kDefaultTableSize = 65537;

// The two hashes of a backend name: FNV-1a (64-bit), and FNV-1a from
// another offset basis passed through the SplitMix64 finalizer.
uint64_t name_hash1(const std::string& name);
uint64_t name_hash2(const std::string& name);

bool is_prime(uint64_t n);

class Table {
 public:
  // Builds the table for `backends` (distinct names, at least one) with
  // `size` slots (a prime larger than the number of backends).  Returns an
  // empty table and the reason on bad input.
  static Table build(const std::vector<std::string>& backends, uint32_t size, std::string* error);

  // The backend index for a flow hash.
  uint32_t lookup(uint64_t flow_hash) const { return entries_[flow_hash % entries_.size()]; }
  const std::vector<uint32_t>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  std::vector<uint32_t> entries_;
};

}  // namespace rl::maglev
