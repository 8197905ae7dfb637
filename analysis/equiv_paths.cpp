// The path walk behind check_equivalence() (see equiv.hpp): both programs run side by side on
// one symbolic input, the solver asked only where their results may differ.
//
// Two variants of one filter (-O0 and -O2, ours and libpcap's) test the same things in mostly
// the same order; the merged encoding (equiv_z3.cpp) hides that from the solver behind its
// merge constants, and long walks over packet-indexed offsets (protochain's 32 headers, geneve's
// options) then take it minutes. Here both programs are executed together over Z3 terms
// (z3_semantics.cpp: Z3 hash-conses terms, so an equal computation in both programs is one
// term). Each program runs until a condition (a jump, a load that may fail) that the facts of
// the path do not decide; the walk then splits on it. Facts are the conditions taken on the
// path, with unsigned ranges and excluded values for `term op constant` conditions (so after
// `A == 0x800` the other program's `A == 0x86dd` is decided false, and after `caplen >= 24`
// its `caplen >= 14` true): the other program's same test is decided without a split.
// A node is a place -- (pc A, pc B), and the result of a program that has returned -- and the
// paths that reach one place are joined there (conditions or-ed, facts intersected, every live
// register that differs a fresh constant defined by an ite chain over the paths' conditions,
// one constant for both programs where both hold the same values, so that what follows stays
// one term in both). Nodes are expanded in increasing pc A + pc B (every step moves a pc
// forward: both programs are acyclic), so every path into a place arrives before it is
// expanded, and there are at most (|A| + 1)(|B| + 1) places per pair of results.
// Where both programs have returned (a leaf, decided as soon as it is reached, unjoined), the
// results are compared: the same term (or, for verdicts, constants of the same truth) is a
// proof for the leaf's inputs; otherwise the solver
// is asked for an input of the node's condition on which they differ -- unsat is a proof, sat a
// witness (confirmed by the interpreter in equiv.cpp). The nodes' conditions partition the
// inputs, so when every leaf is proved the programs are equivalent. Measured with
// `bpfc --equiv` (loaded machine): protochain -O0 against -O2 14.7 s -> 0.47 s, libpcap's
// `geneve and port 53` against ours undecided in 3 s -> 0.33 s, both without a solver call.
// Bounded: at most `budget` instruction steps plus facts copied (programs of thousands of
// instructions whose walks do not run in step); past it, or when the solver answers unknown,
// the walk gives up (nullopt) and equiv.cpp goes on with the merged encoding.
// Tested in tests/analysis/equiv_test.cpp (PathWalk: pairs known equal and known to differ
// that the walk decides, and every pair of the other tests through it too).
#include <z3++.h>

#include <chrono>
#include <map>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "analysis/equiv.hpp"
#include "analysis/shared_tails.hpp"
#include "analysis/z3_semantics.hpp"

namespace bpf::analysis::detail {
namespace {

// What the path knows: conditions by AST id, and for `term op constant` conditions the term's
// unsigned range and excluded values. Z3 reuses the ids of freed terms: every term whose id is
// kept is kept alive in `keep` (the walk's).
class Facts {
 public:
  explicit Facts(std::vector<z3::expr>* keep) : keep_(keep) {}

  // The value of `c` when the facts decide it.
  std::optional<bool> decide(const z3::expr& c) const {
    if (c.is_true()) return true;
    if (c.is_false()) return false;
    if (auto it = known_.find(c.id()); it != known_.end()) return it->second;
    if (!c.is_app()) return std::nullopt;
    const Z3_decl_kind k = c.decl().decl_kind();
    if (k == Z3_OP_NOT) {
      if (auto v = decide(c.arg(0))) return !*v;
      return std::nullopt;
    }
    if (k == Z3_OP_DISTINCT && c.num_args() == 2) {
      if (auto v = decide(c.arg(0) == c.arg(1))) return !*v;
      return std::nullopt;
    }
    if (k == Z3_OP_EQ && z3::eq(c.arg(0), c.arg(1))) return true;
    if (k == Z3_OP_AND || k == Z3_OP_OR) {  // decided when one argument decides it, or all do
      const bool is_and = k == Z3_OP_AND;
      bool all = true;
      for (unsigned i = 0; i < c.num_args(); ++i) {
        const auto v = decide(c.arg(i));
        if (v && *v != is_and) return !is_and;
        all = all && v.has_value();
      }
      if (all) return is_and;
      return std::nullopt;
    }
    const auto cmp = comparison(c);
    if (!cmp) return std::nullopt;
    const Range r = range(cmp->term);
    const uint64_t v = cmp->value;
    switch (cmp->op) {
      case Cmp::kEq:
        if (v < r.lo || v > r.hi || r.excluded(v)) return false;
        if (r.lo == r.hi) return true;
        return std::nullopt;
      case Cmp::kGe:
        if (r.lo >= v) return true;
        if (r.hi < v) return false;
        return std::nullopt;
      case Cmp::kLe:
        if (r.hi <= v) return true;
        if (r.lo > v) return false;
        return std::nullopt;
    }
    return std::nullopt;
  }

