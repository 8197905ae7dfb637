// Link layers and their stacks, after libpcap 1.10.3's gencode.c: the offsets of each supported
// link type (init_linktype), the link-layer protocol test (gen_linktype, gen_ether_linktype,
// gen_linux_sll_linktype, gen_snap, ethertype_to_ppptype, gen_mpls_linktype), Ethernet addresses
// (gen_ehostop, gen_prevlinkhdr_check) and the primitives that push a header in front of what
// follows (gen_vlan, gen_mpls, gen_pppoes, gen_geneve with gen_geneve_offsets) or test 802.2 LLC
// (gen_llc, gen_llc_i/s/u, gen_llc_s_subtype/u_subtype).
//  - link layers: EN10MB (type at 12, payload at 14), LINUX_SLL (14/16), LINUX_SLL2 (0/20),
//    RAW (version nibble), IPV4/IPV6 (constant), NULL (host-order AF), LOOP (network-order AF);
//    the serial, ATM and 802.x link types answer through the *_more hooks (expr_gen_serial.cpp,
//    expr_gen_atm.cpp, expr_gen_lan.cpp); after `lane`, Ethernet tests also check the LE header;
//  - `vlan` and `mpls` shift the offsets of everything after them, in source order (stateful, as
//    libpcap's off_linktype/off_linkpl/off_nl); `pppoes` makes the link layer PPP;
//  - `geneve` (gen_geneve) makes the link-type, link-header and payload offsets variable: kept in
//    M[] registers (libpcap's alloc_reg order), read back with `ldx M[r]; ld [x + k]`; libpcap
//    does not optimise such programs, so only verdict-keeping passes run (`protochain` after it
//    is an error, as in libpcap). Primitives reached when `geneve` was false (`geneve or ip`,
//    `not geneve and ip`) read M[] slots never written on that path: libpcap reads
//    uninitialised memory there (and Linux rejects its program); ours initialises those slots
//    at program start to the outer frame's offsets, so they look at the outer frame.
//    Its two steps that are not Geneve's own (encap_iphdrlen: X = IP header length;
//    push_encap_ether: the inner Ethernet frame's state) are shared with `vxlan`
//    (compiler/expr_gen_vxlan.cpp).
// Tested by tests/expr/expr_diff_test.cpp (every link type, the stacks and their errors).
#include <sys/socket.h>
#include <arpa/inet.h>

#include <string>
#include <utility>
#include <vector>

#include "compiler/expr_gen.hpp"

