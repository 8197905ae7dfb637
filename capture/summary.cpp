// tcpdump-style summaries; see summary.hpp. Every read goes through Cursor, which checks
// against caplen, so truncated and malformed packets print a "[|proto]" marker instead of
// reading out of bounds. Formats follow tcpdump 4.99's print-ip.c, print-tcp.c, print-udp.c,
// print-icmp.c, print-arp.c (default verbosity, absolute sequence numbers as with -S).
#include "capture/summary.hpp"
#include "capture/summary_detail.hpp"

#include <arpa/inet.h>
#include <time.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace bpf::capture {
namespace {

struct Cursor {
  const uint8_t* p;
  uint32_t n;
  bool has(uint32_t off, uint32_t len) const { return off <= n && len <= n - off; }
  uint8_t u8(uint32_t off) const { return p[off]; }
  uint16_t u16(uint32_t off) const { return uint16_t(p[off] << 8 | p[off + 1]); }
  uint32_t u32(uint32_t off) const {
    return uint32_t(p[off]) << 24 | uint32_t(p[off + 1]) << 16 | uint32_t(p[off + 2]) << 8 | p[off + 3];
  }
  Cursor sub(uint32_t off) const { return off <= n ? Cursor{p + off, n - off} : Cursor{p, 0}; }
};

}  // namespace

void detail::appendf(std::string& out, const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  const int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out.append(buf, std::min<size_t>(size_t(n), sizeof buf - 1));
}

namespace {
using detail::appendf;

std::string ip4(const uint8_t* a) {
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, a, buf, sizeof buf);
  return buf;
}
std::string ip6(const uint8_t* a) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a, buf, sizeof buf);
  return buf;
}
std::string mac(const uint8_t* a) {
  char buf[18];
  snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
  return buf;
}

void print_tcp(std::string& out, Cursor c, const std::string& src, const std::string& dst,
               uint32_t payload_len) {
  if (!c.has(0, 20)) {
    appendf(out, "%s > %s: [|tcp]", src.c_str(), dst.c_str());
    return;
  }
  const uint16_t sport = c.u16(0), dport = c.u16(2);
  const uint32_t seq = c.u32(4), ack = c.u32(8);
  const uint32_t hlen = uint32_t(c.u8(12) >> 4) * 4;
  const uint8_t fl = c.u8(13);
  const uint16_t win = c.u16(14);
  appendf(out, "%s.%u > %s.%u: Flags [", src.c_str(), sport, dst.c_str(), dport);
  // tcpdump's tcp_flag_values order (print-tcp.c): F S R P U E W, then '.' for ACK.
  static constexpr struct { uint8_t bit; char ch; } kFlags[] = {
      {0x01, 'F'}, {0x02, 'S'}, {0x04, 'R'}, {0x08, 'P'}, {0x20, 'U'}, {0x40, 'E'}, {0x80, 'W'}};
  bool any = false;
  for (const auto& f : kFlags)
    if (fl & f.bit) out += f.ch, any = true;
  if (fl & 0x10) out += '.', any = true;
  if (!any) out += "none";
  out += ']';
  const uint32_t data_len = payload_len >= hlen ? payload_len - hlen : 0;
  if (data_len > 0 || (fl & 0x07))
    data_len > 0 ? appendf(out, ", seq %u:%u", seq, seq + data_len) : appendf(out, ", seq %u", seq);
  if (fl & 0x10) appendf(out, ", ack %u", ack);
  appendf(out, ", win %u", win);
  appendf(out, ", length %u", data_len);
}

void print_udp(std::string& out, Cursor c, const std::string& src, const std::string& dst) {
  if (!c.has(0, 8)) {
    appendf(out, "%s > %s: [|udp]", src.c_str(), dst.c_str());
    return;
  }
  const uint16_t ulen = c.u16(4);
  appendf(out, "%s.%u > %s.%u: UDP, length %u", src.c_str(), c.u16(0), dst.c_str(), c.u16(2),
          ulen >= 8 ? ulen - 8u : 0u);
}