  // Adds `c` = `value`; false when that contradicts the facts (the path does not exist).
  bool assume(const z3::expr& c, bool value) {
    if (auto v = decide(c)) return *v == value;
    keep_->push_back(c);
    known_[c.id()] = value;
    if (!c.is_app()) return true;
    const Z3_decl_kind k = c.decl().decl_kind();
    if (k == Z3_OP_NOT) return assume(c.arg(0), !value);
    if (k == Z3_OP_DISTINCT && c.num_args() == 2) return assume(c.arg(0) == c.arg(1), !value);
    if ((k == Z3_OP_AND && value) || (k == Z3_OP_OR && !value)) {
      for (unsigned i = 0; i < c.num_args(); ++i)
        if (!assume(c.arg(i), value)) return false;
      return true;
    }
    const auto cmp = comparison(c);
    if (!cmp) return true;
    Range r = range(cmp->term);
    const uint64_t v = cmp->value;
    switch (cmp->op) {
      case Cmp::kEq:
        if (value) {
          r.lo = r.hi = v;
        } else {
          r.out.push_back(v);
        }
        break;
      case Cmp::kGe:  // term >= v, or term < v
        if (value) r.lo = std::max(r.lo, v);
        else if (v == 0) return false;
        else r.hi = std::min(r.hi, v - 1);
        break;
      case Cmp::kLe:  // term <= v, or term > v
        if (value) r.hi = std::min(r.hi, v);
        else if (v == cmp->max) return false;
        else r.lo = std::max(r.lo, v + 1);
        break;
    }
    while (r.lo <= r.hi && r.excluded(r.lo) && r.lo < r.hi) ++r.lo;
    while (r.lo <= r.hi && r.excluded(r.hi) && r.lo < r.hi) --r.hi;
    if (r.lo > r.hi || (r.lo == r.hi && r.excluded(r.lo))) return false;
    keep_->push_back(cmp->term);
    ranges_[cmp->term.id()] = std::move(r);
    return true;
  }

  // Keeps only what both know (paths merging into one node).
  void intersect(const Facts& o) {
    for (auto it = known_.begin(); it != known_.end();) {
      auto jt = o.known_.find(it->first);
      it = jt == o.known_.end() || jt->second != it->second ? known_.erase(it) : std::next(it);
    }
    for (auto it = ranges_.begin(); it != ranges_.end();) {
      auto jt = o.ranges_.find(it->first);
      if (jt == o.ranges_.end()) {
        it = ranges_.erase(it);
        continue;
      }
      Range& r = it->second;
      const Range& q = jt->second;
      r.lo = std::min(r.lo, q.lo);
      r.hi = std::max(r.hi, q.hi);
      std::vector<uint64_t> out;
      for (uint64_t x : r.out)
        if (q.excluded(x)) out.push_back(x);
      r.out = std::move(out);
      ++it;
    }
  }

  size_t size() const { return known_.size() + ranges_.size(); }

