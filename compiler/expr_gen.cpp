// Meaning of pcap-filter(7) expressions: AST -> IR (compiler/expr_ir.hpp), after libpcap 1.10.3's
// gencode.c, which is the reference for every verdict:
//  - link layers: EN10MB (type at 12, payload at 14), LINUX_SLL (14/16), LINUX_SLL2 (0/20),
//    RAW (version nibble), IPV4/IPV6 (constant), NULL (host-order AF), LOOP (network-order AF);
//  - `vlan` and `mpls` shift the offsets of everything after them, in source order (stateful, as
//    libpcap's off_linktype/off_linkpl/off_nl);
//  - `geneve` (gen_geneve) makes the link-type, link-header and payload offsets variable: kept in
//    M[] registers (libpcap's alloc_reg order), read back with `ldx M[r]; ld [x + k]`; libpcap
//    does not optimise such programs, so only verdict-keeping passes run (`protochain` after it
//    is an error, as in libpcap). Primitives reached when `geneve` was false (`geneve or ip`,
//    `not geneve and ip`) read M[] slots never written on that path: libpcap reads
//    uninitialised memory there (and Linux rejects its program); ours initialises those slots
//    at program start to the outer frame's offsets, so they look at the outer frame;
//  - transport fields of IPv4 are read at 4*(ihl) after a "not a fragment" check; IPv6 has no
//    extension-header walking except `ip6 proto`'s one fragment-header look and `protochain`;
//  - tests are emitted in libpcap's order, so that a load that fails on a snapped packet fails
//    on the same path (a failed load rejects the packet even under `not`).
// Names resolve through the system: getaddrinfo (hosts), getservbyname (/etc/services),
// getprotobyname (/etc/protocols), ether_hostton (/etc/ethers).
// Tested by tests/expr/expr_diff_test.cpp against pcap_compile + bpf_filter.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/ether.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "compiler/expr.hpp"
#include "compiler/expr_ir.hpp"
#include "grammar/expr_ast.hpp"
#include "vm/insn.hpp"
#include "vm/semantics.hpp"

namespace bpf::compiler {

namespace {

using detail::IrBlock;
using detail::IrFunc;
using grammar::ExprAst;
using grammar::IdKind;
using grammar::Node;
using grammar::NodeKind;
using grammar::OtherKind;
using grammar::QAddr;
using grammar::QDir;
using grammar::QProto;
using grammar::Qual;
using vm::Insn;
namespace c = vm::code;

constexpr int kDltNull = 0, kDltEn10mb = 1, kDltRaw = 12, kDltLoop = 108, kDltLinuxSll = 113,
              kDltIpv4 = 228, kDltIpv6 = 229, kDltLinuxSll2 = 276;
constexpr int kDltRawAlt = 14;
constexpr int kDltPpp = 9;  // only as the link type inside PPPoE sessions  // DLT_RAW on some BSDs; libpcap maps LINKTYPE_RAW (101) too

constexpr uint32_t kEtherMtu = 1500;
constexpr uint32_t kEtIp = 0x0800, kEtArp = 0x0806, kEtRevArp = 0x8035, kEtIpv6 = 0x86dd,
                   kEtMpls = 0x8847, kEtPppoed = 0x8863, kEtPppoes = 0x8864, kEt8021q = 0x8100,
                   kEt8021ad = 0x88a8, kEtQinq = 0x9100;
constexpr uint32_t kIpProtoTcp = 6, kIpProtoUdp = 17, kIpProtoSctp = 132, kIpProtoIcmp = 1,
                   kIpProtoIgmp = 2, kIpProtoIgrp = 9, kIpProtoPim = 103, kIpProtoVrrp = 112,
                   kIpProtoCarp = 112, kIpProtoIcmpv6 = 58, kIpProtoAh = 51, kIpProtoEsp = 50,
                   kIpProtoFragment = 44;
constexpr uint32_t kAncPktType = 0xfffff004;  // SKF_AD_OFF + SKF_AD_PKTTYPE

// Unresolved edges ("patch lists") are chained through the successor slots themselves, as
// libpcap's backpatching does: a list is the id (block * 2 + which) of its first slot, -1 when
// empty; an unresolved slot holds kChainEnd or kChainLink - (id of the next slot).
constexpr int kChainEnd = -1;
constexpr int kChainLink = -2;

// A boolean sub-graph: entry block and its dangling exits; or a constant.
struct Cond {
  int entry = -1;
  int cval = -1;  // -1: not constant, 0: false, 1: true
  int t = -1, f = -1;  // patch lists of the true and false exits
  // A constant that is a block in libpcap's code (gen_true/gen_false, a relation of constants,
  // a masked-out comparison): combined with a test it becomes a block too (see and_).
  bool lit = false;
  bool rel = false;  // a relation of constants (`1 = 1`): libpcap folds it a pass later
};

Cond const_cond(bool v) {
  Cond c;
  c.cval = v ? 1 : 0;
  return c;
}
Cond uncond(bool v) {
  Cond c = const_cond(v);
  c.lit = true;
  return c;
}

// An arithmetic value (libpcap's `struct arth`): statements leaving it in A, plus the protocol
// checks that must hold before they run.
struct Arth {
  std::vector<Insn> s;
  bool is_const = false;
  uint32_t k = 0;
  bool has_check = false;
  Cond check;
};

// Compile error used to unwind out of deep recursion inside this file only (never crosses the
// library boundary: compile_expression catches it).
struct GenError {
  std::string msg;
  uint32_t column;
};

Insn ins(uint16_t code, uint32_t k = 0) { return Insn{code, 0, 0, k}; }
uint16_t size_code(uint32_t bytes) { return bytes == 4 ? c::kW : bytes == 2 ? c::kH : c::kB; }

enum class Rel { kLinkHdr, kLinkPl, kLinkType, kTranIpv4, kTranIpv6, kPrevMpls, kLlc, kLinkPlNosnap };

class Gen {
 public:
  Gen(const ExprAst& ast, const ExprOptions& opts) : ast_(ast), opts_(opts) {
    init_link();
    // libpcap sets no_optimize for `geneve` (gen_geneve_offsets): its verdicts are those of the
    // unoptimised code from the first primitive on, snapped packets included.
    for (const auto& n : ast.nodes)
      if (n.kind == NodeKind::kOther && n.other == OtherKind::kGeneve) f_.unoptimised_reference = true;
    f_.blocks.reserve(64 + 16 * ast.nodes.size());
  }

  IrFunc& func() { return f_; }

  void build(int32_t root) {
    Cond c = root < 0 ? const_cond(true) : gen(root);
    int ok = add_ret(opts_.snaplen);
    int no = add_ret(0);
    if (c.cval >= 0) {
      f_.entry = c.cval ? ok : no;
      return;
    }
    patch(c.t, ok);
    patch(c.f, no);
    f_.entry = c.entry;
  }

 private:
  const ExprAst& ast_;
  ExprOptions opts_;
  IrFunc f_;
  uint32_t scratch_ = 0;  // next free M[] slot in the relation being built
  uint32_t col_ = 0;  // column of the node being compiled, for errors and block locations

