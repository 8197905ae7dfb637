// Optimiser of the expression IR (compiler/expr_ir.hpp); redundant load elimination and code
// emission are in compiler/expr_emit.cpp.
//
// At opt_level >= 1 the graph goes through libpcap 1.10's optimiser structure (optimize.c), so
// that the same tests, and so the same packet loads, survive: a load past the captured bytes
// rejects the packet, and a snapped packet's verdict depends on which loads run.
//  1. passes until one changes nothing (opt_loop): constant tests are folded (opt_peep); from a
//     snapshot taken at the start of the pass (levels, dominators, the facts of every edge: the
//     tests and outcomes of its edge dominators, libpcap's edom), edges are moved bottom-up,
//     first past a successor whose two exits coincide, then to the successor those facts decide
//     (opt_j, fold_edge's rules); then or/and pullups run over the snapshot's level lists (see
//     pullups()). A value is identified by the statements that compute it, which is sound
//     because lowered blocks are self-contained (they read only the packet).
//  2. identical blocks are merged (intern_blocks), then an entry whose exits coincide is
//     skipped, keeping its loads (opt_root).
//  3. (opt_level >= 2 only) redundant load elimination after layout: a symbolic value for A, X
//     and M[] flows along the DAG (meet = equal or unknown); a load of a value the register
//     already holds is removed (the same load succeeded before, so no verdict changes, snapped
//     packets included); blocks made identical by it are merged.
// So -O1 is libpcap's optimiser alone, -O2 adds what it does not do.
// libpcap's stale snapshot is not always sound: its optimiser can change an expression's meaning
// (about 0.1% of random deep combinations in tests/expr; 'not portrange 1000-2000 or iso or
// arp[6:2] = 1 or udp and host 10.0.0.1 or ip6 or 1 = 2 or rarp or (ip)' on LINUX_SLL rejects
// RARP packets). Following it, ours gives libpcap's verdicts there too (its acceptance
// standard); -O0 keeps the expression's meaning. Every other step keeps the verdict of every
// full-length packet. When libpcap does not optimise
// (protochain, geneve: IrFunc::unoptimised_reference) only the steps that keep the verdict of
// snapped packets run too. Emission gives scratch slots read before written on some path their
// initial value (IrFunc::mem_init), lays blocks out in depth-first order and inserts `ja`
// trampolines for any conditional branch longer than 255 instructions. At level 0 only the
// emission runs.
// Tested by tests/expr/expr_diff_test.cpp (libpcap verdicts; -O0 vs -O2 agreement).
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "compiler/expr_dom.hpp"
#include "compiler/expr_ir.hpp"
#include "compiler/expr_sig.hpp"
#include "vm/semantics.hpp"

namespace bpf::compiler::detail {

namespace {

namespace c = vm::code;
using vm::Insn;

struct Fact {
  int edge;  // the edge it was learnt on (2 * block + side): facts are kept per edge, as
             // libpcap's edge dominators are
  int key;
  uint32_t k;
  uint16_t jcode;
  bool outcome;
};

// -1 unknown, 0/1 decided outcome of test (jcode, k) on the value `key`, given facts. The rules
// are libpcap's fold_edge(): the same comparison of the same value has the same outcome; a value
// known equal to a constant is unequal to any other constant. (Nothing more: a stronger rule
// would find more expressions that "reject all packets" than pcap_compile does.)
int decide(std::span<const Fact> facts, int key, uint16_t jcode, uint32_t k) {
  for (const Fact& f : facts) {
    if (f.key != key || f.jcode != jcode) continue;
    if (f.k == k) return f.outcome;
    if (f.outcome && jcode == (c::kJmp | c::kJeq | c::kK)) return 0;
  }
  return -1;
}

class Optimiser {
 public:
  // One Optimiser per thread serves every compile (emit_program): its work vectors keep their
  // capacity, which saves a fifth of a compile's time in malloc/free. reset() gives the state of
  // a fresh object.
  void reset(IrFunc& f) {
    fp_ = &f;
    key_of_.clear();
    clear_keys();
    next_key_ = 0;
    phase_ = 0;
    pass_ = 0;
    skipped_ = false;
    order_.clear();
    dirty_ = true;
    dom_valid_ = false;
    snap_order_.clear();
    max_level_ = 0;
    work_ = 0;
    fold_cands_valid_ = false;
  }

