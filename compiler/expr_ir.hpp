// Control-flow-graph IR shared by the expression lowering (expr_gen*.cpp, state in expr_gen.hpp)
// and the optimiser and code generator (expr_opt.cpp). Private to compiler/.
//
// A function is a DAG of blocks. Every block is self-contained as built by the lowering: its
// statements compute, from the packet alone, the value its final conditional jump tests (it never
// relies on A, X or M[] left by another block). The optimiser relies on that to thread jumps and
// then removes loads that the predecessors already did. Block 0..n: `ret` blocks have no
// statements. Successor indices always point to blocks created earlier or later; the graph is
// acyclic (protochain is unrolled).
#pragma once

#include <cstdint>
#include <vector>

#include "vm/diagnostic.hpp"
#include "vm/insn.hpp"

namespace bpf::compiler::detail {

struct IrBlock {
  std::vector<vm::Insn> stmts;  // no jumps, no returns
  bool is_ret = false;
  uint32_t ret_k = 0;
  uint16_t jcode = 0;  // conditional jump code (jeq/jgt/jge/jset, K or X)
  uint32_t k = 0;
  int succ[2] = {-1, -1};  // true, false
  bool rel_eq = false;     // an `arith = k` relation (compared as A - k == 0 by libpcap)
  // A relation (`<`, `>`, `=`...) whose value libpcap's branch-moving passes never share with a
  // primitive's test: its operand reads the packet, which libpcap loads through its index
  // arithmetic (gencode.c gen_load: `ld #i; st M[r]` then `ldx M[r]; ld [x + k]`, or `ld M[r];
  // add x; tax; ld [x + k]` after ldxb; the first opt_loop does not rewrite statements), never
  // as a primitive loads the same field (`ldxb; ldh [x + 0]` of `udp src port`); or it compares
  // constants (Gen::materialise). Unset for a relation of `len` alone: its value is the
  // primitives' `ld len` once its `=` is folded. See Optimiser::identity (expr_opt.cpp).
  bool rel_own_value = false;
  // A test libpcap's optimiser rewrites into a `jset` only in a later pass (opt_peep does one
  // rewrite per block per pass, and the block's value stays the pre-rewrite one for that pass):
  // kLateJsetRelation, the relation `x & m = 0` (built as `x; and #m; jeq #0`, rewritten into
  // `x; jset #m` with swapped exits at the start of the second pass); kMaskJset, a primitive's
  // masked comparison with 0 (built as `x; jset #m`, its value that of `x & m` in the first
  // pass). late_mask is m. See Optimiser::identity (expr_opt.cpp).
  enum Late : uint8_t { kNotLate, kLateJsetRelation, kMaskJset };
  Late late = kNotLate;
  uint8_t fold_pass = 0;  // first optimiser pass (0-based) that may fold it as a constant test
  // fold_pass of a test whose constant libpcap finds only in its second opt_loop, which moves
  // no branch: folded once branch movement is over (Optimiser::run), never skipped afterwards.
  static constexpr uint8_t kFoldAfterBranches = 255;
  uint32_t late_mask = 0;
  // Not self-contained: reads A/X/M[] left by its predecessor or leaves them for its successors
  // (protochain's unrolled walk). Its test is never related to another block's, it is never
  // reordered, and skipped only when its two exits coincide and nothing after it reads what its
  // statements leave (Optimiser::leaves_nothing_used, expr_opt.cpp).
  bool opaque = false;
  SourceLoc loc;
};

struct IrFunc {
  std::vector<IrBlock> blocks;
  int entry = -1;
  // libpcap does not optimise a program that uses protochain (gencode.c sets no_optimize), so
  // its verdicts are those of the unoptimised code: then only the passes that keep the verdict
  // of every packet, snapped ones included, run (no bypass of useless tests, no pullups), and
  // "rejects all packets" is never reported.
  bool unoptimised_reference = false;
  // Value a scratch slot is given at program start when some path reads it before writing it
  // (emit_program adds `ld #v; st M[i]` for those slots only). Only `geneve`'s offset slots can
  // be read so (`geneve or ip`: the right side runs when `geneve` failed before writing them);
  // they get the outer frame's offsets, see Gen::geneve.
  uint32_t mem_init[16] = {};
  // Slots given their mem_init value at program start whatever the paths: the pair searches'
  // (expr_gen_pairs.cpp) are written before every read, but Linux's check_load_and_stores()
  // lets validity flow past a `ret` into the next instruction, which may read them.
  uint16_t mem_init_always = 0;
};

// libpcap's optimiser structure over the graph (expr_opt.cpp): opt_level >= 1.
void optimise(IrFunc& f);

// Optimises (opt_level >= 1) and emits (expr_emit.cpp). Returns false (with an error in diags) when the program
// cannot be emitted.
bool emit_program(IrFunc& f, int opt_level, std::vector<vm::Insn>* out,
                  std::vector<SourceLoc>* locs, Diagnostics* diags);

// -O2, after optimisation: chains of `jeq #k` on one value with one true target become
// balanced searches (expr_chains.cpp). `order` lists the reachable blocks, entry first; true
// when something changed (the layout must then be computed again).
bool chains_to_searches(IrFunc& f, const std::vector<int>& order);

// True when, after optimisation, the program accepts nothing (entry is `ret #0`).
bool rejects_everything(const std::vector<vm::Insn>& prog);

}  // namespace bpf::compiler::detail
