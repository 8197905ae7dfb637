// SunATM and the ATM primitives, after libpcap 1.10.3's gencode.c (gen_atmfield_code,
// gen_atmtype_abbrev, gen_atmmulti_abbrev, gen_msg_abbrev) and grammar.y's atmvalue.
//  - the SUNATM pseudo-header: flags with the traffic type in the low nibble at 0 (1 LANE,
//    2 LLC), VPI at 1, VCI (16 bits) at 2, then the AAL5 PDU at 4; all read relative to the
//    link-layer header, as libpcap does (so after `lane` they move with it);
//  - `vpi N`, `vci N` and their relations; libpcap's gen_ncmp negates only `>`/`>=`, so
//    `vpi != N` is `vpi = N` (grammar.y passes NEQ as a reversed JEQ, which gen_ncmp keeps):
//    libpcap's verdict, kept; `vpi (1 or 2)` is an `or` of the values;
//  - `metac` (0/1), `bcc` (0/2), `oamf4sc` (0/3), `oamf4ec` (0/4), `sc` (0/5), `ilmic` (0/16),
//    `oam` and `oamf4` (VPI 0, VCI 3 or 4), `connectmsg` and `metaconnect` (Q.2931 message type
//    at payload + 5 on the signalling / meta-signalling circuit);
//  - `lane`: LANE traffic type, then everything after it sees LANE-encapsulated Ethernet (header
//    at 6 past the 2-byte LE header: PUSH_LINKHDR); Ethernet tests after it also check that the
//    frame is not an LE control frame (gen_prevlinkhdr_check: 16 bits at 4 != 0xff00);
//  - these keywords anywhere else: "'vpi' supported only on raw ATM" (libpcap's messages).
// Tested by tests/expr/linktypes_test.cpp against pcap_compile + bpf_filter.
#include <string>

#include "compiler/expr_gen.hpp"

namespace bpf::compiler::detail {

namespace {

enum AtmField : int { kAtmVpi = 0, kAtmVci = 1, kAtmProtoType = 2, kAtmMsgType = 3 };
constexpr uint32_t kPtLane = 1;
constexpr uint32_t kSunatmPktBegin = 4, kMsgTypePos = 5;
// Q.2931 message types (atmuni31.h).
constexpr uint32_t kCallProceed = 0x02, kConnect = 0x07, kConnectAck = 0x0f, kSetup = 0x05,
                   kRelease = 0x4d, kReleaseDone = 0x5a;

}  // namespace

// gen_atmfield_code_internal / gen_ncmp.
Cond Gen::atm_field(int field, uint32_t v, uint16_t jop, bool reverse) {
  Cond b;
  switch (field) {
    case kAtmVpi:
      if (!is_atm_) fail("'vpi' supported only on raw ATM");
      b = cmp(Rel::kLinkHdr, 1, 1, v, jop);
      break;
    case kAtmVci:
      if (!is_atm_) fail("'vci' supported only on raw ATM");
      b = cmp(Rel::kLinkHdr, 2, 2, v, jop);
      break;
    case kAtmProtoType:
      b = mcmp(Rel::kLinkHdr, 0, 1, v, 0x0f);
      break;
    default:  // kAtmMsgType
      b = cmp(Rel::kLinkHdr, kSunatmPktBegin + kMsgTypePos, 1, v);
      break;
  }
  if (reverse && (jop == c::kJgt || jop == c::kJge)) b = not_(b);
  return b;
}

Cond Gen::lane_data_check(Cond b) {
  Cond t = not_(test({ins(c::kLd | c::kH | c::kAbs, prev_off_linkhdr_ + kSunatmPktBegin)},
                     c::kJeq, 0xff00));
  return and_(t, b);
}

Cond Gen::gen_atm(const Node& n) {
  const std::string& w = n.str;
  auto vc = [&](uint32_t vpi, uint32_t vci) {
    Cond b0 = atm_field(kAtmVpi, vpi, c::kJeq, false);
    return and_(b0, atm_field(kAtmVci, vci, c::kJeq, false));
  };
  auto need_atm = [&](const char* name) {
    if (!is_atm_) fail(std::string("'") + name + "' supported only on raw ATM");
  };
  auto msg = [&](uint32_t t) { return atm_field(kAtmMsgType, t, c::kJeq, false); };
  if (w == "vpi" || w == "vci") {
    const uint16_t jop = n.op == '>' ? c::kJgt : n.op == 'G' ? c::kJge : c::kJeq;
    return atm_field(w == "vpi" ? kAtmVpi : kAtmVci, n.num, jop, n.negate);
  }
  if (w == "metac") { need_atm("metac"); return vc(0, 1); }
  if (w == "bcc") { need_atm("bcc"); return vc(0, 2); }
  if (w == "oamf4sc") { need_atm("oam4sc"); return vc(0, 3); }
  if (w == "oamf4ec") { need_atm("oam4ec"); return vc(0, 4); }
  if (w == "sc") { need_atm("sc"); return vc(0, 5); }
  if (w == "ilmic") { need_atm("ilmic"); return vc(0, 16); }
  if (w == "oam" || w == "oamf4") {
    need_atm(w.c_str());
    Cond b0 = atm_field(kAtmVci, 3, c::kJeq, false);
    Cond b1 = or_(b0, atm_field(kAtmVci, 4, c::kJeq, false));
    b0 = atm_field(kAtmVpi, 0, c::kJeq, false);
    return and_(b0, b1);
  }
  if (w == "connectmsg" || w == "metaconnect") {
    const bool meta = w == "metaconnect";
    need_atm(w.c_str());
    Cond b0 = msg(kSetup);
    Cond b1 = or_(b0, msg(kCallProceed));
    b1 = or_(msg(kConnect), b1);
    if (!meta) b1 = or_(msg(kConnectAck), b1);
    b1 = or_(msg(kRelease), b1);
    b1 = or_(msg(kReleaseDone), b1);
    b0 = meta ? vc(0, 1) : vc(0, 5);
    return and_(b0, b1);
  }
  if (w == "lane") {
    need_atm("lane");
    Cond b = atm_field(kAtmProtoType, kPtLane, c::kJeq, false);
    // PUSH_LINKHDR(DLT_EN10MB, constant, payload + 2): LANE-encapsulated Ethernet.
    prev_dlt_ = dlt_;
    prev_off_linkhdr_ = off_linkhdr_;
    dlt_ = kDltEn10mb;
    ethertype_link_ = true;
    off_linkhdr_ = kSunatmPktBegin + 2;
    reg_linkhdr_ = -1;
    is_geneve_ = false;
    off_linktype_ = off_linkhdr_ + 12;
    off_linkpl_ = off_linkhdr_ + 14;
    off_nl_ = 0;
    off_nl_nosnap_ = 3;
    return b;
  }
  fail("'" + w + "' is not supported on " + std::string(link_name()));
}

}  // namespace bpf::compiler::detail