  // libpcap's opt_loop(do_stmts = 0) followed by intern_blocks and opt_root: passes until one
  // changes nothing. A pass folds constant tests (opt_blk), then, from a snapshot of the graph
  // taken at its start (levels, dominators, edge facts), moves edges (opt_j) and pulls tests up
  // (or_pullup/and_pullup) exactly in libpcap's order and with its stale snapshot: which tests
  // and loads survive decides the verdict of packets snapped short of a load.
  void run() {
    // values that change identity after the first pass (libpcap's peephole rewrites clear its
    // done flag, so it runs a second pass)
    bool rewrites = false;
    for (const IrBlock& bb : fp_->blocks)
      rewrites |= bb.rel_eq || bb.late == IrBlock::kMaskJset || bb.fold_pass > 0;
    if (fp_->unoptimised_reference) {  // no pass structure to follow: final forms at once
      convert_late_relations();
      set_phase(1);
    }
    int branch_only = 0;  // passes in a row that only moved branches (libpcap's loop_count)
    work_ = 0;
    for (int iter = 0; iter < 1000 && work_ < kWorkBudget; ++iter) {
      bool changed = false;
      skipped_ = false;
      if (!fp_->unoptimised_reference) set_phase(std::min(iter, 1));
      pass_ = fp_->unoptimised_reference ? 1000 : iter;
      bool folded = fold_constant_tests();
      if (folded) changed = dirty_ = true;
      snapshot();
      if (thread_jumps()) changed = dirty_ = true;
      if (!fp_->unoptimised_reference && pullups()) changed = dirty_ = true;
      if (iter == 0 && rewrites && !fp_->unoptimised_reference) changed = true;
      if (!changed) break;
      // libpcap gives up after 100 passes in a row that did nothing but move branches (edge
      // moves past decided tests, pullups): it may be cycling. Constant folds and skips of
      // tests with equal exits are other progress.
      if (folded || skipped_) branch_only = 0;
      else if (++branch_only >= 100) break;
    }
    if (over_budget()) thread_own();
    // libpcap's second opt_loop folds what only statement rewriting makes constant, moving no
    // branch afterwards (IrBlock::kFoldAfterBranches).
    pass_ = IrBlock::kFoldAfterBranches;
    if (fold_constant_tests()) dirty_ = true;
    set_phase(2);
    if (convert_late_relations()) clear_keys();
    // libpcap merges identical blocks (intern_blocks) only once jumps are final: merging
    // earlier would lose the facts each copy knows from its own path.
    // One bottom-up round reaches the fixpoint (see merge_identical).
    if (merge_identical()) dirty_ = true;
    root_bypass();
  }

 private:
  IrFunc* fp_ = nullptr;
  std::vector<int> key_of_;

  IrBlock& blk(int i) { return fp_->blocks[static_cast<size_t>(i)]; }

  // Bounds that keep big inputs fast (they make the output less optimised, never wrong: every
  // step keeps the verdict of every full-length packet). libpcap's passes keep, per edge, the
  // facts of all its dominating tests: for a chain of n tests that is O(n^2) facts a pass
  // (libpcap #1255: 1,000 hosts, 1 GB). Here a block's facts are one node of the edge-dominator
  // tree (thread_jumps: linear memory), but deciding a test still looks through them, so the
  // passes stop once jump threading has met kWorkBudget facts in all (counted as if each block
  // held its set; a pass that reaches it is abandoned before it moves any edge: a few hundred
  // ms at most); what remains is done by the linear steps (thread_own). Pullups walk chains of
  // tests from every candidate (quadratic in a chain's length at worst): not above kDomBlocks
  // blocks. Searches (expr_gen_sets.cpp) keep big lists shallow, far from both.
  static constexpr uint64_t kWorkBudget = 6'000'000;
  static constexpr size_t kDomBlocks = 16384;
  uint64_t work_ = 0;
  bool over_budget() const { return work_ >= kWorkBudget; }

  // The linear threading that follows passes stopped by the budget: each edge goes past
  // successors that test the same value the same way (their outcome is the edge's own;
  // bottom-up, so a chain of equal tests is crossed in one step). No load is skipped that the
  // path has not done already.
  void thread_own() {
    const std::vector<int> order = topo();
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      IrBlock& bb = blk(*it);
      if (bb.is_ret || bb.opaque) continue;
      const int kb = key(*it);
      for (int w = 0; w < 2; ++w) {
        const Fact own{.edge = 2 * *it + w, .key = kb, .k = bb.k, .jcode = bb.jcode, .outcome = w == 0};
        int t = bb.succ[w];
        for (int guard = 0; guard < 64; ++guard) {
          const IrBlock& tb = blk(t);
          if (tb.is_ret || tb.opaque) break;
          const int d = decide({&own, 1}, key(t), tb.jcode, tb.k);
          if (d < 0) break;
          t = tb.succ[d ? 0 : 1];
        }
        if (t != bb.succ[w]) bb.succ[w] = t, dirty_ = true;
      }
    }
  }

