// The Z3 encoding behind check_equivalence() (see equiv.hpp). The only file that includes Z3.
//
// Inputs shared by both programs: `pkt`, an array from 32-bit offsets to bytes; `caplen` and
// `wirelen`, 32-bit, with caplen <= wirelen and caplen <= max_caplen; for Linux the context
// fields as unknowns of their widths (vm::Context). Each program is encoded from its
// VerifiedProgram in index order, which is a topological order of its acyclic CFG: every
// instruction gets a reach condition and a state (A, X, M[0..15]) that is the merge of what its
// predecessors' edges bring; a merge that is not a single value becomes a fresh constant defined
// by one `ite` chain over the incoming edges, so the formula is linear in the program (edges x
// 18 registers). Every way the program ends (ret, a failing load, division by zero, ifindex or
// hatype without a device) is an exit (condition, value); exits are mutually exclusive and the
// return value is the ite chain over them. The query asks for an input where the two values
// differ (or where one is 0 and the other is not).
//
// The symbolic operations mirror vm/semantics.hpp case by case (cited in place); each witness
// is then confirmed by the interpreter (equiv.cpp), and tests/analysis/equiv_test.cpp checks the
// encoding against vm::evaluate on random programs. z3::exception is caught here: errors leave
// as Diagnostics.
#include <z3++.h>

#include <array>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "analysis/equiv.hpp"
#include "analysis/shared_tails.hpp"
#include "vm/ancillary.hpp"
#include "vm/semantics.hpp"

namespace bpf::analysis::detail {
namespace {

using vm::Op;

// The unknowns both programs see.
struct Inputs {
  z3::context& c;
  z3::expr pkt, caplen, wirelen;
  // Linux context (vm::Context), bit-vectors of the field widths and Booleans.
  z3::expr protocol, pkttype, has_device, ifindex, hatype, mark, queue, rxhash, cpu, vlan_tci,
      vlan_present, vlan_tpid, random, payload_offset, net_offset, has_link_header;
  // Which context fields some program reads (bit i: vm::Ancillary i; kUsesAreas: SKF_NET_OFF and
  // SKF_LL_OFF); the witness keeps vm::Context's defaults elsewhere.
  static constexpr uint32_t kUsesAreas = 1u << 31;
  uint32_t used = 0;
  // nla / nlan past the attributes encoded exactly (see Encoder::nla_find): one unknown per
  // (search, A, X), shared by both programs, and the conditions under which any is reached.
  z3::func_decl nla_tail, nlan_tail;
  std::vector<z3::expr> tails_reached;
  // Shared tails cut off (shared_tails.hpp): one unknown function per class, both programs.
  std::unordered_map<int32_t, z3::func_decl> tail_fns;

  explicit Inputs(z3::context& ctx)
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
};

struct State {
  z3::expr a, x;
  std::vector<z3::expr> mem;
};

struct Load {
  z3::expr ok;     // the load succeeds
  z3::expr value;  // its value (32 bits) when it does
};

class Encoder {
 public:
  // With `tails` and `cuts` (this program's classes in it), every shared tail reached is cut off.
  Encoder(Inputs& in, z3::solver& s, std::string prefix, vm::Target t,
          const SharedTails* tails = nullptr, const std::vector<int32_t>* cuts = nullptr)
      : in_(in), c_(in.c), s_(s), prefix_(std::move(prefix)), t_(t), tails_(tails), cuts_(cuts) {}

  // The program's return value as a 32-bit term.
  z3::expr encode(const vm::VerifiedProgram& p);

 private:
  z3::expr bv(uint64_t v, unsigned bits = 32) { return c_.bv_val(v, bits); }
  // The return value of shared tail `cls` entered with `st`: its class's unknown function of the
  // registers it reads before writing them.
  z3::expr tail(int32_t cls, const State& st) {
    const uint32_t live = tails_->live_in[size_t(cls)];
    z3::expr_vector args(c_);
    z3::sort_vector dom(c_);
    if (live & 1u) args.push_back(st.a);
    if (live & 2u) args.push_back(st.x);
    for (uint32_t j = 0; j < vm::kMemWords; ++j)
      if (live & (4u << j)) args.push_back(st.mem[j]);
    for (unsigned i = 0; i < args.size(); ++i) dom.push_back(c_.bv_sort(32));
    auto it = in_.tail_fns.find(cls);
    if (it == in_.tail_fns.end())
      it = in_.tail_fns.emplace(cls, c_.function(("tail" + std::to_string(cls)).c_str(), dom, c_.bv_sort(32))).first;
    return it->second(args);
  }
  z3::expr zext32(const z3::expr& e) {
    return e.get_sort().bv_size() == 32 ? e : z3::zext(e, 32 - e.get_sort().bv_size());
  }
  z3::expr fresh_bv(const std::string& what) {
    return c_.bv_const((prefix_ + what + std::to_string(counter_++)).c_str(), 32);
  }