namespace bpf::compiler::detail {

// ---- link-layer offsets (init_linktype) -------------------------------------------------------
void Gen::init_link() {
  dlt_ = opts_.linktype;
  prev_dlt_ = dlt_;
  if (init_link_more()) return;
  switch (opts_.linktype) {
    case kDltEn10mb:
      ethertype_link_ = true;
      off_linktype_ = 12;
      off_linkpl_ = 14;
      off_nl_nosnap_ = 3;
      break;
    case kDltLinuxSll:
      ethertype_link_ = true;
      off_linktype_ = 14;
      off_linkpl_ = 16;
      break;
    case kDltLinuxSll2:
      ethertype_link_ = true;
      off_linktype_ = 0;
      off_linkpl_ = 20;
      break;
    case kDltNull:
    case kDltLoop:
      off_linktype_ = 0;
      off_linkpl_ = 4;
      break;
    case kDltIeee80211: case kDltPrism: case kDltRadiotap: case kDltAvs: case kDltPpi:
      init_wlan();
      break;
    default:  // RAW, IPV4, IPV6
      off_linkpl_ = 0;
      break;
  }
}

const char* Gen::link_name() const {
  if (const char* n = link_name_more()) return n;
  switch (dlt_) {
    case kDltPpp: return "PPP";
    case kDltEn10mb: return "Ethernet";
    case kDltLinuxSll: return "Linux cooked v1";
    case kDltLinuxSll2: return "Linux cooked v2";
    case kDltNull: return "BSD loopback";
    case kDltLoop: return "OpenBSD loopback";
    case kDltIpv4: return "IPv4";
    case kDltIpv6: return "IPv6";
    case kDltIeee80211: return "802.11";
    case kDltPrism: return "802.11 plus Prism header";
    case kDltRadiotap: return "802.11 plus radiotap header";
    case kDltAvs: return "802.11 plus AVS radio information header";
    case kDltPpi: return "Per-Packet Information";
    default: return "Raw IP";
  }
}

// ---- link-layer type tests (gen_linktype and friends) --------------------------------------
// libpcap's ethertype_to_ppptype: the PPP protocol number of an EtherType or LLC SAP (PPP,
// PPP_SERIAL, PPP_ETHER, and PPP inside PPPoE sessions); other values stay as they are.
uint32_t ethertype_to_ppptype(uint32_t proto) {
  switch (proto) {
    case kEtIp: return 0x21;
    case kEtIpv6: return 0x57;
    case 0x6003: return 0x27;  // DECnet
    case kEtAtalk: return 0x29;
    case 0x0600: return 0x25;  // XNS
    case kLlcSapIsons: return 0x23;
    case 0x42: return 0x31;    // 802.1D bridge PDU
    case kLlcSapIpx: return 0x2b;
    default: return proto;
  }
}

Cond Gen::linktype(uint32_t proto) {
  if (mpls_depth_ > 0) {
    // gen_mpls_linktype: bottom-of-stack bit of the last label, then the IP version nibble.
    if (proto == kEtIp || proto == kEtIpv6) {
      Cond b0 = mcmp(Rel::kLinkPl, static_cast<uint32_t>(-2), 1, 1, 1);
      Cond b1 = mcmp(Rel::kLinkPl, 0, 1, proto == kEtIp ? 0x40 : 0x60, 0xf0);
      return and_(b0, b1);
    }
    fail("unsupported protocol over mpls");
  }
  // gen_linktype: Geneve has an EtherType whether or not there is an inner Ethernet header.
  // (libpcap 1.10.3: no gen_prevlinkhdr_check then, straight to gen_ether_linktype.)
  if (is_geneve_) return ether_linktype(proto);
  if (auto more = linktype_more(proto)) return *more;
  switch (dlt_) {
    case kDltPpp:
      return cmp(Rel::kLinkType, 0, 2, ethertype_to_ppptype(proto));
    case kDltEn10mb:
      return prevlinkhdr_check(ether_linktype(proto));
    case kDltIeee80211: case kDltPrism: case kDltRadiotap: case kDltAvs: case kDltPpi:
      return wlan_linktype(proto);
    case kDltLinuxSll:
      return sll_linktype(proto);
    case kDltLinuxSll2:
      // libpcap 1.10.3 compares the protocol field directly for every value, LLC SAPs too.
      return cmp(Rel::kLinkType, 0, 2, proto);
    case kDltRaw:
    case kDltRawAlt:
      if (proto == kEtIp) return mcmp(Rel::kLinkHdr, 0, 1, 0x40, 0xf0);
      if (proto == kEtIpv6) return mcmp(Rel::kLinkHdr, 0, 1, 0x60, 0xf0);
      return uncond(false);
    case kDltIpv4:
      return uncond(proto == kEtIp);
    case kDltIpv6:
      return uncond(proto == kEtIpv6);
    case kDltNull:
    case kDltLoop: {
      uint32_t af;
      if (proto == kEtIp) af = AF_INET;
      else if (proto == kEtIpv6) af = AF_INET6;
      else return uncond(false);
      if (dlt_ == kDltNull) af = htonl(af);  // host byte order on the wire
      return cmp(Rel::kLinkHdr, 0, 4, af);
    }
  }
  fail("unsupported link type");
}
// gen_snap: an 802.2 LLC + SNAP header with this OUI and protocol type.
Cond Gen::snap(uint32_t orgcode, uint32_t ptype) {
  const uint8_t block[8] = {0xaa, 0xaa, 0x03, uint8_t(orgcode >> 16), uint8_t(orgcode >> 8),
                            uint8_t(orgcode), uint8_t(ptype >> 8), uint8_t(ptype)};
  return bcmp(Rel::kLlc, 0, block, 8);
}
Cond Gen::ether_linktype(uint32_t proto) {
  switch (proto) {
    case kLlcSapIsons:
    case kLlcSapIp:
    case kLlcSapNetbeui: {
      Cond b0 = not_(cmp(Rel::kLinkType, 0, 2, kEtherMtu, c::kJgt));
      return and_(b0, cmp(Rel::kLlc, 0, 2, (proto << 8) | proto));
    }
    case kLlcSapIpx: {
      Cond b0 = cmp(Rel::kLlc, 0, 1, kLlcSapIpx);
      Cond b1 = cmp(Rel::kLlc, 0, 2, 0xffff);
      b1 = or_(b0, b1);
      b0 = snap(0x000000, kEtIpx);
      b1 = or_(b0, b1);
      b0 = not_(cmp(Rel::kLinkType, 0, 2, kEtherMtu, c::kJgt));
      b1 = and_(b0, b1);
      b0 = cmp(Rel::kLinkType, 0, 2, kEtIpx);
      return or_(b0, b1);
    }
    case kEtAtalk:
    case kEtAarp: {
      Cond b0 = not_(cmp(Rel::kLinkType, 0, 2, kEtherMtu, c::kJgt));
      Cond b1 = proto == kEtAtalk ? snap(0x080007, kEtAtalk) : snap(0x000000, kEtAarp);
      b1 = and_(b0, b1);
      b0 = cmp(Rel::kLinkType, 0, 2, proto);
      return or_(b0, b1);
    }
    default:
      break;
  }
  if (proto <= kEtherMtu) {
    // An LLC SAP: 802.3 length field, then the DSAP.
    Cond b0 = not_(cmp(Rel::kLinkType, 0, 2, kEtherMtu, c::kJgt));
    Cond b1 = cmp(Rel::kLinkType, 2, 1, proto);
    return and_(b0, b1);
  }
  return cmp(Rel::kLinkType, 0, 2, proto);
}
Cond Gen::sll_linktype(uint32_t proto) {
  constexpr uint32_t kSll8022 = 4, kSll8023 = 1;
  switch (proto) {
    case kLlcSapIsons:
    case kLlcSapIp:
    case kLlcSapNetbeui: {
      Cond b0 = cmp(Rel::kLinkType, 0, 2, kSll8022);
      return and_(b0, cmp(Rel::kLlc, 0, 2, (proto << 8) | proto));
    }
    case kLlcSapIpx: {
      Cond b0 = cmp(Rel::kLlc, 0, 1, kLlcSapIpx);
      Cond b1 = snap(0x000000, kEtIpx);
      b1 = or_(b0, b1);
      b0 = cmp(Rel::kLinkType, 0, 2, kSll8022);
      b1 = and_(b0, b1);
      b0 = cmp(Rel::kLinkType, 0, 2, kSll8023);
      b1 = or_(b0, b1);
      b0 = cmp(Rel::kLinkType, 0, 2, kEtIpx);
      return or_(b0, b1);
    }
    case kEtAtalk:
    case kEtAarp: {
      Cond b0 = cmp(Rel::kLinkType, 0, 2, kSll8022);
      Cond b1 = proto == kEtAtalk ? snap(0x080007, kEtAtalk) : snap(0x000000, kEtAarp);
      b1 = and_(b0, b1);
      b0 = cmp(Rel::kLinkType, 0, 2, proto);
      return or_(b0, b1);
    }
    default:
      break;
  }
  if (proto <= kEtherMtu) {
    Cond b0 = cmp(Rel::kLinkType, 0, 2, kSll8022);
    Cond b1 = cmp(Rel::kLinkHdr, off_linkpl_, 1, proto);
    return and_(b0, b1);
  }
  return cmp(Rel::kLinkType, 0, 2, proto);
}

// ---- ethernet addresses ------------------------------------------------------------------------
// gen_prevlinkhdr_check after `geneve` (gen_geneve_ll_check): the inner frame is Ethernet,
// i.e. the link-layer header and payload offsets differ. Tested before `b`.
Cond Gen::prevlinkhdr_check(Cond b) {
  if (!is_geneve_) return prev_dlt_ == kDltSunatm ? lane_data_check(b) : b;
  std::vector<Insn> s{ins(c::kLd | c::kMem, static_cast<uint32_t>(reg_linkhdr_)),
                      ins(c::kLdx | c::kW | c::kMem, static_cast<uint32_t>(reg_linkpl_))};
  Cond t = not_(test(std::move(s), c::kJeq | c::kX, 0));
  return and_(t, b);
}
Cond Gen::ehostop(const uint8_t* ea, QDir dir) {
  if (wlan_ && dlt_ != kDltPpp) return wlanhostop(ea, dir);
  if ((dlt_ == kDltFddi || dlt_ == kDltIeee802) && ea) return lan_hostop(ea, dir);
  if (dlt_ != kDltEn10mb)
    fail("ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/"
         "Fibre Channel");
  switch (dir) {
    case QDir::kSrc: return bcmp(Rel::kLinkHdr, 6, ea, 6);
    case QDir::kDst: return bcmp(Rel::kLinkHdr, 0, ea, 6);
    case QDir::kAnd: {
      Cond b0 = ehostop(ea, QDir::kSrc);
      return and_(b0, ehostop(ea, QDir::kDst));
    }
    case QDir::kDefault:
    case QDir::kOr: {
      Cond b0 = ehostop(ea, QDir::kSrc);
      return or_(b0, ehostop(ea, QDir::kDst));
    }
    default: fail("'addr1', 'addr2', 'ra' and 'ta' are only supported on 802.11");
  }
}

// ---- stacked headers (gen_vlan, gen_mpls, gen_pppoes) ---------------------------------------
Cond Gen::gen_vlan(const Node& n) {
  // libpcap 1.10.3's gen_vlan takes the 802.11 types but PPI.
  if (dlt_ != kDltEn10mb && !(wlan_ && dlt_ != kDltPpp && dlt_ != kDltPpi))
    fail(std::string("no VLAN support for ") + link_name());
  if (mpls_depth_ > 0) fail("no VLAN match after MPLS");
  Cond b0 = linktype(kEt8021q);
  b0 = or_(b0, linktype(kEt8021ad));
  b0 = or_(b0, linktype(kEtQinq));
  if (n.has_num) {
    if (n.num > 0x0fff) fail("VLAN tag " + std::to_string(n.num) + " greater than maximum 4095");
    b0 = and_(b0, mcmp(Rel::kLinkPl, 0, 2, n.num, 0x0fff));
  }
  off_linkpl_ += 4;
  off_linktype_ += 4;
  ++vlan_depth_;
  return b0;
}

Cond Gen::gen_mpls(const Node& n) {
  Cond b0;
  if (mpls_depth_ > 0) {
    b0 = mcmp(Rel::kPrevMpls, 2, 1, 0, 0x01);
  } else {
    if (dlt_ == kDltPpp) {
      b0 = cmp(Rel::kLinkType, 0, 2, 0x0281);  // PPP_MPLS_UCAST
    } else {
      if (dlt_ != kDltEn10mb && dlt_ != kDltCHdlc)
        fail(std::string("no MPLS support for ") + link_name());
      b0 = linktype(kEtMpls);
    }
  }
  if (n.has_num) {
    if (n.num > 0xfffff)
      fail("MPLS label " + std::to_string(n.num) + " greater than maximum 1048575");
    b0 = and_(b0, mcmp(Rel::kLinkPl, 0, 4, n.num << 12, 0xfffff000u));
  }
  off_nl_ += 4;
  off_nl_nosnap_ += 4;
  ++mpls_depth_;
  return b0;
}

Cond Gen::gen_pppoes(const Node& n) {
  Cond b0 = linktype(kEtPppoes);
  if (n.has_num) {
    if (n.num > 0xffff)
      fail("PPPoE session number " + std::to_string(n.num) + " greater than maximum 65535");
    b0 = and_(b0, mcmp(Rel::kLinkPl, 0, 4, n.num, 0x0000ffffu));
  }
  // gen_pppoes: the link layer becomes PPP, starting at the PPP protocol field after the
  // 6-byte PPPoE header; the network layer follows it.
  off_linkhdr_ = off_linkpl_ + off_nl_ + 6;
  reg_linkhdr_ = reg_linkpl_;  // PUSH_LINKHDR keeps the payload's variable part
  reg_linktype_ = reg_linkhdr_;
  is_geneve_ = false;
  off_linktype_ = off_linkhdr_;
  off_linkpl_ = off_linkhdr_ + 2;
  off_nl_ = 0;
  off_nl_nosnap_ = 0;
  dlt_ = kDltPpp;
  return b0;
}

// ---- 802.2 LLC (gen_llc) --------------------------------------------------------------------
Cond Gen::gen_llc(const Node& n) {
  const bool wlan = wlan_ && dlt_ != kDltPpp;  // gen_llc on 802.11: a data frame
  Cond llc;
  if (wlan) {
    llc = wlan_data_frame();
  } else if (dlt_ != kDltEn10mb) {
    llc = llc_base();  // SUNATM, FDDI, token ring, or its error
  } else {
    // gen_llc: an 802.3 frame (length field) that is not Novell raw 802.3 (0xffff)
    Cond b0 = not_(cmp(Rel::kLinkType, 0, 2, kEtherMtu, c::kJgt));
    llc = and_(b0, not_(cmp(Rel::kLlc, 0, 2, 0xffff)));
  }
  if (n.str.empty()) return llc;
  std::string t;
  for (char ch : n.str) t += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
  if (t == "i") return and_(llc, not_(test(load(Rel::kLlc, 2, 1), c::kJset, 0x01)));
  if (t == "s") return and_(llc, mcmp(Rel::kLlc, 2, 1, 0x01, 0x03));
  if (t == "u") return and_(llc, mcmp(Rel::kLlc, 2, 1, 0x03, 0x03));
  static const struct { const char* n; uint32_t v; bool s; } kSub[] = {
      {"rr", 0x01, true},    {"rnr", 0x05, true},   {"rej", 0x09, true},
      {"ui", 0x03, false},   {"ua", 0x63, false},   {"disc", 0x43, false},
      {"dm", 0x0f, false},   {"sabme", 0x6f, false}, {"test", 0xe3, false},
      {"xid", 0xaf, false},  {"frmr", 0x87, false}};
  for (const auto& e : kSub)
    if (t == e.n) return and_(llc, mcmp(Rel::kLlc, 2, 1, e.v, e.s ? 0x0f : 0xef));
  fail("unknown LLC type name \"" + n.str + "\"");
}

// ---- geneve: variable offsets kept in M[] (alloc_reg, gen_geneve) ----------------------------
uint32_t Gen::alloc_reg() {
  if (next_reg_ >= 16) fail("too many registers needed to evaluate expression");
  return next_reg_++;
}

// gen_geneve (libpcap 1.10.3 gencode.c): UDP to port 6081 over IPv4 or IPv6, version 0, the VNI
// when given; then gen_geneve_offsets computes at run time the offsets of the inner frame and
// keeps them in M[]: the link type (the Geneve protocol field, or the inner EtherType when it is
// 0x6558 Transparent Ethernet Bridging), the link-layer header (end of the Geneve header, options
// included) and the link-layer payload. libpcap sets no_optimize for it (a bare jump inside a
// statement list), so only verdict-keeping passes run.
Cond Gen::geneve(bool has_vni, uint32_t vni) {
  f_.unoptimised_reference = true;
  if (has_vni && vni > 0xffffff)
    fail("Geneve VNI " + std::to_string(vni) + " greater than maximum 16777215");
  auto check = [&](bool v6) {
    Cond b0 = port_family(v6, kIpProtoUdp, QDir::kDst, false, 6081, 6081);
    Rel rel = v6 ? Rel::kTranIpv6 : Rel::kTranIpv4;
    b0 = and_(b0, mcmp(rel, 8, 1, 0, 0xc0));
    if (has_vni) b0 = and_(b0, mcmp(rel, 12, 4, vni << 8, 0xffffff00));
    return b0;
  };
  auto opaque = [&](Cond cd) {
    f_.blocks[static_cast<size_t>(cd.entry)].opaque = true;
    return cd;
  };
  Cond b4 = encap_iphdrlen(check(false), false);  // gen_geneve4
  Cond b6 = encap_iphdrlen(check(true), true);    // gen_geneve6
  Cond b0 = or_(b4, b6);
  // gen_geneve_offsets.
  uint32_t r_type = alloc_reg();
  uint32_t r_hdr = alloc_reg();
  std::vector<Insn> s{ins(c::kAlu | c::kAdd | c::kK, off_linkpl_ + off_nl_ + 8),
                      ins(c::kMisc | c::kTax),
                      ins(c::kAlu | c::kAdd | c::kK, 2),
                      ins(c::kSt, r_type),
                      ins(c::kLd | c::kB | c::kInd, 0),
                      ins(c::kAlu | c::kAnd | c::kK, 0x3f),
                      ins(c::kAlu | c::kMul | c::kK, 4),
                      ins(c::kAlu | c::kAdd | c::kK, 8),
                      ins(c::kAlu | c::kAdd | c::kX),
                      ins(c::kSt, r_hdr),
                      ins(c::kLd | c::kH | c::kInd, 2),
                      ins(c::kLdx | c::kW | c::kMem, r_hdr)};
  Cond teb = opaque(test(std::move(s), c::kJeq | c::kK, 0x6558));
  Cond eth = opaque(test({ins(c::kMisc | c::kTxa), ins(c::kAlu | c::kAdd | c::kK, 12),
                          ins(c::kSt, r_type), ins(c::kAlu | c::kAdd | c::kK, 2),
                          ins(c::kMisc | c::kTax)},
                         c::kJeq | c::kX, 0));
  uint32_t r_pl = alloc_reg();
  Cond fin = opaque(test({ins(c::kStx, r_pl), ins(c::kLd | c::kImm, 0)}, c::kJeq | c::kK, 0));
  // teb true -> eth -> fin; teb false -> fin. Both exits of `eth` go to `fin`.
  patch(teb.t, eth.entry);
  patch(eth.t, fin.entry);
  patch(eth.f, fin.entry);
  patch(teb.f, fin.entry);
  Cond off;
  off.entry = teb.entry;
  off.t = fin.t;
  off.f = fin.f;
  Cond r = and_(b0, off);
  // On a path where this `geneve` failed, primitives after it (`geneve or ip`, `not geneve and
  // ip`) read slots it never wrote. libpcap 1.10.3's bpf_filter then reads uninitialised stack
  // memory (no defined verdict) and Linux refuses the program; libpcap 1.10.7 and Linux start
  // scratch memory at zero. Ours is that reference: such slots are set to 0 at program start
  // (emit_program, only when some path needs it), so the program runs as libpcap's does with
  // zeroed scratch memory, and the kernel accepts it. (Offsets 0 then make those primitives
  // read the start of the frame, as libpcap's program does.)
  // libpcap 1.10.3 leaves off_nl_nosnap as the outer link type set it (3 after Ethernet, 0
  // after RAW or the cooked types, + 4 per MPLS label): `geneve and clnp` reads the inner NLPID
  // there, as libpcap's program does (found by tests/analysis/optimiser_equiv_test's proof).
  push_encap_ether(r_hdr, r_type, r_pl, off_nl_nosnap_);
  return r;
}

// gen_geneve4 / gen_geneve6 (and libpcap 1.11's gen_vxlan4/6): after `b`, A and X = the IP
// header length plus the variable part of the payload offset (IPv4: 4 * IHL; IPv6: 40).
Cond Gen::encap_iphdrlen(Cond b, bool v6) {
  std::vector<Insn> s;
  if (!v6) {
    s = load(Rel::kTranIpv4, 0, 1);
    s.pop_back();
    s.push_back(ins(c::kMisc | c::kTxa));
  } else {
    if (reg_linkpl_ >= 0) {
      s.push_back(ins(c::kLdx | c::kW | c::kMem, static_cast<uint32_t>(reg_linkpl_)));
      s.push_back(ins(c::kLd | c::kImm, 40));
      s.push_back(ins(c::kAlu | c::kAdd | c::kX));
    } else {
      s.push_back(ins(c::kLd | c::kImm, 40));
    }
    s.push_back(ins(c::kMisc | c::kTax));
  }
  Cond t = test(std::move(s), c::kJeq | c::kX, 0);
  f_.blocks[static_cast<size_t>(t.entry)].opaque = true;
  return and_(b, t);
}

// The state after an encapsulated Ethernet frame whose header, EtherType and payload offsets
// are in M[r_hdr], M[r_type], M[r_pl] (written only where the encapsulation matched).
void Gen::push_encap_ether(uint32_t r_hdr, uint32_t r_type, uint32_t r_pl, uint32_t nl_nosnap) {
  f_.mem_init[r_type] = 0;
  f_.mem_init[r_hdr] = 0;
  f_.mem_init[r_pl] = 0;
  // PUSH_LINKHDR(DLT_EN10MB, variable, 0, reg); the payload and link type become variable too.
  dlt_ = kDltEn10mb;
  ethertype_link_ = true;
  reg_linkhdr_ = static_cast<int>(r_hdr);
  off_linkhdr_ = 0;
  reg_linktype_ = static_cast<int>(r_type);
  off_linktype_ = 0;
  reg_linkpl_ = static_cast<int>(r_pl);
  off_linkpl_ = 0;
  off_nl_ = 0;
  off_nl_nosnap_ = nl_nosnap;
  is_geneve_ = true;
}


}  // namespace bpf::compiler::detail
