// Post-optimisation searches: a chain of `jeq #k` tests of one value with one common true
// target (`ld [26]; jeq A, T; jeq B, T; jeq C, T; ...; else F`, the shape libpcap's optimiser
// gathers an or-list of hosts, ports, protocols or same-mask nets into) becomes a balanced
// search over the sorted constants: `jge` splits, then rows of up to kRow `jeq`s. The chain's
// blocks after the first have no statements and one predecessor each, so every test in it sees
// the value the first block computed: the search decides "A is one of the constants" exactly as
// the chain does, with no load added, moved or removed, so every verdict is the chain's,
// snapped packets included, in whatever context the list sits (compare the lowering-time
// searches of expr_gen_sets.cpp, which follow libpcap's load order only where its optimiser
// gathers the whole list). Linear in the program. Runs at -O2 after the optimiser and the
// redundant-load elimination, before code emission (emit_program, expr_emit.cpp).
// Tested by tests/expr/big_filter_links_test.cpp (lists in random contexts) and the expression
// differential tests.
#include <algorithm>
#include <vector>

#include "compiler/expr_ir.hpp"

namespace bpf::compiler::detail {

namespace {

namespace c = vm::code;

constexpr size_t kMinChain = 8;  // shorter chains stay as they are (the search saves little)
constexpr size_t kRow = 8;       // leaves test up to this many constants in a row

bool is_jeq_k(const IrBlock& b) { return !b.is_ret && b.jcode == (c::kJmp | c::kJeq | c::kK); }

struct Builder {
  IrFunc& f;
  int t, fail;  // the chain's true target and its final false target
  std::vector<std::pair<uint32_t, SourceLoc>> keys;  // sorted, distinct

  int add(uint16_t jcode, uint32_t k, int succ_t, int succ_f, const SourceLoc& loc) {
    IrBlock& b = f.blocks.emplace_back();
    b.jcode = jcode;
    b.k = k;
    b.succ[0] = succ_t;
    b.succ[1] = succ_f;
    b.loc = loc;
    return static_cast<int>(f.blocks.size() - 1);
  }
  // The search over keys[l, r), as a new block.
  int search(size_t l, size_t r) {
    if (r - l <= kRow) {
      int next = fail;
      for (size_t i = r; i-- > l;) next = add(c::kJmp | c::kJeq | c::kK, keys[i].first, t, next, keys[i].second);
      return next;
    }
    const size_t mid = l + (r - l) / 2;
    const int hi = search(mid, r);
    const int lo = search(l, mid);
    return add(c::kJmp | c::kJge | c::kK, keys[mid].first, hi, lo, keys[mid].second);
  }
};

}  // namespace

bool chains_to_searches(IrFunc& f, const std::vector<int>& order) {
  if (f.unoptimised_reference) return false;
  std::vector<uint32_t> preds(f.blocks.size(), 0);
  for (int b : order) {
    const IrBlock& bb = f.blocks[static_cast<size_t>(b)];
    if (bb.opaque) return false;  // reads A/X/M[] another block left: not ours to rearrange
    if (bb.is_ret) continue;
    ++preds[static_cast<size_t>(bb.succ[0])];
    if (bb.succ[1] != bb.succ[0]) ++preds[static_cast<size_t>(bb.succ[1])];
  }
  std::vector<uint8_t> in_chain(f.blocks.size(), 0);
  bool changed = false;
  std::vector<int> chain;
  for (int head : order) {
    if (in_chain[static_cast<size_t>(head)] || !is_jeq_k(f.blocks[static_cast<size_t>(head)])) continue;
    const int t = f.blocks[static_cast<size_t>(head)].succ[0];
    chain.assign(1, head);
    for (;;) {
      const int nx = f.blocks[static_cast<size_t>(chain.back())].succ[1];
      const IrBlock& n = f.blocks[static_cast<size_t>(nx)];
      if (!is_jeq_k(n) || !n.stmts.empty() || preds[static_cast<size_t>(nx)] != 1 || n.succ[0] != t ||
          nx == t)
        break;
      chain.push_back(nx);
    }
    for (int b : chain) in_chain[static_cast<size_t>(b)] = 1;
    if (chain.size() < kMinChain) continue;
    Builder bld{f, t, f.blocks[static_cast<size_t>(chain.back())].succ[1], {}};
    for (int b : chain) bld.keys.emplace_back(f.blocks[static_cast<size_t>(b)].k, f.blocks[static_cast<size_t>(b)].loc);
    std::stable_sort(bld.keys.begin(), bld.keys.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    bld.keys.erase(std::unique(bld.keys.begin(), bld.keys.end(),
                               [](const auto& a, const auto& b) { return a.first == b.first; }),
                   bld.keys.end());
    // The head keeps its statements (the value's computation) and becomes the search's root.
    const size_t mid = bld.keys.size() / 2;
    const int hi = bld.search(mid, bld.keys.size());
    const int lo = bld.search(0, mid);
    IrBlock& h = f.blocks[static_cast<size_t>(head)];
    h.jcode = c::kJmp | c::kJge | c::kK;
    h.k = bld.keys[mid].first;
    h.succ[0] = hi;
    h.succ[1] = lo;
    h.rel_eq = false;
    h.late = IrBlock::kNotLate;
    changed = true;
  }
  return changed;
}

}  // namespace bpf::compiler::detail
