// rl-responder: answers ARP and ping for --ip on a port, so `ping` on a TAP
// interface reaches the driver (directly or through its domain) and back.
#include "apps/net-tools/answer.hpp"
#include "apps/net-tools/net_tools.hpp"

using namespace rl;

int main(int argc, char** argv) {
  tools::NetOptions o = tools::parse_net_options(argc, argv);
  if (o.ip == 0) tools::usage(argv[0], "--ip A.B.C.D is required: the address to answer for");
  tools::Port port(o, "rl-responder");
  auto mac = port.net().mac_address();
  if (!mac.ok()) {
    fprintf(stderr, "rl-responder: the driver failed (%s)\n", to_string(mac.error()));
    return 1;
  }
  const auto& m = mac.value();
  fprintf(stderr, "rl-responder: answering ARP and ping for %u.%u.%u.%u at %02x:%02x:%02x:%02x:%02x:%02x\n",
          o.ip >> 24, (o.ip >> 16) & 0xFF, (o.ip >> 8) & 0xFF, o.ip & 0xFF, m[0], m[1], m[2], m[3], m[4], m[5]);
  auto q = net::PacketBatch::make();
  for (uint32_t i = 0; i < o.batch; ++i) (void)q.push_back(RRef<net::Packet>::make());
  tools::Meter meter("rl-responder");
  do {
    auto rx = port.net().submit_and_poll(std::move(q), false);
    if (!rx.ok()) {
      fprintf(stderr, "rl-responder: the driver failed (%s)\n", to_string(rx.error()));
      return 1;
    }
    q = std::move(rx.value());
    uint64_t answered = 0, bytes = 0;
    for (std::size_t i = 0; i < q.size() && q[i]->len; ++i) {
      q[i]->len = tools::answer(q[i]->data.data(), q[i]->len, m, o.ip);   // 0: not sent
      answered += q[i]->len != 0;
      bytes += q[i]->len;
    }
    if (answered) {
      auto tx = port.net().submit_and_poll(std::move(q), true);
      if (!tx.ok()) {
        fprintf(stderr, "rl-responder: the driver failed (%s)\n", to_string(tx.error()));
        return 1;
      }
      q = std::move(tx.value());
    }
    for (std::size_t i = 0; i < q.size(); ++i) q[i]->len = 0;   // every buffer free for the next receive
    meter.add(answered, bytes);
  } while (meter.tick(o.seconds));
  meter.summary(o, port.net().stats().value());
  return 0;
}
