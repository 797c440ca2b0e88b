// rl-kvstore's core: the MICA-like table (apps/kvstore/table.hpp) and the
// memcached text protocol and UDP framing (apps/kvstore/protocol.hpp).
// Expected replies are memcached 1.6.18's, checked against it, except where
// protocol.hpp lists a deliberate difference.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "apps/kvstore/protocol.hpp"
#include "apps/kvstore/table.hpp"

namespace rl::kv {
namespace {

constexpr UnixSeconds kNow = 1'700'000'000;

// A table in `bytes` of cache-line-aligned memory of its own (so that the
// layout is exact), and the service over it.
struct Kv {
  explicit Kv(std::size_t bytes = 8 << 20, TableConfig config = {})
      : storage(bytes + 64), table(must_place(aligned(storage, bytes), config)),
        service(table, kNow, ServiceConfig{4242}) {}
  static std::span<std::byte> aligned(std::vector<std::byte>& v, std::size_t bytes) {
    const auto address = reinterpret_cast<uintptr_t>(v.data());
    return std::span(v).subspan((64 - address % 64) % 64, bytes);
  }
  static Table must_place(std::span<std::byte> memory, const TableConfig& config) {
    std::string why;
    auto t = Table::place(memory, config, &why);
    EXPECT_TRUE(t.has_value()) << why;
    return std::move(*t);
  }
  std::vector<std::byte> storage;
  Table table;
  Service service;
};

// Feeds `input` in pieces (sizes from `piece`), draining the output whenever
// the session stops on its high-water mark, and finishing a paused get.
std::string run_pieces(Session& s, std::string_view input, const std::function<std::size_t()>& piece,
                       UnixSeconds now = kNow) {
  std::string all, out;
  std::size_t pos = 0;
  while (pos < input.size() && !s.closing()) {
    const std::string_view chunk = input.substr(pos, std::max<std::size_t>(1, piece()));
    std::size_t used = 0;
    do {
      used += s.feed(chunk.substr(used), out, now);
      all += out;
      out.clear();
    } while (used < chunk.size() && !s.closing());
    pos += chunk.size();
  }
  while (s.paused()) {
    EXPECT_EQ(s.feed({}, out, now), 0u);
    all += out;
    out.clear();
  }
  return all;
}

std::string run(Session& s, std::string_view input, UnixSeconds now = kNow) {
  return run_pieces(s, input, [&] { return input.size(); }, now);
}

// One session on a fresh table.
struct Fixture : ::testing::Test {
  Kv kv;
  Session session{kv.service};
  std::string operator()(std::string_view input, UnixSeconds now = kNow) { return run(session, input, now); }
};

std::string gets_cas(const std::string& reply) {
  // "VALUE key flags bytes cas\r\n..." -> cas
  const auto line_end = reply.find("\r\n");
  const auto space = reply.rfind(' ', line_end);
  return reply.substr(space + 1, line_end - space - 1);
}

// ---------------------------------------------------------------- table

TEST(KvTable, PlaceChecksItsConfiguration) {
  std::vector<std::byte> memory(1 << 20);
  std::string why;
  EXPECT_FALSE(Table::place(memory, TableConfig{.partitions = 3}, &why));
  EXPECT_NE(why.find("power of two"), std::string::npos);
  EXPECT_FALSE(Table::place(memory, TableConfig{.buckets_per_partition = 1000}, &why));
  EXPECT_FALSE(Table::place(std::span(memory).first(2000), TableConfig{}, &why));
  EXPECT_NE(why.find("log bytes"), std::string::npos);
  EXPECT_FALSE(Table::place(memory, TableConfig{.partitions = 1024}, &why)) << "1 KiB per partition is too little";
  EXPECT_TRUE(Table::place(std::span(memory).subspan(3), TableConfig{.partitions = 4}, &why)) << why;
}

TEST(KvTable, LayoutFollowsTheMemorySize) {
  Kv kv(64 << 20, TableConfig{.partitions = 4});
  const Table& t = kv.table;
  EXPECT_EQ(t.partitions(), 4u);
  const uint64_t share = (64u << 20) / 4;
  EXPECT_LE(t.buckets_per_partition() * 64, share / 8) << "the index takes at most an eighth";
  EXPECT_GE(t.buckets_per_partition() * 64, share / 16 - 64);
  EXPECT_LE(t.log_bytes_per_partition() * 4 + t.buckets_per_partition() * 64 * 4, 64u << 20);
  EXPECT_GT(t.log_bytes_per_partition(), share * 3 / 4);
  EXPECT_EQ(t.max_item_bytes(), kDefaultMaxItemBytes);
  EXPECT_EQ(t.stats().log_bytes, 4 * t.log_bytes_per_partition());

  Kv small(64 << 10);
  EXPECT_EQ(small.table.max_item_bytes(), (small.table.log_bytes_per_partition() / 4) & ~7ull)
      << "an item never takes more than a quarter of a log";
}

TEST(KvTable, HashIsStableAndSpreadsKeys) {
  EXPECT_EQ(hash_key("hello"), hash_key("hello"));
  EXPECT_NE(hash_key("hello"), hash_key("hello", 1)) << "the seed changes the hash";
  EXPECT_NE(hash_key("a"), hash_key(std::string_view("a\0", 2))) << "the length is hashed";
  EXPECT_NE(hash_key("abcdefgh1"), hash_key("abcdefgh2"));
  // Keys like memcaslap's, in 64 bins by the bits the table uses for buckets
  // and tags: no bin strays far from the mean.
  for (int shift : {0, 10, 48}) {
    std::vector<int> bins(64, 0);
    const int n = 64 * 1000;
    for (int i = 0; i < n; ++i) ++bins[(hash_key("key:" + std::to_string(i)) >> shift) & 63];
    for (int b : bins) {
      EXPECT_GT(b, 850) << "shift " << shift;
      EXPECT_LT(b, 1150) << "shift " << shift;
    }
  }
}

TEST(KvTable, StoresAndFindsItems) {
  Kv kv;
  Table& t = kv.table;
  EXPECT_FALSE(t.get("k", kNow));
  ASSERT_EQ(t.store({.key = "k", .value = "v1", .flags = 7}, kNow), StoreOutcome::kStored);
  auto item = t.get("k", kNow);
  ASSERT_TRUE(item);
  EXPECT_EQ(item->key, "k");
  EXPECT_EQ(item->value, "v1");
  EXPECT_EQ(item->flags, 7u);
  const uint64_t first_cas = item->cas;
  EXPECT_NE(first_cas, 0u);
  ASSERT_EQ(t.store({.key = "k", .value = "second"}, kNow), StoreOutcome::kStored);
  item = t.get("k", kNow);
  EXPECT_EQ(item->value, "second");
  EXPECT_GT(item->cas, first_cas) << "every version has a new cas";
  EXPECT_EQ(t.stats().items, 1u) << "an update reuses the key's slot";
  EXPECT_EQ(t.stats().total_items, 2u);

  EXPECT_TRUE(t.remove("k", kNow));
  EXPECT_FALSE(t.remove("k", kNow));
  EXPECT_FALSE(t.get("k", kNow));
  EXPECT_EQ(t.stats().items, 0u);

  const std::string binary("a\0b\r\nc\xff", 7);
  ASSERT_EQ(t.store({.key = "bin", .value = binary}, kNow), StoreOutcome::kStored);
  EXPECT_EQ(t.get("bin", kNow)->value, binary);
  EXPECT_EQ(t.store({.key = "", .value = "x"}, kNow), StoreOutcome::kNotStored);
  EXPECT_EQ(t.store({.key = std::string(251, 'k'), .value = "x"}, kNow), StoreOutcome::kNotStored);
  EXPECT_EQ(t.store({.key = std::string(250, 'k'), .value = "x"}, kNow), StoreOutcome::kStored);
}

TEST(KvTable, StoreModes) {
  Kv kv;
  Table& t = kv.table;
  EXPECT_EQ(t.store({.mode = StoreMode::kReplace, .key = "k", .value = "r"}, kNow), StoreOutcome::kNotStored);
  EXPECT_EQ(t.store({.mode = StoreMode::kAppend, .key = "k", .value = "r"}, kNow), StoreOutcome::kNotStored);
  EXPECT_EQ(t.store({.mode = StoreMode::kPrepend, .key = "k", .value = "r"}, kNow), StoreOutcome::kNotStored);
  EXPECT_EQ(t.store({.mode = StoreMode::kCas, .key = "k", .value = "r", .cas = 1}, kNow), StoreOutcome::kNotFound);
  EXPECT_EQ(t.store({.mode = StoreMode::kAdd, .key = "k", .value = "mid", .flags = 3, .expires_at = kNow + 100},
                    kNow),
            StoreOutcome::kStored);
  EXPECT_EQ(t.store({.mode = StoreMode::kAdd, .key = "k", .value = "x"}, kNow), StoreOutcome::kNotStored);
  EXPECT_EQ(t.store({.mode = StoreMode::kAppend, .key = "k", .value = ">>", .flags = 9}, kNow),
            StoreOutcome::kStored);
  EXPECT_EQ(t.store({.mode = StoreMode::kPrepend, .key = "k", .value = "<<"}, kNow), StoreOutcome::kStored);
  auto item = t.get("k", kNow);
  EXPECT_EQ(item->value, "<<mid>>");
  EXPECT_EQ(item->flags, 3u) << "append and prepend keep flags";
  EXPECT_EQ(item->expires_at, kNow + 100) << "and the expiry time";
  EXPECT_EQ(t.store({.mode = StoreMode::kCas, .key = "k", .value = "c", .cas = item->cas + 1}, kNow),
            StoreOutcome::kExists);
  EXPECT_EQ(t.store({.mode = StoreMode::kCas, .key = "k", .value = "c", .cas = item->cas}, kNow),
            StoreOutcome::kStored);
  EXPECT_EQ(t.store({.mode = StoreMode::kCas, .key = "k", .value = "c", .cas = item->cas}, kNow),
            StoreOutcome::kExists) << "the cas changed with the store";
  EXPECT_EQ(t.store({.mode = StoreMode::kReplace, .key = "k", .value = "r"}, kNow), StoreOutcome::kStored);
  EXPECT_EQ(t.get("k", kNow)->value, "r");
}

TEST(KvTable, ItemSizeLimit) {
  Kv kv(16 << 20);
  Table& t = kv.table;
  const std::size_t max_value = kDefaultMaxItemBytes - kItemHeaderBytes - 1;
  EXPECT_TRUE(t.fits(1, max_value));
  EXPECT_FALSE(t.fits(1, max_value + 1));
  EXPECT_FALSE(t.fits(251, 1));
  EXPECT_FALSE(t.fits(1, SIZE_MAX));
  EXPECT_EQ(t.store({.key = "k", .value = std::string(max_value, 'v')}, kNow), StoreOutcome::kStored);
  EXPECT_EQ(t.store({.key = "k", .value = std::string(max_value + 1, 'v')}, kNow), StoreOutcome::kTooLarge);
  EXPECT_EQ(t.store({.mode = StoreMode::kAppend, .key = "k", .value = "x"}, kNow), StoreOutcome::kNotStored)
      << "memcached answers NOT_STORED when an append would be too large";
  EXPECT_EQ(t.get("k", kNow)->value.size(), max_value);
}

TEST(KvTable, ExpiryAndTouch) {
  Kv kv;
  Table& t = kv.table;
  ASSERT_EQ(t.store({.key = "k", .value = "v", .expires_at = kNow + 10}, kNow), StoreOutcome::kStored);
  EXPECT_TRUE(t.get("k", kNow + 9));
  EXPECT_FALSE(t.get("k", kNow + 10)) << "an item expires at its expiry time, as in memcached";
  EXPECT_EQ(t.stats().items, 0u) << "the expired item's slot was freed when found";
  EXPECT_EQ(t.store({.mode = StoreMode::kAdd, .key = "k", .value = "v2"}, kNow + 10), StoreOutcome::kStored)
      << "an expired item does not block add";

  ASSERT_EQ(t.store({.key = "t", .value = "v", .expires_at = kNow + 10}, kNow), StoreOutcome::kStored);
  const uint64_t cas = t.get("t", kNow)->cas;
  auto touched = t.touch("t", kNow + 100, kNow + 5);
  ASSERT_TRUE(touched);
  EXPECT_EQ(touched->expires_at, kNow + 100);
  EXPECT_EQ(touched->cas, cas) << "touch keeps the cas";
  EXPECT_TRUE(t.get("t", kNow + 50));
  EXPECT_TRUE(t.touch("t", 0, kNow + 50));
  EXPECT_TRUE(t.get("t", kNow + 1'000'000)) << "0 never expires";
  EXPECT_FALSE(t.touch("missing", 0, kNow));
}

TEST(KvTable, IncrDecr) {
  Kv kv;
  Table& t = kv.table;
  uint64_t r = 0;
  EXPECT_EQ(t.add_delta("n", true, 1, kNow, &r), ArithOutcome::kNotFound);
  auto set = [&](std::string_view v) { ASSERT_EQ(t.store({.key = "n", .value = v, .flags = 5}, kNow), StoreOutcome::kStored); };
  set("10");
  EXPECT_EQ(t.add_delta("n", false, 1, kNow, &r), ArithOutcome::kDone);
  EXPECT_EQ(r, 9u);
  EXPECT_EQ(t.get("n", kNow)->value, "9") << "the exact digits: shorter value";
  EXPECT_EQ(t.get("n", kNow)->flags, 5u) << "flags survive";
  EXPECT_EQ(t.add_delta("n", true, 91, kNow, &r), ArithOutcome::kDone);
  EXPECT_EQ(t.get("n", kNow)->value, "100") << "longer value";
  EXPECT_EQ(t.add_delta("n", false, 1000, kNow, &r), ArithOutcome::kDone);
  EXPECT_EQ(r, 0u) << "decr stops at 0";
  set("18446744073709551615");
  EXPECT_EQ(t.add_delta("n", true, 1, kNow, &r), ArithOutcome::kDone);
  EXPECT_EQ(r, 0u) << "incr wraps at 2^64";
  set("18446744073709551610");
  EXPECT_EQ(t.add_delta("n", true, 10, kNow, &r), ArithOutcome::kDone);
  EXPECT_EQ(r, 4u);
  for (std::string_view bad : {"", "abc", "1x", "-5", "18446744073709551616", " ", "+", "12a3"}) {
    set(bad);
    EXPECT_EQ(t.add_delta("n", true, 1, kNow, &r), ArithOutcome::kNonNumeric) << "'" << bad << "'";
  }
  for (auto [text, value] : std::vector<std::pair<std::string_view, uint64_t>>{
           {" 5", 6}, {"5 ", 6}, {"+5", 6}, {"-0", 1}, {"007", 8}, {"1 x", 2}, {"\t3\r", 4}}) {
    set(text);
    EXPECT_EQ(t.add_delta("n", true, 1, kNow, &r), ArithOutcome::kDone) << "'" << text << "'";
    EXPECT_EQ(r, value) << "'" << text << "'";
  }
}

TEST(KvTable, FlushAllHidesEverythingStoredBefore) {
  Kv kv(8 << 20, TableConfig{.partitions = 4});
  Table& t = kv.table;
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(t.store({.key = "k" + std::to_string(i), .value = "v"}, kNow), StoreOutcome::kStored);
  t.flush_all();
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(t.get("k" + std::to_string(i), kNow));
  ASSERT_EQ(t.store({.key = "k1", .value = "new"}, kNow), StoreOutcome::kStored);
  EXPECT_EQ(t.get("k1", kNow)->value, "new");
}

TEST(KvTable, PartitionsSplitTheKeys) {
  Kv kv(8 << 20, TableConfig{.partitions = 8});
  std::vector<int> per_partition(8, 0);
  for (int i = 0; i < 8000; ++i) {
    const std::string key = "key-" + std::to_string(i);
    ++per_partition[kv.table.partition_of(key)];
    ASSERT_EQ(kv.table.store({.key = key, .value = key}, kNow), StoreOutcome::kStored);
  }
  for (int n : per_partition) EXPECT_NEAR(n, 1000, 150);
  std::set<uint64_t> cas;
  for (int i = 0; i < 8000; ++i) {
    const std::string key = "key-" + std::to_string(i);
    auto item = kv.table.get(key, kNow);
    ASSERT_TRUE(item) << key;
    EXPECT_EQ(item->value, key);
    EXPECT_TRUE(cas.insert(item->cas).second) << "cas values are unique across partitions";
  }
}

// Far more data than fits: no crash, recent keys hit, old ones miss, and the
// evictions are counted.
TEST(KvTable, EvictsUnderASmallMemoryBudget) {
  Kv kv(64 << 10);
  Table& t = kv.table;
  const int n = 20000;
  std::string value(40, 'v');
  for (int i = 0; i < n; ++i) {
    value.replace(0, 8, std::to_string(10'000'000 + i));
    ASSERT_EQ(t.store({.key = "key:" + std::to_string(i), .value = value}, kNow), StoreOutcome::kStored);
  }
  int recent_hits = 0, old_hits = 0;
  for (int i = n - 100; i < n; ++i) {
    auto item = t.get("key:" + std::to_string(i), kNow);
    if (item) {
      ++recent_hits;
      EXPECT_EQ(item->value.substr(0, 8), std::to_string(10'000'000 + i));
    }
  }
  for (int i = 0; i < 100; ++i) old_hits += t.get("key:" + std::to_string(i), kNow).has_value();
  EXPECT_GE(recent_hits, 95) << "the newest items are still there";
  EXPECT_EQ(old_hits, 0) << "the oldest were overwritten long ago";
  const TableStats s = t.stats();
  EXPECT_GT(s.evictions, static_cast<uint64_t>(n / 2));
  EXPECT_LE(s.items, t.buckets_per_partition() * kSlotsPerBucket);
  EXPECT_LE(s.log_bytes_used, s.log_bytes);
}

// An index entry whose item the log has since overwritten is a miss, found by
// its offset, not by a full bucket.
TEST(KvTable, DetectsEntriesIntoOverwrittenLog) {
  // Many buckets, small log: the log wraps long before any bucket fills.
  Kv kv(64 + 1024 * 64 + 8192, TableConfig{.buckets_per_partition = 1024});
  Table& t = kv.table;
  ASSERT_EQ(t.log_bytes_per_partition(), 8192u);
  ASSERT_EQ(t.store({.key = "victim", .value = "old"}, kNow), StoreOutcome::kStored);
  EXPECT_EQ(t.get("victim", kNow)->value, "old");
  for (int i = 0; t.stats().log_bytes_used < t.log_bytes_per_partition() || i < 200; ++i)
    ASSERT_EQ(t.store({.key = "f" + std::to_string(i), .value = std::string(20, 'x')}, kNow), StoreOutcome::kStored);
  const TableStats before = t.stats();
  EXPECT_EQ(before.evictions, 0u) << "no bucket filled up";
  EXPECT_EQ(before.items, 201u) << "the victim's slot is still occupied";
  EXPECT_FALSE(t.get("victim", kNow)) << "its log bytes were overwritten";
  EXPECT_EQ(t.stats().evictions, 1u);
  EXPECT_EQ(t.stats().items, 200u);
  EXPECT_TRUE(t.get("f199", kNow));
}

// append/prepend onto an item that the new version's space overlaps (the
// log wraps onto the old item): the old value must move intact.
TEST(KvTable, ConcatenationWhenTheLogWrapsOntoTheOldItem) {
  for (StoreMode mode : {StoreMode::kAppend, StoreMode::kPrepend}) {
    Kv kv(64 + 1024 * 64 + 8192, TableConfig{.buckets_per_partition = 1024});
    Table& t = kv.table;
    std::string old_value(1000, '\0');
    for (std::size_t i = 0; i < old_value.size(); ++i) old_value[i] = static_cast<char>('A' + i % 26);
    ASSERT_EQ(t.store({.key = "K", .value = old_value}, kNow), StoreOutcome::kStored);  // at the log's start
    const uint64_t filler = 136;  // header 32 + key 4 + value 100
    for (int i = 0; t.stats().log_bytes_used + filler <= t.log_bytes_per_partition(); ++i) {
      const std::string key = "f" + std::to_string(1000 + i).substr(1);  // 4 bytes
      ASSERT_EQ(t.store({.key = key, .value = std::string(100, 'f')}, kNow), StoreOutcome::kStored);
    }
    ASSERT_TRUE(t.get("K", kNow)) << "K is the oldest item, still intact";
    const std::string data(50, '#');
    // 32 + 1 + 1050 bytes do not fit before the log's end: they go to its
    // start, over K.
    ASSERT_EQ(t.store({.mode = mode, .key = "K", .value = data}, kNow), StoreOutcome::kStored);
    auto item = t.get("K", kNow);
    ASSERT_TRUE(item);
    EXPECT_EQ(item->value, mode == StoreMode::kAppend ? old_value + data : data + old_value);
  }
}

// The table is a cache: it may forget, but a hit is always the latest value.
TEST(KvTable, RandomOperationsNeverReturnAStaleValue) {
  for (std::size_t memory : {std::size_t{64} << 10, std::size_t{16} << 20}) {
    Kv kv(memory, TableConfig{.partitions = 2});
    Table& t = kv.table;
    std::map<std::string, std::string> model;  // a key's latest value, if it was not deleted
    std::mt19937_64 rng(memory);
    uint64_t misses = 0;
    for (int op = 0; op < 60000; ++op) {
      const std::string key = "k" + std::to_string(rng() % 700);
      const int what = static_cast<int>(rng() % 10);
      if (what < 4) {
        const std::string value(rng() % 300, static_cast<char>('a' + rng() % 26));
        ASSERT_EQ(t.store({.key = key, .value = value}, kNow), StoreOutcome::kStored);
        model[key] = value;
      } else if (what < 5) {
        t.remove(key, kNow);
        model.erase(key);
      } else if (what < 6) {
        const std::string data(rng() % 40, '+');
        if (t.store({.mode = StoreMode::kAppend, .key = key, .value = data}, kNow) == StoreOutcome::kStored) {
          ASSERT_TRUE(model.count(key)) << "appended to a key that should not exist";
          model[key] += data;
        } else {
          model.erase(key);  // forgotten by the cache (or absent)
        }
      } else {
        auto item = t.get(key, kNow);
        if (item) {
          ASSERT_TRUE(model.count(key)) << key << " was deleted but is found";
          ASSERT_EQ(item->value, model[key]) << key;
        } else {
          misses += model.count(key);
          model.erase(key);  // a forgotten item never comes back
        }
      }
    }
    if (memory > (1 << 20)) EXPECT_EQ(misses, 0u) << "with room for everything, nothing is forgotten";
    else EXPECT_GT(misses, 0u);
  }
}

// ---------------------------------------------------------------- protocol

using Protocol = Fixture;

TEST_F(Protocol, SetGetGets) {
  EXPECT_EQ((*this)("set foo 5 0 3\r\nbar\r\n"), "STORED\r\n");
  EXPECT_EQ((*this)("get foo\r\n"), "VALUE foo 5 3\r\nbar\r\nEND\r\n");
  EXPECT_EQ((*this)("get nope\r\n"), "END\r\n");
  const std::string g = (*this)("gets foo\r\n");
  EXPECT_EQ(g.substr(0, 16), "VALUE foo 5 3 1\r");
  EXPECT_EQ((*this)("set a 0 0 1\r\n1\r\nset b 4294967295 0 2\r\n22\r\nget a nope b a\r\n"),
            "STORED\r\nSTORED\r\nVALUE a 0 1\r\n1\r\nVALUE b 4294967295 2\r\n22\r\nVALUE a 0 1\r\n1\r\nEND\r\n");
  EXPECT_EQ((*this)("set empty 0 0 0\r\n\r\nget empty\r\n"), "STORED\r\nVALUE empty 0 0\r\n\r\nEND\r\n");
  EXPECT_EQ((*this)("  get   a  \r\n"), "VALUE a 0 1\r\n1\r\nEND\r\n") << "runs of spaces separate words";
  EXPECT_EQ((*this)("get a\n"), "VALUE a 0 1\r\n1\r\nEND\r\n") << "a bare \\n ends a line";
  const std::string key250(250, 'k');
  EXPECT_EQ((*this)("set " + key250 + " 0 0 1\r\nx\r\nget " + key250 + "\r\n"),
            "STORED\r\nVALUE " + key250 + " 0 1\r\nx\r\nEND\r\n");
  const std::string odd_key("\x10\x10\t\x80\xff", 5);  // memcaslap's keys start with 0x10 bytes
  EXPECT_EQ((*this)("set " + odd_key + " 0 0 1\r\nx\r\nget " + odd_key + "\r\n"),
            "STORED\r\nVALUE " + odd_key + " 0 1\r\nx\r\nEND\r\n");
  const std::string binary("\0\r\n\xff\r\nEND\r\n", 11);
  EXPECT_EQ((*this)("set bin 0 0 11\r\n" + binary + "\r\nget bin\r\n"),
            "STORED\r\nVALUE bin 0 11\r\n" + binary + "\r\nEND\r\n");
}

TEST_F(Protocol, StorageCommandErrors) {
  const std::string key251(251, 'k');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"set a 0 0\r\n", "ERROR\r\n"},
      {"set a 0 0 1 2 3\r\nx\r\n", "ERROR\r\nERROR\r\n"},
      {"set a 0 0 -1\r\n", "CLIENT_ERROR bad command line format\r\n"},
      {"set a 0 0 abc\r\n", "CLIENT_ERROR bad command line format\r\n"},
      {"set a 0 0 2147483646\r\n", "CLIENT_ERROR bad command line format\r\n"},
      // Bad fields with a good length: the data block is discarded (memcached parses it as a command).
      {"set a x 0 1\r\nx\r\nget a\r\n", "CLIENT_ERROR bad command line format\r\nEND\r\n"},
      {"set a -1 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\n"},
      {"set a 4294967296 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\n"},
      {"set a 0 2147483648 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\n"},
      {"set " + key251 + " 0 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\n"},
      {"cas a 0 0 1 abc\r\nx\r\n", "CLIENT_ERROR bad command line format\r\n"},
      {"cas a 0 0 1\r\nx\r\n", "ERROR\r\nERROR\r\n"},
      {"set a 0 0 1\r\nab\r\nget a\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n"},
      {"set a 0 0 1\r\nx\nget a\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n"},
      {"set a 0 0 1\r\nxyz\r\nget a\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n"},
      // Numbers as memcached's strtol-based parsers read them.
      {"set a 0 0 +1\r\nx\r\nget a\r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"},
      {"set a 0 0 01\r\ny\r\nget a\r\n", "STORED\r\nVALUE a 0 1\r\ny\r\nEND\r\n"},
      {"set a 0 0 1\r\r\nz\r\nget a\r\n", "STORED\r\nVALUE a 0 1\r\nz\r\nEND\r\n"},
      {"set a 0 0 1x\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
      {"set a 0 0 1 norepl\r\nw\r\nget a\r\n", "STORED\r\nVALUE a 0 1\r\nw\r\nEND\r\n"},
  };
  for (const auto& [input, expected] : cases) EXPECT_EQ((*this)(input), expected) << input;
}

TEST_F(Protocol, AddReplaceAppendPrepend) {
  EXPECT_EQ((*this)("replace k 0 0 1\r\nr\r\n"), "NOT_STORED\r\n");
  EXPECT_EQ((*this)("append k 0 0 1\r\nr\r\n"), "NOT_STORED\r\n");
  EXPECT_EQ((*this)("prepend k 0 0 1\r\nr\r\n"), "NOT_STORED\r\n");
  EXPECT_EQ((*this)("add k 7 0 3\r\nmid\r\n"), "STORED\r\n");
  EXPECT_EQ((*this)("add k 0 0 1\r\nx\r\n"), "NOT_STORED\r\n");
  EXPECT_EQ((*this)("append k 9 100 2\r\n>>\r\nprepend k 8 0 2\r\n<<\r\n"), "STORED\r\nSTORED\r\n");
  EXPECT_EQ((*this)("get k\r\n"), "VALUE k 7 7\r\n<<mid>>\r\nEND\r\n");
  EXPECT_EQ((*this)("replace k 1 0 1\r\nr\r\nget k\r\n"), "STORED\r\nVALUE k 1 1\r\nr\r\nEND\r\n");
}

TEST_F(Protocol, CasRaces) {
  Session other(kv.service);
  EXPECT_EQ((*this)("cas k 0 0 1 1\r\nx\r\n"), "NOT_FOUND\r\n");
  (*this)("set k 0 0 2\r\nv1\r\n");
  const std::string unique = gets_cas((*this)("gets k\r\n"));
  EXPECT_EQ(run(other, "gets k\r\n"), "VALUE k 0 2 " + unique + "\r\nv1\r\nEND\r\n");
  // The other client writes first: our unique is stale.
  EXPECT_EQ(run(other, "cas k 0 0 2 " + unique + "\r\nv2\r\n"), "STORED\r\n");
  EXPECT_EQ((*this)("cas k 0 0 2 " + unique + "\r\nv3\r\n"), "EXISTS\r\n");
  EXPECT_EQ((*this)("get k\r\n"), "VALUE k 0 2\r\nv2\r\nEND\r\n");
  const std::string fresh = gets_cas((*this)("gets k\r\n"));
  EXPECT_NE(fresh, unique);
  EXPECT_EQ(run(other, "delete k\r\n"), "DELETED\r\n");
  EXPECT_EQ((*this)("cas k 0 0 2 " + fresh + "\r\nv4\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ((*this)("set c 0 0 1\r\nx\r\ncas c 0 0 1 0\r\ny\r\n"), "STORED\r\nEXISTS\r\n") << "cas 0 never matches";
  const ServiceStats& s = kv.service.stats();
  EXPECT_EQ(s.cas_hits, 1u);
  EXPECT_EQ(s.cas_badval, 2u);
  EXPECT_EQ(s.cas_misses, 2u);
}

TEST_F(Protocol, DeleteTouchGat) {
  (*this)("set k 0 0 1\r\nx\r\n");
  EXPECT_EQ((*this)("delete\r\n"), "ERROR\r\n");
  EXPECT_EQ((*this)("delete a b c d e\r\n"), "ERROR\r\n");
  EXPECT_EQ((*this)("delete k 1\r\n"), "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
  EXPECT_EQ((*this)("delete k noreply x\r\n"),
            "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
  EXPECT_EQ((*this)("delete k 0\r\n"), "DELETED\r\n");
  EXPECT_EQ((*this)("delete k\r\n"), "NOT_FOUND\r\n");

  (*this)("set t 3 0 1\r\nx\r\n");
  EXPECT_EQ((*this)("touch t\r\n"), "ERROR\r\n");
  EXPECT_EQ((*this)("touch t 1 2 3\r\n"), "ERROR\r\n");
  EXPECT_EQ((*this)("touch t x\r\n"), "CLIENT_ERROR invalid exptime argument\r\n");
  EXPECT_EQ((*this)("touch nope 10\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ((*this)("touch t 10\r\n"), "TOUCHED\r\n");
  EXPECT_EQ((*this)("get t\r\n", kNow + 9), "VALUE t 3 1\r\nx\r\nEND\r\n");
  EXPECT_EQ((*this)("get t\r\n", kNow + 10), "END\r\n");

  (*this)("set g 1 0 1\r\ny\r\n");
  EXPECT_EQ((*this)("gat\r\n"), "ERROR\r\n");
  EXPECT_EQ((*this)("gat 10\r\n"), "END\r\n");
  EXPECT_EQ((*this)("gat x g\r\n"), "CLIENT_ERROR invalid exptime argument\r\n");
  EXPECT_EQ((*this)("gat 100 g nope\r\n"), "VALUE g 1 1\r\ny\r\nEND\r\n");
  EXPECT_EQ((*this)("gats 100 g\r\n").substr(0, 12), "VALUE g 1 1 ");
  EXPECT_EQ((*this)("get g\r\n", kNow + 99), "VALUE g 1 1\r\ny\r\nEND\r\n");
  EXPECT_EQ((*this)("get g\r\n", kNow + 100), "END\r\n");
}

TEST_F(Protocol, IncrDecr) {
  EXPECT_EQ((*this)("incr n 1\r\n"), "NOT_FOUND\r\n");
  (*this)("set n 5 0 2\r\n10\r\n");
  EXPECT_EQ((*this)("decr n 1\r\nget n\r\n"), "9\r\nVALUE n 5 1\r\n9\r\nEND\r\n") << "\"10\" decr 1 is \"9\"";
  EXPECT_EQ((*this)("incr n 1\r\nget n\r\n"), "10\r\nVALUE n 5 2\r\n10\r\nEND\r\n");
  EXPECT_EQ((*this)("decr n 100\r\n"), "0\r\n");
  EXPECT_EQ((*this)("decr n 1\r\n"), "0\r\n") << "no wrap below 0";
  EXPECT_EQ((*this)("incr n 18446744073709551615\r\nincr n 1\r\n"), "18446744073709551615\r\n0\r\n");
  EXPECT_EQ((*this)("decr n 18446744073709551615\r\n"), "0\r\n");
  EXPECT_EQ((*this)("incr n\r\n"), "ERROR\r\n");
  EXPECT_EQ((*this)("incr n abc\r\n"), "CLIENT_ERROR invalid numeric delta argument\r\n");
  EXPECT_EQ((*this)("incr n -1\r\n"), "CLIENT_ERROR invalid numeric delta argument\r\n");
  EXPECT_EQ((*this)("incr n 3x\r\n"), "CLIENT_ERROR invalid numeric delta argument\r\n");
  EXPECT_EQ((*this)("incr n 18446744073709551616\r\n"), "CLIENT_ERROR invalid numeric delta argument\r\n");
  EXPECT_EQ((*this)("incr n +3\r\nincr n 03\r\nincr n 1 extra\r\n"), "3\r\n6\r\n7\r\n");
  (*this)("set s 0 0 3\r\nabc\r\n");
  EXPECT_EQ((*this)("incr s 1\r\ndecr s 1\r\n"),
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  (*this)("set s 0 0 20\r\n18446744073709551616\r\n");
  EXPECT_EQ((*this)("incr s 1\r\n"), "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  const ServiceStats& st = kv.service.stats();
  EXPECT_EQ(st.incr_misses, 1u);
  EXPECT_GT(st.incr_hits, 0u);
  EXPECT_GT(st.decr_hits, 0u);
}

TEST_F(Protocol, Noreply) {
  EXPECT_EQ((*this)("set a 0 0 1 noreply\r\nx\r\n"
                    "add a 0 0 1 noreply\r\ny\r\n"
                    "add b 0 0 1 noreply\r\ny\r\n"
                    "replace b 0 0 1 noreply\r\nz\r\n"
                    "append a 0 0 1 noreply\r\n+\r\n"
                    "prepend a 0 0 1 noreply\r\n-\r\n"
                    "cas a 0 0 1 0 noreply\r\nc\r\n"
                    "set n 0 0 1 noreply\r\n1\r\n"
                    "incr n 5 noreply\r\ndecr n 2 noreply\r\nincr nope 1 noreply\r\nincr n x noreply\r\n"
                    "touch a 100 noreply\r\ntouch nope 1 noreply\r\n"
                    "delete b noreply\r\ndelete b noreply\r\ndelete b 0 noreply\r\ndelete b x noreply\r\n"
                    "set bad x 0 1 noreply\r\nx\r\n"
                    "set big 0 0 2000000 noreply\r\n"),
            "");
  EXPECT_EQ((*this)(std::string(2000002, 'x')), "") << "the too-large block is discarded silently";
  EXPECT_EQ((*this)("get a b n\r\n"), "VALUE a 0 3\r\n-x+\r\nVALUE n 0 1\r\n4\r\nEND\r\n");
  EXPECT_EQ((*this)("set a 0 0 1 noreply\r\nab\r\n"), "ERROR\r\n") << "bad data chunk is silent; \\n is a command";
  EXPECT_EQ((*this)("verbosity 1 noreply\r\nverbosity noreply\r\nflush_all noreply\r\nflush_all 0 noreply\r\n"), "");
  EXPECT_EQ((*this)("get a\r\n"), "END\r\n");
  EXPECT_EQ((*this)("set a 0 0 1 noreplyx\r\nx\r\n"), "STORED\r\n") << "only the exact word counts";
}

TEST_F(Protocol, OtherCommands) {
  EXPECT_EQ((*this)("version\r\n"), "VERSION 1.6.18-redleaf\r\n");
  EXPECT_EQ((*this)("version foo bar\r\n"), "VERSION 1.6.18-redleaf\r\n");
  EXPECT_EQ((*this)("verbosity\r\n"), "ERROR\r\n");
  EXPECT_EQ((*this)("verbosity 1\r\nverbosity 1 2\r\n"), "OK\r\nOK\r\n");
  EXPECT_EQ((*this)("verbosity x\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ((*this)("verbosity foo bar my\r\n"), "ERROR\r\n");
  EXPECT_EQ((*this)("foo\r\nGET a\r\n\r\n\n"), "ERROR\r\nERROR\r\nERROR\r\nERROR\r\n");
  EXPECT_EQ((*this)("get\r\ngets\r\n"), "ERROR\r\nERROR\r\n");
  EXPECT_EQ((*this)(std::string("version\0\r\n", 10)), "ERROR\r\n") << "NUL is not a terminator";
  EXPECT_EQ((*this)("flush_all x\r\nflush_all 1 2 3\r\nflush_all noreply 5\r\n"),
            "CLIENT_ERROR invalid exptime argument\r\nERROR\r\nCLIENT_ERROR invalid exptime argument\r\n");
}

TEST_F(Protocol, QuitClosesAndConsumesNothingMore) {
  std::string out;
  const std::string input = "set a 0 0 1\r\nx\r\nquit\r\nget a\r\n";
  const std::size_t used = session.feed(input, out, kNow);
  EXPECT_EQ(out, "STORED\r\n");
  EXPECT_TRUE(session.closing());
  EXPECT_EQ(used, input.find("get"));
  EXPECT_EQ(session.feed("get a\r\n", out, kNow), 0u);
  Session other(kv.service);
  EXPECT_EQ(run(other, "quit extra words\r\n"), "");
  EXPECT_TRUE(other.closing());
}

TEST_F(Protocol, ExpiryTimes) {
  EXPECT_EQ(expiry_from_exptime(0, kNow), 0u);
  EXPECT_EQ(expiry_from_exptime(1, kNow), kNow + 1);
  EXPECT_EQ(expiry_from_exptime(kMaxRelativeExptime, kNow), kNow + kMaxRelativeExptime) << "30 days: relative";
  EXPECT_EQ(expiry_from_exptime(kNow + 5000, kNow), kNow + 5000) << "beyond 30 days: a Unix time";
  EXPECT_EQ(expiry_from_exptime(kMaxRelativeExptime + 1, kNow), 1u) << "a Unix time in the past: expired";
  EXPECT_EQ(expiry_from_exptime(-1, kNow), 1u);

  (*this)("set rel 0 10 1\r\nr\r\nset abs 0 " + std::to_string(kNow + 20) + " 1\r\na\r\n"
          "set neg 0 -1 1\r\nn\r\nset past 0 2592001 1\r\np\r\nset never 0 0 1\r\nv\r\n");
  EXPECT_EQ((*this)("get rel abs neg past never\r\n", kNow + 9),
            "VALUE rel 0 1\r\nr\r\nVALUE abs 0 1\r\na\r\nVALUE never 0 1\r\nv\r\nEND\r\n");
  EXPECT_EQ((*this)("get rel abs never\r\n", kNow + 10), "VALUE abs 0 1\r\na\r\nVALUE never 0 1\r\nv\r\nEND\r\n");
  EXPECT_EQ((*this)("get rel abs never\r\n", kNow + 20), "VALUE never 0 1\r\nv\r\nEND\r\n");
  EXPECT_EQ((*this)("add neg 0 0 1\r\ny\r\nget neg\r\n"), "STORED\r\nVALUE neg 0 1\r\ny\r\nEND\r\n")
      << "an item stored already expired does not block add";
  EXPECT_EQ((*this)("touch never -1\r\nget never\r\n"), "TOUCHED\r\nEND\r\n");
}

TEST_F(Protocol, FlushAllWithDelay) {
  (*this)("set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\n");
  EXPECT_EQ((*this)("flush_all 10\r\n"), "OK\r\n");
  EXPECT_EQ((*this)("get a\r\n", kNow + 9), "VALUE a 0 1\r\n1\r\nEND\r\n");
  (*this)("set c 0 0 1\r\n3\r\n", kNow + 9);
  EXPECT_EQ((*this)("get a b c\r\n", kNow + 10), "END\r\n") << "everything stored before the deadline is gone";
  (*this)("set d 0 0 1\r\n4\r\n", kNow + 10);
  EXPECT_EQ((*this)("get d\r\n", kNow + 11), "VALUE d 0 1\r\n4\r\nEND\r\n") << "what comes after stays";

  EXPECT_EQ((*this)("flush_all 100\r\nflush_all 5\r\n", kNow + 20), "OK\r\nOK\r\n");
  EXPECT_EQ((*this)("get d\r\n", kNow + 25), "END\r\n") << "a later flush_all replaces the pending one";
  (*this)("set e 0 0 1\r\n5\r\n", kNow + 30);
  EXPECT_EQ((*this)("flush_all 100\r\nflush_all\r\nget e\r\n", kNow + 30), "OK\r\nOK\r\nEND\r\n");
  (*this)("set f 0 0 1\r\n6\r\n", kNow + 30);
  EXPECT_EQ((*this)("get f\r\n", kNow + 200), "VALUE f 0 1\r\n6\r\nEND\r\n") << "the immediate flush cancelled the delayed one";
  EXPECT_EQ((*this)("flush_all " + std::to_string(kNow + 300) + "\r\n", kNow + 200), "OK\r\n");
  EXPECT_EQ((*this)("get f\r\n", kNow + 299), "VALUE f 0 1\r\n6\r\nEND\r\n") << "a delay beyond 30 days is a Unix time";
  EXPECT_EQ((*this)("get f\r\n", kNow + 300), "END\r\n");
  EXPECT_EQ(kv.service.stats().cmd_flush, 6u);
}

TEST_F(Protocol, TooLargeIsRefusedWithoutBuffering) {
  EXPECT_EQ((*this)("set k 0 0 5\r\nhello\r\n"), "STORED\r\n");
  std::string out;
  const std::string announce = "set k 0 0 1000000000\r\n";
  ASSERT_EQ(session.feed(announce, out, kNow), announce.size());
  EXPECT_EQ(out, "SERVER_ERROR object too large for cache\r\n");
  out.clear();
  // The block is discarded as it arrives: a gigabyte is never held.  Feed
  // 8 MiB of it and then check the rest is still being skipped.
  const std::string chunk(1 << 20, 'z');
  for (int i = 0; i < 8; ++i) ASSERT_EQ(session.feed(chunk, out, kNow), chunk.size());
  EXPECT_EQ(session.feed("get k\r\n", out, kNow), 7u);
  EXPECT_EQ(out, "") << "still inside the discarded block";
  Session other(kv.service);
  EXPECT_EQ(run(other, "get k\r\n"), "END\r\n") << "a failed set removes the old value, as in memcached";
  EXPECT_EQ(kv.service.stats().store_too_large, 1u);

  Session s2(kv.service);
  const std::size_t max_value = kDefaultMaxItemBytes - kItemHeaderBytes - 1;
  EXPECT_EQ(run(s2, "set k 0 0 " + std::to_string(max_value) + "\r\n" + std::string(max_value, 'v') + "\r\n"),
            "STORED\r\n");
  EXPECT_EQ(run(s2, "set k 0 0 " + std::to_string(max_value + 1) + "\r\n" + std::string(max_value + 1, 'v') +
                        "\r\nget k\r\n"),
            "SERVER_ERROR object too large for cache\r\nEND\r\n");
  EXPECT_EQ(run(s2, "set k 0 0 600000\r\n" + std::string(600000, 'a') + "\r\nappend k 0 0 600000\r\n" +
                        std::string(600000, 'b') + "\r\n"),
            "STORED\r\nNOT_STORED\r\n");
}

TEST_F(Protocol, LinesTooLongCloseTheSession) {
  std::string out;
  EXPECT_EQ(session.feed(std::string(kMaxCommandLineBytes, 'a'), out, kNow), kMaxCommandLineBytes);
  EXPECT_EQ(out, "") << "2048 bytes may still become a command";
  EXPECT_EQ(session.feed("a", out, kNow), 1u);
  EXPECT_EQ(out, "CLIENT_ERROR line too long\r\n");
  EXPECT_TRUE(session.closing());

  Session whole(kv.service);
  EXPECT_EQ(run(whole, "set " + std::string(3000, 'k') + " 0 0 1\r\nx\r\n"), "CLIENT_ERROR line too long\r\n")
      << "the same whether or not the newline arrived with it";
  EXPECT_TRUE(whole.closing());

  // A get may list many keys: up to a mebibyte of line.
  Session getter(kv.service);
  run(getter, "set k7 0 0 1\r\n7\r\n");
  std::string line = "get";
  for (int i = 0; i < 20000; ++i) line += " k" + std::to_string(i);
  ASSERT_GT(line.size(), 100'000u);
  EXPECT_EQ(run(getter, line + "\r\n"), "VALUE k7 0 1\r\n7\r\nEND\r\n");
  EXPECT_FALSE(getter.closing());
  EXPECT_EQ(run(getter, "get " + std::string(kMaxRetrievalLineBytes, 'k') + "\r\n"),
            "CLIENT_ERROR line too long\r\n");
  EXPECT_TRUE(getter.closing());

  Session bad_key(kv.service);
  EXPECT_EQ(run(bad_key, "set b 0 0 1\r\nb\r\nget b " + std::string(251, 'k') + " b\r\n"),
            "STORED\r\nCLIENT_ERROR bad command line format\r\n")
      << "a bad key anywhere answers only the error";
}

// A client that does not read cannot make the session buffer without bound.
TEST_F(Protocol, BackpressurePausesBetweenKeysAndCommands) {
  const std::string value(100'000, 'v');
  (*this)("set big 0 0 100000\r\n" + value + "\r\n");
  std::string line = "get";
  for (int i = 0; i < 50; ++i) line += " big";
  line += "\r\n";
  const std::string pipelined = line + "get big\r\nversion\r\n";

  std::string out;
  const std::size_t used = session.feed(pipelined, out, kNow);
  EXPECT_EQ(used, line.size()) << "the get was taken, the next commands wait";
  EXPECT_TRUE(session.paused());
  EXPECT_GE(out.size(), kDefaultOutputHighWater);
  EXPECT_LT(out.size(), kDefaultOutputHighWater + value.size() + 100);
  EXPECT_EQ(session.feed(pipelined.substr(used), out, kNow), 0u) << "nothing more while the output is full";
  std::string all = out;
  out.clear();
  std::size_t rest = used;
  while (rest < pipelined.size() || session.paused()) {
    rest += session.feed(std::string_view(pipelined).substr(rest), out, kNow);
    EXPECT_LT(out.size(), kDefaultOutputHighWater + value.size() + 100);
    all += out;
    out.clear();
  }
  Session reference(kv.service, Session::Transport::kStream, SIZE_MAX);
  std::string expected;
  EXPECT_EQ(reference.feed(pipelined, expected, kNow), pipelined.size());
  EXPECT_EQ(all, expected);
  EXPECT_TRUE(all.ends_with("END\r\nVERSION 1.6.18-redleaf\r\n"));
}

TEST_F(Protocol, Stats) {
  Session second(kv.service);
  (*this)("set a 0 0 1\r\n1\r\nget a b\r\ndelete b\r\n");
  const std::string stats = (*this)("stats\r\n");
  for (const char* line : {"STAT pid 4242\r\n", "STAT uptime 0\r\n", "STAT version 1.6.18-redleaf\r\n",
                           "STAT curr_connections 2\r\n", "STAT total_connections 2\r\n", "STAT cmd_get 2\r\n",
                           "STAT cmd_set 1\r\n", "STAT get_hits 1\r\n", "STAT get_misses 1\r\n",
                           "STAT delete_misses 1\r\n", "STAT curr_items 1\r\n", "STAT total_items 1\r\n",
                           "STAT evictions 0\r\n", "STAT threads 1\r\n"})
    EXPECT_NE(stats.find(line), std::string::npos) << line << stats;
  EXPECT_NE(stats.find("STAT time " + std::to_string(kNow) + "\r\n"), std::string::npos);
  EXPECT_NE(stats.find("STAT limit_maxbytes "), std::string::npos);
  EXPECT_NE(stats.find("STAT bytes "), std::string::npos);
  EXPECT_TRUE(stats.ends_with("END\r\n"));
  EXPECT_NE((*this)("stats\r\n", kNow + 7).find("STAT uptime 7\r\n"), std::string::npos);
  EXPECT_EQ((*this)("stats noreply\r\nstats items\r\n"), "ERROR\r\nERROR\r\n");
  EXPECT_EQ((*this)("stats reset\r\n"), "RESET\r\n");
  EXPECT_NE((*this)("stats\r\n").find("STAT cmd_get 0\r\n"), std::string::npos);
  { Session third(kv.service); }
  EXPECT_NE((*this)("stats\r\n").find("STAT curr_connections 2\r\nSTAT total_connections 3\r\n"),
            std::string::npos);
}

TEST(KvProtocol, EvictionsShowInStats) {
  Kv kv(256 << 10);
  Session s(kv.service);
  std::string input;
  for (int i = 0; i < 5000; ++i) input += "set key" + std::to_string(i) + " 0 0 100\r\n" + std::string(100, 'x') + "\r\n";
  const std::string replies = run(s, input);
  EXPECT_EQ(replies.size(), 5000 * std::string("STORED\r\n").size());
  EXPECT_EQ(run(s, "get key4999\r\n").substr(0, 17), "VALUE key4999 0 1");
  EXPECT_EQ(run(s, "get key0\r\n"), "END\r\n");
  const std::string stats = run(s, "stats\r\n");
  const auto at = stats.find("STAT evictions ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GT(std::stoull(stats.substr(at + 15)), 1000u);
}

// ---------------------------------------------------------------- streams

// Commands that exercise every state of the session, pipelined.
std::string script() {
  std::string s;
  s += "set a 1 0 5\r\nhello\r\nget a\r\ngets a\r\nappend a 0 0 6\r\n world\r\nprepend a 0 0 2\r\n>>\r\nget a b\r\n";
  s += "add a 0 0 1\r\nx\r\nadd b 0 0 2\r\nbb\r\nreplace b 0 0 3\r\nbbb\r\ncas b 0 0 1 999\r\nc\r\n";
  s += "set n 0 0 2\r\n10\r\ndecr n 1\r\nincr n 100\r\nincr n x\r\nincr nope 1\r\ntouch a 100\r\ntouch nope 1\r\n";
  s += "gat 50 a n\r\ngats 0 b\r\ndelete b\r\ndelete b\r\ndelete a 1\r\nset bad 0 0 2\r\nxyz\r\n";
  s += "set big 0 0 3000\r\n" + std::string(3000, 'B') + "\r\nget big big a\r\n";
  s += "set nr 0 0 1 noreply\r\n1\r\nincr nr 1 noreply\r\nget nr\r\nfoo bar\r\n\r\nversion\r\nverbosity 1\r\n";
  s += "set huge 0 0 2000000\r\n" + std::string(2000002, 'H') + "get huge\r\n";
  s += "flush_all 0\r\nget a n\r\nset z 0 0 1\r\nz\r\nstats reset\r\nget z\r\nquit\r\nget z\r\n";
  return s;
}

TEST(KvStream, ByteByByteAndChunkedFeedingGiveTheSameReplies) {
  const std::string input = script();
  Kv whole_kv, bytes_kv, chunks_kv, small_out_kv;
  Session whole(whole_kv.service), bytes(bytes_kv.service), chunks(chunks_kv.service);
  Session small_out(small_out_kv.service, Session::Transport::kStream, 100);
  const std::string expected = run(whole, input);
  EXPECT_TRUE(whole.closing());
  EXPECT_EQ(expected.find("VALUE z"), expected.rfind("VALUE z")) << "nothing after quit";
  EXPECT_NE(expected.find("VALUE a 1 13\r\n>>hello world\r\nEND\r\n"), std::string::npos);
  EXPECT_EQ(run_pieces(bytes, input, [] { return 1; }), expected);
  std::mt19937 rng(7);
  EXPECT_EQ(run_pieces(chunks, input, [&] { return rng() % 5000; }), expected);
  EXPECT_EQ(run_pieces(small_out, input, [&] { return rng() % 300; }), expected)
      << "a tiny high-water mark pauses often but changes nothing";
}

// bytes_read and bytes_written are added up once per feed() call, so a
// "stats" in the middle of a call sees them at a point that depends on the
// split.
std::string without_byte_counts(std::string replies) {
  for (const std::string name : {"STAT bytes_read ", "STAT bytes_written "}) {
    for (auto at = replies.find(name); at != std::string::npos; at = replies.find(name, at))
      replies.erase(at, replies.find("\r\n", at) + 2 - at);
  }
  return replies;
}

// Random bytes and mangled commands, fed whole and in random pieces into two
// identical services: never a crash (run under ASan/UBSan), the same replies.
TEST(KvStream, FuzzedInputNeverCrashesAndSplitsChangeNothing) {
  Kv a(64 << 10), b(64 << 10);
  std::mt19937_64 rng(2024);
  const std::vector<std::string> words = {
      "get", "gets", "gat", "gats", "set", "add", "replace", "append", "prepend", "cas", "incr", "decr",
      "delete", "touch", "stats", "flush_all", "version", "verbosity", "noreply", "reset", "0", "1", "-1",
      "5", "100", "18446744073709551615", "4294967296", "2592001", "k", "key", "\x10\x10k", "", " ", "x"};
  auto random_case = [&] {
    std::string s;
    const int commands = 1 + static_cast<int>(rng() % 4);
    for (int c = 0; c < commands; ++c) {
      switch (rng() % 6) {
        case 0: {  // random bytes
          const std::size_t n = rng() % 64;
          for (std::size_t i = 0; i < n; ++i) s += static_cast<char>(rng() % 256);
          break;
        }
        case 1:
        case 2: {  // a storage command whose length may lie
          static const char* modes[] = {"set", "add", "replace", "append", "prepend", "cas"};
          const std::size_t len = rng() % 20;
          const std::size_t actual = rng() % 4 == 0 ? rng() % 25 : len;
          s += std::string(modes[rng() % 6]) + " k" + std::to_string(rng() % 8) + " " + words[rng() % words.size()] +
               " " + std::to_string(static_cast<int>(rng() % 5) - 1) + " " + std::to_string(len);
          if (rng() % 3 == 0) s += " " + std::to_string(rng() % 50);
          if (rng() % 3 == 0) s += " noreply";
          s += rng() % 8 == 0 ? "\n" : "\r\n";
          for (std::size_t i = 0; i < actual; ++i) s += static_cast<char>(rng() % 4 == 0 ? rng() % 256 : '0' + rng() % 10);
          s += rng() % 8 == 0 ? "\n" : "\r\n";
          break;
        }
        case 3: {  // words in random order
          const int n = static_cast<int>(rng() % 8);
          for (int i = 0; i < n; ++i) s += words[rng() % words.size()] + (rng() % 5 == 0 ? "  " : " ");
          s += rng() % 8 == 0 ? "\n" : "\r\n";
          break;
        }
        case 4: {  // retrieval of real keys
          s += rng() % 2 ? "get" : "gets";
          for (int i = 0; i < static_cast<int>(rng() % 6); ++i) s += " k" + std::to_string(rng() % 8);
          s += "\r\n";
          break;
        }
        default: {  // long lines, sometimes too long
          s += (rng() % 2 ? "get " : "set ") + std::string(1900 + rng() % 300, 'k') + "\r\n";
          break;
        }
      }
    }
    return s;
  };
  for (int i = 0; i < 20000; ++i) {
    const std::string input = random_case();
    const UnixSeconds now = kNow + static_cast<UnixSeconds>(i / 100);
    Session whole(a.service), pieces(b.service);
    const std::string expected = run(whole, input, now);
    ASSERT_EQ(without_byte_counts(run_pieces(pieces, input, [&] { return 1 + rng() % 16; }, now)),
              without_byte_counts(expected))
        << "case " << i << ": " << ::testing::PrintToString(input);
  }
  EXPECT_EQ(a.service.stats().cmd_get, b.service.stats().cmd_get);
}

// ---------------------------------------------------------------- UDP

TEST(KvUdp, HeaderIsBigEndian) {
  char bytes[kUdpHeaderBytes];
  encode_udp_header(UdpFrameHeader{0x1234, 0x0102, 0x0304, 0}, bytes);
  EXPECT_EQ(std::string(bytes, 8), std::string("\x12\x34\x01\x02\x03\x04\x00\x00", 8));
  const UdpFrameHeader h = decode_udp_header(bytes);
  EXPECT_EQ(h.request_id, 0x1234);
  EXPECT_EQ(h.sequence, 0x0102);
  EXPECT_EQ(h.datagrams, 0x0304);
  EXPECT_EQ(h.reserved, 0);
}

TEST(KvUdp, ParsesSingleDatagramRequestsOnly) {
  EXPECT_FALSE(parse_udp_request(std::string_view("\0\1\0\0\0", 5)));
  EXPECT_FALSE(parse_udp_request(std::string("\0\1\0\0\0\2\0\0get a\r\n", 15))) << "one of two datagrams";
  const std::string datagram("\xab\xcd\0\0\0\1\0\0get a\r\n", 15);
  auto r = parse_udp_request(datagram);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header.request_id, 0xabcd);
  EXPECT_EQ(r->payload, "get a\r\n");
}

TEST(KvUdp, SplitsResponsesAsMemcachedDoes) {
  Kv kv;
  std::string response;
  const std::string value(5000, 'v');
  auto id = answer_udp_request(kv.service, std::string("\0\7\0\0\0\1\0\0", 8) + "set u 0 0 5000\r\n" + value + "\r\n",
                               kNow, response);
  ASSERT_TRUE(id);
  EXPECT_EQ(response, "STORED\r\n");
  id = answer_udp_request(kv.service, std::string("\x12\x34\0\0\0\1\0\0", 8) + "get u\r\n", kNow, response);
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, 0x1234);
  EXPECT_EQ(response, "VALUE u 0 5000\r\n" + value + "\r\nEND\r\n");
  const auto datagrams = split_udp_response(*id, response);
  ASSERT_EQ(datagrams.size(), 4u) << "5023 bytes in 1392-byte payloads";
  ASSERT_EQ(udp_datagram_count(response.size()), 4u);
  std::string reassembled;
  for (std::size_t i = 0; i < datagrams.size(); ++i) {
    const std::string& d = datagrams[i];
    ASSERT_LE(d.size(), kUdpMaxDatagramBytes);
    const UdpFrameHeader h = decode_udp_header(std::span<const char, 8>(d.data(), 8));
    EXPECT_EQ(h.request_id, 0x1234);
    EXPECT_EQ(h.sequence, i);
    EXPECT_EQ(h.datagrams, 4);
    EXPECT_EQ(h.reserved, 0);
    EXPECT_EQ(d.size(), i < 3 ? kUdpMaxDatagramBytes : kUdpHeaderBytes + 5023 - 3 * kUdpMaxPayloadBytes);
    reassembled += d.substr(kUdpHeaderBytes);
  }
  EXPECT_EQ(reassembled, response);

  char buffer[kUdpMaxDatagramBytes];
  EXPECT_EQ(write_udp_datagram(1, response, 4, buffer), 0u) << "no fifth datagram";
  EXPECT_EQ(write_udp_datagram(1, response, 0, std::span(buffer, 100)), 0u) << "too small a buffer";
  EXPECT_TRUE(split_udp_response(1, "").empty()) << "noreply sends nothing";
}

TEST(KvUdp, RequestsAreSelfContained) {
  Kv kv;
  std::string response;
  const std::string header("\0\1\0\0\0\1\0\0", 8);
  EXPECT_TRUE(answer_udp_request(kv.service, header + "set x 0 0 5\r\nab", kNow, response));
  EXPECT_EQ(response, "") << "a command cut off by the datagram's end is dropped";
  EXPECT_TRUE(answer_udp_request(kv.service, header + "version\r\nquit\r\nversion\r\n", kNow, response));
  EXPECT_EQ(response, "VERSION 1.6.18-redleaf\r\n") << "quit ends the datagram";
  EXPECT_TRUE(answer_udp_request(kv.service, header + "set n 0 0 1 noreply\r\n1\r\n", kNow, response));
  EXPECT_EQ(response, "");
  EXPECT_FALSE(answer_udp_request(kv.service, std::string_view(header).substr(0, 7), kNow, response));
  EXPECT_EQ(kv.service.stats().curr_connections, 0u) << "datagrams are not connections";

  // A response beyond kUdpMaxResponseBytes is refused, not built.
  const std::size_t value_bytes = 1000000;
  Session s(kv.service);
  run(s, "set big 0 0 " + std::to_string(value_bytes) + "\r\n" + std::string(value_bytes, 'b') + "\r\n");
  std::string get = "get";
  for (std::size_t i = 0; i < kUdpMaxResponseBytes / value_bytes + 2; ++i) get += " big";
  EXPECT_TRUE(answer_udp_request(kv.service, header + get + "\r\n", kNow, response));
  EXPECT_EQ(response, "SERVER_ERROR out of memory writing get response\r\n");
}

}  // namespace
}  // namespace rl::kv
