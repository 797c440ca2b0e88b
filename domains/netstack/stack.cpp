// The network stack: lwIP's raw API behind the NetStack interface.
//
// Why lwIP, and how it is driven:
//  - Debian's liblwip is built with NO_SYS=0 (a tcpip thread and locks), but
//    its raw API works without that thread when one thread does everything:
//    we never call tcpip_init, so lwIP's core-locking check has no tcpip
//    thread to compare with and stays quiet.  Every call below runs on the
//    caller's thread, inside exchange() or a socket call: run to completion,
//    as a DPDK application runs its poll loop.
//  - Its state (pcb lists, ARP table, timers) lives in liblwip.so's globals,
//    so there is one stack per process.  Our own objects (sockets, the
//    output ring) live in the domain's heap; lwIP's memory comes from malloc
//    (MEM_LIBC_MALLOC=1), as does the netif, so that a stack created after
//    a crashed one can find and retire what the dead one left in lwIP
//    (retire_previous_stack).
//  - Output is batched: frames lwIP sends go into the buffers of the deque
//    exchange() was given, or, outside exchange() (a close, a UDP send), into
//    a bounded ring that the next exchange() empties first, so frames keep
//    their order.  TCP data queued by send() goes out at the next exchange(),
//    all sockets' segments in one batch.
#include <arpa/inet.h>   // before lwIP's headers: they rely on the system's byte-order functions

#include "domains/netstack/stack.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <vector>

#include <lwip/etharp.h>
#include <lwip/init.h>
#include <lwip/ip4_addr.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/tcp.h>
#include <lwip/timeouts.h>
#include <lwip/udp.h>
#include <netif/ethernet.h>
#undef tcp_listen   // lwIP's macro would swallow our method of that name; we call tcp_listen_with_backlog

#include "libredleaf/rl.hpp"

