#include "apps/maglev/conntrack.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <new>

namespace rl::maglev {

namespace {
constexpr uint64_t kHugePage = 2u << 20;   // x86-64's 2 MiB page
}

void ConnTrack::Free::operator()(Bucket* b) const { std::free(b); }

ConnTrack::ConnTrack(uint64_t entries, uint32_t idle_epochs)
    : idle_(idle_epochs < kMaxIdleEpochs ? idle_epochs : kMaxIdleEpochs) {
  uint64_t buckets = 1;
  while (buckets * kWays < entries) buckets *= 2;
  mask_ = buckets - 1;
  const uint64_t bytes = buckets * sizeof(Bucket);
  // A million flows touch a bucket each at random: on 4 KiB pages that is a
  // TLB miss per packet on top of the cache miss.  Ask for transparent huge
  // pages (the kernel's default policy here is "madvise") before touching.
  const uint64_t align = bytes >= kHugePage ? kHugePage : alignof(Bucket);
  void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
  if (!p) throw std::bad_alloc();
  if (align == kHugePage) (void)madvise(p, bytes, MADV_HUGEPAGE);
  std::memset(p, 0, bytes);   // touched once, here: no page fault on the hot path
  buckets_.reset(static_cast<Bucket*>(p));
}

uint64_t ConnTrack::in_use() const {
  uint64_t n = 0;
  for (uint64_t i = 0; i <= mask_; ++i)
    for (const Entry& e : buckets_[i].way) n += !empty(e) && age(e) <= idle_;
  return n;
}

void ConnTrack::advance(uint64_t epoch) {
  if (epoch <= epoch_) return;
  const uint64_t passed = epoch - epoch_;
  epoch_ = epoch;
  now_ = static_cast<uint8_t>(epoch);
  const uint64_t buckets = mask_ + 1;
  if (passed > idle_) {   // everything was last touched at least `passed` epochs ago
    for (uint64_t i = 0; i < buckets; ++i)
      for (Entry& e : buckets_[i].way)
        if (!empty(e)) {
          e = Entry{0, 0};
          ++stats_.expired;
        }
    return;
  }
  const uint64_t per_epoch = (buckets + kSweepEpochs - 1) / kSweepEpochs;
  uint64_t todo = passed * per_epoch < buckets ? passed * per_epoch : buckets;
  for (; todo > 0; --todo) {
    for (Entry& e : buckets_[sweep_next_].way)
      if (!empty(e) && age(e) > idle_) {
        e = Entry{0, 0};
        ++stats_.expired;
      }
    sweep_next_ = (sweep_next_ + 1) & mask_;
  }
}

}  // namespace rl::maglev
