#include "apps/kvstore/protocol.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>

namespace rl::kv {

namespace {

// Words kept from a command line (get's keys are read separately): cas with
// noreply, the longest command, has 7; an 8th shows there are too many.
constexpr std::size_t kMaxWords = 8;
// After a large data block or get, a session gives back buffer memory beyond
// this, so that idle connections stay small.
constexpr std::size_t kKeptBufferBytes = 64 << 10;
// The first bytes of a line tell a get (whose line may be long) from the rest.
constexpr std::size_t kLineHeadBytes = 8;

// memcached separates words by spaces only.
std::string_view next_word(std::string_view& rest) {
  std::size_t start = 0;
  while (start < rest.size() && rest[start] == ' ') ++start;
  std::size_t end = start;
  while (end < rest.size() && rest[end] != ' ') ++end;
  const std::string_view word = rest.substr(start, end - start);
  rest.remove_prefix(end);
  return word;
}

// 1 to 250 bytes; spaces cannot occur (they separate words), any other byte
// can.  protocol.txt forbids control characters, but memcached accepts them
// and clients rely on it: memcaslap's keys begin with eight 0x10 bytes.
bool valid_key(std::string_view key) { return !key.empty() && key.size() <= kMaxKeyBytes; }

bool is_c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// A number word as memcached reads one (strtol/strtoull, then its "safe_"
// checks): leading white space, an optional sign, decimal digits, and then
// the end or white space, after which anything is ignored.  Unsigned fields
// take "-" only on zero.
std::optional<uint64_t> parse_unsigned(std::string_view word, uint64_t max) {
  std::size_t i = 0;
  while (i < word.size() && is_c_space(word[i])) ++i;
  bool negative = false;
  if (i < word.size() && (word[i] == '+' || word[i] == '-')) negative = word[i++] == '-';
  uint64_t n = 0;
  const char* digits = word.data() + i;
  const auto [end, error] = std::from_chars(digits, word.data() + word.size(), n);
  if (end == digits || error != std::errc() || (end != word.data() + word.size() && !is_c_space(*end)) ||
      n > max || (negative && n != 0))
    return std::nullopt;
  return n;
}

std::optional<int64_t> parse_signed(std::string_view word, int64_t min, int64_t max) {
  std::size_t i = 0;
  while (i < word.size() && is_c_space(word[i])) ++i;
  bool negative = false;
  if (i < word.size() && (word[i] == '+' || word[i] == '-')) negative = word[i++] == '-';
  uint64_t magnitude = 0;
  const char* digits = word.data() + i;
  const auto [end, error] = std::from_chars(digits, word.data() + word.size(), magnitude);
  if (end == digits || error != std::errc() || (end != word.data() + word.size() && !is_c_space(*end)))
    return std::nullopt;
  // min and max lie well inside int64_t, so a magnitude beyond 2^63 fails either way.
  if (magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  const int64_t n = negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
  if (n < min || n > max) return std::nullopt;
  return n;
}

std::optional<int64_t> parse_exptime(std::string_view word) {
  return parse_signed(word, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
}

void append_number(std::string& out, uint64_t n) {
  char digits[std::numeric_limits<uint64_t>::digits10 + 1];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, n).ptr);
}

// noreply silences every answer of a command, errors included (memcached too).
void reply(std::string& out, bool noreply, std::string_view text) {
  if (!noreply) out.append(text);
}

bool ends_with_noreply(std::span<const std::string_view> words, std::size_t at_least) {
  return words.size() >= at_least && words.back() == "noreply";
}

constexpr std::string_view kError = "ERROR\r\n";
constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format\r\n";
constexpr std::string_view kBadExptime = "CLIENT_ERROR invalid exptime argument\r\n";
constexpr std::string_view kTooLarge = "SERVER_ERROR object too large for cache\r\n";

}  // namespace

UnixSeconds expiry_from_exptime(int64_t exptime, UnixSeconds now) {
  constexpr UnixSeconds kExpired = 1;  // a time always past
  if (exptime == 0) return 0;
  if (exptime < 0) return kExpired;
  const uint64_t at = exptime <= kMaxRelativeExptime ? uint64_t{now} + static_cast<uint64_t>(exptime)
                                                     : static_cast<uint64_t>(exptime);
  if (at <= now) return kExpired;
  return static_cast<UnixSeconds>(std::min<uint64_t>(at, std::numeric_limits<UnixSeconds>::max()));
}

Service::Service(Table& table, UnixSeconds started, ServiceConfig config)
    : table_(table), config_(config), started_(started) {}

void Service::advance_clock(UnixSeconds now) {
  if (flush_at_ && now >= *flush_at_) {
    table_.flush_all();
    flush_at_.reset();
  }
}

Session::Session(Service& service, Transport transport, std::size_t output_high_water)
    : service_(service), transport_(transport), output_high_water_(output_high_water) {
  if (transport_ == Transport::kStream) {
    ++service_.stats_.curr_connections;
    ++service_.stats_.total_connections;
  }
}

Session::~Session() {
  if (transport_ == Transport::kStream) --service_.stats_.curr_connections;
}

std::size_t Session::feed(std::string_view input, std::string& out, UnixSeconds now) {
  const std::size_t out_before = out.size();
  std::size_t pos = 0;
  while (state_ != State::kClosing) {
    const std::string_view rest = input.substr(pos);
    std::optional<std::size_t> used;  // nothing: wait for more input, or for the output to drain
    switch (state_) {
      case State::kCommand: used = take_command_line(rest, out, now); break;
      case State::kData: used = take_data_block(rest, out, now); break;
      case State::kSwallow: used = skip_data_block(rest); break;
      case State::kRetrieval: used = resume_retrieval(out, now); break;
      case State::kClosing: break;
    }
    if (!used) break;
    pos += *used;
  }
  service_.stats_.bytes_read += pos;
  service_.stats_.bytes_written += out.size() - out_before;
  return pos;
}

std::optional<std::size_t> Session::take_command_line(std::string_view rest, std::string& out, UnixSeconds now) {
  if (out.size() >= output_high_water_ || rest.empty()) return std::nullopt;
  const auto* newline = static_cast<const char*>(std::memchr(rest.data(), '\n', rest.size()));
  const std::size_t take = newline ? static_cast<std::size_t>(newline - rest.data()) + 1 : rest.size();
  const std::size_t line_bytes = partial_.size() + (newline ? take - 1 : take);
  if (line_bytes > kMaxCommandLineBytes) {
    char head[kLineHeadBytes];
    const std::size_t from_partial = std::min(partial_.size(), kLineHeadBytes);
    const std::size_t from_rest = std::min(kLineHeadBytes - from_partial, rest.size());
    std::memcpy(head, partial_.data(), from_partial);
    std::memcpy(head + from_partial, rest.data(), from_rest);
    if (line_bytes > line_limit(std::string_view(head, from_partial + from_rest))) {
      out.append("CLIENT_ERROR line too long\r\n");
      state_ = State::kClosing;
      release_partial();
      return take;
    }
  }
  if (partial_.empty() && newline) {
    execute(rest.substr(0, take - 1), out, now);  // the common case: the whole line is here, no copy
  } else {
    partial_.append(rest.data(), take);
    if (newline) {
      execute(std::string_view(partial_).substr(0, partial_.size() - 1), out, now);
      release_partial();
    }
  }
  return take;
}

std::optional<std::size_t> Session::take_data_block(std::string_view rest, std::string& out, UnixSeconds now) {
  const std::size_t need = std::size_t{store_.value_bytes} + 2;  // the value and its \r\n
  if (partial_.empty() && rest.size() >= need) {
    complete_store(rest.substr(0, need), out, now);  // no copy
    return need;
  }
  if (rest.empty()) return std::nullopt;
  if (partial_.empty()) partial_.reserve(need);
  const std::size_t take = std::min(need - partial_.size(), rest.size());
  partial_.append(rest.data(), take);
  if (partial_.size() == need) {
    complete_store(partial_, out, now);
    release_partial();
  }
  return take;
}

std::optional<std::size_t> Session::skip_data_block(std::string_view rest) {
  if (rest.empty()) return std::nullopt;
  const auto take = static_cast<std::size_t>(std::min<uint64_t>(swallow_left_, rest.size()));
  swallow_left_ -= take;
  if (swallow_left_ == 0) state_ = State::kCommand;
  return take;
}

std::optional<std::size_t> Session::resume_retrieval(std::string& out, UnixSeconds now) {
  if (out.size() >= output_high_water_) return std::nullopt;
  std::string_view keys = std::string_view(paused_keys_).substr(paused_at_);
  if (emit_values(keys, out, now)) {
    state_ = State::kCommand;
    paused_keys_.clear();
    if (paused_keys_.capacity() > kKeptBufferBytes) std::string().swap(paused_keys_);
  } else {
    paused_at_ = static_cast<std::size_t>(keys.data() - paused_keys_.data());
  }
  return 0;
}

std::size_t Session::line_limit(std::string_view line_start) const {
  std::string_view rest = line_start;
  const std::string_view command = next_word(rest);
  const bool more = !rest.empty();  // the command word ended within the head
  const bool retrieval = more && (command == "get" || command == "gets" || command == "gat" || command == "gats");
  return retrieval ? kMaxRetrievalLineBytes : kMaxCommandLineBytes;
}

void Session::release_partial() {
  partial_.clear();
  if (partial_.capacity() > kKeptBufferBytes) std::string().swap(partial_);
}

void Session::execute(std::string_view line, std::string& out, UnixSeconds now) {
  service_.advance_clock(now);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::string_view rest = line;
  const std::string_view command = next_word(rest);
  if (command == "get" || command == "gets") {
    retrieval(command == "get" ? Retrieval::kGet : Retrieval::kGets, rest, 0, out, now);
    return;
  }
  if (command == "gat" || command == "gats") {
    const std::string_view exptime_word = next_word(rest);
    if (exptime_word.empty()) {
      out.append(kError);
      return;
    }
    const auto exptime = parse_exptime(exptime_word);
    if (!exptime) {
      out.append(kBadExptime);
      return;
    }
    retrieval(command == "gat" ? Retrieval::kGat : Retrieval::kGats, rest, expiry_from_exptime(*exptime, now),
              out, now);
    return;
  }

  std::array<std::string_view, kMaxWords> word_array;
  std::size_t count = 0;
  for (std::string_view word = command; !word.empty() && count < kMaxWords; word = next_word(rest))
    word_array[count++] = word;
  const std::span<const std::string_view> words(word_array.data(), count);
  if (command == "set") {
    storage(words, StoreMode::kSet, out, now);
  } else if (command == "add") {
    storage(words, StoreMode::kAdd, out, now);
  } else if (command == "replace") {
    storage(words, StoreMode::kReplace, out, now);
  } else if (command == "append") {
    storage(words, StoreMode::kAppend, out, now);
  } else if (command == "prepend") {
    storage(words, StoreMode::kPrepend, out, now);
  } else if (command == "cas") {
    storage(words, StoreMode::kCas, out, now);
  } else if (command == "incr" || command == "decr") {
    arithmetic(words, command == "incr", out, now);
  } else if (command == "delete") {
    remove(words, out, now);
  } else if (command == "touch") {
    touch(words, out, now);
  } else if (command == "stats") {
    stats(words, out, now);
  } else if (command == "flush_all") {
    flush_all(words, out, now);
  } else if (command == "version") {
    out.append("VERSION ").append(service_.config_.version).append("\r\n");  // memcached 1.6 ignores arguments
  } else if (command == "verbosity") {
    verbosity(words, out);
  } else if (command == "quit") {
    state_ = State::kClosing;  // a datagram's remaining commands are dropped, as memcached does
  } else {
    out.append(kError);
  }
}

void Session::storage(std::span<const std::string_view> words, StoreMode mode, std::string& out,
                      UnixSeconds now) {
  // <command> <key> <flags> <exptime> <bytes> [<cas unique>] [noreply]
  const std::size_t required = mode == StoreMode::kCas ? 6 : 5;
  if (words.size() != required && words.size() != required + 1) {
    out.append(kError);
    return;
  }
  const bool noreply = words.size() == required + 1 && words.back() == "noreply";
  const auto bytes = parse_signed(words[4], 0, std::numeric_limits<int32_t>::max() - 2);
  if (!bytes) {  // nothing tells how long the data block is: it will be read as commands, as in memcached
    reply(out, noreply, kBadFormat);
    return;
  }
  const std::string_view key = words[1];
  const auto flags = parse_unsigned(words[2], std::numeric_limits<uint32_t>::max());
  const auto exptime = parse_exptime(words[3]);
  const auto cas = mode == StoreMode::kCas ? parse_unsigned(words[5], std::numeric_limits<uint64_t>::max())
                                           : std::optional<uint64_t>(0);
  swallow_left_ = static_cast<uint64_t>(*bytes) + 2;
  if (!valid_key(key) || !flags || !exptime || !cas) {
    reply(out, noreply, kBadFormat);
    state_ = State::kSwallow;
    return;
  }
  Table& table = service_.table_;
  if (!table.fits(key.size(), static_cast<std::size_t>(*bytes))) {
    reply(out, noreply, kTooLarge);
    ++service_.stats_.store_too_large;
    if (mode == StoreMode::kSet) table.remove(key, now);
    state_ = State::kSwallow;
    return;
  }
  store_.mode = mode;
  store_.noreply = noreply;
  store_.flags = static_cast<uint32_t>(*flags);
  store_.expires_at = expiry_from_exptime(*exptime, now);
  store_.cas = *cas;
  store_.value_bytes = static_cast<uint32_t>(*bytes);
  store_.key_bytes = static_cast<uint32_t>(key.size());
  std::memcpy(store_.key, key.data(), key.size());
  state_ = State::kData;
}

void Session::complete_store(std::string_view block, std::string& out, UnixSeconds now) {
  state_ = State::kCommand;
  ServiceStats& stats = service_.stats_;
  ++stats.cmd_set;
  if (block.substr(block.size() - 2) != "\r\n") {
    reply(out, store_.noreply, "CLIENT_ERROR bad data chunk\r\n");
    return;
  }
  const StoreRequest request{store_.mode,  std::string_view(store_.key, store_.key_bytes),
                             block.substr(0, block.size() - 2), store_.flags, store_.expires_at, store_.cas};
  const bool cas = store_.mode == StoreMode::kCas;
  switch (service_.table_.store(request, now)) {
    case StoreOutcome::kStored:
      stats.cas_hits += cas;
      reply(out, store_.noreply, "STORED\r\n");
      break;
    case StoreOutcome::kNotStored:
      reply(out, store_.noreply, "NOT_STORED\r\n");
      break;
    case StoreOutcome::kExists:
      ++stats.cas_badval;
      reply(out, store_.noreply, "EXISTS\r\n");
      break;
    case StoreOutcome::kNotFound:
      ++stats.cas_misses;
      reply(out, store_.noreply, "NOT_FOUND\r\n");
      break;
    case StoreOutcome::kTooLarge:
      ++stats.store_too_large;
      reply(out, store_.noreply, kTooLarge);
      break;
  }
}

void Session::retrieval(Retrieval kind, std::string_view keys, UnixSeconds expires_at, std::string& out,
                        UnixSeconds now) {
  // Every key is checked before any is answered: a bad key leaves only the
  // error, as in memcached.
  bool any = false;
  for (std::string_view scan = keys, key = next_word(scan); !key.empty(); key = next_word(scan)) {
    if (!valid_key(key)) {
      out.append(kBadFormat);
      return;
    }
    any = true;
  }
  if (!any && (kind == Retrieval::kGet || kind == Retrieval::kGets)) {
    out.append(kError);  // gat <exptime> with no keys answers END, as in memcached
    return;
  }
  paused_kind_ = kind;
  paused_expiry_ = expires_at;
  if (emit_values(keys, out, now)) return;
  paused_keys_.assign(keys);
  paused_at_ = 0;
  state_ = State::kRetrieval;
}

bool Session::emit_values(std::string_view& keys, std::string& out, UnixSeconds now) {
  Table& table = service_.table_;
  ServiceStats& stats = service_.stats_;
  const bool touching = paused_kind_ == Retrieval::kGat || paused_kind_ == Retrieval::kGats;
  const bool with_cas = paused_kind_ == Retrieval::kGets || paused_kind_ == Retrieval::kGats;
  while (true) {
    const std::string_view key = next_word(keys);
    if (key.empty()) {
      out.append("END\r\n");
      return true;
    }
    ++stats.cmd_get;
    const std::optional<ItemView> item = touching ? table.touch(key, paused_expiry_, now) : table.get(key, now);
    if (touching) {
      ++stats.cmd_touch;
      ++(item ? stats.touch_hits : stats.touch_misses);
    }
    if (!item) {
      ++stats.get_misses;
    } else {
      ++stats.get_hits;
      out.append("VALUE ").append(item->key).append(" ");
      append_number(out, item->flags);
      out.append(" ");
      append_number(out, item->value.size());
      if (with_cas) {
        out.append(" ");
        append_number(out, item->cas);
      }
      out.append("\r\n").append(item->value).append("\r\n");
    }
    if (out.size() >= output_high_water_ && keys.find_first_not_of(' ') != std::string_view::npos) return false;
  }
}

void Session::arithmetic(std::span<const std::string_view> words, bool increment, std::string& out,
                         UnixSeconds now) {
  // incr|decr <key> <delta> [noreply]
  if (words.size() != 3 && words.size() != 4) {
    out.append(kError);
    return;
  }
  const bool noreply = ends_with_noreply(words, 4);
  if (!valid_key(words[1])) {
    reply(out, noreply, kBadFormat);
    return;
  }
  const auto delta = parse_unsigned(words[2], std::numeric_limits<uint64_t>::max());
  if (!delta) {
    reply(out, noreply, "CLIENT_ERROR invalid numeric delta argument\r\n");
    return;
  }
  ServiceStats& stats = service_.stats_;
  uint64_t result = 0;
  switch (service_.table_.add_delta(words[1], increment, *delta, now, &result)) {
    case ArithOutcome::kDone:
      ++(increment ? stats.incr_hits : stats.decr_hits);
      if (!noreply) {
        append_number(out, result);
        out.append("\r\n");
      }
      break;
    case ArithOutcome::kNotFound:
      ++(increment ? stats.incr_misses : stats.decr_misses);
      reply(out, noreply, "NOT_FOUND\r\n");
      break;
    case ArithOutcome::kNonNumeric:
      reply(out, noreply, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
      break;
  }
}

void Session::remove(std::span<const std::string_view> words, std::string& out, UnixSeconds now) {
  // delete <key> [0] [noreply]: the 0 is a relic of an old hold time.
  if (words.size() < 2 || words.size() > 4) {
    out.append(kError);
    return;
  }
  const bool noreply = ends_with_noreply(words, 3);
  if (words.size() > 2) {
    const bool hold_is_zero = words[2] == "0";
    const bool valid = (words.size() == 3 && (hold_is_zero || noreply)) ||
                       (words.size() == 4 && hold_is_zero && noreply);
    if (!valid) {
      reply(out, noreply, "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
      return;
    }
  }
  if (!valid_key(words[1])) {
    reply(out, noreply, kBadFormat);
    return;
  }
  const bool deleted = service_.table_.remove(words[1], now);
  ++(deleted ? service_.stats_.delete_hits : service_.stats_.delete_misses);
  reply(out, noreply, deleted ? "DELETED\r\n" : "NOT_FOUND\r\n");
}

void Session::touch(std::span<const std::string_view> words, std::string& out, UnixSeconds now) {
  // touch <key> <exptime> [noreply]
  if (words.size() != 3 && words.size() != 4) {
    out.append(kError);
    return;
  }
  const bool noreply = ends_with_noreply(words, 4);
  if (!valid_key(words[1])) {
    reply(out, noreply, kBadFormat);
    return;
  }
  const auto exptime = parse_exptime(words[2]);
  if (!exptime) {
    reply(out, noreply, kBadExptime);
    return;
  }
  ServiceStats& stats = service_.stats_;
  ++stats.cmd_touch;
  const bool touched = service_.table_.touch(words[1], expiry_from_exptime(*exptime, now), now).has_value();
  ++(touched ? stats.touch_hits : stats.touch_misses);
  reply(out, noreply, touched ? "TOUCHED\r\n" : "NOT_FOUND\r\n");
}

void Session::flush_all(std::span<const std::string_view> words, std::string& out, UnixSeconds now) {
  // flush_all [delay] [noreply]
  if (words.size() > 3) {
    out.append(kError);
    return;
  }
  const bool noreply = ends_with_noreply(words, 2);
  int64_t delay = 0;
  if (words.size() != (noreply ? 2u : 1u)) {
    const auto parsed = parse_exptime(words[1]);
    if (!parsed) {
      reply(out, noreply, kBadExptime);
      return;
    }
    delay = *parsed;
  }
  ++service_.stats_.cmd_flush;
  // A delay is an exptime: relative up to 30 days, else a Unix time.
  const UnixSeconds at = delay > 0 ? expiry_from_exptime(delay, now) : 0;
  if (at <= now) {
    service_.table_.flush_all();
    service_.flush_at_.reset();
  } else {
    service_.flush_at_ = at;  // replaces an earlier pending flush, as in memcached
  }
  reply(out, noreply, "OK\r\n");
}

void Session::stats(std::span<const std::string_view> words, std::string& out, UnixSeconds now) {
  ServiceStats& s = service_.stats_;
  if (words.size() > 1) {
    if (words[1] != "reset") {
      out.append(kError);  // stats settings, items, slabs...: we have none of memcached's slabs
      return;
    }
    const uint64_t curr = s.curr_connections, total = s.total_connections;
    s = ServiceStats{};
    s.curr_connections = curr;
    s.total_connections = total;
    out.append("RESET\r\n");
    return;
  }
  const TableStats table = service_.table_.stats();
  const auto line = [&out](std::string_view name, uint64_t value) {
    out.append("STAT ").append(name).append(" ");
    append_number(out, value);
    out.append("\r\n");
  };
  line("pid", service_.config_.pid);
  line("uptime", now > service_.started_ ? now - service_.started_ : 0);
  line("time", now);
  out.append("STAT version ").append(service_.config_.version).append("\r\n");
  line("pointer_size", sizeof(void*) * 8);
  line("curr_connections", s.curr_connections);
  line("total_connections", s.total_connections);
  line("cmd_get", s.cmd_get);
  line("cmd_set", s.cmd_set);
  line("cmd_flush", s.cmd_flush);
  line("cmd_touch", s.cmd_touch);
  line("get_hits", s.get_hits);
  line("get_misses", s.get_misses);
  line("delete_misses", s.delete_misses);
  line("delete_hits", s.delete_hits);
  line("incr_misses", s.incr_misses);
  line("incr_hits", s.incr_hits);
  line("decr_misses", s.decr_misses);
  line("decr_hits", s.decr_hits);
  line("cas_misses", s.cas_misses);
  line("cas_hits", s.cas_hits);
  line("cas_badval", s.cas_badval);
  line("touch_hits", s.touch_hits);
  line("touch_misses", s.touch_misses);
  line("store_too_large", s.store_too_large);
  line("bytes_read", s.bytes_read);
  line("bytes_written", s.bytes_written);
  line("limit_maxbytes", table.log_bytes);
  line("threads", service_.config_.threads);
  line("bytes", table.log_bytes_used);
  line("curr_items", table.items);
  line("total_items", table.total_items);
  line("evictions", table.evictions);
  line("partitions", service_.table_.partitions());
  out.append("END\r\n");
}

void Session::verbosity(std::span<const std::string_view> words, std::string& out) {
  // verbosity <level> [noreply]: accepted and ignored; we log nothing per command.
  if (words.size() != 2 && words.size() != 3) {
    out.append(kError);
    return;
  }
  const bool noreply = words.back() == "noreply";
  if (!parse_unsigned(words[1], std::numeric_limits<uint32_t>::max())) {
    reply(out, noreply, kBadFormat);
    return;
  }
  reply(out, noreply, "OK\r\n");
}

// ---- UDP ----

void encode_udp_header(const UdpFrameHeader& header, std::span<char, kUdpHeaderBytes> out) {
  const uint16_t fields[] = {header.request_id, header.sequence, header.datagrams, header.reserved};
  for (std::size_t i = 0; i < 4; ++i) {
    out[2 * i] = static_cast<char>(fields[i] >> 8);
    out[2 * i + 1] = static_cast<char>(fields[i] & 0xff);
  }
}

UdpFrameHeader decode_udp_header(std::span<const char, kUdpHeaderBytes> in) {
  const auto field = [in](std::size_t i) {
    return static_cast<uint16_t>(static_cast<unsigned char>(in[2 * i]) << 8 | static_cast<unsigned char>(in[2 * i + 1]));
  };
  return UdpFrameHeader{field(0), field(1), field(2), field(3)};
}

std::optional<UdpRequest> parse_udp_request(std::string_view datagram) {
  if (datagram.size() < kUdpHeaderBytes) return std::nullopt;
  const UdpFrameHeader header = decode_udp_header(std::span<const char, kUdpHeaderBytes>(datagram.data(), kUdpHeaderBytes));
  if (header.datagrams != 1) return std::nullopt;
  return UdpRequest{header, datagram.substr(kUdpHeaderBytes)};
}

std::optional<uint16_t> answer_udp_request(Service& service, std::string_view datagram, UnixSeconds now,
                                           std::string& response) {
  const auto request = parse_udp_request(datagram);
  if (!request) return std::nullopt;
  response.clear();
  Session session(service, Session::Transport::kDatagram, kUdpMaxResponseBytes);
  // A command cut off at the end of the datagram is dropped with the session.
  const std::size_t used = session.feed(request->payload, response, now);
  if (session.paused() || (used < request->payload.size() && !session.closing()))
    response.assign("SERVER_ERROR out of memory writing get response\r\n");
  return request->header.request_id;
}

std::size_t udp_datagram_count(std::size_t response_bytes) {
  return (response_bytes + kUdpMaxPayloadBytes - 1) / kUdpMaxPayloadBytes;
}

std::size_t write_udp_datagram(uint16_t request_id, std::string_view response, std::size_t sequence,
                               std::span<char> out) {
  const std::size_t count = udp_datagram_count(response.size());
  if (sequence >= count || count > std::numeric_limits<uint16_t>::max()) return 0;
  const std::string_view payload = response.substr(sequence * kUdpMaxPayloadBytes, kUdpMaxPayloadBytes);
  if (out.size() < kUdpHeaderBytes + payload.size()) return 0;
  encode_udp_header(UdpFrameHeader{request_id, static_cast<uint16_t>(sequence), static_cast<uint16_t>(count), 0},
                    out.first<kUdpHeaderBytes>());
  std::memcpy(out.data() + kUdpHeaderBytes, payload.data(), payload.size());
  return kUdpHeaderBytes + payload.size();
}

std::vector<std::string> split_udp_response(uint16_t request_id, std::string_view response) {
  std::vector<std::string> datagrams(udp_datagram_count(response.size()));
  for (std::size_t i = 0; i < datagrams.size(); ++i) {
    datagrams[i].resize(kUdpMaxDatagramBytes);
    datagrams[i].resize(write_udp_datagram(request_id, response, i, datagrams[i]));
  }
  return datagrams;
}

}  // namespace rl::kv
