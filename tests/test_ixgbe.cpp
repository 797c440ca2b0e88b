// The 82599 driver on the simulated port: init state, frames of every size
// through a loopback pair, RSS against the published test vectors, ring
// full/empty edges, and the driver as a domain.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

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
