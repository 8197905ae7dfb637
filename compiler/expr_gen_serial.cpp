// Serial and other non-LAN link types, after libpcap 1.10.3's gencode.c: their offsets
// (init_linktype), the link-layer type test (gen_linktype's cases, ethertype_to_ppptype,
// gen_ipnet_linktype), ARCnet addresses (gen_acode, gen_ahostop) and the direction tests that
// read the header (gen_inbound). One concern: the link types whose header is a fixed prefix with
// at most a protocol field; init_link_more, link_name_more and linktype_more also hold the
// table rows of FDDI, token ring and SunATM, whose tests live in expr_gen_lan.cpp and
// expr_gen_atm.cpp (one switch per hook, so that expr_gen_link.cpp keeps one line each).
//  - PPP, PPP_SERIAL (HDLC-like framing: protocol at 2, payload at 4), PPP_ETHER (PPPoE session
//    header: protocol at 6, payload at 8): the EtherType is mapped to a PPP protocol number;
//  - C_HDLC: the protocol field at 2 is an EtherType; OSI is 0xfefe (gen_linktype's LLCSAP_ISONS
//    case), payload at 4;
//  - FRELAY: no type field; IPv4/IPv6/OSI are the NLPID after a UI control byte, i.e. the 16 bits
//    at 2 are 0x03cc / 0x038e / 0x0381..0x0383. The network layer is taken at offset 0, as
//    libpcap does (its init_linktype: "XXX - we should set this to handle SNAP-encapsulated
//    frames"), so `ip host X` reads the frame's first bytes: libpcap's verdict, kept;
//  - SLIP: a 16-byte pseudo-header, no type field; IPv4/IPv6 are told by the version nibble of
//    the *first byte of the link-layer header* (gen_linktype reads OR_LINKHDR 0), kept;
//    `inbound` is link[0] = 0 (gen_inbound's relation), `outbound` its negation;
//  - IPNET: address family byte at 1 (2 IPv4, 26 IPv6), payload at 24; direction in the
//    16 bits at 2 (pcap/ipnet.h: 1 outbound, 2 inbound);
//  - ARCNET (type at 2, payload at 6) and ARCNET_LINUX (type at 4, payload at 8): one-byte
//    ARCnet protocol ids (IPv4 212 or old 240, ARP 213 or old 241, RARP 214, IPv6 196,
//    AppleTalk 221); one-byte addresses, source first. libpcap 1.10.3 reads `$ab` with
//    pcap_ether_aton on the text *with* its `$`, so the byte compared is 0xd0 | the first hex
//    digit (xdtoi('$') = -19): `$12` matches 0xd1. libpcap's verdict, kept (arcnet_id).
// Tested by tests/expr/linktypes_test.cpp against pcap_compile + bpf_filter.
#include <string>

#include "compiler/expr_gen.hpp"

