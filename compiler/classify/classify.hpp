// The classifier compiler: N pcap-filter(7) expressions ("rules") -> one classic program that
// returns the 1-based number of the first rule that accepts the packet, 0 when none does
// (../shared/CLI.md, `bpfc --classify`). Attached with PACKET_FANOUT_CBPF to N+1 sockets it
// steers rule i's packets to socket i.
//
// Promises:
//  - each rule keeps libpcap 1.10.3's verdict (the verdict of pcap_compile + bpf_filter on the
//    rule alone) on every packet whose captured length is its wire length: a load (or a
//    division by X) that would fail inside rule i is guarded with a `len` test (or an X test)
//    that makes rule i false, and rule i+1 is tried (compiler/classify/guards.cpp);
//  - on a snapped packet a load beyond the captured bytes ends the program with 0;
//  - rules share their work: all rules are lowered into one IR graph, each rule's rejecting
//    exits (and failed guards) lead into the next rule, and the expression optimiser
//    (compiler/expr_opt.cpp, expr_emit.cpp) threads jumps over tests already decided on the
//    way (the EtherType, the IP protocol, the ports are tested once on each path) and removes
//    loads of values a register already holds; `or`-runs of hosts/ports inside a rule become
//    searches (compiler/expr_gen_sets.cpp) as in a single filter; runs of consecutive rules
//    of one shape that differ only in a constant (a services table of `tcp port P`, a list of
//    `host A`) are evaluated once, with searches over their constants
//    (compiler/classify/groups.cpp);
//  - diagnostics name the rule's line and column in the rules text, all of them.
// PACKET_FANOUT_CBPF: the kernel runs a fanout program on the packet from its network header
// on (net/packet/af_packet.c: packet_rcv_fanout demultiplexes before the link-layer header is
// pushed back), so for an Ethernet device the rules are compiled for DLT_RAW (`-l RAW`); a
// socket filter (SO_ATTACH_FILTER) sees the link-layer header (tests/capture/live_classify_test.cpp).
// Not supported in rules (a located error): `protochain` and `geneve` (libpcap does not
// optimise them; their unrolled walk and offset slots read registers left by other blocks) and
// `byte N & V` / `byte N | V` (libpcap tests A as whatever ran before, no packet value).
// Tested by tests/expr/classify_diff_test.cpp (libpcap's first match, every engine, kernel).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/expr.hpp"
#include "vm/diagnostic.hpp"
#include "vm/program.hpp"

namespace bpf::compiler {

struct Rule {
  std::string expr;       // the pcap-filter expression
  uint32_t line = 1;      // where it starts in the rules text (1-based)
  uint32_t column = 1;
  std::string line_text;  // the whole source line, for the caret display (empty: expr)
};

// One rule per line; blank lines and lines whose first non-blank character is `#` are skipped;
// surrounding blanks (and a trailing CR) are not part of the rule.
std::vector<Rule> parse_rules(std::string_view text);

// The classifier of `rules`, in order. opts.snaplen is not used (the program returns rule
// numbers); opts.opt_level 0 only emits, 1 and 2 optimise the whole graph.
Result<vm::Program> compile_classifier(std::span<const Rule> rules, const ExprOptions& opts);
Result<vm::Program> compile_classifier(std::string_view rules_text, const ExprOptions& opts);

}  // namespace bpf::compiler
