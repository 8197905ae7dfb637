// Unit tests of the verifier: one or more per rule and per diagnostic, the facts handed to the
// engines, the report, and the one-line disassembler. The kernel itself is the reference in
// kernel_diff_test.cpp; FreeBSD's suite in bsd_regression_test.cpp.
#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "verifier/kernel_conversion.hpp"
#include "verifier/verifier.hpp"
#include "vm/ancillary.hpp"
#include "vm/disasm_line.hpp"

namespace bpf::verifier {
namespace {

using vm::Insn;
using vm::jump;
using vm::stmt;
namespace c = vm::code;

// The passkey cannot be made outside verifier::detail::Mint.
static_assert(!std::is_default_constructible_v<vm::VerifiedProgram::Key>);

constexpr uint16_t kLdAbsW = c::kLd | c::kW | c::kAbs, kLdAbsH = c::kLd | c::kH | c::kAbs,
                   kLdAbsB = c::kLd | c::kB | c::kAbs, kLdInd = c::kLd | c::kB | c::kInd,
                   kLdImm = c::kLd | c::kImm, kLdMem = c::kLd | c::kMem,
                   kLdxMem = c::kLdx | c::kMem, kLdxImm = c::kLdx | c::kImm,
                   kLdxMsh = c::kLdx | c::kB | c::kMsh, kSt = c::kSt, kStx = c::kStx,
                   kRetK = c::kRet | c::kK, kRetA = c::kRet | c::kA, kJa = c::kJmp | c::kJa,
                   kJeq = c::kJmp | c::kJeq | c::kK, kJgt = c::kJmp | c::kJgt | c::kK,
                   kJeqX = c::kJmp | c::kJeq | c::kX, kDivK = c::kAlu | c::kDiv | c::kK,
                   kModK = c::kAlu | c::kMod | c::kK, kLshK = c::kAlu | c::kLsh | c::kK,
                   kRshK = c::kAlu | c::kRsh | c::kK, kAddK = c::kAlu | c::kAdd | c::kK,
                   kTax = c::kMisc | c::kTax;

Result<vm::VerifiedProgram> run(std::vector<Insn> insns, vm::Target t = vm::Target::kLinux,
                                uint32_t snaplen = 262144) {
  vm::Program p;
  p.insns = std::move(insns);
  return verify(p, Options{t, snaplen});
}

std::vector<std::string> errors(const Result<vm::VerifiedProgram>& r) {
  std::vector<std::string> out;
  for (const Diagnostic& d : r.diagnostics().items())
    if (d.severity == Severity::kError) out.push_back(d.message);
  return out;
}
std::vector<std::string> warnings(const Result<vm::VerifiedProgram>& r) {
  std::vector<std::string> out;
  for (const Diagnostic& d : r.diagnostics().items())
    if (d.severity == Severity::kWarning) out.push_back(d.message);
  return out;
}
bool has(const std::vector<std::string>& v, const std::string& needle) {
  return std::any_of(v.begin(), v.end(),
                     [&](const std::string& s) { return s.find(needle) != std::string::npos; });
}

// ---------------------------------------------------------------- length and opcodes

TEST(VerifierLength, EmptyAndTooLong) {
  EXPECT_FALSE(run({}).ok());
  EXPECT_TRUE(has(errors(run({})), "empty program"));
  std::vector<Insn> p(4096, stmt(kLdImm, 1));
  p.back() = stmt(kRetA, 0);
  EXPECT_TRUE(run(p).ok());
  p.insert(p.begin(), stmt(kLdImm, 2));
  auto r = run(p);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has(errors(r), "4097 instructions; Linux accepts at most 4096"));
  std::vector<Insn> b(513, stmt(kLdImm, 1));
  b.back() = stmt(kRetA, 0);
  EXPECT_FALSE(run(b, vm::Target::kBsd).ok());
  b.erase(b.begin());
  EXPECT_TRUE(run(b, vm::Target::kBsd).ok());
  EXPECT_EQ(max_insns(vm::Target::kLinux), 4096u);
  EXPECT_EQ(max_insns(vm::Target::kBsd), 512u);
}

TEST(VerifierLength, LimitsAreTheKernels) {
  // The length limit applies where the program goes to a kernel (the default); user-space
  // engines run any length, and kernel_limits() says what the kernel would refuse.
  Options user;
  user.destination = Destination::kUserSpace;
  std::vector<Insn> p(100'000, stmt(kLdImm, 1));
  p.back() = stmt(kRetA, 0);
  EXPECT_FALSE(run(p).ok());
  auto r = verify(vm::Program{p, {}}, user);
  ASSERT_TRUE(r.ok()) << r.diagnostics().render("p").substr(0, 300);
  EXPECT_EQ(r->size(), 100'000u);
  EXPECT_EQ(kernel_limits(vm::Program{p, {}}, vm::Target::kLinux).render("p"),
            "p: error: program has 100000 instructions; Linux accepts at most 4096 "
            "(BPF_MAXINSNS)\n");
  user.target = vm::Target::kBsd;
  std::vector<Insn> b(600, stmt(kLdImm, 1));
  b.back() = stmt(kRetA, 0);
  EXPECT_TRUE(verify(vm::Program{b, {}}, user).ok());
  EXPECT_EQ(kernel_limits(vm::Program{b, {}}, vm::Target::kBsd).render("p"),
            "p: error: program has 600 instructions; BSD accepts at most 512 (BPF_MAXINSNS in "
            "bpf_setf())\n");
  b.resize(512);
  b.back() = stmt(kRetA, 0);
  EXPECT_TRUE(kernel_limits(vm::Program{b, {}}, vm::Target::kBsd).empty());
}

TEST(VerifierLength, LongChainFacts) {
  // A chain of `jeq #k, accept` with a trampoline each: the block `accept` has 50,000
  // predecessors (the dominator pass was quadratic on this shape). Its dominator is the first
  // block, so its dominated packet bytes are the 14 the first block's `ldh [12]` proves.
  constexpr uint32_t kJumps = 50'000;
  std::vector<Insn> p;
  p.push_back(stmt(kLdAbsH, 12));
  for (uint32_t i = 0; i < kJumps; ++i) {
    p.push_back(jump(kJeq, i + 1, 1, 0));  // true: the trampoline below; false: the next jeq
    p.push_back(stmt(kJa, 2 * (kJumps - i - 1) + 1));  // to accept (past ret #0)
  }
  p.push_back(stmt(kRetK, 0));
  p.push_back(stmt(kRetK, 65535));
  Options user;
  user.destination = Destination::kUserSpace;
  auto r = verify(vm::Program{p, {}}, user);
  ASSERT_TRUE(r.ok()) << r.diagnostics().render("p").substr(0, 300);
  const vm::BasicBlock& accept = r->blocks().back();
  EXPECT_EQ(accept.first, p.size() - 1);
  EXPECT_EQ(accept.pkt_bytes_dominated, 14u);
  EXPECT_EQ(r->facts().max_pkt_bytes, 14u);
}

// Linux chk_code_allowed() (net/core/filter.c, 6.18), written out as the kernel lists it.
const std::set<uint16_t> kKernelCodes = {
    0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x94, 0x9c, 0x54, 0x5c, 0x44, 0x4c,
    0xa4, 0xac, 0x64, 0x6c, 0x74, 0x7c, 0x84,                          // ALU
    0x20, 0x28, 0x30, 0x80, 0x40, 0x48, 0x50, 0x00, 0x60,              // LD
    0x81, 0xb1, 0x01, 0x61,                                            // LDX
    0x02, 0x03, 0x07, 0x87, 0x06, 0x16,                                // ST STX MISC RET
    0x05, 0x15, 0x1d, 0x35, 0x3d, 0x25, 0x2d, 0x45, 0x4d};             // JMP

TEST(VerifierOpcodes, AllowedSetsEqualTheKernelsAndFreeBsds) {
  ASSERT_EQ(kKernelCodes.size(), 49u);
  for (uint32_t code = 0; code <= 0xffff; ++code) {
    // st M[1] first so that ld M[1] is valid; k = 1 keeps div/shift/mem/ancillary rules quiet.
    const uint32_t k = (code & 0x07) == c::kJmp ? 0 : 1;  // ja 0 targets the next insn
    std::vector<Insn> p = {stmt(kSt, 1), Insn{static_cast<uint16_t>(code), 0, 0, k},
                           stmt(kRetK, 0)};
    const bool expect = kKernelCodes.count(static_cast<uint16_t>(code)) != 0;
    ASSERT_EQ(run(p).ok(), expect) << std::hex << code;
    // FreeBSD's bpf_code_map has exactly the same 49 codes.
    ASSERT_EQ(run(p, vm::Target::kBsd).ok(), expect) << std::hex << code;
  }
}

TEST(VerifierOpcodes, DiagnosticsExplainTheCode) {
  auto r = run({stmt(c::kRet | c::kX, 0)});
  EXPECT_TRUE(has(errors(r), "`ret x`"));
  r = run({stmt(0x8c, 0), stmt(kRetA, 0)});  // neg with the X bit set
  EXPECT_TRUE(has(errors(r), "insn 0 `.insn 0x8c, 0, 0, 0x0`: unknown or disallowed opcode 0x8c"));
  EXPECT_TRUE(has(errors(r), "unused bits 0x8 set"));
  r = run({stmt(0x106, 0)});
  EXPECT_TRUE(has(errors(r), "high byte"));
}

// ---------------------------------------------------------------- per-instruction rules

TEST(VerifierRules, DivisionAndModuloByConstantZero) {
  for (auto t : {vm::Target::kLinux, vm::Target::kBsd}) {
    auto r = run({stmt(kDivK, 0), stmt(kRetA, 0)}, t);
    EXPECT_TRUE(has(errors(r), "insn 0 `div #0`: division by constant 0"));
    r = run({stmt(kModK, 0), stmt(kRetA, 0)}, t);
    EXPECT_TRUE(has(errors(r), "modulo by constant 0"));
    EXPECT_TRUE(run({stmt(kDivK, 1), stmt(kModK, 7), stmt(kRetA, 0)}, t).ok());
  }
}

TEST(VerifierRules, ShiftByConstant32OrMoreIsLinuxOnly) {
  for (uint32_t k : {32u, 33u, 0xffffffffu}) {
    auto r = run({stmt(kLshK, k), stmt(kRetA, 0)});
    EXPECT_TRUE(has(errors(r), "shift by constant " + std::to_string(k) + " >= 32")) << k;
    EXPECT_FALSE(run({stmt(kRshK, k), stmt(kRetA, 0)}).ok());
    EXPECT_TRUE(run({stmt(kLshK, k), stmt(kRetA, 0)}, vm::Target::kBsd).ok());
  }
  EXPECT_TRUE(run({stmt(kLshK, 31), stmt(kRshK, 0), stmt(kRetA, 0)}).ok());
}

TEST(VerifierRules, ScratchIndex) {
  for (uint16_t code : {kLdMem, kLdxMem, kSt, kStx}) {
    auto r = run({stmt(code, 16), stmt(kRetA, 0)});
    EXPECT_TRUE(has(errors(r), "scratch slot M[16] out of range (M[0]..M[15]")) << code;
    EXPECT_FALSE(run({stmt(code, 0x8fffffff), stmt(kRetA, 0)}, vm::Target::kBsd).ok());
  }
  EXPECT_TRUE(run({stmt(kSt, 15), stmt(kLdMem, 15), stmt(kRetA, 0)}).ok());
}

TEST(VerifierRules, JumpTargets) {
  // ja k: target i + 1 + k must be <= n - 1.
  EXPECT_TRUE(run({stmt(kJa, 1), stmt(kRetK, 1), stmt(kRetK, 0)}).ok());
  auto r = run({stmt(kJa, 2), stmt(kRetK, 1), stmt(kRetK, 0)});
  EXPECT_TRUE(has(errors(r), "insn 0 `ja 3`: jump target 3 is past the last instruction (2)"));
  // Huge k does not wrap around.
  EXPECT_FALSE(run({stmt(kJa, 0xffffffff), stmt(kRetK, 0)}).ok());
  // Conditional: both targets checked and both reported.
  r = run({jump(kJeq, 0, 5, 7), stmt(kRetK, 0)});
  EXPECT_TRUE(has(errors(r), "true target 6"));
  EXPECT_TRUE(has(errors(r), "false target 8"));
  EXPECT_EQ(errors(r).size(), 2u);
  EXPECT_NE(r.diagnostics().render("p").find("note: scratch memory (M[]) initialisation not "
                                             "checked"),
            std::string::npos);
  // A jump as the last instruction: target past the end, and no final ret.
  r = run({stmt(kRetK, 0), stmt(kJa, 0)});
  EXPECT_EQ(errors(r).size(), 2u);
  for (auto t : {vm::Target::kLinux, vm::Target::kBsd})
    EXPECT_FALSE(run({stmt(kLdImm, 0), jump(kJgt, 0, 1, 2), stmt(kLdImm, 1), stmt(kRetA, 0)}, t)
                     .ok());
}

TEST(VerifierRules, AncillaryOffsets) {
  for (const vm::AncillaryInfo& a : vm::kAncillaryTable)
    for (uint16_t code : {kLdAbsW, kLdAbsH, kLdAbsB})
      EXPECT_TRUE(run({stmt(code, a.k()), stmt(kRetA, 0)}).ok()) << a.name;
  for (uint32_t k : {vm::kSkfAdOff + 1, vm::kSkfAdOff + 64, vm::kSkfAdOff + 0xfff}) {
    auto r = run({stmt(kLdAbsW, k), stmt(kRetA, 0)});
    EXPECT_TRUE(has(errors(r), "unknown ancillary load SKF_AD_OFF+" +
                                   std::to_string(k - vm::kSkfAdOff)));
    // BSD has no ancillary loads: it is just an offset that never fits a packet.
    EXPECT_TRUE(run({stmt(kLdAbsW, k), stmt(kRetA, 0)}, vm::Target::kBsd).ok());
  }
  // Negative offsets and other k >= 2^31 are accepted by bpf_check_classic().
  for (uint32_t k : {vm::kSkfNetOff + 5, vm::kSkfLlOff, 0x80000000u, vm::kSkfAdOff - 1})
    EXPECT_TRUE(run({stmt(kLdAbsH, k), stmt(kRetA, 0)}).ok()) << std::hex << k;
  // [x + k] and 4*([k]&0xf) are not checked for ancillary offsets.
  EXPECT_TRUE(run({stmt(kLdInd, 0xffffffff), stmt(kLdxMsh, 0xffffffff), stmt(kRetA, 0)}).ok());
}

TEST(VerifierRules, LastInstructionMustReturn) {
  for (auto t : {vm::Target::kLinux, vm::Target::kBsd}) {
    auto r = run({stmt(kLdImm, 0)}, t);
    EXPECT_TRUE(has(errors(r), "insn 0 `ld #0x0`: the last instruction must be `ret"));
  }
}

// ---------------------------------------------------------------- scratch memory

TEST(VerifierScratch, ReadBeforeWriteNamesThePath) {
  auto r = run({stmt(kLdMem, 3), stmt(kRetA, 0)});
  ASSERT_EQ(errors(r).size(), 1u);
  EXPECT_TRUE(has(errors(r), "insn 0 `ld M[3]`: reads M[3] before it is written on some path: 0"));
  // 0: jeq #1 -> 1 / 2;  1: st M[0];  2: ld M[0]  (the false branch skips the store)
  r = run({jump(kJeq, 1, 0, 1), stmt(kSt, 0), stmt(kLdMem, 0), stmt(kRetA, 0)});
  ASSERT_EQ(errors(r).size(), 1u);
  EXPECT_TRUE(has(errors(r), "insn 2 `ld M[0]`: reads M[0] before it is written on some path: 0 -> 2"));
  // Written on both branches: fine.
  EXPECT_TRUE(run({jump(kJeq, 1, 0, 2), stmt(kSt, 0), stmt(kJa, 1), stmt(kStx, 0),
                   stmt(kLdxMem, 0), stmt(kRetA, 0)})
                  .ok());
}

TEST(VerifierScratch, KernelQuirkRetDoesNotStopTheFlow) {
  // check_load_and_stores() lets memvalid flow from a `ret` into the next instruction, so insn 5
  // (reachable only from the ja at 2, after M[0] was written) is rejected by the kernel.
  std::vector<Insn> p = {jump(kJeq, 1, 0, 2), stmt(kSt, 0),     stmt(kJa, 2),
                         stmt(kLdxImm, 0),    stmt(kRetK, 0),   stmt(kLdMem, 0),
                         stmt(kRetA, 0)};
  auto r = run(p);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has(errors(r), "0 -> 3 -> 4 (ret; the kernel's check_load_and_stores() still "
                             "flows past it) -> 5"));
  // The same program is fine for BSD (no such check at all) and has no uninitialised read.
  auto b = run(p, vm::Target::kBsd);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->facts().scratch_uninit, 0);
}

TEST(VerifierScratch, AllReadsReported) {
  auto r = run({stmt(kLdMem, 1), stmt(kLdxMem, 2), stmt(kSt, 2), stmt(kLdxMem, 2),
                stmt(kRetA, 0)});
  EXPECT_EQ(errors(r).size(), 2u);
  EXPECT_TRUE(has(errors(r), "insn 0 `ld M[1]`"));
  EXPECT_TRUE(has(errors(r), "insn 1 `ldx M[2]`"));
}

TEST(VerifierScratch, BsdOnlyWarnsAndRecordsTheSlot) {
  auto r = run({jump(kJeq, 1, 0, 1), stmt(kSt, 4), stmt(kLdMem, 4), stmt(kRetA, 0)},
               vm::Target::kBsd);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(has(warnings(r), "reads M[4], which is not written on every path"));
  EXPECT_EQ(r->facts().scratch_uninit, 1u << 4);
}

// ---------------------------------------------------------------- all problems, locations

TEST(VerifierDiagnostics, EveryProblemWithIndexAndSourceLocation) {
  vm::Program p;
  p.insns = {stmt(kDivK, 0), stmt(0xff, 0), stmt(kSt, 99), stmt(kLdImm, 0)};
  for (uint32_t i = 0; i < 4; ++i) p.locs.push_back(SourceLoc{i + 10, 3, 4});
  auto r = verify(p);
  ASSERT_FALSE(r.ok());
  std::vector<uint32_t> idx;
  for (const Diagnostic& d : r.diagnostics().items()) {
    if (d.severity != Severity::kError) continue;
    ASSERT_TRUE(d.insn_index.has_value());
    idx.push_back(*d.insn_index);
    EXPECT_EQ(d.loc.line, *d.insn_index + 10);
    EXPECT_EQ(d.loc.column, 3u);
  }
  EXPECT_EQ(idx, (std::vector<uint32_t>{0, 1, 2, 3}));
  // Rendering puts FILE:LINE:COL in front for assembly input.
  EXPECT_NE(r.diagnostics().render("x.bpf").find("x.bpf:10:3: error: insn 0 `div #0`"),
            std::string::npos);
  // Bytecode input (no locs): FILE:INDEX.
  p.locs.clear();
  EXPECT_NE(verify(p).diagnostics().render("x.bin").find("x.bin:2: error: insn 2 `st M[99]`"),
            std::string::npos);
}

// ---------------------------------------------------------------- eBPF conversion limits

TEST(VerifierConversion, LongJumpOverPacketLoadsIsRejectedLikeTheKernel) {
  // A ja over 4094 `ld [10]`: each converts to 14 eBPF instructions, so the offset exceeds
  // S16_MAX and bpf_convert_filter() fails (measured on the running kernel: EINVAL).
  std::vector<Insn> p(4096, stmt(kLdAbsW, 10));
  p[0] = stmt(kJa, 4094);
  p.back() = stmt(kRetA, 0);
  auto r = run(p);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has(errors(r), "insn 0 `ja 4095`: the kernel cannot convert this jump to eBPF"));
  // The same ja over immediate loads is fine.
  for (size_t i = 1; i + 1 < p.size(); ++i) p[i] = stmt(kLdImm, 10);
  EXPECT_TRUE(run(p).ok());
  // BSD does not convert anything.
  std::vector<Insn> b(512, stmt(kLdAbsW, 10));
  b[0] = stmt(kJa, 510);
  b.back() = stmt(kRetA, 0);
  EXPECT_TRUE(run(b, vm::Target::kBsd).ok());
}

