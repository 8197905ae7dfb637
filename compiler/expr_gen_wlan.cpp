// The 802.11 link layers, after libpcap 1.10.3's gencode.c and grammar.y: IEEE802_11 (105),
// PRISM_HEADER (119), IEEE802_11_RADIO (127, radiotap), IEEE802_11_RADIO_AVS (163) and PPI (192).
//  - offsets (init_linktype): the 802.11 header starts after a radio header whose length is read
//    from the packet (radiotap and PPI: little-endian u16 at offset 2; AVS: big-endian u32 at 4;
//    Prism: 144, or the AVS length when the Prism "header" is really AVS); the LLC header follows
//    an 802.11 header of 24 bytes, plus 2 for QoS data frames, rounded up to 4 when radiotap says
//    the driver padded it (gen_load_802_11_header_len). Both are run-time values kept in M[]
//    (the slots are taken at init, so relation temporaries never reuse them); the code computing
//    them is put in front of the program, as libpcap's insert_compute_vloffsets does, only for
//    the offsets some test reads. Its loads fail on short packets, which then are rejected
//    whatever the expression: that is libpcap's verdict too. libpcap does not optimise a program
//    with the 802.11 header length (or a Prism prefix) in it (no_optimize): neither do we.
//  - PPI: every program checks that the PPI header's DLT is 802.11 (gen_ppi_dlt_check in
//    finish_parse), after the offset code rather than before it (same verdicts; see
//    wlan_finish);
//  - register numbers: libpcap's reuse of a relation's temporary as a later offset register
//    is replayed (lib_alloc), long `or` runs of 802.11 addresses are not searched (each is
//    gen_wlanhostop's test);
//  - protocols over 802.11 (gen_linktype, gen_check_802_11_data_frame, gen_llc_linktype): a
//    data frame, then the LLC header (SNAP type at LLC+6 for EtherTypes);
//  - addresses (gen_wlanhostop): `wlan src|dst|host|addr1..4|ra|ta` and `ether host`, which
//    look at different address fields depending on the frame type and the DS bits; `ether
//    broadcast` / `multicast` (gen_broadcast, gen_multicast) the same way;
//  - `type`/`subtype`/`dir` (gen_p80211_type, gen_p80211_fcdir) with grammar.y's name tables and
//    its errors (which come first, on any link type).
// Tested by tests/expr/wlan_test.cpp against pcap_compile + bpf_filter.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "compiler/expr_gen.hpp"