 private:
  struct Range {
    uint64_t lo = 0, hi = ~uint64_t{0};
    std::vector<uint64_t> out;  // values it is known not to have
    bool excluded(uint64_t v) const { return std::find(out.begin(), out.end(), v) != out.end(); }
  };
  enum class Cmp { kEq, kGe, kLe };
  struct Comparison {
    z3::expr term;
    Cmp op;
    uint64_t value, max;
  };
  // `term op constant` (either side constant; ugt / ult as ge / le of the next value).
  static std::optional<Comparison> comparison(const z3::expr& c) {
    if (!c.is_app() || c.num_args() != 2 || !c.arg(0).is_bv()) return std::nullopt;
    const Z3_decl_kind k = c.decl().decl_kind();
    z3::expr l = c.arg(0), r = c.arg(1);
    uint64_t v = 0;
    bool flip = false;
    if (r.is_numeral() && r.is_numeral_u64(v)) {
    } else if (l.is_numeral() && l.is_numeral_u64(v)) {
      flip = true;
      std::swap(l, r);
    } else {
      return std::nullopt;
    }
    const unsigned bits = l.get_sort().bv_size();
    if (bits > 64) return std::nullopt;
    const uint64_t max = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
    switch (k) {
      case Z3_OP_EQ: return Comparison{l, Cmp::kEq, v, max};
      case Z3_OP_UGEQ: case Z3_OP_ULEQ: {  // l >= v (or v >= l: l <= v)
        const bool ge = (k == Z3_OP_UGEQ) != flip;
        return Comparison{l, ge ? Cmp::kGe : Cmp::kLe, v, max};
      }
      case Z3_OP_UGT: case Z3_OP_ULT: {  // l > v is l >= v + 1; l < v is l <= v - 1
        const bool gt = (k == Z3_OP_UGT) != flip;
        if (gt) {
          if (v == max) return std::nullopt;  // never true: left to the solver
          return Comparison{l, Cmp::kGe, v + 1, max};
        }
        if (v == 0) return std::nullopt;
        return Comparison{l, Cmp::kLe, v - 1, max};
      }
      default: return std::nullopt;
    }
  }
  Range range(const z3::expr& t) const {
    auto it = ranges_.find(t.id());
    return it == ranges_.end() ? Range{} : it->second;
  }

  std::vector<z3::expr>* keep_;
  std::unordered_map<unsigned, bool> known_;
  std::unordered_map<unsigned, Range> ranges_;
};

// One program's position on a path: the next instruction (prog.size() when it has returned)
// and its registers, or its result.
struct Side {
  uint32_t pc = 0;
  State st;
  std::optional<z3::expr> result;
};

struct Node {
  Side a, b;
  z3::expr cond;
  Facts facts;
};

class Walk {
 public:
  Walk(Inputs& in, z3::solver& s, const vm::VerifiedProgram& a, const vm::VerifiedProgram& b,
       const EquivOptions& opts, uint64_t budget)
      : in_(in), c_(in.c), s_(s), opts_(opts), budget_(budget),
        prog_{a.decoded(), b.decoded()},
        sem_{Semantics(in, s, a.target()), Semantics(in, s, b.target())} {
    for (int side = 0; side < 2; ++side) live_[side] = liveness(prog_[side], a.target());
  }

  // nullopt: undecided; else as solve().
  std::optional<std::optional<Witness>> run(bool* approximate,
                                            std::chrono::steady_clock::time_point deadline);

 private:
  static std::vector<uint32_t> liveness(std::span<const vm::DecodedInsn> p, vm::Target t) {
    std::vector<uint32_t> live(p.size() + 1, 0);
    for (size_t i = p.size(); i-- > 0;) {
      const vm::DecodedInsn& d = p[i];
      const vm::OpInfo& oi = vm::info(d.op);
      uint32_t reads = 0, writes = 0;
      register_effects(d, t, reads, writes);
      uint32_t after = 0;
      if (!oi.has(vm::eff::kRet)) {
        after |= live[std::min<size_t>(d.jt, p.size())];
        if (oi.has(vm::eff::kCond)) after |= live[std::min<size_t>(d.jf, p.size())];
      }
      live[i] = reads | (after & ~writes);
    }
    return live;
  }

  // Runs side `s` while the facts decide its way; false when the budget is spent.
  bool advance(int s, Side& side, const Facts& f) {
    const auto& p = prog_[s];
    while (!side.result) {
      if (++steps_ > budget_) return false;
      if (side.pc >= p.size()) {  // runs off the end: never verified; vm::evaluate returns 0
        side.result = c_.bv_val(0, 32);
        break;
      }
      const vm::DecodedInsn& d = p[side.pc];
      State st = side.st;
      const Effect e = sem_[s].step(d, st);
      if (e.ret) {
        side.result = e.end_value;
        break;
      }
      const auto ends = f.decide(e.ends);
      if (!ends) return true;  // a split
      if (*ends) {
        side.result = e.end_value;
        break;
      }
      if (vm::info(d.op).has(vm::eff::kCond) && d.jt != d.jf) {
        const auto taken = f.decide(e.taken);
        if (!taken) return true;
        side.pc = *taken ? d.jt : d.jf;
      } else {
        side.pc = d.jt;
      }
      side.st = std::move(st);
    }
    side.pc = static_cast<uint32_t>(p.size());
    return true;
  }