TEST(VerifierConversion, AnyJumpBeyondEbpfIndex32767FailsTheFirstPass) {
  // 2400 `ld [100000]` (16 eBPF insns each) put the jump at eBPF index > 32767.
  std::vector<Insn> p(2402, stmt(kLdAbsW, 100000));
  p[2400] = jump(kJeq, 0, 0, 0);
  p[2401] = stmt(kRetA, 0);
  auto r = run(p);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has(errors(r), "first pass"));
  KernelConversion conv = model_kernel_conversion(p);
  EXPECT_EQ(conv.addrs[0], 7u);  // 3 + 4 prologue (seen_ld_abs)
  EXPECT_EQ(conv.addrs[1] - conv.addrs[0], 16u);
  bool seen = false;
  EXPECT_EQ(kernel_expansion_len(stmt(kRetK, 0), &seen), 2u);
  EXPECT_EQ(kernel_expansion_len(stmt(kRetA, 0), &seen), 1u);
  EXPECT_EQ(kernel_expansion_len(jump(kJgt, 0x80000000u, 1, 2), &seen), 3u);
  EXPECT_FALSE(seen);
}

// ---------------------------------------------------------------- warnings

TEST(VerifierWarnings, UnreachableCode) {
  auto r = run({stmt(kRetK, 0), stmt(kLdImm, 1), stmt(kLdImm, 2), stmt(kRetA, 0)});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(has(warnings(r), "insn 1 `ld #0x1`: unreachable instructions 1..3"));
}