  // Value identity of a block's test: blocks with equal statements (and the same relation tag)
  // share a key; opaque blocks get their own. Hash-consed without building strings.
  // key_of_ has one entry per block (clear_keys), -2 until computed.
  int key(int b) {
    const int k = key_of_[static_cast<size_t>(b)];
    return k >= 0 ? k : compute_key(b);
  }
  int compute_key(int b) {
    int& k = key_of_[static_cast<size_t>(b)];
    if (k != -2) return k;
    const IrBlock& bb = blk(b);
    if (bb.opaque) return k = next_key_++;
    const Identity id = identity(b, phase_);
    uint64_t h = id.tag ? 0x9e3779b97f4a7c15ull : 0x12345;
    for (size_t j = 0; j < id.size(); ++j) {
      const Insn& i = id[j];
      h ^= (uint64_t(i.code) << 40) ^ (uint64_t(i.k) << 1) ^ i.jt;
      h *= 0x100000001b3ull;
      h ^= h >> 29;
    }
    // open addressing over (hash, representative block and phase); at most one entry per block
    // and phase
    if (key_rep_.size() < 4 * fp_->blocks.size() + 4) {
      size_t cap = 16;
      while (cap < 4 * fp_->blocks.size() + 4) cap <<= 1;
      std::vector<KeySlot> old;
      old.swap(key_rep_);
      key_rep_.assign(cap, KeySlot{});
      for (const KeySlot& e : old)
        if (e.stamp == key_stamp_)
          for (size_t i = e.h & (cap - 1);; i = (i + 1) & (cap - 1))
            if (key_rep_[i].stamp != key_stamp_) {
              key_rep_[i] = e;
              break;
            }
    }
    size_t mask = key_rep_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      KeySlot& slot = key_rep_[i];
      if (slot.stamp != key_stamp_) {
        slot = {h, b, key_stamp_, next_key_, phase_};
        return k = next_key_++;
      }
      if (slot.h != h) continue;
      if (identity(slot.block, slot.phase) == id) return k = slot.key;
    }
  }
  // Forgets every key (the table keeps its storage: its slots are live only with the current
  // stamp).
  void clear_keys() {
    key_of_.assign(fp_->blocks.size(), -2);
    if (++key_stamp_ == 0) {
      key_rep_.assign(key_rep_.size(), KeySlot{});
      key_stamp_ = 1;
    }
  }
  // open addressing: (hash, representative block, its key, the phase whose identity of the
  // block it holds), live when stamp == key_stamp_
  struct KeySlot {
    uint64_t h = 0;
    int block = -1;
    uint32_t stamp = 0;
    int key = -1;
    int phase = 0;
  };
  std::vector<KeySlot> key_rep_;
  uint32_t key_stamp_ = 1;
  int next_key_ = 0;

  // The statements whose value a block tests, as libpcap's optimiser sees it in a pass of the
  // given phase (0 first pass, 1 later, 2 once branches stopped moving), and whether that value
  // is a relation's (tag).
  // libpcap's jump optimisation runs in its first opt_loop, where statements are not rewritten
  // by value numbering (alter = 0): a relation loads its operand through `ldx M[]; ld [x + k]`
  // and so is never the value of a primitive's absolute load, only of the same relation; in
  // the first pass its value is still `A - k` (opt_peep folds the `sub` into the jump during
  // that pass), so relations of one operand with different constants only become comparable
  // from the second pass. A primitive's `x & m` compared with 0 is rewritten into `jset #m` in
  // the first pass, keeping the value of `x & m` until the next. A relation `x & m = 0` stays
  // `and #m; jeq #0` for the whole loop (its rewrite into jset needs the second opt_loop).
  // The statements as a view, plus the one statement the pass adds (never two: kMaskJset
  // blocks are not relations); equal when the statement sequences are.
  struct Identity {
    const Insn* stmts;
    size_t n;
    bool has_extra;
    Insn extra;
    bool tag;
    size_t size() const { return n + (has_extra ? 1 : 0); }
    const Insn& operator[](size_t i) const { return i < n ? stmts[i] : extra; }
    bool operator==(const Identity& o) const {
      if (tag != o.tag || size() != o.size()) return false;
      for (size_t i = 0; i < size(); ++i)
        if (!((*this)[i] == o[i])) return false;
      return true;
    }
  };
  Identity identity(int b, int phase) {
    const IrBlock& bb = blk(b);
    // While branches move, a relation reading the packet or comparing constants (rel_own_value)
    // is never a primitive's value (so it is not pulled up past a primitive's test of another
    // field), but from the second pass an `=` relation of `len` is (its `sub` folded, its value
    // is `ld len`'s). In the final phase (2: merging of identical blocks) the tag is rel_eq.
    const bool tag = phase == 0   ? bb.rel_eq || bb.rel_own_value
                     : phase == 1 ? bb.rel_own_value
                                  : bb.rel_eq;
    Identity id{bb.stmts.data(), bb.stmts.size(), false, Insn{}, tag};
    if (phase != 0) return id;
    if (bb.late == IrBlock::kMaskJset) {
      id.has_extra = true;
      id.extra = Insn{static_cast<uint16_t>(c::kAlu | c::kAnd | c::kK), 0, 0, bb.late_mask};
    } else if (bb.rel_eq && bb.late == IrBlock::kNotLate) {
      id.has_extra = true;
      id.extra = Insn{static_cast<uint16_t>(c::kAlu | c::kSub | c::kK), 0, 0, bb.k};
    }
    return id;
  }
  int phase_ = 0;
  int pass_ = 0;
  bool skipped_ = false;  // this pass skipped a test whose two exits coincide

