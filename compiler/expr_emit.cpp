// Code emission for the expression IR (compiler/expr_ir.hpp), after the optimiser
// (expr_opt.cpp, optimise()):
//  - (opt_level >= 2) redundant load elimination after layout: a symbolic value for A, X and M[]
//    flows along the DAG (meet = equal or unknown); a load of a value the register already
//    holds is removed (the same load succeeded before, so no verdict changes, snapped packets
//    included); stores to slots nothing reads any more are dropped; blocks made identical by
//    it are merged;
//  - scratch slots read before written on some path get their initial value (IrFunc::mem_init);
//  - blocks are laid out in depth-first order, and the program is built from its end in one
//    linear pass with shared trampolines for branches longer than 255 instructions.
// Tested by tests/expr/expr_diff_test.cpp (libpcap verdicts; -O0 vs -O2 agreement) and
// tests/expr/big_filter_test.cpp (long programs).
#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "compiler/expr_ir.hpp"
#include "compiler/expr_sig.hpp"
#include "vm/semantics.hpp"

namespace bpf::compiler::detail {

namespace {

namespace c = vm::code;
using vm::Insn;

// ---- redundant load elimination ---------------------------------------------------------------
struct RegState {
  int a = -1, x = -1;          // value numbers, -1 unknown
  std::array<int, 16> m{};     // -1 unknown
  RegState() { m.fill(-1); }
  friend bool operator==(const RegState&, const RegState&) = default;
};

// Hash-consed symbolic values: (tag, k, dependency) -> value number.
class ValueTable {
 public:
  // Empties the table, keeping its storage (a slot is live only with the current stamp).
  void reset() {
    if (slots_.size() > 4096) {
      slots_.clear();  // a big program's table: not kept for small ones
    } else if (++stamp_ == 0) {
      std::fill(slots_.begin(), slots_.end(), Slot{});
      stamp_ = 1;
    }
    next_ = 0;
    fresh_ = 0;
  }
  int intern(uint32_t tag, uint32_t k, int64_t dep = -2) {
    if (2 * static_cast<size_t>(next_ + 1) > slots_.size()) grow();
    Key key{tag, k, dep};
    size_t mask = slots_.size() - 1;
    for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
      Slot& sl = slots_[i];
      if (sl.stamp != stamp_) {
        sl = Slot{key, next_, stamp_};
        return next_++;
      }
      if (sl.key == key) return sl.id;
    }
  }
  int fresh() { return intern(0xffffffffu, fresh_++); }

 private:
  struct Key {
    uint32_t tag, k;
    int64_t dep;
    bool operator==(const Key&) const = default;
  };
  struct Slot {
    Key key{};
    int id = -1;
    uint32_t stamp = 0;
  };
  static size_t hash(const Key& x) {
    uint64_t h = (uint64_t(x.tag) << 32 | x.k) * 0x9e3779b97f4a7c15ull;
    h ^= uint64_t(x.dep) * 0x100000001b3ull;
    return static_cast<size_t>(h ^ (h >> 29));
  }
  void grow() {  // open addressing, load kept under 1/2
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 64 : 2 * old.size(), Slot{});
    size_t mask = slots_.size() - 1;
    for (const Slot& o : old)
      if (o.stamp == stamp_)
        for (size_t i = hash(o.key) & mask;; i = (i + 1) & mask)
          if (slots_[i].stamp != stamp_) {
            slots_[i] = o;
            break;
          }
  }
  std::vector<Slot> slots_;
  uint32_t stamp_ = 1;
  int next_ = 0;
  uint32_t fresh_ = 0;
};

// mem: whether M[] may be known (else both have every slot unknown).
RegState meet(const RegState& a, const RegState& b, bool mem) {
  RegState r;
  r.a = a.a == b.a ? a.a : -1;
  r.x = a.x == b.x ? a.x : -1;
  if (mem)
    for (size_t i = 0; i < 16; ++i) r.m[i] = a.m[i] == b.m[i] ? a.m[i] : -1;
  return r;
}

