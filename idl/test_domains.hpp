// Interfaces of the runtime's test domains (tests/ and bench/ use them).
//
// Until tools/idlc exists these are plain C++; their proxies are written by
// hand in test_domains_proxy.hpp, exactly as the generator will emit them.
#pragma once

#include <array>
#include <cstdint>

#include "libredleaf/cap.hpp"
#include "libredleaf/domain_abi.hpp"
#include "libredleaf/rpc_result.hpp"
#include "libredleaf/rref.hpp"

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
class Counter {
 public:
  static constexpr const char* kName = "Counter";
  static constexpr uint64_t kFingerprint = fingerprint_of(
      "Counter/1 ping()->void add(u64)->u64 echo(RRef<Buffer>)->RRef<Buffer> "
      "sum(const RRef<Buffer>&)->u64 keep(RRef<Buffer>)->u64 give_back()->RRef<Buffer> "
      "Buffer{array<u8,64>,u32} CounterInit{u64}");
  virtual ~Counter() = default;

  virtual RpcResult<void> ping() = 0;                                // the null call
  virtual RpcResult<uint64_t> add(uint64_t delta) = 0;               // returns the new total
  virtual RpcResult<RRef<Buffer>> echo(RRef<Buffer> buf) = 0;        // bytes[0] += 1, hands it back
  virtual RpcResult<uint64_t> sum(const RRef<Buffer>& buf) = 0;      // borrowed: sum of bytes[0..len)
  virtual RpcResult<uint64_t> keep(RRef<Buffer> buf) = 0;            // keeps it; returns how many it holds
  virtual RpcResult<RRef<Buffer>> give_back() = 0;                   // one kept buffer, or an empty RRef
};
struct CounterInit {
  uint64_t start;
};

// The faulty domain (and the leaky one): fails on command.
class Crasher {
 public:
  static constexpr const char* kName = "Crasher";
  static constexpr uint64_t kFingerprint = fingerprint_of(
      "Crasher/1 crash(Fault)->u64 leak(u64,u64)->u64 spawn_spinners(u32)->u32 spinners()->u32 "
      "stop_spinning()->void hold(const RRef<Buffer>&,Fault)->u64 alive()->u64 CrasherInit{u32}");
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

// The nesting domain: relays to an inner Crasher it was given at creation.
class Relay {
 public:
  static constexpr const char* kName = "Relay";
  static constexpr uint64_t kFingerprint = fingerprint_of(
      "Relay/1 forward(Fault)->u64 forward_then_crash(Fault)->u64 served()->u64 "
      "RelayInit{Cap<Crasher>}");
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

}  // namespace rl::test