TEST(VerifierWarnings, ConstantConditions) {
  auto r = run({stmt(kLdImm, 5), jump(kJeq, 5, 0, 1), stmt(kRetK, 1), stmt(kRetK, 0)});
  EXPECT_TRUE(has(warnings(r), "condition is always true (A = 0x5)"));
  r = run({stmt(kLdImm, 5), stmt(kLdxImm, 6), jump(kJeqX, 0, 0, 1), stmt(kRetK, 1),
           stmt(kRetK, 0)});
  EXPECT_TRUE(has(warnings(r), "condition is always false (A = 0x5, X = 0x6)"));
  // A starts at 0.
  r = run({jump(kJeq, 0, 0, 1), stmt(kRetK, 1), stmt(kRetK, 0)});
  EXPECT_TRUE(has(warnings(r), "always true (A = 0x0)"));
  // Arithmetic is folded; a loaded value is not constant.
  r = run({stmt(kLdImm, 2), stmt(kAddK, 3), stmt(kTax, 0), jump(kJgt, 4, 0, 1), stmt(kRetK, 1),
           stmt(kRetK, 0)});
  EXPECT_TRUE(has(warnings(r), "always true (A = 0x5)"));
  r = run({stmt(kLdAbsB, 0), jump(kJeq, 5, 0, 1), stmt(kRetK, 1), stmt(kRetK, 0)});
  EXPECT_FALSE(has(warnings(r), "always"));
  r = run({stmt(kLdAbsB, 0), jump(kJeq, 5, 1, 1), stmt(kRetK, 1), stmt(kRetK, 0)});
  EXPECT_TRUE(has(warnings(r), "both branches go to insn 3"));
}