  // The identities of other phases stay in the key table (with their phase), so only the blocks
  // whose identity depends on the phase lose their key.
  void set_phase(int p) {
    if (p == phase_) return;
    phase_ = p;
    for (size_t b = 0; b < key_of_.size(); ++b) {
      const IrBlock& bb = fp_->blocks[b];
      // the added statement (phase 0) or the tag (rel_eq, rel_own_value: identity()) differs
      if (bb.late == IrBlock::kMaskJset || bb.rel_eq || bb.rel_own_value) key_of_[b] = -2;
    }
  }
  // libpcap's second-loop rewrite of a relation `x; and #m; jeq #0` into `x; jset #m` (exits
  // swapped), after the jump optimisation.
  bool convert_late_relations() {
    bool any = false;
    for (IrBlock& bb : fp_->blocks) {
      if (bb.late != IrBlock::kLateJsetRelation || bb.is_ret || bb.jcode != (c::kJmp | c::kJeq | c::kK)) continue;
      bb.stmts.pop_back();
      bb.jcode = static_cast<uint16_t>(c::kJmp | c::kJset | c::kK);
      bb.k = bb.late_mask;
      std::swap(bb.succ[0], bb.succ[1]);
      any = true;
    }
    return any;
  }

  // Reverse postorder of the blocks reachable from the entry (buffers reused across passes).
  // Also the levels of those blocks (level_: height above the returns, a block's successors
  // being finished before it) and the highest (top_level_), for compute_levels.
  const std::vector<int>& topo() {
    if (!dirty_) return order_;
    dirty_ = false;
    // iterative DFS (true exit first); postorder written from the end of order_, so the
    // reachable blocks end up in reverse postorder at its tail
    const size_t n = fp_->blocks.size();
    state_.assign(n, 0);
    stack_.resize(n + 1);
    order_.resize(n);
    level_.resize(n);
    size_t sp = 0, out = n;
    int top = 0;
    stack_[sp++] = {fp_->entry, 0};
    state_[static_cast<size_t>(fp_->entry)] = 1;
    while (sp > 0) {
      auto& [b, i] = stack_[sp - 1];
      const IrBlock& bb = blk(b);
      if (!bb.is_ret) {
        while (i < 2) {
          const int s = bb.succ[i++];
          if (state_[static_cast<size_t>(s)] == 0) {
            state_[static_cast<size_t>(s)] = 1;
            stack_[sp++] = {s, 0};
            break;
          }
        }
        if (stack_[sp - 1].first != b) continue;  // a successor to explore first
        const int l = 1 + std::max(level_[static_cast<size_t>(bb.succ[0])], level_[static_cast<size_t>(bb.succ[1])]);
        level_[static_cast<size_t>(b)] = l;
        top = std::max(top, l);
      } else {
        level_[static_cast<size_t>(b)] = 0;
      }
      order_[--out] = b;
      --sp;
    }
    order_.erase(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(out));
    top_level_ = top;
    return order_;
  }
  int top_level_ = 0;
  std::vector<int> order_;
  bool dirty_ = true;  // the graph changed since order_ was computed
  std::vector<uint8_t> state_;
  std::vector<std::pair<int, int>> stack_;
  std::vector<int> fill_, level_, by_level_;

