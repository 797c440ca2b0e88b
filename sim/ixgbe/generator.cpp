#include "sim/ixgbe/generator.hpp"

#include <cstdlib>
#include <cstring>
#include <sstream>

namespace rl::sim {

namespace {

bool bounded(const std::string& key, const std::string& v, double lo, double hi, double* out, std::string* error) {
  char* end = nullptr;
  double n = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !(n >= lo && n <= hi)) {
    std::ostringstream m;
    m << "sim:ixgbe wire=gen: " << key << "=" << v << " is not a number in [" << lo << ", " << hi << "]";
    *error = m.str();
    return false;
  }
  *out = n;
  return true;
}

}  // namespace

bool parse_generator(const std::string& spec, GeneratorOptions* out, std::string* error) {
  GeneratorOptions o;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ':')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    double n = 0, m = 0;
    if (key == "size") {
      auto dash = value.find('-');
      if (!bounded("size", value.substr(0, dash), 60, 1514, &n, error)) return false;
      m = n;
      if (dash != std::string::npos && !bounded("size", value.substr(dash + 1), n, 1514, &m, error)) return false;
      o.min_size = static_cast<uint16_t>(n);
      o.max_size = static_cast<uint16_t>(m);
    } else if (key == "flows") {
      if (!bounded("flows", value, 1, kMaxGeneratorFlows, &n, error)) return false;
      o.flows = static_cast<uint32_t>(n);
    } else if (key == "rate") {
      if (!bounded("rate", value, 0, 1000, &n, error)) return false;
      o.mpps = n;
    } else if (key == "count") {
      if (!bounded("count", value, 0, 1e15, &n, error)) return false;
      o.count = static_cast<uint64_t>(n);
    } else {
      *error = "unknown sim:ixgbe wire=gen option '" + item +
               "' (have: size=BYTES or MIN-MAX, flows=N, rate=MPPS, count=N; separated by ':')";
      return false;
    }
  }
  *out = o;
  return true;
}

Generator::Generator(const GeneratorOptions& o, const std::array<uint8_t, 6>& dst_mac) : o_(o) {
  static constexpr uint8_t kSrcMac[6] = {0x02, 0x47, 0x45, 0x4e, 0x00, 0x01};   // "GEN"
  uint8_t* f = header_.data();
  std::memcpy(f, dst_mac.data(), 6);
  std::memcpy(f + 6, kSrcMac, 6);
  put16(f + 12, 0x0800);
  uint8_t* ip = f + 14;
  ip[0] = 0x45;
  put16(ip + 6, 0x4000);   // don't fragment
  ip[8] = 64;
  ip[9] = 17;              // UDP
  put32(ip + 16, dst_addr());
  // The sum of the words above (length, ID, source and checksum still 0):
  // each frame adds its own and folds, instead of summing all ten words.
  for (int i = 0; i < 20; i += 2) ip_sum_ += (uint32_t{ip[i]} << 8) | ip[i + 1];
  uint8_t* udp = ip + 20;
  put16(udp + 2, kDstPort);
  put16(udp + 6, 0);       // no checksum (allowed over IPv4)
  for (std::size_t i = 0; i < ramp_.size(); ++i) ramp_[i] = static_cast<uint8_t>(i);
  src_ = kFirstSource;
  sport_ = kFirstPort;
  size_ = o_.max_size > o_.min_size ? pick_size() : o_.min_size;
}

uint64_t Generator::due(uint64_t ready) {
  uint64_t left = o_.count ? o_.count - seq_ : UINT64_MAX;
  uint64_t n = ready;
  if (o_.mpps > 0) {
    auto now = std::chrono::steady_clock::now();
    if (!started_) {
      started_ = true;
      start_ = now;
    }
    double us = std::chrono::duration<double, std::micro>(now - start_).count();
    auto total = static_cast<uint64_t>(us * o_.mpps);
    n = total > seq_ ? total - seq_ : 0;
  }
  return n < left ? n : left;
}

// xorshift64, scaled to the range by a multiply rather than a division:
// sizes spread evenly over [min_size, max_size].
uint16_t Generator::pick_size() {
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  uint64_t span = o_.max_size - o_.min_size + 1u;
  return static_cast<uint16_t>(o_.min_size + (((rng_ >> 32) * span) >> 32));
}

}  // namespace rl::sim
