// The simulated 82599: registers, the receive rings, transmit, the inputs
// (pcap file, TAP, generator), then RSS.
#include "sim/ixgbe/model.hpp"

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include <pcap/pcap.h>
#include <sys/time.h>

#include "libredleaf/shared_heap.hpp"

namespace rl::sim {

using namespace rl::ixgbe;

namespace {
constexpr uint32_t kMaxStandardFrame = 1518;   // without CRC, with one VLAN tag
constexpr uint64_t kGeneratorBurst = 64;   // frames an unlimited generator offers per call
// How many frames ahead a receive prefetches its buffer: far enough for an
// L2 line to arrive.  In 20 paired runs of rl-bench-maglev, 8 took a median
// 7 ticks per packet off the loop against none (a noisy shared VM).
constexpr uint32_t kRxPrefetch = 8;
// Pairs by name: the second port opened with wire=pair:NAME joins the first.
std::mutex g_pairs_lock;
std::map<std::string, IxgbeModel*>* g_pairs;

// DMA memory is the shared heap, mapped IOVA == VA; anything outside it is a
// driver bug (null here).  Inline: every descriptor and buffer is checked.
inline uint8_t* dma(uint64_t addr, uint64_t len) {
  auto* p = reinterpret_cast<uint8_t*>(addr);
  if (len == 0 || !detail::in_shared_heap(p) || !detail::in_shared_heap(p + len - 1)) return nullptr;
  return p;
}

bool is_stat(uint64_t off) {
  return off == reg::GPRC || off == reg::GPTC || off == reg::GORCL || off == reg::GORCH || off == reg::GOTCL ||
         off == reg::GOTCH || off == reg::ROC || (off >= reg::MPC(0) && off <= reg::MPC(7));
}
}  // namespace

IxgbeModel::IxgbeModel(const IxgbeModelOptions& o, std::string* error) : wire_(o.wire), pair_(o.name) {
  static std::atomic<uint8_t> ports{0};
  mac_ = o.mac ? *o.mac : std::array<uint8_t, 6>{0x02, 0x52, 0x4c, 0x00, 0x00, static_cast<uint8_t>(++ports)};
  reset();
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  if (wire_ == IxgbeWire::Pcap) {
    pcap_t* p = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t* d = p ? pcap_dump_open(p, pair_.c_str()) : nullptr;
    if (!d) {
      *error = "sim:ixgbe cannot write pcap file " + pair_ + ": " + (p ? pcap_geterr(p) : "pcap_open_dead failed");
      if (p) pcap_close(p);
      return;
    }
    pcap_out_ = p;
    dumper_ = d;
  }
  if (wire_ == IxgbeWire::Tap && !(tap_ = Tap::open(pair_, error))) return;
  if (wire_ == IxgbeWire::Gen) gen_ = std::make_unique<Generator>(o.gen, mac_);
  if (!o.pcap_in.empty()) {
    pcap_in_ = pcap_open_offline(o.pcap_in.c_str(), errbuf);
    if (!pcap_in_) {
      *error = "sim:ixgbe cannot read pcap file " + o.pcap_in + ": " + errbuf;
      return;
    }
  }
  if (wire_ == IxgbeWire::Pair) {
    std::lock_guard g(g_pairs_lock);
    if (!g_pairs) g_pairs = new std::map<std::string, IxgbeModel*>();
    auto it = g_pairs->find(pair_);
    if (it == g_pairs->end()) {
      (*g_pairs)[pair_] = this;
    } else {
      peer_ = it->second;
      peer_->peer_ = this;
      g_pairs->erase(it);
    }
  }
}

IxgbeModel::~IxgbeModel() {
  if (dumper_) pcap_dump_close(static_cast<pcap_dumper_t*>(dumper_));
  if (pcap_out_) pcap_close(static_cast<pcap_t*>(pcap_out_));
  if (pcap_in_) pcap_close(static_cast<pcap_t*>(pcap_in_));
  std::lock_guard g(g_pairs_lock);
  if (peer_) peer_->peer_ = nullptr;
  if (g_pairs) {
    auto it = g_pairs->find(pair_);
    if (it != g_pairs->end() && it->second == this) g_pairs->erase(it);
  }
}

// 4.6.3.2: a global reset clears everything; the EEPROM auto-read and the DMA
// initialization complete at once here, and the link comes up at 10 Gb/s.
void IxgbeModel::reset() {
  regs_.fill(0);
  for (auto& p : partial_) p.clear();
  rss_stale_ = true;
  reg(reg::EEC) = EEC_ARD;
  reg(reg::RDRXCTL) = RDRXCTL_DMAIDONE;
  reg(reg::LINKS) = LINKS_UP | LINKS_SPEED_10G;
  // The EEPROM's MAC address, loaded into receive address 0.
  reg(reg::RAL(0)) = uint32_t{mac_[0]} | uint32_t{mac_[1]} << 8 | uint32_t{mac_[2]} << 16 | uint32_t{mac_[3]} << 24;
  reg(reg::RAH(0)) = uint32_t{mac_[4]} | uint32_t{mac_[5]} << 8 | RAH_AV;
}

void IxgbeModel::function_reset() {
  std::lock_guard g(lock_);
  reset();
}

uint32_t IxgbeModel::mmio_read32(uint64_t off) {
  if (off >= kRegisterBytes) return 0;   // beyond BAR0's registers: nothing there
  const auto o = static_cast<uint32_t>(off);
  std::lock_guard g(lock_);
  uint32_t v = reg(o);
  if (is_stat(o)) reg(o) = 0;   // statistics clear on read
  return v;
}

void IxgbeModel::mmio_write32(uint64_t off, uint32_t v) {
  if (off >= kRegisterBytes) return;   // writes past BAR0's registers go nowhere
  const auto o = static_cast<uint32_t>(off);
  const bool tdt = o >= reg::TDT(0) && o <= reg::TDT(63) && (o - reg::TDT(0)) % 0x40 == 0;
  const bool rdt = o >= reg::RDT(0) && o <= reg::RDT(63) && (o - reg::RDT(0)) % 0x40 == 0;
  if (tdt) {   // the doorbell: everything up to the new tail goes out now
    const uint32_t q = (o - reg::TDT(0)) / 0x40;
    with_wire_locked([&](IxgbeModel* peer) {
      reg(o) = v;
      transmit_locked(q, peer);
    });
    return;
  }
  std::lock_guard g(lock_);
  if (o == reg::CTRL && (v & CTRL_RST)) return reset();   // self-clearing
  if (o == reg::EIMC) return;
  reg(o) = v;
  if (o >= reg::RSSRK(0) && o <= reg::RSSRK(9)) rss_stale_ = true;
  // A generator keeps the ring busy: it fills descriptors as soon as the driver returns them.
  if (rdt && gen_) generate_locked();
}

void IxgbeModel::driver_bug(const char* format, ...) {
  driver_errors_.fetch_add(1, std::memory_order_relaxed);
  char what[160];
  va_list args;
  va_start(args, format);
  vsnprintf(what, sizeof what, format, args);
  va_end(args);
  fprintf(stderr, "sim:ixgbe: driver bug: %s\n", what);
}

// The clear-on-read counters of a direction: a batch's frames and octets
// (each frame + 4 for its CRC) at once.
void IxgbeModel::add_counts(uint32_t frames_reg, uint32_t low_reg, uint32_t high_reg, const Counts& c) {
  if (c.frames == 0) return;
  reg(frames_reg) += c.frames;
  uint64_t octets = (uint64_t{reg(high_reg)} << 32 | reg(low_reg)) + c.octets + 4ull * c.frames;
  reg(low_reg) = static_cast<uint32_t>(octets);
  reg(high_reg) = static_cast<uint32_t>(octets >> 32);
}

uint64_t IxgbeModel::generated_frames() const {
  std::lock_guard g(lock_);
  return gen_ ? gen_->generated() : 0;
}

// ---- 7.1 receive into the rings ----------------------------------------------------

class IxgbeModel::RxBatch {
 public:
  explicit RxBatch(IxgbeModel& port) : m_(port) {}
  ~RxBatch() {
    set_head();
    m_.add_counts(reg::GPRC, reg::GORCL, reg::GORCH, rx_);
    if (missed_) m_.reg(reg::MPC(0)) += missed_;
  }
  RxBatch(const RxBatch&) = delete;
  RxBatch& operator=(const RxBatch&) = delete;