TEST(VerifierWarnings, SnapLength) {
  auto r = run({stmt(kLdAbsW, 98), stmt(kRetK, 200)}, vm::Target::kLinux, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(has(warnings(r), "reads packet bytes 98..101, beyond the snap length 100"));
  EXPECT_TRUE(has(warnings(r), "returns 200, more than the snap length 100"));
  r = run({stmt(kLdAbsW, 96), stmt(kRetK, 100)}, vm::Target::kLinux, 100);
  EXPECT_TRUE(warnings(r).empty());
  r = run({stmt(kLdAbsW, 0x80000000u), stmt(kRetA, 0)});
  EXPECT_TRUE(has(warnings(r), "always fails"));
}

// ---------------------------------------------------------------- facts

TEST(VerifierFacts, BlocksTargetsAndPacketBytes) {
  // 0: ldh [12]; 1: jeq #0x800 jt 2 jf 5; 2: ldb [23]; 3: jeq #6 jt 4 jf 5;
  // 4: ret #65535; 5: ret #0
  auto r = run({stmt(kLdAbsH, 12), jump(kJeq, 0x800, 0, 3), stmt(kLdAbsB, 23), jump(kJeq, 6, 0, 1),
                stmt(kRetK, 65535), stmt(kRetK, 0)});
  ASSERT_TRUE(r.ok()) << r.diagnostics().render("p");
  const vm::VerifiedProgram& v = *r;
  ASSERT_EQ(v.blocks().size(), 4u);
  EXPECT_EQ(v.decoded()[1].jt, 2u);
  EXPECT_EQ(v.decoded()[1].jf, 5u);
  EXPECT_EQ(v.decoded()[3].jt, 4u);
  EXPECT_EQ(v.decoded()[3].jf, 5u);
  EXPECT_EQ(v.decoded()[0].jt, 1u);
  EXPECT_EQ(v.decoded()[0].op, vm::Op::kLdH);
  EXPECT_EQ(v.decoded()[0].block_end, 0);
  EXPECT_EQ(v.decoded()[1].block_end, 1);
  const auto& b = v.blocks();
  EXPECT_EQ(b[0].first, 0u);
  EXPECT_EQ(b[0].last, 1u);
  EXPECT_EQ(b[0].succ[0], 1u);
  EXPECT_EQ(b[0].succ[1], 3u);
  EXPECT_EQ(b[0].pkt_bytes, 14u);
  EXPECT_EQ(b[1].pkt_bytes, 24u);
  EXPECT_EQ(b[1].pkt_bytes_dominated, 24u);
  EXPECT_EQ(b[2].pkt_bytes, 0u);
  EXPECT_EQ(b[2].pkt_bytes_dominated, 24u);  // ret #65535 is only reached through block 1
  EXPECT_EQ(b[3].pkt_bytes_dominated, 14u);  // ret #0 is reached from block 0 directly
  EXPECT_EQ(b[3].succ[0], vm::kNoBlock);
  EXPECT_EQ(v.block_of(5), 3u);
  EXPECT_EQ(v.facts().max_pkt_bytes, 24u);
  EXPECT_FALSE(v.facts().reads_a_before_write);
  EXPECT_FALSE(v.facts().uses_ind);
}

TEST(VerifierFacts, WhichLoadsCount) {
  // msh counts one byte; ancillary, negative and >= 2^31 offsets do not count (Linux).
  auto r = run({stmt(kLdxMsh, 14), stmt(kLdAbsW, vm::kSkfAdOff), stmt(kLdAbsB, vm::kSkfNetOff + 9),
                stmt(kLdAbsW, 0x80000000u), stmt(kLdInd, 100), stmt(kRetA, 0)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->blocks()[0].pkt_bytes, 15u);
  EXPECT_TRUE(r->facts().uses_ancillary);
  EXPECT_TRUE(r->facts().uses_negative_offsets);
  EXPECT_TRUE(r->facts().uses_ind);
  // BSD: every offset whose end fits in 32 bits counts.
  auto b = run({stmt(kLdAbsB, 0x80000000u), stmt(kLdAbsW, 0xfffffffeu), stmt(kRetA, 0)},
               vm::Target::kBsd);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->blocks()[0].pkt_bytes, 0x80000001u);
}

TEST(VerifierFacts, ScratchLivenessAndRegisters) {
  // 0: st M[1]; 1: ldx M[1]; 2: st M[2]; 3: jeq x? -> 4/5; 4: ld M[2]; 5: ret a
  auto r = run({stmt(kSt, 1), stmt(kLdxMem, 1), stmt(kSt, 2), jump(kJeqX, 0, 0, 1),
                stmt(kLdMem, 2), stmt(kRetA, 0)});
  ASSERT_TRUE(r.ok()) << r.diagnostics().render("p");
  const auto& b = r->blocks();
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].scratch_live_in, 0);         // everything is written before it is read
  EXPECT_EQ(b[1].scratch_live_in, 1u << 2);   // ld M[2]
  EXPECT_EQ(b[2].scratch_live_in, 0);
  EXPECT_EQ(r->facts().scratch_read, (1u << 1) | (1u << 2));
  EXPECT_EQ(r->facts().scratch_written, (1u << 1) | (1u << 2));
  EXPECT_TRUE(r->facts().reads_a_before_write);   // st M[1] stores the initial A
  EXPECT_FALSE(r->facts().reads_x_before_write);  // X loaded at 1, compared at 3
  auto d = run({stmt(c::kAlu | c::kDiv | c::kX, 0), stmt(kRetA, 0)});
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->facts().uses_div_x);
  EXPECT_TRUE(d->facts().reads_x_before_write);
}

