// The bpfc command line (../shared/CLI.md), run as a process: formats and shorthands, stdin,
// --disasm with -x and autodetection, exit codes (0 ok, 1 invalid input, 2 usage), stdout empty
// on every error, diagnostics on stderr in FILE:LINE:COL form.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "tests/asm/tool_run.hpp"

namespace {

using bpf::test::Outcome;
using bpf::test::slurp;
using bpf::test::write_temp;

// Runs bpfc with `args` (shell-quoted by the caller) and `input` on stdin.
Outcome bpfc(const std::string& args, const std::string& input = "") {
  return bpf::test::run_tool(BPFC_BIN, args, input);
}

// Runs any shell command and collects its stdout (for the reference tools).
Outcome tcpdump_like(const std::string& cmd) {
  Outcome r;
  FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  r.status = pclose(p);
  return r;
}


const char* const kArp = "ldh [12]\njeq #0x806, keep, drop\nkeep: ret #65535\ndrop: ret #0\n";
const char* const kC =
    "{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 1, 0x00000806 },\n"
    "{ 0x6, 0, 0, 0x0000ffff },\n{ 0x6, 0, 0, 0x00000000 },\n";

TEST(Cli, DefaultIsCFromStdin) {
  Outcome r = bpfc("", kArp);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, kC);
  Outcome r2 = bpfc("-", kArp);
  EXPECT_EQ(r2.out, kC);
}

TEST(Cli, FormatsAndShorthands) {
  std::string f = write_temp("arp.bpf", kArp);
  EXPECT_EQ(bpfc("-dd " + f).out, kC);
  EXPECT_EQ(bpfc("-f c " + f).out, kC);
  EXPECT_EQ(bpfc("--format=c " + f).out, kC);
  EXPECT_EQ(bpfc("-ddd " + f).out, "4\n40 0 0 12\n21 0 1 2054\n6 0 0 65535\n6 0 0 0\n");
  EXPECT_EQ(bpfc("-f ddd " + f).out, "4\n40 0 0 12\n21 0 1 2054\n6 0 0 65535\n6 0 0 0\n");
  EXPECT_EQ(bpfc("-d " + f).out,
            "(000) ldh      [12]\n(001) jeq      #0x806           jt 2\tjf 3\n"
            "(002) ret      #65535\n(003) ret      #0\n");
  EXPECT_EQ(bpfc("-f xt_bpf " + f).out, "4,40 0 0 12,21 0 1 2054,6 0 0 65535,6 0 0 0,\n");
  EXPECT_EQ(bpfc("--format xt_bpf " + f).out, "4,40 0 0 12,21 0 1 2054,6 0 0 65535,6 0 0 0,\n");
  EXPECT_EQ(bpfc("-f bin " + f).out.size(), 32u);
  EXPECT_EQ(bpfc("-f asm " + f).out,
            "        ldh [12]\n        jeq #0x806, L2, L3\nL2:     ret #65535\nL3:     ret #0\n");
}

TEST(Cli, DisasmWithAndWithoutInputFormat) {
  const std::string ddd = "4\n40 0 0 12\n21 0 1 2054\n6 0 0 65535\n6 0 0 0\n";
  const std::string asm_text =
      "        ldh [12]\n        jeq #0x806, L2, L3\nL2:     ret #65535\nL3:     ret #0\n";
  EXPECT_EQ(bpfc("--disasm", ddd).out, asm_text);
  EXPECT_EQ(bpfc("--disasm -x ddd -", ddd).out, asm_text);
  EXPECT_EQ(bpfc("--disasm -x c", kC).out, asm_text);
  EXPECT_EQ(bpfc("--disasm", "4,40 0 0 12,21 0 1 2054,6 0 0 65535,6 0 0 0,\n").out, asm_text);
  EXPECT_EQ(bpfc("--disasm -f ddd", kC).out, ddd);
  // binary in, binary out
  std::string bin = bpfc("-f bin", kArp).out;
  Outcome r = bpfc("--disasm -x bin -d", bin);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 19), "(000) ldh      [12]");
  // the wrong declared format is an input error
  Outcome bad = bpfc("--disasm -x xt_bpf", ddd);
  EXPECT_EQ(bad.status, 1);
  EXPECT_EQ(bad.out, "");
  EXPECT_NE(bad.err.find("<stdin>:"), std::string::npos) << bad.err;
}

