// The assembly AST: what the parser of grammar/asm_parser.y builds, and nothing more.
//
// The grammar is the union of Linux tools/bpf/bpf_exp.y (bpf_asm) and netsniff-ng bpf_parser.y
// (bpfc), but the tree is generic: an instruction is a mnemonic and a list of operands whose
// *shape* is recorded (`#k`, `M[k]`, `[x + k]`, a bare name, ...). What a mnemonic or a name means,
// which shapes a mnemonic accepts, label resolution and range checks all live in
// compiler/assembler.cpp, driven by vm::kOpTable. Numbers keep their magnitude in 64 bits plus a
// sign so that the assembler, not the lexer, decides what is out of range.
//
// Invariant: every node carries the source span it came from (1-based line and column).
// Tested through the assembler in tests/asm/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vm/diagnostic.hpp"

namespace bpf::grammar {

// A source range on one line (the parser merges spans of tokens on the same line).
struct Span {
  uint32_t line = 0;
  uint32_t column = 0;  // first character, 1-based
  uint32_t end_line = 0;
  uint32_t end_column = 0;  // one past the last character

  SourceLoc loc() const {
    uint32_t len = (end_line == line && end_column > column) ? end_column - column : 1;
    return SourceLoc{line, column, len};
  }
};

// An integer literal, possibly signed: `0x1f`, `017`, `0b101`, `-4`, `+2`.
struct Number {
  uint64_t magnitude = 0;
  bool negative = false;
  bool overflow = false;  // the literal does not fit in 64 bits
  std::string text;       // as written, for messages
  Span span;
};

enum class OperandShape : uint8_t {
  kHashNumber,   // #k
  kHashName,     // #name            (#len, #proto, ...)
  kNumber,       // k                (ldi 5, .insn fields; a mistake elsewhere: `add 5`)
  kName,         // name             (a, x, len, proto, a label)
  kPercentName,  // %name            (%a, %x)
  kIndexed,      // name[k]          (M[k])
  kBracket,      // [k]
  kBracketName,  // [name]           ([proto], as tcpdump -d prints ancillary loads)
  kBracketSum,   // [name + k], [%name + k], [name - k]
  kMsh,          // k*([k]&k)        (4*([14]&0xf))
};

struct Operand {
  OperandShape shape = OperandShape::kNumber;
  std::string name;      // kHashName, kName, kPercentName, kIndexed, kBracketName, kBracketSum
  bool percent = false;  // kBracketSum written as [%x + k]
  Number value;          // the k of every shape that has one (msh: the offset)
  Number scale;          // kMsh: the multiplier (must be 4)
  Number mask;           // kMsh: the mask (must be 0xf)
  Span span;
};

struct Label {
  std::string name;
  Span span;
};

struct Instruction {
  std::vector<Label> labels;  // labels defined right before this instruction
  std::string mnemonic;       // as written (case preserved)
  Span mnemonic_span;
  std::vector<Operand> operands;
  Span span;  // whole instruction
};

struct Unit {
  std::vector<Instruction> instructions;
  std::vector<Label> trailing_labels;  // labels after the last instruction (an error)
};

struct ParseOutput {
  Unit unit;
  Diagnostics diags;  // lexical and syntax errors, all of them
};

// Parses assembly source. Never throws, never aborts; on syntax errors the unit holds every
// instruction that parsed and diags holds every error (the parser resynchronises at each line).
ParseOutput parse(std::string_view source);

}  // namespace bpf::grammar
