// `bpfdump --trace N[-M]` (../shared/CLI.md): packets N to M of the input, numbered from 0 as
// --verdicts numbers them, each run through analysis::trace() with the context bpfdump gives
// every engine (capture::make_context). For each: a header line `packet I: wirelen W caplen C`,
// one line per executed instruction (index, instruction, A, X, the scratch slot written), then
// the failed load or division if any, and `returns V (accept|reject)`. The value is the one the
// engines compute (tests/analysis/trace_test.cpp checks it against the interpreter, and
// tests/analysis/trace_cli_test.cpp this output against `bpfdump --verdicts`).
#include "tools/bpfdump_trace.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "analysis/trace.hpp"
#include "capture/context.hpp"

namespace bpf::tools {

int run_trace(capture::Source& src, const vm::VerifiedProgram& prog, uint64_t first,
              uint64_t last) {
  std::vector<capture::Frame> frames;
  uint64_t index = 0;
  std::string out;
  for (;;) {
    const auto st = src.read(frames, 100);
    for (const capture::Frame& f : frames) {
      if (index >= first && index <= last) {
        const analysis::Trace t =
            analysis::trace(prog, f.data, f.caplen, f.wirelen, capture::make_context(f, src.linktype()));
        out = "packet " + std::to_string(index) + ": wirelen " + std::to_string(f.wirelen) +
              " caplen " + std::to_string(f.caplen) + "\n" +
              analysis::format_trace(prog, t, f.caplen);
        if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) return 1;
      }
      ++index;
    }
    if (st == capture::Source::Status::kError) {
      std::fprintf(stderr, "bpfdump: %s\n", src.error().c_str());
      return 1;
    }
    if (st != capture::Source::Status::kOk || index > last) break;
  }
  if (std::fflush(stdout) != 0) return 1;
  if (index <= first) {
    std::fprintf(stderr, "bpfdump: --trace: the input has %llu packets, none numbered %llu\n",
                 static_cast<unsigned long long>(index), static_cast<unsigned long long>(first));
    return 1;
  }
  return 0;
}

}  // namespace bpf::tools
