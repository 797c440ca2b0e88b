// The null network device: what a Net costs without a device.
//
// Transmit counts the packets and hands every buffer back for reuse; receive
// fills each empty buffer with a frame (a fixed Ethernet/IPv4/UDP header, so
// forwarding code sees real headers) and hands it back.
#include "domains/nullnet/nullnet.hpp"

#include <algorithm>
#include <cstring>

namespace rl::net {
namespace {

constexpr std::array<uint8_t, 6> kMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};   // locally administered
constexpr uint16_t kMinFrame = 60;

class NullNet final : public Net {
 public:
  explicit NullNet(uint16_t frame_len) : len_(frame_len ? std::clamp<uint16_t>(frame_len, kMinFrame, kMaxFrame) : kMinFrame) {
    // dst, src, IPv4, then an IPv4/UDP header with fixed addresses and ports.
    const uint8_t header[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00,
                              0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
                              0x30, 0x39, 0x30, 0x39, 0, 26, 0, 0};
    std::memcpy(template_.data(), header, sizeof header);
  }

  RpcResult<PacketBatch> submit_and_poll(PacketBatch packets, bool tx) override {
    if (!packets) return packets;
    const std::size_t n = packets.size();
    if (tx) {
      for (std::size_t i = 0; i < n; ++i) {
        stats_.tx_bytes += packets[i]->len;
        packets[i]->len = 0;   // sent: the buffer comes back empty, for refilling
      }
      stats_.tx_packets += n;
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        Packet& p = *packets[i];
        std::memcpy(p.data.data(), template_.data(), 42);   // the headers; the payload is whatever was there
        p.len = len_;
      }
      stats_.rx_packets += n;
      stats_.rx_bytes += n * len_;
    }
    return packets;
  }
  RpcResult<LinkState> link() override { return LinkState{1, 10000}; }
  RpcResult<NetStats> stats() override { return stats_; }
  RpcResult<std::array<uint8_t, 6>> mac_address() override { return kMac; }

 private:
  uint16_t len_;
  std::array<uint8_t, 42> template_{};
  NetStats stats_{};
};

}  // namespace

std::unique_ptr<Net> make_nullnet(const NullNetInit& init) { return std::make_unique<NullNet>(init.frame_len); }

}  // namespace rl::net