void print_icmp(std::string& out, Cursor c, const std::string& src, const std::string& dst,
                uint32_t len, bool v6) {
  appendf(out, "%s > %s: ", src.c_str(), dst.c_str());
  if (!c.has(0, 4)) {
    out += v6 ? "[|icmp6]" : "[|icmp]";
    return;
  }
  const uint8_t type = c.u8(0), code = c.u8(1);
  const bool echo = v6 ? (type == 128 || type == 129) : (type == 8 || type == 0);
  if (echo && c.has(4, 4)) {
    const bool req = v6 ? type == 128 : type == 8;
    appendf(out, "%s echo %s, id %u, seq %u, length %u", v6 ? "ICMP6," : "ICMP",
            req ? "request" : "reply", c.u16(4), c.u16(6), len);
    return;
  }
  if (!v6 && type == 3)
    appendf(out, "ICMP unreachable (code %u), length %u", code, len);
  else if (!v6 && type == 11)
    appendf(out, "ICMP time exceeded in-transit, length %u", len);
  else if (v6 && type == 135)
    appendf(out, "ICMP6, neighbor solicitation, length %u", len);
  else if (v6 && type == 136)
    appendf(out, "ICMP6, neighbor advertisement, length %u", len);
  else if (v6 && type == 133)
    appendf(out, "ICMP6, router solicitation, length %u", len);
  else
    appendf(out, "%s type %u, code %u, length %u", v6 ? "ICMP6," : "ICMP", type, code, len);
}

void print_transport(std::string& out, uint8_t proto, Cursor c, const std::string& src,
                     const std::string& dst, uint32_t len) {
  switch (proto) {
    case 6: print_tcp(out, c, src, dst, len); break;
    case 17: print_udp(out, c, src, dst); break;
    case 1: print_icmp(out, c, src, dst, len, false); break;
    case 58: print_icmp(out, c, src, dst, len, true); break;
    default: appendf(out, "%s > %s: ip-proto-%u %u", src.c_str(), dst.c_str(), proto, len);
  }
}

void print_ipv4(std::string& out, Cursor c) {
  out += "IP ";
  if (!c.has(0, 20)) {
    out += "[|ip]";
    return;
  }
  const uint32_t ihl = uint32_t(c.u8(0) & 0x0f) * 4;
  const uint32_t total = c.u16(2);
  const uint8_t proto = c.u8(9);
  const std::string src = ip4(c.p + 12), dst = ip4(c.p + 16);
  const uint16_t frag = c.u16(6);
  if (ihl < 20 || total < ihl) {
    appendf(out, "%s > %s: [bad hdr length %u]", src.c_str(), dst.c_str(), ihl);
    return;
  }
  if ((frag & 0x1fff) != 0) {  // not the first fragment: no transport header
    appendf(out, "%s > %s: ip-proto-%u", src.c_str(), dst.c_str(), proto);
    return;
  }
  print_transport(out, proto, c.sub(ihl), src, dst, total - ihl);
}

void print_ipv6(std::string& out, Cursor c) {
  out += "IP6 ";
  if (!c.has(0, 40)) {
    out += "[|ip6]";
    return;
  }
  const std::string src = ip6(c.p + 8), dst = ip6(c.p + 24);
  uint32_t len = c.u16(4);
  uint8_t next = c.u8(6);
  uint32_t off = 40;
  // Hop-by-hop, routing, destination options: skip (RFC 8200 §4).
  while ((next == 0 || next == 43 || next == 60) && c.has(off, 8)) {
    const uint32_t ext = (uint32_t(c.u8(off + 1)) + 1) * 8;
    next = c.u8(off);
    off += ext;
    len = len >= ext ? len - ext : 0;
  }
  print_transport(out, next, c.sub(off), src, dst, len);
}

void print_arp(std::string& out, Cursor c, uint32_t len) {
  out += "ARP, ";
  if (!c.has(0, 8)) {
    out += "[|arp]";
    return;
  }
  const uint16_t htype = c.u16(0), ptype = c.u16(2), op = c.u16(6);
  const uint8_t hlen = c.u8(4), plen = c.u8(5);
  if (htype != 1 || ptype != 0x0800 || hlen != 6 || plen != 4 || !c.has(8, 28 - 8)) {
    appendf(out, "htype %u, ptype 0x%04x, op %u, length %u", htype, ptype, op, len);
    return;
  }
  const std::string sha = mac(c.p + 8), spa = ip4(c.p + 14), tpa = ip4(c.p + 24);
  if (op == 1)
    appendf(out, "Request who-has %s tell %s, length %u", tpa.c_str(), spa.c_str(), len);
  else if (op == 2)
    appendf(out, "Reply %s is-at %s, length %u", spa.c_str(), sha.c_str(), len);
  else
    appendf(out, "op %u, length %u", op, len);
}

