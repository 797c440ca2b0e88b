// RRef<T>: an owned object in the shared heap (design.md §4).
//
// Move-only.  Ownership changes domains when an RRef is passed by value to a
// proxy (the callee owns it) or returned (the caller owns it): one store to
// the out-of-line metadata.  A `const RRef<T>&` parameter is an immutable
// borrow: the borrow count keeps the object alive even if its owner dies.
// An RRef stored inside another shared-heap object is "contained": it is freed
// by its container's destructor, so moving the container moves it too.
#pragma once

#include <array>
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

#include <boost/pfr/core.hpp>

#include "detail/domain_core.hpp"
#include "exchangeable.hpp"
#include "shared_heap.hpp"

namespace rl {

namespace detail {
template <class T>
void destroy_payload(void* p) noexcept { static_cast<T*>(p)->~T(); }

// Ownership of an RRef follows where the handle lives.  Moving a handle out of
// shared-heap memory (a contained RRef) gives the object to the current
// domain; moving one into shared-heap memory makes it contained, freed by its
// container.  Construction is the hot case (parameters, return values), so it
// checks only the source; assignment -- how handles enter containers after
// make() -- checks the destination too.
inline void note_moved_out(Meta* m) noexcept {
  if (__builtin_expect(m->owner.load(std::memory_order_relaxed) == kOwnerContained, 0))
    m->owner.store(current_domain_id(), std::memory_order_relaxed);
}
inline void note_assigned(const void* where, Meta* m) noexcept {
  if (in_shared_heap(where)) m->owner.store(kOwnerContained, std::memory_order_relaxed);
  else note_moved_out(m);
}
template <class T> void mark_contained(T& v) noexcept;
struct RRefAccess;
template <class T> struct is_rref : std::false_type {};
}  // namespace detail

template <class T>
class RRef {
 public:
  using element_type = T;

  // Allocates and constructs a T in the shared heap, owned by the caller's domain.
  template <class... Args>
  static RRef make(Args&&... args) { return make_aligned(alignof(T), std::forward<Args>(args)...); }

  // The same with a stronger alignment (e.g. 4096 for a DMA page).
  template <class... Args>
  static RRef make_aligned(std::size_t align, Args&&... args) {
    // Checked here rather than in the class body: reflecting T while a class
    // that holds an RRef<T> member is being defined crashes GCC 12.
    static_assert(detail::require_exchangeable<T>(), "RRef<T> needs an exchangeable T (see above)");
    detail::Meta* m = detail::heap_alloc(sizeof(T), align < alignof(T) ? alignof(T) : align);
    T* p = static_cast<T*>(m->payload);
    if constexpr (sizeof...(Args) == 0) new (p) T();
    else new (p) T{std::forward<Args>(args)...};
    detail::mark_contained(*p);   // RRefs moved into the new object now live in it
    if constexpr (!std::is_trivially_destructible_v<T>) m->dtor = &detail::destroy_payload<T>;
    return RRef(p, m);
  }

  RRef() noexcept = default;
  RRef(RRef&& o) noexcept : p_(o.p_), m_(o.m_) {
    o.p_ = nullptr;
    o.m_ = nullptr;
    if (m_) detail::note_moved_out(m_);
  }
  RRef& operator=(RRef&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = o.p_;
      m_ = o.m_;
      o.p_ = nullptr;
      o.m_ = nullptr;
      if (m_) detail::note_assigned(this, m_);
    }
    return *this;
  }
  RRef(const RRef&) = delete;
  RRef& operator=(const RRef&) = delete;
  ~RRef() { reset(); }

  // Exchanges two handles; ownership follows where each one ends up.
  void swap(RRef& o) noexcept {
    RRef tmp(std::move(o));
    o = std::move(*this);
    *this = std::move(tmp);
  }

  void reset() noexcept {
    if (m_) detail::heap_release(m_);
    p_ = nullptr;
    m_ = nullptr;
  }

  explicit operator bool() const noexcept { return p_ != nullptr; }
  T& operator*() noexcept { return *p_; }
  const T& operator*() const noexcept { return *p_; }
  T* operator->() noexcept { return p_; }
  const T* operator->() const noexcept { return p_; }
  T* get() noexcept { return p_; }
  const T* get() const noexcept { return p_; }

  // Who owns it now (a domain id); for tests and debugging.
  uint32_t owner() const noexcept { return m_ ? m_->owner.load(std::memory_order_relaxed) : detail::kOwnerFree; }
  uint32_t borrows() const noexcept { return m_ ? m_->borrows.load(std::memory_order_relaxed) : 0; }

 private:
  friend struct detail::RRefAccess;
  RRef(T* p, detail::Meta* m) noexcept : p_(p), m_(m) {}
  T* p_ = nullptr;
  detail::Meta* m_ = nullptr;
};

