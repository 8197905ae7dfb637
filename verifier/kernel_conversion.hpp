// A model of Linux bpf_convert_filter() (net/core/filter.c, 6.x): how many eBPF instructions the
// kernel emits for each classic instruction when SO_ATTACH_FILTER migrates a checked program to
// eBPF, and which jumps it then refuses.
//
// Why the verifier needs this: bpf_check_classic() is not the last word. After it, the kernel
// converts the program, and BPF_EMIT_JMP rejects (-EINVAL) any jump whose eBPF offset does not fit
// in the 16-bit `off` field. It runs two passes over a zero-filled `addrs[]` (kcalloc): in the
// first pass every forward target still has address 0, so a jump emitted at eBPF index p (the
// classic instruction's address plus its position inside the expansion) fails when
// -(p + 1) < S16_MIN, i.e. p > 32767, whatever its target; in the second pass the real offset
// addrs[target] - p - 1 must be <= S16_MAX. Expansion sizes below follow convert_bpf_extensions,
// convert_skb_access (little-endian bitfields), convert_bpf_ld_abs (x86-64:
// CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS=y) and the main switch; the prologue is 3 instructions,
// plus 4 when any packet load went through convert_bpf_ld_abs (seen_ld_abs).
//
// Precondition: every instruction is in the Linux allowed set (bpf_check_classic passed).
// Checked against the running kernel by tests/verifier/kernel_diff_test.cpp (long programs).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vm/insn.hpp"

namespace bpf::verifier {

struct ConversionJumpError {
  uint32_t insn = 0;        // classic instruction index of the jump
  uint32_t target = 0;      // classic target that could not be encoded
  int64_t offset = 0;       // the eBPF offset the kernel computed
  bool first_pass = false;  // true: failed in pass 1 (target address still 0)
};

struct KernelConversion {
  uint32_t ebpf_len = 0;            // new_len: eBPF instructions, prologue included
  std::vector<uint32_t> addrs;      // eBPF index of each classic instruction
  std::vector<ConversionJumpError> errors;
};

KernelConversion model_kernel_conversion(std::span<const vm::Insn> insns);

// Length of the expansion of one classic instruction (and whether it sets seen_ld_abs).
uint32_t kernel_expansion_len(const vm::Insn& insn, bool* seen_ld_abs);

}  // namespace bpf::verifier
