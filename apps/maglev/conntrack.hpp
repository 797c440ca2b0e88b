// Maglev's connection tracking table (NSDI '16, section 3.3): 5-tuple ->
// the backend a connection was sent to, so that a connection keeps its
// backend when the lookup table changes.  As in the paper it is a
// fixed-size table private to one forwarding thread: preallocated and
// touched once at start, never resized, no allocation or lock per packet.
//
// Layout: buckets of four 16-byte entries, one cache line each; a flow
// hashes to one bucket, so a lookup is at most one cache miss, and the
// forwarder prefetches the bucket while it parses the rest of the batch.
// A full bucket evicts its least recently used entry: the flow falls back
// to the lookup table, which gives the same backend unless the backend set
// changed in between (that is why Maglev can bound this table at all).
//
// Aging: stamps are 8-bit epochs of a coarse clock the caller advances
// (rl-maglev: one epoch per second).  An entry idle for more than
// `idle_epochs` is expired: free for reuse.  A sweep clears expired entries
// a slice of the table per epoch, the whole table every kSweepEpochs, so no
// stamp lives long enough (idle_epochs + kSweepEpochs < 256) to wrap round
// and look fresh.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

namespace rl::maglev {

struct FlowKey {
  uint64_t addrs;   // source address << 32 | destination address
  uint64_t ports;   // source port << 24 | destination port << 8 | protocol (40 bits)
};

class ConnTrack {
 public:
  static constexpr uint32_t kWays = 4;
  static constexpr uint32_t kSweepEpochs = 32;
  // An expired entry is swept at most kSweepEpochs later, at an age of 255 at most.
  static constexpr uint32_t kMaxIdleEpochs = 255 - kSweepEpochs;
  static constexpr uint16_t kMiss = 0xFFFF;   // never a handle: BackendSet skips generation 63

  struct Stats {
    uint64_t hits = 0, misses = 0, inserts = 0, evictions = 0, expired = 0;
  };

  // `entries` is rounded up to a power of two, at least one bucket.
  ConnTrack(uint64_t entries, uint32_t idle_epochs);

  uint64_t capacity() const { return (mask_ + 1) * kWays; }
  uint64_t in_use() const;
  const Stats& stats() const { return stats_; }

  void prefetch(uint64_t hash) const { __builtin_prefetch(&buckets_[bucket(hash)], 1, 3); }

  // The handle stored for `key` (refreshing its stamp), or kMiss.
  uint16_t find(uint64_t hash, const FlowKey& key) {
    Bucket& b = buckets_[bucket(hash)];
    for (Entry& e : b.way) {
      if (e.addrs == key.addrs && (e.rest & kKeyMask) == key.ports && age(e) <= idle_) {
        e.rest = (e.rest & ~kStampMask) | uint64_t{now_} << kStampShift;
        ++stats_.hits;
        return static_cast<uint16_t>(e.rest >> kHandleShift);
      }
    }
    ++stats_.misses;
    return kMiss;
  }

  // Records `handle` for `key`: over its own entry (a re-homed connection),
  // else in a free or expired way, else over the least recently used one.
  void insert(uint64_t hash, const FlowKey& key, uint16_t handle) {
    Bucket& b = buckets_[bucket(hash)];
    Entry* victim = nullptr;
    uint32_t oldest = 0;
    for (Entry& e : b.way) {
      if (e.addrs == key.addrs && (e.rest & kKeyMask) == key.ports) {
        victim = &e;
        break;
      }
      uint32_t a = empty(e) ? 256 : age(e);   // free beats anything
      if (!victim || a > oldest) {
        victim = &e;
        oldest = a;
      }
    }
    if (!empty(*victim) && (victim->addrs != key.addrs || (victim->rest & kKeyMask) != key.ports)) {
      if (oldest > idle_) ++stats_.expired;
      else ++stats_.evictions;
    }
    victim->addrs = key.addrs;
    victim->rest = key.ports | uint64_t{now_} << kStampShift | uint64_t{handle} << kHandleShift;
    ++stats_.inserts;
  }

  // The clock: `epoch` is absolute (e.g. seconds since start).  Sweeps the
  // slice of the table due for the epochs that passed.  Not per packet.
  void advance(uint64_t epoch);

 private:
  struct Entry {
    uint64_t addrs;
    uint64_t rest;   // ports and protocol (bits 0-39), stamp (40-47), handle (48-63)
  };
  struct alignas(64) Bucket {
    Entry way[kWays];
  };
  static_assert(sizeof(Bucket) == 64, "one bucket, one cache line");
  static constexpr uint64_t kKeyMask = (uint64_t{1} << 40) - 1;
  static constexpr uint32_t kStampShift = 40, kHandleShift = 48;
  static constexpr uint64_t kStampMask = uint64_t{0xFF} << kStampShift;

  // The hash's high bits pick the bucket; the low bits index the lookup table.
  uint64_t bucket(uint64_t hash) const { return (hash >> 32) & mask_; }
  // A free entry has protocol 0: only TCP (6) and UDP (17) are tracked.
  static bool empty(const Entry& e) { return (e.rest & kKeyMask) == 0; }
  uint32_t age(const Entry& e) const { return static_cast<uint8_t>(now_ - static_cast<uint8_t>(e.rest >> kStampShift)); }

  struct Free {
    void operator()(Bucket* b) const;
  };
  std::unique_ptr<Bucket[], Free> buckets_;
  uint64_t mask_;
  uint32_t idle_;
  uint8_t now_ = 0;
  uint64_t epoch_ = 0, sweep_next_ = 0;
  Stats stats_;
};

}  // namespace rl::maglev
