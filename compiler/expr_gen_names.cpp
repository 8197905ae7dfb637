// Identifiers, addresses and names, after libpcap 1.10.3's gencode.c and nametoaddr.c: the
// qualifier checks of an identifier by its kind (gen_scode for names, gen_ncode for numbers and
// dotted IPv4, gen_mcode for IPv4 with a mask or prefix, gen_mcode6 for IPv6, gen_ecode for
// Ethernet addresses), address parsing (__pcap_atoin, pcap_ether_aton) and name resolution
// through the system databases: getaddrinfo (hosts), getnetbyname (/etc/networks),
// getservbyname (/etc/services: pcap_nametoport, pcap_nametoportrange), getprotobyname
// (/etc/protocols), ether_hostton (/etc/ethers), libpcap's EtherType names (pcap_nametoeproto);
// and the public link-type names (linktype_from_name, linktype_supported).
// Tested by tests/expr/expr_diff_test.cpp (names, addresses, qualifier errors).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/ether.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/expr.hpp"
#include "compiler/expr_gen.hpp"

namespace bpf::compiler {

namespace detail {

// ---- name lookups (pcap_nametoproto, pcap_nametoeproto, pcap_nametoport) ----------------------
uint32_t Gen::lookup_proto_name(const std::string& name, bool* ok) {
  protoent pe{};
  protoent* res = nullptr;
  char buf[1024];
  if (getprotobyname_r(name.c_str(), &pe, buf, sizeof buf, &res) == 0 && res) {
    *ok = true;
    return static_cast<uint32_t>(res->p_proto);
  }
  *ok = false;
  return 0;
}
bool Gen::lookup_eproto(const std::string& name, uint32_t* v) {
  static const struct {
    const char* n;
    uint32_t v;
  } kTable[] = {{"aarp", 0x80f3}, {"arp", 0x0806},   {"atalk", 0x809b}, {"decnet", 0x6003},
                {"ip", 0x0800},   {"ip6", 0x86dd},   {"lat", 0x6004},   {"loopback", 0x9000},
                {"mopdl", 0x6001}, {"moprc", 0x6002}, {"rarp", 0x8035},  {"sca", 0x6007},
                {"iso", 0xfe},    {"stp", 0x42},     {"ipx", 0xe0},     {"netbeui", 0xf0}};
  for (const auto& e : kTable)
    if (name == e.n) {
      *v = e.v;
      return true;
    }
  return false;
}
// pcap_nametoport: the port of a service name for tcp and/or udp; -1 if none.
void Gen::lookup_port(const std::string& name, int* tcp, int* udp) {
  *tcp = *udp = -1;
  servent se{};
  servent* res = nullptr;
  char buf[2048];
  if (getservbyname_r(name.c_str(), "tcp", &se, buf, sizeof buf, &res) == 0 && res)
    *tcp = ntohs(static_cast<uint16_t>(res->s_port));
  res = nullptr;
  if (getservbyname_r(name.c_str(), "udp", &se, buf, sizeof buf, &res) == 0 && res)
    *udp = ntohs(static_cast<uint16_t>(res->s_port));
}
// libpcap's stoi-like parse used by pcap_nametoportrange for "N-M" with numbers or names.
bool Gen::port_or_name(const std::string& s, QProto proto, uint32_t* out, int* ip_proto) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    if (s.size() > 10) fail("port number " + s + " out of range");
    unsigned long n = std::stoul(s);
    if (n > 65535) fail("port number " + s + " > 65535");
    *out = static_cast<uint32_t>(n);
    return true;
  }
  int t, u;
  lookup_port(s, &t, &u);
  if (t < 0 && u < 0) return false;
  (void)proto;
  if (t >= 0 && u >= 0) {
    if (t != u) fail("port '" + s + "' is tcp and udp with different numbers");
    *out = static_cast<uint32_t>(t);
    return true;
  }
  *out = static_cast<uint32_t>(t >= 0 ? t : u);
  if (*ip_proto < 0) *ip_proto = t >= 0 ? static_cast<int>(kIpProtoTcp) : static_cast<int>(kIpProtoUdp);
  return true;
}

// ---- identifiers (gen_scode / gen_ncode / gen_mcode / gen_ecode) ------------------------------


