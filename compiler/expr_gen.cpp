// Meaning of pcap-filter(7) expressions: AST -> IR (compiler/expr_ir.hpp), after libpcap 1.10.3's
// gencode.c, which is the reference for every verdict. This file holds the entry point
// (compile_expression), the node dispatch (gen, gen_other), the IR construction with its patch
// lists (gencode.c's backpatch, merge, gen_and, gen_or, gen_not, gen_true/gen_false) and the
// loads and comparisons every layer builds on (gen_load_a, gen_cmp, gen_mcmp, gen_bcmp,
// gen_abs_offset_varpart), plus the primitives of no one layer (gen_less, gen_greater,
// gen_byteop, gen_broadcast, gen_multicast, gen_inbound_outbound, gen_ifindex). The generator
// state and the map of the other expr_gen_*.cpp files are in compiler/expr_gen.hpp.
//  - tests are emitted in libpcap's order, so that a load that fails on a snapped packet fails
//    on the same path (a failed load rejects the packet even under `not`);
//  - constants that are blocks in libpcap's code stay blocks here when joined to a test (see
//    join), so that the optimiser sees libpcap's graph.
// Tested by tests/expr/expr_diff_test.cpp against pcap_compile + bpf_filter.
#include "compiler/expr_gen.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "compiler/expr.hpp"
#include "compiler/expr_ir.hpp"
#include "grammar/expr_ast.hpp"
#include "vm/insn.hpp"

