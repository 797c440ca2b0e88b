// memcached's text protocol over the table, independent of the transport.
//
// The facts come from memcached's protocol.txt and from what memcached 1.6.18
// answers; where we answer differently we say so here.
//
// A Service is the state all clients share (the table, the counters, a
// pending delayed flush_all).  A Session is one client's byte stream: the
// transport feeds it bytes as they arrive, split anywhere and with commands
// pipelined, and it appends replies to an output string.  It never reads
// outside what it is given, and its memory is bounded:
//  - a command line may have kMaxCommandLineBytes (memcached's 2048), a
//    get/gets/gat/gats line kMaxRetrievalLineBytes; a longer line is
//    answered "CLIENT_ERROR line too long" and the session closes (memcached
//    closes without a word; a client learns more from the error);
//  - a data block is buffered only if the item can be stored; otherwise
//    "SERVER_ERROR object too large for cache" and the block is discarded as
//    it arrives, as memcached does (a set also deletes the old item, as
//    memcached does, so no stale value survives a failed update);
//  - output: feed() stops taking input while the output holds more than the
//    high-water mark, and a multi-key get pauses between keys, so a client
//    that does not read cannot make us buffer without bound.
// Time is whatever the caller passes to feed(); nothing here reads a clock.
//
// Commands: get, gets, gat, gats, set, add, replace, append, prepend, cas,
// delete, incr, decr, touch, stats (general counters) and stats reset,
// flush_all [delay] [noreply], version, verbosity (accepted, ignored), quit;
// noreply wherever memcached takes it, and it silences errors too, as in
// memcached.  Anything else is ERROR: the meta commands (mg, ms, ...), other
// stats groups (slabs, items, settings: we have no slabs), shutdown, and the
// binary protocol.
//
// Deliberate differences from memcached 1.6.18:
//  - a storage command whose key, flags, exptime or cas is bad, but whose
//    length is good, is answered CLIENT_ERROR and its data block discarded
//    (memcached then parses the data block as a command and answers ERROR,
//    which desynchronises clients);
//  - NUL is a byte like any other, never the end of a line or key
//    (memcached, written in C, stops there).  Keys may hold control
//    characters, as in memcached, though protocol.txt forbids them: memcaslap
//    sends keys that begin with 0x10 bytes;
//  - flags must fit 32 bits and exptime 32 signed bits (memcached silently
//    truncates both);
//  - incr/decr store the result's exact digits (memcached pads with spaces
//    when it rewrites a longer value in place: "10" decr 1 reads back "9 ");
//  - "flush_all N" takes effect at N seconds, not one second early;
//  - a UDP response to a multi-key get is one sequence of datagrams.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "apps/kvstore/table.hpp"

namespace rl::kv {

// Clients (libmemcached, memccapable) pick behaviour from the numbers of the
// version; the suffix says who answers.
inline constexpr std::string_view kDefaultVersion = "1.6.18-redleaf";

inline constexpr std::size_t kMaxCommandLineBytes = 2048;           // memcached's limit
inline constexpr std::size_t kMaxRetrievalLineBytes = 1 << 20;     // ~4000 maximal keys
inline constexpr std::size_t kDefaultOutputHighWater = 1 << 20;
// memcached's boundary between relative and absolute expiry times: 30 days.
inline constexpr int64_t kMaxRelativeExptime = 60 * 60 * 24 * 30;

// memcached's exptime as an absolute expiry: 0 never expires; up to 30 days
// is relative to `now`; beyond that it is a Unix time; negative, or a Unix
// time already past, is expired (1).
[[nodiscard]] UnixSeconds expiry_from_exptime(int64_t exptime, UnixSeconds now);

struct ServiceConfig {
  uint32_t pid = 0;                         // reported by "stats"
  std::string_view version = kDefaultVersion;
  uint32_t threads = 1;                     // reported by "stats"
};

// memcached's counters, named as its "stats" names them.
struct ServiceStats {
  uint64_t curr_connections = 0, total_connections = 0;
  uint64_t cmd_get = 0, cmd_set = 0, cmd_flush = 0, cmd_touch = 0;
  uint64_t get_hits = 0, get_misses = 0;
  uint64_t delete_hits = 0, delete_misses = 0;
  uint64_t incr_hits = 0, incr_misses = 0, decr_hits = 0, decr_misses = 0;
  uint64_t cas_hits = 0, cas_misses = 0, cas_badval = 0;
  uint64_t touch_hits = 0, touch_misses = 0;
  uint64_t store_too_large = 0;
  uint64_t bytes_read = 0, bytes_written = 0;
};

class Service {
 public:
  Service(Table& table, UnixSeconds started, ServiceConfig config = {});
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  [[nodiscard]] Table& table() { return table_; }
  [[nodiscard]] const ServiceStats& stats() const { return stats_; }
  // Carries out a delayed flush_all whose time has come.  Sessions call it
  // before every command; an idle server need not.
  void advance_clock(UnixSeconds now);

 private:
  friend class Session;
  Table& table_;
  ServiceConfig config_;
  UnixSeconds started_;
  std::optional<UnixSeconds> flush_at_;
  ServiceStats stats_;
};

class Session {
 public:
  // A datagram session is not counted as a connection; quit ends its datagram.
  enum class Transport : uint8_t { kStream, kDatagram };