TEST(Cli, ErrorsExitOneWithEmptyStdout) {
  std::string f = write_temp("bad.bpf",
                             "  ldh [12]\n  jeq #0x806, keep, dorp\nkeep: ret #1\n"
                             "drop: ret #0\n  ldw [1]\n");
  Outcome r = bpfc(f);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, f +
                       ":2:21: error: undefined label 'dorp'; did you mean 'drop'?\n"
                       "  jeq #0x806, keep, dorp\n"
                       "                    ^~~~\n" +
                       f +
                       ":5:3: error: unknown instruction 'ldw'; did you mean 'ld'?\n"
                       "  ldw [1]\n"
                       "  ^~~\n");
  Outcome s = bpfc("-d", "ret #0\nret y\n");
  EXPECT_EQ(s.status, 1);
  EXPECT_EQ(s.out, "");
  EXPECT_EQ(s.err.rfind("<stdin>:2:5: error: invalid operand 'y' for 'ret'", 0), 0u) << s.err;
  Outcome missing = bpfc(::testing::TempDir() + "does-not-exist.bpf");
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.out, "");
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos);
  Outcome empty = bpfc("", "");
  EXPECT_EQ(empty.status, 1);
  EXPECT_EQ(empty.out, "");
}

TEST(Cli, UsageErrorsExitTwo) {
  for (const char* args : {"--bogus", "-f", "-f nope", "-x listing", "-x nope", "--target vax",
                           "a.bpf b.bpf", "-O3", "--disasm --check", "-s abc", "-e"}) {
    SCOPED_TRACE(args);
    Outcome r = bpfc(args, kArp);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("bpfc: "), std::string::npos);
  }
  Outcome h = bpfc("--help");
  EXPECT_EQ(h.status, 0);
  EXPECT_NE(h.out.find("usage: bpfc"), std::string::npos);
}

TEST(Cli, VerificationGatesOutput) {
  // `ret x` assembles (bpf_asm emits it) but neither Linux nor BSD accept it.
  Outcome r = bpfc("", "ld [12]\nret x\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("<stdin>:2:1: error: ", 0), 0u) << r.err;
  Outcome nv = bpfc("--no-verify -ddd", "ld [12]\nret x\n");
  EXPECT_EQ(nv.status, 0) << nv.err;
  EXPECT_EQ(nv.out, "2\n32 0 0 12\n14 0 0 0\n");
  // Reading M[3] before writing it: rejected, with the source position.
  Outcome m = bpfc("--check", "ld M[3]\nret a\n");
  EXPECT_EQ(m.status, 1);
  EXPECT_EQ(m.out, "");
  EXPECT_EQ(m.err.rfind("<stdin>:1:1: error: ", 0), 0u) << m.err;
  Outcome ok = bpfc("--check", kArp);
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(ok.out, "");
  // Bytecode input is verified too; errors name the instruction index.
  Outcome bc = bpfc("--check -x ddd", "1\n14 0 0 0\n");
  EXPECT_EQ(bc.status, 1);
  EXPECT_EQ(bc.err.rfind("<stdin>:0: error: ", 0), 0u) << bc.err;
}

TEST(Cli, TargetSelectsRules) {
  // 600 instructions: fine for Linux (4096), too long for FreeBSD's bpf_setf (512).
  std::string src;
  for (int i = 0; i < 599; ++i) src += "ld #1\n";
  src += "ret a\n";
  EXPECT_EQ(bpfc("--check --target linux", src).status, 0);
  Outcome bsd = bpfc("--check --target bsd", src);
  EXPECT_EQ(bsd.status, 1);
  EXPECT_FALSE(bsd.err.empty());
}

TEST(Cli, ExpressionOptionsAreAccepted) {
  // -O/-l/-s parse for every mode (they only matter with -e).
  Outcome r = bpfc("-O1 -l RAW -s 96 --target linux", kArp);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, kC);
}