  // Link-layer state (libpcap's off_linktype, off_linkpl, off_nl, stack depths).
  bool ethertype_link_ = false;
  uint32_t off_linktype_ = 0;
  uint32_t off_linkpl_ = 0;
  uint32_t off_nl_ = 0;
  uint32_t off_nl_nosnap_ = 0;  // network layer after an 802.2 LLC header without SNAP
  uint32_t off_linkhdr_ = 0;    // start of the link-layer header (moves after `pppoes`)
  int dlt_ = 1;                 // current link type: opts_.linktype, or PPP after `pppoes`
  int vlan_depth_ = 0;
  int mpls_depth_ = 0;
  // Variable parts (libpcap's bpf_abs_offset.is_variable/reg): the M[] slot holding the run-time
  // part of the offset, or -1 when the offset is constant. Only `geneve` makes them variable.
  int reg_linkhdr_ = -1;
  int reg_linkpl_ = -1;
  int reg_linktype_ = -1;
  bool is_geneve_ = false;  // libpcap's is_geneve (reset by PUSH_LINKHDR, i.e. `pppoes`)
  uint32_t next_reg_ = 0;   // M[] slots taken by variable offsets (alloc_reg)
  bool variable_offsets() const { return reg_linkhdr_ >= 0 || reg_linkpl_ >= 0 || reg_linktype_ >= 0; }
  uint32_t alloc_reg() {
    if (next_reg_ >= 16) fail("too many registers needed to evaluate expression");
    return next_reg_++;
  }
  // gen_abs_offset_varpart: `ldx M[reg]` then an indexed load, or an absolute load.
  std::vector<Insn> var_load(int reg, uint32_t sz, uint32_t k) {
    if (reg < 0) return {ins(c::kLd | sz | c::kAbs, k)};
    return {ins(c::kLdx | c::kW | c::kMem, static_cast<uint32_t>(reg)), ins(c::kLd | sz | c::kInd, k)};
  }

  [[noreturn]] void fail(std::string msg) { throw GenError{std::move(msg), col_}; }

  void init_link() {
    dlt_ = opts_.linktype;
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
      default:  // RAW, IPV4, IPV6
        off_linkpl_ = 0;
        break;
    }
  }

  const char* link_name() const {
    switch (dlt_) {
      case kDltPpp: return "PPP";
      case kDltEn10mb: return "Ethernet";
      case kDltLinuxSll: return "Linux cooked v1";
      case kDltLinuxSll2: return "Linux cooked v2";
      case kDltNull: return "BSD loopback";
      case kDltLoop: return "OpenBSD loopback";
      case kDltIpv4: return "IPv4";
      case kDltIpv6: return "IPv6";
      default: return "Raw IP";
    }
  }

  // ---- IR construction ------------------------------------------------------------------------
  int add_ret(uint32_t k) {
    IrBlock b;
    b.is_ret = true;
    b.ret_k = k;
    f_.blocks.push_back(std::move(b));
    return static_cast<int>(f_.blocks.size() - 1);
  }
  int& slot(int id) { return f_.blocks[static_cast<size_t>(id / 2)].succ[id % 2]; }
  static int next_of(int v) { return v == kChainEnd ? -1 : kChainLink - v; }
  void patch(int list, int target) {
    while (list >= 0) {
      int& sl = slot(list);
      int nxt = next_of(sl);
      sl = target;
      list = nxt;
    }
  }
  int concat(int a, int b) {
    if (a < 0) return b;
    if (b < 0) return a;
    int p = a;
    for (;;) {
      int nxt = next_of(slot(p));
      if (nxt < 0) break;
      p = nxt;
    }
    slot(p) = kChainLink - b;
    return a;
  }
  // Prepends the slot (block, which) to a list.
  void add_exit(int& list, int block, int which) {
    int id = block * 2 + which;
    slot(id) = list < 0 ? kChainEnd : kChainLink - list;
    list = id;
  }
  Cond test(std::vector<Insn> stmts, uint16_t jop, uint32_t k) {
    IrBlock b;
    b.stmts = std::move(stmts);
    b.jcode = static_cast<uint16_t>(c::kJmp | jop);
    b.k = k;
    b.loc = SourceLoc{1, col_ ? col_ : 1, 1};
    f_.blocks.push_back(std::move(b));
    Cond cd;
    cd.entry = static_cast<int>(f_.blocks.size() - 1);
    add_exit(cd.t, cd.entry, 0);
    add_exit(cd.f, cd.entry, 1);
    return cd;
  }
  // libpcap's gen_true/gen_false (gen_uncond): `ld #!v; jeq #0`, a block its optimiser folds.
  // A relation of constants is `ld #a; st M; ...; sub x; jeq #0` in libpcap: its value is only
  // known constant in the second pass (the first pass does not rewrite statements), and it is
  // never the value of a gen_true/gen_false block (rel_eq).
  Cond materialise(Cond c) {
    if (c.cval < 0) return c;
    Cond t = test({ins(c::kLd | c::kImm, c.cval ? 0u : 1u)}, c::kJeq, 0);
    if (c.rel) {
      IrBlock& tb = f_.blocks[static_cast<size_t>(t.entry)];
      tb.rel_eq = true;
      tb.fold_pass = 1;
    }
    return t;
  }
  // A constant that is a block in libpcap, or `a and false` / `a or true` (which keep a's
  // tests), joined to a test is a block here too, so that the optimiser sees libpcap's graph:
  // which tests it removes (only those whose two exits end up at one block) and which entry
  // statements opt_root keeps decide the loads a snapped packet reaches. Other constant cases
  // drop nothing that runs.
  Cond and_(Cond a, Cond b) { return join(a, b, true); }
  Cond or_(Cond a, Cond b) { return join(a, b, false); }
  // `a and b` (is_and) or `a or b`: b runs where a's true (and) / false (or) exits led.
  Cond join(Cond a, Cond b, bool is_and) {
    const int absorbing = is_and ? 0 : 1;  // `x and false` is false, `x or true` is true
    if (a.cval >= 0 && b.cval < 0 && a.lit) a = materialise(a);
    if (b.cval >= 0 && a.cval < 0 && b.lit) b = materialise(b);
    if (a.cval == absorbing) return a;
    if (a.cval == 1 - absorbing) return b;
    if (b.cval == 1 - absorbing) return a;
    if (b.cval == absorbing) b = materialise(b);
    Cond r;
    r.entry = a.entry;
    if (is_and) {
      patch(a.t, b.entry);
      r.t = b.t;
      r.f = concat(a.f, b.f);
    } else {
      patch(a.f, b.entry);
      r.f = b.f;
      r.t = concat(a.t, b.t);
    }
    return r;
  }
  static Cond not_(Cond a) {
    if (a.cval >= 0) {
      a.cval = 1 - a.cval;
      return a;
    }
    std::swap(a.t, a.f);
    return a;
  }

