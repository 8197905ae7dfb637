// Load guards for the classifier (compiler/classify/classify.hpp): private to compiler/classify/.
#pragma once

#include <cstddef>

#include "compiler/expr_ir.hpp"
#include "vm/program.hpp"

namespace bpf::compiler::detail {

// Puts, in front of every block of f.blocks[first, end) whose statements could end the program
// on a packet whose captured length is its wire length (a packet load past `len`, `ldx 4*([k]&0xf)`
// past `len`, a division or modulo by X = 0), tests that send such packets to block `fail`
// instead. The block keeps its index (it becomes the first guard), so edges into it need no
// change. Statements are unchanged; guard blocks are self-contained (IR invariant). `entry` is
// the range's entry block: a length test that every path from it has passed is not repeated.
void guard_loads(IrFunc& f, size_t first, size_t end, int entry, int fail, vm::Target target);

}  // namespace bpf::compiler::detail

namespace bpf::compiler::detail {

// Over the whole classifier (after every rule is spliced and guarded): moves every edge that
// leads into a length guard `ld len; jge #T` whose outcome the edge already implies (the
// guards and loads on every path to it bound `len`) to the guard's decided exit; also past an
// indexed-load guard whose X comes from `ldxb 4*([k]&0xf)` (at most 60) when len is known
// long enough for any X. The
// expression optimiser decides only a guard with the same T as an earlier one (libpcap's
// fold_edge); this one knows that len >= 34 implies len >= 14. Linear in the graph.
void thread_length_guards(IrFunc& f, vm::Target target);

}  // namespace bpf::compiler::detail
