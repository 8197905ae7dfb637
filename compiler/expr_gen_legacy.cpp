// OSI (ISO 8473 CLNP, ISO 9542 ES-IS, ISO 10589 IS-IS) and DECnet Phase IV, after libpcap
// 1.10.3's gencode.c: gen_proto for Q_ISO / Q_ISIS / Q_CLNP / Q_ESIS and the other legacy
// qualifiers' `proto` errors, lookup_proto's OSI names (`iso proto \clnp`), the IS-IS PDU-type
// abbreviations (gen_proto_abbrev_internal's Q_ISIS_L1 ... Q_ISIS_PSNP), __pcap_atodn and
// gen_dnhostop (`decnet src|dst|host area.node`), and the "X host filtering not implemented"
// errors of gen_host.
//  - every OSI test starts with Gen::linktype(LLCSAP_ISONS) as libpcap's does: on Ethernet an
//    802.3 frame whose DSAP/SSAP are 0xfe 0xfe, on LINUX_SLL an 802.2 frame (protocol 4) with
//    them, on LINUX_SLL2 the protocol field equal to 0xfe (libpcap compares it directly), on
//    PPP (after `pppoes`) protocol 0x0023; never on RAW, NULL, LOOP, IPV4, IPV6 (libpcap then
//    says "expression rejects all packets", and so do we). The NLPID is read at the network
//    layer "without SNAP" (libpcap's OR_LINKPL_NOSNAP: 3 bytes after an Ethernet LLC header, 0
//    on the cooked link types, where libpcap reads the LLC's DSAP there: quirk kept), the IS-IS
//    PDU type 4 bytes after it;
//  - DECnet addresses are `area.node` (area 6 bits, node 10 bits, as __pcap_atodn: sscanf
//    "%d.%d", so `1.2.3` is 1.2 and out-of-range parts are masked, not refused) or a plain
//    number (the 16-bit address); they are little-endian on the wire, so libpcap compares
//    ntohs(addr), which is host-dependent: the same on every little-endian host, and we use
//    ntohs too. gen_dnhostop tests the four routing-header layouts (short/long, with or without
//    a padding byte) after the 2-byte length;
//  - libpcap 1.11's range checks that apply here (`iso proto 256`, `isis proto 256`) live with
//    the others in Gen::assert_maxval (compiler/expr_gen.cpp).
// Tested by tests/expr/expr_diff_test.cpp (the OSI/DECnet expressions of kExprs on every link
// type, against libpcap, on generated IS-IS/ES-IS/CLNP/DECnet frames and the corpus's IS-IS).
#include <arpa/inet.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "compiler/expr_gen.hpp"

