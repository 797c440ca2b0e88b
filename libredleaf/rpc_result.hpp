// RpcResult<T>: what every cross-domain call returns.
//
// A call either yields the callee's value or an RpcError saying why the callee
// could not answer.  Only trusted code (the runtime and the proxies it
// generates) can create an error: a domain can return values, never forge a
// "DomainFailed" (RedLeaf keeps the same rule).  Errors are values; nothing
// crosses a domain boundary as an exception.
#pragma once

#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace rl {

enum class RpcError : uint8_t {
  DomainFailed = 1,     // the callee faulted, threw, panicked or was killed
  DomainUnloaded = 2,   // the callee was unloaded, or is failed and not restarted yet
  InvalidArgument = 3,  // the runtime refused the call's arguments
};

const char* to_string(RpcError e) noexcept;

namespace detail { struct Trusted; }

template <class T>
class [[nodiscard]] RpcResult {
 public:
  using value_type = T;

  RpcResult(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) : err_(0) {
    new (&value_) T(std::move(v));
  }
  RpcResult(const T& v) requires std::is_copy_constructible_v<T> : err_(0) { new (&value_) T(v); }
  RpcResult(RpcResult&& o) noexcept : err_(o.err_) {
    if (err_ == 0) new (&value_) T(std::move(o.value_));
  }
  RpcResult(const RpcResult&) = delete;
  RpcResult& operator=(const RpcResult&) = delete;
  RpcResult& operator=(RpcResult&&) = delete;
  ~RpcResult() {
    if (err_ == 0) value_.~T();
  }

  bool ok() const noexcept { return err_ == 0; }
  explicit operator bool() const noexcept { return ok(); }
  RpcError error() const noexcept { return static_cast<RpcError>(err_); }

  T& value() & noexcept { return value_; }
  const T& value() const& noexcept { return value_; }
  T&& value() && noexcept { return std::move(value_); }
  T& operator*() & noexcept { return value_; }
  const T& operator*() const& noexcept { return value_; }
  T&& operator*() && noexcept { return std::move(value_); }
  T* operator->() noexcept { return &value_; }
  const T* operator->() const noexcept { return &value_; }

 private:
  friend struct detail::Trusted;
  explicit RpcResult(RpcError e) noexcept : err_(static_cast<uint8_t>(e)) {}

  union { T value_; };
  uint8_t err_;
};

template <>
class [[nodiscard]] RpcResult<void> {
 public:
  using value_type = void;
  RpcResult() noexcept = default;

  bool ok() const noexcept { return err_ == 0; }
  explicit operator bool() const noexcept { return ok(); }
  RpcError error() const noexcept { return static_cast<RpcError>(err_); }

 private:
  friend struct detail::Trusted;
  explicit RpcResult(RpcError e) noexcept : err_(static_cast<uint8_t>(e)) {}
  uint8_t err_ = 0;
};

// The success value for RpcResult<void>: `return rl::ok;`
struct Ok {
  template <class T> operator RpcResult<T>() const = delete;
  operator RpcResult<void>() const noexcept { return {}; }
};
inline constexpr Ok ok{};

namespace detail {
// The one place that may create an error result.
struct Trusted {
  template <class T>
  static RpcResult<T> error(RpcError e) noexcept { return RpcResult<T>(e); }
};
}  // namespace detail

}  // namespace rl
