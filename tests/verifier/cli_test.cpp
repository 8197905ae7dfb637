// `bpfc --check` and the verification bpfc runs on assembly (CLI.md): exit status 0 valid,
// 1 invalid; diagnostics on stderr as FILE:LINE:COL (assembly) or FILE:INDEX (bytecode);
// verifier warnings and the report only with -V; --no-verify prints a rejected program anyway;
// --target bsd switches the rule set.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace {

struct BpfcRun {
  int status;
  std::string out;  // stdout and stderr together
};

BpfcRun bpfc(const std::string& args) {
  std::string cmd = std::string(BPFC_BIN) + " " + args + " 2>&1";
  BpfcRun r{-1, {}};
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string write_tmp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(BpfcCheck, ValidProgramExitsZero) {
  std::string f = write_tmp("ok.bpf", "ldh [12]\njeq #0x806, a, b\na: ret #65535\nb: ret #0\n");
  BpfcRun r = bpfc("--check " + f);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "");
  r = bpfc("--check -V " + f);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("verified for linux: 4 instructions, 3 basic blocks"),
            std::string::npos) << r.out;
}

TEST(BpfcCheck, InvalidProgramReportsEveryErrorWithLineAndColumn) {
  std::string f = write_tmp("bad.bpf", "ld M[3]\ndiv #0\nlsh #40\nret a\n");
  BpfcRun r = bpfc("--check " + f);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("bad.bpf:1:1: error: insn 0 `ld M[3]`: reads M[3] before it is written"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find(":2:1: error: insn 1 `div #0`: division by constant 0"), std::string::npos);
  EXPECT_NE(r.out.find(":3:1: error: insn 2 `lsh #40`: shift by constant 40"), std::string::npos);
  // Assembling the same file is an error too, unless --no-verify.
  r = bpfc(f);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out.find("{ 0x"), std::string::npos);
  r = bpfc("--no-verify " + f);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("{ 0x60, 0, 0, 0x00000003 },"), std::string::npos) << r.out;
}

TEST(BpfcCheck, BytecodeDiagnosticsUseTheIndexAndTargetsDiffer) {
  // lsh #40 is fine for BSD, an error for Linux.
  std::string f = write_tmp("shift.txt", "2,100 0 0 40,22 0 0 0\n");
  BpfcRun r = bpfc("--check -x xt_bpf " + f);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("shift.txt:0: error: insn 0 `lsh #40`"), std::string::npos) << r.out;
  r = bpfc("--check --target bsd -x xt_bpf " + f);
  EXPECT_EQ(r.status, 0) << r.out;
}

TEST(BpfcCheck, WarningsOnlyWithVerbose) {
  std::string f = write_tmp("warn.bpf", "ret #0\nret #1\n");
  BpfcRun r = bpfc("--check " + f);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.find("warning"), std::string::npos) << r.out;
  r = bpfc("--check -V " + f);
  EXPECT_NE(r.out.find("warn.bpf:2:1: warning: insn 1 `ret #1`: unreachable instruction"),
            std::string::npos) << r.out;
}

}  // namespace