namespace bpf::compiler::detail {

namespace {
constexpr uint32_t kNlpidClnp = 0x81, kNlpidEsis = 0x82, kNlpidIsis = 0x83;  // nlpid.h
constexpr uint32_t kEtDecnet = 0x6003;
// The link types whose gen_proto(Q_ISO) branch differs (pcap/dlt.h); compiled only once their
// link layer is supported (compiler/expr_gen_link.cpp init_link, linktype).
constexpr int kIsoDltFrelay = 107, kIsoDltCHdlc = 104, kIsoDltHdlc = 112;
}  // namespace

// ---- OSI -----------------------------------------------------------------------------------
// gen_proto(v, Q_ISO).
Cond Gen::iso_proto(uint32_t v) {
  if (dlt_ == kIsoDltFrelay) {
    // Frame Relay: the NLPID follows the 2-byte address and the UI control byte (0x03).
    return cmp(Rel::kLinkHdr, 2, 2, (0x03u << 8) | v);
  }
  if (dlt_ == kIsoDltCHdlc || dlt_ == kIsoDltHdlc) {
    // Cisco HDLC: protocol 0xfefe, then a fudge byte before the NLPID.
    Cond b0 = linktype((kLlcSapIsons << 8) | kLlcSapIsons);
    return and_(b0, cmp(Rel::kLinkPlNosnap, 1, 1, v));
  }
  Cond b0 = linktype(kLlcSapIsons);
  return and_(b0, cmp(Rel::kLinkPlNosnap, 0, 1, v));
}
// gen_proto(v, Q_ISIS): an IS-IS PDU of type v.
Cond Gen::isis_proto(uint32_t v) {
  Cond b0 = iso_proto(kNlpidIsis);
  return and_(b0, cmp(Rel::kLinkPlNosnap, 4, 1, v));
}
Cond Gen::isis_any(std::initializer_list<uint32_t> order_built) {
  // libpcap builds b1 from the first two, then or's each further one in front.
  std::vector<uint32_t> v(order_built);
  Cond b1 = or_(isis_proto(v[0]), isis_proto(v[1]));
  for (size_t i = 2; i < v.size(); ++i) b1 = or_(isis_proto(v[i]), b1);
  return b1;
}

// gen_proto_abbrev_internal for the OSI and IS-IS names.
Cond Gen::osi_abbrev(QProto p) {
  switch (p) {
    case QProto::kIso: return linktype(kLlcSapIsons);
    case QProto::kEsis: return iso_proto(kNlpidEsis);
    case QProto::kIsis: return iso_proto(kNlpidIsis);
    case QProto::kClnp: return iso_proto(kNlpidClnp);
    case QProto::kIsisL1: return isis_any({15, 17, 18, 24, 26});
    case QProto::kIsisL2: return isis_any({16, 17, 20, 25, 27});
    case QProto::kIsisIih: return isis_any({15, 16, 17});
    case QProto::kIsisLsp: return or_(isis_proto(18), isis_proto(20));
    case QProto::kIsisSnp: return isis_any({24, 25, 26, 27});
    case QProto::kIsisCsnp: return or_(isis_proto(24), isis_proto(25));
    case QProto::kIsisPsnp: return or_(isis_proto(26), isis_proto(27));
    default: break;
  }
  fail(std::string("'") + proto_name(p) + "' is not an OSI protocol");
}

// lookup_proto(name, Q_ISO): the NLPIDs libpcap knows by name.
bool Gen::osi_proto_name(const std::string& name, uint32_t* v) {
  if (name == "esis") *v = kNlpidEsis;
  else if (name == "isis") *v = kNlpidIsis;
  else if (name == "clnp") *v = kNlpidClnp;
  else return false;
  return true;
}

// gen_proto(v, proto) for the qualifiers of this family and the other link-layer ones that
// carry no protocol field libpcap would test (their errors, word for word).
Cond Gen::legacy_proto_q(uint32_t v, QProto proto) {
  switch (proto) {
    case QProto::kIso:
      assert_maxval("protocol number", v, 0xff);
      return iso_proto(v);
    case QProto::kIsis:
      assert_maxval("protocol number", v, 0xff);
      return isis_proto(v);
    case QProto::kClnp: fail("'clnp proto' is not supported");
    case QProto::kAtalk: fail("AppleTalk encapsulation is not specifiable");
    case QProto::kDecnet: fail("DECNET encapsulation is not specifiable");
    case QProto::kLat: fail("LAT does not encapsulate another protocol");
    case QProto::kSca: fail("SCA does not encapsulate another protocol");
    case QProto::kMoprc: fail("MOPRC does not encapsulate another protocol");
    case QProto::kMopdl: fail("MOPDL does not encapsulate another protocol");
    case QProto::kAarp: case QProto::kEsis: case QProto::kStp: case QProto::kIpx:
    case QProto::kNetbeui: case QProto::kIsisL1: case QProto::kIsisL2: case QProto::kIsisIih:
    case QProto::kIsisSnp: case QProto::kIsisCsnp: case QProto::kIsisPsnp:
    case QProto::kIsisLsp: case QProto::kRadio:
      fail(std::string("'") + proto_name(proto) + " proto' is bogus");
    default: break;
  }
  fail(std::string("'") + proto_name(proto) + " proto' is not supported by this compiler");
}

// gen_host's errors for the link-layer qualifiers that have no host addresses (other than
// DECnet's); returns when `proto` is not one of them.
void Gen::legacy_host_check(QProto proto) {
  const char* who = nullptr;
  switch (proto) {
    case QProto::kAtalk: who = "AppleTalk"; break;
    case QProto::kAarp: who = "AARP"; break;
    case QProto::kLat: who = "LAT"; break;
    case QProto::kSca: who = "SCA"; break;
    case QProto::kMoprc: who = "MOPRC"; break;
    case QProto::kMopdl: who = "MOPDL"; break;
    case QProto::kIso: who = "ISO"; break;
    case QProto::kIpx: who = "IPX"; break;
    default: return;
  }
  fail(std::string(who) + " host filtering not implemented");
}

// ---- DECnet ------------------------------------------------------------------------------------
// __pcap_atodn: sscanf(s, "%d.%d", &area, &node) == 2, then (area << 10) & 0xfc00 | node & 0x3ff.
bool atodn(const std::string& s, uint32_t* out) {
  size_t i = 0;
  auto number = [&](uint32_t* v) {
    // %d: optional sign, decimal digits; glibc converts with strtol and stores the int.
    bool neg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    const size_t st = i;
    uint64_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      n = n * 10 + static_cast<uint64_t>(s[i] - '0');
      if (n > 0x7fffffffffffffffull) n = 0x7fffffffffffffffull;  // strtol saturates
      ++i;
    }
    if (i == st) return false;
    *v = static_cast<uint32_t>(neg ? 0 - n : n);
    return true;
  };
  uint32_t area, node;
  if (!number(&area)) return false;
  if (i >= s.size() || s[i] != '.') return false;
  ++i;
  if (!number(&node)) return false;
  *out = ((area << 10) & 0xfc00u) | (node & 0x3ffu);
  return true;
}

