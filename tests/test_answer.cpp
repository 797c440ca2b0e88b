// ARP and ping answers (apps/net-tools/answer.hpp): correct replies, and
// malformed or foreign frames never answered and never read past their end.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

#include "apps/net-tools/answer.hpp"

namespace rl::tools {
namespace {

const std::array<uint8_t, 6> kOurMac{0x02, 0x52, 0x4c, 0x00, 0x00, 0x07};
const std::array<uint8_t, 6> kPeerMac{0x0a, 0x11, 0x22, 0x33, 0x44, 0x55};
constexpr uint32_t kOurIp = 0x0A4D0002;    // 10.77.0.2
constexpr uint32_t kPeerIp = 0x0A4D0001;   // 10.77.0.1

void put16(uint8_t* p, uint16_t v) { p[0] = static_cast<uint8_t>(v >> 8); p[1] = static_cast<uint8_t>(v); }
void put32(uint8_t* p, uint32_t v) { put16(p, static_cast<uint16_t>(v >> 16)); put16(p + 2, static_cast<uint16_t>(v)); }

std::vector<uint8_t> arp_request(uint32_t target) {
  std::vector<uint8_t> f(60, 0);
  std::memset(f.data(), 0xFF, 6);
  std::memcpy(f.data() + 6, kPeerMac.data(), 6);
  put16(&f[12], 0x0806);
  uint8_t* a = &f[14];
  put16(a, 1);
  put16(a + 2, 0x0800);
  a[4] = 6;
  a[5] = 4;
  put16(a + 6, 1);
  std::memcpy(a + 8, kPeerMac.data(), 6);
  put32(a + 14, kPeerIp);
  put32(a + 24, target);
  return f;
}

std::vector<uint8_t> echo_request(uint32_t dst, uint16_t data_len) {
  std::vector<uint8_t> f(14 + 20 + 8 + data_len, 0);
  std::memcpy(f.data(), kOurMac.data(), 6);
  std::memcpy(f.data() + 6, kPeerMac.data(), 6);
  put16(&f[12], 0x0800);
  uint8_t* h = &f[14];
  h[0] = 0x45;
  put16(h + 2, static_cast<uint16_t>(20 + 8 + data_len));
  put16(h + 6, 0x4000);
  h[8] = 17;
  h[9] = 1;
  put32(h + 12, kPeerIp);
  put32(h + 16, dst);
  put16(h + 10, inet_checksum(h, 20));
  uint8_t* icmp = h + 20;
  icmp[0] = 8;
  put16(icmp + 4, 0x1234);   // identifier
  put16(icmp + 6, 7);        // sequence
  for (uint16_t i = 0; i < data_len; ++i) icmp[8 + i] = static_cast<uint8_t>(i * 3);
  put16(icmp + 2, inet_checksum(icmp, 8 + data_len));
  if (f.size() < 60) f.resize(60, 0);   // Ethernet padding
  return f;
}

TEST(Answer, ArpRequestForUsGetsAReplyWithOurAddress) {
  auto f = arp_request(kOurIp);
  ASSERT_EQ(answer(f.data(), static_cast<uint16_t>(f.size()), kOurMac, kOurIp), 60);
  EXPECT_EQ(std::memcmp(f.data(), kPeerMac.data(), 6), 0) << "to the asker";
  EXPECT_EQ(std::memcmp(f.data() + 6, kOurMac.data(), 6), 0);
  const uint8_t* a = &f[14];
  EXPECT_EQ(a[6] << 8 | a[7], 2) << "a reply";
  EXPECT_EQ(std::memcmp(a + 8, kOurMac.data(), 6), 0);
  uint8_t ours[4] = {10, 77, 0, 2}, theirs[4] = {10, 77, 0, 1};
  EXPECT_EQ(std::memcmp(a + 14, ours, 4), 0);
  EXPECT_EQ(std::memcmp(a + 18, kPeerMac.data(), 6), 0);
  EXPECT_EQ(std::memcmp(a + 24, theirs, 4), 0);
}

TEST(Answer, ArpForSomeoneElseOrNotARequestIsIgnored) {
  auto f = arp_request(0x0A4D0003);
  EXPECT_EQ(answer(f.data(), 60, kOurMac, kOurIp), 0);
  f = arp_request(kOurIp);
  put16(&f[14 + 6], 2);   // a reply already
  EXPECT_EQ(answer(f.data(), 60, kOurMac, kOurIp), 0);
  f = arp_request(kOurIp);
  EXPECT_EQ(answer(f.data(), 41, kOurMac, kOurIp), 0) << "truncated";
}

TEST(Answer, EchoRequestGetsAnEchoReplyWithTheSameData) {
  auto f = echo_request(kOurIp, 56);
  auto before = f;
  uint16_t n = answer(f.data(), static_cast<uint16_t>(f.size()), kOurMac, kOurIp);
  ASSERT_EQ(n, 14 + 20 + 8 + 56);
  EXPECT_EQ(std::memcmp(f.data(), kPeerMac.data(), 6), 0);
  EXPECT_EQ(std::memcmp(f.data() + 6, kOurMac.data(), 6), 0);
  const uint8_t* h = &f[14];
  EXPECT_EQ(inet_checksum(h, 20), 0) << "IPv4 header checksum";
  EXPECT_EQ(std::memcmp(h + 12, &before[14 + 16], 4), 0) << "from us";
  EXPECT_EQ(std::memcmp(h + 16, &before[14 + 12], 4), 0) << "to the asker";
  const uint8_t* icmp = h + 20;
  EXPECT_EQ(icmp[0], 0) << "echo reply";
  EXPECT_EQ(inet_checksum(icmp, 8 + 56), 0) << "ICMP checksum";
  EXPECT_EQ(std::memcmp(icmp + 4, &before[14 + 20 + 4], 4 + 56), 0) << "identifier, sequence and data kept";
}

TEST(Answer, MalformedOrForeignIcmpIsNeverAnswered) {
  auto bad_ip_sum = echo_request(kOurIp, 8);
  bad_ip_sum[14 + 10] ^= 1;
  auto bad_icmp_sum = echo_request(kOurIp, 8);
  bad_icmp_sum[14 + 20 + 2] ^= 1;
  auto too_long = echo_request(kOurIp, 8);
  put16(&too_long[14 + 2], 200);
  put16(&too_long[14 + 10], 0);
  put16(&too_long[14 + 10], inet_checksum(&too_long[14], 20));
  auto not_ours = echo_request(0x0A4D0009, 8);
  auto fragment = echo_request(kOurIp, 8);
  put16(&fragment[14 + 6], 0x2000);   // more fragments
  put16(&fragment[14 + 10], 0);
  put16(&fragment[14 + 10], inet_checksum(&fragment[14], 20));
  auto short_ihl = echo_request(kOurIp, 8);
  short_ihl[14] = 0x44;
  for (auto* f : {&bad_ip_sum, &bad_icmp_sum, &too_long, &not_ours, &fragment, &short_ihl})
    EXPECT_EQ(answer(f->data(), static_cast<uint16_t>(f->size()), kOurMac, kOurIp), 0);
  auto reply = echo_request(kOurIp, 8);
  reply[14 + 20] = 0;   // an echo reply is not answered
  put16(&reply[14 + 20 + 2], 0);
  put16(&reply[14 + 20 + 2], inet_checksum(&reply[14 + 20], 16));
  EXPECT_EQ(answer(reply.data(), static_cast<uint16_t>(reply.size()), kOurMac, kOurIp), 0);
}

// Random frames (ARP or IPv4 EtherType, random lengths): the sanitizer build
// catches any read past the frame; a short random frame is never "answered"
// unless it really is a request to us.
TEST(Answer, RandomFramesAreHandledSafely) {
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    uint16_t len = static_cast<uint16_t>(rng() % 128);
    std::vector<uint8_t> f(len < 60 ? 60 : len);
    for (auto& b : f) b = static_cast<uint8_t>(rng());
    if (len >= 14) put16(&f[12], (i & 1) ? 0x0806 : 0x0800);
    uint16_t n = answer(f.data(), len, kOurMac, kOurIp);
    EXPECT_TRUE(n == 0 || n >= 60);
  }
}

}  // namespace
}  // namespace rl::tools
