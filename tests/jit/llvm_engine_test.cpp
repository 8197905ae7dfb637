// The LLVM engine's own contract (jit/llvm/llvm_engine.hpp), beyond result equality (that is
// llvm_diff_test.cpp and the conformance suite):
//  - hand-picked programs on both targets give the specification's results (vm::evaluate) and
//    the values a reader can check by hand (ldh [12] of an IPv4 frame is 0x0800, ...);
//  - the optimised IR keeps one bounds test per dominating block and uses llvm.bswap loads;
//  - thousands of compile/free cycles return every filter's code to the shared LLJIT: the live
//    count goes back to 0 and resident memory stops growing;
//  - compiling from several threads at once is safe; LlvmCode moves keep ownership unique;
//  - the tools reach the engine through its module (jit/backend.hpp LlvmPlugin): bpfc and
//    bpfdump do not load libLLVM at start, `bpfc --emit-llvm` loads the module, and a broken
//    module is a clear error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>
#include <utility>
#include <string>
#include <thread>
#include <vector>

#include "jit/engine.hpp"
#include "jit/llvm/llvm_engine.hpp"
#include "verifier/verifier.hpp"
#include "vm/context.hpp"
#include "vm/insn.hpp"
#include "vm/semantics.hpp"

namespace bpf::jit {
namespace {

using vm::Insn;
using vm::jump;
using vm::stmt;
namespace c = vm::code;

vm::VerifiedProgram verified(std::vector<Insn> insns, vm::Target t = vm::Target::kLinux) {
  vm::Program p;
  p.insns = std::move(insns);
  verifier::Options o;
  o.target = t;
  auto r = verifier::verify(p, o);
  if (!r.ok()) {
    std::fprintf(stderr, "%s", r.diagnostics().render("<test>").c_str());
    std::abort();  // a test program the verifier rejects is a bug in the test
  }
  return r.take();
}

LlvmCode compiled(const vm::VerifiedProgram& vp, int opt = 2) {
  auto r = LlvmCode::compile(vp, opt);
  if (!r.ok()) {
    std::fprintf(stderr, "%s", r.diagnostics().render("<test>").c_str());
    std::abort();
  }
  return r.take();
}

// Ethernet + IPv4 + TCP, 54 bytes: 10.0.0.1:1234 -> 10.0.0.2:80, IHL 5.
std::vector<uint8_t> tcp_frame() {
  std::vector<uint8_t> p(54, 0);
  p[12] = 0x08;
  p[13] = 0x00;
  p[14] = 0x45;
  p[23] = 6;  // TCP
  p[26] = 10, p[29] = 1, p[30] = 10, p[33] = 2;
  p[34] = 0x04, p[35] = 0xd2;  // 1234
  p[36] = 0x00, p[37] = 0x50;  // 80
  return p;
}

// tcpdump -d 'ip and tcp dst port 80' (Linux), the shape every benchmark filter has.
std::vector<Insn> tcp_dst_80() {
  return {
      stmt(c::kLd | c::kH | c::kAbs, 12),
      jump(c::kJmp | c::kJeq | c::kK, 0x0800, 0, 8),
      stmt(c::kLd | c::kB | c::kAbs, 23),
      jump(c::kJmp | c::kJeq | c::kK, 6, 0, 6),
      stmt(c::kLd | c::kH | c::kAbs, 20),
      jump(c::kJmp | c::kJset | c::kK, 0x1fff, 4, 0),
      stmt(c::kLdx | c::kB | c::kMsh, 14),
      stmt(c::kLd | c::kH | c::kInd, 16),
      jump(c::kJmp | c::kJeq | c::kK, 80, 0, 1),
      stmt(c::kRet | c::kK, 262144),
      stmt(c::kRet | c::kK, 0),
  };
}

// Runs `cmd` through the shell; output (stdout and stderr) and exit status.
std::pair<std::string, int> shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {"popen failed", -1};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  return {out, WIFEXITED(st) ? WEXITSTATUS(st) : -1};
}

TEST(LlvmEngine, ToolsLoadLlvmOnlyWhenUsed) {
#ifndef BPFC_LLVM_MODULE_BUILD
  GTEST_SKIP() << "SKIPPED: this build links the LLVM engine (BPFC_LLVM_MODULE=OFF, the default "
                  "with sanitizers)";
#endif
  for (const char* tool : {BPFC_BIN, BPFDUMP_BIN}) {
    const auto [deps, rc] = shell(std::string("ldd ") + tool);
    ASSERT_EQ(rc, 0) << deps;
    EXPECT_EQ(deps.find("libLLVM"), std::string::npos) << tool << " links libLLVM:\n" << deps;
  }
  const auto [ir, rc] = shell(std::string(BPFC_BIN) + " -e 'tcp port 22' --emit-llvm");
  EXPECT_EQ(rc, 0) << ir;
  EXPECT_NE(ir.find("define i32 @bpf_filter("), std::string::npos) << ir;
  // A file that is not the module: a clear error, no crash, no fallback to another copy.
  const auto [bad, bad_rc] = shell(std::string("BPFC_LLVM_PLUGIN=") + BPFC_BIN + " " + BPFC_BIN +
                                   " -e ip --emit-llvm");
  EXPECT_NE(bad_rc, 0) << bad;
  EXPECT_NE(bad.find("cannot load the LLVM engine"), std::string::npos) << bad;
  // A module that does not exist: an error naming it, not a silent fall-back to the built one.
  for (const char* tool : {BPFC_BIN, BPFDUMP_BIN}) {
    // bpfdump reads an empty pcap (the global header only) from stdin.
    const bool bpfc = tool == std::string(BPFC_BIN);
    const std::string input =
        bpfc ? ""
             : "printf '\\324\\303\\262\\241\\002\\0\\004\\0\\0\\0\\0\\0\\0\\0\\0\\0"
               "\\377\\377\\0\\0\\001\\0\\0\\0' | ";
    const auto [missing, missing_rc] =
        shell(input + "BPFC_LLVM_PLUGIN=/nonexistent/libbpfc_llvm.so " + tool +
              (bpfc ? " -e ip --emit-llvm" : " -r - --engine llvm ip"));
    EXPECT_NE(missing_rc, 0) << missing;
    EXPECT_NE(missing.find("BPFC_LLVM_PLUGIN=/nonexistent/libbpfc_llvm.so: No such file or "
                           "directory"),
              std::string::npos)
        << tool << ": " << missing;
  }
}

TEST(LlvmEngine, Available) {
  EXPECT_TRUE(llvm_available());
  EXPECT_TRUE(available(Engine::kLlvm));
}

// kAuto: asmjit (or the interpreter) for short or unknown runs, LLVM for long ones.
TEST(LlvmEngine, AutoPicksLlvmOnlyForLongRuns) {
  const Engine fast_compile = available(Engine::kAsmjit) ? Engine::kAsmjit : Engine::kInterp;
  EXPECT_EQ(choose_auto(0), fast_compile);
  EXPECT_EQ(choose_auto(100000), fast_compile);
  EXPECT_EQ(choose_auto(uint64_t{1} << 32), Engine::kLlvm);
  auto f = Filter::compile(verified({stmt(c::kRet | c::kK, 7)}), Engine::kAuto, uint64_t{1} << 32);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->engine(), Engine::kLlvm);
  const uint8_t byte = 0;
  EXPECT_EQ(f->run(&byte, 1, 1), 7u);
}

