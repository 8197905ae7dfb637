// Packet generator for the serial, ATM and 802.x link types (tests/expr/linktypes_test.cpp and
// tests/capture/summary_links_test.cpp): the network packets of make_net_packets (IPv4, IPv6,
// ARP/RARP, other EtherTypes, 802.2 LLC frames, PPPoE, Geneve) wrapped in each link header, with
// the header fields the link's primitives read varied (PPP protocol numbers, Cisco HDLC
// EtherTypes, Frame Relay NLPIDs, the SLIP direction byte, IPNET families and directions,
// ARCnet protocol ids and addresses, SunATM traffic types/VPI/VCI/Q.2931 messages/LANE, FDDI and
// token-ring MAC addresses with LLC/SNAP), plus snapped copies and, for any packet list,
// mutated and truncated copies (mutate_and_truncate).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "tests/expr/expr_packets.hpp"

namespace bpf::test {

// The link types of these generators (libpcap's DLT_ numbers).
inline constexpr int kLinkTypesMore[] = {9, 50, 51, 104, 107, 8, 7, 129, 123, 10, 6, 226};

inline uint16_t ppp_proto_of(uint16_t et, std::mt19937& rng) {
  switch (et) {
    case 0x0800: return rng() % 8 == 0 ? 0x002d : 0x0021;  // sometimes VJ compressed
    case 0x86dd: return 0x0057;
    case 0x6003: return 0x0027;
    case 0x809b: return 0x0029;
    case 0x8137: return 0x002b;
    case 0: return rng() % 2 ? 0x0023 : 0x0031;  // OSI, bridge PDU
    default: return rng() % 3 == 0 ? uint16_t(0xc021) : et;  // LCP, or the EtherType as is
  }
}

// An 802.2 LLC (+ SNAP) payload for a network packet: LLC frames as they are, AppleTalk with
// Apple's OUI, other EtherTypes behind a SNAP header with OUI 0.
inline std::vector<uint8_t> llc_snap(const NetPacket& np) {
  if (np.ethertype == 0) return np.bytes;
  std::vector<uint8_t> h = {0xaa, 0xaa, 0x03, 0, 0, 0, uint8_t(np.ethertype >> 8), uint8_t(np.ethertype)};
  if (np.ethertype == 0x809b) { h[3] = 0x08; h[4] = 0x00; h[5] = 0x07; }
  h.insert(h.end(), np.bytes.begin(), np.bytes.end());
  return h;
}

inline std::vector<uint8_t> link_frame(int lt, const NetPacket& np, std::mt19937& rng) {
  static const uint8_t macs[][6] = {{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                                    {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}, {0x02, 0x00, 0x00, 0x00, 0x00, 0x01},
                                    {0x33, 0x33, 0x00, 0x00, 0x00, 0x01}};
  const bool ip = np.ethertype == 0x0800 || np.ethertype == 0x86dd;
  std::vector<uint8_t> h;
  switch (lt) {
    case 9: case 50: {  // PPP, PPP_SERIAL: ff 03 protocol
      uint16_t p = ppp_proto_of(np.ethertype, rng);
      if (ip && rng() % 10 == 0) {  // MPLS unicast with one label
        h = {0xff, 0x03, 0x02, 0x81, 0x00, 0x03, 0x01, 0x40};
      } else {
        h = {0xff, 0x03, uint8_t(p >> 8), uint8_t(p)};
      }
      break;
    }
    case 51: {  // PPP_ETHER: PPPoE session header, then the protocol
      uint16_t p = ppp_proto_of(np.ethertype, rng);
      h = {0x11, 0x00, 0x00, uint8_t(rng() % 3), 0, 0, uint8_t(p >> 8), uint8_t(p)};
      put16(h, 4, uint16_t(np.bytes.size() + 2));
      break;
    }
    case 104: {  // C_HDLC: address, control, EtherType (OSI: 0xfefe and a fudge byte)
      h = {uint8_t(rng() % 2 ? 0x0f : 0x8f), 0x00, 0, 0};
      uint16_t et = np.ethertype;
      if (et == 0) {
        et = rng() % 3 ? 0xfefe : 0x8035;
        if (et == 0xfefe) h.push_back(0x03);
      }
      if (ip && rng() % 10 == 0) { et = 0x8847; h.insert(h.end(), {0x00, 0x03, 0x01, 0x40}); }
      put16(h, 2, et);
      // OSI over Cisco HDLC: 0xfefe, the fudge byte, then the NLPID (the LLC header's place):
      // an OSI PDU from the LLC generator loses its `fe fe 03` most of the time.
      if (et == 0xfefe && np.bytes.size() > 3 && np.bytes[0] == 0xfe && np.bytes[1] == 0xfe &&
          rng() % 4 != 0) {
        h.insert(h.end(), np.bytes.begin() + 3, np.bytes.end());
        return h;
      }
      break;
    }
    case 107: {  // FRELAY: Q.922 address, UI, NLPID
      h = {uint8_t(rng() % 64 << 2), 0x01, 0x03};
      uint8_t nlpid = np.ethertype == 0x0800 ? 0xcc : np.ethertype == 0x86dd ? 0x8e
                    : np.ethertype == 0 ? uint8_t(0x81 + rng() % 3) : 0x80;
      if (rng() % 12 == 0) h[2] = 0x13;  // not UI
      h.push_back(nlpid);
      if (nlpid == 0x80) {  // SNAP: pad, OUI 0, EtherType
        h.insert(h.end(), {0x00, 0x00, 0x00, uint8_t(np.ethertype >> 8), uint8_t(np.ethertype)});
      }
      break;
    }
    case 8: {  // SLIP: 16-byte pseudo-header, direction in byte 0
      h.assign(16, 0);
      const uint8_t first[] = {0, 1, 0x45, 0x60, 0x4f, 0x61};
      h[0] = first[rng() % 6];
      for (size_t i = 1; i < 16; ++i) h[i] = uint8_t(rng());
      break;
    }
    case 226: {  // IPNET: version, family, direction, packet length, interface, zones
      h.assign(24, 0);
      h[0] = 1;
      h[1] = np.ethertype == 0x0800 ? 2 : np.ethertype == 0x86dd ? 26 : uint8_t(rng() % 30);
      put16(h, 2, uint16_t(rng() % 4));
      put32(h, 4, uint32_t(np.bytes.size()));
      put32(h, 8, rng() % 3);
      break;
    }
    case 7: case 129: {  // ARCNET (BSD): src dst type ...; ARCNET_LINUX: src dst offset(2) type flag seq(2)
      const uint8_t addrs[] = {0x00, 0x01, 0xd1, 0xda, 0x12, 0xff};
      uint8_t type = np.ethertype == 0x0800 ? uint8_t(rng() % 3 ? 212 : 240)
                   : np.ethertype == 0x86dd ? 0xc4
                   : np.ethertype == 0x0806 ? uint8_t(rng() % 2 ? 213 : 241)
                   : np.ethertype == 0x8035 ? 214 : np.ethertype == 0x809b ? 221 : uint8_t(rng());
      h = {addrs[rng() % 6], addrs[rng() % 6]};
      if (lt == 129) h.insert(h.end(), {0x00, 0x00});
      h.push_back(type);
      h.insert(h.end(), {uint8_t(rng() % 2), 0x00, uint8_t(rng())});
      break;
    }
    case 123: {  // SUNATM: flags/type, VPI, VCI, then LLC/SNAP, LANE or signalling
      const uint8_t vpis[] = {0, 0, 0, 1, 5};
      const uint16_t vcis[] = {1, 2, 3, 4, 5, 5, 16, 32, 100};
      int kind = int(rng() % 6);  // 0-2 LLC, 3 LANE, 4 signalling, 5 other
      uint8_t type = kind <= 2 ? 2 : kind == 3 ? 1 : uint8_t(rng() % 2 ? 0 : 3);
      h = {uint8_t((rng() % 2 ? 0x80 : 0) | type), vpis[rng() % 5], 0, 0};
      put16(h, 2, vcis[rng() % 9]);
      if (kind == 3) {
        h.insert(h.end(), {uint8_t(rng() % 4 ? 0x00 : 0xff), 0x00});
        const uint8_t* d = macs[rng() % 5];
        const uint8_t* s = macs[rng() % 5];
        h.insert(h.end(), d, d + 6);
        h.insert(h.end(), s, s + 6);
        uint16_t et = np.ethertype ? np.ethertype : uint16_t(np.bytes.size());
        h.push_back(uint8_t(et >> 8));
        h.push_back(uint8_t(et));
        h.insert(h.end(), np.bytes.begin(), np.bytes.end());
        return h;
      }
      if (kind == 4) {  // Q.2931: protocol discriminator 9, call reference, message type at 5
        const uint8_t msgs[] = {0x05, 0x02, 0x07, 0x0f, 0x4d, 0x5a, 0x46};
        h[1] = 0;
        put16(h, 2, uint16_t(rng() % 2 ? 5 : 1));
        h.insert(h.end(), {0x09, 0x03, 0x00, 0x00, 0x01, msgs[rng() % 7], 0x80, 0x00});
        return h;
      }
      std::vector<uint8_t> l = llc_snap(np);
      h.insert(h.end(), l.begin(), l.end());
      return h;
    }
    case 10: case 6: {  // FDDI: fc dst src; IEEE802: ac fc dst src; then LLC/SNAP
      h = lt == 10 ? std::vector<uint8_t>{0x50} : std::vector<uint8_t>{0x10, 0x40};
      const uint8_t* d = macs[rng() % 5];
      const uint8_t* s = macs[rng() % 5];
      h.insert(h.end(), d, d + 6);
      h.insert(h.end(), s, s + 6);
      std::vector<uint8_t> l = llc_snap(np);
      h.insert(h.end(), l.begin(), l.end());
      return h;
    }
  }
  h.insert(h.end(), np.bytes.begin(), np.bytes.end());
  return h;
}

// Every network packet in link type `lt`, then snapped copies of half of them.
inline std::vector<TestPacket> make_link_packets(int lt, std::mt19937& rng) {
  std::vector<TestPacket> out;
  for (const NetPacket& np : make_net_packets(rng)) {
    TestPacket p;
    p.data = link_frame(lt, np, rng);
    p.wirelen = uint32_t(p.data.size());
    out.push_back(std::move(p));
  }
  const size_t n = out.size();
  for (size_t i = 0; i < n; i += 2) {
    TestPacket p = out[i];
    const uint32_t s = 1 + uint32_t(rng() % 64);
    if (s < p.data.size()) {
      p.data.resize(s);
      out.push_back(std::move(p));
    }
  }
  return out;
}

// Copies of `in` with a few bytes of the first 48 changed, and copies cut short (caplen below
// the wire length), `copies` of each per packet.
inline std::vector<TestPacket> mutate_and_truncate(const std::vector<TestPacket>& in, std::mt19937& rng,
                                                   int copies = 2) {
  std::vector<TestPacket> out;
  for (const TestPacket& p : in) {
    if (p.data.empty()) continue;
    for (int c = 0; c < copies; ++c) {
      TestPacket m = p;
      const int flips = 1 + int(rng() % 3);
      for (int f = 0; f < flips; ++f) {
        size_t at = rng() % std::min<size_t>(m.data.size(), 48);
        m.data[at] = rng() % 4 == 0 ? uint8_t(m.data[at] ^ (1u << (rng() % 8))) : uint8_t(rng());
      }
      out.push_back(std::move(m));
      TestPacket t = p;
      t.data.resize(rng() % t.data.size());
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace bpf::test
