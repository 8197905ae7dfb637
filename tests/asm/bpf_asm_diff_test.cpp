// Differential tests against the reference assemblers themselves, when available: random programs
// in each tool's own dialect (every mnemonic, alias, operand form, extension name, number base;
// labels of 2+ characters; jumps within 255) must assemble to the same bytes.
//  - Linux bpf_asm (tools/bpf): not packaged by Debian; build it from a kernel tree
//    (make -C tools/bpf bpf_asm) and point BPFC_BPF_ASM at it. Compared in xt_bpf format.
//  - netsniff-ng bpfc (Debian package netsniff-ng, /usr/sbin/bpfc, or BPFC_NETSNIFF_BPFC):
//    compared in its C format (`bpfc -b -f C -i FILE`), which is tcpdump -dd's.
// Without the tool a test is skipped and says so.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "compiler/assembler.hpp"
#include "compiler/formats.hpp"

namespace bpf::compiler {
namespace {

std::string run_tool(const std::string& cmd_prefix, const std::string& src, int* status) {
  std::string path = ::testing::TempDir() + "bpf_asm_diff_" + std::to_string(getpid()) + ".s";
  std::ofstream(path) << src;
  std::string cmd = cmd_prefix + " " + path + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  if (p) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    *status = pclose(p);
  }
  std::remove(path.c_str());
  return out;
}

std::string number(std::mt19937& rng) {
  uint32_t v = rng() % 2 ? rng() % 300 : static_cast<uint32_t>(rng());
  char buf[48];
  switch (rng() % 5) {
    case 0: std::snprintf(buf, sizeof buf, "0x%x", v); break;
    case 1:
      if (v) {
        std::snprintf(buf, sizeof buf, "0%o", v);
        break;
      }
      [[fallthrough]];
    case 2:
      if (v && v < 0x80000000u) {
        std::snprintf(buf, sizeof buf, "-%u", v);
        break;
      }
      [[fallthrough]];
    default: std::snprintf(buf, sizeof buf, "%u", v); break;
  }
  return buf;
}

// Extension names of bpf_exp.l and of netsniff-ng 0.6.8's bpf_lexer.l.
const std::vector<std::string> kBpfAsmExt = {
    "proto",  "type",   "poff", "ifidx",    "nla",     "nlan",       "mark",      "queue",
    "hatype", "rxhash", "cpu",  "vlan_tci", "vlan_pr", "vlan_avail", "vlan_tpid", "rand"};
const std::vector<std::string> kNetsniffExt = {
    "proto", "pto",      "type",  "poff",  "ifidx",  "ifx",      "nla",    "nlan",
    "mark",  "queue",    "que",   "Q",     "hatype", "hat",      "rxhash", "rxh",
    "cpu",   "vlan_tci", "vlant", "vlanp", "vlana",  "vlan_acc", "len",    "pktlen"};

std::string dialect_program(std::mt19937& rng, int n, const std::vector<std::string>& ext) {
  auto pick = [&](std::initializer_list<const char*> l) {
    return std::string(*(l.begin() + rng() % l.size()));
  };
  std::string s;
  for (int i = 0; i < n; ++i) {
    auto target = [&] { return "lb" + std::to_string(i + 1 + rng() % std::min(n - i, 200)); };
    std::string x = pick({"x", "%x", "X"});
    std::string insn;
    switch (rng() % 14) {
      case 0: insn = pick({"ld", "ldh", "ldb"}) + " [" + number(rng) + "]"; break;
      case 1:
        insn = pick({"ld", "ldh", "ldb"}) + pick({" [x + ", " [%x + "}) + number(rng) + "]";
        break;
      case 2:
        insn = pick({"ld #", "ldi #", "ldi ", "ldx #", "ldxi ", "ldxi #"}) + number(rng);
        break;
      case 3: insn = pick({"ld", "ldx"}) + pick({" #len", " len", " M[7]", " M[15]"}); break;
      case 4: {
        std::string e = ext[rng() % ext.size()];
        bool len = e == "len" || e == "pktlen";
        insn = (len ? pick({"ld", "ldx"}) : pick({"ld", "ldh", "ldb"})) + pick({" #", " "}) + e;
        break;
      }
      case 5: insn = pick({"ldxb", "ldx"}) + " 4*([" + number(rng) + "]&0xf)"; break;
      case 6: insn = pick({"st", "stx"}) + " M[" + std::to_string(rng() % 16) + "]"; break;
      case 7:
        insn = pick({"add", "sub", "mul", "div", "mod", "and", "or", "xor", "lsh", "rsh"}) +
               (rng() % 2 ? " #" + number(rng) : " " + x);
        break;
      case 8: insn = pick({"neg", "tax", "txa", "NEG", "Tax"}); break;
      case 9: insn = pick({"ja ", "jmp ", "JA "}) + target(); break;
      case 10:
        insn = pick({"jeq", "jgt", "jge", "jset", "jneq", "jne", "jlt", "jle"}) +
               (rng() % 2 ? " #" + number(rng) : " " + x) + ", " + target();
        break;
      case 11:
        insn = pick({"jeq", "jgt", "jge", "jset"}) + (rng() % 2 ? " #" + number(rng) : " " + x) +
               ", " + target() + ", " + target();
        break;
      case 12: insn = "ret " + pick({"a", "%a", "x", "%x"}); break;
      default: insn = "ret #" + number(rng); break;
    }
    s += "lb" + std::to_string(i) + ": " + insn + pick({"", " ; c", " /* c */"}) + "\n";
  }
  s += "lb" + std::to_string(n) + ": ret #0\n";
  return s;
}

TEST(BpfAsmDiff, SameBytesAsLinuxBpfAsm) {
  const char* bin = std::getenv("BPFC_BPF_ASM");
  if (!bin || access(bin, X_OK) != 0)
    GTEST_SKIP() << "SKIPPED: set BPFC_BPF_ASM to a Linux tools/bpf/bpf_asm binary";
  std::mt19937 rng(4242);
  for (int i = 0; i < 500; ++i) {
    std::string src = dialect_program(rng, 1 + static_cast<int>(rng() % 60), kBpfAsmExt);
    SCOPED_TRACE(src);
    int status = -1;
    std::string want = run_tool(bin, src, &status);
    ASSERT_EQ(status, 0);
    auto r = assemble(src);
    ASSERT_TRUE(r.ok()) << r.diagnostics().render("t");
    EXPECT_EQ(format_program(r->insns, Format::kXtBpf), want);
  }
}

TEST(BpfAsmDiff, SameBytesAsNetsniffNgBpfc) {
  std::string bin =
      std::getenv("BPFC_NETSNIFF_BPFC") ? std::getenv("BPFC_NETSNIFF_BPFC") : "/usr/sbin/bpfc";
  int status = -1;
  if (access(bin.c_str(), X_OK) != 0 ||
      run_tool(bin + " -v; true", "", &status).find("bpfc") == std::string::npos)
    GTEST_SKIP() << "SKIPPED: netsniff-ng's bpfc not installed (apt-get install netsniff-ng)";
  std::mt19937 rng(4343);
  for (int i = 0; i < 300; ++i) {
    std::string src = dialect_program(rng, 1 + static_cast<int>(rng() % 60), kNetsniffExt);
    SCOPED_TRACE(src);
    std::string want = run_tool(bin + " -b -f C -i", src, &status);
    ASSERT_EQ(status, 0);
    auto r = assemble(src);
    ASSERT_TRUE(r.ok()) << r.diagnostics().render("t");
    EXPECT_EQ(format_program(r->insns, Format::kC), want);
  }
}

}  // namespace
}  // namespace bpf::compiler
