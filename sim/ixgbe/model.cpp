// The simulated 82599: registers, then transmit, then receive and RSS.
#include "sim/ixgbe/model.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>

#include <pcap/pcap.h>
#include <sys/time.h>

#include "libredleaf/shared_heap.hpp"

namespace rl::sim {

using namespace rl::ixgbe;

namespace {
constexpr uint32_t kMaxStandardFrame = 1518;   // without CRC, with one VLAN tag
constexpr uint64_t kGeneratorBurst = 64;   // frames an unlimited generator offers per call
// Pairs by name: the second port opened with wire=pair:NAME joins the first.
std::mutex g_pairs_lock;
std::map<std::string, IxgbeModel*>* g_pairs;

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
  std::fill(regs_.begin(), regs_.end(), 0u);
  for (auto& p : partial_) p.clear();
  reg_at(reg::EEC) = EEC_ARD;
  reg_at(reg::RDRXCTL) = RDRXCTL_DMAIDONE;
  reg_at(reg::LINKS) = LINKS_UP | LINKS_SPEED_10G;
  // The EEPROM's MAC address, loaded into receive address 0.
  reg_at(reg::RAL(0)) = uint32_t{mac_[0]} | uint32_t{mac_[1]} << 8 | uint32_t{mac_[2]} << 16 | uint32_t{mac_[3]} << 24;
  reg_at(reg::RAH(0)) = uint32_t{mac_[4]} | uint32_t{mac_[5]} << 8 | RAH_AV;
}

void IxgbeModel::function_reset() {
  std::lock_guard g(lock_);
  reset();
}

uint32_t& IxgbeModel::reg_at(uint32_t off) {
  static thread_local uint32_t beyond_bar;   // writes past BAR0's registers go nowhere
  return off / 4 < regs_.size() ? regs_[off / 4] : beyond_bar;
}

uint32_t IxgbeModel::get(uint32_t off) const {
  return off / 4 < regs_.size() ? regs_[off / 4] : 0;
}

uint32_t IxgbeModel::mmio_read32(uint64_t off) {
  std::lock_guard g(lock_);
  uint32_t v = get(static_cast<uint32_t>(off));
  if (is_stat(off)) reg_at(static_cast<uint32_t>(off)) = 0;   // statistics clear on read
  return v;
}

void IxgbeModel::mmio_write32(uint64_t off, uint32_t v) {
  std::vector<std::vector<uint8_t>> frames;
  bool refilled = false;
  {
    std::lock_guard g(lock_);
    auto o = static_cast<uint32_t>(off);
    if (o == reg::CTRL && (v & CTRL_RST)) return reset();   // self-clearing
    if (o == reg::EIMC) return;
    reg_at(o) = v;
    if (o >= reg::TDT(0) && o <= reg::TDT(63) && (o - reg::TDT(0)) % 0x40 == 0)
      frames = transmit((o - reg::TDT(0)) / 0x40);
    refilled = o >= reg::RDT(0) && o <= reg::RDT(63) && (o - reg::RDT(0)) % 0x40 == 0;
  }
  // Delivered outside our lock: two paired ports may transmit to each other at once.
  for (const auto& f : frames) send(f);
  // A generator keeps the ring busy: it fills descriptors as soon as the driver returns them.
  if (refilled && gen_) pull_inputs(true);
}

uint8_t* IxgbeModel::dma(uint64_t addr, uint64_t len) const {
  auto* p = reinterpret_cast<uint8_t*>(addr);
  if (len == 0 || !detail::in_shared_heap(p) || !detail::in_shared_heap(p + len - 1)) return nullptr;
  return p;
}

void IxgbeModel::driver_bug(const std::string& what) {
  ++driver_errors_;
  fprintf(stderr, "sim:ixgbe: driver bug: %s\n", what.c_str());
}

// ---- 7.2 transmit ---------------------------------------------------------------

std::vector<std::vector<uint8_t>> IxgbeModel::transmit(uint32_t q) {
  std::vector<std::vector<uint8_t>> out;
  if (tx_paused_ || !(get(reg::DMATXCTL) & DMATXCTL_TE) || !(get(reg::TXDCTL(q)) & TXDCTL_ENABLE)) return out;
  uint64_t base = get(reg::TDBAL(q)) | (uint64_t{get(reg::TDBAH(q))} << 32);
  uint32_t n = get(reg::TDLEN(q)) / sizeof(TxDesc);
  if (n == 0) return out;
  uint32_t head = get(reg::TDH(q)), tail = get(reg::TDT(q)) % n;
  auto* ring = reinterpret_cast<TxDesc*>(dma(base, uint64_t{n} * sizeof(TxDesc)));
  if (!ring) {
    driver_bug("TX ring of queue " + std::to_string(q) + " is outside DMA memory");
    return out;
  }
  while (head != tail) {
    TxDesc& d = ring[head];
    uint32_t cmd = txd_cmd_type_len(d.qw1);
    uint32_t len = cmd & 0xFFFF;
    if (!(cmd & TXD_DCMD_DEXT) || (cmd & (0xFu << 20)) != TXD_DTYP_DATA) {
      driver_bug("TX descriptor " + std::to_string(head) + " of queue " + std::to_string(q) + " is not an advanced data descriptor");
    } else if (const uint8_t* buf = dma(d.qw0, len)) {
      partial_[q].insert(partial_[q].end(), buf, buf + len);
      if (cmd & TXD_DCMD_EOP) {
        out.push_back(partial_[q]);
        reg_at(reg::GPTC) += 1;
        uint64_t octets = (uint64_t{get(reg::GOTCH)} << 32 | get(reg::GOTCL)) + partial_[q].size() + 4;   // + CRC
        reg_at(reg::GOTCL) = static_cast<uint32_t>(octets);
        reg_at(reg::GOTCH) = static_cast<uint32_t>(octets >> 32);
        partial_[q].clear();
      }
    } else {
      driver_bug("TX descriptor " + std::to_string(head) + " of queue " + std::to_string(q) + " points outside DMA memory");
    }
    d.qw1 = uint64_t{TXD_STAT_DD} << 32;   // write-back: done
    head = (head + 1) % n;
  }
  reg_at(reg::TDH(q)) = head;
  return out;
}

void IxgbeModel::pause_transmit(bool paused) {
  std::vector<std::vector<uint8_t>> frames;
  {
    std::lock_guard g(lock_);
    tx_paused_ = paused;
    for (uint32_t q = 0; q < 64 && !paused; ++q) {   // resumed: what was queued goes out
      auto f = transmit(q);
      frames.insert(frames.end(), std::make_move_iterator(f.begin()), std::make_move_iterator(f.end()));
    }
  }
  for (const auto& f : frames) send(f);
}

void IxgbeModel::send(const std::vector<uint8_t>& frame) {
  std::lock_guard g(g_pairs_lock);   // the peer cannot go away while we deliver
  switch (wire_) {
    case IxgbeWire::Loopback: receive(frame.data(), static_cast<uint32_t>(frame.size())); break;
    case IxgbeWire::Pair:
      if (peer_) peer_->receive(frame.data(), static_cast<uint32_t>(frame.size()));
      break;
    case IxgbeWire::Sink:
    case IxgbeWire::Gen: ++sunk_; break;
    case IxgbeWire::Tap:
      if (!tap_->write(frame.data(), frame.size())) ++sunk_;   // the interface is down: lost, as on a cable
      break;
    case IxgbeWire::Pcap: {
      pcap_pkthdr h{};
      gettimeofday(&h.ts, nullptr);
      h.caplen = h.len = static_cast<bpf_u_int32>(frame.size());
      pcap_dump(static_cast<u_char*>(dumper_), &h, frame.data());
      pcap_dump_flush(static_cast<pcap_dumper_t*>(dumper_));   // readable while the port lives
      break;
    }
  }
}

void IxgbeModel::idle() { pull_inputs(false); }

// Only a TAP brings input from outside; frames already taken from it and
// not yet in the ring (pending_) need no wait.
bool IxgbeModel::wait_for_input(std::chrono::microseconds max) {
  if (!tap_) return false;
  if (pending_.empty()) tap_->wait_readable(static_cast<long>(max.count()));
  return true;
}

void IxgbeModel::pull_inputs(bool generator_only) {
  std::unique_lock in(input_lock_, std::try_to_lock);
  if (!in.owns_lock()) return;   // another thread is feeding the port
  // A frame read from a file or the TAP waits in pending_ until a descriptor
  // takes it: none is lost to a full ring.
  auto offer_pending = [this] {
    Delivery d = deliver(pending_.data(), static_cast<uint32_t>(pending_.size()));
    if (d == Delivery::NoDescriptor) return false;
    pending_.clear();
    return true;
  };
  if (!generator_only) {
    for (int i = 0; i < 32 && (pcap_in_ || tap_); ++i) {
      if (pending_.empty()) {
        if (pcap_in_) {
          pcap_pkthdr* h = nullptr;
          const u_char* data = nullptr;
          if (pcap_next_ex(static_cast<pcap_t*>(pcap_in_), &h, &data) == 1) pending_.assign(data, data + h->caplen);
        }
        if (pending_.empty() && tap_) {
          pending_.resize(2048);
          pending_.resize(tap_->read(pending_.data(), pending_.size()));
        }
        if (pending_.empty()) break;
      }
      if (!offer_pending()) return;
    }
  }
  if (!gen_) return;
  uint8_t frame[2048];
  if (gen_->rate_limited()) {
    // A wire at a fixed rate: frames due while no descriptor is free are missed (MPC).
    uint64_t due = gen_->due(0);
    for (uint64_t i = 0; i < due && i < 4096; ++i) receive(frame, gen_->next(frame));
    return;
  }
  // As fast as the port takes them: stop at the first full ring, keeping the frame.
  for (uint64_t due = gen_->due(kGeneratorBurst); due > 0; --due) {
    if (pending_.empty()) {
      uint16_t len = gen_->next(frame);
      pending_.assign(frame, frame + len);
    }
    if (!offer_pending()) return;
  }
}

// ---- 7.1 receive and RSS ----------------------------------------------------------

// 7.1.2.8.1: the Toeplitz hash over the bytes of `input` with the 40-byte key.
static uint32_t toeplitz(const uint8_t* key, const uint8_t* input, int n) {
  uint32_t hash = 0;
  uint32_t window = (uint32_t{key[0]} << 24) | (uint32_t{key[1]} << 16) | (uint32_t{key[2]} << 8) | key[3];
  for (int i = 0; i < n; ++i) {
    for (int b = 7; b >= 0; --b) {
      if (input[i] & (1u << b)) hash ^= window;
      int next = i + 4;   // the key bit that enters the window next
      window = (window << 1) | ((next < 40 ? key[next] >> b : 0) & 1);
    }
  }
  return hash;
}

int IxgbeModel::rss_queue(const uint8_t* f, uint32_t len, uint32_t* hash_out) const {
  uint32_t mrqc = get(reg::MRQC);
  if ((mrqc & 0xF) != MRQC_RSS || len < 34 || f[12] != 0x08 || f[13] != 0x00) return -1;
  uint8_t key[40];
  for (uint32_t i = 0; i < 10; ++i) {
    uint32_t k = get(reg::RSSRK(i));
    std::memcpy(key + 4 * i, &k, 4);   // RSSRK holds the key in little-endian byte order
  }
  const uint8_t* ip = f + 14;
  uint8_t input[12];
  int n = 8;
  std::memcpy(input, ip + 12, 8);   // source and destination addresses
  uint8_t proto = ip[9];
  uint32_t ihl = (ip[0] & 0xF) * 4u;
  bool l4 = (proto == 6 && (mrqc & MRQC_IPV4_TCP)) || (proto == 17 && (mrqc & MRQC_IPV4_UDP));
  if (l4 && len >= 14 + ihl + 4) {
    std::memcpy(input + 8, ip + ihl, 4);   // source and destination ports
    n = 12;
  } else if (!(mrqc & MRQC_IPV4)) {
    return -1;
  }
  uint32_t hash = toeplitz(key, input, n);
  if (hash_out) *hash_out = hash;
  uint32_t entry = hash & 127;
  return static_cast<int>((get(reg::RETA(entry / 4)) >> (8 * (entry % 4))) & 0xF);
}

bool IxgbeModel::receive(const uint8_t* frame, uint32_t len) {
  Delivery d = deliver(frame, len);
  if (d == Delivery::NoDescriptor) {   // dropped and counted (SRRCTL.DROP_EN)
    std::lock_guard g(lock_);
    reg_at(reg::MPC(0)) += 1;
  }
  return d == Delivery::Delivered;
}

IxgbeModel::Delivery IxgbeModel::deliver(const uint8_t* frame, uint32_t len) {
  std::lock_guard g(lock_);
  if (len > kMaxStandardFrame) {   // no jumbo frames (HLREG0.JUMBOEN clear): dropped, counted in ROC
    reg_at(reg::ROC) += 1;
    return Delivery::Refused;
  }
  uint32_t hash = 0;
  int rss = rss_queue(frame, len, &hash);
  uint32_t q = rss < 0 ? 0 : static_cast<uint32_t>(rss);
  uint64_t base = get(reg::RDBAL(q)) | (uint64_t{get(reg::RDBAH(q))} << 32);
  uint32_t n = get(reg::RDLEN(q)) / sizeof(RxDesc);
  uint32_t head = get(reg::RDH(q)), tail = get(reg::RDT(q));
  bool enabled = (get(reg::RXCTRL) & RXCTRL_RXEN) && (get(reg::RXDCTL(q)) & RXDCTL_ENABLE) && n > 0;
  if (!enabled || head == tail % n) return Delivery::NoDescriptor;
  auto* ring = reinterpret_cast<RxDesc*>(dma(base, uint64_t{n} * sizeof(RxDesc)));
  if (!ring) {
    driver_bug("RX ring of queue " + std::to_string(q) + " is outside DMA memory");
    return Delivery::Refused;
  }
  RxDesc& d = ring[head];
  uint32_t bsize = (get(reg::SRRCTL(q)) & 0x1F) * 1024;
  uint8_t* buf = dma(d.qw0, len);
  if (!buf || len > bsize) {
    driver_bug("RX descriptor " + std::to_string(head) + " of queue " + std::to_string(q) +
               (buf ? " has a buffer smaller than the frame" : " points outside DMA memory"));
    reg_at(reg::MPC(0)) += 1;
    return Delivery::Refused;
  }
  std::memcpy(buf, frame, len);
  // Write-back: the status word last (the driver polls on DD).
  d.qw0 = uint64_t{hash} << 32;
  __atomic_store_n(&d.qw1, rxd_writeback_qw1(RXD_STAT_DD | RXD_STAT_EOP, static_cast<uint16_t>(len)), __ATOMIC_RELEASE);
  reg_at(reg::RDH(q)) = (head + 1) % n;
  reg_at(reg::GPRC) += 1;
  uint64_t octets = (uint64_t{get(reg::GORCH)} << 32 | get(reg::GORCL)) + len + 4;
  reg_at(reg::GORCL) = static_cast<uint32_t>(octets);
  reg_at(reg::GORCH) = static_cast<uint32_t>(octets >> 32);
  return Delivery::Delivered;
}

}  // namespace rl::sim