namespace bpf::compiler {

namespace detail {

namespace {

constexpr uint32_t kAncPktType = 0xfffff004;  // SKF_AD_OFF + SKF_AD_PKTTYPE

// Unresolved edges ("patch lists") are chained through the successor slots themselves, as
// libpcap's backpatching does: a list is the id (block * 2 + which) of its first slot, -1 when
// empty; an unresolved slot holds kChainEnd or kChainLink - (id of the next slot).
constexpr int kChainEnd = -1;
constexpr int kChainLink = -2;

// The block vector of the last compile on this thread, emptied: the next compile's blocks go
// in its storage (a compile's one large allocation otherwise, and the malloc_consolidate it
// triggers). Not kept past kPoolMaxBlocks.
thread_local std::vector<IrBlock> block_pool;
constexpr size_t kPoolMaxBlocks = 1 << 14;
// The statement vectors of the last compiles' blocks, emptied: loads are built in them (a
// compile's other allocations, one or two per block, and their frees). Only small ones are kept,
// at most kPoolMaxBlocks.
thread_local std::vector<std::vector<Insn>> stmts_pool;
constexpr size_t kPoolMaxStmts = 16;

std::vector<Insn> pooled_stmts() {
  if (stmts_pool.empty()) return {};
  std::vector<Insn> v = std::move(stmts_pool.back());
  stmts_pool.pop_back();
  return v;
}
// Gives a finished compile's blocks back (block_pool, stmts_pool).
void recycle_blocks(std::vector<IrBlock>& blocks) {
  if (blocks.capacity() > kPoolMaxBlocks) return;
  for (IrBlock& b : blocks) {
    if (b.stmts.capacity() == 0 || b.stmts.capacity() > kPoolMaxStmts) continue;
    if (stmts_pool.size() >= kPoolMaxBlocks) break;
    b.stmts.clear();
    stmts_pool.push_back(std::move(b.stmts));
  }
  blocks.clear();
  block_pool.swap(blocks);
}

}  // namespace

Gen::Gen(const ExprAst& ast, const ExprOptions& opts, const LowerMode& mode)
    : ast_(ast), opts_(opts), no_set_runs_(mode.no_set_runs) {
  f_.unoptimised_reference = mode.unoptimised;
  init_link();
  // libpcap sets no_optimize for `geneve` (gen_geneve_offsets): its verdicts are those of the
  // unoptimised code from the first primitive on, snapped packets included.
  // The same for `protochain` (gen_protochain): known before the first primitive is lowered,
  // since the lowering keeps the loads that libpcap's optimiser would delete (folds_dead_loads).
  for (const auto& n : ast.nodes)
    if ((n.kind == NodeKind::kOther && n.other == OtherKind::kGeneve) ||
        (n.kind == NodeKind::kId && n.qual.addr == QAddr::kProtochain))
      f_.unoptimised_reference = true;
  f_.blocks.swap(block_pool);
  f_.blocks.clear();
  f_.blocks.reserve(64 + 16 * ast.nodes.size());
}

void Gen::build(int32_t root) {
  Cond c = root < 0 ? const_cond(true) : gen(root);
  if (wlan_ && root >= 0) c = wlan_finish(c);  // offsets computed at run time, PPI's DLT check
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

std::optional<LowerMode> Gen::relower() const {
  if (relower_) return LowerMode{true, {}};  // no sets when unoptimised
  if (set_runs_.empty()) return std::nullopt;
  std::vector<int32_t> more = conflicting_set_runs();
  if (more.empty()) return std::nullopt;
  LowerMode m{false, no_set_runs_};
  m.no_set_runs.insert(m.no_set_runs.end(), more.begin(), more.end());
  std::sort(m.no_set_runs.begin(), m.no_set_runs.end());
  return m;
}

// ---- IR construction ------------------------------------------------------------------------
int Gen::add_ret(uint32_t k) {
  IrBlock& b = f_.blocks.emplace_back();
  b.is_ret = true;
  b.ret_k = k;
  return static_cast<int>(f_.blocks.size() - 1);
}
int& Gen::slot(int id) { return f_.blocks[static_cast<size_t>(id / 2)].succ[id % 2]; }
int Gen::next_of(int v) { return v == kChainEnd ? -1 : kChainLink - v; }
void Gen::patch(int list, int target) {
  while (list >= 0) {
    int& sl = slot(list);
    int nxt = next_of(sl);
    sl = target;
    list = nxt;
  }
}
// Joins two patch lists (their order does not matter: every slot gets the same target). Both
// are walked in step and the longer one is hung at the end of the shorter, so a join costs the
// shorter list's length: a 20,000-term `or` chain is linear, any tree n log n.
int Gen::concat(int a, int b) {
  if (a < 0) return b;
  if (b < 0) return a;
  for (int pa = a, pb = b;;) {
    const int na = next_of(slot(pa));
    if (na < 0) {
      slot(pa) = kChainLink - b;
      return a;
    }
    const int nb = next_of(slot(pb));
    if (nb < 0) {
      slot(pb) = kChainLink - a;
      return b;
    }
    pa = na;
    pb = nb;
  }
}
// Prepends the slot (block, which) to a list.
void Gen::add_exit(int& list, int block, int which) {
  int id = block * 2 + which;
  slot(id) = list < 0 ? kChainEnd : kChainLink - list;
  list = id;
}
Cond Gen::test(std::vector<Insn> stmts, uint16_t jop, uint32_t k) {
  IrBlock& b = f_.blocks.emplace_back();  // built in place
  b.stmts = std::move(stmts);
  b.jcode = static_cast<uint16_t>(c::kJmp | jop);
  b.k = k;
  b.loc = SourceLoc{1, col_ ? col_ : 1, 1};
  Cond cd;
  cd.entry = static_cast<int>(f_.blocks.size() - 1);
  add_exit(cd.t, cd.entry, 0);
  add_exit(cd.f, cd.entry, 1);
  return cd;
}
// libpcap's gen_true/gen_false (gen_uncond): `ld #!v; jeq #0`, a block its optimiser folds.
// A relation of constants is `ld #a; st M; ...; sub x; jeq #0` in libpcap: its value is only
// known constant in the second pass (the first pass does not rewrite statements), and it is
// never the value of a gen_true/gen_false block (rel_eq, rel_own_value).
Cond Gen::materialise(Cond c) {
  if (c.cval < 0) return c;
  Cond t = test({ins(c::kLd | c::kImm, c.cval ? 0u : 1u)}, c::kJeq, 0);
  if (c.rel) {
    IrBlock& tb = f_.blocks[static_cast<size_t>(t.entry)];
    tb.rel_eq = true;
    tb.rel_own_value = true;
    tb.fold_pass = c.stmt_fold ? IrBlock::kFoldAfterBranches : 1;
  }
  return t;
}
// A constant that is a block in libpcap, or `a and false` / `a or true` (which keep a's
// tests), joined to a test is a block here too, so that the optimiser sees libpcap's graph:
// which tests it removes (only those whose two exits end up at one block) and which entry
// statements opt_root keeps decide the loads a snapped packet reaches. Other constant cases
// drop nothing that runs.
Cond Gen::and_(Cond a, Cond b) { return join(a, b, true); }
Cond Gen::or_(Cond a, Cond b) { return join(a, b, false); }
// `a and b` (is_and) or `a or b`: b runs where a's true (and) / false (or) exits led.
Cond Gen::join(Cond a, Cond b, bool is_and) {
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
Cond Gen::not_(Cond a) {
  if (a.cval >= 0) {
    a.cval = 1 - a.cval;
    return a;
  }
  std::swap(a.t, a.f);
  return a;
}

// gen_abs_offset_varpart: `ldx M[reg]` then an indexed load, or an absolute load.
std::vector<Insn> Gen::var_load(int reg, uint32_t sz, uint32_t k) {
  std::vector<Insn> s = pooled_stmts();
  if (reg < 0) {
    s.push_back(ins(c::kLd | sz | c::kAbs, k));
    return s;
  }
  if (wlan_) lib_use(reg);
  s.push_back(ins(c::kLdx | c::kW | c::kMem, static_cast<uint32_t>(reg)));
  s.push_back(ins(c::kLd | sz | c::kInd, k));
  return s;
}
// ---- loads and comparisons (gen_load_a, gen_cmp, gen_mcmp, ...) ----------------------------
std::vector<Insn> Gen::load(Rel rel, uint32_t off, uint32_t size) {
  uint16_t sz = size_code(size);
  switch (rel) {
    case Rel::kLinkHdr: return var_load(reg_linkhdr_, sz, off_linkhdr_ + off);
    case Rel::kLinkPl: return var_load(reg_linkpl_, sz, off_linkpl_ + off_nl_ + off);
    case Rel::kLinkType: return var_load(reg_linktype_, sz, off_linktype_ + off);
    case Rel::kPrevMpls: return var_load(reg_linkpl_, sz, off_linkpl_ + off_nl_ - 4 + off);
    case Rel::kTranIpv4:
      if (reg_linkpl_ >= 0) {
        if (wlan_) lib_use(reg_linkpl_);
        // gen_loadx_iphdrlen with a variable link-layer payload offset.
        return {ins(c::kLdx | c::kW | c::kMem, static_cast<uint32_t>(reg_linkpl_)),
                ins(c::kLd | c::kB | c::kInd, off_linkpl_ + off_nl_),
                ins(c::kAlu | c::kAnd | c::kK, 0xf),
                ins(c::kAlu | c::kLsh | c::kK, 2),
                ins(c::kAlu | c::kAdd | c::kX),
                ins(c::kMisc | c::kTax),
                ins(c::kLd | sz | c::kInd, off_linkpl_ + off_nl_ + off)};
      } else {
        std::vector<Insn> s = pooled_stmts();
        s.push_back(ins(c::kLdx | c::kB | c::kMsh, off_linkpl_ + off_nl_));
        s.push_back(ins(c::kLd | sz | c::kInd, off_linkpl_ + off_nl_ + off));
        return s;
      }
    case Rel::kTranIpv6: return var_load(reg_linkpl_, sz, off_linkpl_ + off_nl_ + 40 + off);
    case Rel::kLlc: return var_load(reg_linkpl_, sz, off_linkpl_ + off);
    case Rel::kLinkPlNosnap: return var_load(reg_linkpl_, sz, off_linkpl_ + off_nl_nosnap_ + off);
  }
  return {};
}
Cond Gen::cmp(Rel rel, uint32_t off, uint32_t size, uint32_t v, uint16_t jop) {
  return test(load(rel, off, size), jop, v);
}
Cond Gen::mcmp(Rel rel, uint32_t off, uint32_t size, uint32_t v, uint32_t mask) {
  if (mask == 0 && folds_dead_loads()) {
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
Cond Gen::bcmp(Rel rel, uint32_t off, const uint8_t* v, uint32_t size) {
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

// The boolean structure (and, or, not) is walked with an explicit stack: a flat list of
// 20,000 `or` terms is a tree that deep, and no pass may recurse as deep as the expression is
// long. Operands are built left to right, as libpcap does (it decides where a snapped packet's
// failing load is).
Cond Gen::gen(int32_t root) {
  const uint32_t saved = col_;
  // kNode: lower a subtree; kJoin: its operands are built, join them (node's and/or/not);
  // kSet: a run of set members (segments_[run]); kJoinOr: `or` the two values on top.
  enum Kind : uint8_t { kNode, kJoin, kSet, kJoinOr };
  struct Item {
    int32_t idx;
    Kind kind;
  };
  std::vector<Item> todo{{root, kNode}};
  std::vector<Cond> vals;
  std::vector<std::vector<int32_t>> runs;
  while (!todo.empty()) {
    const Item it = todo.back();
    todo.pop_back();
    if (it.kind == kSet) {
      vals.push_back(gen_set(runs[static_cast<size_t>(it.idx)]));
      continue;
    }
    const Node& n = ast_.at(it.idx);
    col_ = n.column;
    if (it.kind == kJoinOr) {
      Cond b = vals.back();
      vals.pop_back();
      vals.back() = or_(vals.back(), b);
      continue;
    }
    const bool boolean = n.kind == NodeKind::kAnd || n.kind == NodeKind::kOr || n.kind == NodeKind::kNot;
    if (!boolean) {
      vals.push_back(gen_leaf(n));
      continue;
    }
    if (it.kind == kNode && n.kind == NodeKind::kOr) {
      // an `or` tree holding a long run of addresses or ports: lowered segment by segment,
      // the runs as searches (expr_gen_sets.cpp), joined left to right
      std::vector<OrSegment> segs = or_segments(it.idx);
      if (!segs.empty()) {
        for (size_t i = segs.size(); i-- > 0;) {
          if (i > 0) todo.push_back({it.idx, kJoinOr});
          if (segs[i].members.empty()) {
            todo.push_back({segs[i].node, kNode});
          } else {
            runs.push_back(std::move(segs[i].members));
            todo.push_back({static_cast<int32_t>(runs.size() - 1), kSet});
          }
        }
        continue;
      }
    }
    if (it.kind == kNode) {
      todo.push_back({it.idx, kJoin});
      if (n.kind != NodeKind::kNot) todo.push_back({n.b, kNode});
      todo.push_back({n.a, kNode});
      continue;
    }
    if (n.kind == NodeKind::kNot) {
      vals.back() = not_(vals.back());
      continue;
    }
    Cond b = vals.back();
    vals.pop_back();
    vals.back() = join(vals.back(), b, n.kind == NodeKind::kAnd);
  }
  col_ = saved;
  return vals.back();
}

Cond Gen::gen_leaf(const Node& n) {
  switch (n.kind) {
    case NodeKind::kId: return gen_id(n);
    case NodeKind::kProtoAbbrev: return proto_abbrev(n.qual.proto);
    case NodeKind::kRelation: return gen_relation(n);
    case NodeKind::kOther: return gen_other(n);
    default: fail("syntax error in filter expression");
  }
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
      assert_maxval("byte argument", val, 0xff, n.value_column);  // libpcap 1.11
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
        if (wlan_ && dlt_ != kDltPpp) return wlan_broadcast();
        if (auto c = lan_cast(false)) return *c;
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
        if (wlan_ && dlt_ != kDltPpp) return wlan_multicast();
        if (auto c = lan_cast(true)) return *c;
        if (dlt_ != kDltEn10mb) fail("link-layer multicast filters supported only on ethernet/FDDI/"
                                     "token ring/ARCNET/802.11/ATM LANE/Fibre Channel");
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
      if (auto d = direction_more(out)) return *d;
      Cond b;
      if (dlt_ == kDltLinuxSll) {
        b = cmp(Rel::kLinkHdr, 0, 2, 4 /* LINUX_SLL_OUTGOING */);
      } else if (dlt_ == kDltLinuxSll2) {
        b = cmp(Rel::kLinkHdr, 10, 1, 4);
      } else if (wlan_ && reg_linkhdr_ >= 0) {  // libpcap: relative to the radio header's end
        b = cmp(Rel::kLinkHdr, kAncPktType, 2, 4);
      } else {
        b = test({ins(c::kLd | c::kH | c::kAbs, kAncPktType)}, c::kJeq, 4 /* PACKET_OUTGOING */);
      }
      return out ? b : not_(b);
    }
    case OtherKind::kVlan: return gen_vlan(n);
    case OtherKind::kMpls: return gen_mpls(n);
    case OtherKind::kPppoed: return linktype(kEtPppoed);
    case OtherKind::kPppoes: return gen_pppoes(n);
    case OtherKind::kGeneve: return geneve(n.has_num, n.num);
    case OtherKind::kVxlan: return vxlan(n);
    case OtherKind::kIfindex:
      // LINUX_SLL2 carries the interface index at offset 4; elsewhere libpcap (on Linux) reads
      // the SKF_AD_IFINDEX ancillary field.
      if (dlt_ == kDltLinuxSll2) return cmp(Rel::kLinkHdr, 4, 4, n.num);
      if (wlan_ && reg_linkhdr_ >= 0) return cmp(Rel::kLinkHdr, 0xfffff008u, 4, n.num);
      return test({ins(c::kLd | c::kW | c::kAbs, 0xfffff008u)}, c::kJeq, n.num);
    case OtherKind::kLlc: return gen_llc(n);
    case OtherKind::kPf: fail("'" + n.str + "' is supported only on PF (OpenBSD pflog) link types");
    case OtherKind::kP80211: return gen_p80211(n);
    case OtherKind::kAtm: return gen_atm(n);
  }
  fail("syntax error in filter expression");
}

// Lowers into `gen` (constructed), and again as long as the lowering asks for another mode
// (Gen::relower): at most twice more (sets then 802.11's unoptimised mode, which has no sets).
void lower_with_sets(std::optional<Gen>& gen, const ExprAst& ast, const ExprOptions& opts) {
  gen->build(ast.root);
  for (int again = 0; again < 2; ++again) {
    std::optional<LowerMode> mode = gen->relower();
    if (!mode) return;
    gen.emplace(ast, opts, *mode);
    gen->build(ast.root);
  }
}

bool lower_expression(const ExprAst& ast, const ExprOptions& opts, IrFunc* out, Diagnostics* diags) {
  std::optional<Gen> gen(std::in_place, ast, opts);
  try {
    lower_with_sets(gen, ast, opts);
  } catch (const GenError& e) {
    diags->error(e.msg, SourceLoc{1, e.column ? e.column : 1, 1});
    return false;
  }
  *out = std::move(gen->func());
  return true;
}

}  // namespace detail

// ---- public API -------------------------------------------------------------------------------

Result<vm::Program> compile_expression(std::string_view expr, const ExprOptions& opts) {
  Diagnostics diags;
  if (!linktype_supported(opts.linktype)) {
    diags.error("link type " + std::to_string(opts.linktype) + " is not supported by the expression compiler");
    return diags;
  }
  grammar::ExprAst ast = grammar::parse_expression(expr);
  struct RecycleAst {  // the node storage back to the parser, whatever the exit (after gen)
    grammar::ExprAst& ast;
    ~RecycleAst() { grammar::recycle_expression(std::move(ast)); }
  } recycle_ast{ast};
  if (ast.diags.has_errors()) return ast.diags;  // located by the parser already
  // Positions are byte offsets into `expr` until here (grammar::Node::column): a multi-line
  // expression (-F FILE) gets real lines and columns.
  auto located = [&](Diagnostics& d) -> Diagnostics& {
    d.resolve_offsets(expr);
    d.attach_source(expr);
    return d;
  };
  std::optional<detail::Gen> gen_store(std::in_place, ast, opts);
  struct ReturnBlocks {  // the block storage back to the pools, whatever the exit
    std::optional<detail::Gen>& gen;
    ~ReturnBlocks() { detail::recycle_blocks(gen->func().blocks); }
  } return_blocks{gen_store};
  try {
    detail::lower_with_sets(gen_store, ast, opts);
  } catch (const detail::GenError& e) {
    diags.error(e.msg, SourceLoc{1, e.column ? e.column : 1, 1});
    return located(diags);
  }
  detail::Gen& gen = *gen_store;
  vm::Program prog;
  if (!detail::emit_program(gen.func(), opts.opt_level, &prog.insns, &prog.locs, &diags))
    return located(diags);
  if (opts.opt_level > 0 && !gen.func().unoptimised_reference &&
      detail::rejects_everything(prog.insns)) {
    const size_t first_line = std::min(expr.find('\n'), expr.size());
    diags.error("expression rejects all packets",
                SourceLoc{1, 1, static_cast<uint32_t>(first_line ? first_line : 1)});
    return located(diags);
  }
  if (expr.find('\n') != std::string_view::npos) {
    const LineMap map(expr);
    for (SourceLoc& l : prog.locs)
      if (l.known()) l = map.at(l.column, l.length);
  }
  diags.append(gen.warnings());
  return Result<vm::Program>(std::move(prog), std::move(located(diags)));
}

}  // namespace bpf::compiler