// Runs `s` symbolically; returns true when it can be dropped because it changes nothing.
bool step(ValueTable& vt, RegState& st, const Insn& s) {
  constexpr uint32_t kTagImm = 1, kTagLen = 2, kTagMsh = 3, kTagAlu = 0x10000;
  auto num = [&](uint32_t tag, uint32_t k, int dep = -2) { return vt.intern(tag, k, dep); };
  auto known = [&](int& v) {
    if (v < 0) v = vt.fresh();
    return v;
  };
  uint16_t code = s.code;
  switch (c::cls(code)) {
    case c::kLd: {
      int v;
      switch (c::mode(code)) {
        case c::kImm: v = num(kTagImm, s.k); break;
        case c::kAbs: v = num(code, s.k); break;
        case c::kInd: v = num(code, s.k, known(st.x)); break;
        case c::kMem: v = known(st.m[s.k & 15]); break;
        case c::kLen: v = num(kTagLen, 0); break;
        default: v = vt.fresh(); break;
      }
      if (st.a == v) return true;
      st.a = v;
      return false;
    }
    case c::kLdx: {
      int v;
      switch (c::mode(code)) {
        case c::kImm: v = num(kTagImm, s.k); break;
        case c::kMsh: v = num(kTagMsh, s.k); break;
        case c::kMem: v = known(st.m[s.k & 15]); break;
        case c::kLen: v = num(kTagLen, 0); break;
        default: v = vt.fresh(); break;
      }
      if (st.x == v) return true;
      st.x = v;
      return false;
    }
    case c::kSt: {
      int v = known(st.a);
      if (st.m[s.k & 15] == v) return true;
      st.m[s.k & 15] = v;
      return false;
    }
    case c::kStx: {
      int v = known(st.x);
      if (st.m[s.k & 15] == v) return true;
      st.m[s.k & 15] = v;
      return false;
    }
    case c::kAlu: {
      int a = known(st.a);
      bool by_x = c::src(code) == c::kX && c::op(code) != c::kNeg;
      // dependency: A's value and, for `op x`, X's value (both < 2^31)
      int64_t dep = (int64_t(a) << 32) | (by_x ? uint32_t(known(st.x)) : 0u);
      st.a = vt.intern(kTagAlu | code, by_x ? 0u : s.k, dep);
      return false;
    }
    case c::kMisc: {
      if (c::miscop(code) == c::kTax) {
        int v = known(st.a);
        if (st.x == v) return true;
        st.x = v;
      } else {
        int v = known(st.x);
        if (st.a == v) return true;
        st.a = v;
      }
      return false;
    }
    default:
      return false;
  }
}

// Work buffers of one emission, kept per thread across compiles (they keep their capacity:
// a compile allocates nothing here once the buffers have grown).
struct EmitScratch {
  std::vector<int> order;
  std::vector<uint8_t> state;
  std::vector<std::pair<int, int>> stack;
  ValueTable vt;
  std::vector<RegState> in;
  std::vector<int> repl;
  SigTable canon;
  std::vector<uint16_t> must_in;
  std::vector<Insn> rev;
  std::vector<SourceLoc> rev_locs;
  std::vector<int> block_pos, tramp_pos;
};

// Depth-first order of the reachable blocks into `order`, false branch explored last so that
// it tends to follow its block.
void layout(IrFunc& f, EmitScratch& w, std::vector<int>& order) {
  order.clear();
  w.state.assign(f.blocks.size(), 0);
  w.stack.clear();
  w.stack.push_back({f.entry, 0});
  w.state[static_cast<size_t>(f.entry)] = 1;
  while (!w.stack.empty()) {
    auto& [b, i] = w.stack.back();
    const IrBlock& bb = f.blocks[static_cast<size_t>(b)];
    if (!bb.is_ret && i < 2) {
      int s = bb.succ[1 - i++];
      if (!w.state[static_cast<size_t>(s)]) {
        w.state[static_cast<size_t>(s)] = 1;
        w.stack.push_back({s, 0});
      }
      continue;
    }
    order.push_back(b);
    w.stack.pop_back();
  }
  std::reverse(order.begin(), order.end());
}

