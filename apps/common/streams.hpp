// Byte streams over the network stack's sockets, for servers written as
// event handlers: reading everything a socket has, output that waits in a
// buffer while the peer's window is full, and closing once it is sent.
// Trusted application code; one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "idl/netstack.rl.hpp"

namespace rl::app {

class Streams {
 public:
  explicit Streams(netstack::NetStack& stack);

  // A new connection (from accept): its stream starts empty.
  void adopt(int32_t s);
  // Until close: the socket number is ours.  After it, the stack may give
  // the number to a new connection, so state kept by socket number must go.
  bool is_open(int32_t s) const;

  enum class ReadState { Open, End, Reset };
  // Appends what the socket has (at most `max` bytes more than `in` holds
  // already -- the rest waits in the stack, under TCP flow control).
  ReadState read(int32_t s, std::string& in, std::size_t max);

  // Sends `bytes` after what is waiting; what does not fit now waits for
  // the socket's kWritable event (call flush then).  False if the
  // connection is gone.
  bool write(int32_t s, std::string_view bytes);
  bool flush(int32_t s);
  std::size_t waiting(int32_t s) const;

  // Closes once everything written is sent (or the connection is gone).
  void close_when_sent(int32_t s);
  void close(int32_t s);
  bool closing(int32_t s) const;

 private:
  struct Out {
    std::string bytes;
    std::size_t sent = 0;
    bool close_after = false;
    bool open = false;
  };
  Out& out(int32_t s);   // an open socket's

  netstack::NetStack& stack_;
  RRef<netstack::Chunk> chunk_;
  std::vector<Out> outs_;   // by socket number
};

}  // namespace rl::app
