// A tracing evaluator: runs one packet through a verified program and records every executed
// instruction (`bpfdump --trace`, ../shared/CLI.md).
//
// Each step records the instruction index, A and X after it, and the scratch slot it wrote; the
// run ends with the program's return value, or with the load that failed (its offset as the
// target's semantics compute it, its size and the captured length), or with a division by zero.
// Every step calls the runtime semantics of vm/semantics.hpp (loads, ALU, jumps), so the value
// is by construction vm::evaluate()'s; tests/analysis/trace_test.cpp checks it against the
// interpreter on generated packets, examples/sample.pcap and the corpus. Separate from the
// interpreter so that tracing costs nothing there.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vm/context.hpp"
#include "vm/program.hpp"

namespace bpf::analysis {

struct TraceStep {
  uint32_t index = 0;
  uint32_t a = 0, x = 0;                // after the instruction
  std::optional<uint32_t> slot;         // M[] slot written, if any
  uint32_t slot_value = 0;
};

enum class TraceEnd : uint8_t {
  kReturn,      // a `ret` (or Linux ifindex/hatype without a device: returns A)
  kLoadFailed,  // a packet load beyond the captured bytes (or in no area at all): returns 0
  kDivByZero,   // div/mod by X == 0 (or k == 0 for BSD): returns 0
};

struct Trace {
  std::vector<TraceStep> steps;
  TraceEnd end = TraceEnd::kReturn;
  uint32_t value = 0;  // what the program returns
  // kLoadFailed: the failing load (the last step's instruction).
  int64_t fail_offset = 0;  // as the target computes it (Linux: signed; BSD: X + k unwrapped)
  uint32_t fail_size = 0;
  bool fail_no_device = false;  // Linux ifindex/hatype without a device (end kReturn)
};

Trace trace(const vm::VerifiedProgram& prog, const uint8_t* pkt, uint32_t caplen,
            uint32_t wirelen, const vm::Context& ctx = {});

// The trace as text: one line per step, `(NNN) insn   A=0x.. X=0x.. [M[i]=0x..]`, then the end.
std::string format_trace(const vm::VerifiedProgram& prog, const Trace& t, uint32_t caplen);

}  // namespace bpf::analysis