// __pcap_atoin: "a.b.c" -> value with 8 bits per part; returns the number of bits, -1 if bad.
int atoin(const std::string& s, uint32_t* out) {
  uint32_t v = 0;
  int len = 0;
  size_t i = 0;
  while (i < s.size()) {
    uint64_t n = 0;
    size_t st = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      n = n * 10 + static_cast<uint64_t>(s[i] - '0');
      if (n > 255) return -1;
      ++i;
    }
    if (i == st) return -1;
    v = (v << 8) | static_cast<uint32_t>(n);
    len += 8;
    if (i < s.size()) {
      if (s[i] != '.') return -1;
      ++i;
    }
  }
  *out = v;
  return len;
}

bool parse_mac(const std::string& s, uint8_t out[6]) {
  if (ether_addr* e = ether_aton(s.c_str())) {
    std::memcpy(out, e->ether_addr_octet, 6);
    return true;
  }
  // aabb.ccdd.eeff and aabbcc.ddeeff forms (pcap_ether_aton accepts any separators)
  std::string hex;
  for (char ch : s)
    if (ch != '.' && ch != '-' && ch != ':') hex += ch;
  if (hex.size() == 12) {
    for (char ch : hex)
      if (!std::isxdigit(static_cast<unsigned char>(ch))) return false;
    for (int i = 0; i < 6; ++i)
      out[i] = static_cast<uint8_t>(std::stoul(hex.substr(static_cast<size_t>(2 * i), 2), nullptr, 16));
    return true;
  }
  // "1-2-3-4-5-6" or "1.2.3.4.5.6": one or two hex digits per byte
  std::vector<uint8_t> parts;
  std::string cur;
  for (char ch : s + ".") {
    if (ch == '.' || ch == '-' || ch == ':') {
      if (cur.empty() || cur.size() > 2) return false;
      for (char d : cur)
        if (!std::isxdigit(static_cast<unsigned char>(d))) return false;
      parts.push_back(static_cast<uint8_t>(std::stoul(cur, nullptr, 16)));
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (parts.size() != 6) return false;
  std::copy(parts.begin(), parts.end(), out);
  return true;
}


Cond Gen::gen_id(const Node& n) {
  Qual q = n.qual;
  if (q.addr == QAddr::kUndef || q.proto == QProto::kUndef)
    fail("syntax error in filter expression");
  switch (n.id_kind) {
    case IdKind::kName:
      // gen_scode: a DECnet host name (libpcap has no DECnet name support)
      if (q.proto == QProto::kDecnet && (q.addr == QAddr::kDefault || q.addr == QAddr::kHost))
        return decnet_host(n);
      return gen_scode(n);
    case IdKind::kNum:
      if (q.proto == QProto::kDecnet &&
          (q.addr == QAddr::kDefault || q.addr == QAddr::kHost || q.addr == QAddr::kNet))
        return decnet_host(n);  // gen_ncode: the 16-bit address, no shifting or mask
      return gen_ncode(n, n.num, false, 32);
    case IdKind::kHost4: {
      if (q.addr == QAddr::kPort) fail("'port' modifier applied to ip host");
      if (q.addr == QAddr::kPortrange) fail("'portrange' modifier applied to ip host");
      if (q.addr == QAddr::kProto) fail("'proto' modifier applied to ip host");
      if (q.addr == QAddr::kProtochain) fail("'protochain' modifier applied to ip host");
      if (q.proto == QProto::kDecnet && q.addr != QAddr::kGateway) return decnet_host(n);
      uint32_t v;
      int vlen = atoin(n.str, &v);
      if (vlen < 0) fail("invalid IPv4 address '" + n.str + "'");
      return gen_ncode(n, v, true, static_cast<uint32_t>(vlen));
    }
    case IdKind::kHost4Len:
    case IdKind::kHost4Mask: {
      if (q.addr == QAddr::kPort) fail("'port' modifier applied to IP address and prefix length");
      if (q.addr == QAddr::kPortrange)
        fail("'portrange' modifier applied to IP address and prefix length");
      if (q.addr == QAddr::kProto) fail("'proto' modifier applied to IP address and prefix length");
      if (q.addr == QAddr::kProtochain)
        fail("'protochain' modifier applied to IP address and prefix length");
      uint32_t a, m;
      int alen = atoin(n.str, &a);
      if (alen < 0) fail("invalid IPv4 address '" + n.str + "'");
      a <<= 32 - alen;
      if (n.id_kind == IdKind::kHost4Len) {
        if (n.num > 32) fail("mask length must be <= 32");
        m = n.num == 0 ? 0 : 0xffffffffu << (32 - n.num);
        if (a & ~m) fail("non-network bits set in \"" + n.str + "/" + std::to_string(n.num) + "\"");
      } else {
        int mlen = atoin(n.str2, &m);
        if (mlen < 0) fail("invalid IPv4 netmask '" + n.str2 + "'");
        m <<= 32 - mlen;
        if (a & ~m) fail("non-network bits set in \"" + n.str + " mask " + n.str2 + "\"");
      }
      if (q.addr == QAddr::kNet || q.addr == QAddr::kDefault)
        return host(a, m, q.proto, q.dir, q.addr);
      fail("Mask syntax for networks only");
    }
    case IdKind::kHost6:
    case IdKind::kHost6Len: {
      if (q.addr == QAddr::kPort) fail("'port' modifier applied to ip6 address");
      if (q.addr == QAddr::kPortrange) fail("'portrange' modifier applied to ip6 address");
      if (q.addr == QAddr::kProto) fail("'proto' modifier applied to ip6 address");
      if (q.addr == QAddr::kProtochain) fail("'protochain' modifier applied to ip6 address");
      in6_addr a;
      if (inet_pton(AF_INET6, n.str.c_str(), &a) != 1) fail("invalid ip6 address " + n.str);
      uint32_t masklen = n.id_kind == IdKind::kHost6 ? 128 : n.num;
      if (masklen > 128) fail("mask length must be <= 128");
      uint8_t m[16] = {};
      for (uint32_t i = 0; i < masklen; ++i) m[i / 8] |= static_cast<uint8_t>(0x80u >> (i % 8));
      for (int i = 0; i < 16; ++i)
        if (a.s6_addr[i] & ~m[i]) fail("non-network bits set in \"" + n.str + "/" + std::to_string(masklen) + "\"");
      switch (q.addr) {
        case QAddr::kDefault:
        case QAddr::kHost:
        case QAddr::kNet:
          if (q.addr == QAddr::kHost && masklen != 128) fail("Mask syntax for networks only");
          return host6(a.s6_addr, m, q.proto, q.dir, q.addr);
        default: fail("invalid qualifier against IPv6 address");
      }
    }
    case IdKind::kEther: {
      if ((q.addr == QAddr::kHost || q.addr == QAddr::kDefault) && q.proto == QProto::kLink) {
        uint8_t ea[6];
        if (!parse_mac(n.str, ea)) fail("bogus ethernet address " + n.str);
        return prevlinkhdr_check(ehostop(ea, q.dir));
      }
      fail("ethernet address used in non-ether expression");
    }
    case IdKind::kArcnet: return arcnet_id(n);
  }
  fail("syntax error in filter expression");
}

Cond Gen::gen_ncode(const Node& n, uint32_t v, bool from_string, uint32_t vlen) {
  Qual q = n.qual;
  (void)from_string;
  switch (q.addr) {
    case QAddr::kDefault:
    case QAddr::kHost:
    case QAddr::kNet: {
      if (q.proto == QProto::kLink) fail("illegal link layer address");
      uint32_t mask = 0xffffffffu;
      if (q.addr == QAddr::kNet) {
        while (v && (v & 0xff000000u) == 0) {
          v <<= 8;
          mask <<= 8;
        }
      } else {
        v = vlen == 32 ? v : v << (32 - vlen);
        mask = vlen == 32 ? mask : mask << (32 - vlen);
      }
      return host(v, mask, q.proto, q.dir, q.addr);
    }
    case QAddr::kPort: {
      int p = port_proto(q.proto);
      if (v > 65535) fail("illegal port number " + std::to_string(v) + " > 65535");
      return port(p, q.dir, false, v, v);
    }
    case QAddr::kPortrange: {
      int p = portrange_proto(q.proto);
      if (v > 65535) fail("illegal port number " + std::to_string(v) + " > 65535");
      return port(p, q.dir, true, v, v);
    }
    case QAddr::kGateway: fail("'gateway' requires a name");
    case QAddr::kProto: return proto_q(v, q.proto, q.dir);
    case QAddr::kProtochain: return protochain(v, q.proto);
    case QAddr::kUndef: fail("syntax error in filter expression");
  }
  fail("syntax error in filter expression");
}

Cond Gen::gen_scode(const Node& n) {
  Qual q = n.qual;
  const std::string& name = n.str;
  switch (q.addr) {
    case QAddr::kNet: {
      // pcap_nametonetaddr: getnetbyname (/etc/networks), then left-justified as libpcap does
      netent ne{};
      netent* res = nullptr;
      char buf[1024];
      int herr = 0;
      uint32_t addr = 0;
      if (getnetbyname_r(name.c_str(), &ne, buf, sizeof buf, &res, &herr) == 0 && res)
        addr = static_cast<uint32_t>(res->n_net);
      if (addr == 0) fail("unknown network '" + name + "'");
      uint32_t mask = 0xffffffffu;
      while (addr && (addr & 0xff000000u) == 0) {
        addr <<= 8;
        mask <<= 8;
      }
      return host(addr, mask, q.proto, q.dir, q.addr);
    }
    case QAddr::kDefault:
    case QAddr::kHost: {
      if (q.proto == QProto::kLink) {
        ether_addr e{};
        if (ether_hostton(name.c_str(), &e) != 0)
          fail(std::string(wlan_ ? "unknown 802.11 host '" : "unknown ether host '") + name + "'");
        return prevlinkhdr_check(ehostop(e.ether_addr_octet, q.dir));
      }
      if (!opts_.resolve_hosts) fail("unknown host '" + name + "' (host name resolution is off)");
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      if (getaddrinfo(name.c_str(), nullptr, &hints, &res) != 0 || !res)
        fail("unknown host '" + name + "'");
      Cond b = const_cond(false);
      bool any = false;
      std::string err;
      for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
          if (q.proto == QProto::kIpv6) continue;
          uint32_t a = ntohl(reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr.s_addr);
          Cond t = host(a, 0xffffffffu, q.proto, q.dir, q.addr);
          b = any ? or_(b, t) : t;
          any = true;
        } else if (ai->ai_family == AF_INET6) {
          if (q.proto != QProto::kDefault && q.proto != QProto::kIpv6) continue;
          uint8_t m[16];
          std::memset(m, 0xff, 16);
          Cond t = host6(reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr.s6_addr, m,
                         q.proto, q.dir, q.addr);
          b = any ? or_(b, t) : t;
          any = true;
        }
      }
      freeaddrinfo(res);
      if (!any) fail("unknown host '" + name + "'" + (q.proto == QProto::kIpv6 ? " for specified address family" : ""));
      return b;
    }
    case QAddr::kPort: {
      if (q.proto != QProto::kUdp && q.proto != QProto::kTcp && q.proto != QProto::kSctp &&
          q.proto != QProto::kDefault)
        fail("illegal qualifier of 'port'");
      int t, u;
      lookup_port(name, &t, &u);
      if (t < 0 && u < 0) fail("unknown port '" + name + "'");
      int real = -1;
      uint32_t pnum;
      if (q.proto == QProto::kUdp) {
        if (u < 0) fail("unknown port '" + name + "'");  // libpcap: "port 'x' is tcp"
        pnum = static_cast<uint32_t>(u);
      } else if (q.proto == QProto::kTcp) {
        if (t < 0) fail("unknown port '" + name + "'");
        pnum = static_cast<uint32_t>(t);
      } else if (q.proto == QProto::kSctp) {
        pnum = static_cast<uint32_t>(t >= 0 ? t : u);
      } else {
        if (t >= 0 && u >= 0) {
          pnum = static_cast<uint32_t>(t);
          if (t != u) {
            // Different numbers for tcp and udp: (tcp port t) or (udp port u).
            Cond a = port(kIpProtoTcp, q.dir, false, static_cast<uint32_t>(t), 0);
            return or_(a, port(kIpProtoUdp, q.dir, false, static_cast<uint32_t>(u), 0));
          }
        } else {
          pnum = static_cast<uint32_t>(t >= 0 ? t : u);
          real = t >= 0 ? static_cast<int>(kIpProtoTcp) : static_cast<int>(kIpProtoUdp);
        }
      }
      return port(q.proto == QProto::kDefault ? real : port_proto(q.proto), q.dir, false, pnum, pnum);
    }
    case QAddr::kPortrange: {
      if (q.proto != QProto::kUdp && q.proto != QProto::kTcp && q.proto != QProto::kSctp &&
          q.proto != QProto::kDefault)
        fail("illegal qualifier of 'portrange'");
      // pcap_nametoportrange: "lo-hi"; each side a number or a service name.
      size_t dash = name.find('-');
      uint32_t lo, hi;
      int real = portrange_proto(q.proto);
      if (dash == std::string::npos) {
        int r2 = real;
        if (!port_or_name(name, q.proto, &lo, &r2)) fail("unknown port in range '" + name + "'");
        hi = lo;
        real = r2;
      } else {
        std::string a = name.substr(0, dash), b = name.substr(dash + 1);
        int r2 = real;
        if (!port_or_name(a, q.proto, &lo, &r2) || !port_or_name(b, q.proto, &hi, &r2))
          fail("unknown port in range '" + name + "'");
        if (real < 0 && r2 >= 0 && q.proto == QProto::kDefault) real = -1;
      }
      return port(real, q.dir, true, lo, hi);
    }
    case QAddr::kGateway: fail("'gateway' not supported in this configuration");
    case QAddr::kProto:
    case QAddr::kProtochain: {
      uint32_t v;
      bool ok = false;
      if (q.proto == QProto::kLink) {
        ok = lookup_eproto(name, &v);
        if (!ok) fail("unknown ether proto '" + name + "'");
      } else if (q.proto == QProto::kDefault || q.proto == QProto::kIp ||
                 q.proto == QProto::kIpv6) {
        v = lookup_proto_name(name, &ok);
        if (!ok) fail("unknown ip proto '" + name + "'");
      } else if (q.proto == QProto::kIso) {
        if (!osi_proto_name(name, &v)) fail("unknown osi proto '" + name + "'");
      } else {
        fail("unknown protocol: " + name);
      }
      return q.addr == QAddr::kProto ? proto_q(v, q.proto, q.dir) : protochain(v, q.proto);
    }
    case QAddr::kUndef: fail("syntax error in filter expression");
  }
  fail("syntax error in filter expression");
}


}  // namespace detail