namespace rl::netstack {
namespace {

constexpr uint16_t kMtu = 1500;
constexpr std::size_t kOutRingFrames = 512;      // frames sent outside exchange() (closes, UDP) before the next one
constexpr std::size_t kUdpQueue = 256;           // datagrams waiting per UDP socket; more are dropped, as a kernel does
constexpr uint32_t kDefaultMaxSockets = 1024;
constexpr uint32_t kMaxBacklog = 1024;

struct Stack;

struct Datagram {
  pbuf* p;
  uint32_t ip;     // host order
  uint16_t port;
};

struct Socket {
  enum class Kind { Free, Listener, Tcp, Udp };
  Stack* stack = nullptr;
  int32_t id = -1;
  Kind kind = Kind::Free;
  tcp_pcb* tcp = nullptr;
  udp_pcb* udp = nullptr;
  pbuf* rx = nullptr;               // received, not yet read (a chain)
  bool eof = false;                 // the peer sent FIN
  bool reset = false;               // lwIP freed the pcb (RST, timeout)
  bool want_write = false;          // send() ran out of room: report kWritable when acked
  bool needs_output = false;        // data queued since the last exchange()
  uint32_t pending = 0;             // event bits not yet reported
  uint32_t backlog = 0;
  std::deque<int32_t> accept_queue; // listener: accepted by lwIP, not yet by the application
  std::deque<Datagram> datagrams;   // UDP
};

struct OutFrame {
  uint16_t len;
  std::array<uint8_t, kMtu + 14> data;
};

// A SYN for a connection lwIP still holds in TIME-WAIT (we closed first; it
// stays there 2 x TCP_MSL = 2 minutes in Debian's build) starts a new
// connection when its sequence number is past the old one's (RFC 6191; what
// Linux does).  lwIP itself answers such a SYN with an ACK of the old
// connection and ignores the peer's RST (RFC 1337), so a client whose
// kernel reuses the port (it is free on the client's side: it closed
// second) could not connect from it for two minutes.
void recycle_time_wait(const uint8_t* frame, std::size_t len) {
  constexpr std::size_t kEth = 14;
  if (len < kEth + 20 || frame[12] != 0x08 || frame[13] != 0x00) return;   // IPv4
  const uint8_t* ip = frame + kEth;
  const std::size_t ihl = (ip[0] & 0x0fu) * 4u;
  if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != IP_PROTO_TCP || len < kEth + ihl + 20) return;
  const uint8_t* th = ip + ihl;
  if ((th[13] & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN) return;
  const uint16_t src_port = static_cast<uint16_t>(th[0] << 8 | th[1]);
  const uint16_t dst_port = static_cast<uint16_t>(th[2] << 8 | th[3]);
  const uint32_t seq = static_cast<uint32_t>(th[4]) << 24 | static_cast<uint32_t>(th[5]) << 16 |
                       static_cast<uint32_t>(th[6]) << 8 | th[7];
  uint32_t src_ip;   // network order, as ip_addr_get_ip4_u32 gives it
  std::memcpy(&src_ip, ip + 12, 4);
  for (tcp_pcb* pcb = tcp_tw_pcbs; pcb; pcb = pcb->next) {
    if (pcb->local_port != dst_port || pcb->remote_port != src_port || !IP_IS_V4_VAL(pcb->remote_ip) ||
        ip_addr_get_ip4_u32(&pcb->remote_ip) != src_ip)
      continue;
    if (TCP_SEQ_GT(seq, pcb->rcv_nxt)) tcp_abort(pcb);   // in TIME-WAIT: freed without a word on the wire
    return;
  }
}

err_t on_accept(void* arg, tcp_pcb* pcb, err_t err);
err_t on_recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t err);
err_t on_sent(void* arg, tcp_pcb* pcb, u16_t len);
void on_error(void* arg, err_t err);
void on_datagram(void* arg, udp_pcb* pcb, pbuf* p, const ip_addr_t* addr, u16_t port);
err_t link_output(netif* nif, pbuf* p);

// Everything an earlier stack left in lwIP (it crashed, or was unloaded
// without closing its sockets): its callbacks would reach freed objects.
// Pcbs are dropped without a word on the wire: the netif that could send
// that word belonged to the dead stack.
void retire_previous_stack() {
  auto silence = [](tcp_pcb* pcb) {
    tcp_arg(pcb, nullptr);
    if (pcb->state == LISTEN) {
      tcp_accept(pcb, nullptr);
      return;
    }
    tcp_recv(pcb, nullptr);
    tcp_sent(pcb, nullptr);
    tcp_err(pcb, nullptr);
  };
  while (tcp_listen_pcbs.pcbs) {
    silence(tcp_listen_pcbs.pcbs);
    tcp_close(tcp_listen_pcbs.pcbs);   // a listener is freed at once
  }
  for (tcp_pcb** list : {&tcp_active_pcbs, &tcp_tw_pcbs, &tcp_bound_pcbs}) {
    while (*list) {
      tcp_pcb* pcb = *list;
      silence(pcb);
      tcp_abandon(pcb, 0);   // unlinks and frees it, no RST
    }
  }
  while (udp_pcbs) udp_remove(udp_pcbs);
  while (netif_list) {
    netif* old = netif_list;
    netif_remove(old);
    std::free(old);
  }
}

struct Stack final : NetStack {
  explicit Stack(const NetStackInit& init)
      : max_sockets_(init.max_sockets ? init.max_sockets : kDefaultMaxSockets), out_ring_(kOutRingFrames) {
    static_assert(sizeof(net::Packet::data) >= kMtu + 14, "a Packet must hold a full Ethernet frame");
    // lwip_init once per process: a second call would register lwIP's
    // cyclic timers twice.  After the first, a timer is always pending.
    if (sys_timeouts_sleeptime() == SYS_TIMEOUTS_SLEEPTIME_INFINITE) lwip_init();
    retire_previous_stack();
    std::memcpy(mac_.data(), init.mac.data(), 6);
    nif_ = static_cast<netif*>(std::calloc(1, sizeof(netif)));
    if (!nif_) rl::panic("netstack: out of memory for the interface");
    ip4_addr_t ip, mask, gw;
    ip.addr = htonl(init.ip);
    mask.addr = htonl(init.netmask);
    gw.addr = htonl(init.gateway);
    if (!netif_add(nif_, &ip, &mask, &gw, this, &Stack::init_netif, ethernet_input))
      rl::panic("netstack: lwIP refused the interface");
    netif_set_default(nif_);
    netif_set_up(nif_);
    netif_set_link_up(nif_);
  }

  ~Stack() override {
    for (auto& s : sockets_)
      if (s && s->kind != Socket::Kind::Free) release(*s, /*graceful=*/false);
    netif_remove(nif_);
    std::free(nif_);
  }

