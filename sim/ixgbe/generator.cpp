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

void put16(uint8_t* p, uint16_t v) { p[0] = static_cast<uint8_t>(v >> 8); p[1] = static_cast<uint8_t>(v); }

uint16_t ipv4_checksum(const uint8_t* h) {
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (uint32_t{h[i]} << 8) | h[i + 1];
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
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

uint16_t Generator::next(uint8_t* f) {
  uint16_t size = o_.min_size;
  if (o_.max_size > o_.min_size) {   // xorshift64: sizes spread evenly over the range
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    size = static_cast<uint16_t>(o_.min_size + rng_ % (o_.max_size - o_.min_size + 1u));
  }
  auto flow = static_cast<uint32_t>(seq_ % o_.flows);
  static constexpr uint8_t kSrcMac[6] = {0x02, 0x47, 0x45, 0x4e, 0x00, 0x01};   // "GEN"
  std::memcpy(f, dst_.data(), 6);
  std::memcpy(f + 6, kSrcMac, 6);
  put16(f + 12, 0x0800);
  uint8_t* ip = f + 14;
  std::memset(ip, 0, 20);
  ip[0] = 0x45;
  put16(ip + 2, static_cast<uint16_t>(size - 14));
  put16(ip + 4, static_cast<uint16_t>(seq_));
  put16(ip + 6, 0x4000);   // don't fragment
  ip[8] = 64;
  ip[9] = 17;              // UDP
  // One address per flow: 10.1.x.y for the first 65,536 flows, then 10.2.x.y
  // and on, so that a million flows (Maglev's benchmark) have distinct
  // sources; the port, 16 bits, cannot tell them apart by itself.
  uint32_t src = (10u << 24) + (1u << 16) + flow;
  uint8_t addrs[8] = {static_cast<uint8_t>(src >> 24), static_cast<uint8_t>(src >> 16), static_cast<uint8_t>(src >> 8),
                      static_cast<uint8_t>(src), 10, 0, 0, 2};
  std::memcpy(ip + 12, addrs, 8);
  put16(ip + 10, ipv4_checksum(ip));
  uint8_t* udp = ip + 20;
  put16(udp, static_cast<uint16_t>(1024 + flow % 60000));
  put16(udp + 2, 9);       // discard
  put16(udp + 4, static_cast<uint16_t>(size - 34));
  put16(udp + 6, 0);       // no checksum (allowed over IPv4)
  uint8_t* payload = udp + 8;
  std::memcpy(payload, &seq_, 8);
  for (uint32_t i = 8; i < size - 42u; ++i) payload[i] = static_cast<uint8_t>(seq_ + i);
  ++seq_;
  return size;
}

}  // namespace rl::sim
