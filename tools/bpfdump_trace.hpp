// `bpfdump --trace N[-M]` (see bpfdump_trace.cpp).
#pragma once

#include <cstdint>

#include "capture/source.hpp"
#include "vm/program.hpp"

namespace bpf::tools {

// Traces packets first..last (0-based input indices) of `src` through `prog` and prints each
// trace on stdout. Returns bpfdump's exit status.
int run_trace(capture::Source& src, const vm::VerifiedProgram& prog, uint64_t first,
              uint64_t last);

}  // namespace bpf::tools