// Worst cases stay fast: every instruction an error with a witness path, and a dense jump mesh.
TEST(VerifierScale, PathologicalProgramsAreQuick) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<Insn> p(4096, stmt(kLdMem, 0));
  for (size_t i = 0; i < p.size(); i += 3) p[i] = jump(kJeq, 0, 0, 1);
  p.back() = stmt(kRetA, 0);
  auto r = run(p);
  EXPECT_FALSE(r.ok());
  EXPECT_GT(errors(r).size(), 1000u);
  std::vector<Insn> q(4096, jump(kJgt, 7, 255, 255));
  for (size_t i = q.size() - 256; i < q.size(); ++i) q[i] = stmt(kRetK, 1);
  for (size_t i = 0; i + 256 < q.size(); i += 2) q[i] = stmt(kSt, i % 16);
  auto r2 = run(q);
  EXPECT_TRUE(r2.ok()) << r2.diagnostics().render("q");
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(secs, 2.0);
}

TEST(VerifierReport, DescribeListsBlocks) {
  auto r = run({stmt(kLdAbsH, 12), jump(kJeq, 0x806, 0, 1), stmt(kRetK, 65535), stmt(kRetK, 0)});
  ASSERT_TRUE(r.ok());
  const std::string s = describe(*r);
  EXPECT_NE(s.find("verified for linux: 4 instructions, 3 basic blocks"), std::string::npos) << s;
  EXPECT_NE(s.find("block 0: insns 0..1, succ 1 2, pkt_bytes 14"), std::string::npos) << s;
}

