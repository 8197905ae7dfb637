// One-line disassembly of a single instruction, for diagnostics and reports.
//
// The text follows tcpdump -d (libpcap bpf_image.c) operand forms without the "(NNN)" prefix and
// column padding: `ldh [12]`, `ld [x + 14]`, `ldxb 4*([14]&0xf)`, `ld M[3]`, `add #4`,
// `jeq #0x800 jt 3 jf 5` (absolute targets, like tcpdump), `ja 7`, `ret #65535`, `ret a`.
// Linux extensions are printed in bpf_asm spelling: ancillary loads as `ld #proto` (with the size
// letter: `ldb #proto`), negative offsets as `ld [net+4]` / `ld [ll+2]`, unknown SKF_AD_OFF loads
// as `ld [ad+N]`. Codes that vm::decode() rejects print as `.insn 0xCODE, jt, jf, k`.
// Driven by vm::kOpTable only (one instruction table). Tested in tests/verifier/verifier_test.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "vm/insn.hpp"

namespace bpf::vm {

// `index` is the instruction's position, used to print absolute jump targets.
std::string disasm_line(const Insn& insn, uint32_t index);

}  // namespace bpf::vm