  // ---- loads and comparisons (gen_load_a, gen_cmp, gen_mcmp, ...) ----------------------------
  std::vector<Insn> load(Rel rel, uint32_t off, uint32_t size) {
    uint16_t sz = size_code(size);
    switch (rel) {
      case Rel::kLinkHdr: return var_load(reg_linkhdr_, sz, off_linkhdr_ + off);
      case Rel::kLinkPl: return var_load(reg_linkpl_, sz, off_linkpl_ + off_nl_ + off);
      case Rel::kLinkType: return var_load(reg_linktype_, sz, off_linktype_ + off);
      case Rel::kPrevMpls: return var_load(reg_linkpl_, sz, off_linkpl_ + off_nl_ - 4 + off);
      case Rel::kTranIpv4:
        if (reg_linkpl_ >= 0) {
          // gen_loadx_iphdrlen with a variable link-layer payload offset.
          return {ins(c::kLdx | c::kW | c::kMem, static_cast<uint32_t>(reg_linkpl_)),
                  ins(c::kLd | c::kB | c::kInd, off_linkpl_ + off_nl_),
                  ins(c::kAlu | c::kAnd | c::kK, 0xf),
                  ins(c::kAlu | c::kLsh | c::kK, 2),
                  ins(c::kAlu | c::kAdd | c::kX),
                  ins(c::kMisc | c::kTax),
                  ins(c::kLd | sz | c::kInd, off_linkpl_ + off_nl_ + off)};
        }
        return {ins(c::kLdx | c::kB | c::kMsh, off_linkpl_ + off_nl_),
                ins(c::kLd | sz | c::kInd, off_linkpl_ + off_nl_ + off)};
      case Rel::kTranIpv6: return var_load(reg_linkpl_, sz, off_linkpl_ + off_nl_ + 40 + off);
      case Rel::kLlc: return var_load(reg_linkpl_, sz, off_linkpl_ + off);
      case Rel::kLinkPlNosnap: return var_load(reg_linkpl_, sz, off_linkpl_ + off_nl_nosnap_ + off);
    }
    return {};
  }
  Cond cmp(Rel rel, uint32_t off, uint32_t size, uint32_t v, uint16_t jop = c::kJeq) {
    return test(load(rel, off, size), jop, v);
  }
  Cond mcmp(Rel rel, uint32_t off, uint32_t size, uint32_t v, uint32_t mask) {
    if (mask == 0 && !f_.unoptimised_reference) {
      // libpcap emits `and #0; jeq #v`; its optimiser turns `and #0` into `ld #0` and deletes the
      // now dead load, so the comparison is constant and reads nothing.
      return uncond(v == 0);
    }
    auto s = load(rel, off, size);
    if (mask != 0xffffffffu && v == 0) {
      Cond t = test(std::move(s), c::kJset, mask);
      IrBlock& tb = f_.blocks[static_cast<size_t>(t.entry)];
      tb.late = IrBlock::kMaskJset;
      tb.late_mask = mask;
      return not_(t);
    }
    if (mask != 0xffffffffu) s.push_back(ins(c::kAlu | c::kAnd | c::kK, mask));
    return test(std::move(s), c::kJeq, v);
  }
  // gen_bcmp: compares bytes, 4 then 2 then 1 at a time, from the end.
  Cond bcmp(Rel rel, uint32_t off, const uint8_t* v, uint32_t size) {
    Cond r = const_cond(true);
    bool first = true;
    while (size >= 4) {
      const uint8_t* p = v + size - 4;
      uint32_t w = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
      Cond b = cmp(rel, off + size - 4, 4, w);
      r = first ? b : and_(r, b);
      first = false;
      size -= 4;
    }
    while (size >= 2) {
      const uint8_t* p = v + size - 2;
      Cond b = cmp(rel, off + size - 2, 2, (uint32_t(p[0]) << 8) | p[1]);
      r = first ? b : and_(r, b);
      first = false;
      size -= 2;
    }
    if (size > 0) {
      Cond b = cmp(rel, off, 1, v[0]);
      r = first ? b : and_(r, b);
    }
    return r;
  }

