// Load guards: what makes a rule false, instead of ending the classifier, when one of its loads
// would fail (compiler/classify/guards.hpp). The failure conditions are libpcap's bpf_filter
// (bpf_filter.c, BPF_LD|BPF_ABS: `k > buflen || sizeof(int32_t) > buflen - k`; BPF_IND the same
// on X + k computed without wrapping; BPF_LDX|BPF_MSH: `k >= buflen`; BPF_DIV|BPF_X and
// BPF_MOD|BPF_X: `X == 0`), with buflen = len since the guarded packets are not snapped.
// For a block they are, in the order its statements would meet them:
//   G0: `ld len; jge #T`, T the largest end (k + size) of its absolute, msh and indexed loads
//       (so that the statements below cannot fail before the test that guards them);
//   Gi: for the i-th indexed load `ld [x + k]` of size s: the statements before it (they set
//       X from the packet; a block is self-contained, so they can run again), then
//       `ld len; sub #(k + s); jge x` (len - k - s >= X, no wrap since len >= T >= k + s);
//   Gd: for a division or modulo by X: the statements before it, then `txa; jeq #0` (true: fail).
// On Linux absolute offsets of 2^31 and more are ancillary loads or special areas, not packet
// bytes (vm::counted_load): they are not guarded. An indexed load whose X + k wraps to such an
// offset is judged by bpf_filter's rule (a failure), which Linux may not share; the expression
// compiler only builds such offsets from `proto[expr]` with an expression near 2^32.
// Guard tests compare `len` with constants, so the optimiser decides a repeated guard from the
// first one on every path (tests/expr/classify_diff_test.cpp counts the guards that survive).
#include "compiler/classify/guards.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "vm/insn.hpp"

