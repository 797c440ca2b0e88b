#include "apps/net-tools/answer.hpp"

#include <cstring>

namespace rl::tools {

namespace {

constexpr uint16_t kEthHeader = 14;
constexpr uint16_t kArpLen = 28;
constexpr uint16_t kMinFrame = 60;   // shorter frames are padded on the wire

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }
void put16(uint8_t* p, uint16_t v) { p[0] = static_cast<uint8_t>(v >> 8); p[1] = static_cast<uint8_t>(v); }

// Short answers are padded with zeros to the minimum frame.
uint16_t padded(uint8_t* f, uint16_t n) {
  if (n >= kMinFrame) return n;
  std::memset(f + n, 0, kMinFrame - n);
  return kMinFrame;
}

// The Ethernet header of a reply: back to the sender, from us.
void reply_ethernet(uint8_t* f, const std::array<uint8_t, 6>& mac) {
  std::memcpy(f, f + 6, 6);
  std::memcpy(f + 6, mac.data(), 6);
}

// RFC 826: a request (oper 1) for our protocol address becomes a reply.
uint16_t answer_arp(uint8_t* f, uint16_t len, const std::array<uint8_t, 6>& mac, uint32_t ip) {
  if (len < kEthHeader + kArpLen) return 0;
  uint8_t* a = f + kEthHeader;
  if (get16(a) != 1 || get16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4 || get16(a + 6) != 1) return 0;
  if (get32(a + 24) != ip) return 0;
  put16(a + 6, 2);
  std::memcpy(a + 18, a + 8, 10);        // target hardware + protocol address := the sender's
  std::memcpy(a + 8, mac.data(), 6);     // sender: us
  uint8_t self[4] = {static_cast<uint8_t>(ip >> 24), static_cast<uint8_t>(ip >> 16), static_cast<uint8_t>(ip >> 8),
                     static_cast<uint8_t>(ip)};
  std::memcpy(a + 14, self, 4);
  reply_ethernet(f, mac);
  return padded(f, kEthHeader + kArpLen);
}

// RFC 792: an echo request (type 8) to us becomes an echo reply (type 0)
// with the same identifier, sequence and data.
uint16_t answer_icmp(uint8_t* f, uint16_t len, const std::array<uint8_t, 6>& mac, uint32_t ip) {
  if (len < kEthHeader + 20 + 8) return 0;
  uint8_t* h = f + kEthHeader;
  uint16_t ihl = static_cast<uint16_t>((h[0] & 0xF) * 4);
  uint16_t total = get16(h + 2);
  if ((h[0] >> 4) != 4 || ihl < 20 || total < ihl + 8 || kEthHeader + total > len) return 0;
  if ((get16(h + 6) & 0x3FFF) != 0) return 0;   // a fragment: not ours to answer piecemeal
  if (h[9] != 1 || get32(h + 16) != ip || inet_checksum(h, ihl) != 0) return 0;
  uint8_t* icmp = h + ihl;
  uint16_t icmp_len = static_cast<uint16_t>(total - ihl);
  if (icmp[0] != 8 || icmp[1] != 0 || inet_checksum(icmp, icmp_len) != 0) return 0;
  icmp[0] = 0;
  put16(icmp + 2, 0);
  put16(icmp + 2, inet_checksum(icmp, icmp_len));
  uint8_t src[4];
  std::memcpy(src, h + 12, 4);
  std::memcpy(h + 12, h + 16, 4);
  std::memcpy(h + 16, src, 4);
  h[8] = 64;   // a fresh TTL
  put16(h + 10, 0);
  put16(h + 10, inet_checksum(h, ihl));
  reply_ethernet(f, mac);
  return padded(f, static_cast<uint16_t>(kEthHeader + total));
}

}  // namespace

uint16_t inet_checksum(const uint8_t* p, uint32_t len) {
  uint32_t sum = 0;
  for (uint32_t i = 0; i + 1 < len; i += 2) sum += get16(p + i);
  if (len & 1) sum += uint32_t{p[len - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

uint16_t answer(uint8_t* frame, uint16_t len, const std::array<uint8_t, 6>& mac, uint32_t ip) {
  if (len < kEthHeader) return 0;
  switch (get16(frame + 12)) {
    case 0x0806: return answer_arp(frame, len, mac, ip);
    case 0x0800: return answer_icmp(frame, len, mac, ip);
    default: return 0;
  }
}

}  // namespace rl::tools
