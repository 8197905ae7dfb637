// A Graphviz drawing of a verified program (`bpfc -f dot`, ../shared/CLI.md).
//
// One node per basic block (vm::BasicBlock: the verifier's partition), labelled with its
// instructions as tcpdump -d prints them; edges from a conditional jump are labelled `true` and
// `false`, fall-through and `ja` edges carry no label. Blocks that end in `ret` are drawn as
// double octagons (green when they may accept, red for `ret #0`); unreachable blocks are grey.
// The verifier's facts go in a second line of each node and its tooltip: the packet bytes the
// block's absolute loads need (pkt_bytes) and those guaranteed on entry (pkt_bytes_dominated).
// The output is a complete `digraph` that `dot -Tsvg` renders (tests/analysis/graph_test.cpp).
#pragma once

#include <string>

#include "vm/program.hpp"

namespace bpf::analysis {

std::string to_dot(const vm::VerifiedProgram& prog);

}  // namespace bpf::analysis