void print_ethertype(std::string& out, uint16_t type, Cursor c, uint32_t len) {
  switch (type) {
    case 0x0800: print_ipv4(out, c); break;
    case 0x86dd: print_ipv6(out, c); break;
    case 0x0806: print_arp(out, c, len); break;
    default: appendf(out, "ethertype 0x%04x, length %u", type, len);
  }
}

void print_ether(std::string& out, Cursor c, uint32_t wirelen) {
  if (!c.has(0, 14)) {
    out += "[|ether]";
    return;
  }
  uint16_t type = c.u16(12);
  uint32_t off = 14;
  while ((type == 0x8100 || type == 0x88a8 || type == 0x9100) && c.has(off, 4)) {
    appendf(out, "vlan %u, p %u, ", c.u16(off) & 0x0fffu, c.u16(off) >> 13);
    type = c.u16(off + 2);
    off += 4;
  }
  if (type < 0x0600) {  // 802.3 length field
    appendf(out, "%s > %s, 802.3, length %u", mac(c.p + 6).c_str(), mac(c.p).c_str(), wirelen);
    return;
  }
  print_ethertype(out, type, c.sub(off), wirelen >= off ? wirelen - off : 0);
}

}  // namespace

void detail::summary_ether(std::string& out, const uint8_t* p, uint32_t n, uint32_t wirelen) {
  print_ether(out, Cursor{p, n}, wirelen);
}
void detail::print_ethertype_summary(std::string& out, uint16_t type, const uint8_t* data,
                                     uint32_t caplen, uint32_t len) {
  print_ethertype(out, type, Cursor{data, caplen}, len);
}

void format_summary(std::string& out, int linktype, Timestamp ts, bool nano, const uint8_t* data,
                    uint32_t caplen, uint32_t wirelen) {
  const time_t sec = static_cast<time_t>(ts.sec);
  tm t{};
  localtime_r(&sec, &t);
  appendf(out, "%02d:%02d:%02d.%06u ", t.tm_hour, t.tm_min, t.tm_sec,
          nano ? ts.frac / 1000u : ts.frac);
  const Cursor c{data, caplen};
  switch (linktype) {
    case 1: print_ether(out, c, wirelen); break;             // DLT_EN10MB
    case 12: case 14: case 101:                             // DLT_RAW variants
      if (c.has(0, 1) && (c.u8(0) >> 4) == 6) print_ipv6(out, c);
      else print_ipv4(out, c);
      break;
    case 113:  // DLT_LINUX_SLL: 16-byte header, protocol at 14
      if (!c.has(0, 16)) { out += "[|sll]"; break; }
      print_ethertype(out, c.u16(14), c.sub(16), wirelen >= 16 ? wirelen - 16 : 0);
      break;
    case 276:  // DLT_LINUX_SLL2: 20-byte header, protocol at 0
      if (!c.has(0, 20)) { out += "[|sll2]"; break; }
      print_ethertype(out, c.u16(0), c.sub(20), wirelen >= 20 ? wirelen - 20 : 0);
      break;
    case 0: {  // DLT_NULL: 4-byte host-order family
      if (!c.has(0, 4)) { out += "[|null]"; break; }
      uint32_t fam;
      std::memcpy(&fam, data, 4);
      if (fam == 2) print_ipv4(out, c.sub(4));
      else if (fam == 24 || fam == 28 || fam == 30 || fam == 10) print_ipv6(out, c.sub(4));
      else appendf(out, "family %u, length %u", fam, wirelen);
      break;
    }
    default:
      if (detail::format_wlan(out, linktype, data, caplen, wirelen)) break;  // 802.11 types
      if (!detail::summary_link_more(out, linktype, data, caplen, wirelen))
        appendf(out, "linktype %d, length %u", linktype, wirelen);
  }
}

}  // namespace bpf::capture
