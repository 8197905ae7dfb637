// Shared tails: where two programs go on with the same code (cut points for check_equivalence).
//
// Two programs compared by --equiv are often variants of one another -- -O0 and -O2 of one
// expression, a hand edit of a program -- and end in long runs of identical code (protochain's
// unrolled walk, a geneve header search). From an instruction on, a program's return value is a
// function of its registers there (A, X, M[]) and of the packet and context; where both programs
// reach the same code, one unknown function of the registers that code reads before writing
// them can stand for it in both. equiv_z3.cpp first proves equivalence with such tails cut off
// (a proof that holds for every function holds for the real one), and only when that finds a
// difference the interpreter does not confirm (the real tails tell the cases apart) does it
// encode the whole programs.
//
// Identical code is found by hash-consing instructions bottom-up (successors first: the CFG is
// acyclic and jumps go forward): an instruction's class is its opcode, operand and successors'
// classes, numbered in one table for both programs; `ja` takes its target's class. Linear in
// the programs' length.
// Tested in tests/analysis/equiv_test.cpp (SharedTails).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vm/program.hpp"

namespace bpf::analysis {

struct SharedTails {
  // Per instruction of each program: the class of the tail starting there when both programs
  // contain it and it has at least `min_size` instructions; else -1.
  std::vector<int32_t> a, b;
  // Per class: the registers its code reads before writing them: bit 0 A, bit 1 X, bit 2 + j
  // M[j].
  std::vector<uint32_t> live_in;
  bool any() const;
};

// Registers an instruction reads and writes: bit 0 A, bit 1 X, bit 2 + j M[j] (vm::OpInfo's
// effects; a Linux ancillary load reads A and X: nla/nlan search from A for X, the xor with X,
// and ifindex/hatype end returning A).
void register_effects(const vm::DecodedInsn& d, vm::Target target, uint32_t& reads,
                      uint32_t& writes);

SharedTails shared_tails(std::span<const vm::DecodedInsn> a, std::span<const vm::DecodedInsn> b,
                         vm::Target target, uint32_t min_size = 8);

}  // namespace bpf::analysis
