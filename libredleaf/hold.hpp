// Hold<T>: a shadow's claim on an object it lent to a driver (design.md §7).
//
// A hold is a borrow that outlives calls: while it exists, the object
// survives the death of whichever domain owns or contains it (the runtime
// orphans it instead of freeing it), and after such a death adopt() makes it
// the caller's own again.  This is how a shadow replays the requests that
// were in flight in a crashed driver: the buffers are still there, with
// their data.  Two atomic operations per hold (take and release).
#pragma once

#include "rref.hpp"

namespace rl {

template <class T>
class Hold {
 public:
  Hold() noexcept = default;
  explicit Hold(const RRef<T>& r) noexcept : p_(const_cast<T*>(r.get())), m_(detail::RRefAccess::meta(r)) {
    if (m_) m_->borrows.fetch_add(1, std::memory_order_relaxed);
  }
  Hold(Hold&& o) noexcept : p_(o.p_), m_(o.m_) {
    o.p_ = nullptr;
    o.m_ = nullptr;
  }
  Hold& operator=(Hold&& o) noexcept {
    if (this != &o) {
      release();
      p_ = o.p_;
      m_ = o.m_;
      o.p_ = nullptr;
      o.m_ = nullptr;
    }
    return *this;
  }
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;
  ~Hold() { release(); }

  explicit operator bool() const noexcept { return m_ != nullptr; }
  const T* get() const noexcept { return p_; }

  // Ends the claim; an object orphaned meanwhile is freed now.
  void release() noexcept {
    if (m_) detail::heap_end_borrow(m_);
    p_ = nullptr;
    m_ = nullptr;
  }

  // Whether the object's owner died while it was held.
  bool orphaned() const noexcept {
    return m_ && m_->owner.load(std::memory_order_acquire) == detail::kOwnerOrphan;
  }

  // An orphaned object becomes the calling domain's own, and the claim ends.
  // Empty when the owner is alive: the object is wherever the owner put it,
  // and the claim stays.
  RRef<T> adopt() noexcept {
    if (!m_) return {};
    uint32_t orphan = detail::kOwnerOrphan;
    if (!m_->owner.compare_exchange_strong(orphan, detail::current_domain_id(), std::memory_order_acq_rel))
      return {};
    RRef<T> r = detail::RRefAccess::make(p_, m_);
    m_->borrows.fetch_sub(1, std::memory_order_acq_rel);   // ours now: the end of the borrow frees nothing
    p_ = nullptr;
    m_ = nullptr;
    return r;
  }

 private:
  T* p_ = nullptr;
  detail::Meta* m_ = nullptr;
};

}  // namespace rl