namespace bpf::compiler::detail {

namespace {

namespace c = vm::code;
using vm::Insn;

constexpr uint64_t kNever = uint64_t{1} << 33;  // a load that fails on every packet

uint32_t size_bytes(uint16_t code) {
  switch (c::size(code)) {
    case c::kW: return 4;
    case c::kH: return 2;
    default: return 1;
  }
}

Insn ins(uint16_t code, uint32_t k = 0) { return Insn{code, 0, 0, k}; }

struct Check {
  size_t at;        // statement index
  bool division;    // X == 0 check, else an indexed load
  uint32_t end = 0;  // k + size of the indexed load
};

}  // namespace

void guard_loads(IrFunc& f, size_t first, size_t end, int entry, int fail, vm::Target target) {
  // Blocks of the range in topological order (depth-first post-order, reversed), and the
  // length every path into each block has already checked: a block whose loads all lie within
  // it needs no G0 (the block that checked it dominates on every path).
  std::vector<int> order;
  // Blocks from `first` on: the range, and what was appended after it (a group's search,
  // compiler/classify/groups.cpp, whose blocks load nothing); earlier ones are other rules.
  const size_t top = f.blocks.size();
  {
    std::vector<uint8_t> state(top - first, 0);
    std::vector<std::pair<int, int>> stack;
    auto inside = [&](int b) { return b >= static_cast<int>(first) && b < static_cast<int>(top); };
    if (inside(entry)) stack.push_back({entry, 0});
    if (inside(entry)) state[static_cast<size_t>(entry) - first] = 1;
    while (!stack.empty()) {
      auto& [b, w] = stack.back();
      const IrBlock& bb = f.blocks[static_cast<size_t>(b)];
      if (!bb.is_ret && w < 2) {
        const int s = bb.succ[w++];
        if (inside(s) && !state[static_cast<size_t>(s) - first]) {
          state[static_cast<size_t>(s) - first] = 1;
          stack.push_back({s, 0});
        }
        continue;
      }
      order.push_back(b);
      stack.pop_back();
    }
    std::reverse(order.begin(), order.end());  // (blocks no path reaches never run)
  }
  constexpr uint64_t kUnset = ~uint64_t{0};
  std::vector<uint64_t> known(top - first, kUnset);  // min over the paths into the block
  if (!order.empty()) known[static_cast<size_t>(entry) - first] = 0;
  for (const int bi : order) {
    const size_t b = static_cast<size_t>(bi);
    if (f.blocks[b].is_ret) continue;
    const uint64_t known_in = known[b - first] == kUnset ? 0 : known[b - first];
    if (b >= end) {  // loads nothing: what is known passes through
      for (const int s : f.blocks[b].succ)
        if (s >= static_cast<int>(first) && s < static_cast<int>(top))
          known[static_cast<size_t>(s) - first] = std::min(known[static_cast<size_t>(s) - first], known_in);
      continue;
    }
    uint64_t need = 0;  // G0's T
    std::vector<Check> checks;
    const std::vector<Insn> ss = f.blocks[b].stmts;
    for (size_t i = 0; i < ss.size(); ++i) {
      const Insn& s = ss[i];
      const uint16_t cls = c::cls(s.code);
      const uint16_t mode = c::mode(s.code);
      if ((cls == c::kLd && mode == c::kAbs) || (cls == c::kLdx && mode == c::kMsh)) {
        const uint32_t sz = cls == c::kLdx ? 1 : size_bytes(s.code);
        if (vm::counted_load(target, s.k, sz)) {
          need = std::max<uint64_t>(need, uint64_t{s.k} + sz);
        } else if (target == vm::Target::kBsd) {
          need = kNever;
        }
      } else if (cls == c::kLd && mode == c::kInd) {
        const uint64_t e = uint64_t{s.k} + size_bytes(s.code);
        if (e > 0xffffffffu) {
          need = kNever;
        } else {
          need = std::max(need, e);
          checks.push_back({i, false, static_cast<uint32_t>(e)});
        }
      } else if (cls == c::kAlu && c::src(s.code) == c::kX &&
                 (c::op(s.code) == c::kDiv || c::op(s.code) == c::kMod)) {
        checks.push_back({i, true});
      }
    }
    // both exits of the block: its loads succeeded, so len >= need
    const std::vector<uint64_t>::size_type nfirst = first;
    for (const int s : f.blocks[b].succ)
      if (s >= static_cast<int>(first) && s < static_cast<int>(top)) {
        uint64_t& k = known[static_cast<size_t>(s) - nfirst];
        k = std::min(k, std::max(known_in, need));
      }
    if (need <= known_in) need = 0;
    if (need == 0 && checks.empty()) continue;

    // The block's content moves to a new index; its old index becomes the first guard.
    const int body = static_cast<int>(f.blocks.size());
    f.blocks.push_back(f.blocks[b]);
    const SourceLoc loc = f.blocks[b].loc;
    std::vector<IrBlock> guards;
    if (need >= kNever) {
      IrBlock g;  // always false: both exits to `fail`, a test the optimiser bypasses
      g.stmts = {ins(c::kLd | c::kW | c::kLen)};
      g.jcode = c::kJmp | c::kJge | c::kK;
      g.k = 0;
      g.loc = loc;
      guards.push_back(std::move(g));
    } else {
      if (need > 0) {
        IrBlock g;
        g.stmts = {ins(c::kLd | c::kW | c::kLen)};
        g.jcode = c::kJmp | c::kJge | c::kK;
        g.k = static_cast<uint32_t>(need);
        g.loc = loc;
        guards.push_back(std::move(g));
      }
      for (const Check& ch : checks) {
        IrBlock g;
        g.stmts.assign(ss.begin(), ss.begin() + static_cast<std::ptrdiff_t>(ch.at));
        if (ch.division) {
          g.stmts.push_back(ins(c::kMisc | c::kTxa));
          g.jcode = c::kJmp | c::kJeq | c::kK;
          g.k = 0;
        } else {
          g.stmts.push_back(ins(c::kLd | c::kW | c::kLen));
          g.stmts.push_back(ins(c::kAlu | c::kSub | c::kK, ch.end));
          g.jcode = c::kJmp | c::kJge | c::kX;
        }
        g.loc = loc;
        guards.push_back(std::move(g));
      }
    }
    // Chain: guard j -> guard j+1 -> ... -> body; every failure to `fail`.
    const bool never = need >= kNever;
    for (size_t j = 0; j < guards.size(); ++j) {
      const int next = j + 1 < guards.size() ? static_cast<int>(f.blocks.size() + j) : body;
      // guards[0] goes to index b; guards[j >= 1] to f.blocks.size() + j - 1 (appended below)
      IrBlock& g = guards[j];
      const bool division = !never && g.jcode == (c::kJmp | c::kJeq | c::kK);
      g.succ[0] = never ? fail : division ? fail : next;
      g.succ[1] = never ? fail : division ? next : fail;
    }
    f.blocks[b] = std::move(guards[0]);
    for (size_t j = 1; j < guards.size(); ++j) f.blocks.push_back(std::move(guards[j]));
  }
}

}  // namespace bpf::compiler::detail