void eliminate_redundant_loads(IrFunc& f, const std::vector<int>& order, EmitScratch& w) {
  ValueTable& vt = w.vt;
  vt.reset();
  w.in.resize(f.blocks.size());  // in[b] is set before it is read (seen)
  std::vector<RegState>& in = w.in;
  in[static_cast<size_t>(f.entry)] = RegState{};
  w.state.assign(f.blocks.size(), 0);
  std::vector<uint8_t>& seen = w.state;
  seen[static_cast<size_t>(f.entry)] = 1;
  // A statement that reads or writes M[] ran before (blocks in layout order): some slot may
  // have a value; until then every state has all of them unknown.
  bool mem = false;
  for (int b : order) {
    IrBlock& bb = f.blocks[static_cast<size_t>(b)];
    RegState st = in[static_cast<size_t>(b)];
    size_t kept = 0;  // the statements kept, compacted in place
    for (size_t i = 0; i < bb.stmts.size(); ++i) {
      const uint16_t code = bb.stmts[i].code, cl = c::cls(code);
      mem |= cl == c::kSt || cl == c::kStx || ((cl == c::kLd || cl == c::kLdx) && c::mode(code) == c::kMem);
      if (!step(vt, st, bb.stmts[i])) bb.stmts[kept++] = bb.stmts[i];
    }
    bb.stmts.resize(kept);
    if (bb.is_ret) continue;
    for (int s = 0; s < 2; ++s) {
      size_t t = static_cast<size_t>(bb.succ[s]);
      if (!seen[t]) {
        in[t] = st;
        seen[t] = 1;
      } else {
        in[t] = meet(in[t], st, mem);
      }
    }
  }
}

// After redundant loads are gone, blocks that became identical (same remaining statements, test
// and successors) are merged: e.g. `jeq #17` reached with A = [20] on one path and A = [54] on
// another. Sound because identical code with identical successors behaves the same whatever
// enters it, and every path of the original graph still exists.
// Takes w.order the layout of f, leaves it the layout of the final graph.
bool merge_after_rle(IrFunc& f, EmitScratch& w) {
  SigTable& canon = w.canon;
  std::vector<int>& repl = w.repl;
  // One bottom-up round reaches the fixpoint, as in the optimiser's merge_identical (a block's
  // signature is taken with canonical successors; a collision leaves the same blocks unmerged
  // in any round).
  const std::vector<int>& order = w.order;  // the layout of f (emit_program)
  canon.reset(order.size());
  repl.resize(f.blocks.size());
  for (size_t i = 0; i < repl.size(); ++i) repl[i] = static_cast<int>(i);
  bool changed = false;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    IrBlock& bb = f.blocks[static_cast<size_t>(*it)];
    if (!bb.is_ret)
      for (int s = 0; s < 2; ++s) bb.succ[s] = repl[static_cast<size_t>(bb.succ[s])];
    uint64_t h = 0x12345;
    for (const Insn& i : bb.stmts) h = (h ^ (uint64_t(i.code) << 40) ^ i.k) * 0x100000001b3ull;
    Sig sg{bb.is_ret, bb.ret_k, static_cast<int>(h ^ (h >> 32)), bb.jcode, bb.k,
           bb.is_ret ? -1 : bb.succ[0], bb.is_ret ? -1 : bb.succ[1]};
    int rep = canon.find_or_insert(sg, *it);
    // equal signatures with different statements (a hash collision) are simply not merged
    if (rep != *it && f.blocks[static_cast<size_t>(rep)].stmts == bb.stmts) {
      repl[static_cast<size_t>(*it)] = rep;
      changed = true;
    }
  }
  f.entry = repl[static_cast<size_t>(f.entry)];
  if (!changed) return false;
  layout(f, w, w.order);
  return true;
}

