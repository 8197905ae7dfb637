// Packet generators (see packet_gen.hpp).
#include "tests/support/packet_gen.hpp"

#include <array>

namespace bpf::test {

namespace {

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& b) : b_(b) {}
  void u8(uint32_t v) { b_.push_back(uint8_t(v)); }
  void u16(uint32_t v) { u8(v >> 8); u8(v); }
  void u32(uint32_t v) { u16(v >> 16); u16(v); }
  void bytes(Rng& rng, size_t n) { for (size_t i = 0; i < n; ++i) u8(uint8_t(rng())); }
  size_t size() const { return b_.size(); }
  void put16(size_t at, uint32_t v) { b_[at] = uint8_t(v >> 8); b_[at + 1] = uint8_t(v); }

 private:
  std::vector<uint8_t>& b_;
};

uint32_t ipv4_addr(Rng& rng) {
  switch (below(rng, 5)) {
    case 0: return 0x0a000001;  // 10.0.0.1
    case 1: return 0x0a000002;
    case 2: return 0xc0a80100 | uint32_t(below(rng, 4));  // 192.168.1.0-3
    case 3: return 0x7f000001;
    default: return uint32_t(rng());
  }
}

uint32_t port(Rng& rng) {
  static constexpr std::array<uint32_t, 10> kPorts = {22, 53, 80, 443, 123, 67, 8080, 25, 1024, 65535};
  return chance(rng, 70) ? kPorts[below(rng, kPorts.size())] : uint32_t(below(rng, 65536));
}

void mac(Writer& w, Rng& rng) {
  if (chance(rng, 10)) {
    for (int i = 0; i < 6; ++i) w.u8(0xff);
  } else {
    w.u8(uint8_t(rng()) & 0xfe);
    w.bytes(rng, 5);
  }
}

void l4(Writer& w, Rng& rng, uint32_t proto) {
  if (proto == 6) {  // TCP
    w.u16(port(rng)); w.u16(port(rng)); w.u32(uint32_t(rng())); w.u32(uint32_t(rng()));
    uint32_t doff = chance(rng, 80) ? 5 : 5 + below(rng, 11);
    w.u8(doff << 4);
    w.u8(std::array<uint32_t, 6>{0x02, 0x12, 0x10, 0x18, 0x11, 0x04}[below(rng, 6)]);
    w.u16(below(rng, 65536)); w.u16(0); w.u16(0);
    w.bytes(rng, (doff - 5) * 4);
  } else if (proto == 17) {  // UDP
    w.u16(port(rng)); w.u16(port(rng)); w.u16(8 + below(rng, 100)); w.u16(0);
  } else if (proto == 1 || proto == 58) {  // ICMP / ICMPv6
    w.u8(below(rng, 5) == 0 ? 8 : below(rng, 256)); w.u8(0); w.u16(0); w.u32(uint32_t(rng()));
  }
  w.bytes(rng, below(rng, 4) == 0 ? below(rng, 1200) : below(rng, 64));
}

uint32_t l4_proto(Rng& rng) {
  static constexpr std::array<uint32_t, 8> kProtos = {6, 6, 6, 17, 17, 1, 47, 132};
  return chance(rng, 90) ? kProtos[below(rng, kProtos.size())] : uint32_t(below(rng, 256));
}

void ipv4(Writer& w, Rng& rng) {
  size_t start = w.size();
  uint32_t ihl = chance(rng, 85) ? 5 : 6 + below(rng, 10);
  uint32_t proto = l4_proto(rng);
  w.u8(0x40 | ihl); w.u8(0); w.u16(0); w.u16(below(rng, 65536));
  uint32_t frag = 0;
  if (chance(rng, 10)) frag = below(rng, 0x2000);
  if (chance(rng, 20)) frag |= 0x4000;  // DF
  if (chance(rng, 5)) frag |= 0x2000;   // MF
  w.u16(frag); w.u8(1 + below(rng, 128)); w.u8(proto); w.u16(0);
  w.u32(ipv4_addr(rng)); w.u32(ipv4_addr(rng));
  w.bytes(rng, (ihl - 5) * 4);
  l4(w, rng, proto);
  w.put16(start + 2, uint32_t(w.size() - start));
}

