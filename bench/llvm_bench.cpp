// LLVM engine compile latency, next to asmjit's (AsmjitCompile/<n> in asmjit_bench.cpp, same
// two filters): what a user pays once before the run speed measured in asmjit_bench.cpp's
// Asmjit/llvm*/<filter> and AsmjitSummary llvm_* counters. This is the number `--engine auto`
// weighs: asmjit compiles in microseconds, LLVM in milliseconds, so LLVM only pays off for runs of
// millions of packets (see jit/engine.cpp).
//
//   LlvmCompile/<n>/O<level>          LlvmCode::compile, single-packet entry only
//   LlvmCompile/<n>/O<level>/batch    plus the batch entry (what bpf::jit::Filter builds)
//
// Filters: pcap_compile output of 18 and 50 instructions, verified once outside the loop.
// Run: build/bin/bpfc_bench --benchmark_filter='Compile'
#include <benchmark/benchmark.h>

#include <ctime>
#include <string>
#include <vector>

#if defined(BPFC_BENCH_HAS_LLVM) && defined(BPFC_BENCH_HAS_TEST_SUPPORT)
#include "jit/llvm/llvm_engine.hpp"
#include "tests/support/pcap_ref.hpp"
#include "verifier/verifier.hpp"

namespace {

bpf::vm::VerifiedProgram verified_expr(const char* expr) {
  std::string err;
  auto insns = bpf::test::pcap_compile_expr(expr, 1, 262144, true, &err);
  bpf::vm::Program prog;
  if (insns) prog.insns = *insns;
  bpf::verifier::Options vo;
  vo.target = bpf::vm::Target::kBsd;
  auto v = bpf::verifier::verify(prog, vo);
  if (!v) std::abort();  // pcap_compile's output always verifies
  return v.take();
}

// Thread CPU time per compile (other processes on the shared machine do not count), as
// AsmjitCompile does; freeing the code is not timed.
double thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

void BM_LlvmCompile(benchmark::State& state, const char* expr, int level, bool batch) {
  const auto verified = verified_expr(expr);
  for (auto _ : state) {
    const double t0 = thread_cpu_ns();
    auto code = bpf::jit::LlvmCode::compile(verified, level, batch);
    const double t1 = thread_cpu_ns();
    if (!code) {
      state.SkipWithError("compile failed");
      break;
    }
    benchmark::DoNotOptimize(code->function());
    state.SetIterationTime((t1 - t0) / 1e9);
  }
  state.SetLabel(std::to_string(verified.size()) + " insns, CPU time per compile");
}

int register_llvm() {
  const char* k18 = "net 192.168.1.0/24";
  const char* k50 = "host 10.0.0.1 or host 10.0.0.2 or tcp port 80 or udp port 53 or tcp port 443";
  for (auto [n, expr] : {std::pair<const char*, const char*>{"18", k18}, {"50", k50}}) {
    for (int level : {1, 2, 3}) {
      for (bool batch : {false, true}) {
        std::string name = std::string("LlvmCompile/") + n + "/O" + std::to_string(level) +
                           (batch ? "/batch" : "");
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
          BM_LlvmCompile(st, expr, level, batch);
        })->UseManualTime()->Unit(benchmark::kMicrosecond);
      }
    }
  }
  return 0;
}
const int kRegistered = register_llvm();

}  // namespace
#endif