  // The place of a node: the pcs, and the results of the programs that have returned.
  static std::vector<unsigned> key(const Node& n) {
    std::vector<unsigned> k;
    for (const Side* side : {&n.a, &n.b}) {
      k.push_back(side->pc);
      if (side->result) k.push_back(side->result->id());
    }
    return k;
  }

  // Advances a new node and queues it at its place, where it joins the others there.
  // A node where both have returned is a leaf, decided at once (its own condition, not the
  // or of every path ending alike: a witness comes early, a query stays small). False when the
  // walk stops: the budget or time is spent, or a witness is in found_.
  bool add(Node n) {
    if (!advance(0, n.a, n.facts) || !advance(1, n.b, n.facts)) return false;
    steps_ += n.facts.size();
    if (steps_ > budget_) return false;
    if (n.a.result && n.b.result) {
      std::optional<Witness> w;
      const auto proved = leaf(n, &w, approximate_, deadline_);
      if (proved && !*proved) found_ = std::move(w);
      return proved.value_or(false);
    }
    std::vector<unsigned> k = key(n);
    auto it = index_.find(k);
    if (it != index_.end()) {
      slots_[it->second].push_back(std::move(n));
      return true;
    }
    const uint64_t order = uint64_t{n.a.pc} + n.b.pc;
    index_.emplace(std::move(k), slots_.size());
    queue_.emplace(order, slots_.size());
    slots_.emplace_back();
    slots_.back().push_back(std::move(n));
    return true;
  }

  // The paths that reached one place as one node: conditions or-ed, facts intersected, and each
  // live register that differs between them a fresh constant defined by an ite chain over the
  // paths' conditions -- one constant for both programs where they hold the same values, so
  // that what follows stays the same term in both.
  Node join(std::vector<Node>& in) {
    if (in.size() == 1) return std::move(in[0]);
    Node out = std::move(in[0]);
    z3::expr_vector conds(c_);
    conds.push_back(out.cond);
    for (size_t i = 1; i < in.size(); ++i) {
      conds.push_back(in[i].cond);
      out.facts.intersect(in[i].facts);
    }
    std::map<std::vector<unsigned>, z3::expr> made;
    auto merge = [&](auto get) {
      std::vector<unsigned> ids;
      bool same = true;
      for (size_t i = 0; i < in.size(); ++i) {
        const z3::expr& v = i == 0 ? get(out) : get(in[i]);
        ids.push_back(v.id());
        same = same && ids.back() == ids.front();
      }
      if (same) return;
      auto it = made.find(ids);
      if (it == made.end()) {
        z3::expr chain = get(in.back());
        for (size_t i = in.size() - 1; i-- > 0;) chain = z3::ite(conds[int(i)], i == 0 ? get(out) : get(in[i]), chain);
        const z3::expr m = c_.bv_const(("j" + std::to_string(joins_++)).c_str(), 32);
        s_.add(m == chain);
        it = made.emplace(std::move(ids), m).first;
      }
      get(out) = it->second;
    };
    for (int s = 0; s < 2; ++s) {
      if ((s ? out.b : out.a).result) continue;
      const uint32_t live = live_[s][(s ? out.b : out.a).pc];
      auto side = [s](Node& n) -> Side& { return s ? n.b : n.a; };
      if (live & 1u) merge([&](Node& n) -> z3::expr& { return side(n).st.a; });
      if (live & 2u) merge([&](Node& n) -> z3::expr& { return side(n).st.x; });
      for (uint32_t j = 0; j < vm::kMemWords; ++j)
        if (live & (4u << j)) merge([&, j](Node& n) -> z3::expr& { return side(n).st.mem[j]; });
    }
    out.cond = z3::mk_or(conds);
    return out;
  }

  // Both returned: true when proved equal for the node's inputs; a witness candidate in *w.
  std::optional<bool> leaf(const Node& n, std::optional<Witness>* w, bool* approximate,
                           std::chrono::steady_clock::time_point deadline);

