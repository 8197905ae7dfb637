// Runtime semantics of classic BPF, in one place, constexpr.
//
// The interpreter, the expression compiler's constant folder, the JIT slow paths and the tests all
// call these functions; the JITs are tested against them. Sources: the BPF paper, Linux
// net/core/filter.c (bpf_convert_filter: classic programs run as 32-bit eBPF ALU ops, so shift
// counts by X are masked to 5 bits as kernel/bpf/core.c and the x86 JIT do) and libpcap's
// bpf_filter.c (BSD: shifts by X >= 32 give 0). Division and modulo by X == 0 end the program
// with 0 in both. Tested in tests/vm/semantics_test.cpp and tests/conformance/.
#pragma once

#include <cstdint>
#include <optional>

#include "vm/insn.hpp"
#include "vm/program.hpp"

namespace bpf::vm {

// The outcome of an ALU step: the new A, or nullopt when the program ends with 0
// (division or modulo by zero).
constexpr std::optional<uint32_t> alu(Op op, uint32_t a, uint32_t operand, Target t) {
  switch (op) {
    case Op::kAddK: case Op::kAddX: return a + operand;
    case Op::kSubK: case Op::kSubX: return a - operand;
    case Op::kMulK: case Op::kMulX: return a * operand;
    case Op::kDivK: case Op::kDivX:
      if (operand == 0) return std::nullopt;
      return a / operand;
    case Op::kModK: case Op::kModX:
      if (operand == 0) return std::nullopt;
      return a % operand;
    case Op::kAndK: case Op::kAndX: return a & operand;
    case Op::kOrK: case Op::kOrX: return a | operand;
    case Op::kXorK: case Op::kXorX: return a ^ operand;
    case Op::kLshK: case Op::kLshX:
      if (t == Target::kLinux) return a << (operand & 31);
      return operand < 32 ? a << operand : 0u;
    case Op::kRshK: case Op::kRshX:
      if (t == Target::kLinux) return a >> (operand & 31);
      return operand < 32 ? a >> operand : 0u;
    case Op::kNeg: return 0u - a;
    default: return a;  // not an ALU op: callers only pass ALU ops
  }
}

// Conditional jump outcome.
constexpr bool jump_taken(Op op, uint32_t a, uint32_t operand) {
  switch (op) {
    case Op::kJeqK: case Op::kJeqX: return a == operand;
    case Op::kJgtK: case Op::kJgtX: return a > operand;
    case Op::kJgeK: case Op::kJgeX: return a >= operand;
    case Op::kJsetK: case Op::kJsetX: return (a & operand) != 0;
    case Op::kJa: return true;
    default: return false;
  }
}

// Big-endian packet reads; the caller has checked bounds.
constexpr uint32_t load_be(const uint8_t* p, uint32_t size) {
  switch (size) {
    case 4: return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
    case 2: return uint32_t(p[0]) << 8 | p[1];
    default: return p[0];
  }
}

}  // namespace bpf::vm
