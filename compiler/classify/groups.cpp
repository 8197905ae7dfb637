// Rule groups (compiler/classify/groups.hpp): the classifier's cross-rule searches.
// Rules of one shape that differ only in a constant (`tcp port 22`, `tcp port 80`, ...; wherever
// they are in the rule list) are evaluated together, once, where the first of them stands:
//  - a rule's "sites" are its tests `jeq #P` whose true exit accepts (for `tcp port P`: the
//    source port test, whose false exit goes on to the destination port test, and that one);
//    a rule is groupable when all its sites compare with one constant P; two rules are in one
//    group when their graphs, sites' constants left out, are equal (a canonical depth-first
//    serialisation, the signature);
//  - the group's evaluation is the first member's graph, each site replaced by a search (jge
//    splits, jeq at the leaves) over the members' constants: member r found at a site accepts
//    (its graph's true exit is `accept`), so the group's result becomes min(result, r); the
//    members not found follow the site's false exit, as in their own graphs; a path that
//    reaches the accepting leaf otherwise accepts every member still on it, the first member
//    first. The first member's own number returns at once; any other result goes to M[slot]
//    (0: none), and the place of each later member is `ld M[slot]; jeq #number`. That is exact
//    because the rules between are evaluated in order in between: a later member is reached
//    only when no rule before it matched, and it matches exactly when it is the group's first
//    match;
//  - the evaluation's loads are guarded like any rule's (guards.cpp), failing to `next`.
// Searches over the members' constants are built here rather than with the expression
// compiler's (Gen::search, expr_gen_sets.cpp): those search a set for one boolean, these end
// in one leaf per member. Blocks that read A or M[] left by another are opaque (expr_ir.hpp).
// Tested by tests/expr/classify_diff_test.cpp (first match against libpcap's; the group counts
// and the program sizes are printed).
#include "compiler/classify/groups.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "compiler/classify/guards.hpp"
#include "vm/insn.hpp"

