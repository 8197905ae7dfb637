// Packet generator for the OSI and DECnet primitives (compiler/expr_gen_legacy.cpp): IS-IS
// PDUs of every type libpcap's `l1`/`l2`/`iih`/`lsp`/`snp`/`csnp`/`psnp` test and a few it does
// not, ES-IS and CLNP PDUs, other NLPIDs, and DECnet Phase IV routing headers (short and long,
// with and without the padding byte, several source/destination addresses), each wrapped in the
// given link type (Ethernet 802.3 + LLC, LINUX_SLL 802.2, LINUX_SLL2 with protocol 4 and with
// the 0xfe protocol libpcap compares, and the IP-only link types for their rejections), each
// also inside Geneve over IPv4 (`geneve and clnp`), plus copies snapped inside the headers. Used by tests/expr/expr_diff_test.cpp.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "tests/expr/expr_packets.hpp"

namespace bpf::test {

// OSI payloads (NLPID first) and DECnet payloads (after the EtherType 0x6003).
inline void legacy_payloads(std::vector<std::vector<uint8_t>>* osi,
                            std::vector<std::vector<uint8_t>>* dn, std::mt19937& rng) {
  for (uint8_t pdu : {15, 16, 17, 18, 20, 24, 25, 26, 27, 19, 0x0a, 0x1c, 0x8f}) {
    std::vector<uint8_t> p = {0x83, 0x1b, 0x01, 0x00, pdu, 0x01, 0x00, 0x00};
    p.resize(40, uint8_t(rng()));
    osi->push_back(p);
  }
  for (uint8_t nlpid : {0x81, 0x82, 0x80, 0xcc, 0x00}) {
    std::vector<uint8_t> p = {nlpid, 0x1e, 0x01, 0x14, uint8_t(rng() % 32), 0, 0, 0};
    p.resize(40, uint8_t(rng()));
    osi->push_back(p);
  }
  // DECnet: 2-byte little-endian length, [pad byte 0x81], flags, then the addresses.
  const uint16_t addrs[] = {0x0401 /* 1.1 */, 0x0802 /* 2.2 */, 0xcafc /* 50.764 */,
                            0x0004 /* 0.4 */, 0xffff /* 63.1023 */, 0x0400 /* 1.0 = 1024 */};
  for (int layout = 0; layout < 4; ++layout) {
    for (int k = 0; k < 6; ++k) {
      const uint16_t src = addrs[rng() % 6], dst = addrs[rng() % 6];
      const bool pad = layout & 1, lng = layout & 2;
      std::vector<uint8_t> p = {0, 0};
      if (pad) p.push_back(0x81);
      p.push_back(uint8_t((lng ? 0x06 : 0x02) | (rng() % 2 ? 0x08 : 0) | (k == 5 ? 0x01 : 0)));
      if (lng) {
        p.insert(p.end(), {0, 0, 0xaa, 0x00, 0x04, 0x00, uint8_t(dst), uint8_t(dst >> 8),
                           0, 0, 0xaa, 0x00, 0x04, 0x00, uint8_t(src), uint8_t(src >> 8), 0, 0, 0});
      } else {
        p.insert(p.end(), {uint8_t(dst), uint8_t(dst >> 8), uint8_t(src), uint8_t(src >> 8), 0});
      }
      p.resize(p.size() + 10, uint8_t(rng()));
      p[0] = uint8_t(p.size() - 2);
      dn->push_back(p);
    }
  }
}

inline std::vector<TestPacket> make_legacy_packets(int linktype, std::mt19937& rng) {
  std::vector<std::vector<uint8_t>> osi, dn;
  legacy_payloads(&osi, &dn, rng);
  std::vector<TestPacket> out;
  auto add = [&](std::vector<uint8_t> d) {
    TestPacket t;
    t.wirelen = uint32_t(d.size());
    t.data = std::move(d);
    out.push_back(std::move(t));
  };
  const uint8_t llc[3] = {0xfe, 0xfe, 0x03};
  const uint8_t mac[6] = {0x01, 0x80, 0xc2, 0x00, 0x00, 0x14};  // AllL1ISs
  // `body` after a link header whose protocol field is `et` (an EtherType, or an 802.3 length
  // when <= 1500, then LINUX_SLL's 802.2 protocol)
  auto wrap = [&](uint16_t et, const std::vector<uint8_t>& body, const std::vector<uint8_t>& pl) {
    switch (linktype) {
      case 1: {
        std::vector<uint8_t> f(mac, mac + 6);
        f.insert(f.end(), {0x00, 0x11, 0x22, 0x33, 0x44, 0x55});
        if (rng() % 5 == 0) f.insert(f.end(), {0x81, 0x00, 0x00, 0x0a});  // `vlan and ...`
        f.push_back(uint8_t(et >> 8));
        f.push_back(uint8_t(et));
        f.insert(f.end(), body.begin(), body.end());
        add(f);
        break;
      }
      case 113: {
        std::vector<uint8_t> h(16, 0);
        put16(h, 2, 1);
        put16(h, 4, 6);
        put16(h, 14, et <= 1500 ? 4 : et);  // LINUX_SLL_P_802_2
        h.insert(h.end(), body.begin(), body.end());
        add(h);
        break;
      }
      case 276: {
        for (uint16_t proto : {uint16_t(et <= 1500 ? 4 : et), uint16_t(0xfe)}) {
          if (proto == 0xfe && et > 1500) continue;
          std::vector<uint8_t> h(20, 0);
          put16(h, 0, proto);
          put16(h, 8, 1);
          h[11] = 6;
          if (proto == 0xfe) h.insert(h.end(), pl.begin(), pl.end());  // NLPID right after
          else h.insert(h.end(), body.begin(), body.end());
          add(h);
        }
        break;
      }
      case 0: case 108: {
        const uint8_t af = et == 0x0800 ? 2 : uint8_t(rng() % 32);
        std::vector<uint8_t> h = {0, 0, 0, 0};
        if (linktype == 0) h[0] = af; else h[3] = af;
        h.insert(h.end(), body.begin(), body.end());
        add(h);
        break;
      }
      default:
        add(body);
        break;
    }
  };
  for (int kind = 0; kind < 2; ++kind) {
    for (const auto& pl : kind == 0 ? osi : dn) {
      std::vector<uint8_t> body = pl;
      if (kind == 0) body.insert(body.begin(), llc, llc + 3);
      const uint16_t et = kind == 0 ? uint16_t(body.size()) : 0x6003;  // 802.3 length
      wrap(et, body, pl);
      // the same frame inside Geneve (UDP 6081, Transparent Ethernet Bridging) over IPv4
      std::vector<uint8_t> g = {0, 0, 0x65, 0x58, 0, 0, 5, 0};
      g.insert(g.end(), mac, mac + 6);
      g.insert(g.end(), {0x02, 0, 0, 0, 0, 1, uint8_t(et >> 8), uint8_t(et)});
      g.insert(g.end(), body.begin(), body.end());
      std::vector<uint8_t> udp(8, 0);
      put16(udp, 0, 50000);
      put16(udp, 2, 6081);
      put16(udp, 4, uint16_t(8 + g.size()));
      udp.insert(udp.end(), g.begin(), g.end());
      wrap(0x0800, ipv4(0x0a000001, 0x0a000002, 17, udp, 0, 0), {});
    }
  }
  const size_t n = out.size();
  for (size_t i = 0; i < n; ++i) {  // snapped inside the link, LLC, IS-IS and DECnet headers
    for (uint32_t cut : {14u, 16u, 17u, 18u, 20u, 21u, 22u, 24u, 26u, 30u, 33u}) {
      if (rng() % 3 != 0 || cut >= out[i].data.size()) continue;
      TestPacket t = out[i];
      t.data.resize(cut);
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace bpf::test