  // ---- frames ---------------------------------------------------------
  RpcResult<net::PacketBatch> exchange(net::PacketBatch frames) override {
    const std::size_t n = frames ? frames.size() : 0;
    batch_ = n ? &frames : nullptr;
    writable_ = 0;
    out_next_ = 0;
    drain_ring();   // older frames first
    for (std::size_t i = 0; i < n; ++i) {
      net::Packet& pkt = *frames[i];
      const uint16_t len = pkt.len;
      pkt.len = 0;
      if (len == 0) break;   // frames come first: the rest are empty buffers
      writable_ = i + 1;     // this buffer is free once its frame is copied out
      ++stats_.frames_in;
      // PBUF_RAM, one allocation of the frame's size: Debian's build sizes
      // its PBUF_POOL buffers inconsistently (ASan caught pbuf_take writing
      // a 1514-byte frame into a 616-byte pool buffer).
      pbuf* p = pbuf_alloc(PBUF_RAW, len, PBUF_RAM);
      if (!p) continue;   // out of memory: the frame is lost, as on a full ring
      pbuf_take(p, pkt.data.data(), len);
      if (tcp_tw_pcbs) recycle_time_wait(pkt.data.data(), len);
      if (nif_->input(p, nif_) != ERR_OK) pbuf_free(p);
    }
    writable_ = n;
    // lwIP's timers tick every 100 ms or more (TCP's fast timer: 250 ms);
    // reading the clock for them every 16th round is plenty, and saves a
    // tenth of an idle round.
    if ((++rounds_ & 15) == 0) sys_check_timeouts();
    for (int32_t id : flush_) {
      Socket* s = find(id);
      if (s && s->needs_output && s->tcp) tcp_output(s->tcp);
      if (s) s->needs_output = false;
    }
    flush_.clear();
    drain_ring();
    batch_ = nullptr;
    return frames;
  }

  RpcResult<Events> events() override {
    Events ev{};
    while (ev.count < kMaxEvents && ready_head_ < ready_.size()) {
      Socket* s = find(ready_[ready_head_++]);
      if (!s || !s->pending) continue;   // closed, or reported through an earlier entry
      ev.list[ev.count++] = Event{s->id, s->pending};
      s->pending = 0;
    }
    if (ready_head_ == ready_.size()) {
      ready_.clear();
      ready_head_ = 0;
    }
    ev.more = ready_head_ < ready_.size();
    return ev;
  }

  // ---- TCP ------------------------------------------------------------
  RpcResult<int32_t> tcp_listen(uint16_t port, uint32_t backlog) override {
    Socket* s = allocate(Socket::Kind::Listener);
    if (!s) return -EMFILE;
    tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (!pcb) return release_with(*s, -ENOMEM);
    ip_set_option(pcb, SOF_REUSEADDR);
    if (tcp_bind(pcb, IP4_ADDR_ANY, port) != ERR_OK) {
      tcp_close(pcb);
      return release_with(*s, -EADDRINUSE);
    }
    s->backlog = std::clamp<uint32_t>(backlog, 1, kMaxBacklog);
    tcp_pcb* listener = tcp_listen_with_backlog(pcb, static_cast<u8_t>(std::min<uint32_t>(s->backlog, 255)));
    if (!listener) {
      tcp_close(pcb);
      return release_with(*s, -ENOMEM);
    }
    s->tcp = listener;
    tcp_arg(listener, s);
    tcp_accept(listener, on_accept);
    return s->id;
  }

  RpcResult<int32_t> accept(int32_t listener) override {
    Socket* l = find(listener, Socket::Kind::Listener);
    if (!l) return -EINVAL;
    if (l->accept_queue.empty()) return -EAGAIN;
    int32_t id = l->accept_queue.front();
    l->accept_queue.pop_front();
    ++stats_.tcp_accepted;
    return id;
  }

  RpcResult<RRef<Chunk>> recv(int32_t id, RRef<Chunk> buf) override {
    Chunk& c = *buf;
    c.len = 0;
    Socket* s = find(id, Socket::Kind::Tcp);
    if (!s) {
      c.status = -EBADF;
      return buf;
    }
    if (s->rx) {
      const u16_t want = static_cast<u16_t>(std::min<std::size_t>(s->rx->tot_len, kChunkBytes));
      const u16_t got = pbuf_copy_partial(s->rx, c.data.data(), want, 0);
      s->rx = pbuf_free_header(s->rx, got);
      c.len = got;
      c.status = got;
      if (s->tcp) {
        tcp_recved(s->tcp, got);   // opens the window again: may send a window update
        mark_output(*s);
      }
      return buf;
    }
    c.status = s->reset ? -ECONNRESET : s->eof ? 0 : -EAGAIN;
    return buf;
  }