TEST(LlvmEngine, TcpDstPortMatchesSpecificationOnEveryTruncation) {
  for (vm::Target t : {vm::Target::kLinux, vm::Target::kBsd}) {
    auto vp = verified(tcp_dst_80(), t);
    for (int opt : {0, 1, 2, 3}) {
      auto code = compiled(vp, opt);
      auto pkt = tcp_frame();
      vm::Context ctx;
      EXPECT_EQ(code.run(pkt.data(), 54, 54, ctx), 262144u);
      pkt[37] = 81;
      EXPECT_EQ(code.run(pkt.data(), 54, 54, ctx), 0u);
      pkt[37] = 80;
      // Every snap length: short packets fail exactly where the interpreter's loads fail.
      for (uint32_t cap = 0; cap <= 54; ++cap) {
        std::vector<uint8_t> snapped(pkt.begin(), pkt.begin() + cap);
        EXPECT_EQ(code.run(snapped.data(), cap, 54, ctx),
                  vm::evaluate(vp.insns(), t, snapped.data(), cap, 54, ctx))
            << "cap " << cap << " opt " << opt;
      }
      EXPECT_EQ(code.run(pkt.data(), 37, 54, ctx), 0u);  // the port's second byte is missing
      EXPECT_EQ(code.run(pkt.data(), 38, 54, ctx), 262144u);
    }
  }
}

