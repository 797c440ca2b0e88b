// The network stack against frames no peer should send: random bytes,
// truncated and mutated ARP, IPv4, TCP and UDP headers.  The stack runs in
// netstack.so, so a crash would show as a failed call; after every batch it
// must still answer an ARP request and accept a TCP connection, i.e. keep
// serving.  Seeded, bounded.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "idl/netstack.rl.hpp"

namespace rl::netstack {
namespace {

constexpr std::array<uint8_t, 6> kOurMac = {0x02, 0, 0, 0, 0, 0x42};
constexpr std::array<uint8_t, 6> kPeerMac = {0x02, 0, 0, 0, 0, 0x01};
constexpr uint32_t kOurIp = 0x0a4f0002, kPeerIp = 0x0a4f0001;   // 10.79.0.2, 10.79.0.1

std::string dir() {
  const char* d = std::getenv("RL_NETSTACK_DOMAIN_DIR");
  return d ? d : ".";
}

void put16(std::vector<uint8_t>& f, std::size_t at, uint16_t v) {
  f[at] = static_cast<uint8_t>(v >> 8);
  f[at + 1] = static_cast<uint8_t>(v);
}
void put32(std::vector<uint8_t>& f, std::size_t at, uint32_t v) {
  put16(f, at, static_cast<uint16_t>(v >> 16));
  put16(f, at + 2, static_cast<uint16_t>(v));
}
uint16_t checksum(const uint8_t* p, std::size_t n, uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

std::vector<uint8_t> ethernet(uint16_t type) {
  std::vector<uint8_t> f(14);
  std::memcpy(f.data(), kOurMac.data(), 6);
  std::memcpy(f.data() + 6, kPeerMac.data(), 6);
  put16(f, 12, type);
  return f;
}

std::vector<uint8_t> arp_request() {
  auto f = ethernet(0x0806);
  f.resize(42);
  std::memset(f.data(), 0xff, 6);
  put16(f, 14, 1);
  put16(f, 16, 0x0800);
  f[18] = 6;
  f[19] = 4;
  put16(f, 20, 1);   // request
  std::memcpy(f.data() + 22, kPeerMac.data(), 6);
  put32(f, 28, kPeerIp);
  put32(f, 38, kOurIp);
  return f;
}

// A TCP segment from the peer to `port`, with correct checksums.
std::vector<uint8_t> tcp_segment(uint16_t port, uint8_t flags, uint32_t seq, uint16_t src_port) {
  auto f = ethernet(0x0800);
  f.resize(14 + 20 + 20);
  f[14] = 0x45;
  put16(f, 16, 40);
  f[22] = 64;
  f[23] = 6;
  put32(f, 26, kPeerIp);
  put32(f, 30, kOurIp);
  put16(f, 24, checksum(f.data() + 14, 20));
  put16(f, 34, src_port);
  put16(f, 36, port);
  put32(f, 38, seq);
  f[46] = 5 << 4;
  f[47] = flags;
  put16(f, 48, 65535);
  uint32_t pseudo = (kPeerIp >> 16) + (kPeerIp & 0xffff) + (kOurIp >> 16) + (kOurIp & 0xffff) + 6 + 20;
  put16(f, 50, checksum(f.data() + 34, 20, pseudo));
  return f;
}

std::vector<uint8_t> udp_datagram(uint16_t port, std::size_t payload) {
  auto f = ethernet(0x0800);
  f.resize(14 + 20 + 8 + payload, 0x61);
  f[14] = 0x45;
  f[15] = 0;
  put16(f, 16, static_cast<uint16_t>(28 + payload));
  put16(f, 18, 0);
  put16(f, 20, 0);
  f[22] = 64;
  f[23] = 17;
  put16(f, 24, 0);
  put32(f, 26, kPeerIp);
  put32(f, 30, kOurIp);
  put16(f, 24, checksum(f.data() + 14, 20));
  put16(f, 34, 5000);
  put16(f, 36, port);
  put16(f, 38, static_cast<uint16_t>(8 + payload));
  put16(f, 40, 0);   // no checksum
  return f;
}

class Frames : public ::testing::Test {
 protected:
  void SetUp() override {
    LoadError err;
    stack_ = load_netstack(dir() + "/netstack.so", "netstack", NetStackInit{kOurMac, kOurIp, 0xffffff00, 0, 0}, &err);
    ASSERT_TRUE(stack_) << err.message;
    listener_ = stack_.proxy->tcp_listen(80, 16).value();
    udp_ = stack_.proxy->udp_bind(7).value();
    ASSERT_GE(listener_, 0);
    ASSERT_GE(udp_, 0);
  }

  // Sends the frames in one batch; returns the frames the stack answered with.
  std::vector<std::vector<uint8_t>> exchange(const std::vector<std::vector<uint8_t>>& in) {
    auto q = net::PacketBatch::make();
    for (std::size_t i = 0; i < net::kNetBatch; ++i) {
      auto p = RRef<net::Packet>::make();
      p->len = 0;
      if (i < in.size()) {
        const std::size_t n = std::min<std::size_t>(in[i].size(), net::kMaxFrame);
        if (n) std::memcpy(p->data.data(), in[i].data(), n);   // an empty vector has no data()
        p->len = static_cast<uint16_t>(n);
      }
      (void)q.push_back(std::move(p));
    }
    auto r = stack_.proxy->exchange(std::move(q));
    EXPECT_TRUE(r.ok()) << "the stack domain failed: " << stack_.domain->info().last_message;
    std::vector<std::vector<uint8_t>> out;
    if (!r.ok()) return out;
    for (std::size_t i = 0; i < r.value().size() && r.value()[i]->len; ++i)
      out.emplace_back(r.value()[i]->data.data(), r.value()[i]->data.data() + r.value()[i]->len);
    return out;
  }

  // The stack still serves: ARP is answered, a SYN gets a SYN-ACK.
  void still_serves(uint16_t src_port) {
    auto out = exchange({arp_request(), tcp_segment(80, 0x02, 1000, src_port)});
    bool arp_reply = false, syn_ack = false;
    for (auto& f : out) {
      if (f.size() >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2) arp_reply = true;
      if (f.size() >= 54 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 6 && (f[47] & 0x12) == 0x12) syn_ack = true;
    }
    for (int i = 0; i < 4 && !syn_ack; ++i)   // the SYN-ACK may wait for the ARP entry
      for (auto& f : exchange({}))
        if (f.size() >= 54 && f[23] == 6 && (f[47] & 0x12) == 0x12) syn_ack = true;
    EXPECT_TRUE(arp_reply) << "no ARP reply";
    EXPECT_TRUE(syn_ack) << "no SYN-ACK";
    // Drop the half-open connection: a reset from the peer.
    (void)exchange({tcp_segment(80, 0x04, 1001, src_port)});
    for (int32_t s; (s = stack_.proxy->accept(listener_).value()) >= 0;) (void)stack_.proxy->close(s);
  }

  Loaded<NetStackProxy> stack_;
  int32_t listener_ = -1, udp_ = -1;
};

TEST_F(Frames, AnswersArpAndSyn) { still_serves(40000); }

TEST_F(Frames, SurvivesRandomAndMutatedFrames) {
  std::mt19937_64 rng(20261129);
  const std::vector<std::vector<uint8_t>> valid = {arp_request(), tcp_segment(80, 0x02, 7, 41000),
                                                   tcp_segment(81, 0x10, 9, 41001), udp_datagram(7, 30),
                                                   udp_datagram(9, 0), udp_datagram(7, 1400)};
  uint16_t src_port = 42000;
  for (int round = 0; round < 400; ++round) {
    std::vector<std::vector<uint8_t>> batch;
    for (int i = 0; i < 32; ++i) {
      std::vector<uint8_t> f;
      switch (rng() % 4) {
        case 0:   // random bytes, any length
          f.resize(rng() % 1600);
          for (auto& b : f) b = static_cast<uint8_t>(rng());
          break;
        case 1: {   // a valid frame, truncated
          f = valid[rng() % valid.size()];
          f.resize(rng() % (f.size() + 1));
          break;
        }
        default: {   // a valid frame with a few bytes changed in its headers
          f = valid[rng() % valid.size()];
          for (int k = 1 + static_cast<int>(rng() % 4); k > 0; --k)
            f[rng() % std::min<std::size_t>(f.size(), 60)] = static_cast<uint8_t>(rng());
          break;
        }
      }
      batch.push_back(std::move(f));
    }
    (void)exchange(batch);
    // What a mutated frame may have left for the application: drain it.
    auto chunk = RRef<Chunk>::make();
    for (;;) {
      chunk = std::move(stack_.proxy->udp_recv(udp_, std::move(chunk)).value());
      if (chunk->status < 0) break;
    }
    for (int32_t s; (s = stack_.proxy->accept(listener_).value()) >= 0;) (void)stack_.proxy->close(s);
    if (round % 50 == 49) still_serves(src_port++);
    ASSERT_TRUE(stack_.domain->alive()) << stack_.domain->info().last_message;
  }
  still_serves(src_port++);
}

}  // namespace
}  // namespace rl::netstack