  // libpcap's opt_j pass: the facts of every edge (its edge dominators' tests and outcomes) are
  // computed on the graph as it stands, then edges are moved block by block from the lowest
  // level (nearest the returns) up, each to the block its facts decide. The order matters for
  // what is found: an edge below a join is threaded while its block still has the one
  // predecessor that tells it something.
  //
  // The facts of a block are the edges that dominate it (libpcap's edom), less the edges of a
  // block whose two exits coincide (they tell nothing). Those sets form a tree: a block's set is
  // the set of its predecessor plus the edge in, and the intersection of two sets (a join) is
  // the set of their nearest common ancestor. So each block holds one node of the tree
  // (fact_at_, -1 for no facts), an edge in is a new node under its block's node, and a join is
  // a nearest-common-ancestor walk: no set is copied (the copies were O(n * depth) per pass).
  bool thread_jumps() {
    const std::vector<int>& order = snap_order_;
    constexpr int kUnseen = -2;  // fact_at_ of a block no edge reached yet
    fact_at_.resize(fp_->blocks.size());  // read for the reachable blocks only
    for (int b : order) fact_at_[static_cast<size_t>(b)] = kUnseen;
    if (!order.empty()) fact_at_[static_cast<size_t>(order[0])] = -1;  // the entry: no facts
    nodes_.resize(2 * order.size());  // at most one node per edge
    size_t used = 0;
    for (int b : order) {
      const IrBlock& bb = blk(b);
      if (bb.is_ret) continue;
      const int fin = fact_at_[static_cast<size_t>(b)];
      const FactNode& up = fin < 0 ? kNoFacts : nodes_[static_cast<size_t>(fin)];
      work_ += 2 * static_cast<uint64_t>(up.depth) + 2;
      if (over_budget()) return false;  // abandoned before any edge moved
      // propagate facts to successors (intersection over the incoming edges)
      const bool both = bb.succ[0] == bb.succ[1];
      const int kb = key(b);
      for (int w = 0; w < 2; ++w) {
        const size_t s = static_cast<size_t>(bb.succ[w]);
        int in = fin;
        if (!both) {
          nodes_[used] = FactNode{Fact{.edge = 2 * b + w, .key = kb, .k = bb.k, .jcode = bb.jcode, .outcome = w == 0},
                                  fin, up.depth + 1,
                                  up.keys | key_bit(kb)};
          in = static_cast<int>(used++);
        }
        const int at = fact_at_[s];
        fact_at_[s] = at == kUnseen ? in : common_ancestor(at, in);
      }
    }
    bool changed = false;
    for (int b : by_level_) {
      IrBlock& bb = blk(b);
      if (bb.is_ret) continue;
      const int fin = fact_at_[static_cast<size_t>(b)];
      const int kb = key(b);
      for (int w = 0; w < 2; ++w) {
        int t = bb.succ[w];
        // a successor whose two exits coincide is skipped first (once), as opt_j does
        if (!blk(t).is_ret && blk(t).succ[0] == blk(t).succ[1] && bypassable(t)) {
          t = blk(t).succ[0];
          skipped_ = true;
        }
        for (int guard = 0; guard < 10000; ++guard) {
          const IrBlock& tb = blk(t);
          if (tb.is_ret) break;
          const int kt = key(t);
          // decide() over the edge's own fact (b's test, outcome w == 0), then over fin's
          int d = -1;
          if (kt == kb && tb.jcode == bb.jcode) {
            if (tb.k == bb.k) d = w == 0;
            else if (w == 0 && tb.jcode == (c::kJmp | c::kJeq | c::kK)) d = 0;
          }
          if (d < 0) d = decide_at(fin, kt, tb.jcode, tb.k);
          if (d < 0) break;
          t = tb.succ[d ? 0 : 1];
        }
        if (t != bb.succ[w]) {
          bb.succ[w] = t;
          changed = true;
        }
      }
    }
    return changed;
  }

  // A node of the edge-dominator tree: one fact, the node of the facts above it (-1: none),
  // how many facts its set holds, and a filter of the keys of those facts.
  struct FactNode {
    Fact fact;
    int up;
    int depth;
    uint64_t keys;
  };
  static constexpr FactNode kNoFacts{Fact{}, -1, 0, 0};
  static uint64_t key_bit(int key) { return uint64_t(1) << (static_cast<unsigned>(key) & 63); }
  int depth(int node) const { return node < 0 ? 0 : nodes_[static_cast<size_t>(node)].depth; }
  int common_ancestor(int a, int b) const {
    while (a != b) {
      if (a < 0 || b < 0) return -1;
      const FactNode& na = nodes_[static_cast<size_t>(a)];
      const FactNode& nb = nodes_[static_cast<size_t>(b)];
      if (na.depth >= nb.depth) a = na.up;
      if (nb.depth >= na.depth) b = nb.up;
    }
    return a;
  }
  // decide() over the facts of a node: the set as a sorted vector would answer with its first
  // fact that decides (the lowest edge), so the lowest deciding edge answers here too.
  int decide_at(int node, int key, uint16_t jcode, uint32_t k) const {
    if (node < 0 || !(nodes_[static_cast<size_t>(node)].keys & key_bit(key))) return -1;
    const bool eq = jcode == (c::kJmp | c::kJeq | c::kK);
    int best_edge = -1, best = -1;
    for (int n = node; n >= 0; n = nodes_[static_cast<size_t>(n)].up) {
      const Fact& f = nodes_[static_cast<size_t>(n)].fact;
      if (f.key != key || f.jcode != jcode) continue;
      if (f.k != k && !(f.outcome && eq)) continue;
      if (best_edge < 0 || f.edge < best_edge) {
        best_edge = f.edge;
        best = f.k == k ? f.outcome : 0;
      }
    }
    return best;
  }
  std::vector<FactNode> nodes_;
  std::vector<int> fact_at_;

  // The reachable blocks by ascending level (stable in `order`) into by_level_, as libpcap's
  // find_levels; `order` and the levels are topo()'s.
  void compute_levels(const std::vector<int>& order) {
    // by_level_: a counting sort by level, stable in `order`
    const int top = top_level_;
    level_start_.assign(static_cast<size_t>(top) + 2, 0);
    for (int b : order) ++level_start_[static_cast<size_t>(level_[static_cast<size_t>(b)]) + 1];
    for (size_t l = 0; l + 1 < level_start_.size(); ++l) level_start_[l + 1] += level_start_[l];
    // level l's list is by_level_[level_start_[l] .. level_start_[l + 1])
    fill_.assign(level_start_.begin(), level_start_.end() - 1);
    by_level_.resize(order.size());
    for (int b : order) by_level_[static_cast<size_t>(fill_[static_cast<size_t>(level_[static_cast<size_t>(b)])]++)] = b;
    max_level_ = top;
  }
  std::span<const int> level_list(int l) const {
    return {by_level_.data() + level_start_[static_cast<size_t>(l)],
            by_level_.data() + level_start_[static_cast<size_t>(l) + 1]};
  }
  std::vector<int> level_start_;