TEST(LlvmEngine, ArithmeticEdgeCases) {
  const std::vector<uint8_t> pkt = tcp_frame();
  vm::Context ctx;
  struct Case {
    std::vector<Insn> prog;
    vm::Target target;
    uint32_t want;
  };
  const std::vector<Case> cases = {
      // div/mod by X == 0 end with 0, on both targets
      {{stmt(c::kLd | c::kImm, 7), stmt(c::kLdx | c::kImm, 0), stmt(c::kAlu | c::kDiv | c::kX, 0),
        stmt(c::kRet | c::kK, 99)},
       vm::Target::kLinux, 0},
      {{stmt(c::kLd | c::kImm, 7), stmt(c::kLdx | c::kImm, 0), stmt(c::kAlu | c::kMod | c::kX, 0),
        stmt(c::kRet | c::kK, 99)},
       vm::Target::kBsd, 0},
      {{stmt(c::kLd | c::kImm, 7), stmt(c::kLdx | c::kImm, 2), stmt(c::kAlu | c::kMod | c::kX, 0),
        stmt(c::kRet | c::kA, 0)},
       vm::Target::kLinux, 1},
      // shift by X = 33: Linux masks to 1, BSD gives 0
      {{stmt(c::kLd | c::kImm, 3), stmt(c::kLdx | c::kImm, 33), stmt(c::kAlu | c::kLsh | c::kX, 0),
        stmt(c::kRet | c::kA, 0)},
       vm::Target::kLinux, 6},
      {{stmt(c::kLd | c::kImm, 3), stmt(c::kLdx | c::kImm, 33), stmt(c::kAlu | c::kLsh | c::kX, 0),
        stmt(c::kRet | c::kA, 0)},
       vm::Target::kBsd, 0},
      {{stmt(c::kLd | c::kImm, 0x80000000u), stmt(c::kLdx | c::kImm, 32),
        stmt(c::kAlu | c::kRsh | c::kX, 0), stmt(c::kRet | c::kA, 0)},
       vm::Target::kLinux, 0x80000000u},
      // neg
      {{stmt(c::kLd | c::kImm, 1), stmt(c::kAlu | c::kNeg, 0), stmt(c::kRet | c::kA, 0)},
       vm::Target::kLinux, 0xffffffffu},
      // [x + k]: Linux wraps X + k modulo 2^32, BSD does not
      {{stmt(c::kLdx | c::kImm, 0xffffffffu), stmt(c::kLd | c::kH | c::kInd, 13),
        stmt(c::kRet | c::kA, 0)},
       vm::Target::kLinux, 0x0800},
      {{stmt(c::kLdx | c::kImm, 0xffffffffu), stmt(c::kLd | c::kH | c::kInd, 13),
        stmt(c::kRet | c::kA, 0)},
       vm::Target::kBsd, 0},
      // len is the wire length
      {{stmt(c::kLd | c::kLen, 0), stmt(c::kRet | c::kA, 0)}, vm::Target::kLinux, 60},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    auto vp = verified(cases[i].prog, cases[i].target);
    auto code = compiled(vp);
    EXPECT_EQ(code.run(pkt.data(), 54, 60, ctx), cases[i].want) << "case " << i;
    EXPECT_EQ(vm::evaluate(vp.insns(), cases[i].target, pkt.data(), 54, 60, ctx), cases[i].want)
        << "case " << i;
  }
}