  RpcResult<RRef<Chunk>> send(int32_t id, RRef<Chunk> data) override {
    Chunk& c = *data;
    Socket* s = find(id, Socket::Kind::Tcp);
    if (!s) {
      c.status = -EBADF;
      return data;
    }
    if (!s->tcp) {
      c.status = s->reset ? -ECONNRESET : -EPIPE;
      return data;
    }
    const uint32_t len = std::min<uint32_t>(c.len, kChunkBytes);
    uint32_t taken = 0;
    while (taken < len) {
      // tcp_write takes at most 64 KiB - 1 at once and as much as the send
      // buffer has room for; a full segment queue answers ERR_MEM.
      const uint32_t room = std::min<uint32_t>(tcp_sndbuf(s->tcp), len - taken);
      if (room == 0) break;
      if (tcp_write(s->tcp, c.data.data() + taken, static_cast<u16_t>(std::min<uint32_t>(room, 0xffff)),
                    TCP_WRITE_FLAG_COPY) != ERR_OK)
        break;
      taken += std::min<uint32_t>(room, 0xffff);
    }
    if (taken < len) s->want_write = true;
    if (taken) mark_output(*s);
    c.status = taken ? static_cast<int32_t>(taken) : -EAGAIN;
    return data;
  }

  RpcResult<int32_t> close(int32_t id) override {
    Socket* s = find(id);
    if (!s) return -EBADF;
    release(*s, /*graceful=*/true);
    return 0;
  }

  // ---- UDP ------------------------------------------------------------
  RpcResult<int32_t> udp_bind(uint16_t port) override {
    Socket* s = allocate(Socket::Kind::Udp);
    if (!s) return -EMFILE;
    udp_pcb* pcb = udp_new_ip_type(IPADDR_TYPE_V4);
    if (!pcb) return release_with(*s, -ENOMEM);
    ip_set_option(pcb, SOF_REUSEADDR);
    if (::udp_bind(pcb, IP4_ADDR_ANY, port) != ERR_OK) {
      udp_remove(pcb);
      return release_with(*s, -EADDRINUSE);
    }
    s->udp = pcb;
    ::udp_recv(pcb, on_datagram, s);
    return s->id;
  }

  RpcResult<RRef<Chunk>> udp_recv(int32_t id, RRef<Chunk> buf) override {
    Chunk& c = *buf;
    c.len = 0;
    Socket* s = find(id, Socket::Kind::Udp);
    if (!s) {
      c.status = -EBADF;
      return buf;
    }
    if (s->datagrams.empty()) {
      c.status = -EAGAIN;
      return buf;
    }
    Datagram d = s->datagrams.front();
    s->datagrams.pop_front();
    // A datagram larger than a chunk is cut, as recv() on a kernel socket does.
    c.len = pbuf_copy_partial(d.p, c.data.data(), static_cast<u16_t>(std::min<std::size_t>(d.p->tot_len, kChunkBytes)), 0);
    c.status = static_cast<int32_t>(c.len);
    c.peer_ip = d.ip;
    c.peer_port = d.port;
    pbuf_free(d.p);
    return buf;
  }

  RpcResult<RRef<Chunk>> udp_send(int32_t id, RRef<Chunk> datagram) override {
    Chunk& c = *datagram;
    Socket* s = find(id, Socket::Kind::Udp);
    if (!s) {
      c.status = -EBADF;
      return datagram;
    }
    if (c.len > 0xffff - 8 - 20 || c.len > kChunkBytes) {
      c.status = -EMSGSIZE;
      return datagram;
    }
    pbuf* p = pbuf_alloc(PBUF_TRANSPORT, static_cast<u16_t>(c.len), PBUF_RAM);
    if (!p) {
      c.status = -ENOMEM;
      return datagram;
    }
    pbuf_take(p, c.data.data(), static_cast<u16_t>(c.len));
    ip_addr_t to;
    ip_addr_set_ip4_u32(&to, htonl(c.peer_ip));
    err_t e = udp_sendto(s->udp, p, &to, c.peer_port);
    pbuf_free(p);
    if (e == ERR_OK) ++stats_.udp_out;
    c.status = e == ERR_OK ? static_cast<int32_t>(c.len) : e == ERR_RTE ? -EHOSTUNREACH : -ENOBUFS;
    return datagram;
  }

  RpcResult<StackStats> stats() override {
    StackStats st = stats_;
    st.tcp_open = 0;
    for (auto& s : sockets_)
      if (s && s->kind == Socket::Kind::Tcp) ++st.tcp_open;
    return st;
  }

