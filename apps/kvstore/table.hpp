// The key-value table of rl-kvstore, after MICA (Lim et al., "MICA: A Holistic
// Approach to Fast In-Memory Key-Value Storage", NSDI '14, section 4.3: cache mode).
//
// The table is a cache: it may forget any item to make room, as memcached's
// users expect.  That lets every structure be fixed-size and every operation
// bounded:
//  - Partitions.  A key's hash picks one of P partitions (P a power of two);
//    each has its own index and log, so that one core can own a partition
//    without locks.  We run one thread for now; the split is kept.
//  - Lossy index.  A partition's index is an array of 64-byte buckets, each a
//    version word and 7 slots.  A slot holds a 16-bit tag of the key's hash and
//    the item's 48-bit offset in the log.  A full bucket evicts the slot whose
//    item is oldest in the log instead of chaining.
//  - Circular log.  Items (header, key, value) are appended; an update appends
//    a new version.  When the log wraps, the oldest bytes are overwritten.  An
//    index slot whose offset is more than a log's length behind the tail
//    points at overwritten bytes: it is a miss, and the slot is freed.
//
// Memory: the caller gives the table one region (we place it in redleaf's
// shared heap); the table lays out its partitions there from the region's
// size and never allocates, throws or logs afterwards.
//
// A lookup returns views into the log.  They stay valid until the next
// mutating call on the table (a store may overwrite them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rl::kv {

// Unix time in whole seconds.  32 bits, as memcached keeps it, last until 2106.
using UnixSeconds = uint32_t;

// memcached's KEY_MAX_LENGTH.
inline constexpr std::size_t kMaxKeyBytes = 250;
// memcached's default item size limit (-I 1m), which counts header and key too.
inline constexpr uint32_t kDefaultMaxItemBytes = 1u << 20;
// Every item header in the log takes this many bytes; items are 8-byte aligned.
inline constexpr std::size_t kItemHeaderBytes = 32;
// Slots per index bucket: 7 entries and one version word fill a cache line.
inline constexpr std::size_t kSlotsPerBucket = 7;

// The table's 64-bit key hash.  Not cryptographic: the key is read as
// 8-byte words in memory order (the last one zero-padded), each word is
// multiplied by an odd constant, folded into the state with an xor, a rotation
// and a second multiplication, and the result goes through a
// multiply-xorshift finalizer so that every output bit depends on every input
// bit.  The partition comes from the low bits, the bucket from the next ones,
// the tag from the top 16.  A client that knows `seed` could aim keys at one
// bucket; the index is lossy, so that lowers its hit rate but never slows
// the table down.  A random seed per table closes even that.
[[nodiscard]] uint64_t hash_key(std::string_view key, uint64_t seed = 0);

struct TableConfig {
  uint32_t partitions = 1;              // a power of two
  uint32_t buckets_per_partition = 0;   // a power of two; 0: an eighth of a partition's memory
  uint32_t max_item_bytes = kDefaultMaxItemBytes;  // header + key + value; capped at a quarter of a log
  uint64_t hash_seed = 0;
};

// One item, as found in the log.
struct ItemView {
  std::string_view key;
  std::string_view value;
  uint32_t flags = 0;
  UnixSeconds expires_at = 0;  // 0: never
  uint64_t cas = 0;            // unique per stored version; never 0
};

// memcached's storage commands.
enum class StoreMode : uint8_t { kSet, kAdd, kReplace, kAppend, kPrepend, kCas };

enum class StoreOutcome : uint8_t {
  kStored,
  kNotStored,  // add: the key exists; replace/append/prepend: it does not; append/prepend: too large
  kExists,     // cas: the item changed since the client read it
  kNotFound,   // cas: no such item
  kTooLarge,   // set/add/replace/cas: the item would exceed max_item_bytes()
};

struct StoreRequest {
  StoreMode mode = StoreMode::kSet;
  std::string_view key;
  std::string_view value;
  uint32_t flags = 0;         // ignored by append/prepend, which keep the item's
  UnixSeconds expires_at = 0; // ignored by append/prepend
  uint64_t cas = 0;           // the unique the client read, for kCas
};

