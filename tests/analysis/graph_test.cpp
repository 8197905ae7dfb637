// `bpfc -f dot` (analysis/graph.hpp): every output here is rendered with `dot -Tsvg` (skipped,
// saying so, when Graphviz is not installed), for expressions and for programs; the drawing has
// one node per basic block, labelled true/false edges, marked return blocks and the facts.
#include <gtest/gtest.h>

#include <string>

#include "analysis/graph.hpp"
#include "tests/analysis/test_util.hpp"

namespace {

using bpf::test::shell;

bool have_dot() { return shell("dot -V").status == 0; }

void renders(const std::string& bpfc_args) {
  const auto r = shell(std::string(BPFC_BIN) + " -f dot " + bpfc_args);
  ASSERT_EQ(r.status, 0) << bpfc_args << "\n" << r.err;
  EXPECT_EQ(r.out.rfind("digraph bpf {", 0), 0u) << r.out;
  if (!have_dot()) GTEST_SKIP() << "Graphviz `dot` not installed: rendering not checked";
  // One file per process: ctest runs the Graph tests in parallel.
  const std::string path =
      bpf::test::write_temp("graph_test_" + std::to_string(getpid()) + ".dot", r.out);
  const auto svg = shell("dot -Tsvg " + path);
  EXPECT_EQ(svg.status, 0) << bpfc_args << "\n" << svg.err << "\n" << r.out;
  EXPECT_NE(svg.out.find("<svg"), std::string::npos);
  EXPECT_EQ(svg.err, "") << bpfc_args;  // no warnings either
}

TEST(Graph, ExpressionsRender) {
  for (const char* e : {"tcp port 22", "ip", "host 10.0.0.1 and (port 22 or port 53)",
                        "vlan 10 and tcp", "ip[0] & 0xf > 5", "not ip6",
                        "icmp[icmptype] = icmp-echo", "len > 100"}) {
    renders(std::string("-e '") + e + "'");
  }
  renders("-l RAW -e 'udp port 53'");
}

TEST(Graph, ProgramsRender) {
  for (const char* f : {"arp.bpf", "tcp_port_22.bpf", "vlan.bpf", "ancillary.bpf"})
    renders(std::string(BPFC_EXAMPLES_DIR) + "/" + f);
}

TEST(Graph, BlocksEdgesAndFacts) {
  auto p = bpf::test::from_asm(
      "ldh [12]\njeq #0x800, ip, drop\nip: ldb [23]\njeq #6, keep, drop\n"
      "keep: ret #65535\ndrop: ret #0\n");
  ASSERT_TRUE(p);
  const std::string dot = bpf::analysis::to_dot(*p);
  EXPECT_EQ(p->blocks().size(), 4u);
  for (size_t b = 0; b < p->blocks().size(); ++b)
    EXPECT_NE(dot.find("  b" + std::to_string(b) + " [label="), std::string::npos) << dot;
  EXPECT_NE(dot.find("b0 -> b1 [label=\"true\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("b0 -> b3 [label=\"false\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("needs 24 bytes"), std::string::npos) << dot;  // ldb [23]
  EXPECT_NE(dot.find("doubleoctagon, color=darkgreen"), std::string::npos) << dot;
  EXPECT_NE(dot.find("doubleoctagon, color=red"), std::string::npos) << dot;
  EXPECT_NE(dot.find("(002) ldb [23]"), std::string::npos) << dot;
}

TEST(Graph, NeedsVerification) {
  EXPECT_EQ(shell(std::string(BPFC_BIN) + " -f dot --no-verify -e ip").status, 2);
}

}  // namespace