  // `size` bytes big-endian at the 32-bit offset `off` (vm::load_be).
  z3::expr read(const z3::expr& off, uint32_t size) {
    z3::expr v = z3::select(in_.pkt, off);
    for (uint32_t i = 1; i < size; ++i) v = z3::concat(v, z3::select(in_.pkt, off + bv(i)));
    return zext32(v);
  }
  // vm::read_checked: [pos, pos + size) within caplen, pos a 64-bit term.
  Load checked(const z3::expr& pos64, uint32_t size) {
    z3::expr ok = z3::ule(pos64 + c_.bv_val(size, 64), z3::zext(in_.caplen, 32));
    return {ok, read(pos64.extract(31, 0), size)};
  }
  // vm::linux_load: the signed 32-bit offset `off` (plain, SKF_NET_OFF, SKF_LL_OFF areas).
  Load linux_load(const z3::expr& off, uint32_t size) {
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
  Load bsd_load(const z3::expr& pos64, uint32_t size) { return checked(pos64, size); }

  // Host-order (little-endian here, as vm::load_host16) 16-bit field at `pos`.
  z3::expr host16(const z3::expr& pos) {
    return zext32(z3::concat(z3::select(in_.pkt, pos + bv(1)), z3::select(in_.pkt, pos)));
  }
  // lib/nlattr.c nla_find (vm::nla_find) from `start` over `rem` bytes (a signed 32-bit term: may
  // be negative), for attribute type `type`. The first kNlaExactSteps attributes are walked
  // exactly (nla_ok, the type test, nla_next's aligned step); a chain that goes on past them
  // ends in `tail`, an unknown that is either 0 or the offset of a well-formed attribute of the
  // type further on in the chain's bytes, at the chain's alignment -- true of the real search,
  // so a proof of equivalence stays a proof; a witness that needs the tail is re-checked by the
  // interpreter like every witness (equiv.cpp).
  z3::expr nla_find(const z3::expr& start, const z3::expr& rem0, const z3::expr& type,
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
  z3::expr nlattr(const z3::expr& a, const z3::expr& x, bool nest) {
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
  z3::expr ancillary(vm::Ancillary id, const State& st, z3::expr& ends) {
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
      case vm::Ancillary::kAluXorX: return st.a ^ st.x;
      case vm::Ancillary::kVlanTag: return zext32(in_.vlan_tci);
      case vm::Ancillary::kVlanTagPresent: return z3::ite(in_.vlan_present, bv(1), bv(0));
      case vm::Ancillary::kPayOffset: return in_.payload_offset;
      case vm::Ancillary::kRandom: return in_.random;
      case vm::Ancillary::kVlanTpid: return zext32(in_.vlan_tpid);
    }
    return bv(0);
  }

  // vm::alu: the new A, and the condition under which the program ends with 0 instead.
  z3::expr alu(vm::AluOp op, const z3::expr& a, const z3::expr& v, z3::expr& fails) {
    fails = c_.bool_val(false);
    switch (op) {
      case vm::AluOp::kAdd: return a + v;
      case vm::AluOp::kSub: return a - v;
      case vm::AluOp::kMul: return a * v;
      case vm::AluOp::kDiv: fails = v == bv(0); return z3::udiv(a, v);
      case vm::AluOp::kMod: fails = v == bv(0); return z3::urem(a, v);
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

  z3::expr compare(vm::CmpOp op, const z3::expr& a, const z3::expr& v) {
    switch (op) {
      case vm::CmpOp::kJeq: return a == v;
      case vm::CmpOp::kJgt: return z3::ugt(a, v);
      case vm::CmpOp::kJge: return z3::uge(a, v);
      case vm::CmpOp::kJset: return (a & v) != bv(0);
    }
    return c_.bool_val(false);
  }

  struct Edge {
    z3::expr cond;
    State st;
  };
  // Merges the incoming edges of an instruction: its reach condition and state.
  std::pair<z3::expr, State> merge(std::vector<Edge>& in);

  Inputs& in_;
  z3::context& c_;
  z3::solver& s_;
  std::string prefix_;
  vm::Target t_;
  const SharedTails* tails_;
  const std::vector<int32_t>* cuts_;
  unsigned counter_ = 0;
};

std::pair<z3::expr, State> Encoder::merge(std::vector<Edge>& edges) {
  if (edges.size() == 1) return {edges[0].cond, edges[0].st};
  z3::expr_vector conds(c_);
  for (const Edge& e : edges) conds.push_back(e.cond);
  const z3::expr reach = c_.bool_const((prefix_ + "reach" + std::to_string(counter_++)).c_str());
  s_.add(reach == z3::mk_or(conds));
  auto merge_one = [&](auto get) -> z3::expr {
    const z3::expr first = get(edges[0].st);
    bool same = true;
    for (size_t i = 1; i < edges.size() && same; ++i) same = z3::eq(get(edges[i].st), first);
    if (same) return first;
    z3::expr chain = get(edges.back().st);
    for (size_t i = edges.size() - 1; i-- > 0;) chain = z3::ite(edges[i].cond, get(edges[i].st), chain);
    const z3::expr v = fresh_bv("m");
    s_.add(v == chain);
    return v;
  };
  State st{merge_one([](const State& s) { return s.a; }),
           merge_one([](const State& s) { return s.x; }), {}};
  for (uint32_t m = 0; m < vm::kMemWords; ++m)
    st.mem.push_back(merge_one([m](const State& s) { return s.mem[m]; }));
  return {reach, st};
}

z3::expr Encoder::encode(const vm::VerifiedProgram& p) {
  const auto dec = p.decoded();
  const size_t n = dec.size();
  std::vector<std::vector<Edge>> incoming(n);
  {
    State st{bv(0), bv(0), {}};
    for (uint32_t m = 0; m < vm::kMemWords; ++m) st.mem.push_back(bv(0));
    incoming[0].push_back({c_.bool_val(true), st});
  }
  std::vector<std::pair<z3::expr, z3::expr>> exits;  // (condition, return value)
  for (size_t i = 0; i < n; ++i) {
    if (incoming[i].empty()) continue;  // unreachable
    auto [live, st] = merge(incoming[i]);
    incoming[i].clear();
    incoming[i].shrink_to_fit();
    if (cuts_ != nullptr && (*cuts_)[i] >= 0) {  // a shared tail: cut off
      exits.emplace_back(live, tail((*cuts_)[i], st));
      continue;
    }
    const vm::DecodedInsn& d = dec[i];
    const vm::OpInfo& oi = vm::info(d.op);
    z3::expr ends = c_.bool_val(false);  // the program ends here (returning end_value)
    z3::expr end_value = bv(0);
    z3::expr taken = c_.bool_val(true);  // conditional jumps: the true edge
    bool is_ret = false;
    const uint32_t size = oi.load_size;
    switch (d.op) {
      case Op::kLdW: case Op::kLdH: case Op::kLdB: {
        if (t_ == vm::Target::kLinux && d.k >= vm::kSkfAdOff) {
          if (auto id = vm::ancillary_for(d.k)) {  // vm::load_abs: the context, not the packet
            z3::expr v = ancillary(*id, st, ends);
            end_value = st.a;
            st.a = v;
            break;
          }
        }
        Load l = t_ == vm::Target::kLinux ? linux_load(bv(d.k), size)
                                          : bsd_load(c_.bv_val(uint64_t{d.k}, 64), size);
        ends = !l.ok;
        st.a = l.value;
        break;
      }
      case Op::kLdWInd: case Op::kLdHInd: case Op::kLdBInd: {
        // vm::load_ind: Linux (int)(X + k) wraps; BSD X + k in 64 bits.
        Load l = t_ == vm::Target::kLinux
                     ? linux_load(st.x + bv(d.k), size)
                     : bsd_load(z3::zext(st.x, 32) + c_.bv_val(uint64_t{d.k}, 64), size);
        ends = !l.ok;
        st.a = l.value;
        break;
      }
      case Op::kLdxMsh: {  // vm::load_msh: a plain byte load, never ancillary
        Load l = t_ == vm::Target::kLinux ? linux_load(bv(d.k), 1)
                                          : bsd_load(c_.bv_val(uint64_t{d.k}, 64), 1);
        ends = !l.ok;
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
        st.a = alu(*vm::alu_op(d.op), st.a, v, ends);
        break;
      }
      case Op::kJa: break;
      case Op::kJeqK: case Op::kJgtK: case Op::kJgeK: case Op::kJsetK:
        taken = compare(*vm::cmp_op(d.op), st.a, bv(d.k));
        break;
      case Op::kJeqX: case Op::kJgtX: case Op::kJgeX: case Op::kJsetX:
        taken = compare(*vm::cmp_op(d.op), st.a, st.x);
        break;
      case Op::kRetK: is_ret = true; end_value = bv(d.k); break;
      case Op::kRetA: is_ret = true; end_value = st.a; break;
      case Op::kRetX: is_ret = true; end_value = st.x; break;
      case Op::kTax: st.x = st.a; break;
      case Op::kTxa: st.a = st.x; break;
    }
    if (is_ret) {
      exits.emplace_back(live, end_value);
      continue;
    }
    z3::expr go = live;
    if (!z3::eq(ends, c_.bool_val(false))) {
      exits.emplace_back(live && ends, end_value);
      go = live && !ends;
    }
    if (oi.has(vm::eff::kCond) && d.jt != d.jf) {
      incoming[d.jt].push_back({go && taken, st});
      incoming[d.jf].push_back({go && !taken, st});
    } else if (d.jt < n) {
      incoming[d.jt].push_back({go, st});
    } else {  // runs off the end: the verifier never allows it; vm::evaluate returns 0
      exits.emplace_back(go, bv(0));
    }
  }
  z3::expr result = bv(0);
  for (size_t i = exits.size(); i-- > 0;) result = z3::ite(exits[i].first, exits[i].second, result);
  const z3::expr r = fresh_bv("result");
  s_.add(r == result);
  return r;
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

}  // namespace

Result<std::optional<Witness>> solve(const vm::VerifiedProgram& a, const vm::VerifiedProgram& b,
                                     const EquivOptions& opts, bool* approximate,
                                     const SharedTails* tails) {
  *approximate = false;
  Diagnostics diags;
  try {
    z3::context c;
    z3::solver s(c, "QF_ABV");
    if (opts.timeout_ms != 0) {
      z3::params p(c);
      p.set("timeout", opts.timeout_ms);
      s.set(p);
    }
    Inputs in(c);
    s.add(z3::ule(in.caplen, in.wirelen));
    s.add(z3::ule(in.caplen, c.bv_val(opts.max_caplen, 32)));
    Encoder ea(in, s, "a_", a.target(), tails, tails ? &tails->a : nullptr);
    Encoder eb(in, s, "b_", b.target(), tails, tails ? &tails->b : nullptr);
    const z3::expr ra = ea.encode(a);
    const z3::expr rb = eb.encode(b);
    const z3::expr zero = c.bv_val(0, 32);
    s.add(opts.exact ? ra != rb : ((ra == zero) != (rb == zero)));
    switch (s.check()) {
      case z3::unsat: return Result<std::optional<Witness>>(std::optional<Witness>{});
      case z3::unknown:
        diags.error("the solver could not decide (" + s.reason_unknown() + ")");
        return diags;
      case z3::sat: break;
    }
    // A readable witness when there is one: small and unsnapped, with the context's defaults
    // where they do not matter; otherwise the first model.
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
          return std::optional<Witness>(extract(s.get_model(), in));
        }
      }
    }
    if (s.check() != z3::sat) {
      diags.error("internal error: the solver lost its model");
      return diags;
    }
    *approximate = !truth(s.get_model(), exact_walk);
    return std::optional<Witness>(extract(s.get_model(), in));
  } catch (const z3::exception& e) {
    diags.error(std::string("solver error: ") + e.msg());
    return diags;
  }
}

}  // namespace bpf::analysis::detail
