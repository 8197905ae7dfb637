// Bytecode formats: printing a program the way the reference tools print it, reading it back,
// and disassembling it to assembly that re-assembles to the same bytes.
//
//   kC       tcpdump -dd (libpcap bpf_dump, option 2) == netsniff-ng bpfc's C format
//   kDdd     tcpdump -ddd (bpf_dump, option 3): the count, then `code jt jf k` per line
//   kListing tcpdump -d (bpf_dump, option 1 == libpcap 1.10 bpf_image() per line)
//   kXtBpf   Linux tools/bpf/bpf_asm default output (`N,c t f k,...,` + newline), accepted by
//            iptables -m bpf --bytecode
//   kBin     raw struct sock_filter array, host byte order
//   kAsm     disassemble(): bpf_asm syntax with labels L<index>
// Readers accept c (also bpf_asm -c's `{ 0x28,  0,  0, 0x0000000c },`), ddd, xt_bpf (with or
// without the trailing comma) and bin; detect_format() tells them (and assembly) apart.
// Tested in tests/asm/formats_test.cpp against libpcap's own bpf_image()/bpf_dump() (linked in
// the test), and by the round-trip property test over random programs.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "vm/diagnostic.hpp"
#include "vm/insn.hpp"
#include "vm/program.hpp"

namespace bpf::compiler {

enum class Format { kAsm, kC, kDdd, kListing, kXtBpf, kBin };

std::optional<Format> parse_format_name(std::string_view);  // "asm","c","ddd","listing",...
std::string_view format_name(Format);

std::string format_program(std::span<const vm::Insn>, Format);

// One line of tcpdump -d for instruction `index` (libpcap bpf_image(), without newline).
std::string listing_line(const vm::Insn& insn, uint32_t index);

// Re-assemblable assembly with labels. Instructions that assembly cannot express (unknown
// opcodes, jumps outside the program, non-zero unused fields, M[k] with k >= 16) are written as
// `.insn code, jt, jf, k`, which the assembler emits verbatim, so every program round-trips.
std::string disassemble(std::span<const vm::Insn>);

std::optional<Format> detect_format(std::string_view data);

// Reads c, ddd, xt_bpf, bin (and asm, through the assembler). Errors carry line:col for syntax
// and the instruction index for out-of-range fields.
Result<vm::Program> read_bytecode(std::string_view data, Format);

}  // namespace bpf::compiler
