// Network layer, after libpcap 1.10.3's gencode.c: protocol names used as primitives
// (gen_proto_abbrev_internal), IP protocol tests (gen_proto with Q_IP/Q_IPV6/Q_DEFAULT,
// gen_ipfrag), hosts and nets (gen_host, gen_host6, gen_hostop, gen_hostop6; for IPv4, ARP and
// RARP), the `proto N` qualifier (gen_proto) and `protochain` (gen_protochain).
//  - transport fields of IPv4 are read at 4*(ihl) after a "not a fragment" check; IPv6 has no
//    extension-header walking except `ip6 proto`'s one fragment-header look and `protochain`;
//  - `protochain` is libpcap's loop unrolled to a fixed bound (kChainSteps, below);
//  - OSI and DECnet (the `iso`/`isis` protocols and abbreviations, `decnet` hosts) are in
//    expr_gen_legacy.cpp; libpcap 1.11's value checks (`proto 256`...) are assert_maxval calls.
// Tested by tests/expr/expr_diff_test.cpp (hosts, nets, protocols, ProtochainWalkBound).
#include <arpa/inet.h>

#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "compiler/expr_gen.hpp"

namespace bpf::compiler::detail {

// ---- protocols --------------------------------------------------------------------------------
Cond Gen::ipfrag() {  // not a non-first fragment: (frag offset & 0x1fff) == 0
  return not_(test(load(Rel::kLinkPl, 6, 2), c::kJset, 0x1fff));
}
// gen_proto(v, Q_IP / Q_IPV6 / Q_DEFAULT)
// (member_test: `v`, or within a set-able run the members' values; expr_gen_sets.cpp)
Cond Gen::ip_proto(uint32_t v) {
  return and_(linktype(kEtIp), member_test(Rel::kLinkPl, 9, 1, v, 0xffffffffu));
}
Cond Gen::ip6_proto(uint32_t v) {
  Cond b0 = linktype(kEtIpv6);
  Cond b1 = member_test(Rel::kLinkPl, 6, 1, v, 0xffffffffu);
  Cond b2 = and_(cmp(Rel::kLinkPl, 6, 1, kIpProtoFragment), member_test(Rel::kLinkPl, 40, 1, v, 0xffffffffu));
  return and_(b0, or_(b1, b2));
}
Cond Gen::any_proto(uint32_t v) {
  Cond b0 = ip_proto(v);
  return or_(b0, ip6_proto(v));
}

Cond Gen::proto_abbrev(QProto p) {
  switch (p) {
    case QProto::kSctp: return any_proto(kIpProtoSctp);
    case QProto::kTcp: return any_proto(kIpProtoTcp);
    case QProto::kUdp: return any_proto(kIpProtoUdp);
    case QProto::kIcmp: return ip_proto(kIpProtoIcmp);
    case QProto::kIgmp: return ip_proto(kIpProtoIgmp);
    case QProto::kIgrp: return ip_proto(kIpProtoIgrp);
    case QProto::kPim: return any_proto(kIpProtoPim);
    case QProto::kVrrp: return ip_proto(kIpProtoVrrp);
    case QProto::kCarp: return ip_proto(kIpProtoCarp);
    case QProto::kIp: return linktype(kEtIp);
    case QProto::kArp: return linktype(kEtArp);
    case QProto::kRarp: return linktype(kEtRevArp);
    case QProto::kIpv6: return linktype(kEtIpv6);
    case QProto::kIcmpv6: return ip6_proto(kIpProtoIcmpv6);
    case QProto::kAh: return any_proto(kIpProtoAh);
    case QProto::kEsp: return any_proto(kIpProtoEsp);
    case QProto::kLink: fail("link layer applied in wrong context");
    case QProto::kAtalk: return linktype(kEtAtalk);
    case QProto::kAarp: return linktype(kEtAarp);
    case QProto::kDecnet: return linktype(0x6003);
    case QProto::kLat: return linktype(0x6004);
    case QProto::kSca: return linktype(0x6007);
    case QProto::kMoprc: return linktype(0x6002);
    case QProto::kMopdl: return linktype(0x6001);
    case QProto::kIso: case QProto::kEsis: case QProto::kIsis: case QProto::kClnp:
    case QProto::kIsisL1: case QProto::kIsisL2: case QProto::kIsisIih: case QProto::kIsisLsp:
    case QProto::kIsisSnp: case QProto::kIsisCsnp: case QProto::kIsisPsnp:
      return osi_abbrev(p);
    case QProto::kStp: return linktype(0x42);
    case QProto::kIpx: return linktype(kLlcSapIpx);
    case QProto::kNetbeui: return linktype(kLlcSapNetbeui);
    default: break;
  }
  fail(std::string("'") + proto_name(p) + "' is not supported by this compiler");
}

const char* Gen::proto_name(QProto p) {
  static const char* const kNames[] = {
      "",     "link",  "ip",   "arp",   "rarp",    "sctp",   "tcp",    "udp",  "icmp", "igmp",
      "igrp", "atalk", "decnet", "lat", "sca",     "moprc",  "mopdl",  "ip6",  "icmp6", "ah",
      "esp",  "pim",   "vrrp", "aarp",  "iso",     "esis",   "isis",   "clnp", "stp",  "ipx",
      "netbeui", "l1", "l2",   "iih",   "snp",     "csnp",   "psnp",   "lsp",  "radio", "carp"};
  size_t i = static_cast<size_t>(p);
  return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : "?";
}

const char* Gen::proto_label(QProto p) {
  switch (p) {
    case QProto::kIp: return "IPv4";
    case QProto::kIpv6: return "IPv6";
    case QProto::kArp: return "ARP";
    case QProto::kRarp: return "RARP";
    case QProto::kTcp: return "TCP";
    case QProto::kUdp: return "UDP";
    case QProto::kSctp: return "SCTP";
    case QProto::kIcmp: return "ICMP";
    case QProto::kIcmpv6: return "ICMPv6";
    case QProto::kIgmp: return "IGMP";
    case QProto::kIgrp: return "IGRP";
    case QProto::kPim: return "PIM";
    case QProto::kVrrp: return "VRRP";
    case QProto::kCarp: return "CARP";
    default: return proto_name(p);
  }
}

// ---- hosts and nets ---------------------------------------------------------------------------
Cond Gen::hostop(uint32_t addr, uint32_t mask, QDir dir, uint32_t proto, uint32_t src_off,
                 uint32_t dst_off) {
  switch (dir) {
    case QDir::kSrc: return and_(linktype(proto), member_test(Rel::kLinkPl, src_off, 4, addr, mask));
    case QDir::kDst: return and_(linktype(proto), member_test(Rel::kLinkPl, dst_off, 4, addr, mask));
    case QDir::kAnd: {
      Cond b0 = hostop(addr, mask, QDir::kSrc, proto, src_off, dst_off);
      return and_(b0, hostop(addr, mask, QDir::kDst, proto, src_off, dst_off));
    }
    case QDir::kDefault:
    case QDir::kOr: {
      Cond b0 = hostop(addr, mask, QDir::kSrc, proto, src_off, dst_off);
      return or_(b0, hostop(addr, mask, QDir::kDst, proto, src_off, dst_off));
    }
    default: fail("'addr1', 'addr2', 'ra' and 'ta' are only supported on 802.11");
  }
}
Cond Gen::hostop6(const uint8_t* addr, const uint8_t* mask, QDir dir, uint32_t src_off,
                  uint32_t dst_off) {
  switch (dir) {
    case QDir::kSrc:
    case QDir::kDst: {
      uint32_t off = dir == QDir::kSrc ? src_off : dst_off;
      Cond r = const_cond(true);
      for (int i = 0; i < 4; ++i) {
        uint32_t a, m;
        std::memcpy(&a, addr + 4 * i, 4);
        std::memcpy(&m, mask + 4 * i, 4);
        r = and_(r, mcmp(Rel::kLinkPl, off + 4 * static_cast<uint32_t>(i), 4, ntohl(a),
                         ntohl(m)));
      }
      return and_(linktype(kEtIpv6), r);
    }
    case QDir::kAnd: {
      Cond b0 = hostop6(addr, mask, QDir::kSrc, src_off, dst_off);
      return and_(b0, hostop6(addr, mask, QDir::kDst, src_off, dst_off));
    }
    case QDir::kDefault:
    case QDir::kOr: {
      Cond b0 = hostop6(addr, mask, QDir::kSrc, src_off, dst_off);
      return or_(b0, hostop6(addr, mask, QDir::kDst, src_off, dst_off));
    }
    default: fail("'addr1', 'addr2', 'ra' and 'ta' are only supported on 802.11");
  }
}
Cond Gen::host(uint32_t addr, uint32_t mask, QProto proto, QDir dir, QAddr type) {
  const char* typestr = type == QAddr::kNet ? "net" : "host";
  switch (proto) {
    case QProto::kDefault: {
      Cond b0 = host(addr, mask, QProto::kIp, dir, type);
      // libpcap: only IPv4 under MPLS.
      if (mpls_depth_ > 0) return b0;
      Cond b1 = host(addr, mask, QProto::kArp, dir, type);
      b1 = or_(b0, b1);
      return or_(b1, host(addr, mask, QProto::kRarp, dir, type));
    }
    case QProto::kIp: return hostop(addr, mask, dir, kEtIp, 12, 16);
    case QProto::kRarp: return hostop(addr, mask, dir, kEtRevArp, 14, 24);
    case QProto::kArp: return hostop(addr, mask, dir, kEtArp, 14, 24);
    case QProto::kDecnet: return dnhostop(addr, dir);  // gen_host ignores the mask for DECnet
    case QProto::kLink: fail(std::string("link-layer modifier applied to ") + typestr);
    case QProto::kIpv6: fail("'ip6' modifier applied to ip host");  // libpcap: "host" for nets too
    default: legacy_host_check(proto); break;
  }
  fail(std::string("'") + proto_name(proto) + "' modifier applied to " + typestr);
}
Cond Gen::host6(const uint8_t* addr, const uint8_t* mask, QProto proto, QDir dir, QAddr type) {
  const char* typestr = type == QAddr::kNet ? "net" : "host";
  switch (proto) {
    case QProto::kDefault:
    case QProto::kIpv6: return hostop6(addr, mask, dir, 8, 24);
    case QProto::kLink: fail(std::string("link-layer modifier applied to ip6 ") + typestr);
    case QProto::kIp: fail(std::string("'ip' modifier applied to ip6 ") + typestr);
    case QProto::kAtalk: fail(std::string("AppleTalk modifier applied to ip6 ") + typestr);
    default: break;
  }
  fail(std::string("'") + proto_name(proto) + "' modifier applied to ip6 " + typestr);
}

// ---- protocol qualifier (`proto N`, `ip proto N`, `ether proto N`) ------------------------
Cond Gen::proto_q(uint32_t v, QProto proto, QDir dir) {
  if (dir != QDir::kDefault) fail("direction applied to 'proto'");
  switch (proto) {
    case QProto::kDefault:
    case QProto::kIp:
    case QProto::kIpv6:
      assert_maxval("protocol number", v, 0xff);  // libpcap 1.11
      return proto == QProto::kIp ? ip_proto(v) : proto == QProto::kIpv6 ? ip6_proto(v) : any_proto(v);
    case QProto::kLink: return link_proto(v);
    case QProto::kArp: fail("arp does not encapsulate another protocol");
    case QProto::kRarp: fail("rarp does not encapsulate another protocol");
    case QProto::kSctp: fail("'sctp proto' is bogus");
    case QProto::kTcp: fail("'tcp proto' is bogus");
    case QProto::kUdp: fail("'udp proto' is bogus");
    case QProto::kIcmp: fail("'icmp proto' is bogus");
    case QProto::kIgmp: fail("'igmp proto' is bogus");
    case QProto::kIgrp: fail("'igrp proto' is bogus");
    case QProto::kPim: fail("'pim proto' is bogus");
    case QProto::kVrrp: fail("'vrrp proto' is bogus");
    case QProto::kCarp: fail("'carp proto' is bogus");
    case QProto::kIcmpv6: fail("'icmp6 proto' is bogus");
    case QProto::kAh: fail("'ah proto' is bogus");
    case QProto::kEsp: fail("'esp proto' is bogus");
    default: break;
  }
  return legacy_proto_q(v, proto);
}

// `link proto V` (gen_proto with Q_LINK), with libpcap 1.11's checks: the protocol is 16 bits
// wide, and where gen_linktype reads a value up to 1500 as an 802.2 SAP (Ethernet, also inside
// `geneve`/`vxlan`, and LINUX_SLL: it is compared with the one-byte DSAP), at most 255 (libpcap
// 1.10 compiles `ether proto 1500` into a test that never matches).
Cond Gen::link_proto(uint32_t v) {
  assert_maxval("EtherType", v, 0xffff);
  const bool sap_link = is_geneve_ || dlt_ == kDltEn10mb || dlt_ == kDltLinuxSll;
  if (v <= kEtherMtu && sap_link && mpls_depth_ == 0) assert_maxval("LLC SAP", v, 0xff);
  return linktype(v);
}

// ---- protochain ---------------------------------------------------------------------------------
// libpcap walks the header chain with a backward jump (rejected by Linux) and no bound: the walk
// ends at a header it does not know, at "no next header" (59) or at a load past the captured
// bytes. We unroll the same walk a fixed number of times (kChainSteps headers), which is the
// libpcap verdict for every packet whose chain before the wanted protocol has at most that many
// headers; the walk itself is libpcap's: IPv6 hop-by-hop (0), destination (60), routing (43)
// and fragment (44) advance by (length + 1) * 8, AH (51) for IPv6 and IPv4.
// The bound: RFC 8200 4.1 allows each extension header once (destination options twice), at
// most 6 walked headers before ESP (50, which ends libpcap's walk too); real stacks stay far
// below 32, while crafted or fuzzed packets can chain any number of 8-byte headers (up to 8,187
// in 65,535 bytes), which no loop-free program can follow. Each step costs 27 instructions for
// IPv6 and 14 for IPv4, so with 32 steps `ip6 protochain N` is 877 instructions and
// `protochain N` (both walks) 1,322: a filter can hold three `protochain N` (3,976) or four
// `ip6 protochain N` within the kernel's BPF_MAXINSNS (4,096). A chain longer than 32 headers
// is not matched here where libpcap matches it (tests/expr ProtochainWalkBound checks both
// sides of the bound; README known gaps).
namespace {
constexpr int kChainSteps = 32;
}  // namespace

Cond Gen::protochain(uint32_t v, QProto proto) {
  if (reg_linkpl_ >= 0) fail("'protochain' not supported with variable length headers");
  f_.unoptimised_reference = true;
  if (proto == QProto::kDefault) {
    Cond b0 = protochain(v, QProto::kIp);
    return or_(b0, protochain(v, QProto::kIpv6));
  }
  if (proto != QProto::kIp && proto != QProto::kIpv6) fail("bad protocol applied for 'protochain'");
  assert_maxval("protocol number", v, 0xff);  // libpcap 1.11
  bool v6 = proto == QProto::kIpv6;
  Cond lt = linktype(v6 ? kEtIpv6 : kEtIp);
  if (lt.cval == 0) {
    // libpcap's optimiser cannot see through the walk's loop, so it does not find that this
    // never matches (and does not report "rejects all packets"): keep an opaque false test.
    Cond f = test({ins(c::kLd | c::kImm, 1)}, c::kJeq, 0);
    f_.blocks[static_cast<size_t>(f.entry)].opaque = true;
    return f;
  }
  uint32_t nl = off_linkpl_ + off_nl_;
  Cond r;
  auto blk = [&](std::vector<Insn> stmts, uint32_t k) {
    IrBlock b;
    b.stmts = std::move(stmts);
    b.jcode = static_cast<uint16_t>(c::kJmp | c::kJeq | c::kK);
    b.k = k;
    b.opaque = true;
    b.loc = SourceLoc{1, col_ ? col_ : 1, 1};
    f_.blocks.push_back(std::move(b));
    return static_cast<int>(f_.blocks.size() - 1);
  };
  auto set = [&](int b, int w, int t) { f_.blocks[static_cast<size_t>(b)].succ[w] = t; };
  // IPv6 extension header (hop-by-hop, destination, routing, fragment): next header, then
  // X += (length + 1) * 8.
  const std::vector<Insn> ext_step = {
      ins(c::kLd | c::kB | c::kInd, nl),       ins(c::kSt, 0),
      ins(c::kLd | c::kB | c::kInd, nl + 1),   ins(c::kAlu | c::kAdd | c::kK, 1),
      ins(c::kAlu | c::kMul | c::kK, 8),       ins(c::kAlu | c::kAdd | c::kX),
      ins(c::kMisc | c::kTax),                 ins(c::kLd | c::kMem, 0)};
  // AH: next header, then X = (payload length + 2) * 4 (libpcap 1.10 sets X, it does not add).
  const std::vector<Insn> ah_step = {
      ins(c::kMisc | c::kTxa),                 ins(c::kLd | c::kB | c::kInd, nl),
      ins(c::kSt, 0),                          ins(c::kMisc | c::kTxa),
      ins(c::kAlu | c::kAdd | c::kK, 1),       ins(c::kMisc | c::kTax),
      ins(c::kLd | c::kB | c::kInd, nl),       ins(c::kAlu | c::kAdd | c::kK, 2),
      ins(c::kAlu | c::kMul | c::kK, 4),       ins(c::kMisc | c::kTax),
      ins(c::kLd | c::kMem, 0)};
  // The checks after a "found?" test failed, for walk step `step`; returns their entry.
  // Each continuation runs its step and tests "found?" again; after kChainSteps continuations
  // the walk stops (no match).
  std::vector<int> pending_ext, pending_ah;
  int entry0 = blk(v6 ? std::vector<Insn>{ins(c::kLd | c::kB | c::kAbs, nl + 6),
                                          ins(c::kLdx | c::kW | c::kImm, 40)}
                      : std::vector<Insn>{ins(c::kLd | c::kB | c::kAbs, nl + 9),
                                          ins(c::kLdx | c::kB | c::kMsh, nl)},
                   v);
  r.entry = entry0;
  add_exit(r.t, entry0, 0);
  int found = entry0;  // the "found?" tests whose false edge leads to this step's checks
  std::vector<int> founds = {entry0};
  for (int step = 0; step < kChainSteps; ++step) {
    int b59 = blk({}, 59);
    for (int fb : founds) set(fb, 1, b59);
    add_exit(r.f, b59, 0);
    int last = b59;
    std::vector<int> ext_tests;
    if (v6) {
      for (uint32_t e : {0u, 60u, 43u, 44u}) {
        int be = blk({}, e);
        set(last, 1, be);
        ext_tests.push_back(be);
        last = be;
      }
    }
    int bah = blk({}, 51);
    set(last, 1, bah);
    add_exit(r.f, bah, 1);
    founds.clear();
    if (v6) {
      int cx = blk(ext_step, v);
      for (int be : ext_tests) set(be, 0, cx);
      add_exit(r.t, cx, 0);
      founds.push_back(cx);
    }
    int ca = blk(ah_step, v);
    set(bah, 0, ca);
    add_exit(r.t, ca, 0);
    founds.push_back(ca);
  }
  (void)found;
  for (int fb : founds) add_exit(r.f, fb, 1);  // walk bound reached
  return and_(lt, r);
}


}  // namespace bpf::compiler::detail
