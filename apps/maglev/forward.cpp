#include "apps/maglev/forward.hpp"

#include <cstring>

namespace rl::maglev {

namespace {

// Field offsets (RFC 791 for IPv4, RFC 768 for UDP, RFC 793 for TCP).
constexpr uint16_t kEthDst = 0, kEthSrc = 6, kEthType = 12;
constexpr uint16_t kIpMinHeader = 20, kIpTotalLen = 2, kIpFrag = 6, kIpProto = 9, kIpCheck = 10, kIpSrc = 12,
                   kIpDst = 16;
constexpr uint16_t kIpFragMask = 0x3FFF;   // more-fragments flag and offset; DF (0x4000) is fine
constexpr uint16_t kUdpHeader = 8, kUdpCheck = 6;
constexpr uint16_t kTcpMinHeader = 20, kTcpCheck = 16;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }

// The hot path's pieces are forced inline into process(): as calls they cost
// a third of its instructions (measured with callgrind), mostly passing
// Parsed through memory.
#define RL_HOT [[gnu::always_inline]] inline

RL_HOT Parsed drop(Verdict v) {
  Parsed p{};
  p.verdict = v;
  return p;
}

RL_HOT Parsed parse_frame(const uint8_t* f, uint16_t len) {
  if (len < kEthHeader) return drop(Verdict::Truncated);
  if (be16(f + kEthType) != kEtherTypeIpv4) return drop(Verdict::NotIpv4);   // VLAN tags and IPv6 included
  if (len < kEthHeader + kIpMinHeader) return drop(Verdict::Truncated);
  const uint8_t* ip = f + kEthHeader;
  const uint16_t hl = (ip[0] & 0xF) * 4;
  if ((ip[0] >> 4) != 4 || hl < kIpMinHeader) return drop(Verdict::BadHeader);
  const uint16_t total = be16(ip + kIpTotalLen);
  if (total < hl) return drop(Verdict::BadHeader);
  // The frame may be longer (Ethernet pads to 60 bytes), never shorter.
  if (total > len - kEthHeader) return drop(Verdict::Truncated);
  // A fragment other than the first has no ports, and the first alone
  // would split one datagram over two backends: dropped, counted.
  if (be16(ip + kIpFrag) & kIpFragMask) return drop(Verdict::Fragment);
  const uint8_t proto = ip[kIpProto];
  if (proto != kTcp && proto != kUdp) return drop(Verdict::NotTcpUdp);
  if (total - hl < (proto == kTcp ? kTcpMinHeader : kUdpHeader)) return drop(Verdict::Truncated);
  Parsed p{};
  p.verdict = Verdict::Forward;
  p.proto = proto;
  p.l4 = static_cast<uint16_t>(kEthHeader + hl);
  const uint8_t* l4 = f + p.l4;
  p.key.addrs = uint64_t{be32(ip + kIpSrc)} << 32 | be32(ip + kIpDst);
  p.key.ports = uint64_t{be16(l4)} << 24 | uint64_t{be16(l4 + 2)} << 8 | proto;
  return p;
}

RL_HOT uint64_t hash_of(const FlowKey& k) {
  // Spread the ports over all 64 bits, fold in the addresses, then the
  // SplitMix64 finalizer: every input bit reaches both halves of the
  // result, which index two different tables.
  uint64_t x = k.addrs ^ (k.ports * 0x9E3779B97F4A7C15ull);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

RL_HOT uint16_t replace32(uint16_t check, uint32_t from, uint32_t to) {
  // One's complement arithmetic is the same in either byte order (RFC 1071
  // 2.B), so the words are used as loaded, without swapping.
  uint32_t sum = static_cast<uint16_t>(~check);
  sum += static_cast<uint16_t>(~from) + static_cast<uint16_t>(~from >> 16);
  sum += (to & 0xFFFF) + (to >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

RL_HOT void readdress(uint8_t* f, const Parsed& p, const Dest& d, const std::array<uint8_t, 6>& src_mac) {
  std::memcpy(f + kEthDst, d.mac.data(), 6);
  std::memcpy(f + kEthSrc, src_mac.data(), 6);
  uint8_t* ip = f + kEthHeader;
  uint32_t old_dst;
  uint16_t check;
  std::memcpy(&old_dst, ip + kIpDst, 4);
  std::memcpy(&check, ip + kIpCheck, 2);
  check = replace32(check, old_dst, d.ip_be);
  std::memcpy(ip + kIpCheck, &check, 2);
  std::memcpy(ip + kIpDst, &d.ip_be, 4);
  // The TCP and UDP checksums cover a pseudo-header with the destination
  // address: the same difference applies to them.
  uint8_t* l4 = f + p.l4;
  const uint16_t at = p.proto == kTcp ? kTcpCheck : kUdpCheck;
  std::memcpy(&check, l4 + at, 2);
  if (p.proto == kUdp && check == 0) return;   // UDP over IPv4 without a checksum: stays without
  check = replace32(check, old_dst, d.ip_be);
  if (p.proto == kUdp && check == 0) check = 0xFFFF;   // RFC 768: a computed 0 is sent as all ones
  std::memcpy(l4 + at, &check, 2);
}

}  // namespace

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::Forward: return "forwarded";
    case Verdict::NotIpv4: return "not_ipv4";
    case Verdict::Truncated: return "truncated";
    case Verdict::BadHeader: return "bad_header";
    case Verdict::Fragment: return "fragment";
    case Verdict::NotTcpUdp: return "not_tcp_udp";
    case Verdict::kCount: break;
  }
  return "?";
}

Parsed parse(const uint8_t* f, uint16_t len) { return parse_frame(f, len); }
uint64_t flow_hash(const FlowKey& k) { return hash_of(k); }
uint16_t checksum_replace32(uint16_t check, uint32_t from, uint32_t to) { return replace32(check, from, to); }
void rewrite(uint8_t* f, const Parsed& p, const Dest& d, const std::array<uint8_t, 6>& src_mac) {
  readdress(f, p, d, src_mac);
}

uint64_t Forwarder::Counters::dropped_total() const {
  uint64_t n = 0;
  for (uint64_t d : dropped) n += d;
  return n;
}

Forwarder::Forwarder(const ForwarderConfig& cfg, std::unique_ptr<const Snapshot> backends)
    : cfg_(cfg), ct_(cfg.conntrack_entries, cfg.idle_epochs), snap_(std::move(backends)) {}

RL_HOT const Dest& Forwarder::choose(const FlowKey& key, uint64_t hash) {
  const Snapshot& s = *snap_;
  const uint16_t tracked = ct_.find(hash, key);
  if (tracked != ConnTrack::kMiss) {
    if (s.current(tracked)) return s.dest[tracked & (kMaxBackends - 1)];
    ++c_.rehomed;   // its backend was removed: a new one, from the table
  }
  const Dest& d = s.dest[s.slot_for(static_cast<uint32_t>(hash))];
  ct_.insert(hash, key, d.handle);
  return d;
}

uint32_t Forwarder::process(net::PacketBatch& q) {
  // Two passes: the first parses every frame and prefetches its connection
  // tracking bucket, so the second finds most of the buckets in cache (with
  // a million flows each one is a miss to memory otherwise).
  Parsed meta[net::kNetBatch];
  uint64_t hash[net::kNetBatch];
  const std::size_t n = q.size() < net::kNetBatch ? q.size() : net::kNetBatch;
  std::size_t frames = 0;
  for (; frames < n; ++frames) {
    RRef<net::Packet>& pk = q[frames];
    if (!pk || pk->len == 0) break;
    meta[frames] = parse_frame(pk->data.data(), pk->len < net::kMaxFrame ? pk->len : net::kMaxFrame);
    if (meta[frames].verdict == Verdict::Forward) {
      hash[frames] = hash_of(meta[frames].key);
      ct_.prefetch(hash[frames]);
    }
  }
  uint32_t forwarded = 0;
  for (std::size_t i = 0; i < frames; ++i) {
    net::Packet& pk = *q[i];
    if (meta[i].verdict != Verdict::Forward) {
      ++c_.dropped[static_cast<size_t>(meta[i].verdict)];
      pk.len = 0;   // the driver skips it on transmit
      continue;
    }
    const Dest& d = choose(meta[i].key, hash[i]);
    readdress(pk.data.data(), meta[i], d, cfg_.port_mac);
    ++per_slot_[d.handle & (kMaxBackends - 1)];
    ++forwarded;
  }
  c_.in += frames;
  c_.forwarded += forwarded;
  return forwarded;
}

Verdict Forwarder::process_one(uint8_t* frame, uint16_t len) {
  ++c_.in;
  Parsed p = parse_frame(frame, len);
  if (p.verdict != Verdict::Forward) {
    ++c_.dropped[static_cast<size_t>(p.verdict)];
    return p.verdict;
  }
  const Dest& d = choose(p.key, hash_of(p.key));
  readdress(frame, p, d, cfg_.port_mac);
  ++per_slot_[d.handle & (kMaxBackends - 1)];
  ++c_.forwarded;
  return Verdict::Forward;
}

void Forwarder::install(std::unique_ptr<const Snapshot> next) {
  // A slot given to another backend (a new generation): what it counted
  // belongs to the old one's name.
  for (uint32_t s = 0; s < kMaxBackends; ++s) {
    if (per_slot_[s] && next->dest[s].handle != snap_->dest[s].handle) {
      retired_[snap_->name[s]] += per_slot_[s];
      per_slot_[s] = 0;
    }
  }
  snap_ = std::move(next);
}

std::map<std::string, uint64_t> Forwarder::per_backend() const {
  auto m = retired_;
  for (uint32_t s = 0; s < kMaxBackends; ++s)
    if (!snap_->name[s].empty()) m[snap_->name[s]] += per_slot_[s];
  return m;
}

}  // namespace rl::maglev
