// Network devices (RedLeaf's Net): batched packet I/O, link state, statistics.
#pragma once

#include <array>
#include <cstdint>

#include "idl/pci.hpp"
#include "libredleaf/idl.hpp"

namespace rl::net {

inline constexpr uint32_t kMaxFrame = 2048;   // one receive buffer: a 1518-byte frame fits

struct Packet {
  std::array<uint8_t, kMaxFrame> data;
  uint16_t len;
};

inline constexpr std::size_t kNetBatch = 64;   // batches of 1 to 64 frames
using PacketBatch = RRefDeque<RRef<Packet>, kNetBatch>;

struct LinkState {
  uint32_t up;
  uint32_t speed_mbps;
};

struct NetStats {
  uint64_t rx_packets, tx_packets;
  uint64_t rx_bytes, tx_bytes;
  uint64_t rx_dropped, tx_dropped;
};

class RL_INTERFACE Net {
 public:
  virtual ~Net() = default;

  // tx: sends the packets in `packets` and returns the deque with buffers to
  // refill (len 0) in place of the sent ones; frames that did not fit stay,
  // with their len.  !tx: swaps received frames into the deque's buffers; the
  // frames come first, unused buffers follow with len 0.
  RL_BATCHED virtual RpcResult<PacketBatch> submit_and_poll(PacketBatch packets, bool tx) = 0;
  RL_IDEMPOTENT virtual RpcResult<LinkState> link() = 0;
  RL_IDEMPOTENT virtual RpcResult<NetStats> stats() = 0;
  RL_IDEMPOTENT virtual RpcResult<std::array<uint8_t, 6>> mac_address() = 0;
};

struct NullNetInit {
  uint16_t frame_len;   // length of the frames it "receives" (60..kMaxFrame; 0 = 60)
};
// A Net without a device (RedLeaf's null driver, DPDK's net_null): transmit
// accepts everything, receive fills every buffer it is given.
RL_FACTORY Net* create_nullnet(const NullNetInit& init);

struct IxgbeInit {
  pci::DeviceRef device;   // rl::pci::attach(rl::pci::open("sim:ixgbe,..." or "0000:03:00.0"))
  uint32_t rx_queues;      // 0 = 1
  uint32_t tx_queues;      // 0 = 1
};
// The Intel 82599 driver domain (drivers/ixgbe).
RL_FACTORY Net* create_ixgbe(const IxgbeInit& init);

struct E1000eInit {
  pci::DeviceRef device;   // an 82574L: rl::pci::attach(rl::pci::open("0000:00:02.0"))
};
// The Intel 82574L driver domain (drivers/e1000e); QEMU models this NIC as e1000e.
RL_FACTORY Net* create_e1000e(const E1000eInit& init);

}  // namespace rl::net
