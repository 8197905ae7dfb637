// The assembler: classic BPF assembly text -> vm::Program.
//
// Accepts every program that Linux `bpf_asm` (tools/bpf/bpf_exp.{l,y}) and netsniff-ng `bpfc`
// (bpf_lexer.l, bpf_parser.y) accept, and emits the same bytes; see compiler/assembler.cpp for the
// extensions (one-label jlt/jle/jneq also with two labels, `[x - k]`, `[proto]`, jump trampolines).
// Conditional jumps farther than 255 instructions get `ja` trampolines (neither bpf_asm nor
// netsniff-ng does this), in time linear in the program; programs of any length assemble (the
// kernels' limits are the verifier's, for programs that go to a kernel). Every error is
// reported, each with its source position and line (Diagnostic::loc, source_line); on error
// there is no program.
// Tested by tests/asm/ (golden encodings, error cases, trampolines, round trips) and the
// asm_parser fuzzer.
#pragma once

#include <span>
#include <string_view>

#include "vm/diagnostic.hpp"
#include "vm/program.hpp"

namespace bpf::compiler {

Result<vm::Program> assemble(std::string_view source);

// Assembler mnemonics (canonical and aliases), for suggestions and documentation.
std::span<const std::string_view> assembler_mnemonics();

}  // namespace bpf::compiler
