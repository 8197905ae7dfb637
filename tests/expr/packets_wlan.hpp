// 802.11 packet generator for the expression tests (tests/expr/wlan_test.cpp): management frames
// (beacons, probes, (re)association, authentication, ...), control frames (RTS, CTS, ACK,
// PS-Poll, CF-End, reserved type), data frames (plain, QoS, null, with every To/From DS
// combination, 4-address) carrying LLC/SNAP with the IPv4/IPv6/ARP packets of
// tests/expr/expr_packets.hpp, bare LLC (STP, ISO, IPX, NetBEUI) and AppleTalk SNAP, behind each
// radio header libpcap knows (PPPoE sessions over LLC/SNAP too): none (IEEE802_11), radiotap
// of several lengths (flags with and without the Atheros DATAPAD bit, TSFT, an extended
// presence bitmap), Prism (144 bytes, or an
// AVS header under the Prism link type), AVS (two lengths) and PPI (DLT 105, and others that
// libpcap's PPI check refuses). Plus snapped copies at header boundaries and random points, and
// mutate() for byte-flipped copies of real captures.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "tests/expr/expr_packets.hpp"

namespace bpf::test {

// One 802.11 frame (no radio header): frame control, addresses, optional QoS and padding.
inline std::vector<uint8_t> wlan_frame(uint8_t fc0, uint8_t fc1, const uint8_t (*addr)[6],
                                       const std::vector<uint8_t>& body, bool pad4) {
  std::vector<uint8_t> f{fc0, fc1, 0x00, 0x01};
  const bool ctl = (fc0 & 0x0c) == 0x04;
  const bool data = (fc0 & 0x0c) == 0x08;
  const int n = !ctl ? 3 : ((fc0 & 0xf0) == 0xc0 || (fc0 & 0xf0) == 0xd0) ? 1 : 2;
  for (int i = 0; i < n; ++i) f.insert(f.end(), addr[i], addr[i] + 6);
  if (!ctl) { f.push_back(0x10); f.push_back(0x20); }  // sequence control
  if (data && (fc1 & 0x03) == 0x03) f.insert(f.end(), addr[3], addr[3] + 6);
  if (data && (fc0 & 0x80)) { f.push_back(0x05); f.push_back(0x00); }  // QoS control
  if (pad4) while (f.size() % 4) f.push_back(0x00);
  f.insert(f.end(), body.begin(), body.end());
  return f;
}

// Radio header of kind k for link type lt; sets *pad when the frame must be padded (radiotap
// DATAPAD).
inline std::vector<uint8_t> radio_header(int lt, unsigned k, bool* pad) {
  *pad = false;
  std::vector<uint8_t> h;
  auto le16 = [&](size_t at, uint16_t v) { h[at] = uint8_t(v); h[at + 1] = uint8_t(v >> 8); };
  auto le32 = [&](size_t at, uint32_t v) { for (int i = 0; i < 4; ++i) h[at + size_t(i)] = uint8_t(v >> (8 * i)); };
  switch (lt) {
    case 127:
      switch (k % 6) {
        case 0: h.assign(8, 0); break;                                  // nothing present
        case 1: h.assign(10, 0); le32(4, 0x02); h[8] = 0x10; break;     // flags: FCS
        case 2: h.assign(10, 0); le32(4, 0x02); h[8] = 0x20; *pad = true; break;  // DATAPAD
        case 3: h.assign(18, 0); le32(4, 0x03); h[16] = 0x20; *pad = true; break;  // TSFT + flags
        case 4: h.assign(18, 0); le32(4, 0x03); h[16] = 0x00; break;
        default: h.assign(20, 0); le32(4, 0x80000002); le32(8, 0x01); h[12] = 0x20; break;  // ext
      }
      le16(2, uint16_t(h.size()));
      return h;
    case 119:
      if (k % 3 == 2) {  // an AVS header under the Prism link type
        h.assign(64, 0x11);
        h[0] = 0x80; h[1] = 0x21; h[2] = 0x10; h[3] = 0x01;
        h[4] = 0; h[5] = 0; h[6] = 0; h[7] = 64;
        return h;
      }
      h.assign(144, 0);
      for (size_t i = 8; i < h.size(); ++i) h[i] = uint8_t(i * 7 + k);
      h[0] = 0x44;  // msgcode
      return h;
    case 163: {
      const uint8_t len = k % 2 ? 64 : 32;
      h.assign(len, 0x22);
      h[0] = 0x80; h[1] = 0x21; h[2] = 0x10; h[3] = 0x01;
      h[4] = 0; h[5] = 0; h[6] = 0; h[7] = len;
      return h;
    }
    case 192: {
      h.assign(k % 2 ? 8 : 32, 0x33);
      h[0] = 0; h[1] = 0;
      le16(2, uint16_t(h.size()));
      le32(4, k % 5 == 4 ? 127 : 105);  // DLT of the frame that follows
      return h;
    }
    default: return h;
  }
}

// Snapped copies of a frame whose 802.11 header starts at `hdr`: at the radio header fields, in
// the 802.11 header, after it, and one random point.
inline void add_snapped(std::vector<TestPacket>& out, const std::vector<uint8_t>& d, size_t hdr,
                        std::mt19937& rng) {
  const size_t cuts[] = {1, 3, 5, 9, 17, hdr, hdr + 1, hdr + 2, hdr + 10, hdr + 16, hdr + 24,
                         hdr + 26, hdr + 30, hdr + 33, hdr + 40, d.size() - 1, rng() % d.size()};
  for (size_t c : cuts)
    if (c < d.size()) {
      TestPacket p;
      p.data.assign(d.begin(), d.begin() + long(c));
      p.wirelen = uint32_t(d.size());
      out.push_back(std::move(p));
    }
}

inline std::vector<TestPacket> make_wlan_packets(int lt, std::mt19937& rng) {
  std::vector<NetPacket> nets = make_net_packets(rng);
  const uint8_t macs[][6] = {{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                             {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}, {0x02, 0x00, 0x00, 0x00, 0x00, 0x01},
                             {0x00, 0x11, 0x22, 0x33, 0x44, 0x66}};
  // Frame controls: management, control, data subtypes, reserved type.
  const uint8_t fcs[] = {0x80, 0x40, 0x50, 0x00, 0x10, 0x20, 0xb0, 0xc0, 0xa0, 0x90,  // mgt
                         0xb4, 0xc4, 0xd4, 0xa4, 0xe4, 0xf4,                          // ctl
                         0x08, 0x88, 0x48, 0xc8, 0x18, 0x28, 0x98,                    // data
                         0x0c, 0x8c};                                                 // reserved
  std::vector<TestPacket> out;
  unsigned k = 0;
  auto add = [&](uint8_t fc0, uint8_t fc1, const std::vector<uint8_t>& body) {
    bool pad = false;
    std::vector<uint8_t> d = radio_header(lt, k, &pad);
    const size_t hdr = d.size();
    const uint8_t(*a)[6] = nullptr;
    uint8_t addr[4][6];
    for (int i = 0; i < 4; ++i) {
      const size_t m = (k + size_t(i) * 3 + rng() % 2) % 5;
      for (int j = 0; j < 6; ++j) addr[i][j] = macs[m][j];
    }
    a = addr;
    std::vector<uint8_t> f = wlan_frame(fc0, fc1, a, body, pad);
    d.insert(d.end(), f.begin(), f.end());
    ++k;
    TestPacket p;
    p.data = d;
    p.wirelen = uint32_t(d.size());
    out.push_back(p);
    if (k % 3 == 0) add_snapped(out, d, hdr, rng);
  };
  // LLC/SNAP payloads from the network-layer packets, and bare LLC ones.
  std::vector<std::vector<uint8_t>> bodies;
  for (size_t i = 0; i < nets.size(); i += 3) {
    const NetPacket& np = nets[i];
    if (!np.ethertype) continue;
    std::vector<uint8_t> b{0xaa, 0xaa, 0x03, 0, 0, 0, uint8_t(np.ethertype >> 8), uint8_t(np.ethertype)};
    b.insert(b.end(), np.bytes.begin(), np.bytes.end());
    bodies.push_back(std::move(b));
  }
  bodies.push_back({0x42, 0x42, 0x03, 0, 0, 0, 0, 0, 1, 2, 3});              // STP
  bodies.push_back({0xfe, 0xfe, 0x03, 0x83, 0x1b, 1, 0, 0x10, 1});           // ISO (IS-IS)
  bodies.push_back({0xe0, 0xe0, 0x03, 0xff, 0xff, 0, 30});                   // IPX
  bodies.push_back({0xf0, 0xf0, 0x03, 0x2c, 0x00, 0xff});                    // NetBEUI
  bodies.push_back({0xaa, 0xaa, 0x03, 0x08, 0x00, 0x07, 0x80, 0x9b, 0, 1});  // AppleTalk
  bodies.push_back({0xaa, 0xaa, 0x03, 0, 0, 0, 0x80, 0xf3, 0, 1});           // AARP
  bodies.push_back({0x06, 0x06, 0x03, 0x45, 0, 0, 20});                      // LLC IP SAP
  for (size_t i = 0; i < 3 && i < nets.size(); ++i) {  // PPPoE session (IPv4 inside)
    std::vector<uint8_t> b{0xaa, 0xaa, 0x03, 0, 0, 0, 0x88, 0x64, 0x11, 0x00, 0x00, 0x03, 0x00, 0x40,
                           0x00, 0x21};
    b.insert(b.end(), nets[i].bytes.begin(), nets[i].bytes.end());
    bodies.push_back(std::move(b));
  }
  // Every frame control with a short body; data frames with every DS combination and body.
  for (uint8_t fc0 : fcs)
    for (uint8_t fc1 : {0x00, 0x01, 0x02, 0x03})
      add(fc0, fc1, bodies[(k * 5) % bodies.size()]);
  for (size_t i = 0; i < bodies.size(); ++i)
    for (uint8_t fc0 : {0x08, 0x88})
      add(fc0, uint8_t(i % 4), bodies[i]);
  return out;
}

// Copies of real packets with a few bytes changed: in the radio header's length and presence
// fields, the 802.11 frame control, the addresses and the LLC header; plus truncations.
inline std::vector<TestPacket> mutate_wlan(const std::vector<TestPacket>& in, std::mt19937& rng) {
  std::vector<TestPacket> out;
  for (const TestPacket& p : in) {
    if (p.data.size() < 4) continue;
    for (int m = 0; m < 3; ++m) {
      TestPacket q = p;
      const size_t n = q.data.size();
      const size_t spots[] = {2, 4, 7, 8, 16, rng() % n, rng() % n, rng() % std::min<size_t>(n, 64)};
      for (int j = 0; j < 2; ++j) {
        const size_t at = spots[rng() % 8] % n;
        q.data[at] = uint8_t(rng() % 4 == 0 ? q.data[at] ^ (1u << (rng() % 8)) : rng());
      }
      out.push_back(std::move(q));
    }
    TestPacket t = p;
    t.data.resize(rng() % p.data.size());
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace bpf::test