TEST(DisasmLine, TcpdumpStyleOperands) {
  EXPECT_EQ(vm::disasm_line(stmt(kLdAbsH, 12), 0), "ldh [12]");
  EXPECT_EQ(vm::disasm_line(stmt(kLdInd, 14), 0), "ldb [x + 14]");
  EXPECT_EQ(vm::disasm_line(stmt(kLdxMsh, 14), 0), "ldxb 4*([14]&0xf)");
  EXPECT_EQ(vm::disasm_line(jump(kJeq, 0x800, 0, 3), 1), "jeq #0x800 jt 2 jf 5");
  EXPECT_EQ(vm::disasm_line(stmt(kJa, 3), 4), "ja 8");
  EXPECT_EQ(vm::disasm_line(stmt(kRetK, 65535), 0), "ret #65535");
  EXPECT_EQ(vm::disasm_line(stmt(kRetA, 0), 0), "ret a");
  EXPECT_EQ(vm::disasm_line(stmt(kLdAbsW, vm::kSkfAdOff), 0), "ld #proto");
  EXPECT_EQ(vm::disasm_line(stmt(kLdAbsB, vm::kSkfNetOff + 9), 0), "ldb [net+9]");
  EXPECT_EQ(vm::disasm_line(stmt(kLdAbsB, vm::kSkfAdOff + 3), 0), "ldb [ad+3]");
  EXPECT_EQ(vm::disasm_line(stmt(c::kLd | c::kLen, 0), 0), "ld #pktlen");
  EXPECT_EQ(vm::disasm_line(stmt(0x55, 7), 0), ".insn 0x55, 0, 0, 0x7");
}

}  // namespace
}  // namespace bpf::verifier