// gen_dnhostop: the address after each of the four routing-header layouts (long/short header,
// with or without a pad byte), tested in libpcap's order.
Cond Gen::dnhostop(uint32_t addr, QDir dir) {
  uint32_t off_sh, off_lh;  // offsets in the short / long header, after the flags byte
  switch (dir) {
    case QDir::kDst:
      off_sh = 1;   // follows the flags
      off_lh = 7;   // flags, dst area, dst subarea, HIORD
      break;
    case QDir::kSrc:
      off_sh = 3;   // follows the flags and the destination node
      off_lh = 15;  // flags, darea, dsubarea, did, sarea, ssubarea, HIORD
      break;
    case QDir::kAnd: {
      Cond b0 = dnhostop(addr, QDir::kSrc);
      return and_(b0, dnhostop(addr, QDir::kDst));
    }
    case QDir::kDefault:
    case QDir::kOr: {
      Cond b0 = dnhostop(addr, QDir::kSrc);
      return or_(b0, dnhostop(addr, QDir::kDst));
    }
    case QDir::kAddr1: fail("'addr1' and 'address1' are not valid qualifiers for addresses other than 802.11 MAC addresses");
    case QDir::kAddr2: fail("'addr2' and 'address2' are not valid qualifiers for addresses other than 802.11 MAC addresses");
    case QDir::kAddr3: fail("'addr3' and 'address3' are not valid qualifiers for addresses other than 802.11 MAC addresses");
    case QDir::kAddr4: fail("'addr4' and 'address4' are not valid qualifiers for addresses other than 802.11 MAC addresses");
    case QDir::kRa: fail("'ra' is not a valid qualifier for addresses other than 802.11 MAC addresses");
    case QDir::kTa: fail("'ta' is not a valid qualifier for addresses other than 802.11 MAC addresses");
    default: fail("syntax error in filter expression");
  }
  const uint32_t a = ntohs(static_cast<uint16_t>(addr));
  Cond b0 = linktype(kEtDecnet);
  // pad = 1, long header
  Cond tmp = mcmp(Rel::kLinkPl, 2, 2, ntohs(0x0681), ntohs(0x07ff));
  Cond b1 = and_(tmp, cmp(Rel::kLinkPl, 2 + 1 + off_lh, 2, a));
  // pad = 0, long header
  tmp = mcmp(Rel::kLinkPl, 2, 1, 0x06, 0x07);
  Cond b2 = and_(tmp, cmp(Rel::kLinkPl, 2 + off_lh, 2, a));
  b1 = or_(b2, b1);
  // pad = 1, short header
  tmp = mcmp(Rel::kLinkPl, 2, 2, ntohs(0x0281), ntohs(0x07ff));
  b2 = and_(tmp, cmp(Rel::kLinkPl, 2 + 1 + off_sh, 2, a));
  b1 = or_(b2, b1);
  // pad = 0, short header
  tmp = mcmp(Rel::kLinkPl, 2, 1, 0x02, 0x07);
  b2 = and_(tmp, cmp(Rel::kLinkPl, 2 + off_sh, 2, a));
  b1 = or_(b2, b1);
  return and_(b0, b1);
}

// gen_ncode / gen_scode for a `decnet` host: `area.node` (HID), a number, or a name (libpcap
// is built without DECnet name support).
Cond Gen::decnet_host(const Node& n) {
  const Qual q = n.qual;
  switch (n.id_kind) {
    case IdKind::kNum: return dnhostop(n.num, q.dir);
    case IdKind::kHost4: {
      uint32_t v;
      if (!atodn(n.str, &v)) fail("malformed decnet address '" + n.str + "'");
      return dnhostop(v, q.dir);
    }
    case IdKind::kName:
      fail("decnet name support not included, '" + n.str + "' cannot be translated");
    default: break;
  }
  fail("syntax error in filter expression");
}

}  // namespace bpf::compiler::detail