// Scratch slots some path reads before writing (`geneve or ip`) get f.mem_init at program
// start: `ld #v; st M[i]` prepended to the entry block, one `ld` per distinct value. A forward
// must-be-written analysis over the final blocks (layout order is topological) finds them, so
// programs that never read an unwritten slot are unchanged.
void init_unwritten_scratch(IrFunc& f, const std::vector<int>& order, EmitScratch& ws) {
  std::vector<uint16_t>& must_in = ws.must_in;
  must_in.assign(f.blocks.size(), 0xffff);
  must_in[static_cast<size_t>(f.entry)] = 0;
  uint16_t needed = 0, read = 0;
  for (int b : order) {
    const IrBlock& bb = f.blocks[static_cast<size_t>(b)];
    uint16_t w = must_in[static_cast<size_t>(b)];
    for (const Insn& s : bb.stmts) {
      uint16_t cls = c::cls(s.code);
      bool mem = c::mode(s.code) == c::kMem;
      if ((cls == c::kLd || cls == c::kLdx) && mem) read |= uint16_t(1u << (s.k & 15));
      if ((cls == c::kLd || cls == c::kLdx) && mem && !(w >> (s.k & 15) & 1)) needed |= uint16_t(1u << (s.k & 15));
      if (cls == c::kSt || cls == c::kStx) w |= uint16_t(1u << (s.k & 15));
    }
    if (bb.is_ret) continue;
    for (int t : bb.succ) must_in[static_cast<size_t>(t)] &= w;
  }
  needed |= f.mem_init_always & read;  // (slots no block reads any more need nothing)
  if (!needed) return;
  std::vector<Insn> init;
  std::vector<uint32_t> values;
  for (uint32_t i = 0; i < 16; ++i)
    if (needed >> i & 1 && std::find(values.begin(), values.end(), f.mem_init[i]) == values.end())
      values.push_back(f.mem_init[i]);
  for (uint32_t v : values) {
    init.push_back(Insn{static_cast<uint16_t>(c::kLd | c::kImm), 0, 0, v});
    for (uint32_t i = 0; i < 16; ++i)
      if (needed >> i & 1 && f.mem_init[i] == v) init.push_back(Insn{static_cast<uint16_t>(c::kSt), 0, 0, i});
  }
  auto& es = f.blocks[static_cast<size_t>(f.entry)].stmts;
  es.insert(es.begin(), init.begin(), init.end());
}

// Stores to a scratch slot that nothing in the program reads any more (after redundant load
// elimination: the 802.11 radio header length stays in X) are dropped, as libpcap's
// opt_deadstores does; a store never fails, so no verdict changes.
void drop_unread_stores(IrFunc& f, const std::vector<int>& order) {
  uint16_t read = 0;
  for (int b : order)
    for (const Insn& i : f.blocks[static_cast<size_t>(b)].stmts)
      if ((c::cls(i.code) == c::kLd || c::cls(i.code) == c::kLdx) && c::mode(i.code) == c::kMem)
        read |= uint16_t(1u << (i.k & 15));
  for (int b : order) {
    auto& st = f.blocks[static_cast<size_t>(b)].stmts;
    st.erase(std::remove_if(st.begin(), st.end(),
                            [&](const Insn& i) {
                              return (i.code == c::kSt || i.code == c::kStx) && !(read >> (i.k & 15) & 1);
                            }),
             st.end());
  }
}

}  // namespace