namespace bpf::compiler::detail {

namespace {

constexpr uint32_t kFcTypeMask = 0x0c, kFcSubtypeMask = 0xf0, kFcTypeCtl = 0x04;
constexpr uint32_t kFcSubtypeCts = 0xc0, kFcSubtypeAck = 0xd0;

struct Tok {
  const char* s;
  uint32_t v;
};
// grammar.y's ieee80211_types and ieee80211_{mgt,ctl,data}_subtypes (case-insensitive).
constexpr Tok kTypes[] = {{"data", 0x08}, {"mgt", 0x00},     {"management", 0x00},
                          {"ctl", 0x04},  {"control", 0x04}, {nullptr, 0}};
constexpr Tok kMgtSubtypes[] = {
    {"assocreq", 0x00},    {"assoc-req", 0x00},    {"assocresp", 0x10},
    {"assoc-resp", 0x10},  {"reassocreq", 0x20},   {"reassoc-req", 0x20},
    {"reassocresp", 0x30}, {"reassoc-resp", 0x30}, {"probereq", 0x40},
    {"probe-req", 0x40},   {"proberesp", 0x50},    {"probe-resp", 0x50},
    {"beacon", 0x80},      {"atim", 0x90},         {"disassoc", 0xa0},
    {"disassociation", 0xa0}, {"auth", 0xb0},      {"authentication", 0xb0},
    {"deauth", 0xc0},      {"deauthentication", 0xc0}, {nullptr, 0}};
constexpr Tok kCtlSubtypes[] = {{"ps-poll", 0xa0}, {"rts", 0xb0},    {"cts", 0xc0},
                                {"ack", 0xd0},     {"cf-end", 0xe0}, {"cf-end-ack", 0xf0},
                                {nullptr, 0}};
constexpr Tok kDataSubtypes[] = {
    {"data", 0x00},          {"data-cf-ack", 0x10},      {"data-cf-poll", 0x20},
    {"data-cf-ack-poll", 0x30}, {"null", 0x40},          {"cf-ack", 0x50},
    {"cf-poll", 0x60},       {"cf-ack-poll", 0x70},      {"qos-data", 0x80},
    {"qos-data-cf-ack", 0x90}, {"qos-data-cf-poll", 0xa0}, {"qos-data-cf-ack-poll", 0xb0},
    {"qos", 0xc0},           {"qos-cf-poll", 0xe0},      {"qos-cf-ack-poll", 0xf0},
    {nullptr, 0}};
// ieee80211_type_subtypes, in its order.
constexpr struct {
  uint32_t type;
  const Tok* toks;
} kTypeSubtypes[] = {{0x00, kMgtSubtypes}, {0x04, kCtlSubtypes}, {0x08, kDataSubtypes}};

bool same_nocase(const char* a, const std::string& b) {
  size_t i = 0;
  for (; a[i] && i < b.size(); ++i) {
    char x = a[i], y = b[i];
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return a[i] == 0 && i == b.size();
}
int str2tok(const std::string& s, const Tok* toks) {
  for (; toks->s; ++toks)
    if (same_nocase(toks->s, s)) return static_cast<int>(toks->v);
  return -1;
}
std::string hex02(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%02x", v);
  return buf;
}

}  // namespace

bool is_wlan_linktype(int lt) {
  return lt == kDltIeee80211 || lt == kDltPrism || lt == kDltRadiotap || lt == kDltAvs ||
         lt == kDltPpi;
}

// init_linktype's 802.11 cases: LLC at the (variable) payload offset, the network layer after
// LLC+SNAP (8) or bare LLC (3); the header itself after a variable radio header, if any.
void Gen::init_wlan() {
  wlan_ = true;
  off_linkhdr_ = 0;
  off_linktype_ = 24;
  off_linkpl_ = 0;
  off_nl_ = 8;
  off_nl_nosnap_ = 3;
  if (opts_.linktype != kDltIeee80211) reg_linkhdr_ = static_cast<int>(alloc_reg());
  // gen_load_prism_llprefixlen sets no_optimize before it looks whether the offset is needed:
  // libpcap optimises no Prism program.
  if (opts_.linktype == kDltPrism) f_.unoptimised_reference = true;
  reg_linkpl_ = static_cast<int>(alloc_reg());
}

// ---- frame tests ------------------------------------------------------------------------------
Cond Gen::wlan_fc_bit(uint32_t byte, uint32_t bit) {
  return test(load(Rel::kLinkHdr, byte, 1), c::kJset, bit);
}
// gen_check_802_11_data_frame: type bit 0x08 set, 0x04 clear (tested first).
Cond Gen::wlan_data_frame() {
  Cond b0 = wlan_fc_bit(0, 0x08);
  Cond b1 = not_(wlan_fc_bit(0, 0x04));
  return and_(b1, b0);
}
// gen_linktype for 802.11: a data frame, then gen_llc_linktype.
Cond Gen::wlan_linktype(uint32_t proto) {
  Cond b0 = wlan_data_frame();
  Cond b1;
  switch (proto) {
    case kLlcSapIp:
    case kLlcSapIsons:
    case kLlcSapNetbeui:
      b1 = cmp(Rel::kLlc, 0, 2, (proto << 8) | proto);
      break;
    case kLlcSapIpx:
      b1 = cmp(Rel::kLlc, 0, 1, kLlcSapIpx);
      break;
    case kEtAtalk:
      b1 = snap(0x080007, kEtAtalk);
      break;
    default:
      b1 = proto <= kEtherMtu ? cmp(Rel::kLlc, 0, 1, proto) : cmp(Rel::kLlc, 6, 2, proto);
      break;
  }
  return and_(b0, b1);
}

// The destination-address shape of gen_wlanhostop(Q_DST) and gen_multicast: `leaf(off)` on the
// DA, at 16 for data frames to the DS, 4 otherwise; none in control frames.
Cond Gen::wlan_da(const std::function<Cond(uint32_t)>& leaf) {
  Cond b1 = wlan_fc_bit(1, 0x01);
  Cond b0 = and_(b1, leaf(16));
  Cond b2 = not_(wlan_fc_bit(1, 0x01));
  b1 = and_(b2, leaf(4));
  b0 = or_(b1, b0);
  b1 = wlan_fc_bit(0, 0x08);
  b0 = and_(b1, b0);
  b2 = not_(wlan_fc_bit(0, 0x08));
  b1 = and_(b2, leaf(4));
  b0 = or_(b1, b0);
  b1 = not_(wlan_fc_bit(0, 0x04));
  return and_(b1, b0);
}

// gen_wlanhostop: which address field holds SA, DA, RA, TA depends on the frame.
Cond Gen::wlanhostop(const uint8_t* ea, QDir dir) {
  auto addr = [&](uint32_t off) { return bcmp(Rel::kLinkHdr, off, ea, 6); };
  switch (dir) {
    case QDir::kSrc: {
      // SA: 24 (to and from DS), 16 (from DS), 10 (data not from DS, management).
      Cond b1 = wlan_fc_bit(1, 0x01);
      Cond b0 = and_(b1, addr(24));
      Cond b2 = not_(wlan_fc_bit(1, 0x01));
      b1 = and_(b2, addr(16));
      b0 = or_(b1, b0);
      b1 = wlan_fc_bit(1, 0x02);
      b0 = and_(b1, b0);
      b2 = not_(wlan_fc_bit(1, 0x02));
      b1 = and_(b2, addr(10));
      b0 = or_(b1, b0);
      b1 = wlan_fc_bit(0, 0x08);
      b0 = and_(b1, b0);
      b2 = not_(wlan_fc_bit(0, 0x08));
      b1 = and_(b2, addr(10));
      b0 = or_(b1, b0);
      b1 = not_(wlan_fc_bit(0, 0x04));
      return and_(b1, b0);
    }
    case QDir::kDst:
      return wlan_da(addr);
    case QDir::kAnd: {
      Cond b0 = wlanhostop(ea, QDir::kSrc);
      return and_(b0, wlanhostop(ea, QDir::kDst));
    }
    case QDir::kDefault:
    case QDir::kOr: {
      Cond b0 = wlanhostop(ea, QDir::kSrc);
      return or_(b0, wlanhostop(ea, QDir::kDst));
    }
    case QDir::kAddr1:
      return addr(4);
    case QDir::kAddr2: {
      // Not in CTS or ACK control frames.
      Cond b0 = not_(mcmp(Rel::kLinkHdr, 0, 1, kFcTypeCtl, kFcTypeMask));
      Cond b1 = not_(mcmp(Rel::kLinkHdr, 0, 1, kFcSubtypeCts, kFcSubtypeMask));
      Cond b2 = not_(mcmp(Rel::kLinkHdr, 0, 1, kFcSubtypeAck, kFcSubtypeMask));
      b2 = and_(b1, b2);
      b2 = or_(b0, b2);
      return and_(b2, addr(10));
    }
    case QDir::kAddr3: {
      Cond b0 = not_(mcmp(Rel::kLinkHdr, 0, 1, kFcTypeCtl, kFcTypeMask));
      return and_(b0, addr(16));
    }
    case QDir::kAddr4: {
      Cond b0 = mcmp(Rel::kLinkHdr, 1, 1, 0x03, 0x03);  // to and from the DS
      return and_(b0, addr(24));
    }
    case QDir::kRa: {
      Cond b1 = wlan_fc_bit(0, 0x08);
      return and_(b1, addr(4));
    }
    case QDir::kTa: {
      Cond b1 = wlan_fc_bit(0, 0x08);
      return and_(b1, wlanhostop(ea, QDir::kAddr2));
    }
    case QDir::kUndef: break;
  }
  fail("syntax error in filter expression");
}

Cond Gen::wlan_broadcast() {
  static const uint8_t kBcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  return wlanhostop(kBcast, QDir::kDst);
}
Cond Gen::wlan_multicast() {
  return wlan_da([&](uint32_t off) { return wlan_fc_bit(off, 0x01); });
}

// ---- type / subtype / dir (grammar.y's p80211 rules, gen_p80211_type, gen_p80211_fcdir) -------
Cond Gen::gen_p80211(const Node& n) {
  const Node& v = ast_.at(n.a);
  auto at = [&](const Node& x) { col_ = x.column; };
  uint32_t value = 0, mask = 0;
  if (n.str == "dir") {
    if (v.id_kind == IdKind::kNum) {
      value = v.num;
    } else {
      const Tok kDirs[] = {{"nods", 0}, {"tods", 1}, {"fromds", 2}, {"dstods", 3}, {nullptr, 0}};
      const int d = str2tok(v.str, kDirs);
      at(v);
      if (d < 0) fail("unknown 802.11 direction");
      value = static_cast<uint32_t>(d);
    }
    col_ = n.column;
    if (!wlan_ || dlt_ == kDltPpi) fail("frame direction supported only with 802.11 headers");
    return mcmp(Rel::kLinkHdr, 1, 1, value, 0x03);
  }
  if (n.str == "subtype") {  // SUBTYPE type_subtype: a name of any type's table
    at(v);
    if (v.id_kind == IdKind::kNum) fail("syntax error in filter expression");
    int s = -1;
    for (const auto& ts : kTypeSubtypes)
      if ((s = str2tok(v.str, ts.toks)) >= 0) {
        s |= static_cast<int>(ts.type);
        break;
      }
    if (s < 0) fail("unknown 802.11 type name");
    value = static_cast<uint32_t>(s);
    mask = kFcTypeMask | kFcSubtypeMask;
  } else {  // TYPE type [SUBTYPE subtype]
    at(v);
    if (v.id_kind == IdKind::kNum) {
      if (v.num & ~kFcTypeMask) fail("invalid 802.11 type value " + hex02(v.num));
      value = v.num;
    } else {
      const int t = str2tok(v.str, kTypes);
      if (t < 0) fail("unknown 802.11 type name \"" + v.str + "\"");
      value = static_cast<uint32_t>(t);
    }
    mask = kFcTypeMask;
    if (n.b >= 0) {
      const Node& sv = ast_.at(n.b);
      at(sv);
      if (sv.id_kind == IdKind::kNum) {
        if (sv.num & ~kFcSubtypeMask) fail("invalid 802.11 subtype value " + hex02(sv.num));
        value |= sv.num;
      } else {
        const Tok* toks = nullptr;
        for (const auto& ts : kTypeSubtypes)
          if (ts.type == value) toks = ts.toks;
        if (!toks) fail("unknown 802.11 type");
        const int s = str2tok(sv.str, toks);
        if (s < 0) fail("unknown 802.11 subtype name \"" + sv.str + "\"");
        value |= static_cast<uint32_t>(s);
      }
      mask |= kFcSubtypeMask;
    }
  }
  col_ = n.column;
  if (!wlan_ || dlt_ == kDltPpi) fail("802.11 link-layer types supported only on 802.11");
  return mcmp(Rel::kLinkHdr, 0, 1, value, mask);
}

// ---- libpcap's registers (alloc_reg, free_reg) -------------------------------------------------
// libpcap takes the registers of the variable offsets when a test first needs them, from the
// same pool as the temporaries of arithmetic, which a relation frees when it is done. alloc_reg
// returns the first free register from `curreg` on, and `curreg` stays on the register it
// returned: a link-offset register taken after a relation is the relation's last temporary,
// which the relation's code overwrites when it runs after the offset was computed (libpcap
// 1.10.3: `radio[1] = 0 and ip` on radiotap reads the 802.11 header at offset 0, the value the
// relation stored). We replay the allocation and give our relation's block the same store into
// our offset register, so that every path sees the offsets libpcap's program sees.
int Gen::lib_alloc(int our_reg) {
  for (int n = 0; n < 16; ++n) {
    if (lib_.used[lib_.curreg]) {
      lib_.curreg = (lib_.curreg + 1) % 16;
      continue;
    }
    const int r = lib_.curreg;
    lib_.used[r] = true;
    if (r == lib_.pending_reg) {
      if (our_reg >= 0 && lib_.pending_block >= 0) {
        std::vector<Insn> s = lib_.pending_value;
        s.push_back(ins(c::kSt, static_cast<uint32_t>(our_reg)));
        auto& st = f_.blocks[static_cast<size_t>(lib_.pending_block)].stmts;
        st.insert(st.begin(), s.begin(), s.end());
      }
      lib_.pending_reg = -1;
    }
    return r;
  }
  return -1;  // libpcap fails here; our own allocation reports it
}
void Gen::lib_use(int our_reg) {
  if (!wlan_ || in_relation_) return;
  if (our_reg == reg_linkhdr_ && lib_.hdr < 0) lib_.hdr = lib_alloc(our_reg);
  if (our_reg == reg_linkpl_ && lib_.pl < 0) lib_.pl = lib_alloc(our_reg);
}
// gen_loadi, gen_loadlen, gen_load, gen_arth, gen_neg: which registers an arithmetic node
// takes and frees, in the grammar's order; writer[r] = the node whose value is in M[r].
int Gen::lib_sim_arth(int32_t idx, std::vector<int32_t>* writer) {
  const Node& n = ast_.at(idx);
  auto set = [&](int r) {
    if (r >= 0) (*writer)[static_cast<size_t>(r)] = idx;
    return r;
  };
  auto release = [&](int r) {
    if (r >= 0) lib_.used[r] = false;
  };
  auto link = [&](int our_reg, int* lib) {
    if (our_reg >= 0 && *lib < 0) *lib = lib_alloc(our_reg);
  };
  switch (n.kind) {
    case NodeKind::kNeg: return set(lib_sim_arth(n.a, writer));
    case NodeKind::kBinop: {
      const int r0 = lib_sim_arth(n.a, writer), r1 = lib_sim_arth(n.b, writer);
      release(r0);
      release(r1);
      return set(lib_alloc(-1));
    }
    case NodeKind::kLoad: {
      const int ri = lib_sim_arth(n.a, writer);
      const int r = lib_alloc(-1);
      release(ri);
      if (n.qual.proto == QProto::kLink) {
        link(reg_linkhdr_, &lib_.hdr);
      } else if (n.qual.proto != QProto::kRadio) {
        link(reg_linkpl_, &lib_.pl);  // the offset first, then the protocol checks
        link(reg_linkhdr_, &lib_.hdr);
      }
      return set(r);
    }
    default: return set(lib_alloc(-1));  // a number, len
  }
}
void Gen::wlan_relation_begin(const Node& n) {
  in_relation_ = true;
  std::vector<int32_t> writer(16, -1);
  const int r0 = lib_sim_arth(n.a, &writer), r1 = lib_sim_arth(n.b, &writer);
  if (r0 >= 0) lib_.used[r0] = false;
  if (r1 >= 0) lib_.used[r1] = false;
  const int cur = lib_.curreg;
  lib_.pending_block = -1;
  if (lib_.used[cur] || writer[static_cast<size_t>(cur)] < 0) return;
  // What the relation leaves in that register, as statements of our own (their loads are the
  // relation's, so they fail where it fails).
  const uint32_t saved = scratch_;
  scratch_ = next_reg_ + 8;
  Arth v = gen_arth(writer[static_cast<size_t>(cur)]);
  scratch_ = saved;
  lib_.pending_value = v.is_const ? std::vector<Insn>{ins(c::kLd | c::kImm, v.k)} : std::move(v.s);
  lib_.pending_reg = cur;
}
void Gen::wlan_relation_end(int block) {
  in_relation_ = false;
  if (lib_.pending_reg >= 0 && lib_.pending_block < 0) {
    if (block >= 0) lib_.pending_block = block;
    else lib_.pending_reg = -1;  // a relation of constants: no block to carry the store
  }
}

// ---- the offsets computed at program start (insert_compute_vloffsets) -------------------------
namespace {
bool reads_slot(const IrFunc& f, int reg) {
  if (reg < 0) return false;
  for (const IrBlock& b : f.blocks)
    for (const Insn& i : b.stmts)
      if ((i.code == (c::kLdx | c::kW | c::kMem) || i.code == (c::kLd | c::kW | c::kMem)) &&
          i.k == static_cast<uint32_t>(reg))
        return true;
  return false;
}
}  // namespace

Cond Gen::wlan_finish(Cond body) {
  const int lt = opts_.linktype;
  const bool pl = reads_slot(f_, reg_linkpl_);
  if (pl && reg_linkhdr_ >= 0 && lib_.hdr < 0) lib_.hdr = lib_alloc(reg_linkhdr_);
  bool hdr = reg_linkhdr_ >= 0 && (pl || reads_slot(f_, reg_linkhdr_));
  if (hdr && !pl && lt != kDltPrism && opts_.opt_level > 0 && !f_.unoptimised_reference &&
      body.cval < 0) {
    // Only the radio header's length, computed without jumps: libpcap optimises the program,
    // and drops that code when nothing reads the length any more (`type mgt or 1 = 1` accepts
    // every packet, even one byte long). Optimise a copy to see whether something still does.
    IrFunc saved = f_;
    const int ok = add_ret(opts_.snaplen), no = add_ret(0);
    patch(body.t, ok);
    patch(body.f, no);
    f_.entry = body.entry;
    optimise(f_);
    // Live: some path from the entry reads the register before a relation's store to it (see
    // lib_alloc) replaces the value; libpcap's optimiser deletes the computation otherwise.
    const uint32_t rh = static_cast<uint32_t>(reg_linkhdr_);
    std::vector<int> todo{f_.entry};
    std::vector<bool> seen(f_.blocks.size(), false);
    bool read = false;
    while (!todo.empty() && !read) {
      const int b = todo.back();
      todo.pop_back();
      if (b < 0 || seen[static_cast<size_t>(b)]) continue;
      seen[static_cast<size_t>(b)] = true;
      const IrBlock& blk = f_.blocks[static_cast<size_t>(b)];
      if (blk.is_ret) continue;
      bool stored = false;
      for (const Insn& i : blk.stmts) {
        if ((i.code == c::kSt || i.code == c::kStx) && i.k == rh) {
          stored = true;
          break;
        }
        read |= (i.code == (c::kLdx | c::kW | c::kMem) || i.code == (c::kLd | c::kW | c::kMem)) &&
                i.k == rh;
      }
      if (stored) continue;
      todo.push_back(blk.succ[0]);
      todo.push_back(blk.succ[1]);
    }
    f_ = std::move(saved);
    hdr = read;
  }
  if (lt == kDltPpi) {
    // gen_ppi_dlt_check: the PPI header's DLT field (little-endian) is 105. libpcap tests it
    // before the offset code; both only reject, so the verdicts are the same with it after,
    // where every scratch slot the program reads is written before its first branch (Linux's
    // check_load_and_stores flows past a `ret` into the next instruction).
    Cond chk = test({ins(c::kLd | c::kW | c::kAbs, 4)}, c::kJeq, 0x69000000u);
    body = and_(chk, body);
  }
  if (pl || hdr) {
    // libpcap sets no_optimize for the 802.11 header length and the Prism prefix (bare jumps
    // in a statement list): its verdicts are then those of the unoptimised program.
    if ((pl || lt == kDltPrism) && !f_.unoptimised_reference) {
      f_.unoptimised_reference = true;
      relower_ = opts_.opt_level > 0;
    }
    if (body.cval >= 0) body = materialise(body);
    const int next = body.entry;
    // Blocks of the prelude read A/X left by the one before: opaque, linked by hand.
    auto blk = [&](std::vector<Insn> s, uint16_t jop, uint32_t k) {
      Cond cd = test(std::move(s), jop, k);
      f_.blocks[static_cast<size_t>(cd.entry)].opaque = true;
      return cd.entry;
    };
    auto go = [&](int from, int t, int f) {
      f_.blocks[static_cast<size_t>(from)].succ[0] = t;
      f_.blocks[static_cast<size_t>(from)].succ[1] = f;
    };
    const uint32_t rh = static_cast<uint32_t>(reg_linkhdr_), rp = static_cast<uint32_t>(reg_linkpl_);
    // The 802.11 header length (gen_load_802_11_header_len), entered with X = radio header length.
    int pl_entry = next;
    std::vector<Insn> x_prefix;  // what sets X when no radio-header code runs before
    if (pl) {
      if (!hdr) x_prefix.push_back(ins(c::kLdx | c::kW | c::kImm, 0));
      std::vector<Insn> s = x_prefix;
      for (Insn i : {ins(c::kMisc | c::kTxa), ins(c::kAlu | c::kAdd | c::kK, 24), ins(c::kSt, rp),
                     ins(c::kLd | c::kB | c::kInd, 0)})
        s.push_back(i);
      const int d1 = blk(std::move(s), c::kJset, 0x08);
      const int d2 = blk({}, c::kJset, 0x04);
      const int d3 = blk({}, c::kJset, 0x80);
      const int qos = blk({ins(c::kLd | c::kMem, rp), ins(c::kAlu | c::kAdd | c::kK, 2), ins(c::kSt, rp)},
                          c::kJeq, 0);
      int after = next;
      if (dlt_ == kDltRadiotap) {  // libpcap: the link type after `pppoes`/`geneve` (not padded)
        // Atheros padding: radiotap flags field (after TSFT if present) has DATAPAD (0x20).
        const int r1 = blk({ins(c::kLd | c::kW | c::kAbs, 4)}, c::kJset, 0x02000000);
        const int r2 = blk({}, c::kJset, 0x80);
        const int r3 = blk({}, c::kJset, 0x01000000);
        const int r4 = blk({ins(c::kLd | c::kB | c::kAbs, 16)}, c::kJset, 0x20);
        const int r5 = blk({ins(c::kLd | c::kB | c::kAbs, 8)}, c::kJset, 0x20);
        const int ru = blk({ins(c::kLd | c::kMem, rp), ins(c::kAlu | c::kAdd | c::kK, 3),
                            ins(c::kAlu | c::kAnd | c::kK, ~3u), ins(c::kSt, rp)},
                           c::kJeq, 0);
        go(r1, r2, next);
        go(r2, next, r3);
        go(r3, r4, r5);
        go(r4, ru, next);
        go(r5, ru, next);
        go(ru, next, next);
        after = r1;
      }
      go(d1, d2, next);
      go(d2, next, d3);
      go(d3, qos, after);
      go(qos, after, after);
      pl_entry = d1;
    }
    int entry = pl_entry;
    // Without the 802.11 header length and Prism's jumps, libpcap optimises the program with
    // the radio header's length computed by the statements of its first block: so do we (the
    // optimiser's opt_root keeps the first block's statements when it skips that block).
    const bool in_root = !pl && lt != kDltPrism && !f_.unoptimised_reference;
    if (hdr) {
      auto store = [&](std::vector<Insn> s) {
        s.push_back(ins(c::kSt, rh));
        s.push_back(ins(c::kMisc | c::kTax));
        if (in_root) {
          auto& st = f_.blocks[static_cast<size_t>(pl_entry)].stmts;
          st.insert(st.begin(), s.begin(), s.end());
          return pl_entry;
        }
        const int b = blk(std::move(s), c::kJeq, 0);
        go(b, pl_entry, pl_entry);
        return b;
      };
      switch (lt) {
        case kDltRadiotap:
        case kDltPpi:  // little-endian length at 2
          entry = store({ins(c::kLd | c::kB | c::kAbs, 3), ins(c::kAlu | c::kLsh | c::kK, 8),
                         ins(c::kMisc | c::kTax), ins(c::kLd | c::kB | c::kAbs, 2),
                         ins(c::kAlu | c::kOr | c::kX)});
          break;
        case kDltAvs:
          entry = store({ins(c::kLd | c::kW | c::kAbs, 4)});
          break;
        case kDltPrism: {
          // An AVS header (cookie 0x80211000 in the top 20 bits) gives its length at 4; else 144.
          const int cookie = blk({ins(c::kLd | c::kW | c::kAbs, 0),
                                  ins(c::kAlu | c::kAnd | c::kK, 0xfffff000u)},
                                 c::kJeq, 0x80211000u);
          const int avs = blk({ins(c::kLd | c::kW | c::kAbs, 4)}, c::kJeq, 0);  // then `ja`
          const int prism = blk({ins(c::kLd | c::kImm, 144)}, c::kJeq, 0);
          const int st = store({});
          go(avs, st, st);
          go(prism, st, st);
          go(cookie, avs, prism);
          entry = cookie;
          break;
        }
        default: break;
      }
    }
    body.entry = entry;
  }
  return body;
}

}  // namespace bpf::compiler::detail
