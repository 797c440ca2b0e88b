// Net over the 82599 driver: transmit on queue 0, receive from the RX queues
// in turn (RSS spreads flows over them).
#include "drivers/ixgbe/net.hpp"

namespace rl::ixgbe {
namespace {

class IxgbeNet final : public net::Net {
 public:
  explicit IxgbeNet(std::unique_ptr<Driver> d) : drv_(std::move(d)) {}

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

}  // namespace

std::unique_ptr<net::Net> make_ixgbe_net(std::unique_ptr<Driver> driver) {
  return std::make_unique<IxgbeNet>(std::move(driver));
}

}  // namespace rl::ixgbe