void ipv6(Writer& w, Rng& rng) {
  size_t start = w.size();
  uint32_t proto = chance(rng, 90) ? std::array<uint32_t, 4>{6, 17, 58, 0}[below(rng, 4)] : uint32_t(below(rng, 256));
  w.u32(0x60000000); w.u16(0); w.u8(proto); w.u8(64);
  for (int i = 0; i < 2; ++i) {
    if (chance(rng, 50)) {  // fe80::1 / ::1
      w.u32(chance(rng, 50) ? 0xfe800000 : 0); w.u32(0); w.u32(0); w.u32(1);
    } else {
      w.bytes(rng, 16);
    }
  }
  if (proto == 0) {  // hop-by-hop header then TCP
    w.u8(6); w.u8(0); w.bytes(rng, 6);
    proto = 6;
  }
  l4(w, rng, proto);
  w.put16(start + 4, uint32_t(w.size() - start - 40));
}

void arp(Writer& w, Rng& rng) {
  w.u16(1); w.u16(0x0800); w.u8(6); w.u8(4); w.u16(1 + below(rng, 2));
  w.bytes(rng, 6); w.u32(ipv4_addr(rng)); w.bytes(rng, 6); w.u32(ipv4_addr(rng));
}

}  // namespace

Packet random_bytes(Rng& rng, uint32_t max_len) {
  Packet p;
  p.data.resize(below(rng, uint64_t{max_len} + 1));
  for (auto& b : p.data) b = uint8_t(rng());
  p.wirelen = p.caplen() + (chance(rng, 20) ? uint32_t(below(rng, 1000)) : 0);
  return p;
}

Packet ethernet_frame(Rng& rng) {
  Packet p;
  Writer w(p.data);
  mac(w, rng);
  mac(w, rng);
  uint32_t kind = below(rng, 20);
  if (kind < 2) {  // 802.1Q
    w.u16(0x8100); w.u16(below(rng, 0x10000));
    kind = 2 + below(rng, 18);
  }
  if (kind < 12) {
    w.u16(0x0800); ipv4(w, rng);
  } else if (kind < 16) {
    w.u16(0x86dd); ipv6(w, rng);
  } else if (kind < 18) {
    w.u16(0x0806); arp(w, rng);
  } else {
    w.u16(below(rng, 0x10000)); w.bytes(rng, below(rng, 100));
  }
  p.wirelen = p.caplen();
  return p;
}

Packet snap(Packet p, uint32_t caplen) {
  if (caplen < p.data.size()) p.data.resize(caplen);
  return p;
}

Packet random_packet(Rng& rng) {
  if (chance(rng, 25)) return random_bytes(rng, chance(rng, 50) ? 64 : 300);
  Packet p = ethernet_frame(rng);
  if (chance(rng, 20)) p = snap(std::move(p), uint32_t(below(rng, p.caplen() + 1)));
  return p;
}

std::vector<Packet> packet_mix(Rng& rng, size_t count) {
  std::vector<Packet> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) out.push_back(random_packet(rng));
  return out;
}

vm::Context random_context(Rng& rng) {
  vm::Context c;
  c.protocol = uint16_t(chance(rng, 50) ? 0x0800 : rng());
  c.pkttype = uint8_t(below(rng, 8));
  c.has_device = chance(rng, 90);
  c.ifindex = uint32_t(rng());
  c.hatype = uint16_t(rng());
  c.mark = uint32_t(rng());
  c.queue = uint16_t(rng());
  c.rxhash = uint32_t(rng());
  c.cpu = uint32_t(below(rng, 64));
  c.vlan_tci = uint16_t(rng());
  c.vlan_present = chance(rng, 50);
  c.vlan_tpid = uint16_t(chance(rng, 50) ? 0x8100 : rng());
  c.random = uint32_t(rng());
  c.payload_offset = uint32_t(below(rng, 80));
  c.net_offset = chance(rng, 70) ? 14 : uint32_t(below(rng, 64));
  c.has_link_header = chance(rng, 90);
  return c;
}

}  // namespace bpf::test