namespace detail {
// Moves `src` into the empty `dst` and gives the object to `owner`.
template <class T> void move_into_empty(RRef<T>& dst, RRef<T>& src, uint32_t owner) noexcept;
// RRef::reset() kept out of hot loops, where the handle is rarely full.
template <class T> [[gnu::noinline, gnu::cold]] void release_out_of_line(RRef<T>& r) noexcept { r.reset(); }
}  // namespace detail

// A fixed-size array of exchangeable values in the shared heap.
template <class T, std::size_t N>
class RRefArray {
 public:
  static RRefArray make() { return RRefArray(RRef<std::array<T, N>>::make(), 0); }
  static RRefArray make_aligned(std::size_t align) {
    return RRefArray(RRef<std::array<T, N>>::make_aligned(align), 0);
  }
  RRefArray() noexcept = default;

  static constexpr std::size_t size() noexcept { return N; }
  T& operator[](std::size_t i) noexcept { return (*arr_)[i]; }
  const T& operator[](std::size_t i) const noexcept { return (*arr_)[i]; }
  T* data() noexcept { return arr_->data(); }
  const T* data() const noexcept { return arr_->data(); }
  explicit operator bool() const noexcept { return static_cast<bool>(arr_); }
  uint32_t owner() const noexcept { return arr_.owner(); }

 private:
  friend struct detail::RRefAccess;
  // Two parameters, as Cap's (a one-argument constructor confuses member counting).
  RRefArray(RRef<std::array<T, N>> a, int) noexcept : arr_(std::move(a)) {}
  RRef<std::array<T, N>> arr_;
};

// A fixed-capacity ring of T (usually RRef<Packet> or RRef<Block>) in the
// shared heap: the unit of batched I/O.  Moving the deque across a call is one
// ownership store however many elements it holds (they are contained).
namespace detail {
// Outside RRefDeque: reflecting a class nested in a template that is still
// being defined crashes GCC 12 (internal compiler error in Boost.PFR).
template <class T, std::size_t N>
struct DequeRing {
  using value_type = T;
  std::array<T, N> slots;
  uint32_t head;   // next to pop
  uint32_t len;
};
}  // namespace detail

template <class T, std::size_t N>
class RRefDeque {
  static_assert(N > 0 && (N & (N - 1)) == 0, "RRefDeque capacity must be a power of two");
  using Ring = detail::DequeRing<T, N>;

 public:
  static RRefDeque make() { return RRefDeque(RRef<Ring>::make(), 0); }
  RRefDeque() noexcept = default;

  static constexpr std::size_t capacity() noexcept { return N; }
  std::size_t size() const noexcept { return ring_->len; }
  bool empty() const noexcept { return ring_->len == 0; }
  bool full() const noexcept { return ring_->len == N; }
  explicit operator bool() const noexcept { return static_cast<bool>(ring_); }
  uint32_t owner() const noexcept { return ring_.owner(); }

  // Returns false (and leaves `v` with the caller) when full.
  bool push_back(T& v) noexcept {
    Ring& r = *ring_;
    if (r.len == N) return false;
    move_in(r.slots[(r.head + r.len) & (N - 1)], v);
    ++r.len;
    return true;
  }
  bool push_back(T&& v) noexcept { return push_back(v); }
  // The i-th element from the front (i < size()), for in-place updates.
  T& operator[](std::size_t i) noexcept { return ring_->slots[(ring_->head + i) & (N - 1)]; }

  // Returns false when empty.
  bool pop_front(T& out) noexcept {
    Ring& r = *ring_;
    if (r.len == 0) return false;
    move_out(out, r.slots[r.head], detail::in_shared_heap(&out) ? detail::kOwnerContained : detail::current_domain_id());
    r.head = (r.head + 1) & (N - 1);
    --r.len;
    return true;
  }

  // Bursts, as rte_ring_enqueue_burst/dequeue_burst: move up to `n` values
  // from `from` (to `to`) and return how many moved.  The loop keeps the
  // ring's indices and the caller's domain in registers.
  std::size_t push_back_burst(T* from, std::size_t n) noexcept {
    Ring& r = *ring_;
    uint32_t len = r.len, head = r.head;
    std::size_t k = n < N - len ? n : N - len;
    std::size_t first = (head + len) & (N - 1), run = k < N - first ? k : N - first;   // up to the wrap
    T* slot = r.slots.data() + first;
    for (std::size_t i = 0; i < run; ++i) move_in(slot[i], from[i]);
    for (std::size_t i = run; i < k; ++i) move_in(r.slots[i - run], from[i]);
    r.len = static_cast<uint32_t>(len + k);
    return k;
  }
  std::size_t pop_front_burst(T* to, std::size_t n) noexcept {
    Ring& r = *ring_;
    uint32_t len = r.len, head = r.head;
    std::size_t k = n < len ? n : len;
    uint32_t owner = detail::kOwnerContained;
    if constexpr (detail::is_rref<T>::value) {
      if (!detail::in_shared_heap(to)) owner = detail::current_domain_id();
    }
    std::size_t run = k < N - head ? k : N - head;
    T* slot = r.slots.data() + head;
    for (std::size_t i = 0; i < run; ++i) move_out(to[i], slot[i], owner);
    for (std::size_t i = run; i < k; ++i) move_out(to[i], r.slots[i - run], owner);
    r.head = static_cast<uint32_t>((head + k) & (N - 1));
    r.len = static_cast<uint32_t>(len - k);
    return k;
  }

