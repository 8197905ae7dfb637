// Fuzz target for the bytecode readers (compiler/formats.hpp read_bytecode for c, ddd, xt_bpf,
// bin, and detect_format). Invariants checked on every input:
//  - no reader crashes, hangs or reads out of bounds, whatever the bytes (NULs, control bytes,
//    unterminated comments, huge numbers);
//  - a reader either returns a non-empty program, or at least one error; every located error is
//    inside the input (line <= lines in it, column >= 1) and renders;
//  - a program read in format f prints back (format_program) to text that reads to the same
//    program, in f and in every other format, and printed text is detected as its format;
//  - detect_format() says kBin only for a whole number of 8-byte instructions, and reading with
//    the detected format is what `bpfc --disasm` does without -x (it must not crash either).
// Seeds: tests/fuzz/corpus/bytecode_readers/. Replayed in the normal build (ctest
// fuzz_bytecode_readers_replay).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "compiler/formats.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

constexpr bpf::compiler::Format kReadable[] = {bpf::compiler::Format::kC,
                                               bpf::compiler::Format::kDdd,
                                               bpf::compiler::Format::kXtBpf,
                                               bpf::compiler::Format::kBin};

void check_result(const bpf::Result<bpf::vm::Program>& r, std::string_view text) {
  using namespace bpf::compiler;
  if (!r.ok()) {
    check(r.diagnostics().has_errors());
    const size_t lines = size_t(std::count(text.begin(), text.end(), '\n')) + 1;
    for (const auto& d : r.diagnostics().items())
      check(!d.loc.known() || (d.loc.column >= 1 && d.loc.line <= lines));
    (void)r.diagnostics().render("fuzz");
    return;
  }
  const auto& p = r->insns;
  check(!p.empty());
  for (Format out : kReadable) {
    const std::string printed = format_program(p, out);
    // Text is detected as what it is; binary is not always (8 printable bytes are text).
    check(out == Format::kBin || detect_format(printed) == out);
    auto back = read_bytecode(printed, out);
    check(back.ok() && back->insns == p);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bpf::compiler;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (Format f : kReadable) check_result(read_bytecode(text, f), text);
  if (auto f = detect_format(text)) {
    check(*f != Format::kBin || size % 8 == 0);
    if (*f != Format::kAsm) check_result(read_bytecode(text, *f), text);
  } else {
    check(size == 0);
  }
  return 0;
}
