// The null network device, linked and as a domain: what Net users rely on.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "domains/nullnet/nullnet.hpp"
#include "idl/net.rl.hpp"

namespace rl::net {
namespace {

PacketBatch full_batch(std::size_t n) {
  auto q = PacketBatch::make();
  for (std::size_t i = 0; i < n; ++i) EXPECT_TRUE(q.push_back(RRef<Packet>::make()));
  return q;
}

// The same checks for the linked object and the domain's proxy.
void receive_then_transmit(Net& dev, uint16_t frame_len) {
  auto rx = dev.submit_and_poll(full_batch(kNetBatch), false);
  ASSERT_TRUE(rx.ok());
  PacketBatch q = std::move(rx.value());
  ASSERT_EQ(q.size(), kNetBatch);
  for (std::size_t i = 0; i < q.size(); ++i) {
    EXPECT_EQ(q[i]->len, frame_len);
    EXPECT_EQ(q[i]->data[12], 0x08);   // an IPv4 EtherType
    EXPECT_EQ(q[i]->data[13], 0x00);
    EXPECT_EQ(q[i].owner(), detail::kOwnerContained) << "packets in the deque move with it";
  }
  EXPECT_EQ(q.owner(), 0u) << "the batch came back to the caller";
  auto tx = dev.submit_and_poll(std::move(q), true);
  ASSERT_TRUE(tx.ok());
  q = std::move(tx.value());
  ASSERT_EQ(q.size(), kNetBatch) << "every buffer comes back for refilling";
  for (std::size_t i = 0; i < q.size(); ++i) EXPECT_EQ(q[i]->len, 0);
  auto st = dev.stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->rx_packets, kNetBatch);
  EXPECT_EQ(st->tx_packets, kNetBatch);
  EXPECT_EQ(st->tx_bytes, kNetBatch * frame_len);
  EXPECT_EQ(dev.link()->up, 1u);
  EXPECT_EQ((*dev.mac_address())[0] & 0x02, 0x02) << "a locally administered address";
}

TEST(NullNet, Linked) {
  auto dev = make_nullnet(NullNetInit{128});
  receive_then_transmit(*dev, 128);
  EXPECT_EQ(make_nullnet(NullNetInit{0})->submit_and_poll(full_batch(1), false).value()[0]->len, 60)
      << "the minimum Ethernet frame by default";
}

TEST(NullNet, AsADomain) {
  const char* dir = std::getenv("RL_NULLNET_DOMAIN_DIR");
  LoadError err;
  auto l = load_nullnet(std::string(dir ? dir : ".") + "/nullnet.so", "nullnet", NullNetInit{1514}, &err);
  ASSERT_TRUE(l) << err.message;
  receive_then_transmit(*l.proxy, 1514);
  auto before = shared_heap_stats();
  l.domain->kill();
  auto r = l.proxy->submit_and_poll(full_batch(4), true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), RpcError::DomainFailed);
  EXPECT_EQ(shared_heap_stats().objects_in_use, before.objects_in_use) << "the refused batch was freed";
}

}  // namespace
}  // namespace rl::net