  explicit Session(Service& service, Transport transport = Transport::kStream,
                   std::size_t output_high_water = kDefaultOutputHighWater);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs every complete command in `input`, appending replies to `out`, and
  // keeps an incomplete one for the next call.  Returns the bytes consumed:
  // all of `input` unless the session is closing or `out` reached the
  // high-water mark, in which case the caller sends some of `out` and calls
  // again with the rest of the input (or none: a paused get continues).
  [[nodiscard]] std::size_t feed(std::string_view input, std::string& out, UnixSeconds now);

  // After quit, or a line too long: send what is in `out`, then close.
  [[nodiscard]] bool closing() const { return state_ == State::kClosing; }
  // A multi-key get paused on the high-water mark: call feed() again once
  // `out` has drained, even without new input.
  [[nodiscard]] bool paused() const { return state_ == State::kRetrieval; }

 private:
  enum class State : uint8_t { kCommand, kData, kSwallow, kRetrieval, kClosing };
  enum class Retrieval : uint8_t { kGet, kGets, kGat, kGats };
  struct PendingStore {
    StoreMode mode = StoreMode::kSet;
    bool noreply = false;
    uint32_t flags = 0;
    UnixSeconds expires_at = 0;
    uint64_t cas = 0;
    uint32_t value_bytes = 0;
    uint32_t key_bytes = 0;
    char key[kMaxKeyBytes] = {};
  };

  // One step of feed() in each state: the input bytes used, or nothing to
  // wait for more input or for the output to drain.
  std::optional<std::size_t> take_command_line(std::string_view rest, std::string& out, UnixSeconds now);
  std::optional<std::size_t> take_data_block(std::string_view rest, std::string& out, UnixSeconds now);
  std::optional<std::size_t> skip_data_block(std::string_view rest);
  std::optional<std::size_t> resume_retrieval(std::string& out, UnixSeconds now);

  void execute(std::string_view line, std::string& out, UnixSeconds now);
  void storage(std::span<const std::string_view> words, StoreMode mode, std::string& out, UnixSeconds now);
  void complete_store(std::string_view block, std::string& out, UnixSeconds now);
  void retrieval(Retrieval kind, std::string_view keys, UnixSeconds expires_at, std::string& out,
                 UnixSeconds now);
  bool emit_values(std::string_view& keys, std::string& out, UnixSeconds now);
  void arithmetic(std::span<const std::string_view> words, bool increment, std::string& out, UnixSeconds now);
  void remove(std::span<const std::string_view> words, std::string& out, UnixSeconds now);
  void touch(std::span<const std::string_view> words, std::string& out, UnixSeconds now);
  void flush_all(std::span<const std::string_view> words, std::string& out, UnixSeconds now);
  void stats(std::span<const std::string_view> words, std::string& out, UnixSeconds now);
  void verbosity(std::span<const std::string_view> words, std::string& out);
  std::size_t line_limit(std::string_view line_start) const;
  void release_partial();

  Service& service_;
  Transport transport_;
  std::size_t output_high_water_;
  State state_ = State::kCommand;
  std::string partial_;      // a command line or data block still arriving
  PendingStore store_;       // the storage command whose data block is arriving
  uint64_t swallow_left_ = 0;
  std::string paused_keys_;  // the keys a paused get has not answered yet
  std::size_t paused_at_ = 0;
  Retrieval paused_kind_ = Retrieval::kGet;
  UnixSeconds paused_expiry_ = 0;
};

// UDP: memcached's 8-byte frame header before every datagram, all fields
// big-endian.  A request is one datagram; a response is split into
// datagrams of at most 1400 bytes, header included (memcached's
// UDP_MAX_PAYLOAD_SIZE), numbered 0..n-1, each saying n.
struct UdpFrameHeader {
  uint16_t request_id = 0;
  uint16_t sequence = 0;
  uint16_t datagrams = 0;
  uint16_t reserved = 0;
};
inline constexpr std::size_t kUdpHeaderBytes = 8;
inline constexpr std::size_t kUdpMaxDatagramBytes = 1400;
inline constexpr std::size_t kUdpMaxPayloadBytes = kUdpMaxDatagramBytes - kUdpHeaderBytes;
// A larger response is replaced by a SERVER_ERROR: big gets belong on TCP.
inline constexpr std::size_t kUdpMaxResponseBytes = 8u << 20;

void encode_udp_header(const UdpFrameHeader& header, std::span<char, kUdpHeaderBytes> out);
[[nodiscard]] UdpFrameHeader decode_udp_header(std::span<const char, kUdpHeaderBytes> in);

struct UdpRequest {
  UdpFrameHeader header;
  std::string_view payload;
};
// Nothing if the datagram is shorter than the header or is one of several
// (memcached drops those too).
[[nodiscard]] std::optional<UdpRequest> parse_udp_request(std::string_view datagram);

// Runs the commands of one request datagram on a fresh session; leaves the
// reply text in `response` (possibly empty: noreply) and returns the request
// id, or nothing if the datagram is not a request.
[[nodiscard]] std::optional<uint16_t> answer_udp_request(Service& service, std::string_view datagram,
                                                         UnixSeconds now, std::string& response);

[[nodiscard]] std::size_t udp_datagram_count(std::size_t response_bytes);
// Writes datagram `sequence` of `response` into `out` (kUdpMaxDatagramBytes
// fit any) and returns its length.
std::size_t write_udp_datagram(uint16_t request_id, std::string_view response, std::size_t sequence,
                               std::span<char> out);
[[nodiscard]] std::vector<std::string> split_udp_response(uint16_t request_id, std::string_view response);

}  // namespace rl::kv
