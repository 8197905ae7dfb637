// Packet generator for the expression tests: packets built to hit each pcap-filter primitive
// (hosts, nets, ports, port ranges, protocols, IPv4 fragments and options, IPv6 extension and
// fragment headers, ARP/RARP, VLAN and MPLS stacks, PPPoE, broadcast/multicast MACs) wrapped in
// each supported link layer, plus snapped (truncated) copies.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace bpf::test {

struct TestPacket {
  std::vector<uint8_t> data;  // captured bytes
  uint32_t wirelen = 0;
};

// Network-layer packets: (ethertype, bytes).
struct NetPacket {
  uint16_t ethertype;
  std::vector<uint8_t> bytes;
};

// "a.b.c.d" for the IPv4 address a (host order).
inline std::string ip4(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

inline void put16(std::vector<uint8_t>& v, size_t at, uint16_t x) {
  v[at] = uint8_t(x >> 8);
  v[at + 1] = uint8_t(x);
}
inline void put32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  for (int i = 0; i < 4; ++i) v[at + size_t(i)] = uint8_t(x >> (24 - 8 * i));
}

inline std::vector<uint8_t> transport(uint8_t proto, uint16_t sport, uint16_t dport, std::mt19937& rng,
                                      uint8_t tcpflags) {
  std::vector<uint8_t> t;
  switch (proto) {
    case 6: t.assign(20, 0); put16(t, 0, sport); put16(t, 2, dport); t[12] = 0x50; t[13] = tcpflags; break;
    case 17: t.assign(8, 0); put16(t, 0, sport); put16(t, 2, dport); put16(t, 4, 8); break;
    case 132: t.assign(12, 0); put16(t, 0, sport); put16(t, 2, dport); break;
    case 1: t.assign(8, 0); t[0] = uint8_t(sport & 0xff); t[1] = uint8_t(dport & 0xff); break;
    case 58: t.assign(8, 0); t[0] = uint8_t(sport & 0xff); t[1] = uint8_t(dport & 0xff); break;
    case 51:  // AH: next header tcp, payload length 1
      t.assign(12, 0); t[0] = 6; t[1] = 1; break;
    default:
      // No byte 51 (AH) in random payloads: libpcap's protochain walk sets X from an AH header
      // (it does not add), so a stray 51 could make its backward loop cycle forever.
      t.assign(8 + rng() % 8, 0);
      for (auto& b : t) { b = uint8_t(rng()); if (b == 51) b = 52; }
      break;
  }
  t.resize(t.size() + rng() % 12, 0x5a);
  return t;
}