  // ---- link-layer type tests (gen_linktype and friends) --------------------------------------
  Cond linktype(uint32_t proto) {
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
    switch (dlt_) {
      case kDltPpp: {
        // ethertype_to_ppptype
        uint32_t p = proto;
        switch (proto) {
          case kEtIp: p = 0x21; break;
          case kEtIpv6: p = 0x57; break;
          case 0x6003: p = 0x27; break;        // DECnet
          case kEtAtalk: p = 0x29; break;
          case 0x0600: p = 0x25; break;        // XNS
          case kLlcSapIsons: p = 0x23; break;
          case 0x42: p = 0x31; break;          // 802.1D bridge PDU
          case kLlcSapIpx: p = 0x2b; break;
        }
        return cmp(Rel::kLinkType, 0, 2, p);
      }
      case kDltEn10mb:
        return ether_linktype(proto);
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
  Cond snap(uint32_t orgcode, uint32_t ptype) {
    const uint8_t block[8] = {0xaa, 0xaa, 0x03, uint8_t(orgcode >> 16), uint8_t(orgcode >> 8),
                              uint8_t(orgcode), uint8_t(ptype >> 8), uint8_t(ptype)};
    return bcmp(Rel::kLlc, 0, block, 8);
  }
  static constexpr uint32_t kLlcSapIsons = 0xfe, kLlcSapIp = 0x06, kLlcSapNetbeui = 0xf0,
                            kLlcSapIpx = 0xe0, kEtIpx = 0x8137, kEtAtalk = 0x809b,
                            kEtAarp = 0x80f3;
  Cond ether_linktype(uint32_t proto) {
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
  Cond sll_linktype(uint32_t proto) {
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

  // OSI over 802.2 (gen_proto with Q_ISO / Q_ISIS)
  Cond iso_proto(uint32_t v) {
    Cond b0 = linktype(kLlcSapIsons);
    return and_(b0, cmp(Rel::kLinkPlNosnap, 0, 1, v));
  }
  Cond isis_proto(uint32_t v) {
    Cond b0 = iso_proto(0x83);
    return and_(b0, cmp(Rel::kLinkPlNosnap, 4, 1, v));
  }
  Cond isis_any(std::initializer_list<uint32_t> order_built) {
    // libpcap builds b1 from the first two, then or's each further one in front.
    std::vector<uint32_t> v(order_built);
    Cond b1 = or_(isis_proto(v[0]), isis_proto(v[1]));
    for (size_t i = 2; i < v.size(); ++i) b1 = or_(isis_proto(v[i]), b1);
    return b1;
  }

  // ---- protocols --------------------------------------------------------------------------------
  Cond ipfrag() {  // not a non-first fragment: (frag offset & 0x1fff) == 0
    return not_(test(load(Rel::kLinkPl, 6, 2), c::kJset, 0x1fff));
  }
  // gen_proto(v, Q_IP / Q_IPV6 / Q_DEFAULT)
  Cond ip_proto(uint32_t v) { return and_(linktype(kEtIp), cmp(Rel::kLinkPl, 9, 1, v)); }
  Cond ip6_proto(uint32_t v) {
    Cond b0 = linktype(kEtIpv6);
    Cond b1 = cmp(Rel::kLinkPl, 6, 1, v);
    Cond b2 = and_(cmp(Rel::kLinkPl, 6, 1, kIpProtoFragment), cmp(Rel::kLinkPl, 40, 1, v));
    return and_(b0, or_(b1, b2));
  }
  Cond any_proto(uint32_t v) {
    Cond b0 = ip_proto(v);
    return or_(b0, ip6_proto(v));
  }

  Cond proto_abbrev(QProto p) {
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
      case QProto::kIso: return linktype(kLlcSapIsons);
      case QProto::kEsis: return iso_proto(0x82);
      case QProto::kIsis: return iso_proto(0x83);
      case QProto::kClnp: return iso_proto(0x81);
      case QProto::kStp: return linktype(0x42);
      case QProto::kIpx: return linktype(kLlcSapIpx);
      case QProto::kNetbeui: return linktype(kLlcSapNetbeui);
      case QProto::kIsisL1: return isis_any({15, 17, 18, 24, 26});
      case QProto::kIsisL2: return isis_any({16, 17, 20, 25, 27});
      case QProto::kIsisIih: return isis_any({15, 16, 17});
      case QProto::kIsisLsp: return or_(isis_proto(18), isis_proto(20));
      case QProto::kIsisSnp: return isis_any({24, 25, 26, 27});
      case QProto::kIsisCsnp: return or_(isis_proto(24), isis_proto(25));
      case QProto::kIsisPsnp: return or_(isis_proto(26), isis_proto(27));
      default: break;
    }
    fail(std::string("'") + proto_name(p) + "' is not supported by this compiler");
  }

  static const char* proto_name(QProto p) {
    static const char* const kNames[] = {
        "",     "link",  "ip",   "arp",   "rarp",    "sctp",   "tcp",    "udp",  "icmp", "igmp",
        "igrp", "atalk", "decnet", "lat", "sca",     "moprc",  "mopdl",  "ip6",  "icmp6", "ah",
        "esp",  "pim",   "vrrp", "aarp",  "iso",     "esis",   "isis",   "clnp", "stp",  "ipx",
        "netbeui", "l1", "l2",   "iih",   "snp",     "csnp",   "psnp",   "lsp",  "radio", "carp"};
    size_t i = static_cast<size_t>(p);
    return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : "?";
  }

  // ---- hosts and nets ---------------------------------------------------------------------------
  Cond hostop(uint32_t addr, uint32_t mask, QDir dir, uint32_t proto, uint32_t src_off,
              uint32_t dst_off) {
    switch (dir) {
      case QDir::kSrc: return and_(linktype(proto), mcmp(Rel::kLinkPl, src_off, 4, addr, mask));
      case QDir::kDst: return and_(linktype(proto), mcmp(Rel::kLinkPl, dst_off, 4, addr, mask));
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
  Cond hostop6(const uint8_t* addr, const uint8_t* mask, QDir dir, uint32_t src_off,
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
  Cond host(uint32_t addr, uint32_t mask, QProto proto, QDir dir, QAddr type) {
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
      case QProto::kLink: fail(std::string("link-layer modifier applied to ") + typestr);
      case QProto::kIpv6: fail(std::string("'ip6' modifier applied to ip ") + typestr);
      default: break;
    }
    fail(std::string("'") + proto_name(proto) + "' modifier applied to " + typestr);
  }
  Cond host6(const uint8_t* addr, const uint8_t* mask, QProto proto, QDir dir, QAddr type) {
    const char* typestr = type == QAddr::kNet ? "net" : "host";
    switch (proto) {
      case QProto::kDefault:
      case QProto::kIpv6: return hostop6(addr, mask, dir, 8, 24);
      case QProto::kLink: fail(std::string("link-layer modifier applied to ip6 ") + typestr);
      case QProto::kIp: fail(std::string("'ip' modifier applied to ip6 ") + typestr);
      default: break;
    }
    fail(std::string("'") + proto_name(proto) + "' modifier applied to ip6 " + typestr);
  }

  // ---- ethernet addresses ------------------------------------------------------------------------
  // gen_prevlinkhdr_check after `geneve` (gen_geneve_ll_check): the inner frame is Ethernet,
  // i.e. the link-layer header and payload offsets differ. Tested before `b`.
  Cond prevlinkhdr_check(Cond b) {
    if (!is_geneve_) return b;
    std::vector<Insn> s{ins(c::kLd | c::kMem, static_cast<uint32_t>(reg_linkhdr_)),
                        ins(c::kLdx | c::kW | c::kMem, static_cast<uint32_t>(reg_linkpl_))};
    Cond t = not_(test(std::move(s), c::kJeq | c::kX, 0));
    return and_(t, b);
  }
  Cond ehostop(const uint8_t* ea, QDir dir) {
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

  // ---- ports ----------------------------------------------------------------------------------------
  Cond portatom(bool v6, uint32_t off, uint32_t v) {
    return cmp(v6 ? Rel::kTranIpv6 : Rel::kTranIpv4, off, 2, v);
  }
  Cond portrangeatom(bool v6, uint32_t off, uint32_t lo, uint32_t hi) {
    if (lo > hi) std::swap(lo, hi);
    Rel r = v6 ? Rel::kTranIpv6 : Rel::kTranIpv4;
    Cond b1 = cmp(r, off, 2, lo, c::kJge);
    Cond b2 = not_(cmp(r, off, 2, hi, c::kJgt));
    return and_(b1, b2);
  }
  Cond port_dir(bool v6, QDir dir, bool range, uint32_t lo, uint32_t hi) {
    auto atom = [&](uint32_t off) {
      return range ? portrangeatom(v6, off, lo, hi) : portatom(v6, off, lo);
    };
    switch (dir) {
      case QDir::kSrc: return atom(0);
      case QDir::kDst: return atom(2);
      case QDir::kAnd: {
        Cond b0 = atom(0);
        return and_(b0, atom(2));
      }
      case QDir::kDefault:
      case QDir::kOr: {
        Cond b0 = atom(0);
        return or_(b0, atom(2));
      }
      default: fail("'addr1', 'addr2', 'ra' and 'ta' are only supported on 802.11");
    }
  }
  Cond portop(bool v6, uint32_t proto, QDir dir, bool range, uint32_t lo, uint32_t hi) {
    if (v6) {
      Cond tmp = cmp(Rel::kLinkPl, 6, 1, proto);
      return and_(tmp, port_dir(true, dir, range, lo, hi));
    }
    Cond tmp = cmp(Rel::kLinkPl, 9, 1, proto);
    Cond b0 = and_(tmp, ipfrag());
    return and_(b0, port_dir(false, dir, range, lo, hi));
  }
  Cond port_family(bool v6, int ip_proto, QDir dir, bool range, uint32_t lo, uint32_t hi) {
    Cond b0 = linktype(v6 ? kEtIpv6 : kEtIp);
    Cond b1;
    if (ip_proto < 0) {
      Cond t = portop(v6, kIpProtoTcp, dir, range, lo, hi);
      Cond u = portop(v6, kIpProtoUdp, dir, range, lo, hi);
      Cond tu = or_(t, u);
      Cond s = portop(v6, kIpProtoSctp, dir, range, lo, hi);
      b1 = or_(s, tu);
    } else {
      b1 = portop(v6, static_cast<uint32_t>(ip_proto), dir, range, lo, hi);
    }
    return and_(b0, b1);
  }
  Cond port(int ip_proto, QDir dir, bool range, uint32_t lo, uint32_t hi) {
    // gen_ncode: gen_or(gen_port6(...), gen_port(...)): IPv6 first.
    Cond b6 = port_family(true, ip_proto, dir, range, lo, hi);
    Cond b4 = port_family(false, ip_proto, dir, range, lo, hi);
    return or_(b6, b4);
  }
  int port_proto(QProto p) {
    switch (p) {
      case QProto::kUdp: return kIpProtoUdp;
      case QProto::kTcp: return kIpProtoTcp;
      case QProto::kSctp: return kIpProtoSctp;
      case QProto::kDefault: return -1;
      default: fail("illegal qualifier of 'port'");
    }
  }
  int portrange_proto(QProto p) {
    switch (p) {
      case QProto::kUdp: return kIpProtoUdp;
      case QProto::kTcp: return kIpProtoTcp;
      case QProto::kSctp: return kIpProtoSctp;
      case QProto::kDefault: return -1;
      default: fail("illegal qualifier of 'portrange'");
    }
  }

  // ---- protocol qualifier (`proto N`, `ip proto N`, `ether proto N`) ------------------------
  Cond proto_q(uint32_t v, QProto proto, QDir dir) {
    if (dir != QDir::kDefault) fail("direction applied to 'proto'");
    switch (proto) {
      case QProto::kDefault: return any_proto(v);
      case QProto::kIp: return ip_proto(v);
      case QProto::kIpv6: return ip6_proto(v);
      case QProto::kLink: return linktype(v);
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
    fail(std::string("'") + proto_name(proto) + " proto' is not supported by this compiler");
  }

  // ---- protochain: bounded, unrolled walk of the IPv4/IPv6 header chain ------------------------
  Cond protochain(uint32_t v, QProto proto);

  // ---- identifiers -----------------------------------------------------------------------------
  static uint32_t lookup_proto_name(const std::string& name, bool* ok) {
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
  static bool lookup_eproto(const std::string& name, uint32_t* v) {
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
  static void lookup_port(const std::string& name, int* tcp, int* udp) {
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
  bool port_or_name(const std::string& s, QProto proto, uint32_t* out, int* ip_proto) {
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

  Cond gen_id(const Node& n);
  Cond gen_scode(const Node& n);
  Cond gen_ncode(const Node& n, uint32_t v, bool from_string, uint32_t vlen);
  Cond gen_other(const Node& n);
  Cond gen_relation(const Node& n);
  Cond geneve(bool has_vni, uint32_t vni);
  Arth gen_arth(int32_t idx);
  Arth gen_load(const Node& n);

  Cond gen(int32_t idx) {
    const Node& n = ast_.at(idx);
    uint32_t saved = col_;
    col_ = n.column;
    Cond r;
    switch (n.kind) {
      case NodeKind::kAnd: {
        Cond a = gen(n.a);
        r = and_(std::move(a), gen(n.b));
        break;
      }
      case NodeKind::kOr: {
        Cond a = gen(n.a);
        r = or_(std::move(a), gen(n.b));
        break;
      }
      case NodeKind::kNot: r = not_(gen(n.a)); break;
      case NodeKind::kId: r = gen_id(n); break;
      case NodeKind::kProtoAbbrev: r = proto_abbrev(n.qual.proto); break;
      case NodeKind::kRelation: r = gen_relation(n); break;
      case NodeKind::kOther: r = gen_other(n); break;
      default: fail("syntax error in filter expression");
    }
    col_ = saved;
    return r;
  }
};

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

Cond Gen::gen_id(const Node& n) {
  Qual q = n.qual;
  if (q.addr == QAddr::kUndef || q.proto == QProto::kUndef)
    fail("syntax error in filter expression");
  switch (n.id_kind) {
    case IdKind::kName: return gen_scode(n);
    case IdKind::kNum: return gen_ncode(n, n.num, false, 32);
    case IdKind::kHost4: {
      if (q.addr == QAddr::kPort) fail("'port' modifier applied to ip host");
      if (q.addr == QAddr::kPortrange) fail("'portrange' modifier applied to ip host");
      if (q.addr == QAddr::kProto) fail("'proto' modifier applied to ip host");
      if (q.addr == QAddr::kProtochain) fail("'protochain' modifier applied to ip host");
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
        ether_addr* e = ether_aton(n.str.c_str());
        uint8_t ea[6];
        if (e) {
          std::memcpy(ea, e->ether_addr_octet, 6);
        } else {
          // aabb.ccdd.eeff and aabbcc.ddeeff forms (pcap_ether_aton accepts any separators)
          std::string hex;
          for (char ch : n.str)
            if (ch != '.' && ch != '-' && ch != ':') hex += ch;
          if (hex.size() == 12) {
            for (int i = 0; i < 6; ++i)
              ea[i] = static_cast<uint8_t>(std::stoul(hex.substr(static_cast<size_t>(2 * i), 2), nullptr, 16));
          } else {
            // "1-2-3-4-5-6" or "1.2.3.4.5.6": one or two hex digits per byte
            std::vector<uint8_t> parts;
            std::string cur;
            for (char ch : n.str + ".") {
              if (ch == '.' || ch == '-' || ch == ':') {
                parts.push_back(static_cast<uint8_t>(std::stoul(cur, nullptr, 16)));
                cur.clear();
              } else {
                cur += ch;
              }
            }
            if (parts.size() != 6) fail("bogus ethernet address " + n.str);
            std::copy(parts.begin(), parts.end(), ea);
          }
        }
        return prevlinkhdr_check(ehostop(ea, q.dir));
      }
      fail("ethernet address used in non-ether expression");
    }
    case IdKind::kArcnet: fail("aid supported only on ARCnet");
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
        if (ether_hostton(name.c_str(), &e) != 0) fail("unknown ether host '" + name + "'");
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
      } else {
        fail("unknown protocol: " + name);
      }
      return q.addr == QAddr::kProto ? proto_q(v, q.proto, q.dir) : protochain(v, q.proto);
    }
    case QAddr::kUndef: fail("syntax error in filter expression");
  }
  fail("syntax error in filter expression");
}

// ---- protochain --------------------------------------------------------------------------------
// libpcap walks the header chain with a backward jump (rejected by Linux) and no bound: the walk
// ends at a header it does not know, at "no next header" (59) or at a load past the captured
// bytes. We unroll the same walk a fixed number of times (kChainSteps headers), which is the
// libpcap verdict for every packet whose chain before the wanted protocol has at most that many
// headers; the walk itself is libpcap's: IPv6 hop-by-hop (0), destination (60), routing (43)
// and fragment (44) advance by (length + 1) * 8, AH (51) for IPv6 and IPv4. RFC 8200 4.1 allows
// each extension header once (destination options twice): at most 6 walked headers (ESP, 50,
// ends libpcap's walk), so 8 covers every conforming chain; a longer (non-conforming) chain is
// not matched here where libpcap matches it (tests/expr ProtochainWalkBound checks both sides
// of the bound). More steps cost about 28 instructions each per walk.
constexpr int kChainSteps = 8;

Cond Gen::protochain(uint32_t v, QProto proto) {
  if (reg_linkpl_ >= 0) fail("'protochain' not supported with variable length headers");
  f_.unoptimised_reference = true;
  if (proto == QProto::kDefault) {
    Cond b0 = protochain(v, QProto::kIp);
    return or_(b0, protochain(v, QProto::kIpv6));
  }
  if (proto != QProto::kIp && proto != QProto::kIpv6) fail("bad protocol applied for 'protochain'");
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

// ---- other primitives ------------------------------------------------------------------------------
Cond Gen::gen_other(const Node& n) {
  switch (n.other) {
    case OtherKind::kLess: return not_(test({ins(c::kLd | c::kW | c::kLen)}, c::kJgt, n.num));
    case OtherKind::kGreater: return test({ins(c::kLd | c::kW | c::kLen)}, c::kJge, n.num);
    case OtherKind::kByte: {
      // gen_byteop: byte IDX OP VAL on the network-layer payload.
      // gen_byteop: byte IDX OP VAL, IDX from the start of the link-layer header. libpcap
      // 1.10 emits no load for `&` and `|`: they apply to A's initial value (0).
      uint32_t idx = n.num, val = n.num2;
      switch (n.op) {
        case '=': return cmp(Rel::kLinkHdr, idx, 1, val);
        case '<': return not_(cmp(Rel::kLinkHdr, idx, 1, val, c::kJge));
        case '>': return cmp(Rel::kLinkHdr, idx, 1, val, c::kJgt);
        case '|':
        case '&': {
          Cond b = test({ins(c::kAlu | (n.op == '|' ? c::kOr : c::kAnd) | c::kK, val)}, c::kJeq, 0);
          f_.blocks[static_cast<size_t>(b.entry)].opaque = true;  // reads A as left before it
          return not_(b);
        }
      }
      fail("syntax error in filter expression");
    }
    case OtherKind::kBroadcast: {
      QProto p = n.qual.proto;
      if (p == QProto::kDefault || p == QProto::kLink) {
        if (dlt_ != kDltEn10mb) fail("not a broadcast link");
        static const uint8_t kBcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        return prevlinkhdr_check(bcmp(Rel::kLinkHdr, 0, kBcast, 6));
      }
      if (p == QProto::kIp) {
        if (opts_.netmask == 0) fail("netmask not known, so 'ip broadcast' not supported");
        uint32_t hostmask = ~opts_.netmask;
        Cond b0 = linktype(kEtIp);
        Cond b1 = mcmp(Rel::kLinkPl, 16, 4, 0, hostmask);
        Cond b2 = mcmp(Rel::kLinkPl, 16, 4, hostmask, hostmask);
        b2 = or_(b1, b2);
        return and_(b0, b2);
      }
      fail("only link-layer/IP broadcast filters supported");
    }
    case OtherKind::kMulticast: {
      QProto p = n.qual.proto;
      if (p == QProto::kDefault || p == QProto::kLink) {
        if (dlt_ != kDltEn10mb) fail("not a broadcast link");
        return prevlinkhdr_check(test(load(Rel::kLinkHdr, 0, 1), c::kJset, 1));
      }
      if (p == QProto::kIp) {
        Cond b0 = linktype(kEtIp);
        return and_(b0, cmp(Rel::kLinkPl, 16, 1, 224, c::kJge));
      }
      if (p == QProto::kIpv6) {
        Cond b0 = linktype(kEtIpv6);
        return and_(b0, cmp(Rel::kLinkPl, 24, 1, 255));
      }
      fail("link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/"
           "802.11/ATM LANE/Fibre Channel");
    }
    case OtherKind::kInbound:
    case OtherKind::kOutbound: {
      bool out = n.other == OtherKind::kOutbound;
      Cond b;
      if (dlt_ == kDltLinuxSll) {
        b = cmp(Rel::kLinkHdr, 0, 2, 4 /* LINUX_SLL_OUTGOING */);
      } else if (dlt_ == kDltLinuxSll2) {
        b = cmp(Rel::kLinkHdr, 10, 1, 4);
      } else {
        b = test({ins(c::kLd | c::kH | c::kAbs, kAncPktType)}, c::kJeq, 4 /* PACKET_OUTGOING */);
      }
      return out ? b : not_(b);
    }
    case OtherKind::kVlan: {
      if (dlt_ != kDltEn10mb)
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
    case OtherKind::kMpls: {
      Cond b0;
      if (mpls_depth_ > 0) {
        b0 = mcmp(Rel::kPrevMpls, 2, 1, 0, 0x01);
      } else {
        if (dlt_ == kDltPpp) {
          b0 = cmp(Rel::kLinkType, 0, 2, 0x0281);  // PPP_MPLS_UCAST
        } else {
          if (dlt_ != kDltEn10mb) fail(std::string("no MPLS support for ") + link_name());
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
    case OtherKind::kPppoed: return linktype(kEtPppoed);
    case OtherKind::kPppoes: {
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
    case OtherKind::kGeneve: return geneve(n.has_num, n.num);
    case OtherKind::kVxlan: fail("vxlan is not supported by this compiler yet");
    case OtherKind::kIfindex:
      // LINUX_SLL2 carries the interface index at offset 4; elsewhere libpcap (on Linux) reads
      // the SKF_AD_IFINDEX ancillary field.
      if (dlt_ == kDltLinuxSll2) return cmp(Rel::kLinkHdr, 4, 4, n.num);
      return test({ins(c::kLd | c::kW | c::kAbs, 0xfffff008u)}, c::kJeq, n.num);
    case OtherKind::kLlc: {
      if (dlt_ != kDltEn10mb) fail(std::string("'llc' not supported for ") + link_name());
      // gen_llc: an 802.3 frame (length field) that is not Novell raw 802.3 (0xffff)
      Cond b0 = not_(cmp(Rel::kLinkType, 0, 2, kEtherMtu, c::kJgt));
      Cond llc = and_(b0, not_(cmp(Rel::kLlc, 0, 2, 0xffff)));
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
    case OtherKind::kPf: fail("'" + n.str + "' is supported only on PF (OpenBSD pflog) link types");
    case OtherKind::kP80211: fail("802.11 link-layer types supported only on 802.11");
    case OtherKind::kAtm: fail("'" + n.str + "' is not supported on " + std::string(link_name()));
  }
  fail("syntax error in filter expression");
}

// ---- arithmetic (gen_load, gen_arth, gen_relation) ---------------------------------------------
// Values are built as straight-line statements that leave the value in A, using X and M[] as
// temporaries. A relation becomes one block, after the protocol checks of every load it uses.

Arth Gen::gen_load(const Node& n) {
  QProto proto = n.qual.proto;
  uint32_t size = n.num;
  if (size != 1 && size != 2 && size != 4) {
    col_ = n.num2 ? n.num2 : n.column;
    fail("data size must be 1, 2, or 4");
  }
  uint16_t sz = size_code(size);
  Arth idx = gen_arth(n.a);
  Arth r;
  r.has_check = idx.has_check;
  r.check = idx.check;
  auto add_check = [&](Cond c) {
    if (r.has_check) {
      r.check = and_(r.check, c);
    } else {
      r.check = c;
      r.has_check = true;
    }
  };
  auto index_into_x = [&](std::vector<Insn>* s) {
    // X = index (constant: ldx #k; otherwise compute in A then tax)
    if (idx.is_const) {
      s->push_back(ins(c::kLdx | c::kW | c::kImm, idx.k));
    } else {
      s->insert(s->end(), idx.s.begin(), idx.s.end());
      s->push_back(ins(c::kMisc | c::kTax));
    }
  };
  uint32_t base = 0;
  int vreg = -1;  // M[] slot with the variable part of `base` (after `geneve`), or -1
  switch (proto) {
    case QProto::kRadio: fail("radio headers are not supported on this link type");
    case QProto::kLink:
      base = off_linkhdr_;
      vreg = reg_linkhdr_;
      break;
    case QProto::kIp: case QProto::kArp: case QProto::kRarp: case QProto::kAtalk:
    case QProto::kDecnet: case QProto::kSca: case QProto::kLat: case QProto::kMoprc:
    case QProto::kMopdl: case QProto::kIpv6: {
      base = off_linkpl_ + off_nl_;
      vreg = reg_linkpl_;
      Cond pc = proto_abbrev(proto);
      // libpcap: gen_and(inst->b, gen_proto_abbrev(proto)): index checks first.
      add_check(pc);
      break;
    }
    case QProto::kIgmp: case QProto::kIcmp: case QProto::kTcp: case QProto::kUdp:
    case QProto::kSctp: case QProto::kPim: case QProto::kVrrp: case QProto::kCarp:
    case QProto::kIgrp: {
      // X = 4*(ihl) (+ index); ld [x + off_nl (+ constant index)]
      std::vector<Insn> s;
      uint32_t koff = 0;
      // X = IP header length; with a variable payload offset, gen_loadx_iphdrlen's
      // ldx M[r]; ldb [x + k]; and #0xf; lsh #2; add x; tax.
      std::vector<Insn> hl = load(Rel::kTranIpv4, 0, 1);
      hl.pop_back();
      if (idx.is_const) {
        s = hl;
        koff = idx.k;
      } else {
        // index may use X; compute it first into M[], then add
        std::vector<Insn> t = idx.s;
        uint32_t m = scratch_++;
        if (m >= 16) fail("too many registers needed to evaluate expression");
        t.push_back(ins(c::kSt, m));
        t.insert(t.end(), hl.begin(), hl.end());
        t.push_back(ins(c::kLd | c::kMem, m));
        t.push_back(ins(c::kAlu | c::kAdd | c::kX));
        t.push_back(ins(c::kMisc | c::kTax));
        s = std::move(t);
      }
      s.push_back(ins(c::kLd | sz | c::kInd, off_linkpl_ + off_nl_ + koff));
      Cond pa = proto_abbrev(proto);
      Cond b = and_(pa, ipfrag());
      if (r.has_check) b = and_(r.check, b);
      Cond ipc = linktype(kEtIp);
      r.check = and_(ipc, b);
      r.has_check = true;
      r.s = std::move(s);
      return r;
    }
    case QProto::kIcmpv6: {
      Cond b = proto_abbrev(QProto::kIpv6);
      if (r.has_check) b = and_(r.check, b);
      b = and_(b, cmp(Rel::kLinkPl, 6, 1, kIpProtoIcmpv6));
      r.check = b;
      r.has_check = true;
      base = off_linkpl_ + off_nl_ + 40;
      vreg = reg_linkpl_;
      break;
    }
    default:
      fail(std::string("'") + proto_name(proto) + "' does not support the [] operator");
  }
  if (vreg >= 0) {
    // gen_load with a variable offset: X = M[reg] + index; ld [x + constant part].
    if (idx.is_const) {
      r.s.push_back(ins(c::kLdx | c::kW | c::kMem, static_cast<uint32_t>(vreg)));
      r.s.push_back(ins(c::kLd | sz | c::kInd, base + idx.k));
    } else {
      r.s.insert(r.s.end(), idx.s.begin(), idx.s.end());
      r.s.push_back(ins(c::kLdx | c::kW | c::kMem, static_cast<uint32_t>(vreg)));
      r.s.push_back(ins(c::kAlu | c::kAdd | c::kX));
      r.s.push_back(ins(c::kMisc | c::kTax));
      r.s.push_back(ins(c::kLd | sz | c::kInd, base));
    }
    return r;
  }
  if (idx.is_const) {
    r.s.push_back(ins(c::kLd | sz | c::kAbs, base + idx.k));
  } else {
    index_into_x(&r.s);
    r.s.push_back(ins(c::kLd | sz | c::kInd, base));
  }
  return r;
}

// Builds the value of an arithmetic node. Constant sub-expressions are folded (as libpcap's
// optimiser does, including x*0 = 0 and x&0 = 0, which drops the loads of x).
Arth Gen::gen_arth(int32_t idx) {
  const Node& n = ast_.at(idx);
  uint32_t saved = col_;
  col_ = n.column;
  Arth r;
  switch (n.kind) {
    case NodeKind::kNum:
      r.is_const = true;
      r.k = n.num;
      r.s.push_back(ins(c::kLd | c::kImm, n.num));
      break;
    case NodeKind::kLen:
      r.s.push_back(ins(c::kLd | c::kW | c::kLen));
      break;
    case NodeKind::kLoad:
      r = gen_load(n);
      break;
    case NodeKind::kNeg: {
      Arth a = gen_arth(n.a);
      if (a.is_const) {
        r.is_const = true;
        r.k = *vm::alu(vm::Op::kNeg, a.k, 0, vm::Target::kBsd);
        r.s = {ins(c::kLd | c::kImm, r.k)};
        r.has_check = a.has_check;
        r.check = a.check;
        break;
      }
      r = std::move(a);
      r.s.push_back(ins(c::kAlu | c::kNeg));
      break;
    }
    case NodeKind::kBinop: {
      Arth a = gen_arth(n.a);
      Arth b = gen_arth(n.b);
      uint16_t op = 0;
      switch (n.op) {
        case '+': op = c::kAdd; break;
        case '-': op = c::kSub; break;
        case '*': op = c::kMul; break;
        case '/': op = c::kDiv; break;
        case '%': op = c::kMod; break;
        case '&': op = c::kAnd; break;
        case '|': op = c::kOr; break;
        case '^': op = c::kXor; break;
        case 'L': op = c::kLsh; break;
        case 'R': op = c::kRsh; break;
      }
      col_ = n.column;
      if (b.is_const && (op == c::kDiv || op == c::kMod) && b.k == 0)
        fail(op == c::kDiv ? "division by zero" : "modulus by zero");
      if ((op == c::kLsh || op == c::kRsh) && b.is_const && b.k > 31)
        fail(op == c::kLsh ? "shift by more than 31 bits" : "shift by more than 31 bits");
      // protocol checks: a's then b's
      if (a.has_check && b.has_check) {
        r.check = and_(a.check, b.check);
        r.has_check = true;
      } else if (a.has_check) {
        r.check = a.check;
        r.has_check = true;
      } else if (b.has_check) {
        r.check = b.check;
        r.has_check = true;
      }
      if (a.is_const && b.is_const) {
        // Folded with the runtime's own semantics (vm/semantics.hpp), BSD rules as libpcap's
        // bpf_filter; division/modulo by 0 and shifts above 31 were rejected just above.
        const std::optional<vm::Op> alu = vm::decode(c::kAlu | op | c::kK);
        const std::optional<uint32_t> folded =
            alu ? vm::alu(*alu, a.k, b.k, vm::Target::kBsd) : std::nullopt;
        const uint32_t z = folded.value_or(0);
        r.is_const = true;
        r.k = z;
        r.s = {ins(c::kLd | c::kImm, z)};
        break;
      }
      if (b.is_const) {
        if (b.k == 0 && (op == c::kMul || op == c::kAnd)) {
          r.is_const = true;
          r.k = 0;
          r.s = {ins(c::kLd | c::kImm, 0)};
          break;
        }
        r.s = std::move(a.s);
        if (!(b.k == 0 && (op == c::kAdd || op == c::kSub || op == c::kOr || op == c::kXor ||
                           op == c::kLsh || op == c::kRsh)))
          r.s.push_back(ins(c::kAlu | op | c::kK, b.k));
        break;
      }
      // general case: b into M[m], a into A, X = M[m], A op X
      uint32_t m = scratch_++;
      if (m >= 16) fail("too many registers needed to evaluate expression");
      r.s = std::move(b.s);
      r.s.push_back(ins(c::kSt, m));
      r.s.insert(r.s.end(), a.s.begin(), a.s.end());
      r.s.push_back(ins(c::kLdx | c::kMem, m));
      r.s.push_back(ins(c::kAlu | op | c::kX));
      break;
    }
    default:
      fail("syntax error in filter expression");
  }
  col_ = saved;
  return r;
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
  // gen_geneve4: A = IP header length (with the variable part of the payload offset).
  Cond b4 = check(false);
  std::vector<Insn> s4 = load(Rel::kTranIpv4, 0, 1);
  s4.pop_back();
  s4.push_back(ins(c::kMisc | c::kTxa));
  b4 = and_(b4, opaque(test(std::move(s4), c::kJeq | c::kX, 0)));
  // gen_geneve6: A = 40 (+ the variable part).
  Cond b6 = check(true);
  std::vector<Insn> s6;
  if (reg_linkpl_ >= 0) {
    s6.push_back(ins(c::kLdx | c::kW | c::kMem, static_cast<uint32_t>(reg_linkpl_)));
    s6.push_back(ins(c::kLd | c::kImm, 40));
    s6.push_back(ins(c::kAlu | c::kAdd | c::kX));
  } else {
    s6.push_back(ins(c::kLd | c::kImm, 40));
  }
  s6.push_back(ins(c::kMisc | c::kTax));
  b6 = and_(b6, opaque(test(std::move(s6), c::kJeq | c::kX, 0)));
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
  // ip`) read slots it never wrote: libpcap's interpreter then reads uninitialised stack memory
  // and Linux refuses the program. Such slots are set at program start (emit_program, only when
  // some path needs it) to the offsets the outer frame had before this `geneve` (0 where the
  // link layer has no such field or the offset was itself variable), so those primitives look
  // at the outer frame.
  f_.mem_init[r_type] = ethertype_link_ && reg_linktype_ < 0 ? off_linktype_ : 0;
  f_.mem_init[r_hdr] = reg_linkhdr_ < 0 ? off_linkhdr_ : 0;
  f_.mem_init[r_pl] = reg_linkpl_ < 0 ? off_linkpl_ + off_nl_ : 0;
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
  off_nl_nosnap_ = 3;
  is_geneve_ = true;
  return r;
}

Cond Gen::gen_relation(const Node& n) {
  scratch_ = next_reg_;  // every relation is one self-contained block: M[] slots are reused
  Arth a = gen_arth(n.a);
  Arth b = gen_arth(n.b);
  col_ = n.column;
  uint16_t jop = n.op == '>' ? c::kJgt : n.op == 'G' ? c::kJge : c::kJeq;
  Cond tst;
  if (a.is_const && b.is_const) {
    const std::optional<vm::Op> jmp = vm::decode(c::kJmp | jop | c::kK);
    const bool v = jmp && vm::jump_taken(*jmp, a.k, b.k);  // vm/semantics.hpp
    tst = uncond(v);
    tst.rel = true;
  } else if (b.is_const && jop == c::kJeq && b.k == 0 && a.s.size() >= 2 &&
             a.s.back().code == (c::kAlu | c::kAnd | c::kK)) {
    // `x & m = 0` is `not (x jset m)` (libpcap's peephole does the same)
    // built as libpcap's first pass sees it (`and #m; jeq #0`), rewritten by the optimiser
    uint32_t m = a.s.back().k;
    tst = test(std::move(a.s), c::kJeq, 0);
    IrBlock& tb = f_.blocks[static_cast<size_t>(tst.entry)];
    tb.rel_eq = true;
    tb.late = IrBlock::kLateJsetRelation;
    tb.late_mask = m;
  } else if (b.is_const && jop == c::kJeq && a.s.size() >= 2 &&
             (a.s.back().code == (c::kAlu | c::kAdd | c::kK) ||
              a.s.back().code == (c::kAlu | c::kSub | c::kK) ||
              a.s.back().code == (c::kAlu | c::kXor | c::kK))) {
    // x + k = c  <=>  x = c - k (mod 2^32); likewise for - and ^
    Insn last = a.s.back();
    a.s.pop_back();
    uint32_t kk = c::op(last.code) == c::kAdd ? b.k - last.k
                  : c::op(last.code) == c::kSub ? b.k + last.k
                                                 : b.k ^ last.k;
    tst = test(std::move(a.s), jop, kk);
    f_.blocks[static_cast<size_t>(tst.entry)].rel_eq = true;
  } else if (b.is_const) {
    tst = test(std::move(a.s), jop, b.k);
    // libpcap tests `A - k == 0` for `=`: its optimiser relates such a test only to the same
    // relation, never to a primitive's `jeq #k` on the same field. Keep the same knowledge, so
    // that exactly the same expressions are found to reject everything.
    if (jop == c::kJeq) f_.blocks[static_cast<size_t>(tst.entry)].rel_eq = true;
  } else {
    uint32_t m = scratch_++;
    if (m >= 16) fail("too many registers needed to evaluate expression");
    std::vector<Insn> s = std::move(b.s);
    s.push_back(ins(c::kSt, m));
    s.insert(s.end(), a.s.begin(), a.s.end());
    s.push_back(ins(c::kLdx | c::kMem, m));
    tst = test(std::move(s), static_cast<uint16_t>(jop | c::kX), 0);
  }
  if (n.negate) tst = not_(tst);
  Cond chk;
  bool has = false;
  if (a.has_check && b.has_check) {
    chk = and_(a.check, b.check);
    has = true;
  } else if (a.has_check) {
    chk = a.check;
    has = true;
  } else if (b.has_check) {
    chk = b.check;
    has = true;
  }
  return has ? and_(chk, tst) : tst;
}

}  // namespace

// ---- public API -------------------------------------------------------------------------------

std::optional<int> linktype_from_name(std::string_view name) {
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
                {"IPV6", kDltIpv6},         {"LINUX_SLL2", kDltLinuxSll2}};
  for (const auto& e : kNames)
    if (s == e.n) return e.v;
  return std::nullopt;
}

bool linktype_supported(int lt) {
  switch (lt) {
    case kDltNull: case kDltEn10mb: case kDltRaw: case kDltRawAlt: case kDltLoop:
    case kDltLinuxSll: case kDltIpv4: case kDltIpv6: case kDltLinuxSll2:
      return true;
  }
  return false;
}

Result<vm::Program> compile_expression(std::string_view expr, const ExprOptions& opts) {
  Diagnostics diags;
  if (!linktype_supported(opts.linktype)) {
    diags.error("link type " + std::to_string(opts.linktype) + " is not supported by the expression compiler");
    return diags;
  }
  ExprAst ast = grammar::parse_expression(expr);
  if (ast.diags.has_errors()) return ast.diags;
  Gen gen(ast, opts);
  try {
    gen.build(ast.root);
  } catch (const GenError& e) {
    diags.error(e.msg, SourceLoc{1, e.column ? e.column : 1, 1});
    diags.attach_source(expr);
    return diags;
  }
  vm::Program prog;
  if (!detail::emit_program(gen.func(), opts.opt_level, &prog.insns, &prog.locs, &diags)) {
    diags.attach_source(expr);
    return diags;
  }
  if (opts.opt_level > 0 && !gen.func().unoptimised_reference &&
      detail::rejects_everything(prog.insns)) {
    diags.error("expression rejects all packets", SourceLoc{1, 1, static_cast<uint32_t>(expr.size() ? expr.size() : 1)});
    diags.attach_source(expr);
    return diags;
  }
  return Result<vm::Program>(std::move(prog), std::move(diags));
}

}  // namespace bpf::compiler
