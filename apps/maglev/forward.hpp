// The Maglev forwarder (Eisenbud et al., NSDI '16, section 3): for each
// received IPv4 TCP or UDP frame, the 5-tuple's hash; the connection
// tracking table first, the lookup table for a new connection; then the
// frame is readdressed to the backend and goes back out of the same port.
//
// Readdressing, not encapsulation: the paper wraps each packet in GRE so the
// backend sees the original destination (the VIP) and answers clients
// directly.  We rewrite the destination MAC and IPv4 address instead, as
// RedLeaf's and DPDK's Maglev benchmarks do: the frame keeps its size (no
// 24-byte shift, no MTU question), two checksums are patched in place
// (RFC 1624), and the backend answers through a reverse translation.
//
// Frames that are not IPv4 TCP/UDP, are cut short, have a bad header or are
// fragments (no ports to hash) are dropped and counted; nothing is read
// past a frame's len.  The incoming IPv4 checksum is not verified: the
// incremental update keeps an error an error, so the backend drops it.
//
// One forwarding thread, no allocation, lock, exception or log line per
// frame.  A new backend set arrives between batches (install()).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "apps/maglev/backends.hpp"
#include "apps/maglev/conntrack.hpp"
#include "idl/net.hpp"
#include "libredleaf/rref.hpp"

namespace rl::maglev {

// Why a frame was not forwarded (Forward: it was).
enum class Verdict : uint8_t { Forward, NotIpv4, Truncated, BadHeader, Fragment, NotTcpUdp, kCount };
const char* to_string(Verdict v);

// What the forwarder keeps of a frame between its two passes over a batch
// (no initialisers: a batch's worth is on the stack for each batch).
struct Parsed {
  Verdict verdict;
  uint8_t proto;
  uint16_t l4;   // offset of the TCP/UDP header in the frame
  FlowKey key;
};

inline constexpr uint16_t kEthHeader = 14;
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint8_t kTcp = 6, kUdp = 17;

// Reads the headers of a frame of `len` bytes (never beyond).
Parsed parse(const uint8_t* frame, uint16_t len);

// The 5-tuple's 64-bit hash: the low 32 bits index the lookup table, the high
// bits pick the connection tracking bucket.
uint64_t flow_hash(const FlowKey& key);

// RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), for a 32-bit field changing from
// `from` to `to` (all in network byte order as loaded from the frame).
uint16_t checksum_replace32(uint16_t check_be, uint32_t from_be, uint32_t to_be);

// Readdresses a parsed, forwardable frame to `d` from `src_mac`: Ethernet
// addresses, IPv4 destination, IPv4 header checksum, TCP/UDP checksum (a UDP
// checksum of 0, "none", stays 0).
void rewrite(uint8_t* frame, const Parsed& p, const Dest& d, const std::array<uint8_t, 6>& src_mac);

struct ForwarderConfig {
  uint64_t conntrack_entries = uint64_t{1} << 21;   // 32 MiB; room for Maglev's million-flow benchmark
  uint32_t idle_epochs = 60;                        // with one epoch a second: a minute
  std::array<uint8_t, 6> port_mac{};                // the source address of what we send
};

class Forwarder {
 public:
  struct Counters {
    uint64_t in = 0, forwarded = 0;
    std::array<uint64_t, static_cast<size_t>(Verdict::kCount)> dropped{};   // by Verdict; [Forward] unused
    uint64_t rehomed = 0;   // tracked connections whose backend was gone: sent to a new one
    uint64_t dropped_total() const;
  };

  Forwarder(const ForwarderConfig& cfg, std::unique_ptr<const Snapshot> backends);

  // Readdresses the received frames at the front of `q` (they end at the
  // first len 0) and empties (len 0) those it drops, which the driver then
  // skips.  Returns how many it forwards.
  uint32_t process(net::PacketBatch& q);
  // One frame: the same path, for tests.
  Verdict process_one(uint8_t* frame, uint16_t len);

  // A new backend set (between batches).  Connections tracked to backends
  // still present keep them (section 3.3); those of removed ones move.
  void install(std::unique_ptr<const Snapshot> backends);
  // The connection tracker's clock (absolute epochs); not per packet.
  void advance(uint64_t epoch) { ct_.advance(epoch); }

  const Counters& counters() const { return c_; }
  const ConnTrack& conntrack() const { return ct_; }
  const Snapshot& backends() const { return *snap_; }
  // Frames sent to each backend, by name, removed ones included.
  std::map<std::string, uint64_t> per_backend() const;

 private:
  // The backend for one parsed frame: tracked, else from the table.
  const Dest& choose(const FlowKey& key, uint64_t hash);

  ForwarderConfig cfg_;
  ConnTrack ct_;
  std::unique_ptr<const Snapshot> snap_;
  Counters c_;
  std::array<uint64_t, kMaxBackends> per_slot_{};
  std::map<std::string, uint64_t> retired_;   // counts of backends no longer in a slot
};

}  // namespace rl::maglev
