// One-line disassembly (see disasm_line.hpp). Tested in tests/verifier/verifier_test.cpp.
#include "vm/disasm_line.hpp"

#include <cstdio>

#include "vm/ancillary.hpp"

namespace bpf::vm {

namespace {

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

// [k] for an absolute load, with the Linux negative-offset and ancillary spellings.
std::string abs_operand(std::string_view mnemonic, uint32_t k) {
  if (k >= kSkfAdOff) {
    if (auto a = ancillary_for(k)) return std::string("#") + std::string(info(*a).name);
    return "[ad+" + std::to_string(k - kSkfAdOff) + "]";
  }
  (void)mnemonic;
  if (k >= kSkfNetOff) return "[net+" + std::to_string(k - kSkfNetOff) + "]";
  if (k >= kSkfLlOff) return "[ll+" + std::to_string(k - kSkfLlOff) + "]";
  return "[" + std::to_string(k) + "]";
}

}  // namespace

std::string disasm_line(const Insn& insn, uint32_t index) {
  std::optional<Op> op = decode(insn.code);
  if (!op) {
    return ".insn " + hex(insn.code) + ", " + std::to_string(insn.jt) + ", " +
           std::to_string(insn.jf) + ", " + hex(insn.k);
  }
  const OpInfo& oi = info(*op);
  std::string out(oi.mnemonic);
  const uint64_t next = uint64_t(index) + 1;
  switch (oi.operand) {
    case Operand::kNone: return out;
    case Operand::kImm: return out + " #" + hex(insn.k);
    case Operand::kLen: return out + " #pktlen";
    case Operand::kMem: return out + " M[" + std::to_string(insn.k) + "]";
    case Operand::kAbs: return out + " " + abs_operand(oi.mnemonic, insn.k);
    case Operand::kInd: return out + " [x + " + std::to_string(insn.k) + "]";
    case Operand::kMsh: return out + " 4*([" + std::to_string(insn.k) + "]&0xf)";
    case Operand::kAluK: return out + " #" + std::to_string(insn.k);
    case Operand::kAluX: return out + " x";
    case Operand::kJa: return out + " " + std::to_string(next + insn.k);
    case Operand::kJmpK:
      return out + " #" + hex(insn.k) + " jt " + std::to_string(next + insn.jt) + " jf " +
             std::to_string(next + insn.jf);
    case Operand::kJmpX:
      return out + " x jt " + std::to_string(next + insn.jt) + " jf " +
             std::to_string(next + insn.jf);
    case Operand::kRetK: return out + " #" + std::to_string(insn.k);
    case Operand::kRetA: return out + " a";
    case Operand::kRetX: return out + " x";
  }
  return out;
}

}  // namespace bpf::vm