  // A block with two equal exits can be skipped unless it leaves registers for its successor
  // (opaque with statements) or, when libpcap's reference is unoptimised, it loads something
  // (skipping the load would change the verdict of a packet snapped before it).
  bool bypassable(int b) {
    const IrBlock& bb = blk(b);
    if (bb.opaque && !bb.stmts.empty()) return !fp_->unoptimised_reference && leaves_nothing_used(bb);
    if (!fp_->unoptimised_reference) return true;
    for (const Insn& i : bb.stmts)
      if (c::cls(i.code) == c::kLd || c::cls(i.code) == c::kLdx)
        if (c::mode(i.code) != c::kImm && c::mode(i.code) != c::kMem) return false;
    return true;
  }

  // An opaque block with statements (a set search's block, expr_gen_sets*.cpp, or `byte &`)
  // whose two exits coincide: skipped, loads included, as libpcap skips its member tests when
  // nothing uses what they leave (opt_j's use_conflict), when its successor is a `ret`, or when
  // it only writes A and the successor does not read A before writing it (a self-contained
  // block, or an opaque one that starts with a load or `txa`).
  bool leaves_nothing_used(const IrBlock& bb) {
    const IrBlock& sb = blk(bb.succ[0]);
    if (sb.is_ret) return true;
    for (const Insn& i : bb.stmts) {
      const uint16_t cl = c::cls(i.code);
      if (cl != c::kLd && cl != c::kAlu && !(cl == c::kMisc && c::miscop(i.code) == c::kTxa)) return false;
    }
    if (!sb.opaque) return true;
    if (sb.stmts.empty()) return false;
    const Insn& f = sb.stmts.front();
    return c::cls(f.code) == c::kLd || (c::cls(f.code) == c::kMisc && c::miscop(f.code) == c::kTxa);
  }

  // libpcap's opt_peep on a block whose A is a known constant (gen_true/gen_false, relations of
  // constants): the comparison is decided, both exits go to the decided successor.
  // The blocks whose test is decided by their statements alone (A a known constant) are found
  // once per compile (fold_cands_: block and outcome; statements and tests do not change while
  // the passes run); a pass folds those of them that are reachable.
  bool fold_constant_tests() {
    if (!fold_cands_valid_) find_fold_candidates();
    topo();  // state_: reachability
    bool changed = false;
    for (const auto& [b, taken] : fold_cands_) {
      IrBlock& bb = blk(b);
      if (state_[static_cast<size_t>(b)] == 0 || bb.succ[0] == bb.succ[1] || bb.fold_pass > pass_) continue;
      int to = bb.succ[taken ? 0 : 1];
      bb.succ[0] = bb.succ[1] = to;
      changed = true;
    }
    return changed;
  }
  void find_fold_candidates() {
    fold_cands_valid_ = true;
    fold_cands_.clear();
    for (size_t b = 0; b < fp_->blocks.size(); ++b) {
      const IrBlock& bb = fp_->blocks[b];
      if (bb.is_ret || bb.opaque || c::src(bb.jcode) != c::kK) continue;
      std::optional<uint32_t> a;
      for (const Insn& i : bb.stmts) {
        if (i.code == (c::kLd | c::kImm)) {
          a = i.k;
        } else if (a && c::cls(i.code) == c::kAlu && c::src(i.code) == c::kK && c::op(i.code) != c::kNeg) {
          std::optional<vm::Op> op = vm::decode(i.code);
          a = op ? vm::alu(*op, *a, i.k, vm::Target::kLinux) : std::nullopt;
        } else {
          a.reset();
          break;
        }
        if (!a) break;
      }
      if (!a) continue;
      std::optional<vm::Op> jop = vm::decode(bb.jcode);
      if (!jop) continue;
      fold_cands_.push_back({static_cast<int>(b), vm::jump_taken(*jop, *a, bb.k)});
    }
  }
  std::vector<std::pair<int, bool>> fold_cands_;
  bool fold_cands_valid_ = false;

  // libpcap's opt_root: an entry whose two exits coincide decides nothing and is skipped, but
  // the first entry's statements are kept in front of the new entry (so its loads still run);
  // a `ret` entry runs nothing.
  void root_bypass() {
    int first = fp_->entry;
    for (int guard = 0; guard < 100000; ++guard) {
      const IrBlock& bb = blk(fp_->entry);
      if (bb.is_ret || bb.succ[0] != bb.succ[1] || !bypassable(fp_->entry)) break;
      fp_->entry = bb.succ[0];
      dirty_ = true;
    }
    if (fp_->entry == first || blk(fp_->entry).is_ret) return;
    // Statements that read no packet (libpcap's `ld #0` of a gen_true entry) cannot change a
    // verdict: dropped.
    bool reads_packet = false;
    for (const Insn& i : blk(first).stmts) {
      uint16_t cl = c::cls(i.code), m = c::mode(i.code);
      if ((cl == c::kLd || cl == c::kLdx) && (m == c::kAbs || m == c::kInd || m == c::kMsh)) reads_packet = true;
    }
    if (!reads_packet) return;
    std::vector<Insn> s = blk(first).stmts;
    IrBlock& e = blk(fp_->entry);
    s.insert(s.end(), e.stmts.begin(), e.stmts.end());
    e.stmts = std::move(s);
  }

