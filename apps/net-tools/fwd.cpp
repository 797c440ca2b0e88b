// rl-fwd: forwards every received frame back out of the same port, in
// batches: as received (--mode io, testpmd's io forwarding) or addressed back
// to its sender from the port's address (--mode mac, like testpmd's macswap).
#include <array>
#include <cstring>

#include "apps/net-tools/net_tools.hpp"

using namespace rl;

int main(int argc, char** argv) {
  tools::NetOptions o = tools::parse_net_options(argc, argv);
  tools::Port port(o, "rl-fwd");
  // A first batch on the wire, so a loopback port has something to forward.
  auto q = net::PacketBatch::make();
  for (uint32_t i = 0; i < o.batch; ++i) {
    auto p = RRef<net::Packet>::make();
    p->len = o.size;
    (void)q.push_back(std::move(p));
  }
  std::array<uint8_t, 6> mac{};
  if (o.mac_mode) {
    auto m = port.net().mac_address();
    if (!m.ok()) {
      fprintf(stderr, "rl-fwd: the driver failed (%s)\n", to_string(m.error()));
      return 1;
    }
    mac = m.value();
  }
  tools::Meter meter("rl-fwd");
  bool first = true;
  do {
    if (!first) {
      auto rx = port.net().submit_and_poll(std::move(q), false);
      if (!rx.ok()) {
        fprintf(stderr, "rl-fwd: the driver failed (%s)\n", to_string(rx.error()));
        return 1;
      }
      q = std::move(rx.value());
    }
    first = false;
    uint64_t n = 0, bytes = 0;
    for (std::size_t i = 0; i < q.size() && q[i]->len; ++i, ++n) {
      bytes += q[i]->len;
      if (o.mac_mode && q[i]->len >= 12) {
        uint8_t* f = q[i]->data.data();
        std::memcpy(f, f + 6, 6);           // to the sender
        std::memcpy(f + 6, mac.data(), 6);  // from us
      }
    }
    auto tx = port.net().submit_and_poll(std::move(q), true);
    if (!tx.ok()) {
      fprintf(stderr, "rl-fwd: the driver failed (%s)\n", to_string(tx.error()));
      return 1;
    }
    q = std::move(tx.value());
    meter.add(n, bytes);
  } while (meter.tick(o.seconds));
  meter.summary(o, port.net().stats().value());
  return 0;
}