 private:
  friend struct detail::RRefAccess;
  RRefDeque(RRef<Ring> r, int) noexcept : ring_(std::move(r)) {}
  // Slots outside [head, head + len) are always empty, so an RRef moves in
  // without releasing anything and becomes contained (one store); one moving
  // out goes to `owner`: the caller's domain, or still contained when `out`
  // is itself in the shared heap.
  static void move_in(T& slot, T& v) noexcept {
    if constexpr (detail::is_rref<T>::value) detail::move_into_empty(slot, v, detail::kOwnerContained);
    else slot = std::move(v);
  }
  static void move_out(T& out, T& slot, uint32_t owner) noexcept {
    if constexpr (detail::is_rref<T>::value) {
      if (__builtin_expect(static_cast<bool>(out), 0)) detail::release_out_of_line(out);
      detail::move_into_empty(out, slot, owner);
    } else {
      out = std::move(slot);
    }
  }
  RRef<Ring> ring_;
};

namespace detail {

template <class T> struct holds_rref : std::false_type {};
template <class T> struct holds_rref<RRef<T>> : std::true_type {};
template <class T, std::size_t N> struct holds_rref<RRefArray<T, N>> : std::true_type {};
template <class T, std::size_t N> struct holds_rref<RRefDeque<T, N>> : std::true_type {};

// Whether a value of type T holds any RRef (decided at compile time).
template <class T>
constexpr bool contains_rref() {
  if constexpr (holds_rref<T>::value) return true;
  else if constexpr (is_std_array<T>::value || is_deque_ring<T>::value)
    return contains_rref<typename T::value_type>();
  else if constexpr (std::is_class_v<T> && std::is_aggregate_v<T>) {
    return []<std::size_t... I>(std::index_sequence<I...>) {
      return (contains_rref<boost::pfr::tuple_element_t<I, T>>() || ...);
    }(std::make_index_sequence<boost::pfr::tuple_size_v<T>>{});
  } else return false;
}

// Applies fn(meta) to every non-empty RRef held directly in `v` (not to
// RRefs inside the objects those point to).
template <class T, class Fn>
void for_each_rref(T& v, Fn&& fn) noexcept;

}  // namespace detail

namespace detail {
template <class T> struct is_rref<RRef<T>> : std::true_type {};

// Proxies and the containers reach the handles' insides through here.
struct RRefAccess {
  // A handle to an object whose ownership the caller has just taken (Hold::adopt).
  template <class T> static RRef<T> make(T* p, Meta* m) noexcept { return RRef<T>(p, m); }
  template <class T, std::size_t N> static RRefDeque<T, N> make_deque(Meta* m) noexcept {
    using Ring = DequeRing<T, N>;
    return RRefDeque<T, N>(RRef<Ring>(static_cast<Ring*>(m->payload), m), 0);
  }
  template <class T>
  static void move_into_empty(RRef<T>& dst, RRef<T>& src, uint32_t owner) noexcept {
    dst.p_ = src.p_;
    dst.m_ = src.m_;
    src.p_ = nullptr;
    src.m_ = nullptr;
    if (dst.m_) dst.m_->owner.store(owner, std::memory_order_relaxed);
  }
  template <class T> static Meta* meta(const RRef<T>& r) noexcept { return r.m_; }
  template <class T, std::size_t N> static Meta* meta(const RRefArray<T, N>& r) noexcept { return r.arr_.m_; }
  template <class T, std::size_t N> static Meta* meta(const RRefDeque<T, N>& r) noexcept { return r.ring_.m_; }
};

template <class T>
void move_into_empty(RRef<T>& dst, RRef<T>& src, uint32_t owner) noexcept {
  RRefAccess::move_into_empty(dst, src, owner);
}

template <class T, class Fn>
void for_each_rref(T& v, Fn&& fn) noexcept {
  if constexpr (holds_rref<T>::value) {
    if (Meta* m = RRefAccess::meta(v)) fn(m);
  } else if constexpr (is_std_array<T>::value) {
    if constexpr (contains_rref<typename T::value_type>())
      for (auto& e : v) for_each_rref(e, fn);
  } else if constexpr (is_deque_ring<T>::value) {
    for_each_rref(v.slots, fn);
  } else if constexpr (contains_rref<T>()) {
    boost::pfr::for_each_field(v, [&fn](auto& f) { for_each_rref(f, fn); });
  }
}

template <class T>
void mark_contained(T& v) noexcept {
  if constexpr (contains_rref<T>())
    for_each_rref(v, [](Meta* m) { m->owner.store(kOwnerContained, std::memory_order_relaxed); });
}

}  // namespace detail

}  // namespace rl