  // The pass snapshot (libpcap computes these once per pass, before it moves any edge): the
  // reachable blocks in reverse postorder, their levels and level lists (in libpcap's list
  // order), and dominator sets.
  void snapshot() {
    snap_order_ = topo();
    const std::vector<int>& order = snap_order_;
    compute_levels(order);
    size_t n = fp_->blocks.size();
    if (fp_->unoptimised_reference) return;  // no pullups: dominators unused
    // the pass-start successors, for dominators computed only if a pullup asks (lazily)
    snap_succ_.resize(n);
    for (int b : order)
      if (!blk(b).is_ret) snap_succ_[static_cast<size_t>(b)] = {blk(b).succ[0], blk(b).succ[1]};
    dom_valid_ = false;
  }
  // The dominator tree of the snapshot graph (compiler/expr_dom.hpp), built when a pullup
  // first asks.
  std::vector<std::pair<int, int>> snap_succ_;
  bool dom_valid_ = false;
  DomTree dom_;
  bool dominated(int x, int by) {
    if (!dom_valid_) {
      dom_valid_ = true;
      dom_.build(snap_order_, fp_->blocks.size(), [&](int b, int* s0, int* s1) {
        if (blk(b).is_ret) return false;
        std::tie(*s0, *s1) = snap_succ_[static_cast<size_t>(b)];
        return true;
      });
    }
    return dom_.dominates(by, x);
  }

  // libpcap's or_pullup/and_pullup (optimize.c), run after the pass's edge moves on every block
  // of the snapshot's level lists (levels 1 up, even blocks the moves made unreachable), with
  // the in-edges found once after the moves (find_inedges over the same lists: an edge whose
  // target a pullup changed stays in the list) and the dominators of the snapshot. In a chain
  // of tests sharing their true (or false) target, a later test of the value the predecessors
  // tested is moved up next to them.
  bool pullups() {
    size_t n = fp_->blocks.size();
    if (n > kDomBlocks || over_budget()) return false;
    // in-edges: libpcap links (pred, side) walking levels from the top down, each level in list
    // order, true edge then false edge, each prepended to its target's list (in_head_, in_next_:
    // lists of edges 2 * pred + side)
    in_head_.assign(n, -1);
    in_next_.resize(2 * n);
    for (int lvl = max_level_; lvl >= 1; --lvl)
      for (int b : level_list(lvl))
        for (int w = 0; w < 2; ++w) {
          int& head = in_head_[static_cast<size_t>(blk(b).succ[w])];
          in_next_[static_cast<size_t>(2 * b + w)] = head;
          head = 2 * b + w;
        }
    bool changed = false;
    for (int lvl = 1; lvl <= max_level_; ++lvl)
      for (int b : level_list(lvl)) {
        int val;
        if (!pullup_candidate(b, &val)) continue;
        if (pullup_possible(b, 0, val) && pullup(b, 0, val)) changed = true;
        if (pullup_possible(b, 1, val) && pullup(b, 1, val)) changed = true;
      }
    return changed;
  }