namespace bpf::compiler::detail {

namespace {

namespace c = vm::code;
using vm::Insn;

constexpr size_t kMaxGroup = 256;  // members per group (the search leaves grow with it)
constexpr size_t kChain = 3;      // a search tests up to this many values in a row

bool is_site(const IrFunc& f, const IrBlock& b) {
  if (b.is_ret || b.opaque || b.jcode != (c::kJmp | c::kJeq | c::kK) || b.rel_eq ||
      b.late != IrBlock::kNotLate || b.fold_pass != 0)
    return false;
  const IrBlock& t = f.blocks[static_cast<size_t>(b.succ[0])];
  return t.is_ret && t.ret_k != 0;
}

void put(std::string& s, uint32_t v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// The signature of a rule's graph and the constant of its sites; false when not groupable.
bool signature(const IrFunc& f, std::string* sig, uint32_t* value) {
  if (f.unoptimised_reference || f.entry < 0) return false;
  std::vector<int> id(f.blocks.size(), -1);
  std::vector<int> order;
  std::vector<int> stack{f.entry};
  while (!stack.empty()) {  // preorder, true exit first
    const int b = stack.back();
    stack.pop_back();
    if (id[static_cast<size_t>(b)] >= 0) continue;
    id[static_cast<size_t>(b)] = static_cast<int>(order.size());
    order.push_back(b);
    const IrBlock& bb = f.blocks[static_cast<size_t>(b)];
    if (!bb.is_ret) {
      stack.push_back(bb.succ[1]);
      stack.push_back(bb.succ[0]);
    }
  }
  bool have = false;
  for (const int b : order) {
    const IrBlock& bb = f.blocks[static_cast<size_t>(b)];
    if (bb.is_ret) {
      sig->push_back(bb.ret_k ? 'A' : 'R');
      continue;
    }
    sig->push_back('B');
    put(*sig, static_cast<uint32_t>(bb.stmts.size()));
    for (const Insn& i : bb.stmts) {
      put(*sig, i.code);
      put(*sig, i.k);
    }
    put(*sig, bb.jcode);
    put(*sig, (bb.opaque ? 1u : 0u) | (bb.rel_eq ? 2u : 0u) | (uint32_t{bb.late} << 2) | (uint32_t{bb.fold_pass} << 4));
    put(*sig, bb.late_mask);
    if (is_site(f, bb)) {
      if (have && bb.k != *value) return false;
      have = true;
      *value = bb.k;
      sig->push_back('S');
    } else {
      put(*sig, bb.k);
    }
    put(*sig, static_cast<uint32_t>(id[static_cast<size_t>(bb.succ[0])]));
    put(*sig, static_cast<uint32_t>(id[static_cast<size_t>(bb.succ[1])]));
  }
  return have;
}

// Scratch slots some rule reads or writes.
uint32_t used_slots(const IrFunc& f) {
  uint32_t used = 0;
  for (const IrBlock& b : f.blocks)
    for (const Insn& i : b.stmts) {
      const uint16_t cls = c::cls(i.code);
      const bool mem = ((cls == c::kLd || cls == c::kLdx) && c::mode(i.code) == c::kMem) ||
                       cls == c::kSt || cls == c::kStx;
      if (mem && i.k < 16) used |= 1u << i.k;
    }
  return used;
}

int add(IrFunc& f, IrBlock b) {
  f.blocks.push_back(std::move(b));
  return static_cast<int>(f.blocks.size() - 1);
}

IrBlock test_block(std::vector<Insn> stmts, uint16_t jop, uint32_t k, int t, int e, SourceLoc loc) {
  IrBlock b;
  b.stmts = std::move(stmts);
  b.jcode = static_cast<uint16_t>(c::kJmp | jop | c::kK);
  b.k = k;
  b.succ[0] = t;
  b.succ[1] = e;
  b.opaque = true;
  b.loc = loc;
  return b;
}

struct SearchLeaf {
  uint32_t value;
  int target;
};

// A search over leaves[l, r) (sorted by value) of the value in A; `miss` when none is equal.
int search(IrFunc& f, const std::vector<SearchLeaf>& leaves, size_t l, size_t r, int miss, SourceLoc loc) {
  if (r - l <= kChain) {
    int next = miss;
    for (size_t j = r; j-- > l;) next = add(f, test_block({}, c::kJeq, leaves[j].value, leaves[j].target, next, loc));
    return next;
  }
  const size_t mid = l + (r - l) / 2;
  const int hi = search(f, leaves, mid, r, miss, loc);
  const int lo = search(f, leaves, l, mid, miss, loc);
  return add(f, test_block({}, c::kJge, leaves[mid].value, hi, lo, loc));
}

}  // namespace

Grouping find_groups(const std::vector<IrFunc>& funcs) {
  Grouping gr;
  gr.group_of.assign(funcs.size(), -1);
  uint32_t used = 0;
  for (const IrFunc& f : funcs) used |= used_slots(f);
  std::vector<uint32_t> value_of(funcs.size(), 0);
  std::vector<std::vector<size_t>> cand;  // runs of consecutive rules of one signature
  std::string prev;
  for (size_t i = 0; i < funcs.size(); ++i) {
    std::string sig;
    uint32_t v = 0;
    if (!signature(funcs[i], &sig, &v)) {
      prev.clear();
      continue;
    }
    value_of[i] = v;
    if (sig != prev || cand.back().size() >= kMaxGroup) cand.emplace_back();
    cand.back().push_back(i);
    prev = std::move(sig);
  }
  // a slot each, from M[15] down
  for (const auto& members : cand) {
    if (members.size() < 2) continue;
    int slot = 15;
    while (slot >= 0 && (used >> slot & 1)) --slot;
    if (slot < 0) break;
    used |= 1u << slot;
    const size_t g = gr.members.size();
    gr.members.push_back(members);
    gr.values.emplace_back();
    for (size_t i : members) {
      gr.group_of[i] = static_cast<int>(g);
      gr.values.back().push_back(value_of[i]);
    }
    gr.slot.push_back(static_cast<uint32_t>(slot));
  }
  return gr;
}

int emit_group_eval(IrFunc& all, const IrFunc& first_rule, const Grouping& gr, size_t g,
                    const std::vector<int>& accept, int next, vm::Target target) {
  const std::vector<size_t>& members = gr.members[g];
  const uint32_t slot = gr.slot[g];
  const Insn ld_slot{static_cast<uint16_t>(c::kLd | c::kMem), 0, 0, slot};
  const Insn st_slot{static_cast<uint16_t>(c::kSt), 0, 0, slot};
  const uint32_t first_number = static_cast<uint32_t>(members.front() + 1);
  const int accept_first = accept[members.front()];
  // the end: the number in M[slot] (0: none) -> its `ret`, or `next`
  std::vector<SearchLeaf> numbers;
  for (size_t j = 1; j < members.size(); ++j)
    numbers.push_back({static_cast<uint32_t>(members[j] + 1), accept[members[j]]});
  const int done = search(all, numbers, 0, numbers.size(), next, SourceLoc{});
  all.blocks[static_cast<size_t>(done)].stmts = {ld_slot};
  // the first member's graph, its leaves to accept_first / done
  const int base = static_cast<int>(all.blocks.size());
  auto map = [&](int t) {
    const IrBlock& tb = first_rule.blocks[static_cast<size_t>(t)];
    if (tb.is_ret) return tb.ret_k ? accept_first : done;
    return base + t;
  };
  std::vector<int> sites;
  for (size_t b = 0; b < first_rule.blocks.size(); ++b) {
    IrBlock copy = first_rule.blocks[b];
    if (!copy.is_ret) {
      if (is_site(first_rule, copy)) sites.push_back(base + static_cast<int>(b));
      for (int& s : copy.succ) s = map(s);
    }
    all.blocks.push_back(std::move(copy));
  }
  const size_t end = all.blocks.size();
  // the members by constant; of equal constants the first (a later one never matches first)
  std::vector<std::pair<uint32_t, size_t>> by_value;
  for (size_t j = 0; j < members.size(); ++j) by_value.push_back({gr.values[g][j], members[j]});
  std::sort(by_value.begin(), by_value.end());
  by_value.erase(std::unique(by_value.begin(), by_value.end(),
                             [](const auto& a, const auto& b) { return a.first == b.first; }),
                 by_value.end());
  for (const int s : sites) {
    const SourceLoc loc = all.blocks[static_cast<size_t>(s)].loc;
    const int miss = all.blocks[static_cast<size_t>(s)].succ[1];  // the members not found go on
    std::vector<SearchLeaf> leaves;
    for (const auto& [value, rule] : by_value) {
      const uint32_t number = static_cast<uint32_t>(rule + 1);
      if (number == first_number) {
        leaves.push_back({value, accept_first});
        continue;
      }
      // result = min(result, number): `ld M; jeq #0 -> store; jgt #number -> store; -> miss`
      const int store = add(all, test_block({Insn{static_cast<uint16_t>(c::kLd | c::kImm), 0, 0, number}, st_slot},
                                            c::kJeq, number, miss, miss, loc));
      const int greater = add(all, test_block({}, c::kJgt, number, store, miss, loc));
      const int unset = add(all, test_block({ld_slot}, c::kJeq, 0, store, greater, loc));
      leaves.push_back({value, unset});
    }
    const int root = search(all, leaves, 0, leaves.size(), miss, loc);
    // the root computes the value as the site did (the other search blocks test A)
    IrBlock r = all.blocks[static_cast<size_t>(root)];
    r.stmts = all.blocks[static_cast<size_t>(s)].stmts;
    all.blocks[static_cast<size_t>(s)] = std::move(r);
  }
  const int entry = map(first_rule.entry);
  guard_loads(all, static_cast<size_t>(base), end, entry, done, target);
  // M[slot] = 0 on the way in
  const int init = add(all, test_block({Insn{static_cast<uint16_t>(c::kLd | c::kImm), 0, 0, 0}, st_slot},
                                       c::kJeq, 0, entry, entry, SourceLoc{}));
  return init;
}

}  // namespace bpf::compiler::detail
