// Diagnostics of the expression compiler: message, 1-based column of the offending token, the
// expression as source line (for the caret), and every level/link type combination being
// rejected the same way.
#include <gtest/gtest.h>

#include "compiler/expr.hpp"

namespace {

struct Case {
  const char* expr;
  uint32_t column;
  const char* message_part;
};

TEST(ExprDiag, ColumnsAndMessages) {
  const Case cases[] = {
      {"tcp port 99999", 10, "illegal port number 99999"},
      {"ip[1:3] = 1", 6, "data size must be 1, 2, or 4"},
      {"ip and", 7, "syntax error"},
      {"host 10.0.0.1 and (port 22", 27, "syntax error"},
      {"0x123456789 = 1", 1, "overflows 32 bits"},
      {"ether host a:b:c:d:e:f:1", 12, "bogus ethernet address"},
      {"ip and vlan 4096", 8, "VLAN tag 4096"},
      {"net 10.1.2.3/8", 5, "non-network bits"},
      {"tcp and ip6 host 10.0.0.1", 18, "'ip6' modifier applied to ip host"},
      {"ip6 and arp", 1, "expression rejects all packets"},
      {"udp port nosuchservice", 10, "unknown port"},
      {"1 / 0 = 1", 3, "division by zero"},
      {"ip # 1", 4, "illegal character"},
  };
  for (const Case& c : cases) {
    auto r = bpf::compiler::compile_expression(c.expr, {});
    ASSERT_FALSE(r.ok()) << c.expr;
    const auto& d = r.diagnostics().items().at(0);
    EXPECT_EQ(d.loc.column, c.column) << c.expr << ": " << d.message;
    EXPECT_NE(d.message.find(c.message_part), std::string::npos) << c.expr << ": " << d.message;
    EXPECT_EQ(d.source_line, c.expr);
    std::string shown = r.diagnostics().render("<expr>");
    EXPECT_NE(shown.find("<expr>:1:" + std::to_string(c.column) + ": error:"), std::string::npos)
        << shown;
    EXPECT_NE(shown.find('^'), std::string::npos) << shown;
  }
}

// Multi-line expressions (`-e $'ip and\n\n  tcp port 99999'`, -F files): every diagnostic
// names the line and column where the token is, parse and meaning errors alike.
TEST(ExprDiag, MultiLineExpressionsAreLocatedByLine) {
  struct MlCase {
    const char* expr;
    uint32_t line, column;
    const char* source_line;
  };
  const MlCase cases[] = {
      {"ip and\n\n  tcp port 99999", 3, 12, "  tcp port 99999"},
      {"ip and\n\n  tcp port )", 3, 12, "  tcp port )"},
      {"ip and\n  ip[1:3] = 1", 2, 8, "  ip[1:3] = 1"},
      {"tcp or\n\tudp port nosuch", 2, 11, "\tudp port nosuch"},
      {"ip6\nand arp", 1, 1, "ip6"},
  };
  for (const MlCase& c : cases) {
    auto r = bpf::compiler::compile_expression(c.expr, {});
    ASSERT_FALSE(r.ok()) << c.expr;
    const auto& d = r.diagnostics().items().at(0);
    EXPECT_EQ(d.loc.line, c.line) << c.expr << ": " << d.message;
    EXPECT_EQ(d.loc.column, c.column) << c.expr << ": " << d.message;
    EXPECT_EQ(d.source_line, c.source_line) << c.expr;
  }
  // instruction locations too (the -V listing's source lines)
  auto ok = bpf::compiler::compile_expression("ip\n  and tcp", {});
  ASSERT_TRUE(ok.ok());
  bool second_line = false;
  for (const auto& l : ok->locs) second_line |= l.line == 2;
  EXPECT_TRUE(second_line);
}

// No stage recurses as deep as the expression is long: flat lists of 12,000-20,000 terms that
// libpcap compiles must compile here too (they overflowed the stack in the lowering).
TEST(ExprDiag, LongFlatExpressionsCompile) {
  auto repeat = [](const std::string& head, const std::string& sep, const std::string& term, int n) {
    std::string s = head;
    for (int i = 0; i < n; ++i) s += (i || !head.empty() ? sep : "") + term;
    return s;
  };
  for (int level : {0, 1, 2}) {
    bpf::compiler::ExprOptions o;
    o.opt_level = level;
    for (const std::string& e : {repeat("", " or ", "ip", 20000), repeat("", " and ", "ip", 12000),
                                 repeat("len", " + ", "1", 12000) + " > 0",
                                 repeat("", " or ", "tcp port 1", 3000)}) {
      auto r = bpf::compiler::compile_expression(e, o);
      EXPECT_TRUE(r.ok()) << e.substr(0, 40) << " -O" << level << ": "
                          << r.diagnostics().render("<expr>").substr(0, 300);
      // the optimiser still finds what libpcap's finds on such lists (bounded, not skipped)
      if (level > 0 && e.rfind("ip or", 0) == 0) {
        EXPECT_EQ(r->insns.size(), 4u);
      }
    }
  }
}

// `ether[-1]`: libpcap compiles an absolute load at 0xffffffff, which fails on every packet in
// its bpf_filter; Linux reads it as an ancillary offset and refuses the program. Linux target:
// a located error naming the offset; BSD: libpcap's program.
TEST(ExprDiag, NegativeOffsetIsAnErrorForLinuxOnly) {
  auto linux_r = bpf::compiler::compile_expression("ether[-1] = 0", {});
  ASSERT_FALSE(linux_r.ok());
  const auto& d = linux_r.diagnostics().items().at(0);
  EXPECT_EQ(d.loc.column, 7u) << d.message;
  EXPECT_NE(d.message.find("offset -1 is negative"), std::string::npos) << d.message;
  bpf::compiler::ExprOptions bsd;
  bsd.target = bpf::vm::Target::kBsd;
  auto bsd_r = bpf::compiler::compile_expression("ether[-1] = 0", bsd);
  ASSERT_TRUE(bsd_r.ok()) << bsd_r.diagnostics().render("<expr>");
  ASSERT_FALSE(bsd_r->insns.empty());
  EXPECT_EQ(bsd_r->insns[0].k, 0xffffffffu);  // libpcap's `ldb [-1]`
  EXPECT_TRUE(bpf::compiler::compile_expression("ip[-1] = 0", {}).ok());  // 13: a real offset
}

// libpcap's gen_arth keeps the left operand's protocol checks and drops the right one's: the
// tcpdump man page's payload test also accepts IPv4 packets that are not TCP. We keep that
// verdict (tests/expr/expr_diff_test.cpp) and warn where it happens.
TEST(ExprDiag, DroppedRightOperandCheckIsWarned) {
  auto r = bpf::compiler::compile_expression("(ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2)) != 0", {});
  ASSERT_TRUE(r.ok());
  size_t warnings = 0;
  for (const auto& d : r.diagnostics().items()) {
    if (d.severity != bpf::Severity::kWarning) continue;
    ++warnings;
    EXPECT_EQ(d.loc.column, 33u);
    EXPECT_NE(d.message.find("not TCP"), std::string::npos) << d.message;
  }
  EXPECT_EQ(warnings, 1u);  // ip[0] on the right needs IPv4, which ip[2:2] on the left checks
  for (const char* quiet : {"tcp[0] + tcp[1] = 0", "ip[0] & 0xf = 5", "tcp[0] + 1 = 0"}) {
    auto q = bpf::compiler::compile_expression(quiet, {});
    ASSERT_TRUE(q.ok()) << quiet;
    EXPECT_TRUE(q.diagnostics().empty()) << quiet << ": " << q.diagnostics().render("<expr>");
  }
}

TEST(ExprDiag, LinkTypeNames) {
  EXPECT_EQ(bpf::compiler::linktype_from_name("EN10MB"), 1);
  EXPECT_EQ(bpf::compiler::linktype_from_name("dlt_raw"), 12);
  EXPECT_EQ(bpf::compiler::linktype_from_name("LINUX_SLL2"), 276);
  EXPECT_EQ(bpf::compiler::linktype_from_name("113"), 113);
  EXPECT_FALSE(bpf::compiler::linktype_from_name("NOPE").has_value());
  bpf::compiler::ExprOptions o;
  o.linktype = 147;  // USER0: not supported here
  auto r = bpf::compiler::compile_expression("ip", o);
  EXPECT_FALSE(r.ok());
}

}  // namespace
