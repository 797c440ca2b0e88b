// Hold<T>: a shadow's claim on an object it lent to a driver (design.md §7).
//
// A hold is a borrow that outlives calls: while it exists, the object
// survives the death of whichever domain owns or contains it (the runtime
// orphans it instead of freeing it, and does not destroy it), and after such
// a death adopt() makes it the caller's own again.  This is how a shadow
// replays what was in flight in a crashed driver: the buffers are still
// there, with their data.  Two atomic operations per hold (take, release).
// DequeHold does the same for a whole RRefDeque: one hold per batch, the
// contents as the driver left them.
#pragma once

#include "rref.hpp"

namespace rl {

namespace detail {

class HoldBase {
 public:
  HoldBase() noexcept = default;
  HoldBase(HoldBase&& o) noexcept : m_(o.m_) { o.m_ = nullptr; }
  HoldBase& operator=(HoldBase&& o) noexcept {
    if (this != &o) {
      release();
      m_ = o.m_;
      o.m_ = nullptr;
    }
    return *this;
  }
  HoldBase(const HoldBase&) = delete;
  HoldBase& operator=(const HoldBase&) = delete;
  ~HoldBase() { release(); }

  explicit operator bool() const noexcept { return m_ != nullptr; }

  // Ends the claim; an object orphaned meanwhile is freed now.
  void release() noexcept {
    if (m_) heap_end_borrow(m_);
    m_ = nullptr;
  }
  // Whether the object's owner died while it was held.
  bool orphaned() const noexcept { return m_ && m_->owner.load(std::memory_order_acquire) == kOwnerOrphan; }

 protected:
  explicit HoldBase(Meta* m) noexcept : m_(m) {
    if (m_) m_->borrows.fetch_add(1, std::memory_order_relaxed);
  }
  // An orphan becomes the calling domain's and the claim ends; null (and the
  // claim stays) when the owner is alive.
  Meta* take_orphan() noexcept {
    if (!m_) return nullptr;
    uint32_t orphan = kOwnerOrphan;
    if (!m_->owner.compare_exchange_strong(orphan, current_domain_id(), std::memory_order_acq_rel)) return nullptr;
    Meta* m = m_;
    m->borrows.fetch_sub(1, std::memory_order_acq_rel);   // ours now: the end of the borrow frees nothing
    m_ = nullptr;
    return m;
  }
  Meta* m_ = nullptr;
};

}  // namespace detail

template <class T>
class Hold : public detail::HoldBase {
 public:
  Hold() noexcept = default;
  explicit Hold(const RRef<T>& r) noexcept : HoldBase(detail::RRefAccess::meta(r)) {}

  // An orphaned object becomes the calling domain's own; empty when the
  // owner is alive (the object is wherever the owner put it).
  RRef<T> adopt() noexcept {
    detail::Meta* m = take_orphan();
    return m ? detail::RRefAccess::make(static_cast<T*>(m->payload), m) : RRef<T>();
  }
};

template <class T, std::size_t N>
class DequeHold : public detail::HoldBase {
 public:
  DequeHold() noexcept = default;
  explicit DequeHold(const RRefDeque<T, N>& q) noexcept : HoldBase(detail::RRefAccess::meta(q)) {}

  RRefDeque<T, N> adopt() noexcept {
    detail::Meta* m = take_orphan();
    return m ? detail::RRefAccess::make_deque<T, N>(m) : RRefDeque<T, N>();
  }
};

}  // namespace rl