enum class ArithOutcome : uint8_t { kDone, kNotFound, kNonNumeric };

struct TableStats {
  uint64_t items = 0;          // occupied index slots (some may be found dead when next looked at)
  uint64_t total_items = 0;    // items ever stored
  uint64_t evictions = 0;      // live items lost to a full bucket or a wrapped log, counted when found
  uint64_t log_bytes_used = 0; // log bytes holding items, superseded versions included
  uint64_t log_bytes = 0;      // capacity of all logs
};

class Table {
 public:
  // Lays a table out in `memory` (any alignment; at least a few KiB per
  // partition).  Returns nothing and says why in `why_not` if the
  // configuration or the size does not work.
  [[nodiscard]] static std::optional<Table> place(std::span<std::byte> memory, const TableConfig& config,
                                                  std::string* why_not = nullptr);

  Table(Table&&) noexcept;
  Table& operator=(Table&&) noexcept;
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;
  ~Table() = default;

  // Keys are 1 to kMaxKeyBytes bytes; other keys are never stored or found.
  // `now` is a Unix time (an item with expires_at <= now is gone).

  // The live item for `key`, or nothing.
  [[nodiscard]] std::optional<ItemView> get(std::string_view key, UnixSeconds now);
  // memcached's storage commands, by request.mode (see StoreOutcome).
  [[nodiscard]] StoreOutcome store(const StoreRequest& request, UnixSeconds now);
  // Removes the live item; false if there was none.
  bool remove(std::string_view key, UnixSeconds now);
  // Sets the live item's expiry time in place (its cas stays); returns the item.
  std::optional<ItemView> touch(std::string_view key, UnixSeconds expires_at, UnixSeconds now);
  // memcached's incr/decr.  The value must read as strtoull reads it for
  // memcached: white space, a sign ("-" only on zero), decimal digits below
  // 2^64, then the end or white space.  incr wraps at 2^64, decr stops at 0.
  // The result is stored as its exact decimal digits, with a new cas.
  [[nodiscard]] ArithOutcome add_delta(std::string_view key, bool increment, uint64_t delta, UnixSeconds now,
                                       uint64_t* result);
  // Makes every item stored so far invisible, in O(partitions).
  void flush_all();

  // Whether an item with this key and value can be stored at all.
  [[nodiscard]] bool fits(std::size_t key_bytes, std::size_t value_bytes) const;
  [[nodiscard]] TableStats stats() const;

  [[nodiscard]] uint32_t partitions() const { return 1u << partition_bits_; }
  [[nodiscard]] uint64_t buckets_per_partition() const { return uint64_t{1} << bucket_bits_; }
  [[nodiscard]] uint64_t log_bytes_per_partition() const { return log_bytes_; }
  [[nodiscard]] uint32_t max_item_bytes() const { return max_item_bytes_; }
  [[nodiscard]] uint32_t partition_of(std::string_view key) const;

 private:
  // The layout, in table.cpp.
  struct Partition;
  struct Bucket;
  struct ItemHeader;
  struct Location;
  struct Found;

  Table() = default;
  std::byte* region(uint32_t partition) const;
  Location locate(std::string_view key) const;
  bool resolve(const Location& where, uint64_t entry, uint64_t* at, ItemHeader* header) const;
  std::optional<Found> find(const Location& where, std::string_view key, UnixSeconds now);
  ItemView view(const Location& where, const Found& found) const;
  uint64_t append_space(Partition& part, uint64_t bytes) const;
  uint64_t next_cas(const Location& where) const;
  void index(const Location& where, const std::optional<Found>& old, uint64_t offset);

  std::byte* base_ = nullptr;       // the partitions' metadata, then each partition's index and log
  Partition* partitions_ = nullptr;
  uint64_t partition_stride_ = 0;   // bytes from one partition's index to the next
  uint64_t log_bytes_ = 0;
  uint64_t seed_ = 0;
  uint32_t partition_bits_ = 0;
  uint32_t bucket_bits_ = 0;
  uint32_t max_item_bytes_ = 0;
};

}  // namespace rl::kv
