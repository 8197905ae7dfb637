// The verifier: decides what may run, explains every rejection, and mints VerifiedProgram.
//
// Rule sets (vm::Target):
//  - kLinux: exactly what the running Linux kernel accepts for SO_ATTACH_FILTER, i.e.
//    net/core/filter.c bpf_check_basics_ok + bpf_check_classic + check_load_and_stores, and the
//    one way bpf_convert_filter() can still fail for a checked program (an eBPF jump offset that
//    does not fit in 16 bits; see kernel_conversion.hpp). Verified against the kernel by
//    tests/verifier/kernel_diff_test.cpp (>= 100,000 programs, zero disagreements).
//  - kBsd: FreeBSD sys/net/bpf_filter.c bpf_validate() plus bpf_setf()'s length limit
//    (BPF_MAXINSNS = 512). Tested against FreeBSD's tools/regression/bpf/bpf_filter cases.
//
// All errors are collected (not only the first); each names the instruction index, its
// disassembly (vm/disasm_line.hpp) and the reason, with SourceLoc from Program::locs when known;
// scratch-memory errors give the path that reads before writing. Warnings (unreachable code,
// constant conditions, loads beyond the snap length, ret above the snap length) never reject.
//
// What the facts in the VerifiedProgram guarantee is documented in vm/program.hpp.
#pragma once

#include <cstdint>
#include <string>

#include "vm/diagnostic.hpp"
#include "vm/program.hpp"

namespace bpf::verifier {

struct Options {
  vm::Target target = vm::Target::kLinux;
  uint32_t snaplen = 262144;
};

// All errors collected (insn_index set; SourceLoc from Program::locs when known), warnings too.
Result<vm::VerifiedProgram> verify(const vm::Program& prog, const Options& opts = {});

// Human-readable report of a verified program (for `bpfc -V`): blocks, successors, packet bytes
// per block, scratch use, register facts.
std::string describe(const vm::VerifiedProgram& prog);

// Maximum program length for a rule set (Linux BPF_MAXINSNS 4096, FreeBSD BPF_MAXINSNS 512).
uint32_t max_insns(vm::Target target);

}  // namespace bpf::verifier