  // ---- lwIP's side ----------------------------------------------------
  static err_t init_netif(netif* nif) {
    auto* self = static_cast<Stack*>(nif->state);
    nif->name[0] = 'r';
    nif->name[1] = 'l';
    nif->mtu = kMtu;
    nif->hwaddr_len = 6;
    std::memcpy(nif->hwaddr, self->mac_.data(), 6);
    nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    nif->output = etharp_output;
    nif->linkoutput = link_output;
    return ERR_OK;
  }

  // A frame from lwIP: into the batch if a buffer is free there, else into
  // the ring; a full ring drops it (TCP sends it again).
  err_t output(const pbuf* p) {
    const uint16_t len = p->tot_len;
    if (len > kMtu + 14) return ERR_BUF;
    if (batch_ && out_next_ < writable_ && out_count_ == 0) {
      net::Packet& pkt = *(*batch_)[out_next_++];
      pbuf_copy_partial(p, pkt.data.data(), len, 0);
      pkt.len = len;
      ++stats_.frames_out;
      return ERR_OK;
    }
    if (out_count_ == out_ring_.size()) {
      ++stats_.frames_dropped_out;
      return ERR_MEM;
    }
    OutFrame& f = out_ring_[(out_head_ + out_count_++) % out_ring_.size()];
    pbuf_copy_partial(p, f.data.data(), len, 0);
    f.len = len;
    return ERR_OK;
  }

  // False when it refused the connection (lwIP then resets it: the client
  // sees a reset, not a hang).
  bool on_accepted(Socket& l, tcp_pcb* pcb) {
    Socket* s = l.accept_queue.size() < l.backlog ? allocate(Socket::Kind::Tcp) : nullptr;
    if (!s) return false;
    s->tcp = pcb;
    tcp_arg(pcb, s);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_error);
    tcp_nagle_disable(pcb);   // request/response traffic: a reply must not wait for the previous ACK
    l.accept_queue.push_back(s->id);
    mark(l, kReadable);
    return true;
  }
  void on_received(Socket& s, pbuf* p) {
    if (!p) {
      s.eof = true;
    } else if (s.rx) {
      pbuf_cat(s.rx, p);
    } else {
      s.rx = p;
    }
    mark(s, kReadable);
  }
  void on_acked(Socket& s) {
    if (!s.want_write) return;
    s.want_write = false;
    mark(s, kWritable);
  }
  void on_failed(Socket& s) {   // lwIP has freed the pcb
    s.tcp = nullptr;
    s.reset = true;
    mark(s, kReadable | kClosed);
  }
  void on_udp(Socket& s, pbuf* p, const ip_addr_t* addr, uint16_t port) {
    if (s.datagrams.size() >= kUdpQueue) {
      pbuf_free(p);
      return;
    }
    ++stats_.udp_in;
    s.datagrams.push_back(Datagram{p, ntohl(ip_addr_get_ip4_u32(addr)), port});
    mark(s, kReadable);
  }

