// A packet generator on a simulated wire (sim:ixgbe,wire=gen:...): UDP over
// IPv4 frames of a size or a size range, spread over flows (source address
// and port; up to kMaxGeneratorFlows), at a rate or as fast as receive
// descriptors allow.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
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
  Generator(const GeneratorOptions& o, const std::array<uint8_t, 6>& dst_mac) : o_(o), dst_(dst_mac) {}

  // How many frames the wire carries by now: limited by the rate (the clock
  // starts at the first call) and the count; `ready` when unlimited.
  uint64_t due(uint64_t ready);
  // Writes the next frame into `buf` (kMaxFrame bytes); returns its length.
  // Payload: the 64-bit sequence number, then bytes (seq + i) & 0xFF.
  uint16_t next(uint8_t* buf);
  uint64_t generated() const { return seq_; }
  bool rate_limited() const { return o_.mpps > 0; }

 private:
  GeneratorOptions o_;
  std::array<uint8_t, 6> dst_;
  uint64_t seq_ = 0;
  uint64_t rng_ = 0x9E3779B97F4A7C15ull;
  bool started_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace rl::sim
