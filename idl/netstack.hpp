// The network stack (TCP/UDP/IPv4/ARP/ICMP) as a domain, with a small
// sockets-like API whose payloads move as RRefs.
//
// The stack never calls a driver itself: frames go in and out through
// exchange(), and trusted code (domains/netstack/pump.hpp) moves them between
// the stack and a Net -- a driver domain, or its shadow.  So the stack works
// unchanged over ixgbe, nullnet or a shadow, and a driver crash never unwinds
// through the stack.
//
// Sockets are small integers.  Calls never block: "nothing yet" is -EAGAIN.
// events() reports each socket once per change (edge-triggered, as epoll's
// EPOLLET): after an event, call recv/accept until -EAGAIN.
#pragma once

#include <array>
#include <cstdint>

#include "idl/net.hpp"
#include "libredleaf/idl.hpp"

namespace rl::netstack {

// One payload: 16 KiB is eleven full TCP segments, one large UDP datagram
// (memcached's are at most 1400 bytes) or a small file with its headers.
inline constexpr uint32_t kChunkBytes = 16384;

struct Chunk {
  std::array<uint8_t, kChunkBytes> data;
  uint32_t len;        // bytes in data
  int32_t status;      // after a call: bytes moved (> 0), 0 = end of stream, or -errno
  uint32_t peer_ip;    // UDP: the sender (recv) or destination (send), host order
  uint16_t peer_port;  // UDP, host order
};

// What happened to a socket (bits of Event::what).
inline constexpr uint32_t kReadable = 1;    // data or end of stream to recv, or a connection to accept
inline constexpr uint32_t kWritable = 2;    // send has room again after returning less than asked
inline constexpr uint32_t kClosed = 4;      // reset by the peer or by a timeout: close() it

struct Event {
  int32_t socket;
  uint32_t what;
};
inline constexpr std::size_t kMaxEvents = 64;
struct Events {
  std::array<Event, kMaxEvents> list;
  uint32_t count;
  uint32_t more;       // 1 when more events wait: call events() again
};

struct StackStats {
  uint64_t frames_in, frames_out;
  uint64_t frames_dropped_out;      // no buffer to send them in before the queue limit
  uint64_t tcp_accepted, tcp_open;
  uint64_t udp_in, udp_out;
};

struct NetStackInit {
  std::array<uint8_t, 6> mac;   // the port's address (Net::mac_address)
  uint32_t ip;                  // host byte order
  uint32_t netmask;
  uint32_t gateway;             // 0 = none
  uint32_t max_sockets;         // 0 = 1024
};

class RL_INTERFACE NetStack {
 public:
  virtual ~NetStack() = default;

  // Frames in, frames out.  Takes the received frames of `frames` (len > 0;
  // the Net's receive result as it is), runs the stack's timers, and returns
  // the deque with frames to transmit first (len > 0), then empty buffers.
  RL_BATCHED virtual RpcResult<net::PacketBatch> exchange(net::PacketBatch frames) = 0;
  virtual RpcResult<Events> events() = 0;

  // TCP.  Return a socket, or -errno.
  virtual RpcResult<int32_t> tcp_listen(uint16_t port, uint32_t backlog) = 0;
  virtual RpcResult<int32_t> accept(int32_t listener) = 0;
  // Fills `buf` (status = bytes, 0 at end of stream, -EAGAIN, -ECONNRESET).
  virtual RpcResult<RRef<Chunk>> recv(int32_t socket, RRef<Chunk> buf) = 0;
  // Queues data[0, len); status = bytes taken (maybe fewer: wait for
  // kWritable), or -errno.  The chunk comes back to be reused.
  virtual RpcResult<RRef<Chunk>> send(int32_t socket, RRef<Chunk> data) = 0;
  // Sends what is queued, then FIN; the socket number is free at once.
  virtual RpcResult<int32_t> close(int32_t socket) = 0;

  // UDP.
  virtual RpcResult<int32_t> udp_bind(uint16_t port) = 0;
  virtual RpcResult<RRef<Chunk>> udp_recv(int32_t socket, RRef<Chunk> buf) = 0;
  virtual RpcResult<RRef<Chunk>> udp_send(int32_t socket, RRef<Chunk> datagram) = 0;

  RL_IDEMPOTENT virtual RpcResult<StackStats> stats() = 0;
};

// domains/netstack: lwIP (Debian's liblwip) behind this interface.
RL_FACTORY NetStack* create_netstack(const NetStackInit& init);

}  // namespace rl::netstack
