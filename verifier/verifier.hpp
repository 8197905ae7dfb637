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
//    NetBSD's bpf_validate (class switch, BPF_COP/BPF_COPX, kernel-side scratch checks) is not
//    modelled separately.
//
// What the kernel does, measured on 6.18 and encoded here (tests cite the cases):
//  - codes: exactly chk_code_allowed()'s 49 codes; FreeBSD's bpf_code_map holds the same 49.
//    So `ret x` (BPF_RET|BPF_X, 0x0e) is rejected by BOTH targets, as is every code with an
//    unused bit set (e.g. 0x8c `neg` with the X bit) and every code above 0xff.
//  - shifts by a constant >= 32 are rejected by Linux (bpf_check_classic), allowed by BSD.
//  - ld/ldh/ldb [k] with k >= SKF_AD_OFF must be a known ancillary offset, any size; k in the
//    SKF_NET_OFF/SKF_LL_OFF ranges and any other k >= 2^31 are accepted (such loads fail at run
//    time unless in those ranges); [x + k] and ldxb 4*([k]&0xf) are never checked.
//  - check_load_and_stores() does not reset its state after `ret`, so code after a `ret`
//    inherits the slots written before it; valid programs can be rejected this way, and we
//    reject them too, saying so.
//  - an empty program is rejected (Linux EINVAL; for BSD it would mean "no filter").
//  - the length limit (BPF_MAXINSNS) and bpf_convert_filter()'s jump range are the kernel's, not
//    classic BPF's: they apply only with Destination::kKernel (the default), the program going to
//    a kernel (`bpfc --check`, `bpfdump --engine kernel`). With kUserSpace (the interpreter and
//    both JITs, which run programs of any length as libpcap's bpf_filter does) they are not
//    checked; kernel_limits() reports them on their own (bpfc warns when it prints a program the
//    kernel will refuse). ../shared/CLI.md "Long programs".
//  - ENOMEM from SO_ATTACH_FILTER (eBPF size above net.core.optmem_max) is not a verdict: the
//    program passed every check; the verifier warns when it is likely.
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

// Where the verified program goes: into a kernel (its length and conversion limits apply) or to a
// user-space engine (any length). Every pass of verify() is linear or n log n in the program's
// length (tests/verifier/verifier_test.cpp VerifierLength.*: 100,000 instructions).
enum class Destination : uint8_t { kKernel, kUserSpace };

struct Options {
  vm::Target target = vm::Target::kLinux;
  uint32_t snaplen = 262144;
  Destination destination = Destination::kKernel;
};

// All errors collected (insn_index set; SourceLoc from Program::locs when known), warnings too.
Result<vm::VerifiedProgram> verify(const vm::Program& prog, const Options& opts = {});

// Human-readable report of a verified program (for `bpfc -V`): blocks, successors, packet bytes
// per block, scratch use, register facts.
std::string describe(const vm::VerifiedProgram& prog);

// The kernel's own limits for a program that verify() accepts for user space: the length
// (Linux 4096, BSD 512) and, for Linux, bpf_convert_filter()'s jump range and the optmem_max
// warning. Errors mean the kernel of `target` refuses the program; empty when it takes it.
Diagnostics kernel_limits(const vm::Program& prog, vm::Target target);

// Maximum program length for a rule set's kernel (Linux BPF_MAXINSNS 4096, FreeBSD BPF_MAXINSNS 512).
uint32_t max_insns(vm::Target target);

}  // namespace bpf::verifier
