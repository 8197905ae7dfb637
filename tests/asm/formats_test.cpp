// Output formats against the reference implementations, byte for byte:
//  - the listing against libpcap's own bpf_image() for all 65536 opcodes (linked here);
//  - listing/c/ddd against libpcap's bpf_dump() for programs pcap_compile() makes;
//  - the same against the tcpdump binary's -d/-dd/-ddd (skipped when tcpdump is missing);
//  - xt_bpf against Linux bpf_asm's printf format (tools/bpf/bpf_exp.y bpf_pretty_print);
// and the readers (c in tcpdump/bpf_asm/netsniff-ng styles, ddd, xt_bpf, bin), their errors,
// format detection and the disassembler's output.
#include "compiler/formats.hpp"

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "compiler/assembler.hpp"

namespace bpf::compiler {
namespace {

std::vector<vm::Insn> from_pcap(const bpf_program& p) {
  std::vector<vm::Insn> v;
  for (u_int i = 0; i < p.bf_len; ++i) {
    const bpf_insn& b = p.bf_insns[i];
    v.push_back(vm::Insn{b.code, b.jt, b.jf, b.k});
  }
  return v;
}

// Runs libpcap's bpf_dump(), which prints to stdout, and returns what it printed.
std::string capture_bpf_dump(bpf_program* p, int option) {
  std::fflush(stdout);
  int saved = dup(1);
  FILE* tmp = std::tmpfile();
  dup2(fileno(tmp), 1);
  bpf_dump(p, option);
  std::fflush(stdout);
  dup2(saved, 1);
  close(saved);
  std::rewind(tmp);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, tmp)) > 0) out.append(buf, n);
  std::fclose(tmp);
  return out;
}

TEST(Listing, MatchesLibpcapBpfImageForEveryCode) {
  const uint32_t ks[] = {0,           1,           14,          0x7fffffff,
                         0x80000000u, 0xffffffffu, 0xfffff000u, 0xfffff004u,
                         0xfffff03cu, 0xfffff040u, 0xfff00000u, 0xffe00000u};
  const std::pair<uint8_t, uint8_t> jumps[] = {{0, 0}, {3, 255}, {255, 1}};
  size_t compared = 0;
  for (uint32_t code = 0; code <= 0xffff; ++code) {
    for (uint32_t k : ks) {
      for (auto [jt, jf] : jumps) {
        for (int n : {0, 7, 999, 4095}) {
          // Keep it fast: the full k/jt/jf grid only for codes that decode.
          if (!vm::decode(static_cast<uint16_t>(code)) && (k != 14 || jt != 3 || n != 7)) continue;
          bpf_insn in{static_cast<u_short>(code), jt, jf, k};
          vm::Insn ours{static_cast<uint16_t>(code), jt, jf, k};
          std::string want = bpf_image(&in, n);
          ASSERT_EQ(listing_line(ours, static_cast<uint32_t>(n)), want)
              << "code 0x" << std::hex << code << " k 0x" << k;
          ++compared;
        }
      }
    }
  }
  EXPECT_GT(compared, 65536u);
}

const char* const kExpressions[] = {
    "arp",
    "tcp port 22",
    "ip and udp and dst port 53",
    "vlan and tcp",
    "tcp[tcpflags] & tcp-syn != 0",
    "ether host 01:02:03:04:05:06 or ip host 10.0.0.1",
    "ip[2:2] > 576 and not icmp",
    "len > 100 and len < 1500",
    "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
    "ip and (ip[6:2] & 0x1fff) = 0 and ip[8] * 2 / 3 - 1 < 20",
};

