// pcap-filter(7) expression compiler: text -> classic BPF program with libpcap 1.10's verdicts.
//
// compile_expression() parses (grammar/expr_parser.y), gives meaning (compiler/expr_gen*.cpp,
// after libpcap's gencode.c: link-layer offsets, qualifier rules, name resolution through the
// system databases), then optimises and emits code (compiler/expr_opt.cpp): at opt_level 1
// libpcap's optimiser structure (constant folding, jump threading over edge-dominator facts,
// or/and pullups, block merging), at opt_level 2 also redundant load elimination; `ja`
// trampolines for branches longer than 255. At opt_level 0 only the emission runs. Every level
// gives the same verdict on every full-length packet, levels 1 and 2 libpcap's verdict on
// snapped ones too; at opt_level >= 1 an expression that can match nothing is rejected, as
// pcap_compile(optimize=1) does.
// Tested differentially against libpcap (tests/expr/expr_diff_test.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "vm/diagnostic.hpp"
#include "vm/program.hpp"
#include "vm/semantics.hpp"

namespace bpf::compiler {

struct ExprOptions {
  int linktype = 1;  // DLT_EN10MB
  uint32_t snaplen = 262144;
  int opt_level = 2;
  // IPv4 netmask of the capture network, for `ip broadcast` (libpcap's `netmask` argument);
  // 0 = unknown, as PCAP_NETMASK_UNKNOWN.
  uint32_t netmask = 0;
  // Resolve host names with getaddrinfo (may query DNS). Off: only addresses are accepted
  // (used by the fuzzer, which must not wait on the network).
  bool resolve_hosts = true;
  // Where the program will run: on Linux a packet offset of 2^31 or more (`ether[-1]`) is one
  // of the kernel's special areas (SKF_AD_OFF, SKF_NET_OFF, SKF_LL_OFF), which refuses such a
  // load, so it is a located error; for BSD (libpcap's bpf_filter) the load simply fails, as in
  // libpcap's own program.
  vm::Target target = vm::Target::kLinux;
};

// libpcap link-type names ("EN10MB", "RAW", "LINUX_SLL", ...; case-insensitive, "DLT_" prefix
// optional) and plain numbers.
std::optional<int> linktype_from_name(std::string_view name);

// The link types this compiler supports.
bool linktype_supported(int linktype);

Result<vm::Program> compile_expression(std::string_view expr, const ExprOptions& opts);

}  // namespace bpf::compiler