  // A frame from the wire, copied into the queue RSS picks.
  Delivery deliver(const uint8_t* frame, uint32_t len) {
    if (len > kMaxStandardFrame) {   // no jumbo frames (HLREG0.JUMBOEN clear): dropped, counted in ROC
      m_.reg(reg::ROC) += 1;
      return Delivery::Refused;
    }
    uint32_t hash = 0;
    const int rss = m_.rss_frame_locked(frame, len, &hash);
    return place(rss < 0 ? 0 : static_cast<uint32_t>(rss), hash, len,
                 [&](uint8_t* buf) { std::memcpy(buf, frame, len); });
  }

  // Into queue q's descriptor at RDH: the frame (`fill` writes it into the
  // buffer: a copy, or the generator), then the write-back with the status
  // word last (the driver polls on DD).  RDH itself is written once, when
  // the batch ends or moves to another queue: nobody can read it before
  // (register reads wait for the lock) and the driver polls DD, not RDH.
  template <class Fill>
  [[gnu::always_inline]] Delivery place(uint32_t q, uint32_t hash, uint32_t len, Fill&& fill) {
    if (static_cast<int>(q) != q_) {
      Delivery d = open(q);
      if (d != Delivery::Delivered) return d;
    }
    if (head_ == tail_) return Delivery::NoDescriptor;   // head met tail: no descriptor free
    RxDesc& d = ring_[head_];
    uint8_t* buf = dma(d.qw0, len);
    if (!buf || len > buf_bytes_) [[unlikely]] {
      m_.driver_bug("RX descriptor %u of queue %u %s", head_, q,
                    buf ? "has a buffer smaller than the frame" : "points outside DMA memory");
      m_.reg(reg::MPC(0)) += 1;
      return Delivery::Refused;
    }
    // The buffers the driver gave are cold by now (they went round the
    // transmit ring first): ask for one a few frames ahead, so that its
    // lines arrive while this frame is written.
    const uint32_t free = tail_ >= head_ ? tail_ - head_ : tail_ + n_ - head_;
    if (free > kRxPrefetch) {
      const uint32_t ahead = head_ + kRxPrefetch < n_ ? head_ + kRxPrefetch : head_ + kRxPrefetch - n_;
      __builtin_prefetch(reinterpret_cast<const void*>(ring_[ahead].qw0), 1);
    }
    fill(buf);
    d.qw0 = uint64_t{hash} << 32;
    __atomic_store_n(&d.qw1, rxd_writeback_qw1(RXD_STAT_DD | RXD_STAT_EOP, static_cast<uint16_t>(len)),
                     __ATOMIC_RELEASE);
    head_ = head_ + 1 == n_ ? 0 : head_ + 1;
    ++rx_.frames;
    rx_.octets += len;
    return Delivery::Delivered;
  }

