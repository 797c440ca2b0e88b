// Maglev's backends and the immutable snapshot the forwarder reads.
//
// The control side (BackendSet) keeps the current backends, each in a stable
// slot, and builds a Snapshot -- where each backend is, and the lookup
// table -- away from the forwarding loop; the forwarder swaps snapshots
// between batches.  A tracked connection remembers its backend as a
// *handle*: the slot plus the slot's generation, so that a connection to a
// removed backend is never sent to a later backend that reuses the slot.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "apps/maglev/table.hpp"

namespace rl::maglev {

// A handle is 16 bits in a tracked connection: 10 bits of slot, 6 of
// generation.  A thousand backends per forwarder is far beyond a Maglev
// service's (the paper's services have hundreds at most).
inline constexpr uint32_t kSlotBits = 10;
inline constexpr uint32_t kMaxBackends = 1u << kSlotBits;
// Generations count 0..62: handle 0xFFFF (slot 1023, generation 63) means
// "not tracked" in ConnTrack.
inline constexpr uint32_t kGenerations = (1u << (16 - kSlotBits)) - 1;

struct Backend {
  std::string name;
  uint32_t ip = 0;                 // host byte order
  std::array<uint8_t, 6> mac{};
};

// A locally administered unicast address derived from the IPv4 address:
// 02:00:a:b:c:d.
std::array<uint8_t, 6> mac_for_ip(uint32_t ip);

// Parses NAME=A.B.C.D[@XX:XX:XX:XX:XX:XX].  The name is what the lookup
// table hashes (section 3.4: the same names give the same table on every
// Maglev machine), so it must not change when an address does.
bool parse_backend(const std::string& spec, Backend* out, std::string* error);
// A comma-separated list of the above.
bool parse_backends(const std::string& list, std::vector<Backend>* out, std::string* error);

// What the forwarder needs of one slot, 16 bytes: the rewrite and the
// check that a tracked handle still names this slot's live backend.
struct Dest {
  uint32_t ip_be;                  // network byte order, as written into the frame
  std::array<uint8_t, 6> mac;
  uint16_t handle;                 // slot | generation << kSlotBits
  uint32_t live;                   // 1 while the backend is in the set
};
static_assert(sizeof(Dest) == 16);

// One backend set, immutable once built.
struct Snapshot {
  std::array<Dest, kMaxBackends> dest{};
  std::array<std::string, kMaxBackends> name;   // by slot; empty when never used
  std::vector<uint16_t> table;                  // lookup table entry -> slot
  uint64_t fastmod = 0;                         // for hash % table.size() without a division
  uint32_t live = 0;                            // backends in the set
  double build_ms = 0;                          // how long the lookup table took

  // The table's slot for a 32-bit flow hash: table[hash % size] (Lemire's
  // exact "fastmod": a multiply instead of a 20-40 tick division).
  uint16_t slot_for(uint32_t hash) const {
    uint64_t low = fastmod * hash;
    auto index = static_cast<uint32_t>((static_cast<unsigned __int128>(low) * table.size()) >> 64);
    return table[index];
  }
  // Whether a tracked handle still names a live backend.
  bool current(uint16_t handle) const {
    const Dest& d = dest[handle & (kMaxBackends - 1)];
    return d.live && d.handle == handle;
  }
};

// The backends of a service, as the operator changes them.  Not used by the
// forwarding thread.
class BackendSet {
 public:
  explicit BackendSet(uint32_t table_size = kDefaultTableSize) : size_(table_size) {}

  bool add(const Backend& b, std::string* error);
  bool remove(const std::string& name, std::string* error);
  // "add NAME=IP[@MAC]" or "remove NAME"; blank lines and #comments are no-ops.
  // Returns false with the reason on a bad line.
  bool apply(const std::string& line, bool* changed, std::string* error);

  // The lookup table over the live backends, sorted by name, so the table
  // depends on the set alone (every Maglev of a service agrees, section 3.4).
  std::unique_ptr<const Snapshot> build(std::string* error) const;

  uint32_t live() const;
  uint32_t table_size() const { return size_; }

 private:
  struct Slot {
    Backend b;
    uint32_t generation = 0;
    bool live = false;
    bool used = false;
  };
  uint32_t size_;
  std::vector<Slot> slots_;   // grows to kMaxBackends at most
};

}  // namespace rl::maglev