TEST(LlvmEngine, AncillaryAndNegativeOffsets) {
  const std::vector<uint8_t> pkt = tcp_frame();
  auto anc = [](uint32_t off) { return vm::kSkfAdOff + off; };
  vm::Context ctx;
  ctx.protocol = 0x0800;
  ctx.ifindex = 7;
  ctx.mark = 0xdeadbeef;
  ctx.vlan_present = true;
  ctx.vlan_tci = 0x123;
  ctx.net_offset = 14;
  const std::vector<std::pair<std::vector<Insn>, uint32_t>> cases = {
      {{stmt(c::kLd | c::kH | c::kAbs, anc(0)), stmt(c::kRet | c::kA, 0)}, 0x0800},
      {{stmt(c::kLd | c::kW | c::kAbs, anc(8)), stmt(c::kRet | c::kA, 0)}, 7},
      {{stmt(c::kLd | c::kB | c::kAbs, anc(20)), stmt(c::kRet | c::kA, 0)}, 0xdeadbeef},
      {{stmt(c::kLd | c::kW | c::kAbs, anc(44)), stmt(c::kRet | c::kA, 0)}, 0x123},
      {{stmt(c::kLd | c::kW | c::kAbs, anc(48)), stmt(c::kRet | c::kA, 0)}, 1},
      {{stmt(c::kLd | c::kImm, 6), stmt(c::kLdx | c::kImm, 3),
        stmt(c::kLd | c::kW | c::kAbs, anc(40)), stmt(c::kRet | c::kA, 0)},
       5},
      // SKF_NET_OFF + 9: the IPv4 protocol byte, 14 bytes into the frame
      {{stmt(c::kLd | c::kB | c::kAbs, vm::kSkfNetOff + 9), stmt(c::kRet | c::kA, 0)}, 6},
      // SKF_LL_OFF + 12: the EtherType
      {{stmt(c::kLd | c::kH | c::kAbs, vm::kSkfLlOff + 12), stmt(c::kRet | c::kA, 0)}, 0x0800},
      // [x + k] landing in the SKF_NET_OFF range
      {{stmt(c::kLdx | c::kImm, vm::kSkfNetOff), stmt(c::kLd | c::kB | c::kInd, 9),
        stmt(c::kRet | c::kA, 0)},
       6},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    auto vp = verified(cases[i].first);
    auto code = compiled(vp);
    EXPECT_EQ(code.run(pkt.data(), 54, 54, ctx), cases[i].second) << "case " << i;
    EXPECT_EQ(vm::evaluate(vp.insns(), vm::Target::kLinux, pkt.data(), 54, 54, ctx),
              cases[i].second)
        << "case " << i;
  }
  // ifindex without a device ends the program returning A, even when a later load of the same
  // block would be out of bounds (the bounds test must not be hoisted above it).
  auto vp = verified({stmt(c::kLd | c::kImm, 77), stmt(c::kLd | c::kW | c::kAbs, anc(8)),
                      stmt(c::kLd | c::kW | c::kAbs, 1000), stmt(c::kRet | c::kA, 0)});
  auto code = compiled(vp);
  ctx.has_device = false;
  EXPECT_EQ(code.run(pkt.data(), 54, 54, ctx), 77u);
  ctx.has_device = true;
  EXPECT_EQ(code.run(pkt.data(), 54, 54, ctx), 0u);
}