namespace bpf::compiler::detail {

namespace {

bool is_len_guard(const IrBlock& b) {
  return !b.is_ret && !b.opaque && b.stmts.size() == 1 && b.stmts[0].code == (c::kLd | c::kW | c::kLen) &&
         b.jcode == (c::kJmp | c::kJge | c::kK);
}

// The smallest len that decides an indexed-load guard (`...; ldxb 4*([k]&0xf); ...; ld len;
// sub #e; jge x`, X at most 60) true; 0 when the guard is not of that form.
uint64_t x_guard_len(const IrBlock& b) {
  const size_t n = b.stmts.size();
  if (b.is_ret || b.opaque || n < 3 || b.jcode != (c::kJmp | c::kJge | c::kX) ||
      b.stmts[n - 2].code != (c::kLd | c::kW | c::kLen) || b.stmts[n - 1].code != (c::kAlu | c::kSub | c::kK))
    return 0;
  for (size_t i = n - 2; i-- > 0;) {  // the last statement that sets X
    const uint16_t cls = c::cls(b.stmts[i].code);
    if (cls == c::kLdx) return c::mode(b.stmts[i].code) == c::kMsh ? uint64_t{b.stmts[n - 1].k} + 60 : 0;
    if (cls == c::kMisc && c::miscop(b.stmts[i].code) == c::kTax) return 0;
  }
  return 0;
}

}  // namespace

void thread_length_guards(IrFunc& f, vm::Target target) {
  if (f.entry < 0) return;
  // reverse postorder from the entry
  std::vector<int> order;
  {
    std::vector<uint8_t> seen(f.blocks.size(), 0);
    std::vector<std::pair<int, int>> stack{{f.entry, 0}};
    seen[static_cast<size_t>(f.entry)] = 1;
    while (!stack.empty()) {
      auto& [b, w] = stack.back();
      const IrBlock& bb = f.blocks[static_cast<size_t>(b)];
      if (!bb.is_ret && w < 2) {
        const int s = bb.succ[w++];
        if (!seen[static_cast<size_t>(s)]) {
          seen[static_cast<size_t>(s)] = 1;
          stack.push_back({s, 0});
        }
        continue;
      }
      order.push_back(b);
      stack.pop_back();
    }
    std::reverse(order.begin(), order.end());
  }
  // [lo, hi] of len on every path into each block (lo > hi: no path seen yet)
  std::vector<uint64_t> lo(f.blocks.size(), ~uint64_t{0}), hi(f.blocks.size(), 0);
  lo[static_cast<size_t>(f.entry)] = 0;
  hi[static_cast<size_t>(f.entry)] = 0xffffffffu;
  for (const int bi : order) {
    const size_t b = static_cast<size_t>(bi);
    if (lo[b] > hi[b] || f.blocks[b].is_ret) continue;  // every path into it was moved away
    uint64_t out_lo[2] = {lo[b], lo[b]}, out_hi[2] = {hi[b], hi[b]};
    const IrBlock& bb = f.blocks[b];
    if (is_len_guard(bb)) {
      out_lo[0] = std::max<uint64_t>(lo[b], bb.k);
      out_hi[1] = std::min<uint64_t>(hi[b], bb.k == 0 ? 0 : bb.k - 1);
      if (bb.k == 0) out_lo[1] = 1, out_hi[1] = 0;  // never false
    } else {
      uint64_t end = 0;  // its absolute loads succeeded (they are guarded)
      for (const Insn& s : bb.stmts)
        if (c::cls(s.code) == c::kLd && c::mode(s.code) == c::kAbs && vm::counted_load(target, s.k, size_bytes(s.code)))
          end = std::max<uint64_t>(end, uint64_t{s.k} + size_bytes(s.code));
      out_lo[0] = out_lo[1] = std::max(lo[b], end);
    }
    for (int w = 0; w < 2; ++w) {
      if (out_lo[w] > out_hi[w]) continue;  // an exit no packet takes
      int& t = f.blocks[b].succ[w];
      for (;;) {  // past every guard this edge decides
        const IrBlock& tb = f.blocks[static_cast<size_t>(t)];
        if (const uint64_t need = x_guard_len(tb); need != 0 && out_lo[w] >= need) {
          t = tb.succ[0];
          continue;
        }
        if (!is_len_guard(tb)) break;
        if (out_lo[w] >= tb.k) t = tb.succ[0];
        else if (out_hi[w] < tb.k) t = tb.succ[1];
        else break;
      }
      const size_t ts = static_cast<size_t>(t);
      lo[ts] = std::min(lo[ts], out_lo[w]);
      hi[ts] = std::max(hi[ts], out_hi[w]);
    }
  }
}

}  // namespace bpf::compiler::detail
