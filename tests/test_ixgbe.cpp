// The 82599 driver on the simulated port: init state, frames of every size
// through a loopback pair, RSS against the published test vectors, ring
// full/empty edges, and the driver as a domain.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "drivers/ixgbe/net.hpp"
#include "idl/net.rl.hpp"
#include "sim/ixgbe/model.hpp"

namespace rl::ixgbe {
namespace {

std::unique_ptr<pci::Device> port(const std::string& wire) {
  std::string err;
  auto d = pci::open("sim:ixgbe,wire=" + wire, &err);
  EXPECT_TRUE(d) << err;
  return d;
}
std::unique_ptr<Driver> driver(pci::Device& dev, uint32_t rx_queues = 1) {
  std::string err;
  DriverConfig cfg;
  cfg.rx_queues = rx_queues;
  auto d = Driver::create(dev, cfg, &err);
  EXPECT_TRUE(d) << err;
  return d;
}
sim::IxgbeModel& model(pci::Device& d) { return *static_cast<sim::IxgbeModel*>(d.model()); }

// A frame whose bytes encode its length and index.
void fill(net::Packet& p, uint16_t len, uint32_t seed) {
  p.len = len;
  for (uint16_t i = 0; i < len; ++i) p.data[i] = static_cast<uint8_t>(seed * 31 + i);
}

TEST(Ixgbe, InitLeavesTheRegistersTheDatasheetAsksFor) {
  auto dev = port("sink");
  auto drv = driver(*dev);
  EXPECT_TRUE(dev->read32(reg::RXCTRL) & RXCTRL_RXEN);
  EXPECT_TRUE(dev->read32(reg::DMATXCTL) & DMATXCTL_TE);
  EXPECT_EQ(dev->read32(reg::FCTRL) & (FCTRL_BAM | FCTRL_MPE | FCTRL_UPE), FCTRL_BAM | FCTRL_MPE | FCTRL_UPE);
  EXPECT_TRUE(dev->read32(reg::RXDCTL(0)) & RXDCTL_ENABLE);
  EXPECT_TRUE(dev->read32(reg::TXDCTL(0)) & TXDCTL_ENABLE);
  EXPECT_EQ(dev->read32(reg::SRRCTL(0)), SRRCTL_DESCTYPE_ADV_ONEBUF | SRRCTL_DROP_EN | kBufferKiB);
  EXPECT_EQ(dev->read32(reg::RDLEN(0)), kRingSize * 16u);
  EXPECT_EQ(dev->read32(reg::RDT(0)), kRingSize - 1);
  EXPECT_TRUE(dev->read32(reg::HLREG0) & HLREG0_RXCRCSTRP);
  auto link = drv->link();
  EXPECT_EQ(link.up, 1u);
  EXPECT_EQ(link.speed_mbps, 10000u);
  EXPECT_EQ(dev->vendor_id(), 0x8086);
}

TEST(Ixgbe, FramesOfEverySizeCrossALoopbackPairIntact) {
  auto a = port("pair:every-size");
  auto b = port("pair:every-size");
  auto tx = driver(*a);
  auto rx = driver(*b);
  uint32_t next = 0, received = 0;
  constexpr uint16_t kMin = 60, kMax = 1514;
  while (next <= kMax - kMin) {
    auto batch = net::PacketBatch::make();
    for (uint32_t i = 0; i < 32 && next + kMin <= kMax; ++i, ++next) {
      auto p = RRef<net::Packet>::make();
      fill(*p, static_cast<uint16_t>(kMin + next), next);
      ASSERT_TRUE(batch.push_back(std::move(p)));
    }
    uint32_t n = static_cast<uint32_t>(batch.size());
    ASSERT_EQ(tx->tx(0, batch), n);
    for (std::size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(batch[i]->len, 0) << "a buffer back to refill";
    auto in = net::PacketBatch::make();
    for (uint32_t i = 0; i < 32; ++i) ASSERT_TRUE(in.push_back(RRef<net::Packet>::make()));
    uint32_t got = rx->rx(0, in);
    ASSERT_EQ(got, n);
    for (uint32_t i = 0; i < got; ++i, ++received) {
      net::Packet expect;
      fill(expect, static_cast<uint16_t>(kMin + received), received);
      ASSERT_EQ(in[i]->len, expect.len);
      ASSERT_EQ(std::memcmp(in[i]->data.data(), expect.data.data(), expect.len), 0) << "frame " << received;
    }
  }
  EXPECT_EQ(received, kMax - kMin + 1u);
  auto st = rx->stats();
  EXPECT_EQ(st.rx_packets, received);
  EXPECT_EQ(tx->stats().tx_packets, received);
  EXPECT_EQ(model(*a).driver_errors() + model(*b).driver_errors(), 0u);
}

TEST(Ixgbe, ReceiveRingFullDropsAndCountsAndEmptyReturnsNothing) {
  auto a = port("pair:full");
  auto b = port("pair:full");
  auto tx = driver(*a);
  auto rx = driver(*b);
  auto in = net::PacketBatch::make();
  for (int i = 0; i < 32; ++i) ASSERT_TRUE(in.push_back(RRef<net::Packet>::make()));
  EXPECT_EQ(rx->rx(0, in), 0u) << "nothing arrived yet";
  uint32_t sent = 0;
  for (int round = 0; round < 20; ++round) {   // 640 frames into a ring with 511 free descriptors
    auto batch = net::PacketBatch::make();
    for (int i = 0; i < 32; ++i) {
      auto p = RRef<net::Packet>::make();
      fill(*p, 64, sent + i);
      ASSERT_TRUE(batch.push_back(std::move(p)));
    }
    sent += tx->tx(0, batch);
  }
  EXPECT_EQ(sent, 640u);
  uint32_t got = 0;
  for (uint32_t n; (n = rx->rx(0, in)) > 0;) got += n;
  EXPECT_EQ(got, kRingSize - 1);
  EXPECT_EQ(rx->stats().rx_dropped, 640u - (kRingSize - 1)) << "SRRCTL.DROP_EN: counted in MPC";
}

// The device keeps what did not fit: with transmit paused (flow control),
// the ring takes kRingSize - 1 frames and the rest stay with their lengths.
TEST(Ixgbe, TransmitRingFullKeepsTheFramesThatDidNotFit) {
  auto dev = port("sink");
  auto drv = driver(*dev);
  model(*dev).pause_transmit(true);
  uint32_t accepted = 0, kept = 0;
  for (int round = 0; round < 20; ++round) {   // 640 frames
    auto batch = net::PacketBatch::make();
    for (int i = 0; i < 32; ++i) {
      auto p = RRef<net::Packet>::make();
      fill(*p, 100, round * 32 + i);
      ASSERT_TRUE(batch.push_back(std::move(p)));
    }
    uint32_t sent = drv->tx(0, batch);
    accepted += sent;
    for (uint32_t i = 0; i < 32; ++i) {
      if (i < sent) {
        EXPECT_EQ(batch[i]->len, 0) << "sent: a buffer back";
      } else {
        EXPECT_EQ(batch[i]->len, 100) << "not sent: the frame stays";
        ++kept;
      }
    }
  }
  EXPECT_EQ(accepted, kRingSize - 1);
  EXPECT_EQ(kept, 640 - (kRingSize - 1));
  EXPECT_EQ(model(*dev).sunk_frames(), 0u);
  model(*dev).pause_transmit(false);
  EXPECT_EQ(model(*dev).sunk_frames(), kRingSize - 1);
  auto batch = net::PacketBatch::make();
  auto p = RRef<net::Packet>::make();
  fill(*p, 100, 0);
  ASSERT_TRUE(batch.push_back(std::move(p)));
  EXPECT_EQ(drv->tx(0, batch), 1u) << "the ring drained: sending works again";
  EXPECT_EQ(drv->stats().tx_packets, kRingSize);
  EXPECT_EQ(model(*dev).driver_errors(), 0u);
}

TEST(Ixgbe, MacAddressComesFromTheEeprom) {
  auto a = port("sink,mac=02:aa:bb:cc:dd:ee");
  auto drv = driver(*a);
  EXPECT_EQ(drv->mac(), (std::array<uint8_t, 6>{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}));
  auto net = make_ixgbe_net(std::move(drv));
  EXPECT_EQ(net->mac_address().value(), (std::array<uint8_t, 6>{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}));
  auto b = port("sink");
  auto c = port("sink");
  EXPECT_NE(driver(*b)->mac(), driver(*c)->mac()) << "two ports, two addresses";
  std::string err;
  EXPECT_FALSE(pci::open("sim:ixgbe,mac=01:00:5e:00:00:01", &err));
  EXPECT_NE(err.find("unicast"), std::string::npos) << err;
  EXPECT_FALSE(pci::open("sim:ixgbe,mac=02:00:00", &err));
}

// Sequence-numbered UDP frames, checked field by field.
void expect_generated(const net::Packet& p, uint64_t seq, const std::array<uint8_t, 6>& mac, uint16_t lo,
                      uint16_t hi, std::set<uint16_t>* ports) {
  ASSERT_GE(p.len, lo);
  ASSERT_LE(p.len, hi);
  const uint8_t* f = p.data.data();
  EXPECT_EQ(std::memcmp(f, mac.data(), 6), 0) << "to the port's address";
  EXPECT_EQ(f[12] << 8 | f[13], 0x0800);
  const uint8_t* ip = f + 14;
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += static_cast<uint32_t>(ip[i] << 8 | ip[i + 1]);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  EXPECT_EQ(sum, 0xFFFFu) << "IPv4 header checksum";
  EXPECT_EQ(ip[2] << 8 | ip[3], p.len - 14);
  EXPECT_EQ(ip[9], 17);
  const uint8_t* udp = ip + 20;
  EXPECT_EQ(udp[4] << 8 | udp[5], p.len - 34);
  ports->insert(static_cast<uint16_t>(udp[0] << 8 | udp[1]));
  uint64_t got_seq;
  std::memcpy(&got_seq, udp + 8, 8);
  ASSERT_EQ(got_seq, seq) << "in order, none lost";
  for (uint32_t i = 8; i < p.len - 42u; ++i) ASSERT_EQ(udp[8 + i], static_cast<uint8_t>(seq + i)) << "payload byte " << i;
}

TEST(Ixgbe, GeneratorWireDeliversEveryFrameOfTheAskedSizesAndFlows) {
  auto dev = port("gen:size=60-1514:flows=8:count=2000");
  auto drv = driver(*dev);
  auto in = net::PacketBatch::make();
  for (int i = 0; i < 32; ++i) ASSERT_TRUE(in.push_back(RRef<net::Packet>::make()));
  std::set<uint16_t> ports;
  uint64_t got = 0;
  uint16_t smallest = 1514, largest = 60;
  for (int spins = 0; got < 2000 && spins < 100000; ++spins) {
    uint32_t n = drv->rx(0, in);
    if (n == 0) drv->idle();
    for (uint32_t i = 0; i < n; ++i, ++got) {
      expect_generated(*in[i], got, drv->mac(), 60, 1514, &ports);
      smallest = std::min(smallest, in[i]->len);
      largest = std::max(largest, in[i]->len);
    }
    if (HasFatalFailure()) return;
  }
  EXPECT_EQ(got, 2000u);
  EXPECT_EQ(ports.size(), 8u) << "one source port per flow";
  EXPECT_LT(smallest, 200) << "sizes spread over the range";
  EXPECT_GT(largest, 1300);
  drv->idle();
  EXPECT_EQ(drv->rx(0, in), 0u) << "count=2000: nothing more";
  auto st = drv->stats();
  EXPECT_EQ(st.rx_packets, 2000u);
  EXPECT_EQ(st.rx_dropped, 0u) << "an unlimited generator waits for descriptors";
}

TEST(Ixgbe, RateLimitedGeneratorSendsNoMoreThanItsRate) {
  auto start = std::chrono::steady_clock::now();
  auto dev = port("gen:size=60:rate=0.002");   // 2000 frames per second
  auto drv = driver(*dev);
  auto in = net::PacketBatch::make();
  for (int i = 0; i < 32; ++i) ASSERT_TRUE(in.push_back(RRef<net::Packet>::make()));
  uint64_t got = 0;
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(200)) {
    got += drv->rx(0, in);
    drv->idle();
  }
  for (uint32_t n; (n = drv->rx(0, in)) > 0;) got += n;   // what is still in the ring
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GT(got, 0u);
  EXPECT_LE(static_cast<double>(got), seconds * 2000 + 1);
  EXPECT_EQ(got + drv->stats().rx_dropped, model(*dev).generated_frames()) << "each frame received or counted missed";
}

// Maglev's benchmark has a million flows: beyond 65,536 the source address
// carries the flow (10.1.x.y, then 10.2.x.y, ...), the first 65,536 as before.
TEST(Ixgbe, GeneratorFlowsBeyondSixteenBitsHaveDistinctSources) {
  sim::GeneratorOptions o;
  std::string err;
  ASSERT_TRUE(sim::parse_generator("flows=1000000", &o, &err)) << err;
  EXPECT_EQ(o.flows, 1000000u);
  EXPECT_FALSE(sim::parse_generator("flows=16711681", &o, &err));
  EXPECT_NE(err.find("flows=16711681"), std::string::npos) << err;
  ASSERT_TRUE(sim::parse_generator("flows=200000", &o, &err));
  sim::Generator gen(o, {2, 0, 0, 0, 0, 1});
  std::set<uint64_t> tuples;
  std::array<uint8_t, net::kMaxFrame> f{};
  for (uint32_t flow = 0; flow < 200000; ++flow) {
    ASSERT_EQ(gen.next(f.data()), 60);
    uint32_t src = uint32_t{f[26]} << 24 | uint32_t{f[27]} << 16 | uint32_t{f[28]} << 8 | f[29];
    uint16_t sport = static_cast<uint16_t>(f[34] << 8 | f[35]);
    ASSERT_EQ(src, (10u << 24) + (1u << 16) + flow) << "flow " << flow;
    ASSERT_EQ(sport, 1024 + flow % 60000) << "flow " << flow;
    tuples.insert(uint64_t{src} << 16 | sport);
  }
  EXPECT_EQ(tuples.size(), 200000u) << "one source per flow";
  gen.next(f.data());
  EXPECT_EQ(f[27], 1) << "then the first flow again: 10.1.0.0";
  EXPECT_EQ(f[29], 0);
}

// The generator builds frames from a template and counters; each must equal
// the frame built field by field from its sequence number, as the format
// says: flow seq % flows, source 10.1.0.0 + flow, port 1024 + flow % 60000,
// IP ID seq, the full IPv4 checksum, payload seq then (seq + i) & 0xFF.
// 61,000 flows: the port wraps before the flow does, twice over.
std::vector<uint8_t> reference_frame(uint64_t seq, uint32_t flows, uint16_t size, const std::array<uint8_t, 6>& mac) {
  std::vector<uint8_t> f(size);
  auto put16 = [&](std::size_t at, uint32_t v) {
    f[at] = static_cast<uint8_t>(v >> 8);
    f[at + 1] = static_cast<uint8_t>(v);
  };
  const auto flow = static_cast<uint32_t>(seq % flows);
  std::memcpy(f.data(), mac.data(), 6);
  const uint8_t gen_mac[6] = {0x02, 0x47, 0x45, 0x4e, 0x00, 0x01};
  std::memcpy(f.data() + 6, gen_mac, 6);
  put16(12, 0x0800);
  f[14] = 0x45;
  put16(16, size - 14u);
  put16(18, static_cast<uint16_t>(seq));
  put16(20, 0x4000);
  f[22] = 64;
  f[23] = 17;
  const uint32_t src = (10u << 24) + (1u << 16) + flow;
  put16(26, src >> 16);
  put16(28, src & 0xFFFF);
  put16(30, 10u << 8);
  put16(32, 2);
  uint32_t sum = 0;
  for (int i = 14; i < 34; i += 2) sum += static_cast<uint32_t>(f[i] << 8 | f[i + 1]);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  put16(24, ~sum & 0xFFFF);
  put16(34, 1024 + flow % 60000);
  put16(36, 9);
  put16(38, size - 34u);
  std::memcpy(f.data() + 42, &seq, 8);
  for (uint32_t i = 8; i < size - 42u; ++i) f[42 + i] = static_cast<uint8_t>(seq + i);
  return f;
}

TEST(Ixgbe, GeneratedFramesEqualFramesBuiltFieldByField) {
  sim::GeneratorOptions o;
  std::string err;
  ASSERT_TRUE(sim::parse_generator("size=60-1514:flows=61000", &o, &err)) << err;
  const std::array<uint8_t, 6> mac{0x02, 0xaa, 0, 0, 0, 7};
  sim::Generator gen(o, mac);
  std::array<uint8_t, net::kMaxFrame> f{};
  uint64_t skipped = 0;
  for (uint64_t seq = 0; seq < 2 * 61000 + 10; ++seq) {
    if (seq % 1000 == 999) {   // a frame lost on the wire: its number and flow are used up
      gen.skip();
      ++skipped;
      continue;
    }
    const uint16_t announced = gen.size();
    const uint16_t len = gen.next(f.data());
    ASSERT_EQ(len, announced) << "size() tells the next frame's length";
    ASSERT_GE(len, 60);
    ASSERT_LE(len, 1514);
    auto expect = reference_frame(seq, 61000, len, mac);
    ASSERT_EQ(std::memcmp(f.data(), expect.data(), len), 0) << "frame " << seq << " of " << len << " bytes";
  }
  EXPECT_EQ(gen.generated(), 2 * 61000 + 10u) << "skipped frames count as generated";
  EXPECT_GT(skipped, 0u);
}

// RSS with four queues: each generated frame arrives on the queue the
// redirection table gives its Toeplitz hash, as for any other frame.
TEST(Ixgbe, GeneratedFramesArriveOnTheQueueRssPicks) {
  auto dev = port("gen:flows=256:count=2048");
  auto drv = driver(*dev, 4);
  auto in = net::PacketBatch::make();
  for (int i = 0; i < 32; ++i) ASSERT_TRUE(in.push_back(RRef<net::Packet>::make()));
  std::array<uint64_t, 4> per_queue{};
  uint64_t got = 0;
  for (int spins = 0; got < 2048 && spins < 100000; ++spins) {
    uint32_t found = 0;
    for (uint32_t q = 0; q < 4; ++q) {
      uint32_t n = drv->rx(q, in);
      found += n;
      for (uint32_t i = 0; i < n; ++i) {
        ASSERT_EQ(model(*dev).rss_queue(in[i]->data.data(), in[i]->len, nullptr), static_cast<int>(q))
            << "frame " << got + i;
      }
      got += n;
      per_queue[q] += n;
    }
    if (found == 0) drv->idle();
  }
  EXPECT_EQ(got, 2048u);
  for (uint32_t q = 0; q < 4; ++q) EXPECT_GT(per_queue[q], 0u) << "queue " << q;
  EXPECT_EQ(drv->stats().rx_dropped, 0u);
}

// The hash by table follows the key: a key written after init gives what
// the bit-by-bit definition (7.1.2.8.1) gives.
uint32_t toeplitz_bitwise(const uint8_t key[40], const uint8_t* input, int n) {
  uint32_t hash = 0;
  for (int bit = 0; bit < 8 * n; ++bit) {
    if (!(input[bit / 8] & (0x80 >> (bit % 8)))) continue;
    uint32_t window = 0;
    for (int j = 0; j < 32; ++j) window = window << 1 | ((key[(bit + j) / 8] >> (7 - (bit + j) % 8)) & 1u);
    hash ^= window;
  }
  return hash;
}

TEST(Ixgbe, RssHashFollowsAKeyWrittenAfterInit) {
  auto dev = port("sink");
  auto drv = driver(*dev, 4);
  uint8_t key[40];
  for (int i = 0; i < 40; ++i) key[i] = static_cast<uint8_t>(i * 37 + 11);
  for (uint32_t i = 0; i < 10; ++i) {
    uint32_t k;
    std::memcpy(&k, key + 4 * i, 4);
    dev->write32(reg::RSSRK(i), k);
  }
  uint8_t frame[64] = {};
  frame[12] = 0x08;
  uint8_t* ip = frame + 14;
  ip[0] = 0x45;
  for (uint32_t t = 0; t < 200; ++t) {
    ip[9] = t % 2 ? 17 : 1;   // UDP (addresses and ports) or ICMP (addresses only)
    for (int i = 0; i < 12; ++i) ip[12 + i] = static_cast<uint8_t>(t * 13 + i * 71);
    uint32_t hash = 0;
    ASSERT_GE(model(*dev).rss_queue(frame, sizeof frame, &hash), 0);
    EXPECT_EQ(hash, toeplitz_bitwise(key, ip + 12, t % 2 ? 12 : 8)) << "input " << t;
  }
}

// Statistics count per batch inside the model; what the registers say is
// still every frame and octet (with CRC), and reading clears them.
TEST(Ixgbe, GeneratedFramesAreCountedAndTheCountersClearOnRead) {
  auto dev = port("gen:count=100");
  auto drv = driver(*dev);
  auto in = net::PacketBatch::make();
  for (int i = 0; i < 32; ++i) ASSERT_TRUE(in.push_back(RRef<net::Packet>::make()));
  uint64_t got = 0;
  for (int spins = 0; got < 100 && spins < 10000; ++spins) {
    uint32_t n = drv->rx(0, in);
    if (n == 0) drv->idle();
    got += n;
  }
  ASSERT_EQ(got, 100u);
  EXPECT_EQ(dev->read32(reg::GPRC), 100u);
  EXPECT_EQ(dev->read32(reg::GORCL), 100u * 64);
  EXPECT_EQ(dev->read32(reg::GPRC), 0u) << "clear on read";
  EXPECT_EQ(dev->read32(reg::GORCL), 0u);
}

// A frame in three descriptors (EOP on the last) leaves the port as one
// frame; every descriptor is written back and TDH moves past them.  The
// driver sends one descriptor per frame, so queue 1 is programmed by hand.
TEST(Ixgbe, TransmitGathersAFrameSpanningDescriptors) {
  auto dev = port("loopback");
  auto drv = driver(*dev);
  auto ring = RRefArray<TxDesc, 8>::make_aligned(128);
  std::vector<RRef<net::Packet>> bufs;
  for (int i = 0; i < 5; ++i) bufs.push_back(RRef<net::Packet>::make());
  const uint16_t parts[5] = {100, 200, 300, 14, 50};   // a frame of 600 bytes, then one of 64
  uint32_t at = 0;
  for (int i = 0; i < 5; ++i) {
    for (uint16_t b = 0; b < parts[i]; ++b) bufs[i]->data[b] = static_cast<uint8_t>((at + b) * 7);
    if (i == 0 || i == 3) {   // not IPv4 (RSS leaves them on queue 0)
      bufs[i]->data[12] = 0x88;
      bufs[i]->data[13] = 0xb5;
    }
    const bool eop = i == 2 || i == 4;
    ring[i] = TxDesc{pci::Device::iova(bufs[i]->data.data()),
                     txd_qw1(TXD_DCMD_DEXT | TXD_DTYP_DATA | TXD_DCMD_IFCS | (eop ? TXD_DCMD_EOP | TXD_DCMD_RS : 0) | parts[i], 0)};
    at = eop ? 0 : at + parts[i];
  }
  for (int i = 5; i < 8; ++i) ring[i] = TxDesc{0, 0};
  const uint64_t base = pci::Device::iova(ring.data());
  dev->write32(reg::TDBAL(1), static_cast<uint32_t>(base));
  dev->write32(reg::TDBAH(1), static_cast<uint32_t>(base >> 32));
  dev->write32(reg::TDLEN(1), 8 * sizeof(TxDesc));
  dev->write32(reg::TDH(1), 0);
  dev->write32(reg::TDT(1), 0);
  dev->write32(reg::TXDCTL(1), TXDCTL_ENABLE);
  dev->write32(reg::TDT(1), 5);
  EXPECT_EQ(dev->read32(reg::TDH(1)), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(txd_status(ring[i].qw1) & TXD_STAT_DD) << "descriptor " << i;
  auto in = net::PacketBatch::make();
  for (int i = 0; i < 32; ++i) ASSERT_TRUE(in.push_back(RRef<net::Packet>::make()));
  ASSERT_EQ(drv->rx(0, in), 2u);
  ASSERT_EQ(in[0]->len, 600);
  ASSERT_EQ(in[1]->len, 64);
  for (uint32_t b = 0; b < 600; ++b) {
    if (b == 12 || b == 13) continue;   // the EtherType set above
    ASSERT_EQ(in[0]->data[b], static_cast<uint8_t>(b * 7)) << "byte " << b;
  }
  for (uint32_t b = 14; b < 64; ++b) ASSERT_EQ(in[1]->data[b], static_cast<uint8_t>(b * 7)) << "byte " << b;
  auto st = drv->stats();
  EXPECT_EQ(st.tx_packets, 2u);
  EXPECT_EQ(st.tx_bytes, 600u + 64 + 8) << "octets with CRC";
  EXPECT_EQ(model(*dev).driver_errors(), 0u);
}

// Two paired ports transmitting to each other from two threads at once: a
// transmit holds both ports' locks, taken together, so neither thread
// waits for the other forever; every frame is received or counted missed.
TEST(Ixgbe, PairedPortsSendingToEachOtherAtOnceLoseNothingUncounted) {
  auto a = port("pair:both-ways");
  auto b = port("pair:both-ways");
  auto da = driver(*a);
  auto db = driver(*b);
  constexpr uint64_t kFrames = 20000;
  struct Side {
    uint64_t sent = 0, received = 0;
  };
  auto run = [&](Driver& d, Side& side) {
    auto out = net::PacketBatch::make();
    auto in = net::PacketBatch::make();
    for (int i = 0; i < 32; ++i) {
      (void)out.push_back(RRef<net::Packet>::make());
      (void)in.push_back(RRef<net::Packet>::make());
    }
    for (int spins = 0; side.sent < kFrames && spins < 1000000; ++spins) {
      for (std::size_t i = 0; i < out.size(); ++i)
        if (out[i]->len == 0) fill(*out[i], 64, static_cast<uint32_t>(side.sent + i));
      side.sent += d.tx(0, out);
      side.received += d.rx(0, in);
    }
  };
  Side sa, sb;
  std::thread tb([&] { run(*db, sb); });
  run(*da, sa);
  tb.join();
  ASSERT_EQ(sa.sent, kFrames);
  ASSERT_EQ(sb.sent, kFrames);
  auto in = net::PacketBatch::make();
  for (int i = 0; i < 32; ++i) ASSERT_TRUE(in.push_back(RRef<net::Packet>::make()));
  for (uint32_t n; (n = da->rx(0, in)) > 0;) sa.received += n;
  for (uint32_t n; (n = db->rx(0, in)) > 0;) sb.received += n;
  EXPECT_EQ(sb.received + db->stats().rx_dropped, kFrames);
  EXPECT_EQ(sa.received + da->stats().rx_dropped, kFrames);
  EXPECT_EQ(model(*a).driver_errors() + model(*b).driver_errors(), 0u);
}

TEST(Ixgbe, OversizeFramesAreDroppedAndCountedNotBlamedOnTheDriver) {
  auto dev = port("sink");
  auto drv = driver(*dev);
  std::vector<uint8_t> jumbo(1600, 0xAB);
  EXPECT_FALSE(model(*dev).receive(jumbo.data(), static_cast<uint32_t>(jumbo.size())));
  EXPECT_EQ(drv->stats().rx_dropped, 1u);
  EXPECT_EQ(model(*dev).driver_errors(), 0u);
}

TEST(Ixgbe, BadWireOptionsAreRefusedWithTheReason) {
  std::string err;
  EXPECT_FALSE(pci::open("sim:ixgbe,wire=gen:size=20", &err));
  EXPECT_NE(err.find("size=20"), std::string::npos) << err;
  EXPECT_FALSE(pci::open("sim:ixgbe,wire=gen:size=1000-100", &err));
  EXPECT_FALSE(pci::open("sim:ixgbe,wire=gen:speed=9", &err));
  EXPECT_NE(err.find("rate=MPPS"), std::string::npos) << err;
  EXPECT_FALSE(pci::open("sim:ixgbe,wire=tap:a-name-longer-than-fifteen", &err));
  EXPECT_NE(err.find("1 to 15 characters"), std::string::npos) << err;
  EXPECT_FALSE(pci::open("sim:ixgbe,wire=cable", &err));
  EXPECT_NE(err.find("wire=tap:IFNAME"), std::string::npos) << err;
}

// The RSS verification vectors published with the Microsoft key (the one the
// driver programs): 66.9.149.187:2794 -> 161.142.100.80:1766.
TEST(Ixgbe, RssFollowsTheToeplitzHashOfThePublishedVectors) {
  auto dev = port("sink");
  auto drv = driver(*dev, 4);
  uint8_t frame[64] = {};
  frame[12] = 0x08;
  frame[13] = 0x00;
  uint8_t* ip = frame + 14;
  ip[0] = 0x45;
  ip[9] = 6;   // TCP
  const uint8_t src[] = {66, 9, 149, 187}, dst[] = {161, 142, 100, 80};
  std::memcpy(ip + 12, src, 4);
  std::memcpy(ip + 16, dst, 4);
  ip[20] = 2794 >> 8;
  ip[21] = 2794 & 0xFF;
  ip[22] = 1766 >> 8;
  ip[23] = 1766 & 0xFF;
  uint32_t hash = 0;
  int q = model(*dev).rss_queue(frame, sizeof frame, &hash);
  EXPECT_EQ(hash, 0x51ccc178u) << "IPv4 + TCP ports";
  EXPECT_EQ(q, static_cast<int>((hash & 127) % 4)) << "the redirection table round-robins 4 queues";
  ip[9] = 1;   // ICMP: addresses only
  model(*dev).rss_queue(frame, sizeof frame, &hash);
  EXPECT_EQ(hash, 0x323e8fc2u) << "IPv4 addresses only";
}

// Frames a port transmits into a pcap file are valid Ethernet frames to
// tshark, and a port fed from that file receives them intact.
TEST(Ixgbe, PcapWireWritesWhatTsharkReadsAndReplaysIt) {
  char path[] = "/tmp/rl-ixgbe-XXXXXX.pcap";
  int fd = mkstemps(path, 5);
  ASSERT_GE(fd, 0);
  close(fd);
  constexpr uint32_t kFrames = 10;
  {
    auto dev = port(std::string("pcap:") + path);
    auto drv = driver(*dev);
    auto batch = net::PacketBatch::make();
    for (uint32_t i = 0; i < kFrames; ++i) {
      auto p = RRef<net::Packet>::make();
      fill(*p, static_cast<uint16_t>(60 + 100 * i), i);
      const uint8_t eth[14] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5};   // local experimental EtherType
      std::memcpy(p->data.data(), eth, sizeof eth);
      ASSERT_TRUE(batch.push_back(std::move(p)));
    }
    ASSERT_EQ(drv->tx(0, batch), kFrames);
  }
  std::string cmd = std::string("tshark -r ") + path + " -T fields -e frame.len -e eth.type 2>/dev/null";
  FILE* t = popen(cmd.c_str(), "r");
  ASSERT_NE(t, nullptr);
  char line[256];
  uint32_t n = 0;
  while (fgets(line, sizeof line, t)) {
    unsigned len = 0, type = 0;
    ASSERT_EQ(sscanf(line, "%u\t0x%x", &len, &type), 2) << line;
    EXPECT_EQ(len, 60 + 100 * n);
    EXPECT_EQ(type, 0x88b5u);
    ++n;
  }
  EXPECT_EQ(pclose(t), 0) << "tshark failed on " << path;
  EXPECT_EQ(n, kFrames) << "tshark read every frame";

  std::string err;
  auto dev = pci::open(std::string("sim:ixgbe,wire=sink,pcap-in=") + path, &err);
  ASSERT_TRUE(dev) << err;
  auto nic = make_ixgbe_net(driver(*dev));
  auto in = net::PacketBatch::make();
  for (uint32_t i = 0; i < 32; ++i) ASSERT_TRUE(in.push_back(RRef<net::Packet>::make()));
  auto first = nic->submit_and_poll(std::move(in), false);   // nothing yet: the port reads the file
  auto got = nic->submit_and_poll(std::move(first.value()), false);
  ASSERT_TRUE(got.ok());
  for (uint32_t i = 0; i < kFrames; ++i) {
    EXPECT_EQ((*got)[i]->len, 60 + 100 * i);
    EXPECT_EQ((*got)[i]->data[20], static_cast<uint8_t>(i * 31 + 20));
  }
  EXPECT_EQ((*got)[kFrames]->len, 0) << "the file held ten frames";
  unlink(path);
}

TEST(Ixgbe, TheDriverRunsAsADomain) {
  std::string err;
  auto a = pci::attach(port("pair:domain"));
  auto b = pci::attach(port("pair:domain"));
  const char* dir = std::getenv("RL_IXGBE_DOMAIN_DIR");
  std::string so = std::string(dir ? dir : ".") + "/ixgbe.so";
  LoadError lerr;
  auto nic_a = net::load_ixgbe(so, "ixgbe-a", net::IxgbeInit{a, 1, 1}, &lerr);
  ASSERT_TRUE(nic_a) << lerr.message;
  auto nic_b = net::load_ixgbe(so, "ixgbe-b", net::IxgbeInit{b, 1, 1}, &lerr);
  ASSERT_TRUE(nic_b) << lerr.message;
  EXPECT_EQ(nic_a.proxy->link()->up, 1u);
  auto out = net::PacketBatch::make();
  for (uint32_t i = 0; i < 32; ++i) {
    auto p = RRef<net::Packet>::make();
    fill(*p, 128, i);
    ASSERT_TRUE(out.push_back(std::move(p)));
  }
  auto sent = nic_a.proxy->submit_and_poll(std::move(out), true);
  ASSERT_TRUE(sent.ok());
  auto in = net::PacketBatch::make();
  for (uint32_t i = 0; i < 32; ++i) ASSERT_TRUE(in.push_back(RRef<net::Packet>::make()));
  auto got = nic_b.proxy->submit_and_poll(std::move(in), false);
  ASSERT_TRUE(got.ok());
  for (uint32_t i = 0; i < 32; ++i) {
    EXPECT_EQ((*got)[i]->len, 128);
    EXPECT_EQ((*got)[i]->data[5], static_cast<uint8_t>(i * 31 + 5));
    EXPECT_EQ((*got)[i].owner(), detail::kOwnerContained);
  }
  EXPECT_EQ(nic_b.proxy->stats()->rx_packets, 32u);
  nic_a = {};
  nic_b = {};
  pci::detach(a);
  pci::detach(b);
}

}  // namespace
}  // namespace rl::ixgbe