TEST(Dump, MatchesLibpcapBpfDump) {
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 262144);
  ASSERT_NE(dead, nullptr);
  for (const char* expr : kExpressions) {
    SCOPED_TRACE(expr);
    bpf_program p{};
    ASSERT_EQ(pcap_compile(dead, &p, expr, 1, PCAP_NETMASK_UNKNOWN), 0) << pcap_geterr(dead);
    std::vector<vm::Insn> insns = from_pcap(p);
    EXPECT_EQ(format_program(insns, Format::kListing), capture_bpf_dump(&p, 1));
    EXPECT_EQ(format_program(insns, Format::kC), capture_bpf_dump(&p, 2));
    EXPECT_EQ(format_program(insns, Format::kDdd), capture_bpf_dump(&p, 3));
    // and back: every readable format gives the same program
    for (Format f : {Format::kC, Format::kDdd, Format::kXtBpf, Format::kBin, Format::kAsm}) {
      auto r = read_bytecode(format_program(insns, f), f);
      ASSERT_TRUE(r.ok()) << format_name(f) << "\n" << r.diagnostics().render("t");
      EXPECT_EQ(r->insns, insns) << format_name(f);
    }
    pcap_freecode(&p);
  }
  pcap_close(dead);
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(Dump, MatchesTcpdumpBinary) {
  if (run("command -v tcpdump").empty()) GTEST_SKIP() << "SKIPPED: tcpdump not installed";
  for (const char* expr : {"tcp port 22", "vlan and udp", "icmp or arp"}) {
    SCOPED_TRACE(expr);
    std::string base = std::string("tcpdump -y EN10MB ");
    std::string ddd = run(base + "-ddd '" + expr + "' 2>/dev/null");
    if (ddd.empty()) GTEST_SKIP() << "SKIPPED: tcpdump -y EN10MB -ddd printed nothing here";
    auto r = read_bytecode(ddd, Format::kDdd);
    ASSERT_TRUE(r.ok()) << r.diagnostics().render("tcpdump");
    EXPECT_EQ(format_program(r->insns, Format::kDdd), ddd);
    EXPECT_EQ(format_program(r->insns, Format::kC), run(base + "-dd '" + expr + "' 2>/dev/null"));
    EXPECT_EQ(format_program(r->insns, Format::kListing),
              run(base + "-d '" + expr + "' 2>/dev/null"));
  }
}

const char* const kArp = "ldh [12]\njeq #0x806, keep, drop\nkeep: ret #65535\ndrop: ret #0\n";

TEST(Formats, ArpInEveryFormat) {
  auto r = assemble(kArp);
  ASSERT_TRUE(r.ok());
  const auto& p = r->insns;
  // CLI.md's examples; xt_bpf as bpf_asm prints it (bpf_pretty_print: trailing comma, newline).
  EXPECT_EQ(format_program(p, Format::kC),
            "{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 1, 0x00000806 },\n"
            "{ 0x6, 0, 0, 0x0000ffff },\n{ 0x6, 0, 0, 0x00000000 },\n");
  EXPECT_EQ(format_program(p, Format::kDdd), "4\n40 0 0 12\n21 0 1 2054\n6 0 0 65535\n6 0 0 0\n");
  EXPECT_EQ(format_program(p, Format::kListing),
            "(000) ldh      [12]\n(001) jeq      #0x806           jt 2\tjf 3\n"
            "(002) ret      #65535\n(003) ret      #0\n");
  EXPECT_EQ(format_program(p, Format::kXtBpf), "4,40 0 0 12,21 0 1 2054,6 0 0 65535,6 0 0 0,\n");
  EXPECT_EQ(format_program(p, Format::kBin).size(), 32u);
  EXPECT_EQ(disassemble(p),
            "        ldh [12]\n"
            "        jeq #0x806, L2, L3\n"
            "L2:     ret #65535\n"
            "L3:     ret #0\n");
}

TEST(Readers, CStyles) {
  std::vector<vm::Insn> want = {
      {0x28, 0, 0, 12}, {0x15, 0, 1, 0x806}, {6, 0, 0, 0xffff}, {6, 0, 0, 0}};
  // tcpdump -dd / netsniff-ng bpfc
  const char* tcpdump =
      "{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 1, 0x00000806 },\n"
      "{ 0x6, 0, 0, 0x0000ffff },\n{ 0x6, 0, 0, 0x00000000 },\n";
  // bpf_asm -c: "{ %#04x, %2u, %2u, %#010x }," (0 prints as 0000, not 0x0000)
  const char* bpf_asm =
      "{ 0x28,  0,  0, 0x0000000c },\n{ 0x15,  0,  1, 0x00000806 },\n"
      "{ 0x06,  0,  0, 0x0000ffff },\n{ 0x06,  0,  0, 0000000000 },\n";
  // a whole C declaration with comments
  const char* decl =
      "/* arp */\nstruct sock_filter code[] = {\n"
      "  { 0x28, 0, 0, 12 }, // ldh [12]\n  {0x15,0,1,2054},\n"
      "  { 6, 0, 0, 65535 },\n  { 06, 00, 0, 0 }\n};\n";
  for (const char* s : {tcpdump, bpf_asm, decl}) {
    SCOPED_TRACE(s);
    EXPECT_EQ(detect_format(s), Format::kC);
    auto r = read_bytecode(s, Format::kC);
    ASSERT_TRUE(r.ok()) << r.diagnostics().render("c");
    EXPECT_EQ(r->insns, want);
  }
}

