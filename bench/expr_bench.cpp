// Compile time of pcap-filter expressions: bpfc's compile_expression (-O2) against libpcap's
// pcap_open_dead + pcap_compile(optimize=1) + pcap_close, and against pcap_compile alone on one
// handle opened once, over the same expressions, same run.
#include <benchmark/benchmark.h>
#include <pcap/pcap.h>

#include "bench/bench_common.hpp"
#include "compiler/expr.hpp"

namespace {

const auto& kBenchExprs = bpf::bench::kTypicalExprs;

void BM_ExprCompile_Bpfc(benchmark::State& st) {
  bpf::compiler::ExprOptions o;
  size_t n = 0;
  for (auto _ : st) {
    for (const char* e : kBenchExprs) {
      auto r = bpf::compiler::compile_expression(e, o);
      benchmark::DoNotOptimize(r);
      ++n;
    }
  }
  st.counters["us_per_expr"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ExprCompile_Bpfc);

void BM_ExprCompile_Libpcap(benchmark::State& st) {
  size_t n = 0;
  for (auto _ : st) {
    for (const char* e : kBenchExprs) {
      pcap_t* p = pcap_open_dead(DLT_EN10MB, 262144);
      bpf_program bp;
      if (pcap_compile(p, &bp, e, 1, PCAP_NETMASK_UNKNOWN) == 0) pcap_freecode(&bp);
      pcap_close(p);
      ++n;
    }
  }
  st.counters["us_per_expr"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ExprCompile_Libpcap);

// pcap_compile alone: one pcap_open_dead for the whole run (bpfc has no such handle to open).
void BM_ExprCompile_LibpcapNoOpen(benchmark::State& st) {
  pcap_t* p = pcap_open_dead(DLT_EN10MB, 262144);
  size_t n = 0;
  for (auto _ : st) {
    for (const char* e : kBenchExprs) {
      bpf_program bp;
      if (pcap_compile(p, &bp, e, 1, PCAP_NETMASK_UNKNOWN) == 0) pcap_freecode(&bp);
      ++n;
    }
  }
  pcap_close(p);
  st.counters["us_per_expr"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ExprCompile_LibpcapNoOpen);

}  // namespace
