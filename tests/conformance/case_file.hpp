// The conformance case format (described in tests/conformance/README.md): parsing only.
// A case file holds cases; a case is one program (assembly) and one or more runs, each run a
// packet, a wire length, a Linux context and the expected return value per target.
// Parse errors carry the file line. Tested by conformance_test.cpp (every case file must parse).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vm/context.hpp"

namespace bpf::conformance {

struct Run {
  int line = 0;                      // line of the `expect`
  std::vector<uint8_t> packet;
  uint32_t wirelen = 0;
  vm::Context ctx;
  std::optional<uint32_t> linux_expect;
  std::optional<uint32_t> bsd_expect;
};

struct Case {
  std::string file;
  int line = 0;  // line of `case`
  std::string name;
  bool linux = true;  // run under vm::Target::kLinux
  bool bsd = true;    // run under vm::Target::kBsd
  std::string source;  // assembly
  std::string skip_libpcap;  // non-empty: why libpcap's bpf_filter is not a reference here
  std::vector<Run> runs;
};

struct ParseResult {
  std::vector<Case> cases;
  std::vector<std::string> errors;  // "file:line: message"
};

ParseResult parse_cases(const std::string& text, const std::string& file_name);

}  // namespace bpf::conformance
