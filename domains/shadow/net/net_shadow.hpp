// The network shadow (design.md §7): the Net interface in front of an ixgbe
// or nullnet driver domain.  It forwards every call; when the driver fails
// it resets the device, restarts the driver and answers the call as if
// nothing had happened:
//  - receive: the caller's buffers come back, empty (frames arriving during
//    the crash are lost, as on a NIC reset);
//  - transmit: frames the driver had not taken are sent again, once; if
//    that fails too they come back unsent, with their lengths.  Frames the
//    driver had already taken into its ring when it crashed may or may not
//    have reached the wire (the device is reset): they are counted in
//    unknown_fate(), never resent.  So no frame is on the wire twice.
// One DequeHold per call keeps the batch -- as the driver left it -- alive
// through the driver's death; the frames passed in are remembered by
// address so that only those the driver never touched are resent.
// Packet and byte counts are the shadow's own (they continue across
// restarts, which reset the device's counters); drop counts are the
// driver's, as far as it reported them before dying.  Trusted code, one thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <vector>

#include "idl/net.rl.hpp"
#include "libredleaf/domain.hpp"
#include "domains/shadow/recovery.hpp"
#include "libredleaf/hold.hpp"

namespace rl::net {

class NetDeviceShadow final : public Net {
 public:
  struct Config {
    uint32_t max_attempts = 5;
    std::chrono::microseconds backoff{100};
  };
  // `device` may be {0} for a driver without one (nullnet).
  NetDeviceShadow(Domain& driver, pci::DeviceRef device, Config cfg);
  NetDeviceShadow(Domain& driver, pci::DeviceRef device) : NetDeviceShadow(driver, device, Config{}) {}

  RpcResult<PacketBatch> submit_and_poll(PacketBatch packets, bool tx) override;
  RpcResult<LinkState> link() override;
  RpcResult<NetStats> stats() override;
  RpcResult<std::array<uint8_t, 6>> mac_address() override;

  uint64_t recoveries() const noexcept { return log_.count(); }
  uint64_t resent() const noexcept { return resent_; }
  uint64_t unsent_after_failed_resend() const noexcept { return unsent_; }
  // Frames a driver had taken when it crashed (in its ring, maybe sent):
  // returned as sent, though the wire may not have seen them.
  uint64_t unknown_fate() const noexcept { return unknown_fate_; }
  const std::vector<uint64_t>& recovery_ns() const noexcept { return log_.ns(); }
  // The device's own counters, summed over the driver's incarnations as far
  // as each reported them (stats() refreshes the current one's): what the
  // NIC counted, for comparison with the other end of the wire.
  NetStats device_stats() const noexcept;

 private:
  bool restart_driver();
  template <class F>
  auto with_recovery(F&& call) -> decltype(call());
  // After a failed call: the batch back, frames to resend or buffers emptied.
  RpcResult<PacketBatch> recover(DequeHold<RRef<Packet>, kNetBatch>& hold, bool tx);
  bool untouched(const RRef<Packet>& p) const;
  void count(const PacketBatch& q, bool tx, uint64_t frames_in, uint64_t bytes_in);

  Domain& domain_;
  NetProxy proxy_;
  Config cfg_;
  std::array<const Packet*, kNetBatch> sent_{};   // the frames a transmit call passed in
  std::array<uint16_t, kNetBatch> sent_len_{};
  NetStats counted_{};                            // what passed through the shadow
  NetStats base_{}, last_{};                      // device counters of earlier incarnations, the last seen
  uint64_t resent_ = 0, unsent_ = 0, unknown_fate_ = 0;
  shadow::RecoveryLog log_;
};

}  // namespace rl::net
