// Semantics::step() and the witness from a model: see z3_semantics.hpp.
#include "analysis/z3_semantics.hpp"

#include <array>
#include <optional>

#include "vm/semantics.hpp"

namespace bpf::analysis::detail {

using vm::Op;

namespace {
z3::expr negate(const z3::expr& e) {
  if (e.is_true()) return e.ctx().bool_val(false);
  if (e.is_false()) return e.ctx().bool_val(true);
  return !e;
}
std::optional<uint32_t> numeral(const z3::expr& e) {
  uint64_t v = 0;
  if (e.is_numeral() && e.is_numeral_u64(v)) return static_cast<uint32_t>(v);
  return std::nullopt;
}
}  // namespace

Inputs::Inputs(z3::context& ctx)
    : c(ctx),
      pkt(ctx.constant("pkt", ctx.array_sort(ctx.bv_sort(32), ctx.bv_sort(8)))),
      caplen(ctx.bv_const("caplen", 32)),
      wirelen(ctx.bv_const("wirelen", 32)),
      protocol(ctx.bv_const("protocol", 16)),
      pkttype(ctx.bv_const("pkttype", 3)),
      has_device(ctx.bool_const("has_device")),
      ifindex(ctx.bv_const("ifindex", 32)),
      hatype(ctx.bv_const("hatype", 16)),
      mark(ctx.bv_const("mark", 32)),
      queue(ctx.bv_const("queue", 16)),
      rxhash(ctx.bv_const("rxhash", 32)),
      cpu(ctx.bv_const("cpu", 32)),
      vlan_tci(ctx.bv_const("vlan_tci", 16)),
      vlan_present(ctx.bool_const("vlan_present")),
      vlan_tpid(ctx.bv_const("vlan_tpid", 16)),
      random(ctx.bv_const("random", 32)),
      payload_offset(ctx.bv_const("payload_offset", 32)),
      net_offset(ctx.bv_const("net_offset", 32)),
      has_link_header(ctx.bool_const("has_link_header")),
      nla_tail(ctx.function("nla_tail", ctx.bv_sort(32), ctx.bv_sort(32), ctx.bv_sort(32))),
      nlan_tail(ctx.function("nlan_tail", ctx.bv_sort(32), ctx.bv_sort(32), ctx.bv_sort(32))) {}

State initial_state(z3::context& c) {
  State st{c.bv_val(0, 32), c.bv_val(0, 32), {}};
  for (uint32_t m = 0; m < vm::kMemWords; ++m) st.mem.push_back(c.bv_val(0, 32));
  return st;
}

// `size` bytes big-endian at the 32-bit offset `off` (vm::load_be).
z3::expr Semantics::read(const z3::expr& off, uint32_t size) {
  z3::expr v = z3::select(in_.pkt, off);
  for (uint32_t i = 1; i < size; ++i) v = z3::concat(v, z3::select(in_.pkt, off + bv(i)));
  return zext32(v);
}

// vm::read_checked: [pos, pos + size) within caplen, pos a 64-bit term.
Semantics::Load Semantics::checked(const z3::expr& pos64, uint32_t size) {
  z3::expr ok = z3::ule(pos64 + c_.bv_val(size, 64), z3::zext(in_.caplen, 32));
  return {ok, read(pos64.extract(31, 0), size)};
}
// The same at a constant position: caplen >= pos + size.
Semantics::Load Semantics::checked_const(uint64_t pos, uint32_t size) {
  if (pos + size > 0xffffffffull) return {c_.bool_val(false), bv(0)};
  return {z3::uge(in_.caplen, bv(pos + size)), read(bv(pos), size)};
}

// vm::linux_load: the signed 32-bit offset `off` (plain, SKF_NET_OFF, SKF_LL_OFF areas).
Semantics::Load Semantics::linux_load(const z3::expr& off, uint32_t size) {
  if (auto k = numeral(off)) return linux_load_const(*k, size);
  in_.used |= Inputs::kUsesAreas;
  const z3::expr nonneg = z3::sge(off, bv(0));
  const z3::expr net = z3::sge(off, bv(vm::kSkfNetOff));
  const z3::expr ll = z3::sge(off, bv(vm::kSkfLlOff));
  const z3::expr pos = z3::ite(
      nonneg, z3::zext(off, 32),
      z3::ite(net, z3::zext(in_.net_offset, 32) + z3::zext(off - bv(vm::kSkfNetOff), 32),
              z3::zext(off - bv(vm::kSkfLlOff), 32)));
  Load l = checked(pos, size);
  l.ok = l.ok && (nonneg || net || (ll && in_.has_link_header));
  return l;
}
Semantics::Load Semantics::linux_load_const(uint32_t k, uint32_t size) {
  const auto off = static_cast<int32_t>(k);
  if (off >= 0) return checked_const(k, size);
  in_.used |= Inputs::kUsesAreas;
  if (off >= static_cast<int32_t>(vm::kSkfNetOff))
    return checked(z3::zext(in_.net_offset, 32) + c_.bv_val(k - vm::kSkfNetOff, 64), size);
  if (off >= static_cast<int32_t>(vm::kSkfLlOff)) {
    Load l = checked_const(k - vm::kSkfLlOff, size);
    l.ok = l.ok && in_.has_link_header;
    return l;
  }
  return {c_.bool_val(false), bv(0)};
}

// Host-order (little-endian here, as vm::load_host16) 16-bit field at `pos`.
z3::expr Semantics::host16(const z3::expr& pos) {
  return zext32(z3::concat(z3::select(in_.pkt, pos + bv(1)), z3::select(in_.pkt, pos)));
}

// lib/nlattr.c nla_find (vm::nla_find) from `start` over `rem` bytes (a signed 32-bit term: may
// be negative), for attribute type `type`. The first kNlaExactSteps attributes are walked
// exactly (nla_ok, the type test, nla_next's aligned step); a chain that goes on past them
// ends in `tail`, an unknown that is either 0 or the offset of a well-formed attribute of the
// type further on in the chain's bytes, at the chain's alignment -- true of the real search,
// so a proof of equivalence stays a proof; a witness that needs the tail is re-checked by the
// interpreter like every witness (equiv.cpp).
z3::expr Semantics::nla_find(const z3::expr& start, const z3::expr& rem0, const z3::expr& type,
                             const z3::expr& tail) {
  const z3::expr end = start + rem0;  // used only where rem0 >= 4
  std::vector<z3::expr> valid, match, pos;
  z3::expr p = start, rem = rem0;
  for (unsigned i = 0; i < kNlaExactSteps; ++i) {
    const z3::expr len = host16(p);
    valid.push_back(z3::sge(rem, bv(vm::kNlaHdrLen)) && z3::uge(len, bv(vm::kNlaHdrLen)) &&
                    z3::ule(len, rem));
    match.push_back((host16(p + bv(2)) & bv(vm::kNlaTypeMask)) == type);
    pos.push_back(p);
    const z3::expr total = (len + bv(3)) & bv(~3u);
    rem = rem - total;
    p = p + total;
  }
  const z3::expr tlen = host16(tail);
  s_.add(tail == bv(0) ||
         (z3::uge(tail, p) && z3::ule(tail, end) && z3::ule(tail + bv(vm::kNlaHdrLen), end) &&
          ((tail - start) & bv(3)) == bv(0) && z3::uge(tlen, bv(vm::kNlaHdrLen)) &&
          z3::ule(tlen, end - tail) &&
          (host16(tail + bv(2)) & bv(vm::kNlaTypeMask)) == type));
  z3::expr r = tail;
  z3::expr all_pass = c_.bool_val(true);
  for (unsigned i = kNlaExactSteps; i-- > 0;) r = z3::ite(!valid[i], bv(0), z3::ite(match[i], pos[i], r));
  for (unsigned i = 0; i < kNlaExactSteps; ++i) all_pass = all_pass && valid[i] && !match[i];
  in_.tails_reached.push_back(all_pass);
  return r;
}

// bpf_skb_get_nlattr / bpf_skb_get_nlattr_nest (vm::nlattr, vm::nlattr_nest); skb->len is
// caplen.
z3::expr Semantics::nlattr(const z3::expr& a, const z3::expr& x, bool nest) {
  const z3::expr fits = z3::uge(in_.caplen, bv(vm::kNlaHdrLen)) &&
                        z3::ule(a, in_.caplen - bv(vm::kNlaHdrLen));
  if (!nest)
    return z3::ite(fits, nla_find(a, in_.caplen - a, x, in_.nla_tail(a, x)), bv(0));
  const z3::expr outer = host16(a);
  return z3::ite(fits && z3::ule(outer, in_.caplen - a),
                 nla_find(a + bv(vm::kNlaHdrLen), outer - bv(vm::kNlaHdrLen), x,
                          in_.nlan_tail(a, x)),
                 bv(0));
}

// vm::ancillary (Linux).
z3::expr Semantics::ancillary(vm::Ancillary id, const State& st, z3::expr& ends) {
  ends = c_.bool_val(false);
  in_.used |= 1u << static_cast<unsigned>(id);
  switch (id) {
    case vm::Ancillary::kProtocol: return zext32(in_.protocol);
    case vm::Ancillary::kPktType: return zext32(in_.pkttype);
    case vm::Ancillary::kIfIndex: ends = !in_.has_device; return in_.ifindex;
    case vm::Ancillary::kHaType: ends = !in_.has_device; return zext32(in_.hatype);
    case vm::Ancillary::kNlAttr: return nlattr(st.a, st.x, false);
    case vm::Ancillary::kNlAttrNest: return nlattr(st.a, st.x, true);
    case vm::Ancillary::kMark: return in_.mark;
    case vm::Ancillary::kQueue: return zext32(in_.queue);
    case vm::Ancillary::kRxHash: return in_.rxhash;
    case vm::Ancillary::kCpu: return in_.cpu;
    case vm::Ancillary::kAluXorX: {
      z3::expr unused = c_.bool_val(false);
      return alu(vm::AluOp::kXor, st.a, st.x, unused);
    }
    case vm::Ancillary::kVlanTag: return zext32(in_.vlan_tci);
    case vm::Ancillary::kVlanTagPresent: return z3::ite(in_.vlan_present, bv(1), bv(0));
    case vm::Ancillary::kPayOffset: return in_.payload_offset;
    case vm::Ancillary::kRandom: return in_.random;
    case vm::Ancillary::kVlanTpid: return zext32(in_.vlan_tpid);
  }
  return bv(0);
}

// vm::alu: the new A, and the condition under which the program ends with 0 instead. On
// constants, vm::alu itself.
z3::expr Semantics::alu(vm::AluOp op, const z3::expr& a, const z3::expr& v, z3::expr& fails) {
  fails = c_.bool_val(false);
  const auto ka = numeral(a), kv = numeral(v);
  if (kv && (ka || op == vm::AluOp::kNeg)) {
    const auto r = vm::alu(op, ka.value_or(0), *kv, t_);
    if (!r) fails = c_.bool_val(true);
    return bv(r.value_or(0));
  }
  if (kv && *kv == 0) {  // identities: the same term as the operand
    switch (op) {
      case vm::AluOp::kAdd: case vm::AluOp::kSub: case vm::AluOp::kOr: case vm::AluOp::kXor:
      case vm::AluOp::kLsh: case vm::AluOp::kRsh:
        return a;
      default: break;
    }
  }
  if (kv && *kv == 1 && (op == vm::AluOp::kMul || op == vm::AluOp::kDiv)) return a;
  switch (op) {
    case vm::AluOp::kAdd: return a + v;
    case vm::AluOp::kSub: return a - v;
    case vm::AluOp::kMul: return a * v;
    case vm::AluOp::kDiv:
      fails = !kv ? v == bv(0) : c_.bool_val(*kv == 0);  // by a constant: fails or never
      return z3::udiv(a, v);
    case vm::AluOp::kMod:
      fails = !kv ? v == bv(0) : c_.bool_val(*kv == 0);
      return z3::urem(a, v);
    case vm::AluOp::kAnd: return a & v;
    case vm::AluOp::kOr: return a | v;
    case vm::AluOp::kXor: return a ^ v;
    case vm::AluOp::kLsh:
      if (t_ == vm::Target::kLinux) return z3::shl(a, v & bv(31));
      return z3::ite(z3::ult(v, bv(32)), z3::shl(a, v), bv(0));
    case vm::AluOp::kRsh:
      if (t_ == vm::Target::kLinux) return z3::lshr(a, v & bv(31));
      return z3::ite(z3::ult(v, bv(32)), z3::lshr(a, v), bv(0));
    case vm::AluOp::kNeg: return -a;
  }
  return a;
}

// vm::compare; on constants, vm::compare itself.
z3::expr Semantics::compare(vm::CmpOp op, const z3::expr& a, const z3::expr& v) {
  const auto ka = numeral(a), kv = numeral(v);
  if (ka && kv) return c_.bool_val(vm::compare(op, *ka, *kv));
  if (z3::eq(a, v) && op != vm::CmpOp::kJset) return c_.bool_val(op != vm::CmpOp::kJgt);
  switch (op) {
    case vm::CmpOp::kJeq: return a == v;
    case vm::CmpOp::kJgt: return z3::ugt(a, v);
    case vm::CmpOp::kJge: return z3::uge(a, v);
    case vm::CmpOp::kJset: return (a & v) != bv(0);
  }
  return c_.bool_val(false);
}

Effect Semantics::step(const vm::DecodedInsn& d, State& st) {
  const vm::OpInfo& oi = vm::info(d.op);
  Effect e{c_.bool_val(false), bv(0), c_.bool_val(true)};
  const uint32_t size = oi.load_size;
  switch (d.op) {
    case Op::kLdW: case Op::kLdH: case Op::kLdB: {
      if (t_ == vm::Target::kLinux && d.k >= vm::kSkfAdOff) {
        if (auto id = vm::ancillary_for(d.k)) {  // vm::load_abs: the context, not the packet
          z3::expr v = ancillary(*id, st, e.ends);
          e.end_value = st.a;
          st.a = v;
          break;
        }
      }
      Load l = t_ == vm::Target::kLinux ? linux_load_const(d.k, size) : checked_const(d.k, size);
      e.ends = negate(l.ok);
      st.a = l.value;
      break;
    }
    case Op::kLdWInd: case Op::kLdHInd: case Op::kLdBInd: {
      // vm::load_ind: Linux (int)(X + k) wraps; BSD X + k in 64 bits.
      z3::expr unused = c_.bool_val(false);
      Load l = t_ == vm::Target::kLinux
                   ? linux_load(alu(vm::AluOp::kAdd, st.x, bv(d.k), unused), size)
                   : numeral(st.x) ? checked_const(uint64_t{*numeral(st.x)} + d.k, size)
                                   : checked(z3::zext(st.x, 32) + c_.bv_val(uint64_t{d.k}, 64), size);
      e.ends = negate(l.ok);
      st.a = l.value;
      break;
    }
    case Op::kLdxMsh: {  // vm::load_msh: a plain byte load, never ancillary
      Load l = t_ == vm::Target::kLinux ? linux_load_const(d.k, 1) : checked_const(d.k, 1);
      e.ends = negate(l.ok);
      st.x = z3::shl(l.value & bv(0xf), bv(2));
      break;
    }
    case Op::kLdLen: st.a = in_.wirelen; break;
    case Op::kLdxLen: st.x = in_.wirelen; break;
    case Op::kLdImm: st.a = bv(d.k); break;
    case Op::kLdxImm: st.x = bv(d.k); break;
    case Op::kLdMem: st.a = st.mem[d.k]; break;
    case Op::kLdxMem: st.x = st.mem[d.k]; break;
    case Op::kSt: st.mem[d.k] = st.a; break;
    case Op::kStx: st.mem[d.k] = st.x; break;
    case Op::kAddK: case Op::kSubK: case Op::kMulK: case Op::kDivK: case Op::kModK:
    case Op::kAndK: case Op::kOrK: case Op::kXorK: case Op::kLshK: case Op::kRshK:
    case Op::kNeg: case Op::kAddX: case Op::kSubX: case Op::kMulX: case Op::kDivX:
    case Op::kModX: case Op::kAndX: case Op::kOrX: case Op::kXorX: case Op::kLshX:
    case Op::kRshX: {
      const z3::expr v = oi.operand == vm::Operand::kAluX ? st.x : bv(d.k);
      st.a = alu(*vm::alu_op(d.op), st.a, v, e.ends);
      break;
    }
    case Op::kJa: break;
    case Op::kJeqK: case Op::kJgtK: case Op::kJgeK: case Op::kJsetK:
      e.taken = compare(*vm::cmp_op(d.op), st.a, bv(d.k));
      break;
    case Op::kJeqX: case Op::kJgtX: case Op::kJgeX: case Op::kJsetX:
      e.taken = compare(*vm::cmp_op(d.op), st.a, st.x);
      break;
    case Op::kRetK: e.ret = true; e.end_value = bv(d.k); break;
    case Op::kRetA: e.ret = true; e.end_value = st.a; break;
    case Op::kRetX: e.ret = true; e.end_value = st.x; break;
    case Op::kTax: st.x = st.a; break;
    case Op::kTxa: st.a = st.x; break;
  }
  return e;
}

uint64_t num(const z3::model& m, const z3::expr& e) {
  return m.eval(e, true).get_numeral_uint64();
}
bool truth(const z3::model& m, const z3::expr& e) { return m.eval(e, true).is_true(); }

z3::expr_vector to_vector(z3::context& c, const std::vector<z3::expr>& v) {
  z3::expr_vector out(c);
  for (const z3::expr& e : v) out.push_back(e);
  return out;
}

Witness extract(const z3::model& m, const Inputs& in) {
  Witness w;
  const uint32_t caplen = static_cast<uint32_t>(num(m, in.caplen));
  w.wirelen = static_cast<uint32_t>(num(m, in.wirelen));
  w.bytes.resize(caplen);
  for (uint32_t i = 0; i < caplen; ++i)
    w.bytes[i] = static_cast<uint8_t>(num(m, z3::select(in.pkt, in.c.bv_val(i, 32))));
  vm::Context& c = w.ctx;
  vm::Context all;
  all.protocol = static_cast<uint16_t>(num(m, in.protocol));
  all.pkttype = static_cast<uint8_t>(num(m, in.pkttype));
  all.has_device = truth(m, in.has_device);
  all.ifindex = static_cast<uint32_t>(num(m, in.ifindex));
  all.hatype = static_cast<uint16_t>(num(m, in.hatype));
  all.mark = static_cast<uint32_t>(num(m, in.mark));
  all.queue = static_cast<uint16_t>(num(m, in.queue));
  all.rxhash = static_cast<uint32_t>(num(m, in.rxhash));
  all.cpu = static_cast<uint32_t>(num(m, in.cpu));
  all.vlan_tci = static_cast<uint16_t>(num(m, in.vlan_tci));
  all.vlan_present = truth(m, in.vlan_present);
  all.vlan_tpid = static_cast<uint16_t>(num(m, in.vlan_tpid));
  all.random = static_cast<uint32_t>(num(m, in.random));
  all.payload_offset = static_cast<uint32_t>(num(m, in.payload_offset));
  all.net_offset = static_cast<uint32_t>(num(m, in.net_offset));
  all.has_link_header = truth(m, in.has_link_header);
  using A = vm::Ancillary;
  auto used = [&](A a) { return (in.used >> static_cast<unsigned>(a) & 1u) != 0; };
  if (used(A::kProtocol)) c.protocol = all.protocol;
  if (used(A::kPktType)) c.pkttype = all.pkttype;
  if (used(A::kIfIndex) || used(A::kHaType)) c.has_device = all.has_device;
  if (used(A::kIfIndex)) c.ifindex = all.ifindex;
  if (used(A::kHaType)) c.hatype = all.hatype;
  if (used(A::kMark)) c.mark = all.mark;
  if (used(A::kQueue)) c.queue = all.queue;
  if (used(A::kRxHash)) c.rxhash = all.rxhash;
  if (used(A::kCpu)) c.cpu = all.cpu;
  if (used(A::kVlanTag)) c.vlan_tci = all.vlan_tci;
  if (used(A::kVlanTagPresent)) c.vlan_present = all.vlan_present;
  if (used(A::kVlanTpid)) c.vlan_tpid = all.vlan_tpid;
  if (used(A::kRandom)) c.random = all.random;
  if (used(A::kPayOffset)) c.payload_offset = all.payload_offset;
  if ((in.used & Inputs::kUsesAreas) != 0) {
    c.net_offset = all.net_offset;
    c.has_link_header = all.has_link_header;
  }
  return w;
}

void add_input_bounds(z3::solver& s, const Inputs& in, const EquivOptions& opts) {
  s.add(z3::ule(in.caplen, in.wirelen));
  s.add(z3::ule(in.caplen, in.c.bv_val(opts.max_caplen, 32)));
}

std::optional<Witness> readable_witness(z3::solver& s, const Inputs& in, bool* approximate) {
  z3::context& c = in.c;
  const vm::Context def;
  const z3::expr defaults = in.net_offset == c.bv_val(def.net_offset, 32) &&
                            in.has_link_header == c.bool_val(def.has_link_header);
  const std::array<z3::expr, 4> tiers = {
      defaults && in.caplen == in.wirelen && z3::ule(in.wirelen, c.bv_val(64, 32)),
      defaults && in.caplen == in.wirelen && z3::ule(in.wirelen, c.bv_val(1514, 32)),
      defaults && z3::ule(in.wirelen, c.bv_val(1514, 32)),
      defaults};
  // First with every nla/nlan chain ending within the attributes encoded exactly (such a
  // witness is exact), then without.
  const z3::expr exact_walk = !z3::mk_or(to_vector(c, in.tails_reached));
  for (bool walk : {true, false}) {
    for (const z3::expr& t : tiers) {
      z3::expr_vector as(c);
      as.push_back(walk ? t && exact_walk : t);
      if (s.check(as) == z3::sat) {
        *approximate = !truth(s.get_model(), exact_walk);
        return extract(s.get_model(), in);
      }
    }
  }
  if (s.check() != z3::sat) return std::nullopt;
  *approximate = !truth(s.get_model(), exact_walk);
  return extract(s.get_model(), in);
}

}  // namespace bpf::analysis::detail
