// Net (idl/net.hpp) over an Intel NIC driver: transmit on queue 0, receive
// from the RX queues in turn (RSS spreads flows over them).  One class for
// both families; a driver provides rx/tx per queue, rx_queues(), idle(),
// link(), stats() and mac().
#pragma once

#include <memory>

#include "idl/net.hpp"

namespace rl::intel {

template <class Driver>
class RingNet final : public net::Net {
 public:
  explicit RingNet(std::unique_ptr<Driver> d) : drv_(std::move(d)) {}

  RpcResult<net::PacketBatch> submit_and_poll(net::PacketBatch packets, bool tx) override {
    if (!packets) return packets;
    if (tx) {
      (void)drv_->tx(0, packets);
      return packets;
    }
    for (uint32_t tries = 0; tries < drv_->rx_queues(); ++tries) {
      uint32_t q = next_rx_;
      next_rx_ = (next_rx_ + 1) % drv_->rx_queues();
      if (drv_->rx(q, packets) > 0) return packets;
    }
    drv_->idle();
    return packets;
  }
  RpcResult<net::LinkState> link() override { return drv_->link(); }
  RpcResult<net::NetStats> stats() override { return drv_->stats(); }
  RpcResult<std::array<uint8_t, 6>> mac_address() override { return drv_->mac(); }

 private:
  std::unique_ptr<Driver> drv_;
  uint32_t next_rx_ = 0;
};

}  // namespace rl::intel