bool emit_program(IrFunc& f, int opt_level, std::vector<Insn>* out, std::vector<SourceLoc>* locs,
                  Diagnostics* diags) {
  if (opt_level > 0) optimise(f);
  // per thread, on the heap (see optimise(): no thread-local address propagated into callees)
  static thread_local std::unique_ptr<EmitScratch> scratch;
  if (!scratch) scratch = std::make_unique<EmitScratch>();
  EmitScratch& ws = *scratch;
  std::vector<int>& order = ws.order;
  layout(f, ws, order);
  if (opt_level > 1) {
    eliminate_redundant_loads(f, order, ws);
    drop_unread_stores(f, order);
    // merge_after_rle leaves ws.order as the layout of the graph it found nothing to merge in
    merge_after_rle(f, ws);
    if (chains_to_searches(f, order)) layout(f, ws, order);  // expr_chains.cpp
  }
  init_unwritten_scratch(f, order, ws);

  // One backward pass over the blocks in layout order (every edge goes forward) builds the
  // program from its end: when an instruction is placed, everything after it is final, so its
  // branch lengths are exact. A conditional branch longer than 255 goes through a trampoline
  // placed right after the jump: a copy of the target when it is a `ret` (one instruction, no
  // extra jump at run time), else a `ja`. Trampolines are shared: a jump uses the nearest one
  // already placed for its target when it is in reach, so a search whose leaves all jump to
  // one far `ret` costs a trampoline per 255 instructions, not one per leaf. Linear in the
  // program.
  std::vector<Insn>& rev = ws.rev;  // the program, last instruction first
  std::vector<SourceLoc>& rev_locs = ws.rev_locs;
  rev.clear();
  rev_locs.clear();
  std::vector<int>& block_pos = ws.block_pos;  // rev index of each block's first insn
  std::vector<int>& tramp_pos = ws.tramp_pos;  // rev index of the nearest trampoline to it
  block_pos.assign(f.blocks.size(), -1);
  tramp_pos.assign(f.blocks.size(), -1);
  auto place = [&](const Insn& insn, const SourceLoc& loc) {
    rev.push_back(insn);
    rev_locs.push_back(loc);
    return static_cast<int>(rev.size() - 1);
  };
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const int b = *it;
    const IrBlock& bb = f.blocks[static_cast<size_t>(b)];
    int at = -1;
    if (bb.is_ret) {
      at = place(Insn{static_cast<uint16_t>(c::kRet | c::kK), 0, 0, bb.ret_k}, bb.loc);
    } else {
      // the jump: its trampolines go between it and what follows, so they are placed first
      int dest[2];
      for (int w = 0; w < 2; ++w) {
        const int t = bb.succ[w];
        const int tp = block_pos[static_cast<size_t>(t)];
        if (tp < 0) {
          diags->error("internal error: backward branch in expression code generation");
          return false;
        }
        // the jump lands at most two trampolines later than rev.size()
        const int jump_at = static_cast<int>(rev.size()) + 2;
        if (jump_at - tp - 1 <= 255 && static_cast<int>(rev.size()) - tp - 1 <= 255) {
          dest[w] = tp;
        } else if (tramp_pos[static_cast<size_t>(t)] >= 0 &&
                   jump_at - tramp_pos[static_cast<size_t>(t)] - 1 <= 255) {
          dest[w] = tramp_pos[static_cast<size_t>(t)];
        } else if (w == 1 && bb.succ[0] == t && dest[0] != tp) {
          dest[w] = dest[0];  // both exits to one far block: one trampoline
        } else {
          const IrBlock& tb = f.blocks[static_cast<size_t>(t)];
          const int q = static_cast<int>(rev.size());
          dest[w] = tramp_pos[static_cast<size_t>(t)] =
              tb.is_ret ? place(Insn{static_cast<uint16_t>(c::kRet | c::kK), 0, 0, tb.ret_k}, bb.loc)
                        : place(Insn{static_cast<uint16_t>(c::kJmp | c::kJa), 0, 0,
                                     static_cast<uint32_t>(q - tp - 1)}, bb.loc);
        }
      }
      const int j = static_cast<int>(rev.size());
      if (bb.succ[0] == bb.succ[1] && dest[0] == dest[1]) {
        // a test that decides nothing (the 802.11 offset code's joins): fall through, or `ja`
        const int off = j - dest[0] - 1;
        at = off == 0 ? -1
                      : place(Insn{static_cast<uint16_t>(c::kJmp | c::kJa), 0, 0,
                                   static_cast<uint32_t>(off)}, bb.loc);
        for (auto s = bb.stmts.rbegin(); s != bb.stmts.rend(); ++s) at = place(*s, bb.loc);
        block_pos[static_cast<size_t>(b)] = at >= 0 ? at : dest[0];
        continue;
      }
      Insn jump{bb.jcode, 0, 0, bb.k};
      for (int w = 0; w < 2; ++w) {
        const int off = j - dest[w] - 1;
        if (off < 0 || off > 255) {
          diags->error("internal error: branch out of range in expression code generation");
          return false;
        }
        (w == 0 ? jump.jt : jump.jf) = static_cast<uint8_t>(off);
      }
      at = place(jump, bb.loc);
    }
    for (auto s = bb.stmts.rbegin(); s != bb.stmts.rend(); ++s) at = place(*s, bb.loc);
    block_pos[static_cast<size_t>(b)] = at;
  }
  out->assign(rev.rbegin(), rev.rend());
  locs->assign(rev_locs.rbegin(), rev_locs.rend());
  return true;
}

bool rejects_everything(const std::vector<Insn>& prog) {
  return prog.size() == 1 && prog[0].code == (c::kRet | c::kK) && prog[0].k == 0;
}

}  // namespace bpf::compiler::detail