TEST(Readers, XtBpfAndDdd) {
  std::vector<vm::Insn> want = {
      {0x28, 0, 0, 12}, {0x15, 0, 1, 0x806}, {6, 0, 0, 0xffff}, {6, 0, 0, 0}};
  for (const char* s : {"4,40 0 0 12,21 0 1 2054,6 0 0 65535,6 0 0 0,\n",
                        "4,40 0 0 12,21 0 1 2054,6 0 0 65535,6 0 0 0",  // nfbpf_compile
                        "'4,40 0 0 12,21 0 1 2054,6 0 0 65535,6 0 0 0'\n",
                        "  4, 40 0 0 12, 21 0 1 2054 ,6 0 0 65535,6 0 0 0\n"}) {
    SCOPED_TRACE(s);
    EXPECT_EQ(detect_format(s), Format::kXtBpf);
    auto r = read_bytecode(s, Format::kXtBpf);
    ASSERT_TRUE(r.ok()) << r.diagnostics().render("x");
    EXPECT_EQ(r->insns, want);
  }
  for (const char* s : {"4\n40 0 0 12\n21 0 1 2054\n6 0 0 65535\n6 0 0 0\n",
                        "4\r\n40 0 0 12\r\n21 0 1 2054\r\n6 0 0 65535\r\n6 0 0 0"}) {
    SCOPED_TRACE(s);
    EXPECT_EQ(detect_format(s), Format::kDdd);
    auto r = read_bytecode(s, Format::kDdd);
    ASSERT_TRUE(r.ok()) << r.diagnostics().render("d");
    EXPECT_EQ(r->insns, want);
  }
}

TEST(Readers, Bin) {
  std::vector<vm::Insn> want = {{0x28, 0, 0, 12}, {6, 0, 0, 0}};
  std::string bin = format_program(want, Format::kBin);
  EXPECT_EQ(detect_format(bin), Format::kBin);
  auto r = read_bytecode(bin, Format::kBin);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->insns, want);
  auto bad = read_bytecode(bin.substr(0, 13), Format::kBin);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.diagnostics().render("b"),
            "b: error: binary input is 13 bytes, not a multiple of 8 (struct sock_filter)\n");
}

