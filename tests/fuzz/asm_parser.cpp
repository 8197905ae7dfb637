// Fuzz target for the assembler and the bytecode readers (grammar/ + compiler/).
// Invariants checked on every input:
//  - assemble() never crashes or hangs, and either returns a program of 1 or more instructions
//    with one source location each, or at least one error, every located one with its line;
//  - for every program it returns: assemble(disassemble(p)) == p, and reading p back from each
//    bytecode format gives p;
//  - the bytecode readers (format detection included) never crash on the same bytes.
// Seeds: tests/fuzz/corpus/asm_parser/. Replayed in the normal build (ctest
// fuzz_asm_parser_replay).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "compiler/assembler.hpp"
#include "compiler/formats.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bpf::compiler;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = assemble(text);
  if (r.ok()) {
    const auto& p = *r;
    check(!p.insns.empty());  // no length limit: the kernels' are the verifier's
    check(p.locs.size() == p.insns.size());
    auto again = assemble(disassemble(p.insns));
    check(again.ok() && again->insns == p.insns);
    for (Format f : {Format::kC, Format::kDdd, Format::kXtBpf, Format::kBin}) {
      auto back = read_bytecode(format_program(p.insns, f), f);
      check(back.ok() && back->insns == p.insns);
    }
  } else {
    check(r.diagnostics().has_errors());
    for (const auto& d : r.diagnostics().items()) check(!d.loc.known() || d.loc.column >= 1);
    (void)r.diagnostics().render("fuzz");
  }
  // The readers on the same bytes.
  if (auto f = detect_format(text)) (void)read_bytecode(text, *f);
  for (Format f : {Format::kC, Format::kDdd, Format::kXtBpf, Format::kBin}) {
    auto b = read_bytecode(text, f);
    if (b.ok()) {
      auto again = assemble(disassemble(b->insns));
      check(again.ok() && again->insns == b->insns);
    }
  }
  return 0;
}
