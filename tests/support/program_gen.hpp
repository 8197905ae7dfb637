// Deterministic random classic BPF programs for differential tests and fuzzers.
//
// random_program() produces programs that both the Linux checker (bpf_check_classic) and BSD's
// bpf_validate accept for the chosen target: forward in-range jumps, a `ret` last, no division or
// modulo by constant 0, constant shifts < 32, scratch slots < 16 and read only after a write on
// every path (they are all written in a prologue), known ancillary offsets only (Linux).
// They exercise every opcode the target allows: loads at offsets near the packet boundaries,
// [x + k] with X near 2^32 (offset wrap-around), division by an X that may be 0, shifts by
// X >= 32, ancillary loads and SKF_NET_OFF / SKF_LL_OFF offsets (Linux), `ret` in the middle.
//
// mutate_invalid() turns a valid program into one that the verifier of that target must reject,
// and says why. Same seed, same output, on every machine (std::mt19937_64 with our own
// distributions, no std::uniform_int_distribution whose results are implementation-defined).
// Tested in tests/support/support_test.cpp.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "vm/insn.hpp"
#include "vm/program.hpp"

namespace bpf::test {

using Rng = std::mt19937_64;

// Uniform in [0, n) (n > 0), portable.
inline uint64_t below(Rng& rng, uint64_t n) { return rng() % n; }
inline bool chance(Rng& rng, uint32_t percent) { return below(rng, 100) < percent; }

struct GenOptions {
  vm::Target target = vm::Target::kLinux;
  uint32_t min_len = 2;
  uint32_t max_len = 48;        // instructions, including the prologue and the final ret
  uint32_t packet_hint = 128;   // typical caplen: absolute offsets cluster around it and 0..64
  bool ancillary = true;        // Linux: ancillary loads
  uint32_t ancillary_mask = 0xffff;  // which ones: bit i = vm::Ancillary value i
  bool negative_offsets = true; // Linux: SKF_NET_OFF / SKF_LL_OFF loads
  bool ret_x = false;           // BSD: `ret x` (libpcap's bpf_filter does not implement it)
};

std::vector<vm::Insn> random_program(Rng& rng, const GenOptions& opts = {});

struct InvalidProgram {
  std::vector<vm::Insn> insns;
  std::string why;  // the mutation applied, for test messages
};

// A program the verifier for `target` must reject, derived from `valid`.
InvalidProgram mutate_invalid(Rng& rng, std::span<const vm::Insn> valid, vm::Target target);

}  // namespace bpf::test