 private:
  Socket* find(int32_t id) {
    if (id < 0 || static_cast<std::size_t>(id) >= sockets_.size()) return nullptr;
    Socket* s = sockets_[static_cast<std::size_t>(id)].get();
    return s && s->kind != Socket::Kind::Free ? s : nullptr;
  }
  // The socket if it is of this kind (a listener is no stream, ...).
  Socket* find(int32_t id, Socket::Kind kind) {
    Socket* s = find(id);
    return s && s->kind == kind ? s : nullptr;
  }
  Socket* allocate(Socket::Kind kind) {
    int32_t id;
    if (!free_ids_.empty()) {
      id = free_ids_.back();
      free_ids_.pop_back();
    } else if (sockets_.size() < max_sockets_) {
      id = static_cast<int32_t>(sockets_.size());
      sockets_.push_back(std::make_unique<Socket>());
    } else {
      return nullptr;
    }
    Socket& s = *sockets_[static_cast<std::size_t>(id)];
    s = Socket{};
    s.stack = this;
    s.id = id;
    s.kind = kind;
    return &s;
  }
  int32_t release_with(Socket& s, int32_t error) {
    s.kind = Socket::Kind::Free;
    free_ids_.push_back(s.id);
    return error;
  }
  // Frees the socket number.  A graceful TCP close sends what is queued,
  // then FIN, and lwIP finishes the handshake on its own.  Unread data is
  // dropped but acknowledged first: a kernel would answer it with a reset,
  // which can destroy a reply still in flight to the peer (an HTTP error
  // answer to a request whose body was never read) -- what servers' lingering
  // close avoids.  If the close itself fails, the connection is reset.
  void release(Socket& s, bool graceful) {
    if (s.tcp) {
      tcp_pcb* pcb = s.tcp;
      tcp_arg(pcb, nullptr);
      if (s.kind == Socket::Kind::Listener) {
        tcp_accept(pcb, nullptr);
        tcp_close(pcb);
      } else {
        tcp_recv(pcb, nullptr);
        tcp_sent(pcb, nullptr);
        tcp_err(pcb, nullptr);
        if (graceful && s.rx) tcp_recved(pcb, s.rx->tot_len);
        if (!graceful || tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
      }
    }
    for (int32_t pending : s.accept_queue)
      if (Socket* c = find(pending)) release(*c, false);
    if (s.udp) udp_remove(s.udp);
    if (s.rx) pbuf_free(s.rx);
    for (Datagram& d : s.datagrams) pbuf_free(d.p);
    const int32_t id = s.id;
    s = Socket{};
    s.id = id;
    free_ids_.push_back(id);
  }
  void mark(Socket& s, uint32_t what) {
    if (!s.pending) ready_.push_back(s.id);
    s.pending |= what;
  }
  void mark_output(Socket& s) {
    if (s.needs_output) return;
    s.needs_output = true;
    flush_.push_back(s.id);
  }
  void drain_ring() {
    while (out_count_ && batch_ && out_next_ < writable_) {
      OutFrame& f = out_ring_[out_head_];
      net::Packet& pkt = *(*batch_)[out_next_++];
      std::memcpy(pkt.data.data(), f.data.data(), f.len);
      pkt.len = f.len;
      out_head_ = (out_head_ + 1) % out_ring_.size();
      --out_count_;
      ++stats_.frames_out;
    }
  }

  std::array<uint8_t, 6> mac_{};
  netif* nif_ = nullptr;
  uint32_t max_sockets_;
  std::vector<std::unique_ptr<Socket>> sockets_;
  std::vector<int32_t> free_ids_;
  std::vector<int32_t> ready_;   // sockets with events, in order
  std::size_t ready_head_ = 0;
  std::vector<int32_t> flush_;   // sockets with data queued since the last exchange
  // Output while exchange() runs: buffers [0, writable_) of *batch_ are
  // free, the next frame goes to out_next_.
  net::PacketBatch* batch_ = nullptr;
  std::size_t writable_ = 0, out_next_ = 0;
  std::vector<OutFrame> out_ring_;
  std::size_t out_head_ = 0, out_count_ = 0;
  uint32_t rounds_ = 0;
  StackStats stats_{};
};

Socket* socket_of(void* arg) { return static_cast<Socket*>(arg); }

err_t on_accept(void* arg, tcp_pcb* pcb, err_t err) {
  if (!arg || err != ERR_OK || !pcb) return ERR_VAL;
  Socket* l = socket_of(arg);
  if (l->stack->on_accepted(*l, pcb)) return ERR_OK;
  tcp_abort(pcb);
  return ERR_ABRT;
}
err_t on_recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t) {
  if (!arg) {   // closed by the application: take the data and drop it
    if (p) {
      tcp_recved(pcb, p->tot_len);
      pbuf_free(p);
    }
    return ERR_OK;
  }
  Socket* s = socket_of(arg);
  s->stack->on_received(*s, p);
  return ERR_OK;
}
err_t on_sent(void* arg, tcp_pcb*, u16_t) {
  if (arg) socket_of(arg)->stack->on_acked(*socket_of(arg));
  return ERR_OK;
}
void on_error(void* arg, err_t) {
  if (arg) socket_of(arg)->stack->on_failed(*socket_of(arg));
}
void on_datagram(void* arg, udp_pcb*, pbuf* p, const ip_addr_t* addr, u16_t port) {
  if (!arg || !addr || !IP_IS_V4(addr)) {
    pbuf_free(p);
    return;
  }
  socket_of(arg)->stack->on_udp(*socket_of(arg), p, addr, port);
}
err_t link_output(netif* nif, pbuf* p) { return static_cast<Stack*>(nif->state)->output(p); }

}  // namespace

std::unique_ptr<NetStack> make_netstack(const NetStackInit& init) { return std::make_unique<Stack>(init); }

}  // namespace rl::netstack