namespace bpf::compiler::detail {

namespace {

constexpr uint32_t kArcTypeIp = 212, kArcTypeIpOld = 240, kArcTypeArp = 213,
                   kArcTypeArpOld = 241, kArcTypeRevarp = 214, kArcTypeInet6 = 0xc4,
                   kArcTypeAtalk = 221;
constexpr uint32_t kIpnetAfInet = 2, kIpnetAfInet6 = 26, kIpnetOutbound = 1, kIpnetInbound = 2;

// pcap_ether_aton's xdtoi: any character that is not a digit or a lower-case letter is read as
// an upper-case hex digit, '$' included.
int xdtoi(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  return c - 'A' + 10;
}
bool is_xdigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

bool Gen::init_link_more_types(int linktype) {
  switch (linktype) {
    case kDltPpp: case kDltPppSerial: case kDltCHdlc: case kDltPppEther: case kDltFrelay:
    case kDltSlip: case kDltIpnet: case kDltArcnet: case kDltArcnetLinux: case kDltFddi:
    case kDltIeee802: case kDltSunatm:
      return true;
  }
  return false;
}

bool Gen::init_link_more() {
  switch (opts_.linktype) {
    case kDltPpp:
    case kDltPppSerial:
    case kDltCHdlc:
      off_linktype_ = 2;
      off_linkpl_ = 4;
      return true;
    case kDltPppEther:
      off_linktype_ = 6;
      off_linkpl_ = 8;
      return true;
    case kDltFrelay:
      off_linkpl_ = 0;
      return true;
    case kDltSlip:
      off_linkpl_ = 16;
      return true;
    case kDltIpnet:
      off_linktype_ = 1;
      off_linkpl_ = 24;
      return true;
    case kDltArcnet:
      off_linktype_ = 2;
      off_linkpl_ = 6;
      return true;
    case kDltArcnetLinux:
      off_linktype_ = 4;
      off_linkpl_ = 8;
      return true;
    case kDltFddi:
      // FDDI: frame control byte, then the addresses; "off_linktype" is the LLC header
      // (libpcap assumes SNAP for EtherTypes); pcap_fddipad is 0 on Linux.
      off_linktype_ = 13;
      off_linkpl_ = 13;
      off_nl_ = 8;
      off_nl_nosnap_ = 3;
      return true;
    case kDltIeee802:
      // Token ring without source routing (libpcap ignores the routing field).
      off_linktype_ = 14;
      off_linkpl_ = 14;
      off_nl_ = 8;
      off_nl_nosnap_ = 3;
      return true;
    case kDltSunatm:
      // The 4-byte SunATM pseudo-header (flags/type, VPI, VCI), then LLC when PT_LLC.
      is_atm_ = true;
      off_linktype_ = 4;
      off_linkpl_ = 4;
      off_nl_ = 8;
      off_nl_nosnap_ = 3;
      return true;
  }
  return false;
}

// pcap_datalink_val_to_description, used in libpcap's messages.
const char* Gen::link_name_more() const {
  switch (dlt_) {
    case kDltPppSerial: return "PPP over serial";
    case kDltPppEther: return "PPPoE";
    case kDltCHdlc: return "Cisco HDLC";
    case kDltFrelay: return "Frame Relay";
    case kDltSlip: return "SLIP";
    case kDltIpnet: return "Solaris ipnet";
    case kDltArcnet: return "BSD ARCNET";
    case kDltArcnetLinux: return "Linux ARCNET";
    case kDltFddi: return "FDDI";
    case kDltIeee802: return "Token ring";
    case kDltSunatm: return "Sun raw ATM";
  }
  return nullptr;
}

std::optional<Cond> Gen::linktype_more(uint32_t proto) {
  switch (dlt_) {
    case kDltPppSerial:
    case kDltPppEther:
      return cmp(Rel::kLinkType, 0, 2, ethertype_to_ppptype(proto));  // as DLT_PPP
    case kDltCHdlc:
      return cmp(Rel::kLinkType, 0, 2, proto == kLlcSapIsons ? (kLlcSapIsons << 8 | kLlcSapIsons) : proto);
    case kDltFrelay:
      switch (proto) {
        case kEtIp: return cmp(Rel::kLinkHdr, 2, 2, 0x03cc);
        case kEtIpv6: return cmp(Rel::kLinkHdr, 2, 2, 0x038e);
        case kLlcSapIsons: {
          Cond b0 = cmp(Rel::kLinkHdr, 2, 2, 0x0381);  // CLNP
          Cond b1 = cmp(Rel::kLinkHdr, 2, 2, 0x0382);  // ES-IS
          Cond b2 = cmp(Rel::kLinkHdr, 2, 2, 0x0383);  // IS-IS
          b2 = or_(b1, b2);
          return or_(b0, b2);
        }
        default: return uncond(false);
      }
    case kDltSlip:
      if (proto == kEtIp) return mcmp(Rel::kLinkHdr, 0, 1, 0x40, 0xf0);
      if (proto == kEtIpv6) return mcmp(Rel::kLinkHdr, 0, 1, 0x60, 0xf0);
      return uncond(false);
    case kDltIpnet:
      if (proto == kEtIp) return cmp(Rel::kLinkType, 0, 1, kIpnetAfInet);
      if (proto == kEtIpv6) return cmp(Rel::kLinkType, 0, 1, kIpnetAfInet6);
      return uncond(false);
    case kDltArcnet:
    case kDltArcnetLinux:
      switch (proto) {
        case kEtIpv6: return cmp(Rel::kLinkType, 0, 1, kArcTypeInet6);
        case kEtIp: {
          Cond b0 = cmp(Rel::kLinkType, 0, 1, kArcTypeIp);
          return or_(b0, cmp(Rel::kLinkType, 0, 1, kArcTypeIpOld));
        }
        case kEtArp: {
          Cond b0 = cmp(Rel::kLinkType, 0, 1, kArcTypeArp);
          return or_(b0, cmp(Rel::kLinkType, 0, 1, kArcTypeArpOld));
        }
        case kEtRevArp: return cmp(Rel::kLinkType, 0, 1, kArcTypeRevarp);
        case kEtAtalk: return cmp(Rel::kLinkType, 0, 1, kArcTypeAtalk);
        default: return uncond(false);
      }
    case kDltFddi:
    case kDltIeee802:
      return llc_linktype(proto);
    case kDltSunatm: {
      // LLC-encapsulated traffic (after `lane` the link type is no longer SUNATM).
      Cond b0 = atm_field(/*A_PROTOTYPE*/ 2, /*PT_LLC*/ 2, c::kJeq, false);
      return and_(b0, llc_linktype(proto));
    }
  }
  return std::nullopt;
}

// gen_inbound's cases that read the packet; the other link types use the kernel's packet type.
std::optional<Cond> Gen::direction_more(bool out) {
  switch (dlt_) {
    case kDltSlip: {
      Cond b = cmp(Rel::kLinkHdr, 0, 1, 0);
      return out ? not_(b) : b;
    }
    case kDltIpnet:
      return cmp(Rel::kLinkHdr, 2, 2, out ? kIpnetOutbound : kIpnetInbound);
  }
  return std::nullopt;
}

// gen_acode: `$ab` after `link`/`ether` host qualifiers, ARCnet links only.
Cond Gen::arcnet_id(const Node& n) {
  if (dlt_ != kDltArcnet && dlt_ != kDltArcnetLinux) fail("aid supported only on ARCnet");
  const Qual q = n.qual;
  if ((q.addr != QAddr::kHost && q.addr != QAddr::kDefault) || q.proto != QProto::kLink)
    fail("ARCnet address used in non-arc expression");
  // The first byte pcap_ether_aton makes of the text (see the file comment).
  const std::string& s = n.str;
  size_t i = 0;
  if (i < s.size() && (s[i] == ':' || s[i] == '.' || s[i] == '-')) ++i;
  int d = i < s.size() ? xdtoi(s[i++]) : 0;
  if (i < s.size() && is_xdigit(s[i])) d = (d << 4) | xdtoi(s[i]);
  return ahostop(static_cast<uint8_t>(d), q.dir);
}

// gen_ahostop: source address at 0, destination at 1.
Cond Gen::ahostop(uint8_t a, QDir dir) {
  switch (dir) {
    case QDir::kSrc: return cmp(Rel::kLinkHdr, 0, 1, a);
    case QDir::kDst: return cmp(Rel::kLinkHdr, 1, 1, a);
    case QDir::kAnd: {
      Cond b0 = ahostop(a, QDir::kSrc);
      return and_(b0, ahostop(a, QDir::kDst));
    }
    case QDir::kDefault:
    case QDir::kOr: {
      Cond b0 = ahostop(a, QDir::kSrc);
      return or_(b0, ahostop(a, QDir::kDst));
    }
    default: fail(wlan_qualifier_error(dir));
  }
}

}  // namespace bpf::compiler::detail