  // A frame the wire had for the port and no descriptor took (MPC).
  void missed() { ++missed_; }

 private:
  void set_head() {
    if (q_ >= 0) m_.reg(reg::RDH(static_cast<uint32_t>(q_))) = head_;
  }

  // Queue q's ring as its registers describe it now.
  Delivery open(uint32_t q) {
    set_head();
    q_ = -1;
    n_ = m_.reg(reg::RDLEN(q)) / sizeof(RxDesc);
    const bool enabled = (m_.reg(reg::RXCTRL) & RXCTRL_RXEN) && (m_.reg(reg::RXDCTL(q)) & RXDCTL_ENABLE) && n_ > 0;
    if (!enabled) return Delivery::NoDescriptor;
    head_ = m_.reg(reg::RDH(q));
    tail_ = m_.reg(reg::RDT(q)) % n_;
    if (head_ >= n_) {
      m_.driver_bug("RDH of queue %u is beyond its ring", q);
      return Delivery::Refused;
    }
    const uint64_t base = m_.reg(reg::RDBAL(q)) | (uint64_t{m_.reg(reg::RDBAH(q))} << 32);
    ring_ = reinterpret_cast<RxDesc*>(dma(base, uint64_t{n_} * sizeof(RxDesc)));
    if (!ring_) {
      m_.driver_bug("RX ring of queue %u is outside DMA memory", q);
      return Delivery::Refused;
    }
    buf_bytes_ = (m_.reg(reg::SRRCTL(q)) & 0x1F) * 1024;
    q_ = static_cast<int>(q);
    return Delivery::Delivered;
  }