  Inputs& in_;
  z3::context& c_;
  z3::solver& s_;
  const EquivOptions& opts_;
  uint64_t budget_, steps_ = 0;
  std::span<const vm::DecodedInsn> prog_[2];
  Semantics sem_[2];
  std::vector<uint32_t> live_[2];
  std::vector<z3::expr> keep_;  // every term whose id some Facts holds
  bool* approximate_ = nullptr;
  std::chrono::steady_clock::time_point deadline_;
  std::optional<Witness> found_;
  std::vector<std::vector<Node>> slots_;  // per place, the paths that reached it
  std::map<std::vector<unsigned>, size_t> index_;
  unsigned joins_ = 0;
  std::priority_queue<std::pair<uint64_t, size_t>, std::vector<std::pair<uint64_t, size_t>>,
                      std::greater<>> queue_;
};

std::optional<bool> Walk::leaf(const Node& n, std::optional<Witness>* w, bool* approximate,
                               std::chrono::steady_clock::time_point deadline) {
  const z3::expr& ra = *n.a.result;
  const z3::expr& rb = *n.b.result;
  if (z3::eq(ra, rb)) return true;
  uint64_t ka = 0, kb = 0;
  if (!opts_.exact && ra.is_numeral() && rb.is_numeral() && ra.is_numeral_u64(ka) &&
      rb.is_numeral_u64(kb) && (ka == 0) == (kb == 0))
    return true;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now()).count();
  if (left <= 0) return std::nullopt;
  z3::params p(c_);
  p.set("timeout", static_cast<unsigned>(left));
  s_.set(p);
  const z3::expr zero = c_.bv_val(0, 32);
  s_.push();
  s_.add(n.cond);
  s_.add(opts_.exact ? ra != rb : ((ra == zero) != (rb == zero)));
  std::optional<bool> out;
  switch (s_.check()) {
    case z3::unsat: out = true; break;
    case z3::unknown: break;
    case z3::sat:
      *w = readable_witness(s_, in_, approximate);
      if (*w) out = false;
      break;
  }
  s_.pop();
  return out;
}

std::optional<std::optional<Witness>> Walk::run(bool* approximate,
                                                std::chrono::steady_clock::time_point deadline) {
  approximate_ = approximate;
  deadline_ = deadline;
  Node root{{0, initial_state(c_), {}}, {0, initial_state(c_), {}}, c_.bool_val(true),
            Facts(&keep_)};
  auto stop = [&]() -> std::optional<std::optional<Witness>> {
    if (found_) return std::optional<Witness>(std::move(*found_));
    return std::nullopt;
  };
  if (!add(std::move(root))) return stop();
  while (!queue_.empty()) {
    const size_t id = queue_.top().second;
    queue_.pop();
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    index_.erase(key(slots_[id].front()));
    Node n = join(slots_[id]);
    slots_[id].clear();
    slots_[id].shrink_to_fit();
    // Split on the condition where the first side still running stopped.
    const int s = n.a.result ? 1 : 0;
    Side& side = s ? n.b : n.a;
    const vm::DecodedInsn& d = prog_[s][side.pc];
    State st = side.st;
    const Effect e = sem_[s].step(d, st);
    const bool on_end = !n.facts.decide(e.ends).has_value();
    const z3::expr c = on_end ? e.ends : e.taken;
    for (bool value : {true, false}) {
      Node child{n.a, n.b, value ? n.cond && c : n.cond && !c, n.facts};
      if (!child.facts.assume(c, value)) continue;  // the facts rule this side out
      Side& cs = s ? child.b : child.a;
      if (on_end && value) {
        cs.result = e.end_value;
        cs.pc = static_cast<uint32_t>(prog_[s].size());
      } else {
        cs.st = st;
        cs.pc = on_end ? d.jt : value ? d.jt : d.jf;
      }
      if (!add(std::move(child))) return stop();
    }
  }
  return std::optional<Witness>{};  // every leaf proved
}

}  // namespace

std::optional<std::optional<Witness>> solve_paths(const vm::VerifiedProgram& a,
                                                  const vm::VerifiedProgram& b,
                                                  const EquivOptions& opts, bool* approximate,
                                                  uint64_t budget, unsigned timeout_ms) {
  *approximate = false;
  try {
    z3::context c;
    z3::solver s(c);
    Inputs in(c);
    add_input_bounds(s, in, opts);
    Walk walk(in, s, a, b, opts, budget);
    return walk.run(approximate,
                    std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms));
  } catch (const z3::exception&) {
    return std::nullopt;  // the merged encoding reports it
  }
}

}  // namespace bpf::analysis::detail