TEST(Readers, Errors) {
  struct Case {
    Format f;
    const char* src;
    const char* want;
  };
  const Case cases[] = {
      {Format::kDdd, "3\n6 0 0 0\n",
       "d:1:1: error: the count says 3 instructions but 1 follow\n3\n^\n"},
      {Format::kDdd, "1\n6 0 0\n",
       "d:2:6: error: expected a number (code jt jf k), found end of line\n6 0 0\n     ^\n"},
      {Format::kDdd, "1\n6 0 300 0\n", "d:0: error: jf = 300 is out of range (maximum 255)\n"},
      {Format::kDdd, "1\n6 0 0 0 7\n",
       "d:2:9: error: expected end of line after four numbers, found '7'\n6 0 0 0 7\n        ^\n"},
      {Format::kDdd, "x\n",
       "d:1:1: error: expected the instruction count (tcpdump -ddd format)\nx\n^\n"},
      {Format::kXtBpf, "2,6 0 0 0,",
       "d:1:1: error: the count says 2 instructions but 1 follow\n2,6 0 0 0,\n^\n"},
      {Format::kXtBpf, "1,6 0 0 4294967296,",
       "d:0: error: k = 4294967296 is out of range (maximum 4294967295)\n"},
      {Format::kXtBpf, "1,6 0 0 123456789012345678901234567890,",
       "d:0: error: k is out of range (maximum 4294967295)\n"},
      {Format::kXtBpf, "1;6 0 0 0",
       "d:1:2: error: expected ',' between instructions, found ';'\n1;6 0 0 0\n ^\n"},
      {Format::kXtBpf, "0,", "d: error: no instructions in the input\n"},
      {Format::kC, "{ 0x10000, 0, 0, 0 },",
       "d:0: error: code = 65536 is out of range (maximum 65535)\n"},
      {Format::kC, "{ 6, 0, 0 },",
       "d:1:11: error: expected ',' between the fields of { code, jt, jf, k }, found '}'\n{ 6, 0, "
       "0 },\n          ^\n"},
      {Format::kC, "{ 6, 0, 0, 0 ",
       "d:1:14: error: expected '}' after { code, jt, jf, k }, found end of input\n{ 6, 0, 0, 0 \n "
       "            ^\n"},
      // Only what tcpdump -dd / netsniff-ng print: no tuples picked out of other text.
      {Format::kC, "int x;",
       "d:1:6: error: expected '{ code, jt, jf, k },' lines (tcpdump -dd) or a declaration "
       "`struct sock_filter NAME[] = { ... };`, found ';'\nint x;\n     ^\n"},
      {Format::kC, "int main(){ { 6, 0, 0, 0 }, }",
       "d:1:9: error: expected '{ code, jt, jf, k },' lines (tcpdump -dd) or a declaration "
       "`struct sock_filter NAME[] = { ... };`, found '('\nint main(){ { 6, 0, 0, 0 }, }\n"
       "        ^\n"},
      {Format::kC, "hello\n",
       "d:1:1: error: expected '{ code, jt, jf, k },' lines (tcpdump -dd) or a declaration "
       "`struct sock_filter NAME[] = { ... };`, found only words\nhello\n^~~~~\n"},
      {Format::kC, "{ 6, 0, 0, 0 },\nhello { 6, 0, 0, 0 },\n",
       "d:2:1: error: expected '{ code, jt, jf, k }' (tcpdump -dd format), found 'h'\n"
       "hello { 6, 0, 0, 0 },\n^\n"},
      {Format::kC, "{ 6, 0, 0, 0 } { 6, 0, 0, 0 }",
       "d:1:16: error: expected ',' after '}', found '{'\n{ 6, 0, 0, 0 } { 6, 0, 0, 0 }\n"
       "               ^\n"},
      {Format::kC, "struct sock_filter f[] = {\n{ 6, 0, 0, 0 },\n",
       "d:3:1: error: expected '};' to close the declaration, found end of input\n"},
      {Format::kC, "struct sock_filter f[] = { { 6, 0, 0, 0 } }; int x;",
       "d:1:46: error: unexpected 'i' after '};'\nstruct sock_filter f[] = { { 6, 0, 0, 0 } }; "
       "int x;\n                                             ^\n"},

      {Format::kListing, "(000) ret #0",
       "d: error: the listing format (tcpdump -d) is for reading by people; use c, ddd, xt_bpf or "
       "bin\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.src);
    auto r = read_bytecode(c.src, c.f);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.diagnostics().render("d"), c.want);
  }
}

