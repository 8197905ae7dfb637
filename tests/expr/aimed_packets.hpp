// Network packets aimed at the members of a big filter (tests/expr/big_filter_test.cpp,
// big_filter_links_test.cpp): IPv4 TCP/UDP with member addresses as source or destination (or a
// neighbour), member ports and range edges (and their neighbours), member protocol numbers (and
// the next one), ARP/RARP with member addresses, IPv6 with member ports, with and without a
// fragment header in front of the protocol. Each packet goes to `emit` as it is made, so the
// caller's own random choices (link header, snapping) interleave with these.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "tests/expr/expr_packets.hpp"

namespace bpf::test {

template <class Emit>
void aimed_net_packets(const std::vector<uint32_t>& addrs, const std::vector<uint16_t>& ports,
                       const std::vector<uint8_t>& protos, int count, std::mt19937& rng, Emit emit) {
  const uint8_t h6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  auto pick = [&](const auto& v) { return v[rng() % v.size()]; };
  for (int i = 0; i < count; ++i) {
    uint32_t src = 0x0a000000u | (rng() & 0xffffffu), dst = 0x0a000000u | (rng() & 0xffffffu);
    if (!addrs.empty()) {
      const int r = static_cast<int>(rng() % 6);
      if (r == 0 || r == 4) src = pick(addrs) + (r == 4 ? 1 : 0);
      if (r == 1 || r == 5) dst = pick(addrs) - (r == 5 ? 1 : 0);
      if (r == 2) src = dst = pick(addrs);
    }
    uint16_t sport = static_cast<uint16_t>(rng()), dport = static_cast<uint16_t>(rng());
    if (!ports.empty()) {
      const int r = static_cast<int>(rng() % 5);
      const int d = static_cast<int>(rng() % 3) - 1;
      if (r < 2) sport = static_cast<uint16_t>(pick(ports) + d);
      if (r >= 1 && r < 4) dport = static_cast<uint16_t>(pick(ports) + d);
    }
    uint8_t proto = rng() % 2 ? 6 : 17;
    if (!protos.empty() && rng() % 2) proto = static_cast<uint8_t>(protos[rng() % protos.size()] + rng() % 2);
    switch (rng() % 7) {
      case 6: {  // IPv6 with a fragment header in front of the protocol
        std::vector<uint8_t> frag(8, 0);
        frag[0] = proto;
        std::vector<uint8_t> t = transport(proto, sport, dport, rng, 0x02);
        frag.insert(frag.end(), t.begin(), t.end());
        emit(NetPacket{0x86dd, ipv6(h6, h6, 44, frag)});
        break;
      }
      case 0: {  // ARP or RARP with those addresses
        std::vector<uint8_t> a(28, 0);
        put16(a, 0, 1);
        put16(a, 2, 0x800);
        a[4] = 6;
        a[5] = 4;
        put32(a, 14, src);
        put32(a, 24, dst);
        emit(NetPacket{static_cast<uint16_t>(rng() % 2 ? 0x0806 : 0x8035), a});
        break;
      }
      case 1:
        emit(NetPacket{0x86dd, ipv6(h6, h6, proto, transport(proto, sport, dport, rng, 0x02))});
        break;
      default:
        emit(NetPacket{0x0800, ipv4(src, dst, proto, transport(proto, sport, dport, rng, 0x02),
                                    rng() % 8 == 0 ? 0x0010 : 0, rng() % 4 == 0 ? 1 : 0)});
        break;
    }
  }
}

}  // namespace bpf::test
