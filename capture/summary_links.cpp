// Summaries of the serial, ATM and 802.x link types (see summary.hpp): a link-level prefix in
// the spirit of tcpdump -e (the link, its addresses or circuit, the protocol field), then the
// IPv4/IPv6/ARP summary of summary.cpp where the payload is one of those, else the protocol and
// the length. Every read is checked against caplen: a header cut short prints "[|link]".
//  - PPP, PPP_SERIAL: "PPP " (address/control ff 03 optional), protocol 0x21 IP, 0x57 IP6;
//    PPP_ETHER: "PPPoE [ses N] " then the same;
//  - C_HDLC: "CHDLC " and the EtherType's payload (0xfefe: OSI); FRELAY: "FR DLCI N " and the
//    NLPID (0xcc IP, 0x8e IP6, 0x80 SNAP, 0x81-0x83 CLNP/ES-IS/IS-IS), a pad byte allowed, or
//    an EtherType where the control byte is not UI (Cisco encapsulation);
//  - MPLS (PPP 0x0281/0x0283, EtherType 0x8847/0x8848): the label stack as tcpdump prints it,
//    then IPv4/IPv6 by the version nibble;
//  - SLIP: "SLIP I|O " (direction byte), IP after the 16-byte header; IPNET: "ipnet in|out "
//    and the family (2 IP, 26 IP6) with IP after the 24-byte header;
//  - ARCNET / ARCNET_LINUX: "ARCNET src > dst " (one byte each), the ARCnet protocol id
//    (212/240 IP, 196 IP6, 213/241 ARP), the payload after the short header for the old ids
//    (RFC 1051) and after the split-flag/sequence fields for the others (RFC 1201);
//  - SUNATM: "ATM vpi N vci N " and LANE (Ethernet after the LE header), LLC/SNAP, or the Q.2931
//    message type on the signalling circuits;
//  - FDDI, IEEE802: "FDDI|TR src > dst " and LLC/SNAP (the SNAP EtherType's payload).
// Tested in tests/capture/summary_links_test.cpp.
#include <algorithm>
#include <cstdio>
#include <string>

#include "capture/summary.hpp"
#include "capture/summary_detail.hpp"

