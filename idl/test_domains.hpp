// Interfaces of the runtime's test domains (tests/ and bench/ use them).
// idlc generates their proxies, shadows and loaders: idl/test_domains.rl.hpp.
#pragma once

#include <array>
#include <cstdint>

#include "libredleaf/idl.hpp"

namespace rl::test {

struct Buffer {
  std::array<uint8_t, 64> bytes;
  uint32_t len;
};

enum class Fault : uint32_t {
  Segfault, BusError, FloatingPoint, IllegalInstruction, StackOverflow,
  Exception, Panic,
  Spin,       // loops in the domain's code until stop_spinning() or death
};

// The echo/counter domain.
class RL_INTERFACE Counter {
 public:
  virtual ~Counter() = default;

  RL_IDEMPOTENT virtual RpcResult<void> ping() = 0;                  // the null call
  virtual RpcResult<uint64_t> add(uint64_t delta) = 0;               // returns the new total
  virtual RpcResult<RRef<Buffer>> echo(RRef<Buffer> buf) = 0;        // bytes[0] += 1, hands it back
  RL_IDEMPOTENT virtual RpcResult<uint64_t> sum(const RRef<Buffer>& buf) = 0;   // borrowed: sum of bytes[0..len)
  virtual RpcResult<uint64_t> keep(RRef<Buffer> buf) = 0;            // keeps it; returns how many it holds
  virtual RpcResult<RRef<Buffer>> give_back() = 0;                   // one kept buffer, or an empty RRef
};
struct CounterInit {
  uint64_t start;
};
RL_FACTORY Counter* create_counter(const CounterInit& init);

// The faulty domain (and the leaky one): fails on command.
class RL_INTERFACE Crasher {
 public:
  virtual ~Crasher() = default;

  virtual RpcResult<uint64_t> crash(Fault how) = 0;   // returns only for Spin, when stopped
  // Allocates `private_bytes` in its private heap and keeps `shared_buffers`
  // RRef<Buffer>s; returns the buffers it holds in total.
  virtual RpcResult<uint64_t> leak(uint64_t private_bytes, uint64_t shared_buffers) = 0;
  // Starts runtime threads inside the domain: even ones spin, odd ones sleep.
  virtual RpcResult<uint32_t> spawn_spinners(uint32_t n) = 0;
  virtual RpcResult<uint32_t> spinners() = 0;         // threads now inside a spin loop
  virtual RpcResult<void> stop_spinning() = 0;
  // Faults while holding a borrow of the caller's buffer.
  virtual RpcResult<uint64_t> hold(const RRef<Buffer>& buf, Fault how) = 0;
  virtual RpcResult<uint64_t> alive() = 0;            // returns its incarnation's call count
};
struct CrasherInit {
  uint32_t leak_before_crash;   // the leaky domain: grow both heaps before each crash
};
RL_FACTORY Crasher* create_crasher(const CrasherInit& init);

// The nesting domain: relays to an inner Crasher it was given at creation.
class RL_INTERFACE Relay {
 public:
  virtual ~Relay() = default;

  // Calls inner->crash(how); returns 0 if it returned, 1 + RpcError if it failed.
  virtual RpcResult<uint64_t> forward(Fault how) = 0;
  // Calls inner->alive() (which succeeds), then fails itself with `how`.
  virtual RpcResult<uint64_t> forward_then_crash(Fault how) = 0;
  virtual RpcResult<uint64_t> served() = 0;
};
struct RelayInit {
  Cap<Crasher> inner;
};
RL_FACTORY Relay* create_relay(const RelayInit& init);

}  // namespace rl::test
