// Diagnostic rendering: the CLI.md format with source line and caret, and instruction indices.
#include <gtest/gtest.h>

#include "vm/diagnostic.hpp"

namespace bpf {
namespace {

TEST(Diagnostics, RendersLineColumnAndCaret) {
  Diagnostics d;
  d.error("unknown mnemonic 'ldw'", SourceLoc{2, 3, 3});
  d.attach_source("ret #0\n  ldw [12]\n");
  EXPECT_EQ(d.render("prog.bpf"), "prog.bpf:2:3: error: unknown mnemonic 'ldw'\n  ldw [12]\n  ^~~\n");
}

TEST(Diagnostics, RendersInstructionIndexAndCollectsAll) {
  Diagnostics d;
  d.error("jump out of range", {}, 4);
  d.warning("unreachable", {}, 5);
  EXPECT_EQ(d.error_count(), 1u);
  EXPECT_TRUE(d.has_errors());
  EXPECT_EQ(d.render("f", false), "f:4: error: jump out of range\n");
  EXPECT_EQ(d.render("f", true), "f:4: error: jump out of range\nf:5: warning: unreachable\n");
}

// Expression positions are byte offsets (line 1) until resolve_offsets gives them lines.
TEST(Diagnostics, ResolvesOffsetsIntoLinesAndColumns) {
  const std::string_view text = "ip and\n\n  tcp port 99999";
  Diagnostics d;
  d.error("illegal port number", SourceLoc{1, 20, 5});  // offset of "99999"
  d.error("first", SourceLoc{1, 1, 2});
  d.error("newline itself", SourceLoc{1, 7, 1});
  d.resolve_offsets(text);
  d.attach_source(text);
  EXPECT_EQ(d.render("f", false),
            "f:3:12: error: illegal port number\n  tcp port 99999\n           ^~~~~\n"
            "f:1:1: error: first\nip and\n^~\n"
            "f:1:7: error: newline itself\nip and\n      ^\n");
  LineMap one("abc");
  EXPECT_EQ(one.at(3, 1).line, 1u);
  EXPECT_EQ(one.at(3, 1).column, 3u);
  EXPECT_FALSE(one.at(0, 1).known());
}

TEST(Result, CarriesValueOrDiagnostics) {
  Result<int> ok(3);
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 3);
  Diagnostics d;
  d.error("bad");
  Result<int> bad(d);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.diagnostics().error_count(), 1u);
}

}  // namespace
}  // namespace bpf
