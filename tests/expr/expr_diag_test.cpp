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

TEST(ExprDiag, LinkTypeNames) {
  EXPECT_EQ(bpf::compiler::linktype_from_name("EN10MB"), 1);
  EXPECT_EQ(bpf::compiler::linktype_from_name("dlt_raw"), 12);
  EXPECT_EQ(bpf::compiler::linktype_from_name("LINUX_SLL2"), 276);
  EXPECT_EQ(bpf::compiler::linktype_from_name("113"), 113);
  EXPECT_FALSE(bpf::compiler::linktype_from_name("NOPE").has_value());
  bpf::compiler::ExprOptions o;
  o.linktype = 105;  // IEEE802_11: not supported here
  auto r = bpf::compiler::compile_expression("ip", o);
  EXPECT_FALSE(r.ok());
}

}  // namespace
