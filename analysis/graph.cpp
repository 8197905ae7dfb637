// Graphviz drawing of a verified program (see graph.hpp).
#include "analysis/graph.hpp"

#include <string>
#include <vector>

#include "vm/disasm_line.hpp"

namespace bpf::analysis {
namespace {

// Escapes text for a double-quoted DOT string; lines end with \l (left-justified).
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string pad3(uint32_t i) {
  std::string n = std::to_string(i);
  return n.size() >= 3 ? n : std::string(3 - n.size(), '0') + n;
}

}  // namespace

std::string to_dot(const vm::VerifiedProgram& prog) {
  const auto blocks = prog.blocks();
  const auto dec = prog.decoded();
  std::vector<bool> reach(blocks.size(), false);
  if (!blocks.empty()) reach[0] = true;
  for (size_t b = 0; b < blocks.size(); ++b) {  // index order is a topological order
    if (!reach[b]) continue;
    for (uint32_t s : blocks[b].succ)
      if (s != vm::kNoBlock) reach[s] = true;
  }
  std::string out = "digraph bpf {\n";
  out += "  graph [fontname=\"monospace\"];\n";
  out += "  node [shape=box, fontname=\"monospace\", fontsize=10];\n";
  out += "  edge [fontname=\"monospace\", fontsize=9];\n";
  for (size_t b = 0; b < blocks.size(); ++b) {
    const vm::BasicBlock& bb = blocks[b];
    std::string label;
    for (uint32_t i = bb.first; i <= bb.last; ++i)
      label += escape("(" + pad3(i) + ") " + vm::disasm_line(prog.insns()[i], i)) + "\\l";
    std::string facts = "needs " + std::to_string(bb.pkt_bytes) + " bytes; " +
                        std::to_string(bb.pkt_bytes_dominated) + " on every path here";
    label += "\\n" + facts + "\\l";
    std::string attrs;
    const vm::Op last = dec[bb.last].op;
    const bool is_ret = last == vm::Op::kRetK || last == vm::Op::kRetA || last == vm::Op::kRetX;
    if (is_ret) {
      const bool rejects = last == vm::Op::kRetK && dec[bb.last].k == 0;
      attrs += std::string(", shape=doubleoctagon, color=") + (rejects ? "red" : "darkgreen");
    }
    if (!reach[b]) attrs += ", style=dashed, fontcolor=grey50";
    out += "  b" + std::to_string(b) + " [label=\"" + label + "\", tooltip=\"block " +
           std::to_string(b) + ": " + facts + (reach[b] ? "" : " (unreachable)") + "\"" + attrs +
           "];\n";
  }
  for (size_t b = 0; b < blocks.size(); ++b) {
    const vm::BasicBlock& bb = blocks[b];
    const bool cond = vm::info(dec[bb.last].op).has(vm::eff::kCond);
    const std::string from = "  b" + std::to_string(b) + " -> b";
    if (cond) {
      out += from + std::to_string(bb.succ[0]) + " [label=\"true\", color=darkgreen];\n";
      out += from + std::to_string(bb.succ[1]) + " [label=\"false\", color=red];\n";
    } else if (bb.succ[0] != vm::kNoBlock) {
      out += from + std::to_string(bb.succ[0]) + ";\n";
    }
  }
  out += "}\n";
  return out;
}

}  // namespace bpf::analysis
