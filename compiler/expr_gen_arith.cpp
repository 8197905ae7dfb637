// Arithmetic and relations, after libpcap 1.10.3's gencode.c: `proto[expr:size]` accessors
// (gen_load, gen_loadx_iphdrlen), arithmetic (gen_arth, gen_neg, gen_loadlen, gen_loadi) and
// relations (gen_relation). A value is straight-line statements leaving it in A (with X and
// M[] as temporaries, M[] slots above those `geneve` took), plus the protocol checks that must
// hold before they run; constant sub-expressions are folded with vm/semantics.hpp, and division
// or modulo by zero and shifts above 31 are errors, as in libpcap.
// Tested by tests/expr/expr_diff_test.cpp (relations, accessors, folding and their errors).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "compiler/expr_gen.hpp"
#include "vm/semantics.hpp"

namespace bpf::compiler::detail {

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
  r.check_proto = idx.check_proto;
  r.check_col = idx.check_col;
  if (r.check_proto == QProto::kUndef && proto != QProto::kLink) {
    r.check_proto = proto;
    r.check_col = n.column;
  }
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
    case QProto::kRadio:
      // gen_load: from the start of the packet, on the link types with a radio header but PPI.
      if (opts_.linktype != kDltAvs && opts_.linktype != kDltRadiotap && opts_.linktype != kDltPrism)
        fail("radio information not present in capture");
      break;
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
  if (idx.is_const && opts_.target == vm::Target::kLinux && base + idx.k >= 0x80000000u) {
    col_ = ast_.at(n.a).column;
    fail("offset " + std::to_string(static_cast<int32_t>(base + idx.k)) +
         " is negative: Linux reads negative offsets as its special areas (SKF_AD_OFF, "
         "SKF_NET_OFF, SKF_LL_OFF) and refuses this load; with --target bsd it compiles as "
         "libpcap's program, whose load fails on every packet");
  }
  if (vreg >= 0) {
    lib_use(vreg);
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

// Builds the value of an arithmetic node, without recursion on the expression's length (an
// explicit stack: `len + 1 + 1 ...` with 12,000 terms is a 12,000-deep tree). Constant
// sub-expressions are folded; x*0 and x&0 become 0 only where libpcap's optimiser makes them so
// (folds_dead_loads: dropping the loads of x changes the verdict of a packet on which they fail,
// so at -O0 and where libpcap does not optimise they stay).
Arth Gen::gen_arth(int32_t root) {
  const uint32_t saved = col_;
  struct Item {
    int32_t idx;
    bool children_done;
  };
  std::vector<Item> todo{{root, false}};
  std::vector<Arth> vals;
  while (!todo.empty()) {
    const Item it = todo.back();
    todo.pop_back();
    const Node& n = ast_.at(it.idx);
    col_ = n.column;
    if (n.kind == NodeKind::kBinop || n.kind == NodeKind::kNeg) {
      if (!it.children_done) {
        todo.push_back({it.idx, true});
        if (n.kind == NodeKind::kBinop) todo.push_back({n.b, false});
        todo.push_back({n.a, false});  // a is built before b, as libpcap does
        continue;
      }
      if (n.kind == NodeKind::kNeg) {
        vals.back() = arth_neg(std::move(vals.back()));
        continue;
      }
      Arth b = std::move(vals.back());
      vals.pop_back();
      vals.back() = arth_binop(n, std::move(vals.back()), std::move(b));
      continue;
    }
    vals.push_back(arth_leaf(n));
  }
  col_ = saved;
  return std::move(vals.back());
}

bool Gen::folds_dead_loads() const { return opts_.opt_level > 0 && !f_.unoptimised_reference; }

Arth Gen::arth_leaf(const Node& n) {
  Arth r;
  switch (n.kind) {
    case NodeKind::kNum:
      r.is_const = true;
      r.k = n.num;
      r.s.push_back(ins(c::kLd | c::kImm, n.num));
      return r;
    case NodeKind::kLen:
      r.s.push_back(ins(c::kLd | c::kW | c::kLen));
      return r;
    case NodeKind::kLoad:
      return gen_load(n);
    default:
      fail("syntax error in filter expression");
  }
}

Arth Gen::arth_neg(Arth a) {
  if (a.is_const) {
    Arth r;
    r.is_const = true;
    r.k = *vm::alu(vm::Op::kNeg, a.k, 0, vm::Target::kBsd);
    r.s = {ins(c::kLd | c::kImm, r.k)};
    r.has_check = a.has_check;
    r.check = a.check;
    return r;
  }
  a.s.push_back(ins(c::kAlu | c::kNeg));
  return a;
}

Arth Gen::arth_binop(const Node& n, Arth a, Arth b) {
  Arth r;
  r.stmt_fold = a.stmt_fold || b.stmt_fold;
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
  if (b.is_const && (op == c::kDiv || op == c::kMod) && b.k == 0)
    fail(op == c::kDiv ? "division by zero" : "modulus by zero");
  if ((op == c::kLsh || op == c::kRsh) && b.is_const && b.k > 31)
    fail("shift by more than 31 bits");
  // Protocol checks: the left operand's only. libpcap's gen_arth returns a0 with its checks
  // (a0->b) and drops a1->b, in 1.10.3 and in master, so `ip[2:2] - (tcp[12] & 0xf0) != 0`
  // also accepts packets that are not TCP. tcpdump's verdict is kept; -V says so.
  if (a.has_check) {
    r.check = a.check;
    r.has_check = true;
    r.check_proto = a.check_proto;
    r.check_col = a.check_col;
  }
  if (b.has_check && b.check_proto != QProto::kUndef &&
      (!a.has_check || a.check_proto != b.check_proto)) {
    const std::string what = proto_label(b.check_proto);
    warnings_.warning("libpcap does not check that the packet is " + what +
                          " for the right operand here: this filter also accepts packets that are "
                          "not " + what + ", as tcpdump's does (add `" + proto_name(b.check_proto) +
                          " and` in front to require it)",
                      SourceLoc{1, b.check_col ? b.check_col : col_, 1});
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
    return r;
  }
  if (b.is_const) {
    if (b.k == 0 && (op == c::kMul || op == c::kAnd) && folds_dead_loads()) {
      r.stmt_fold = true;
      r.is_const = true;
      r.k = 0;
      r.s = {ins(c::kLd | c::kImm, 0)};
      return r;
    }
    r.s = std::move(a.s);
    if (!(b.k == 0 && (op == c::kAdd || op == c::kSub || op == c::kOr || op == c::kXor ||
                       op == c::kLsh || op == c::kRsh)))
      r.s.push_back(ins(c::kAlu | op | c::kK, b.k));
    return r;
  }
  // general case: b into M[m], a into A, X = M[m], A op X
  uint32_t m = scratch_++;
  if (m >= 16) fail("too many registers needed to evaluate expression");
  r.s = std::move(b.s);
  r.s.push_back(ins(c::kSt, m));
  r.s.insert(r.s.end(), a.s.begin(), a.s.end());
  r.s.push_back(ins(c::kLdx | c::kMem, m));
  r.s.push_back(ins(c::kAlu | op | c::kX));
  return r;
}

Cond Gen::gen_relation(const Node& n) {
  scratch_ = next_reg_;  // every relation is one self-contained block: M[] slots are reused
  if (wlan_) wlan_relation_begin(n);  // libpcap's registers (expr_gen_wlan.cpp)
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
    tst.stmt_fold = a.stmt_fold || b.stmt_fold;
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
  if (wlan_) {
    // A relation of constants is a block in libpcap: it carries the store of an offset register
    // libpcap gives its last temporary (see wlan_relation_begin).
    if (tst.cval >= 0 && lib_.pending_reg >= 0) tst = materialise(tst);
    wlan_relation_end(tst.entry);
  }
  // libpcap's gen_load reads a relation's packet operand through the index it computed into
  // M[] (IrBlock::rel_own_value); `len` (gen_loadlen) is the primitives' `ld len` value.
  if (!(a.is_const && b.is_const)) {
    IrBlock& tb = f_.blocks[static_cast<size_t>(tst.entry)];
    for (const Insn& i : tb.stmts) {
      const uint16_t cl = c::cls(i.code), m = c::mode(i.code);
      if ((cl == c::kLd || cl == c::kLdx) && (m == c::kAbs || m == c::kInd || m == c::kMsh))
        tb.rel_own_value = true;
    }
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

}  // namespace bpf::compiler::detail
