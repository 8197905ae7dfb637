// The merged encoding behind check_equivalence() (see equiv.hpp): both whole programs in one
// formula.
//
// Each program is encoded from its VerifiedProgram in index order, which is a topological order
// of its acyclic CFG: every instruction gets a reach condition and a state (A, X, M[0..15]) that
// is the merge of what its predecessors' edges bring; a merge that is not a single value becomes
// a fresh constant defined by one `ite` chain over the incoming edges, so the formula is linear
// in the program (edges x 18 registers). Every way the program ends (ret, a failing load,
// division by zero, ifindex or hatype without a device) is an exit (condition, value); exits are
// mutually exclusive and the return value is the ite chain over them. The query asks for an
// input where the two values differ (or where one is 0 and the other is not). What one
// instruction does is z3_semantics.cpp's (mirroring vm/semantics.hpp); each witness is then
// confirmed by the interpreter (equiv.cpp), and tests/analysis/equiv_test.cpp checks the
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
#include "analysis/z3_semantics.hpp"

namespace bpf::analysis::detail {
namespace {

using vm::Op;

class Encoder {
 public:
  // With `tails` and `cuts` (this program's classes in it), every shared tail reached is cut off.
  Encoder(Inputs& in, z3::solver& s, std::string prefix, vm::Target t,
          const SharedTails* tails = nullptr, const std::vector<int32_t>* cuts = nullptr)
      : in_(in), c_(in.c), s_(s), sem_(in, s, t), prefix_(std::move(prefix)), tails_(tails),
        cuts_(cuts) {}

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
  z3::expr fresh_bv(const std::string& what) {
    return c_.bv_const((prefix_ + what + std::to_string(counter_++)).c_str(), 32);
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
  Semantics sem_;
  std::string prefix_;
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
  incoming[0].push_back({c_.bool_val(true), initial_state(c_)});
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
    const Effect e = sem_.step(d, st);
    if (e.ret) {
      exits.emplace_back(live, e.end_value);
      continue;
    }
    z3::expr go = live;
    if (!e.ends.is_false()) {
      exits.emplace_back(live && e.ends, e.end_value);
      go = live && !e.ends;
    }
    if (oi.has(vm::eff::kCond) && d.jt != d.jf) {  // a constant condition takes one edge
      if (!e.taken.is_false()) incoming[d.jt].push_back({go && e.taken, st});
      if (!e.taken.is_true()) incoming[d.jf].push_back({go && !e.taken, st});
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
    add_input_bounds(s, in, opts);
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
    if (auto w = readable_witness(s, in, approximate)) return std::optional<Witness>(std::move(*w));
    diags.error("internal error: the solver lost its model");
    return diags;
  } catch (const z3::exception& e) {
    diags.error(std::string("solver error: ") + e.msg());
    return diags;
  }
}

}  // namespace bpf::analysis::detail