inline std::vector<uint8_t> ipv4(uint32_t src, uint32_t dst, uint8_t proto, const std::vector<uint8_t>& payload,
                                 uint16_t frag, int optwords) {
  std::vector<uint8_t> p(size_t(20 + 4 * optwords), 0);
  p[0] = uint8_t(0x40 | (5 + optwords));
  put16(p, 2, uint16_t(p.size() + payload.size()));
  put16(p, 6, frag);
  p[8] = 64;
  p[9] = proto;
  put32(p, 12, src);
  put32(p, 16, dst);
  for (int i = 0; i < 4 * optwords; ++i) p[size_t(20 + i)] = 1;  // NOPs
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

inline std::vector<uint8_t> ipv6(const uint8_t* src, const uint8_t* dst, uint8_t nxt,
                                 const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> p(40, 0);
  p[0] = 0x60;
  put16(p, 4, uint16_t(payload.size()));
  p[6] = nxt;
  p[7] = 64;
  for (int i = 0; i < 16; ++i) {
    p[size_t(8 + i)] = src[i];
    p[size_t(24 + i)] = dst[i];
  }
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

// make_net_packets ends with this many Geneve packets.
inline constexpr size_t kGenevePackets = 240;

inline std::vector<NetPacket> make_net_packets(std::mt19937& rng) {
  std::vector<NetPacket> out;
  const uint32_t hosts4[] = {0x0a000001, 0x0a000002, 0xc0a80101, 0x7f000001, 0x01020304,
                             0xe0000001, 0xffffffff, 0x0a0000ff, 0xac100005, 0x0a00ffff,
                             0x0affffff, 0x0a000000};
  const uint16_t ports[] = {22, 53, 80, 443, 1000, 1500, 2000, 20, 21, 8080, 65535, 0, 5};
  const uint8_t protos[] = {6, 17, 132, 1, 2, 9, 103, 112, 47, 50, 51, 4};
  const uint8_t tflags[] = {0x02, 0x12, 0x10, 0x01, 0x04, 0x18, 0x00, 0xff};
  auto pick4 = [&]() { return hosts4[rng() % (sizeof hosts4 / 4)]; };
  auto pickp = [&]() { return ports[rng() % (sizeof ports / 2)]; };
  for (int i = 0; i < 110; ++i) {
    uint8_t proto = protos[rng() % sizeof protos];
    uint16_t frag = 0;
    int r = int(rng() % 10);
    if (r == 0) frag = 0x2000;           // MF, first fragment
    else if (r == 1) frag = 0x00b9;      // non-first fragment
    else if (r == 2) frag = 0x4000;      // DF
    int opts = rng() % 5 == 0 ? int(rng() % 3) + 1 : 0;
    auto t = transport(proto, pickp(), pickp(), rng, tflags[rng() % sizeof tflags]);
    out.push_back({0x0800, ipv4(pick4(), pick4(), proto, t, frag, opts)});
  }
  uint8_t h6[6][16] = {};
  h6[0][15] = 1;                                        // ::1
  h6[1][0] = 0xfe; h6[1][1] = 0x80; h6[1][15] = 1;      // fe80::1
  h6[2][0] = 0x20; h6[2][1] = 0x01; h6[2][2] = 0x0d; h6[2][3] = 0xb8; h6[2][15] = 1;  // 2001:db8::1
  h6[3][0] = 0xff; h6[3][1] = 0x02; h6[3][15] = 1;      // ff02::1
  h6[4][0] = 0x20; h6[4][1] = 0x01; h6[4][2] = 0x0d; h6[4][3] = 0xb8; h6[4][7] = 5; h6[4][15] = 2;
  for (int i = 0; i < 16; ++i) h6[5][i] = uint8_t(0x40 + 3 * i);
  const uint8_t protos6[] = {6, 17, 132, 58, 47, 103, 50, 51};
  for (int i = 0; i < 90; ++i) {
    uint8_t proto = protos6[rng() % sizeof protos6];
    auto t = transport(proto, pickp(), pickp(), rng, tflags[rng() % sizeof tflags]);
    uint8_t nxt = proto;
    int ext = int(rng() % 6);
    // extension headers: hop-by-hop (0), destination (60), routing (43), fragment (44), AH (51)
    std::vector<uint8_t> chain = t;
    if (ext == 1 || ext == 4) {
      std::vector<uint8_t> h(8, 0);
      h[0] = nxt;
      nxt = 44;  // fragment header
      if (ext == 4) put16(h, 2, 0x0009);
      chain.insert(chain.begin(), h.begin(), h.end());
    }
    if (ext == 2 || ext == 3) {
      std::vector<uint8_t> h(8, 0);
      h[0] = nxt;
      nxt = ext == 2 ? 0 : 60;
      chain.insert(chain.begin(), h.begin(), h.end());
      if (ext == 3) {
        std::vector<uint8_t> h2(16, 0);
        h2[0] = nxt;
        h2[1] = 1;
        nxt = 43;
        chain.insert(chain.begin(), h2.begin(), h2.end());
      }
    }
    if (ext == 5) {
      std::vector<uint8_t> h(12, 0);
      h[0] = nxt;
      h[1] = 1;
      nxt = 51;
      chain.insert(chain.begin(), h.begin(), h.end());
    }
    out.push_back({0x86dd, ipv6(h6[rng() % 6], h6[rng() % 6], nxt, chain)});
  }
  for (int i = 0; i < 12; ++i) {  // ARP / RARP
    std::vector<uint8_t> a(28, 0);
    put16(a, 0, 1); put16(a, 2, 0x0800); a[4] = 6; a[5] = 4; put16(a, 6, uint16_t(1 + rng() % 2));
    put32(a, 14, pick4());
    put32(a, 24, pick4());
    out.push_back({uint16_t(i % 3 == 0 ? 0x8035 : 0x0806), a});
  }
  for (uint16_t et : {0x6003, 0x809b, 0x80f3, 0x6004, 0x8863, 0x8864, 0x88cc, 0x9000, 0x0801}) {
    std::vector<uint8_t> p(46);
    for (auto& b : p) { b = uint8_t(rng()); if (b == 51) b = 52; }
    out.push_back({et, p});
  }
  // 802.3 frames with 802.2 LLC headers (length field instead of an ethertype): ethertype 0 marks
  // them; the link wrappers put a length there. DSAP/SSAP/control pairs for STP, IPX, NetBEUI,
  // OSI (CLNP/ES-IS/IS-IS PDUs), SNAP (IPX, AppleTalk, AARP), Novell raw (0xffff), I/S/U frames.
  const uint8_t llc_heads[][8] = {
      {0x42, 0x42, 0x03, 0, 0, 0, 0, 0},       {0xe0, 0xe0, 0x03, 0, 0, 0, 0, 0},
      {0xf0, 0xf0, 0x03, 0, 0, 0, 0, 0},       {0xfe, 0xfe, 0x03, 0x81, 1, 2, 3, 4},
      {0xfe, 0xfe, 0x03, 0x82, 1, 2, 3, 4},    {0xfe, 0xfe, 0x03, 0x83, 0x1b, 1, 0, 0x12},
      {0xfe, 0xfe, 0x03, 0x83, 0x1b, 1, 0, 0x0f}, {0xfe, 0xfe, 0x03, 0x83, 0x1b, 1, 0, 0x1a},
      {0xfe, 0xfe, 0x03, 0x83, 0x1b, 1, 0, 0x19}, {0xfe, 0xfe, 0x03, 0x83, 0x1b, 1, 0, 0x14},
      {0xaa, 0xaa, 0x03, 0, 0, 0, 0x81, 0x37},  {0xaa, 0xaa, 0x03, 0x08, 0x00, 0x07, 0x80, 0x9b},
      {0xaa, 0xaa, 0x03, 0, 0, 0, 0x80, 0xf3},  {0xff, 0xff, 0, 0, 0, 0, 0, 0},
      {0x06, 0x06, 0x03, 0, 0, 0, 0, 0},       {0x42, 0x42, 0x00, 0, 0, 0, 0, 0},
      {0x42, 0x42, 0x01, 0, 0, 0, 0, 0},       {0x42, 0x42, 0x05, 0, 0, 0, 0, 0},
      {0x42, 0x42, 0x63, 0, 0, 0, 0, 0},       {0x42, 0x42, 0xaf, 0, 0, 0, 0, 0},
      {0x42, 0x42, 0x6f, 0, 0, 0, 0, 0},       {0x42, 0x42, 0x09, 0, 0, 0, 0, 0}};
  for (const auto& h : llc_heads) {
    std::vector<uint8_t> p(h, h + 8);
    p.resize(46, 0x11);
    out.push_back({0, p});
  }
  // PPPoE sessions carrying some of the IPv4/IPv6 packets above (PPP protocol 0x21 / 0x57)
  size_t n_ip = out.size();
  for (size_t i = 0; i < n_ip; i += 9) {
    const NetPacket& in = out[i];
    if (in.ethertype != 0x0800 && in.ethertype != 0x86dd) continue;
    std::vector<uint8_t> p = {0x11, 0x00, 0x00, uint8_t(i % 3 == 0 ? 5 : 7), 0, 0,
                              0x00, uint8_t(in.ethertype == 0x0800 ? 0x21 : 0x57)};
    put16(p, 4, uint16_t(in.bytes.size() + 2));
    p.insert(p.end(), in.bytes.begin(), in.bytes.end());
    out.push_back({0x8864, p});
  }
  for (uint16_t et : {0x8137, 0x6001, 0x6002, 0x6007}) {
    std::vector<uint8_t> p(46, 0x22);
    out.push_back({et, p});
  }
  // Geneve (UDP port 6081) over IPv4 (with and without IP options) and IPv6, last in the list
  // (make_packets snaps them at inner-header boundaries): version 0 or 1, option lengths 0..3
  // words, VNI 5/100/0, protocol 0x6558 (inner Ethernet, possibly VLAN-tagged or 802.3) or a bare
  // inner IPv4/IPv6/ARP packet, inner packets taken from the ones above; a few to port 6082.
  // A separate generator keeps the packets above (and their wrapping) unchanged.
  std::mt19937 g(6081);
  const uint8_t imacs[][6] = {{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}, {0x02, 0x00, 0x00, 0x00, 0x00, 0x01},
                              {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}};
  for (size_t k = 0; k < kGenevePackets; ++k) {
    const NetPacket in = out[(k * 7 + g() % 7) % n_ip];
    int optwords = int(g() % 4);
    bool teb = g() % 3 != 0 || (in.ethertype != 0x0800 && in.ethertype != 0x86dd);
    std::vector<uint8_t> gh(size_t(8 + 4 * optwords), 0);
    gh[0] = uint8_t((g() % 8 == 0 ? 0x40 : 0x00) | optwords);
    put16(gh, 2, teb ? 0x6558 : in.ethertype);
    const uint32_t vnis[] = {5, 100, 0, 0xffffff};
    uint32_t vni = vnis[g() % 4];
    gh[4] = uint8_t(vni >> 16); gh[5] = uint8_t(vni >> 8); gh[6] = uint8_t(vni);
    for (int i = 0; i < 4 * optwords; ++i) gh[size_t(8 + i)] = uint8_t(g() % 4 == 0 ? 0x3f : 0x01);
    if (teb) {
      std::vector<uint8_t> eh(12);
      size_t md = g() % 4, ms = g() % 4;
      for (int i = 0; i < 6; ++i) {
        eh[size_t(i)] = imacs[md][i];
        eh[size_t(6 + i)] = imacs[ms][i];
      }
      if (g() % 6 == 0) { eh.push_back(0x81); eh.push_back(0x00); eh.push_back(0); eh.push_back(10); }
      uint16_t et = in.ethertype ? in.ethertype : uint16_t(in.bytes.size());
      eh.push_back(uint8_t(et >> 8)); eh.push_back(uint8_t(et));
      gh.insert(gh.end(), eh.begin(), eh.end());
    }
    gh.insert(gh.end(), in.bytes.begin(), in.bytes.end());
    std::vector<uint8_t> udp(8, 0);
    put16(udp, 0, uint16_t(40000 + g() % 1000));
    put16(udp, 2, g() % 10 == 0 ? 6082 : 6081);
    put16(udp, 4, uint16_t(8 + gh.size()));
    udp.insert(udp.end(), gh.begin(), gh.end());
    if (k % 2 == 0) {
      out.push_back({0x0800, ipv4(0x0a000001 + uint32_t(g() % 2), 0xc0a80101, 17, udp,
                                  g() % 8 == 0 ? 0x00b9 : 0, g() % 3 == 0 ? 1 : 0)});
    } else {
      out.push_back({0x86dd, ipv6(h6[g() % 6], h6[g() % 6], 17, udp)});
    }
  }
  return out;
}

// Ethernet frame with optional VLAN tags and MPLS labels around a network packet.
inline std::vector<uint8_t> ether(const uint8_t* dst, const uint8_t* src, const std::vector<uint16_t>& vlans,
                                  const std::vector<uint32_t>& mpls, const NetPacket& np) {
  std::vector<uint8_t> f(12);
  for (int i = 0; i < 6; ++i) {
    f[size_t(i)] = dst[i];
    f[size_t(6 + i)] = src[i];
  }
  const uint16_t tpids[] = {0x8100, 0x88a8, 0x9100};
  for (size_t i = 0; i < vlans.size(); ++i) {
    uint16_t tp = tpids[(i + vlans[i]) % 3];
    f.push_back(uint8_t(tp >> 8)); f.push_back(uint8_t(tp));
    f.push_back(uint8_t(vlans[i] >> 8)); f.push_back(uint8_t(vlans[i]));
  }
  uint16_t et = mpls.empty() ? np.ethertype : 0x8847;
  if (et == 0) et = uint16_t(np.bytes.size());  // 802.3 length field
  f.push_back(uint8_t(et >> 8)); f.push_back(uint8_t(et));
  for (size_t i = 0; i < mpls.size(); ++i) {
    uint32_t l = (mpls[i] << 12) | (i + 1 == mpls.size() ? 0x100 : 0) | 64;
    for (int b = 0; b < 4; ++b) f.push_back(uint8_t(l >> (24 - 8 * b)));
  }
  f.insert(f.end(), np.bytes.begin(), np.bytes.end());
  return f;
}

inline std::vector<TestPacket> make_packets(int linktype, std::mt19937& rng_main) {
  std::vector<NetPacket> nets = make_net_packets(rng_main);
  // Geneve packets are wrapped with their own generator: callers' random streams stay as they were.
  std::mt19937 rng_geneve(uint32_t(linktype) + 6081);
  std::vector<TestPacket> out;
  auto add = [&](std::vector<uint8_t> d) {
    TestPacket p;
    p.wirelen = uint32_t(d.size());
    p.data = std::move(d);
    out.push_back(std::move(p));
  };
  const uint8_t macs[][6] = {{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                             {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}, {0x02, 0x00, 0x00, 0x00, 0x00, 0x01},
                             {0x33, 0x33, 0x00, 0x00, 0x00, 0x01}};
  size_t geneve_from = 0;  // index in `out` of the first Geneve packet
  for (size_t ni = 0; ni < nets.size(); ++ni) {
    const NetPacket& np = nets[ni];
    if (ni == nets.size() - kGenevePackets) geneve_from = out.size();
    std::mt19937& rng = ni >= nets.size() - kGenevePackets ? rng_geneve : rng_main;
    switch (linktype) {
      case 1: {
        std::vector<uint16_t> vl;
        std::vector<uint32_t> ml;
        int r = int(rng() % 8);
        if (r == 1) vl = {uint16_t(rng() % 3 == 0 ? 10 : rng() % 4096)};
        if (r == 2) vl = {10, uint16_t(rng() % 2 ? 20 : 30)};
        if (r == 3 && (np.ethertype == 0x0800 || np.ethertype == 0x86dd)) ml = {uint32_t(rng() % 2 ? 3 : 100)};
        if (r == 4 && (np.ethertype == 0x0800 || np.ethertype == 0x86dd)) ml = {3, uint32_t(rng() % 2 ? 7 : 8)};
        if (r == 5 && (np.ethertype == 0x0800 || np.ethertype == 0x86dd)) { vl = {10}; ml = {3}; }
        add(ether(macs[rng() % 5], macs[rng() % 5], vl, ml, np));
        break;
      }
      case 113: {  // LINUX_SLL
        std::vector<uint8_t> h(16, 0);
        put16(h, 0, uint16_t(rng() % 5));
        put16(h, 2, 1);
        put16(h, 4, 6);
        for (int i = 0; i < 6; ++i) h[size_t(6 + i)] = macs[rng() % 5][i];
        put16(h, 14, np.ethertype ? np.ethertype : uint16_t(rng() % 2 ? 4 : 1));  // 802.2 / 802.3
        h.insert(h.end(), np.bytes.begin(), np.bytes.end());
        add(h);
        break;
      }
      case 276: {  // LINUX_SLL2
        std::vector<uint8_t> h(20, 0);
        put16(h, 0, np.ethertype ? np.ethertype : uint16_t(rng() % 2 ? 4 : 1));
        put32(h, 4, rng() % 4);
        put16(h, 8, 1);
        h[10] = uint8_t(rng() % 5);
        h[11] = 6;
        h.insert(h.end(), np.bytes.begin(), np.bytes.end());
        add(h);
        break;
      }
      case 12: case 228: case 229:
        if (np.ethertype == 0x0800 || np.ethertype == 0x86dd || rng() % 4 == 0) add(np.bytes);
        break;
      case 0: case 108: {
        uint32_t af = np.ethertype == 0x0800 ? 2 : np.ethertype == 0x86dd ? (rng() % 4 ? 10 : 24) : rng() % 32;
        std::vector<uint8_t> h(4);
        if (linktype == 0) { for (int i = 0; i < 4; ++i) h[size_t(i)] = uint8_t(af >> (8 * i)); }
        else put32(h, 0, af);
        h.insert(h.end(), np.bytes.begin(), np.bytes.end());
        add(h);
        break;
      }
    }
  }
  // snapped copies of some packets
  std::mt19937& rng = rng_main;
  size_t n = out.size();
  const uint32_t snaps[] = {1, 4, 10, 13, 14, 15, 18, 20, 22, 24, 30, 34, 38, 40, 44, 50, 54, 56, 60};
  for (size_t i = 0; i < n; i += 2) {
    TestPacket p = out[i];
    uint32_t s = snaps[rng() % (sizeof snaps / 4)];
    if (s < p.data.size()) {
      p.data.resize(s);
      out.push_back(std::move(p));
    }
  }
  // Geneve packets snapped inside the Geneve header, its options and the inner headers.
  std::mt19937& g = rng_geneve;
  for (size_t i = geneve_from; i < n; ++i) {
    for (int c = 0; c < 2; ++c) {
      TestPacket p = out[i];
      uint32_t s = 40 + uint32_t(g() % 70);
      if (s < p.data.size()) {
        p.data.resize(s);
        out.push_back(std::move(p));
      }
    }
  }
  return out;
}

}  // namespace bpf::test