// ---- public API -------------------------------------------------------------------------------

std::optional<int> linktype_from_name(std::string_view name) {
  using namespace detail;  // the kDlt* constants
  std::string s;
  for (char ch : name) s += static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
  if (s.rfind("DLT_", 0) == 0) s = s.substr(4);
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) && s.size() < 6)
    return std::stoi(s);
  static const struct {
    const char* n;
    int v;
  } kNames[] = {{"NULL", kDltNull},         {"EN10MB", kDltEn10mb},     {"RAW", kDltRaw},
                {"LOOP", kDltLoop},         {"LINUX_SLL", kDltLinuxSll}, {"IPV4", kDltIpv4},
                {"IPV6", kDltIpv6},         {"LINUX_SLL2", kDltLinuxSll2},
                {"IEEE802", kDltIeee802},   {"ARCNET", kDltArcnet},     {"SLIP", kDltSlip},
                {"PPP", kDltPpp},           {"FDDI", kDltFddi},         {"PPP_SERIAL", kDltPppSerial},
                {"PPP_ETHER", kDltPppEther}, {"C_HDLC", kDltCHdlc},     {"FRELAY", kDltFrelay},
                {"SUNATM", kDltSunatm},     {"ARCNET_LINUX", kDltArcnetLinux},
                {"IPNET", kDltIpnet},
                {"IEEE802_11", kDltIeee80211}, {"PRISM_HEADER", kDltPrism},
                {"IEEE802_11_RADIO", kDltRadiotap}, {"IEEE802_11_RADIO_AVS", kDltAvs},
                {"PPI", kDltPpi}};
  for (const auto& e : kNames)
    if (s == e.n) return e.v;
  return std::nullopt;
}

bool linktype_supported(int lt) {
  using namespace detail;  // the kDlt* constants
  switch (lt) {
    case kDltNull: case kDltEn10mb: case kDltRaw: case kDltRawAlt: case kDltLoop:
    case kDltLinuxSll: case kDltIpv4: case kDltIpv6: case kDltLinuxSll2:
    case kDltIeee802: case kDltArcnet: case kDltSlip: case kDltPpp: case kDltFddi:
    case kDltPppSerial: case kDltPppEther: case kDltCHdlc: case kDltFrelay: case kDltSunatm:
    case kDltArcnetLinux: case kDltIpnet:
      return true;
    case kDltIeee80211: case kDltPrism: case kDltRadiotap: case kDltAvs: case kDltPpi:
      return true;
  }
  return false;
}

}  // namespace bpf::compiler
