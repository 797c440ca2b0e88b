// The answers a host owes the network even without a stack: ARP replies for
// its address and ICMP echo replies (ping).  Used by rl-responder, the TAP
// round-trip test and the unit tests; issue 8's stack replaces it for apps.
#pragma once

#include <array>
#include <cstdint>

namespace rl::tools {

// Rewrites `frame` (`len` bytes, no CRC) in place into the answer to an ARP
// request for `ip` or an ICMP echo request to `ip`, sent from `mac`; returns
// the answer's length, or 0 when the frame asks nothing of us or is
// malformed (short, bad lengths or checksum: never answered, never read past
// `len`).  `frame` has room for 60 bytes (short answers are zero-padded).
// `ip` is in host byte order.
uint16_t answer(uint8_t* frame, uint16_t len, const std::array<uint8_t, 6>& mac, uint32_t ip);

// The Internet checksum (RFC 1071) of `len` bytes.
uint16_t inet_checksum(const uint8_t* p, uint32_t len);

}  // namespace rl::tools
