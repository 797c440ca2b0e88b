// rl-pktgen: transmits frames of one size as fast as the port takes them.
#include "apps/net-tools/net_tools.hpp"

using namespace rl;

int main(int argc, char** argv) {
  tools::NetOptions o = tools::parse_net_options(argc, argv);
  tools::Port port(o, "rl-pktgen");
  auto q = net::PacketBatch::make();
  for (uint32_t i = 0; i < o.batch; ++i) (void)q.push_back(RRef<net::Packet>::make());
  tools::Meter meter("rl-pktgen");
  do {
    for (std::size_t i = 0; i < q.size(); ++i) {
      q[i]->len = o.size;
      q[i]->data[12] = 0x88;   // a local experimental EtherType
      q[i]->data[13] = 0xb5;
    }
    auto r = port.net().submit_and_poll(std::move(q), true);
    if (!r.ok()) {
      fprintf(stderr, "rl-pktgen: the driver failed (%s)\n", to_string(r.error()));
      return 1;
    }
    q = std::move(r.value());
    uint64_t sent = 0;
    for (std::size_t i = 0; i < q.size(); ++i) sent += q[i]->len == 0;   // sent buffers come back empty
    meter.add(sent, sent * o.size);
  } while (meter.tick(o.seconds));
  meter.summary(o, port.net().stats().value());
  return 0;
}
