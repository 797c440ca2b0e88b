#include "apps/kvstore/table.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <limits>
#include <new>

namespace rl::kv {

namespace {

// An index entry: the tag (top 16 bits of the key's hash, never 0) over the
// item's log offset (48 bits: 256 TiB of appends before offsets alias, and
// resolve() catches an alias by the offset the header records).  0 = empty.
constexpr unsigned kOffsetBits = 48;
constexpr uint64_t kOffsetMask = (uint64_t{1} << kOffsetBits) - 1;
constexpr std::size_t kCacheLine = 64;
// Below this a log holds too few items to be worth having.
constexpr uint64_t kMinLogBytes = 4096;
// The default index takes about this share of a partition: a 64-byte bucket
// of 7 slots per ~512 log bytes suits items of ~64 bytes and up.
constexpr uint64_t kIndexShareDivisor = 8;

}  // namespace

struct Table::ItemHeader {
  uint64_t log_offset;     // where this header was written: tells a real item from an aliased offset
  uint64_t cas;
  uint32_t flags;
  UnixSeconds expires_at;  // 0: never
  uint32_t value_bytes;
  uint16_t key_bytes;
  uint16_t unused;
};

namespace {

constexpr uint64_t item_bytes(uint64_t key_bytes, uint64_t value_bytes) {
  return (kItemHeaderBytes + key_bytes + value_bytes + 7) & ~uint64_t{7};
}

uint64_t entry_tag(uint64_t hash) {
  uint64_t tag = hash >> kOffsetBits;
  return tag == 0 ? 1 : tag;
}

bool is_c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// See Table::add_delta for the accepted forms (they are strtoull's, which
// memcached uses).
bool parse_counter(std::string_view text, uint64_t* out) {
  std::size_t i = 0;
  while (i < text.size() && is_c_space(text[i])) ++i;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  const std::size_t first_digit = i;
  uint64_t n = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (n > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    n = n * 10 + digit;
  }
  if (i == first_digit || (i < text.size() && !is_c_space(text[i])) || (negative && n != 0)) return false;
  *out = n;
  return true;
}

}  // namespace

uint64_t hash_key(std::string_view key, uint64_t seed) {
  constexpr uint64_t kWordMul = 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio: odd, bits spread
  constexpr uint64_t kFoldMul = 0xC2B2AE3D27D4EB4Full;  // another odd constant with mixed bits
  uint64_t h = seed ^ (key.size() * kFoldMul);
  const char* p = key.data();
  std::size_t left = key.size();
  auto fold = [&h](uint64_t word) { h = std::rotl(h ^ (word * kWordMul), 31) * kFoldMul; };
  for (; left >= 8; p += 8, left -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    fold(word);
  }
  if (left > 0) {
    uint64_t word = 0;
    std::memcpy(&word, p, left);
    fold(word);
  }
  // Multiply-xorshift finalizer (SplitMix64's constants).
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}

struct Table::Bucket {
  // Odd while the bucket is being changed: the hook for MICA's concurrent
  // readers (CREW mode), which would retry a lookup that saw it change.  One
  // thread owns a partition for now, so nothing reads it yet.
  uint64_t version;
  uint64_t slots[kSlotsPerBucket];
};

// One cache line per partition, so that partitions owned by different cores
// do not share lines.
struct alignas(kCacheLine) Table::Partition {
  uint64_t tail = 0;           // log offset of the next append; only grows
  uint64_t next_cas_seq = 1;   // cas = seq << partition_bits | partition
  uint64_t flushed_below = 0;  // items with a smaller cas were flushed
  uint64_t items = 0;
  uint64_t total_items = 0;
  uint64_t evictions = 0;
};

namespace {

// Marks a bucket as changing for its lifetime.
class BucketChange {
 public:
  explicit BucketChange(uint64_t& version) : version_(version) { ++version_; }
  ~BucketChange() { ++version_; }
  BucketChange(const BucketChange&) = delete;
  BucketChange& operator=(const BucketChange&) = delete;