namespace bpf::capture::detail {
namespace {

struct Bytes {
  const uint8_t* p;
  uint32_t n;
  bool has(uint32_t off, uint32_t len) const { return off <= n && len <= n - off; }
  uint8_t u8(uint32_t off) const { return p[off]; }
  uint16_t u16(uint32_t off) const { return uint16_t(p[off] << 8 | p[off + 1]); }
};

std::string mac(const uint8_t* a) {
  char buf[18];
  snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
  return buf;
}
uint32_t rest(uint32_t wirelen, uint32_t off) { return wirelen >= off ? wirelen - off : 0; }

void mpls(std::string& out, Bytes b, uint32_t off, uint32_t wirelen);

// The payload at `off` under an EtherType (IP, IP6, ARP, MPLS; others by number).
void payload(std::string& out, uint16_t type, Bytes b, uint32_t off, uint32_t wirelen) {
  if (type == 0x8847 || type == 0x8848) {
    mpls(out, b, off, wirelen);
    return;
  }
  const Bytes s = off <= b.n ? Bytes{b.p + off, b.n - off} : Bytes{b.p, 0};
  print_ethertype_summary(out, type, s.p, s.n, rest(wirelen, off));
}

// An MPLS label stack as tcpdump prints it, then IPv4/IPv6 by the version nibble.
void mpls(std::string& out, Bytes b, uint32_t off, uint32_t wirelen) {
  for (int depth = 0; depth < 16; ++depth) {
    if (!b.has(off, 4)) {
      out += "MPLS [|mpls]";
      return;
    }
    const uint32_t l = uint32_t(b.u16(off)) << 16 | b.u16(off + 2);
    const bool bottom = l & 0x100;
    appendf(out, "MPLS (label %u, exp %u,%s ttl %u) ", l >> 12, (l >> 9) & 7, bottom ? " [S]," : "", l & 0xff);
    off += 4;
    if (bottom) break;
  }
  const uint8_t v = b.has(off, 1) ? uint8_t(b.u8(off) >> 4) : 0;
  if (v == 4 || v == 6) payload(out, v == 4 ? 0x0800 : 0x86dd, b, off, wirelen);
  else appendf(out, "length %u", rest(wirelen, off));
}

void ppp(std::string& out, Bytes b, uint32_t off, uint32_t wirelen) {
  if (b.has(off, 2) && b.u8(off) == 0xff && b.u8(off + 1) == 0x03) off += 2;
  if (!b.has(off, 2)) {
    out += "[|ppp]";
    return;
  }
  const uint16_t proto = b.u16(off);
  off += 2;
  switch (proto) {
    case 0x0021: payload(out, 0x0800, b, off, wirelen); break;
    case 0x0057: payload(out, 0x86dd, b, off, wirelen); break;
    case 0xc021: appendf(out, "LCP, length %u", rest(wirelen, off)); break;
    case 0x8021: appendf(out, "IPCP, length %u", rest(wirelen, off)); break;
    case 0x0281: case 0x0283: mpls(out, b, off, wirelen); break;
    default: appendf(out, "proto 0x%04x, length %u", proto, rest(wirelen, off));
  }
}

// 802.2 LLC at `off`: SNAP with an EtherType, or the SAPs.
void llc(std::string& out, Bytes b, uint32_t off, uint32_t wirelen) {
  if (!b.has(off, 3)) {
    out += "[|llc]";
    return;
  }
  if (b.u8(off) == 0xaa && b.u8(off + 1) == 0xaa && b.has(off, 8)) {
    payload(out, b.u16(off + 6), b, off + 8, wirelen);
    return;
  }
  appendf(out, "LLC dsap 0x%02x ssap 0x%02x ctrl 0x%02x, length %u", b.u8(off), b.u8(off + 1),
      b.u8(off + 2), rest(wirelen, off));
}

void arcnet(std::string& out, Bytes b, bool is_linux, uint32_t wirelen) {
  const uint32_t type_at = is_linux ? 4 : 2;
  if (!b.has(0, type_at + 1)) {
    out += "[|arcnet]";
    return;
  }
  appendf(out, "ARCNET %02x > %02x ", b.u8(0), b.u8(1));
  const uint8_t type = b.u8(type_at);
  const bool old = type == 240 || type == 241;  // RFC 1051: no split flag or sequence number
  const uint32_t off = type_at + (old ? 1 : 4);
  switch (type) {
    case 212: case 240: payload(out, 0x0800, b, off, wirelen); break;
    case 196: payload(out, 0x86dd, b, off, wirelen); break;
    case 213: case 241: payload(out, 0x0806, b, off, wirelen); break;
    default: appendf(out, "type 0x%02x, length %u", type, wirelen);
  }
}

void sunatm(std::string& out, Bytes b, uint32_t wirelen) {
  if (!b.has(0, 4)) {
    out += "[|sunatm]";
    return;
  }
  const uint8_t vpi = b.u8(1), type = b.u8(0) & 0x0f;
  const uint16_t vci = b.u16(2);
  appendf(out, "ATM vpi %u vci %u ", vpi, vci);
  if (type == 1) {  // LANE: 2-byte LE header, then Ethernet
    if (b.has(4, 2) && b.u16(4) == 0xff00) {
      appendf(out, "LANE control, length %u", rest(wirelen, 4));
      return;
    }
    out += "LANE ";
    summary_ether(out, b.p + std::min<uint32_t>(6, b.n), b.n >= 6 ? b.n - 6 : 0, rest(wirelen, 6));
    return;
  }
  if (type == 2) {
    llc(out, b, 4, wirelen);
    return;
  }
  if (vpi == 0 && (vci == 5 || vci == 1) && b.has(4, 6)) {
    appendf(out, "Q.2931 message 0x%02x, length %u", b.u8(9), rest(wirelen, 4));
    return;
  }
  appendf(out, "type %u, length %u", type, rest(wirelen, 4));
}

}  // namespace

bool summary_link_more(std::string& out, int linktype, const uint8_t* data, uint32_t caplen,
                       uint32_t wirelen) {
  const Bytes b{data, caplen};
  switch (linktype) {
    case 9: case 50:  // PPP, PPP_SERIAL
      out += "PPP ";
      ppp(out, b, 0, wirelen);
      return true;
    case 51:  // PPP_ETHER: PPPoE session header
      if (!b.has(0, 6)) {
        out += "PPPoE [|pppoe]";
        return true;
      }
      appendf(out, "PPPoE [ses 0x%x] ", b.u16(2));
      ppp(out, b, 6, wirelen);
      return true;
    case 104:  // C_HDLC
      if (!b.has(0, 4)) {
        out += "CHDLC [|chdlc]";
        return true;
      }
      out += "CHDLC ";
      if (b.u16(2) == 0xfefe) appendf(out, "OSI, length %u", rest(wirelen, 4));
      else payload(out, b.u16(2), b, 4, wirelen);
      return true;
    case 107: {  // FRELAY: Q.922 address, control, NLPID
      if (!b.has(0, 4)) {
        out += "FR [|fr]";
        return true;
      }
      appendf(out, "FR DLCI %u ", uint32_t(b.u8(0) >> 2) << 4 | uint32_t(b.u8(1) >> 4));
      if (b.u8(2) != 0x03) {  // Cisco encapsulation: an EtherType after the address
        payload(out, b.u16(2), b, 4, wirelen);
        return true;
      }
      uint32_t at = 3;
      if (b.u8(at) == 0 && b.has(at + 1, 1)) ++at;  // pad
      const uint8_t nlpid = b.u8(at);
      switch (nlpid) {
        case 0xcc: payload(out, 0x0800, b, at + 1, wirelen); break;
        case 0x8e: payload(out, 0x86dd, b, at + 1, wirelen); break;
        case 0x80:
          if (b.has(at + 4, 2)) payload(out, b.u16(at + 4), b, at + 6, wirelen);
          else out += "SNAP [|fr]";
          break;
        case 0x81: appendf(out, "CLNP, length %u", rest(wirelen, at)); break;
        case 0x82: appendf(out, "ES-IS, length %u", rest(wirelen, at)); break;
        case 0x83: appendf(out, "IS-IS, length %u", rest(wirelen, at)); break;
        default: appendf(out, "NLPID 0x%02x, length %u", nlpid, rest(wirelen, at));
      }
      return true;
    }
    case 8:  // SLIP: 16-byte pseudo-header, direction first
      if (!b.has(0, 16)) {
        out += "SLIP [|slip]";
        return true;
      }
      appendf(out, "SLIP %s ", b.u8(0) == 0 ? "I" : "O");
      payload(out, b.has(16, 1) && (b.u8(16) >> 4) == 6 ? 0x86dd : 0x0800, b, 16, wirelen);
      return true;
    case 226:  // IPNET: version, family, direction (1 out, 2 in), ..., 24 bytes
      if (!b.has(0, 24)) {
        out += "ipnet [|ipnet]";
        return true;
      }
      appendf(out, "ipnet %s ", b.u16(2) == 1 ? "out" : b.u16(2) == 2 ? "in" : "-");
      if (b.u8(1) == 2) payload(out, 0x0800, b, 24, wirelen);
      else if (b.u8(1) == 26) payload(out, 0x86dd, b, 24, wirelen);
      else appendf(out, "family %u, length %u", b.u8(1), rest(wirelen, 24));
      return true;
    case 7: case 129:
      arcnet(out, b, linktype == 129, wirelen);
      return true;
    case 123:
      sunatm(out, b, wirelen);
      return true;
    case 10: case 6: {  // FDDI: fc dst src; token ring: ac fc dst src
      const uint32_t dst = linktype == 10 ? 1 : 2;
      if (!b.has(0, dst + 12)) {
        out += linktype == 10 ? "FDDI [|fddi]" : "TR [|tr]";
        return true;
      }
      appendf(out, "%s %s > %s ", linktype == 10 ? "FDDI" : "TR", mac(b.p + dst + 6).c_str(), mac(b.p + dst).c_str());
      llc(out, b, dst + 12, wirelen);
      return true;
    }
  }
  return false;
}

}  // namespace bpf::capture::detail