TEST(Cli, VerboseWritesListingToStderrOnly) {
  Outcome r = bpfc("-V -f ddd", kArp);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "4\n40 0 0 12\n21 0 1 2054\n6 0 0 65535\n6 0 0 0\n");
  EXPECT_NE(r.err.find("(001) jeq      #0x806           jt 2\tjf 3\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("valid program; verified for linux: 4 instructions"), std::string::npos) << r.err;
  Outcome bad = bpfc("-V", "ld M[1]\nret a\n");
  EXPECT_EQ(bad.status, 1);
  EXPECT_EQ(bad.out, "");
  EXPECT_NE(bad.err.find("(000) ld       M[1]\n"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("invalid program (1 error)\n"), std::string::npos) << bad.err;
}

TEST(Cli, TcpPort22ExampleIsWhatTcpdumpPrints) {
  // examples/tcp_port_22.bpf is `tcpdump -d 'tcp port 22'` with named labels.
  if (std::system("command -v tcpdump >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "SKIPPED: tcpdump not installed";
  std::string example = std::string(BPFC_EXAMPLES_DIR) + "/tcp_port_22.bpf";
  for (const char* flag : {"-d", "-dd", "-ddd"}) {
    SCOPED_TRACE(flag);
    Outcome ours = bpfc(std::string(flag) + " " + example);
    Outcome theirs = tcpdump_like(std::string("tcpdump -y EN10MB ") + flag + " 'tcp port 22'");
    if (theirs.out.empty()) GTEST_SKIP() << "SKIPPED: tcpdump -y EN10MB printed nothing";
    EXPECT_EQ(ours.status, 0) << ours.err;
    EXPECT_EQ(ours.out, theirs.out);
  }
}

TEST(Cli, Examples) {
  for (const char* name : {"arp.bpf", "tcp_port_22.bpf", "vlan.bpf", "ancillary.bpf"}) {
    SCOPED_TRACE(name);
    Outcome r = bpfc(std::string(BPFC_EXAMPLES_DIR) + "/" + name);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(r.out.empty());
  }
}

}  // namespace

namespace {

// `ldh [12]` and `jeq #1 .. #n, accept`: each jump reaches the end through a trampoline.
std::string long_chain(int n) {
  std::string src = "ldh [12]\n";
  for (int i = 1; i <= n; ++i) src += "jeq #" + std::to_string(i) + ", accept\n";
  return src + "ret #0\naccept: ret #65535\n";
}

}  // namespace

TEST(Cli, DisasmVerifiesUnlessNoVerify) {
  // `tax` last: no verifier accepts it; --disasm used to convert it without a word.
  const std::string ddd = "2\n6 0 0 1\n7 0 0 0\n";
  Outcome r = bpfc("--disasm", ddd);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("<stdin>:1: error: insn 1 `tax`: the last instruction must be", 0), 0u)
      << r.err;
  Outcome nv = bpfc("--disasm --no-verify", ddd);
  EXPECT_EQ(nv.status, 0) << nv.err;
  EXPECT_EQ(nv.out, "        ret #1\n        tax\n");
}

TEST(Cli, CReaderTakesOnlyBytecode) {
  for (const char* text : {"int main(){}\n", "hello\n", "{ 6, 0, 0, 1 },\nhello\n"}) {
    SCOPED_TRACE(text);
    Outcome r = bpfc("--disasm -x c", text);
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("<stdin>:", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(": error: expected"), std::string::npos) << r.err;
  }
  Outcome ok = bpfc("--disasm", "/* tcpdump -dd */\nstruct sock_filter code[] = {\n"
                                "\t{ 0x6, 0, 0, 0x00000001 }, // accept\n};\n");
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(ok.out, "        ret #1\n");
}

TEST(Cli, TextWithNulByte) {
  Outcome r = bpfc("", std::string("ld #1\nret a\0\nxyz\n", 17));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("<stdin>:2:6: error: NUL byte in text input", 0), 0u) << r.err;
}

TEST(Cli, ReadErrorsNameTheFile) {
  const std::string dir = ::testing::TempDir();
  Outcome d = bpfc(dir);
  EXPECT_EQ(d.status, 1);
  EXPECT_EQ(d.out, "");
  EXPECT_NE(d.err.find("Is a directory"), std::string::npos) << d.err;
  Outcome f = bpfc("-F " + dir + "no-such-expression");
  EXPECT_EQ(f.status, 1);
  EXPECT_NE(f.err.find("no-such-expression': No such file or directory"), std::string::npos)
      << f.err;
}

TEST(Cli, OneExpressionOnly) {
  const std::string file = write_temp("one.expr", "ip\n");
  for (const std::string& args : {std::string("-e ip -e tcp"), "-F " + file + " -e tcp",
                                  "-e tcp -F " + file, "-F " + file + " -F " + file,
                                  "-F " + file + " prog.bpf", "-F " + file + " --disasm",
                                  "-F " + file + " -x c", std::string("-F")}) {
    SCOPED_TRACE(args);
    Outcome r = bpfc(args);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST(Cli, ExpressionFile) {
  // tcpdump -F: newlines are blanks, `#` comments run to the end of the line.
  const std::string file =
      write_temp("port22.expr", "# ssh\nip and   # the IPv4 part\n  tcp port 22\n");
  Outcome f = bpfc("-F " + file);
  Outcome e = bpfc("-e 'ip and tcp port 22'");
  EXPECT_EQ(f.status, 0) << f.err;
  EXPECT_EQ(f.out, e.out);
  EXPECT_FALSE(f.out.empty());
  // Diagnostics name the file (line and column are the expression lexer's).
  const std::string bad = write_temp("bad.expr", "tcp port 99999 # too big\n");
  Outcome b = bpfc("-F " + bad);
  EXPECT_EQ(b.status, 1);
  EXPECT_EQ(b.out, "");
  EXPECT_EQ(b.err.rfind(bad + ":1:10: error: ", 0), 0u) << b.err;
  EXPECT_NE(b.err.find("tcp port 99999 # too big\n         ^"), std::string::npos) << b.err;
  const std::string nul = write_temp("nul.expr", std::string("ip and\n tcp\0\n", 13));
  Outcome n = bpfc("-F " + nul);
  EXPECT_EQ(n.status, 1);
  EXPECT_EQ(n.err.rfind(nul + ":2:5: error: NUL byte", 0), 0u) << n.err;
}

TEST(Cli, LongProgramsPrintWithAWarning) {
  // 100,000 conditional jumps (199,748 instructions with the trampolines of all but the last 255
  // of them): bpfc prints them (user-space engines run any length) and warns that the kernel
  // will refuse them; --check verifies for the kernel and rejects them with its limit.
  const std::string src = long_chain(100000);
  Outcome r = bpfc("-ddd", src);
  EXPECT_EQ(r.status, 0) << r.err.substr(0, 500);
  EXPECT_EQ(r.out.substr(0, 7), "199748\n");
  EXPECT_EQ(r.err,
            "<stdin>: warning: the Linux kernel will refuse this program: program has 199748 "
            "instructions; Linux accepts at most 4096 (BPF_MAXINSNS)\n");
  Outcome c = bpfc("--check", src);
  EXPECT_EQ(c.status, 1);
  EXPECT_EQ(c.err,
            "<stdin>: error: program has 199748 instructions; Linux accepts at most 4096 "
            "(BPF_MAXINSNS)\n");
  // BSD: 600 instructions print, with BSD's 512 in the warning.
  std::string six;
  for (int i = 0; i < 599; ++i) six += "ld #1\n";
  six += "ret a\n";
  Outcome b = bpfc("--target bsd", six);
  EXPECT_EQ(b.status, 0) << b.err;
  EXPECT_EQ(b.err,
            "<stdin>: warning: a BSD kernel will refuse this program: program has 600 "
            "instructions; BSD accepts at most 512 (BPF_MAXINSNS in bpf_setf())\n");
  // --disasm of a long bytecode program: the same.
  Outcome d = bpfc("--disasm -f c", r.out);
  EXPECT_EQ(d.status, 0);
  EXPECT_NE(d.err.find("warning: the Linux kernel will refuse"), std::string::npos);
}

namespace {

// The last output format named wins, shorthands included (-f dot -d prints the listing).
TEST(Cli, LastFormatWins) {
  EXPECT_EQ(bpfc("-e tcp -f dot -d").out, bpfc("-e tcp -d").out);
  EXPECT_EQ(bpfc("-e tcp -f ebpf -ddd").out, bpfc("-e tcp -ddd").out);
  EXPECT_NE(bpfc("-e tcp -d -f dot").out.find("digraph"), std::string::npos);
}

}  // namespace

// bpfc --classify RULES (compiler/classify/, tested against libpcap in
// tests/expr/classify_diff_test.cpp): every output format, -O levels, -l, located errors of
// every bad rule (exit 1), usage errors (exit 2).
TEST(Cli, ClassifyRules) {
  const std::string rules = write_temp("cli.rules", "# comment\ntcp port 80\n\n  udp\narp\n");
  const Outcome c = bpfc("--classify " + rules);
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_NE(c.out.find("{ 0x6, 0, 0, 0x00000003 },"), std::string::npos) << c.out;  // ret #3
  EXPECT_NE(c.out.find("{ 0x6, 0, 0, 0x00000000 },"), std::string::npos) << c.out;
  for (const char* f : {"listing", "ddd", "xt_bpf", "asm", "bin", "dot", "ebpf"}) {
    const Outcome r = bpfc("--classify " + rules + " -f " + f);
    EXPECT_EQ(r.status, 0) << f << ": " << r.err;
    EXPECT_FALSE(r.out.empty()) << f;
  }
  const Outcome l = bpfc("--classify " + rules + " -d");
  EXPECT_NE(l.out.find("ret      #2"), std::string::npos) << l.out;
  for (const char* o : {"-O0", "-O1", "-O2"}) EXPECT_EQ(bpfc(std::string("--classify ") + rules + " " + o).status, 0) << o;
  // the listing read back by the assembler is the same program
  const Outcome a = bpfc("--classify " + rules + " -f asm");
  EXPECT_EQ(bpfc("-f c -", a.out).out, c.out);
  // -l RAW: no link header, `arp` cannot be expressed there
  const Outcome raw = bpfc("--classify " + rules + " -l RAW");
  EXPECT_EQ(raw.status, 1);
  EXPECT_NE(raw.err.find(rules + ":5:1: error:"), std::string::npos) << raw.err;
  const std::string ip_rules = write_temp("cli_ip.rules", "tcp port 80\nudp\n");
  EXPECT_EQ(bpfc("--classify " + ip_rules + " -l RAW").status, 0);
  // every bad rule, with its line and column
  const std::string bad = write_temp("cli_bad.rules", "tcp\nudp prot 53\n  tcp and\nip protochain 6\n");
  const Outcome b = bpfc("--classify " + bad);
  EXPECT_EQ(b.status, 1);
  EXPECT_EQ(b.out, "");
  EXPECT_NE(b.err.find(bad + ":2:5: error:"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find(bad + ":3:10: error:"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find(bad + ":4:15: error: 'protochain' is not supported"), std::string::npos) << b.err;
  EXPECT_EQ(bpfc("--classify " + rules + " -e tcp").status, 2);
  EXPECT_EQ(bpfc("--classify").status, 2);
  EXPECT_EQ(bpfc("--classify /nonexistent/rules").status, 1);
}
