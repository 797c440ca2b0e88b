// A packet generator on a simulated wire (sim:ixgbe,wire=gen:...): UDP over
// IPv4 frames of a size or a size range, spread over flows (source address
// and port; up to kMaxGeneratorFlows), at a rate or as fast as receive
// descriptors allow.
//
// It runs once per received frame of the Maglev benchmark, so it is built
// to cost little: the headers are a template made once, and a frame is that
// template plus the fields that change (lengths, IP ID, source address and
// port, checksum from a precomputed partial sum), its sequence number and a
// payload copied from a ramp -- no division, no allocation.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

namespace rl::sim {

// Flows have source addresses 10.1.0.0 up to 10.255.255.255 (see next()).
inline constexpr uint32_t kMaxGeneratorFlows = 255u << 16;

struct GeneratorOptions {
  uint16_t min_size = 60, max_size = 60;   // frame bytes without CRC, 60..1514
  uint32_t flows = 1;
  double mpps = 0;      // 0: as fast as the port takes them (no drops)
  uint64_t count = 0;   // 0: no end
};

// Parses "size=60|60-1514:flows=N:rate=MPPS:count=N" (any order, all optional).
bool parse_generator(const std::string& spec, GeneratorOptions* out, std::string* error);

class Generator {
 public:
  static constexpr uint32_t kHeaderBytes = 42;   // Ethernet 14 + IPv4 20 + UDP 8
  static constexpr uint16_t kDstPort = 9;        // discard

  Generator(const GeneratorOptions& o, const std::array<uint8_t, 6>& dst_mac);

  // How many frames the wire carries by now: limited by the rate (the clock
  // starts at the first call) and the count; `ready` when unlimited.
  uint64_t due(uint64_t ready);

  // The next frame, before it is written: what the port needs to place it
  // (its size for the buffer, its addresses and ports for RSS).
  uint16_t size() const { return size_; }
  uint32_t src_addr() const { return src_; }
  uint16_t src_port() const { return sport_; }
  static constexpr uint32_t dst_addr() { return (10u << 24) | 2u; }   // 10.0.0.2

  // Writes the next frame into `buf` (size() bytes; kMaxFrame is always
  // enough) and moves on; returns its length.  Payload: the 64-bit sequence
  // number, then bytes (seq + i) & 0xFF.  Inline: the port calls it per frame.
  uint16_t next(uint8_t* buf) {
    const uint16_t size = size_;
    std::memcpy(buf, header_.data(), kHeaderBytes);
    uint8_t* ip = buf + 14;
    const auto ip_len = static_cast<uint16_t>(size - 14);
    const auto id = static_cast<uint16_t>(seq_);
    put16(ip + 2, ip_len);
    put16(ip + 4, id);
    put32(ip + 12, src_);
    uint32_t sum = ip_sum_ + ip_len + id + (src_ >> 16) + (src_ & 0xFFFF);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);   // twice: the first fold can carry once more
    put16(ip + 10, static_cast<uint16_t>(~sum));
    uint8_t* udp = ip + 20;
    put16(udp, sport_);
    put16(udp + 4, static_cast<uint16_t>(size - 34));
    uint8_t* payload = udp + 8;
    std::memcpy(payload, &seq_, 8);
    const uint8_t* from = ramp_.data() + (seq_ & 0xFF) + 8;
    const uint32_t rest = size - kHeaderBytes - 8u;   // at least 10 (60-byte frames)
    if (rest <= 16) {   // small frames: two overlapping words, no call
      std::memcpy(payload + 8, from, 8);
      std::memcpy(payload + rest, from + rest - 8, 8);
    } else {
      std::memcpy(payload + 8, from, rest);
    }
    advance();
    return size;
  }
  // The next frame is lost before it reaches a buffer (a rate-limited wire
  // with no free descriptor): counted as generated, nothing written.
  void skip() { advance(); }

  uint64_t generated() const { return seq_; }
  bool rate_limited() const { return o_.mpps > 0; }

 private:
  static constexpr uint32_t kFirstSource = (10u << 24) + (1u << 16);   // 10.1.0.0, flow 0's address
  static constexpr uint16_t kFirstPort = 1024;                          // flow 0's source port
  static constexpr uint16_t kPortsPerCycle = 60000;                     // source ports 1024..61023

  // Network byte order.
  static void put16(uint8_t* p, uint16_t v) {
    v = __builtin_bswap16(v);
    std::memcpy(p, &v, 2);
  }
  static void put32(uint8_t* p, uint32_t v) {
    v = __builtin_bswap32(v);
    std::memcpy(p, &v, 4);
  }

  // Flow f = seq % flows has the source 10.1.0.0 + f (10.1.x.y for the
  // first 65,536 flows, then 10.2.x.y and on, so that a million flows --
  // Maglev's benchmark -- have distinct sources; the port, 16 bits, cannot
  // tell them apart by itself) and the source port 1024 + f % 60000.
  // Counted here, so no frame pays for a division.
  void advance() {
    ++seq_;
    if (++flow_ == o_.flows) {
      flow_ = 0;
      src_ = kFirstSource;
      sport_ = kFirstPort;
    } else {
      ++src_;
      if (++sport_ == kFirstPort + kPortsPerCycle) sport_ = kFirstPort;
    }
    if (o_.max_size > o_.min_size) size_ = pick_size();
  }
  uint16_t pick_size();

  GeneratorOptions o_;
  std::array<uint8_t, kHeaderBytes> header_{};   // the fields every frame shares; the rest patched per frame
  uint32_t ip_sum_ = 0;                          // one's-complement sum of the shared IPv4 header words
  // The payload's bytes after the sequence number, (seq + i) & 0xFF: a copy
  // from ramp_ + (seq & 0xFF) + i.
  std::array<uint8_t, 256 + 1514> ramp_{};
  // The next frame: seq_ % flows, its source address and port, kept by
  // counting rather than dividing.
  uint64_t seq_ = 0;
  uint32_t flow_ = 0;
  uint32_t src_ = 0;
  uint16_t sport_ = 0;
  uint16_t size_ = 0;
  uint64_t rng_ = 0x9E3779B97F4A7C15ull;
  bool started_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace rl::sim