TEST(LlvmEngine, OptimisedIrHasOneBoundsTestPerDominatingBlock) {
  auto vp = verified(tcp_dst_80());
  const std::string ir = compile_llvm_ir(vp, 2);
  EXPECT_NE(ir.find("define i32 @bpf_filter("), std::string::npos) << ir;
  EXPECT_NE(ir.find("llvm.bswap.i16"), std::string::npos) << ir;
  EXPECT_EQ(ir.find("alloca"), std::string::npos) << "A/X/M[] must be SSA values\n" << ir;
  // [12] (14 bytes), then [23] and [20] (24 bytes); the msh load [14] is covered by those.
  size_t caplen_tests = 0;
  size_t start = 0;
  while (start < ir.size()) {
    size_t end = ir.find('\n', start);
    if (end == std::string::npos) end = ir.size();
    const std::string line = ir.substr(start, end - start);
    if (line.find("icmp") != std::string::npos && line.find("%caplen") != std::string::npos)
      ++caplen_tests;
    start = end + 1;
  }
  EXPECT_LE(caplen_tests, 3u) << ir;
  const std::string o0 = compile_llvm_ir(vp, 0);
  EXPECT_NE(o0.find("define i32 @bpf_filter("), std::string::npos);
}

size_t resident_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  if (std::fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
  std::fclose(f);
  return resident * 4096;
}

TEST(LlvmEngine, CompileFreeCyclesDoNotGrow) {
  auto vp = verified(tcp_dst_80());
  auto vp2 = verified({stmt(c::kLd | c::kImm, 5), stmt(c::kRet | c::kA, 0)}, vm::Target::kBsd);
  const auto pkt = tcp_frame();
  vm::Context ctx;
  auto cycle = [&](int n) {
    for (int i = 0; i < n; ++i) {
      // Two alive at once so slots are reused out of order. Mostly O0: code removal does not
      // depend on the level, and O0 keeps this test's thousands of compiles fast.
      auto a = compiled(vp, i % 8 == 0 ? 2 : 0);
      auto b = compiled(vp2, 0);
      ASSERT_EQ(a.run(pkt.data(), 54, 54, ctx), 262144u);
      ASSERT_EQ(b.run(pkt.data(), 54, 54, ctx), 5u);
    }
  };
  cycle(100);  // warm-up: allocator pools, LLVM's lazily built tables
  EXPECT_EQ(llvm_live_filters(), 0u);
  const size_t before = resident_bytes();
  cycle(1000);  // 2,000 more compile/free cycles
  const size_t after = resident_bytes();
  EXPECT_EQ(llvm_live_filters(), 0u);
  if (before == 0) GTEST_SKIP() << "SKIPPED: /proc/self/statm unreadable, live count checked only";
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in quarantine (256 MiB by default), so resident size
  // grows without a leak; LeakSanitizer checks real leaks at exit in that build.
  GTEST_SKIP() << "SKIPPED: resident-size check under AddressSanitizer (live count checked)";
#endif
  // A leaked filter costs at least one 4 KiB code page; 2,000 leaks would be >= 8 MiB.
  EXPECT_LT(after, before + (2u << 20)) << "before " << before << " after " << after;
}

TEST(LlvmEngine, ConcurrentCompilesAndMoves) {
  auto vp = verified(tcp_dst_80());
  const auto pkt = tcp_frame();
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      vm::Context ctx;
      for (int i = 0; i < 25; ++i) {
        auto r = LlvmCode::compile(vp, 2);
        if (!r.ok() || r->run(pkt.data(), 54, 54, ctx) != 262144u) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
  EXPECT_EQ(llvm_live_filters(), 0u);

  auto a = compiled(vp);
  LlvmCode b = std::move(a);
  EXPECT_EQ(a.function(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from is empty
  vm::Context ctx;
  EXPECT_EQ(b.run(pkt.data(), 54, 54, ctx), 262144u);
  auto c2 = compiled(verified({stmt(c::kRet | c::kK, 1)}));
  b = std::move(c2);
  EXPECT_EQ(b.run(pkt.data(), 54, 54, ctx), 1u);
  EXPECT_EQ(llvm_live_filters(), 1u);
}

}  // namespace
}  // namespace bpf::jit