 private:
  uint64_t& version_;
};

}  // namespace

// Where a key lives, and what a lookup found there.
struct Table::Location {
  uint32_t index;
  Partition* part;
  Bucket* bucket;
  std::byte* log;
  uint64_t tag;
};

struct Table::Found {
  int slot;
  uint64_t at;  // byte position of the header in the log
  Table::ItemHeader header;
};

Table::Table(Table&&) noexcept = default;
Table& Table::operator=(Table&&) noexcept = default;

std::optional<Table> Table::place(std::span<std::byte> memory, const TableConfig& config, std::string* why_not) {
  static_assert(sizeof(ItemHeader) == kItemHeaderBytes);
  static_assert(offsetof(ItemHeader, expires_at) == 20);
  static_assert(sizeof(Bucket) == kCacheLine && sizeof(Partition) == kCacheLine);
  auto fail = [why_not](std::string reason) -> std::optional<Table> {
    if (why_not) *why_not = std::move(reason);
    return std::nullopt;
  };
  if (config.partitions == 0 || !std::has_single_bit(config.partitions))
    return fail("the partition count must be a power of two");
  if (config.buckets_per_partition != 0 && !std::has_single_bit(config.buckets_per_partition))
    return fail("buckets_per_partition must be 0 (automatic) or a power of two");

  const auto address = reinterpret_cast<uintptr_t>(memory.data());
  const std::size_t skip = (kCacheLine - address % kCacheLine) % kCacheLine;
  const uint64_t meta_bytes = uint64_t{config.partitions} * sizeof(Partition);
  if (memory.size() < skip + meta_bytes) return fail("the memory cannot even hold the partitions' metadata");
  const uint64_t share = ((memory.size() - skip - meta_bytes) / config.partitions) & ~uint64_t{kCacheLine - 1};

  uint64_t buckets = config.buckets_per_partition;
  if (buckets == 0) {
    buckets = 1;
    while (buckets * 2 * sizeof(Bucket) <= share / kIndexShareDivisor) buckets *= 2;
  }
  const uint64_t index_bytes = buckets * sizeof(Bucket);
  const uint64_t log_bytes = share > index_bytes ? share - index_bytes : 0;
  if (log_bytes < kMinLogBytes)
    return fail("each partition needs at least " + std::to_string(kMinLogBytes) + " log bytes besides its " +
                std::to_string(index_bytes) + "-byte index; give more memory or fewer partitions or buckets");
  const uint64_t max_item = std::min<uint64_t>(config.max_item_bytes, log_bytes / 4) & ~uint64_t{7};
  if (max_item < item_bytes(kMaxKeyBytes, 1)) return fail("max_item_bytes cannot hold a maximal key");

  Table t;
  t.base_ = memory.data() + skip;
  t.partition_bits_ = static_cast<uint32_t>(std::countr_zero(config.partitions));
  t.bucket_bits_ = static_cast<uint32_t>(std::countr_zero(buckets));
  if (t.partition_bits_ + t.bucket_bits_ > kOffsetBits) return fail("too many partitions or buckets for the hash");
  t.partitions_ = new (t.base_) Partition[config.partitions];
  t.partition_stride_ = share;
  t.log_bytes_ = log_bytes;
  t.max_item_bytes_ = static_cast<uint32_t>(max_item);
  t.seed_ = config.hash_seed;
  for (uint32_t p = 0; p < config.partitions; ++p) new (t.region(p)) Bucket[buckets]();
  return t;
}

std::byte* Table::region(uint32_t partition) const {
  return base_ + (uint64_t{1} << partition_bits_) * sizeof(Partition) + partition * partition_stride_;
}

uint32_t Table::partition_of(std::string_view key) const {
  return static_cast<uint32_t>(hash_key(key, seed_) & ((uint64_t{1} << partition_bits_) - 1));
}

Table::Location Table::locate(std::string_view key) const {
  const uint64_t hash = hash_key(key, seed_);
  const auto index = static_cast<uint32_t>(hash & ((uint64_t{1} << partition_bits_) - 1));
  std::byte* start = region(index);
  const uint64_t bucket = (hash >> partition_bits_) & ((uint64_t{1} << bucket_bits_) - 1);
  return Location{index, &partitions_[index], std::launder(reinterpret_cast<Bucket*>(start)) + bucket,
                  start + (uint64_t{1} << bucket_bits_) * sizeof(Bucket), entry_tag(hash)};
}

bool Table::resolve(const Location& where, uint64_t entry, uint64_t* at, ItemHeader* header) const {
  const uint64_t tail = where.part->tail;
  const uint64_t age = (tail - entry) & kOffsetMask;  // bytes appended since the item, modulo 2^48
  if (age < kItemHeaderBytes || age > log_bytes_ || age > tail) return false;  // overwritten
  const uint64_t offset = tail - age;
  *at = offset % log_bytes_;
  if (*at + kItemHeaderBytes > log_bytes_) return false;
  std::memcpy(header, where.log + *at, sizeof(ItemHeader));
  if (header->log_offset != offset) return false;  // the 48-bit offset aliased an older lap
  // An honest header always passes these; they keep a forged one inside the log.
  const uint64_t size = item_bytes(header->key_bytes, header->value_bytes);
  return header->key_bytes <= kMaxKeyBytes && header->value_bytes <= max_item_bytes_ && size <= age &&
         *at + size <= log_bytes_;
}

std::optional<Table::Found> Table::find(const Location& where, std::string_view key, UnixSeconds now) {
  Bucket& b = *where.bucket;
  for (int slot = 0; slot < static_cast<int>(kSlotsPerBucket); ++slot) {
    const uint64_t entry = b.slots[slot];
    if (entry == 0 || entry >> kOffsetBits != where.tag) continue;
    Found f{slot, 0, {}};
    if (!resolve(where, entry, &f.at, &f.header)) {
      // The log wrapped over this item while it was still indexed.
      BucketChange change(b.version);
      b.slots[slot] = 0;
      --where.part->items;
      ++where.part->evictions;
      continue;
    }
    if (f.header.key_bytes != key.size() ||
        std::memcmp(where.log + f.at + kItemHeaderBytes, key.data(), key.size()) != 0)
      continue;  // another key with the same tag
    const bool expired = f.header.expires_at != 0 && f.header.expires_at <= now;
    if (expired || f.header.cas < where.part->flushed_below) {
      BucketChange change(b.version);
      b.slots[slot] = 0;
      --where.part->items;
      return std::nullopt;
    }
    return f;
  }
  return std::nullopt;
}

uint64_t Table::append_space(Partition& part, uint64_t bytes) const {
  const uint64_t at = part.tail % log_bytes_;
  if (at + bytes > log_bytes_) part.tail += log_bytes_ - at;  // items never straddle the log's end
  const uint64_t offset = part.tail;
  part.tail += bytes;
  return offset;
}

uint64_t Table::next_cas(const Location& where) const {
  return where.part->next_cas_seq++ << partition_bits_ | where.index;
}

void Table::index(const Location& where, const std::optional<Found>& old, uint64_t offset) {
  Bucket& b = *where.bucket;
  const uint64_t entry = where.tag << kOffsetBits | (offset & kOffsetMask);
  BucketChange change(b.version);
  if (old) {
    b.slots[old->slot] = entry;
    return;
  }
  int victim = -1;
  uint64_t victim_age = 0;
  for (int slot = 0; slot < static_cast<int>(kSlotsPerBucket); ++slot) {
    if (b.slots[slot] == 0) {
      victim = slot;
      break;
    }
    const uint64_t age = (where.part->tail - b.slots[slot]) & kOffsetMask;
    if (age >= victim_age) {
      victim = slot;
      victim_age = age;
    }
  }
  if (b.slots[victim] != 0) {
    // The bucket is full: the oldest item goes (perhaps already overwritten in the log).
    ++where.part->evictions;
    --where.part->items;
  }
  b.slots[victim] = entry;
  ++where.part->items;
}

std::optional<ItemView> Table::get(std::string_view key, UnixSeconds now) {
  if (key.empty() || key.size() > kMaxKeyBytes) return std::nullopt;
  const Location where = locate(key);
  const auto found = find(where, key, now);
  if (!found) return std::nullopt;
  return view(where, *found);
}

ItemView Table::view(const Location& where, const Found& f) const {
  const char* bytes = reinterpret_cast<const char*>(where.log + f.at + kItemHeaderBytes);
  return ItemView{std::string_view(bytes, f.header.key_bytes),
                  std::string_view(bytes + f.header.key_bytes, f.header.value_bytes), f.header.flags,
                  f.header.expires_at, f.header.cas};
}

StoreOutcome Table::store(const StoreRequest& request, UnixSeconds now) {
  if (request.key.empty() || request.key.size() > kMaxKeyBytes) return StoreOutcome::kNotStored;
  const Location where = locate(request.key);
  const auto old = find(where, request.key, now);
  const bool concat = request.mode == StoreMode::kAppend || request.mode == StoreMode::kPrepend;
  switch (request.mode) {
    case StoreMode::kSet:
      break;
    case StoreMode::kAdd:
      if (old) return StoreOutcome::kNotStored;
      break;
    case StoreMode::kReplace:
    case StoreMode::kAppend:
    case StoreMode::kPrepend:
      if (!old) return StoreOutcome::kNotStored;
      break;
    case StoreMode::kCas:
      if (!old) return StoreOutcome::kNotFound;
      if (old->header.cas != request.cas) return StoreOutcome::kExists;
      break;
  }
  const uint64_t old_value_bytes = concat ? old->header.value_bytes : 0;
  const uint64_t value_bytes = old_value_bytes + request.value.size();
  if (!fits(request.key.size(), value_bytes)) return concat ? StoreOutcome::kNotStored : StoreOutcome::kTooLarge;

  const uint64_t offset = append_space(*where.part, item_bytes(request.key.size(), value_bytes));
  std::byte* item = where.log + offset % log_bytes_;
  std::byte* value = item + kItemHeaderBytes + request.key.size();
  if (concat) {
    // The new space may overlap the old item (the log just wrapped onto it):
    // move the old value first, with memmove, before writing anything else.
    const std::byte* old_value = where.log + old->at + kItemHeaderBytes + old->header.key_bytes;
    const bool append = request.mode == StoreMode::kAppend;
    std::memmove(value + (append ? 0 : request.value.size()), old_value, old_value_bytes);
    std::memcpy(value + (append ? old_value_bytes : 0), request.value.data(), request.value.size());
  } else {
    std::memcpy(value, request.value.data(), request.value.size());
  }
  std::memcpy(item + kItemHeaderBytes, request.key.data(), request.key.size());
  const ItemHeader header{offset,
                          next_cas(where),
                          concat ? old->header.flags : request.flags,
                          concat ? old->header.expires_at : request.expires_at,
                          static_cast<uint32_t>(value_bytes),
                          static_cast<uint16_t>(request.key.size()),
                          0};
  std::memcpy(item, &header, sizeof header);
  index(where, old, offset);
  ++where.part->total_items;
  return StoreOutcome::kStored;
}

bool Table::remove(std::string_view key, UnixSeconds now) {
  if (key.empty() || key.size() > kMaxKeyBytes) return false;
  const Location where = locate(key);
  const auto found = find(where, key, now);
  if (!found) return false;
  BucketChange change(where.bucket->version);
  where.bucket->slots[found->slot] = 0;
  --where.part->items;
  return true;
}

std::optional<ItemView> Table::touch(std::string_view key, UnixSeconds expires_at, UnixSeconds now) {
  if (key.empty() || key.size() > kMaxKeyBytes) return std::nullopt;
  const Location where = locate(key);
  auto found = find(where, key, now);
  if (!found) return std::nullopt;
  found->header.expires_at = expires_at;
  std::memcpy(where.log + found->at + offsetof(ItemHeader, expires_at), &expires_at, sizeof expires_at);
  return view(where, *found);
}

ArithOutcome Table::add_delta(std::string_view key, bool increment, uint64_t delta, UnixSeconds now,
                              uint64_t* result) {
  if (key.empty() || key.size() > kMaxKeyBytes) return ArithOutcome::kNotFound;
  const Location where = locate(key);
  const auto old = find(where, key, now);
  if (!old) return ArithOutcome::kNotFound;
  uint64_t n;
  if (!parse_counter(view(where, *old).value, &n)) return ArithOutcome::kNonNumeric;
  n = increment ? n + delta : (n > delta ? n - delta : 0);  // unsigned: incr wraps at 2^64
  char digits[std::numeric_limits<uint64_t>::digits10 + 1];
  const auto length = static_cast<uint64_t>(std::to_chars(digits, digits + sizeof digits, n).ptr - digits);

  const uint64_t offset = append_space(*where.part, item_bytes(key.size(), length));
  std::byte* item = where.log + offset % log_bytes_;
  std::memcpy(item + kItemHeaderBytes, key.data(), key.size());
  std::memcpy(item + kItemHeaderBytes + key.size(), digits, length);
  const ItemHeader header{offset,           next_cas(where),
                          old->header.flags, old->header.expires_at,
                          static_cast<uint32_t>(length), static_cast<uint16_t>(key.size()),
                          0};
  std::memcpy(item, &header, sizeof header);
  index(where, old, offset);
  ++where.part->total_items;
  *result = n;
  return ArithOutcome::kDone;
}

void Table::flush_all() {
  for (uint32_t p = 0; p < partitions(); ++p)
    partitions_[p].flushed_below = partitions_[p].next_cas_seq << partition_bits_;
}

bool Table::fits(std::size_t key_bytes, std::size_t value_bytes) const {
  return key_bytes <= kMaxKeyBytes && value_bytes <= max_item_bytes_ &&
         item_bytes(key_bytes, value_bytes) <= max_item_bytes_;
}

TableStats Table::stats() const {
  TableStats s;
  for (uint32_t p = 0; p < partitions(); ++p) {
    const Partition& part = partitions_[p];
    s.items += part.items;
    s.total_items += part.total_items;
    s.evictions += part.evictions;
    s.log_bytes_used += std::min(part.tail, log_bytes_);
    s.log_bytes += log_bytes_;
  }
  return s;
}

}  // namespace rl::kv