  // The checks both pullups start with (the in-edges do not change between the two calls:
  // a pullup at the top of a chain rewires its predecessors but they keep their values).
  // *val: the predecessors' value.
  bool pullup_candidate(int b, int* val) {
    const int first = in_head_[static_cast<size_t>(b)];
    if (first < 0 || blk(b).opaque) return false;
    *val = key(first / 2);
    for (int e = first; e >= 0; e = in_next_[static_cast<size_t>(e)])
      if (blk(e / 2).opaque || key(e / 2) != *val) return false;
    return true;
  }
  // side 0: or_pullup (shared true successor, chain along false), 1: and_pullup. val: the
  // predecessors' value, kb: b's.
  // pullup_walk without the dominator checks (they can only make it fail sooner): most
  // candidates fail here, and then the dominators are not computed at all.
  bool pullup_possible(int b, int side, int val) {
    const int same = side;       // the shared successor
    const int chain = 1 - side;  // the successor followed along the chain
    const IrBlock* blocks = fp_->blocks.data();
    const int target = blocks[b].succ[same];
    auto on_chain = [&](int x) {
      const IrBlock& xb = blocks[x];
      return !xb.is_ret && !xb.opaque && xb.succ[same] == target;
    };
    // from the first in-edge (which an earlier pullup of this pass may have moved off b)
    const IrBlock& first = blocks[in_head_[static_cast<size_t>(b)] / 2];
    int x = first.succ[first.succ[0] == b ? 0 : 1];
    if (!on_chain(x)) return false;
    while (key(x) == val) {  // past the tests of the predecessors' value
      x = blocks[x].succ[chain];
      if (!on_chain(x)) return false;
    }
    do {  // to the next test of it
      x = blocks[x].succ[chain];
      if (!on_chain(x)) return false;
    } while (key(x) != val);
    return true;
  }
  bool pullup(int b, int side, int val) {
    const int chain = 1 - side;  // the successor followed along the chain
    PullupWalk pw;
    if (!pullup_walk(b, side, val, &pw)) return false;
    int pull = blk(pw.sowner).succ[chain];
    blk(pw.sowner).succ[chain] = blk(pull).succ[chain];
    blk(pull).succ[chain] = pw.diff;
    if (pw.at_top) {
      for (int e = in_head_[static_cast<size_t>(b)]; e >= 0; e = in_next_[static_cast<size_t>(e)]) {
        IrBlock& pb = blk(e / 2);
        if (pb.succ[0] == b) pb.succ[0] = pull;
        else pb.succ[1] = pull;
      }
    } else {
      blk(pw.owner).succ[pw.slot] = pull;
    }
    return true;
  }
  struct PullupWalk {
    int owner, slot, diff, sowner;
    bool at_top;
  };
  // The chain walks of or_pullup/and_pullup: from b along the chain, past the tests of the
  // predecessors' value to the first test of another value (diff, in the slot (owner, slot)),
  // then on to the next test of the predecessors' value (the successor of sowner), every block
  // sharing b's successor on `same` and dominated by b. False: nothing to pull.
  bool pullup_walk(int b, int side, int val, PullupWalk* pw) {
    const int same = side == 0 ? 0 : 1;  // the shared successor
    const int chain = 1 - same;          // the successor followed along the chain
    const int target = blk(b).succ[same];
    // diff: the slot (block, side) holding the first test of another value
    int owner = in_head_[static_cast<size_t>(b)] / 2;
    int slot = blk(owner).succ[0] == b ? 0 : 1;
    bool at_top = true;
    for (;;) {
      int d = blk(owner).succ[slot];
      const IrBlock& db = blk(d);
      if (db.is_ret || db.opaque || db.succ[same] != target || !dominated(d, b)) return false;
      if (key(d) != val) break;
      owner = d;
      slot = chain;
      at_top = false;
    }
    int diff = blk(owner).succ[slot];
    int sowner = diff;
    for (;;) {
      int sblk = blk(sowner).succ[chain];
      const IrBlock& sb = blk(sblk);
      if (sb.is_ret || sb.opaque || sb.succ[same] != target || !dominated(sblk, b)) return false;
      if (key(sblk) == val) break;
      sowner = sblk;
    }
    *pw = PullupWalk{owner, slot, diff, sowner, at_top};
    return true;
  }
  std::vector<int> snap_order_;
  std::vector<int> in_head_, in_next_;
  int max_level_ = 0;

  // Merges blocks of equal signature (value, test, successors); true if any merged. Bottom-up:
  // successors are canonical before their predecessors are looked up, and a block's signature
  // is taken with canonical successors, so two blocks left unmerged after the round have
  // different signatures: a second round would merge nothing.
  bool merge_identical() {
    const std::vector<int>& order = topo();
    canon_.reset(order.size());
    repl_.resize(fp_->blocks.size());
    for (size_t i = 0; i < repl_.size(); ++i) repl_[i] = static_cast<int>(i);
    bool changed = false;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      int b = *it;
      IrBlock& bb = blk(b);
      if (!bb.is_ret) {
        for (int w = 0; w < 2; ++w) {
          int r = repl_[static_cast<size_t>(bb.succ[w])];
          if (r != bb.succ[w]) {
            bb.succ[w] = r;
            changed = true;
          }
        }
      }
      Sig sg{bb.is_ret, bb.ret_k, bb.is_ret ? -1 : key(b), bb.jcode, bb.k,
             bb.is_ret ? -1 : bb.succ[0], bb.is_ret ? -1 : bb.succ[1]};
      int rep = canon_.find_or_insert(sg, b);
      if (rep != b) repl_[static_cast<size_t>(b)] = rep;
    }
    int e = repl_[static_cast<size_t>(fp_->entry)];
    if (e != fp_->entry) {
      fp_->entry = e;
      changed = true;
    }
    return changed;
  }
  std::vector<int> repl_;
  SigTable canon_;
};

}  // namespace

void optimise(IrFunc& f) {
  // One Optimiser per thread serves every compile: its work vectors keep their capacity. On the
  // heap: a thread_local object's address is a constant that GCC propagates into the methods,
  // which then recompute the thread's storage address at every member access.
  static thread_local std::unique_ptr<Optimiser> opt;
  if (!opt) opt = std::make_unique<Optimiser>();
  opt->reset(f);
  opt->run();
}

}  // namespace bpf::compiler::detail