TEST(Readers, NoLengthLimit) {
  // The kernels' limits are the verifier's (Destination::kKernel); readers take any length.
  std::vector<vm::Insn> many(100'000, vm::Insn{6, 0, 0, 0});
  for (Format f : {Format::kC, Format::kDdd, Format::kXtBpf, Format::kBin}) {
    auto r = read_bytecode(format_program(many, f), f);
    ASSERT_TRUE(r.ok()) << r.diagnostics().render("d");
    EXPECT_EQ(r->insns, many);
  }
}

TEST(Readers, CDeclarationsAndComments) {
  // tcpdump -dd, bpf_asm -c (padded), netsniff-ng's declaration with comments, no trailing comma.
  const std::vector<vm::Insn> want = {{0x28, 0, 0, 12}, {0x15, 0, 1, 0x806}, {6, 0, 0, 0xffff},
                                      {6, 0, 0, 0}};
  for (const char* src : {
           "{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 1, 0x00000806 },\n"
           "{ 0x6, 0, 0, 0x0000ffff },\n{ 0x6, 0, 0, 0x00000000 },\n",
           "{ 0x28,  0,  0, 0x0000000c },\r\n{ 0x15,  0,  1, 0x00000806 },\r\n"
           "{ 0x06,  0,  0, 0x0000ffff },\r\n{ 0x06,  0,  0, 0000000000 }\r\n",
           "/* arp.c: tcpdump -dd arp */\nstruct sock_filter code[] = {\n"
           "\t{ 0x28, 0, 0, 0x0000000c }, /* ldh [12] */\n\t{ 0x15, 0, 1, 0x00000806 },\n"
           "\t{ 0x6, 0, 0, 0x0000ffff }, // accept\n\t{ 0x6, 0, 0, 0x00000000 },\n};\n",
           "static const struct sock_filter arp [4] = { { 40, 0, 0, 12 }, { 21, 0, 1, 2054 },"
           " { 6, 0, 0, 65535 }, { 6, 0, 0, 0 } }",
       }) {
    SCOPED_TRACE(src);
    EXPECT_EQ(detect_format(src), Format::kC);
    auto r = read_bytecode(src, Format::kC);
    ASSERT_TRUE(r.ok()) << r.diagnostics().render("d");
    EXPECT_EQ(r->insns, want);
  }
}

TEST(Detect, TextWithNulIsNotBinary) {
  // A NUL in 17 bytes of text: not binary (not a multiple of 8), so the text reader says where.
  const std::string text("ld #1\nret a\0\nxyz\n", 17);
  EXPECT_EQ(detect_format(text), Format::kAsm);
  auto r = read_bytecode(text, Format::kAsm);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.diagnostics().render("t"),
            "t:2:6: error: NUL byte in text input (nor is it binary bytecode: 17 bytes is not a "
            "multiple of 8)\nret a \n     ^\n");
  // 16 bytes of text with one NUL: still text (binary has a NUL in every instruction).
  EXPECT_EQ(detect_format(std::string("ld #1\nret a\0\nxyz", 16)), Format::kAsm);
  // A real binary program.
  const std::vector<vm::Insn> p = {{0x28, 0, 0, 12}, {6, 0, 0, 0}};
  EXPECT_EQ(detect_format(format_program(p, Format::kBin)), Format::kBin);
}

TEST(Detect, AssemblyAndEmpty) {
  EXPECT_EQ(detect_format(kArp), Format::kAsm);
  EXPECT_EQ(detect_format("; comment\n ret #0\n"), Format::kAsm);
  EXPECT_EQ(detect_format("; Übersicht — UTF-8 comment\n ret #0\n"), Format::kAsm);
  EXPECT_EQ(detect_format(""), std::nullopt);
}

TEST(Disassemble, EscapesWhatAssemblyCannotSay) {
  std::vector<vm::Insn> p = {
      {0xffff, 0, 0, 0},         // unknown opcode
      {0x15, 200, 0, 1},         // jump past the end
      {0x05, 0, 0, 0xffffffff},  // ja past the end (wraps)
      {0x07, 1, 0, 0},           // tax with jt set
      {0x60, 0, 0, 16},          // M[16]
      {0x84, 0, 0, 5},           // neg with k set
      {0x16, 0, 0, 0},           // ret a
  };
  std::string text = disassemble(p);
  EXPECT_EQ(text,
            "        .insn 0xffff, 0, 0, 0x0\n"
            "        .insn 0x15, 200, 0, 0x1\n"
            "        .insn 0x5, 0, 0, 0xffffffff\n"
            "        .insn 0x7, 1, 0, 0x0\n"
            "        .insn 0x60, 0, 0, 0x10\n"
            "        .insn 0x84, 0, 0, 0x5\n"
            "        ret a\n");
  auto r = assemble(text);
  ASSERT_TRUE(r.ok()) << r.diagnostics().render("t");
  EXPECT_EQ(r->insns, p);
}

TEST(Disassemble, AncillaryAndNegativeOffsets) {
  auto r = assemble(
      "ld #proto\nldh #vlan_avail\nldb [-1048576]\nld #alu_xor_x\nldx 4*([-4]&0xf)\n"
      "ld [x + 4294967295]\nret #0\n");
  ASSERT_TRUE(r.ok()) << r.diagnostics().render("t");
  EXPECT_EQ(disassemble(r->insns),
            "        ld #proto\n"
            "        ldh #vlan_avail\n"
            "        ldb [-1048576]\n"
            "        ld [-4056]\n"
            "        ldxb 4*([-4]&0xf)\n"
            "        ld [x + 4294967295]\n"
            "        ret #0\n");
}

}  // namespace
}  // namespace bpf::compiler