  IxgbeModel& m_;
  int q_ = -1;   // the queue ring_ .. buf_bytes_ describe; -1: none yet
  RxDesc* ring_ = nullptr;
  uint32_t n_ = 0, head_ = 0, tail_ = 0, buf_bytes_ = 0;
  Counts rx_;
  uint32_t missed_ = 0;
};

bool IxgbeModel::receive(const uint8_t* frame, uint32_t len) {
  std::lock_guard g(lock_);
  RxBatch to(*this);
  Delivery d = to.deliver(frame, len);
  if (d == Delivery::NoDescriptor) to.missed();   // dropped and counted (SRRCTL.DROP_EN)
  return d == Delivery::Delivered;
}

// ---- 7.2 transmit ---------------------------------------------------------------

template <class F>
void IxgbeModel::with_wire_locked(F&& f) {
  if (wire_ != IxgbeWire::Pair) {
    std::lock_guard g(lock_);
    f(nullptr);
    return;
  }
  std::lock_guard pairs(g_pairs_lock);   // the peer cannot go away while we deliver
  if (!peer_) {
    std::lock_guard g(lock_);
    f(nullptr);
    return;
  }
  std::scoped_lock both(lock_, peer_->lock_);
  f(peer_);
}

void IxgbeModel::transmit_locked(uint32_t q, IxgbeModel* peer) {
  if (tx_paused_ || !(reg(reg::DMATXCTL) & DMATXCTL_TE) || !(reg(reg::TXDCTL(q)) & TXDCTL_ENABLE)) return;
  const uint64_t base = reg(reg::TDBAL(q)) | (uint64_t{reg(reg::TDBAH(q))} << 32);
  const uint32_t n = reg(reg::TDLEN(q)) / sizeof(TxDesc);
  if (n == 0) return;
  uint32_t head = reg(reg::TDH(q));
  const uint32_t tail = reg(reg::TDT(q)) % n;
  if (head >= n) {
    driver_bug("TDH of queue %u is beyond its ring", q);
    return;
  }
  auto* ring = reinterpret_cast<TxDesc*>(dma(base, uint64_t{n} * sizeof(TxDesc)));
  if (!ring) {
    driver_bug("TX ring of queue %u is outside DMA memory", q);
    return;
  }
  Counts sent;
  uint64_t sunk = 0;
  // A sink only counts: its frames need no bytes moved, only checking.
  const bool sink = wire_ == IxgbeWire::Sink || wire_ == IxgbeWire::Gen;
  // Loopback and pair deliver into a port's rings as the frames come (a
  // pair whose peer has gone: into none, the frames are lost).
  std::optional<RxBatch> to;
  if (wire_ == IxgbeWire::Loopback) to.emplace(*this);
  if (peer) to.emplace(*peer);
  RxBatch* into = to ? &*to : nullptr;
  std::vector<uint8_t>& gathered = partial_[q];
  // The usual descriptor: an advanced data descriptor with a whole frame
  // (EOP) in DMA memory, none gathered before it.  It goes to the wire
  // from the driver's buffer, uncopied -- for a sink, without a call.
  constexpr uint32_t kWholeMask = TXD_DCMD_DEXT | (0xFu << 20) | TXD_DCMD_EOP;
  constexpr uint32_t kWhole = TXD_DCMD_DEXT | TXD_DTYP_DATA | TXD_DCMD_EOP;
  while (head != tail) {
    while (head != tail && gathered.empty()) {
      TxDesc& d = ring[head];
      const uint32_t cmd = txd_cmd_type_len(d.qw1);
      const uint32_t len = cmd & 0xFFFF;
      const uint8_t* buf = dma(d.qw0, len);
      if ((cmd & kWholeMask) != kWhole || !buf) break;
      if (!sink) sunk += emit_locked(buf, len, into);
      ++sent.frames;
      sent.octets += len;
      d.qw1 = uint64_t{TXD_STAT_DD} << 32;   // write-back: done
      head = head + 1 == n ? 0 : head + 1;
    }
    if (head == tail) break;
    // Anything else, one descriptor at a time.
    TxDesc& d = ring[head];
    if (take_descriptor_locked(q, head, txd_cmd_type_len(d.qw1), d.qw0)) {   // a gathered frame is complete
      const auto len = static_cast<uint32_t>(gathered.size());
      if (!sink) sunk += emit_locked(gathered.data(), len, into);
      ++sent.frames;
      sent.octets += len;
      gathered.clear();   // keeps its capacity for the next long frame
    }
    d.qw1 = uint64_t{TXD_STAT_DD} << 32;
    head = head + 1 == n ? 0 : head + 1;
  }
  if (sink) sunk = sent.frames;   // a sink takes every frame
  reg(reg::TDH(q)) = head;
  add_counts(reg::GPTC, reg::GOTCL, reg::GOTCH, sent);
  if (sunk) sunk_.fetch_add(sunk, std::memory_order_relaxed);
  // The file is readable while the port lives: flushed once per doorbell.
  if (dumper_ && sent.frames) pcap_dump_flush(static_cast<pcap_dumper_t*>(dumper_));
}

// A descriptor off the usual path: a driver bug, or part of a frame that
// spans descriptors, gathered in partial_[q]; true when that frame is
// complete (this descriptor has EOP).
bool IxgbeModel::take_descriptor_locked(uint32_t q, uint32_t index, uint32_t cmd, uint64_t addr) {
  if (!(cmd & TXD_DCMD_DEXT) || (cmd & (0xFu << 20)) != TXD_DTYP_DATA) {
    driver_bug("TX descriptor %u of queue %u is not an advanced data descriptor", index, q);
    return false;
  }
  const uint32_t len = cmd & 0xFFFF;
  const uint8_t* buf = dma(addr, len);
  if (!buf) {
    driver_bug("TX descriptor %u of queue %u points outside DMA memory", index, q);
    return false;
  }
  partial_[q].insert(partial_[q].end(), buf, buf + len);
  return cmd & TXD_DCMD_EOP;
}

// One frame onto the wire; true if it ended in a sink.
bool IxgbeModel::emit_locked(const uint8_t* frame, uint32_t len, RxBatch* to) {
  switch (wire_) {
    case IxgbeWire::Loopback:
    case IxgbeWire::Pair:
      // Dropped and counted (SRRCTL.DROP_EN) when the receiving ring is full.
      if (to && to->deliver(frame, len) == Delivery::NoDescriptor) to->missed();
      return false;
    case IxgbeWire::Sink:
    case IxgbeWire::Gen: return true;
    case IxgbeWire::Tap: return !tap_->write(frame, len);   // the interface is down: lost, as on a cable
    case IxgbeWire::Pcap: {
      pcap_pkthdr h{};
      gettimeofday(&h.ts, nullptr);
      h.caplen = h.len = static_cast<bpf_u_int32>(len);
      pcap_dump(static_cast<u_char*>(dumper_), &h, frame);
      return false;
    }
  }
  return false;
}

void IxgbeModel::pause_transmit(bool paused) {
  with_wire_locked([&](IxgbeModel* peer) {
    tx_paused_ = paused;
    for (uint32_t q = 0; q < 64 && !paused; ++q) transmit_locked(q, peer);   // resumed: what was queued goes out
  });
}

// ---- inputs: a pcap file, a TAP, the generator -----------------------------------

void IxgbeModel::idle() {
  if (pcap_in_ || tap_) pull_file_and_tap();
  if (gen_) {
    std::lock_guard g(lock_);
    generate_locked();
  }
}

// Only a TAP brings input from outside; a frame already taken from it and
// not yet in the ring (pending) needs no wait.
bool IxgbeModel::wait_for_input(std::chrono::microseconds max) {
  if (!tap_) return false;
  if (pending_len_.load(std::memory_order_relaxed) == 0) tap_->wait_readable(static_cast<long>(max.count()));
  return true;
}

void IxgbeModel::pull_file_and_tap() {
  std::unique_lock in(input_lock_, std::try_to_lock);
  if (!in.owns_lock()) return;   // another thread is feeding the port
  // A frame read from the file or the TAP waits in pending_ until a
  // descriptor takes it: none is lost to a full ring.
  for (int i = 0; i < 32; ++i) {
    uint32_t len = pending_len_.load(std::memory_order_relaxed);
    if (len == 0) {
      if (pcap_in_) {
        pcap_pkthdr* h = nullptr;
        const u_char* data = nullptr;
        if (pcap_next_ex(static_cast<pcap_t*>(pcap_in_), &h, &data) == 1) {
          if (h->caplen > kMaxStandardFrame) {   // refused on arrival (ROC): no need to keep it
            std::lock_guard g(lock_);
            reg(reg::ROC) += 1;
            continue;
          }
          std::memcpy(pending_.data(), data, h->caplen);
          len = h->caplen;
        }
      }
      if (len == 0 && tap_) len = static_cast<uint32_t>(tap_->read(pending_.data(), pending_.size()));
      if (len == 0) break;
      pending_len_.store(len, std::memory_order_relaxed);
    }
    std::lock_guard g(lock_);
    RxBatch to(*this);
    if (to.deliver(pending_.data(), len) == Delivery::NoDescriptor) return;
    pending_len_.store(0, std::memory_order_relaxed);
  }
}

// The generator writes each frame straight into the descriptor's buffer,
// once RSS has chosen the queue from the frame's addresses and ports.
void IxgbeModel::generate_locked() {
  Generator& gen = *gen_;
  // A wire at a fixed rate offers what is due; frames due while no
  // descriptor is free are missed (MPC).  An unlimited one offers a burst
  // and stops at the first full ring; that frame waits in the generator
  // (nothing of it is written yet).
  const bool limited = gen.rate_limited();
  uint64_t due = limited ? std::min<uint64_t>(gen.due(0), 4096) : gen.due(kGeneratorBurst);
  if (due == 0) return;
  // RSS over the frame's addresses and UDP ports; the destination's share
  // of the hash is the same for every frame, so taken once per burst.
  const uint8_t dst[4] = {10, 0, 0, 2};
  const uint8_t dport[2] = {0, Generator::kDstPort};
  static_assert(Generator::dst_addr() == 0x0A000002u && Generator::kDstPort < 256);
  bool l4 = false;
  const bool rss = rss_applies(17, true, &l4);
  const uint32_t fixed = rss ? rss_hash(4, dst, 4) ^ (l4 ? rss_hash(10, dport, 2) : 0) : 0;
  RxBatch to(*this);
  for (; due > 0; --due) {
    uint32_t hash = 0, q = 0;
    if (rss) {
      const uint32_t src = __builtin_bswap32(gen.src_addr());
      const uint16_t sport = __builtin_bswap16(gen.src_port());
      hash = fixed ^ rss_hash(0, reinterpret_cast<const uint8_t*>(&src), 4) ^
             (l4 ? rss_hash(8, reinterpret_cast<const uint8_t*>(&sport), 2) : 0);
      q = rss_redirect(hash);
    }
    const Delivery d = to.place(q, hash, gen.size(), [&gen](uint8_t* buf) { gen.next(buf); });
    if (d == Delivery::Delivered) continue;
    if (d == Delivery::NoDescriptor && !limited) break;
    gen.skip();   // missed, or refused for a driver bug: that frame is lost
    if (d == Delivery::NoDescriptor) to.missed();
  }
}

// ---- 7.1.2.8 RSS -------------------------------------------------------------------

// 7.1.2.8.1: the Toeplitz hash XORs, for every set bit of the input, the
// 32 key bits starting at that bit's position.  It is linear in the input,
// so each input byte's share can be tabled: rss_table_[i][v] is the hash of
// byte v at position i with zeros elsewhere.
void IxgbeModel::build_rss_table() const {
  uint8_t key[40];
  for (uint32_t i = 0; i < 10; ++i) {
    uint32_t k = reg(reg::RSSRK(i));
    std::memcpy(key + 4 * i, &k, 4);   // RSSRK holds the key in little-endian byte order
  }
  auto key_bit = [&](uint32_t k) { return k < 320 ? (key[k / 8] >> (7 - k % 8)) & 1u : 0u; };
  uint32_t window[96];   // window[k]: key bits k..k+31, the first the most significant
  for (uint32_t k = 0; k < 96; ++k) {
    uint32_t w = 0;
    for (uint32_t j = 0; j < 32; ++j) w = (w << 1) | key_bit(k + j);
    window[k] = w;
  }
  for (uint32_t i = 0; i < 12; ++i) {
    auto& t = rss_table_[i];
    t[0] = 0;
    for (uint32_t v = 1; v < 256; ++v) {
      uint32_t low = static_cast<uint32_t>(__builtin_ctz(v));   // bit `low` of the byte is input bit 8i + 7 - low
      t[v] = t[v & (v - 1)] ^ window[8 * i + 7 - low];
    }
  }
  rss_stale_ = false;
}

bool IxgbeModel::rss_applies(uint8_t proto, bool has_ports, bool* l4) const {
  const uint32_t mrqc = reg(reg::MRQC);
  if ((mrqc & 0xF) != MRQC_RSS) return false;
  *l4 = has_ports && ((proto == 6 && (mrqc & MRQC_IPV4_TCP)) || (proto == 17 && (mrqc & MRQC_IPV4_UDP)));
  if (!*l4 && !(mrqc & MRQC_IPV4)) return false;
  if (rss_stale_) build_rss_table();
  return true;
}

// Input positions: source address 0..3, destination 4..7, source port
// 8..9, destination port 10..11 (network byte order).
[[gnu::always_inline]] inline uint32_t IxgbeModel::rss_hash(uint32_t first, const uint8_t* bytes, uint32_t n) const {
  uint32_t h = 0;
#pragma GCC unroll 12
  for (uint32_t i = 0; i < n; ++i) h ^= rss_table_[first + i][bytes[i]];
  return h;
}

[[gnu::always_inline]] inline uint32_t IxgbeModel::rss_redirect(uint32_t hash) const {
  const uint32_t entry = hash & 127;
  return (reg(reg::RETA(entry / 4)) >> (8 * (entry % 4))) & 0xF;
}

int IxgbeModel::rss_frame_locked(const uint8_t* f, uint32_t len, uint32_t* hash) const {
  if (len < 34 || f[12] != 0x08 || f[13] != 0x00) return -1;
  const uint8_t* ip = f + 14;
  const uint32_t ihl = (ip[0] & 0xF) * 4u;
  bool l4 = false;
  if (!rss_applies(ip[9], len >= 14 + ihl + 4, &l4)) return -1;
  *hash = rss_hash(0, ip + 12, 8) ^ (l4 ? rss_hash(8, ip + ihl, 4) : 0);
  return static_cast<int>(rss_redirect(*hash));
}

int IxgbeModel::rss_queue(const uint8_t* frame, uint32_t len, uint32_t* hash) const {
  std::lock_guard g(lock_);
  uint32_t h = 0;
  int q = rss_frame_locked(frame, len, &h);
  if (q >= 0 && hash) *hash = h;
  return q;
}

}  // namespace rl::sim
