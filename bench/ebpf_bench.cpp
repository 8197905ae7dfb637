// The eBPF translation (jit/ebpf/) in the kernel next to our user-space engines, on the same
// filters (bench_common.hpp: libpcap-compiled kFilters) and packets (workload(): full-length
// frames of 14..3,500 bytes, the ones BPF_PROG_TEST_RUN takes):
//   Ebpf/Kernel/<hook>/<filter>  per-packet time of the kernel running the translation: the sum
//                                over packets of BPF_PROG_TEST_RUN's duration (the kernel's own
//                                average over `repeat` runs, kRepeat) / packets, for socket,
//                                xdp and tc. Root only
//                                (skipped with a message otherwise). First 200 packets. The
//                                duration includes the test-run loop's own cost per repetition
//                                (an indirect call and the loop), not the packet's setup:
//                                counter base_ns is the same for a program that only returns
//                                (r0 = 1; exit) on the same packets, and net_ns the difference,
//                                the translation's own cost.
//   Ebpf/Engine/<engine>/<filter>  the same packets through bpf::jit::Filter (interp, asmjit)
//   Ebpf/Translate/<filter>, Ebpf/TranslateHosts/<n>  translation time (VerifiedProgram ->
//                                eBPF, xdp), for the filters and n-host lists
// Run: build/bin/bpfc_bench --benchmark_filter=Ebpf
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#if defined(BPFC_BENCH_HAS_TEST_SUPPORT) && __has_include("jit/ebpf/translate.hpp")
#include "bench/bench_common.hpp"
#include "compiler/expr.hpp"
#include "jit/ebpf/translate.hpp"
#include "jit/engine.hpp"
#include "tests/ebpf/bpf_syscall.hpp"
#include "verifier/verifier.hpp"

namespace {

using bpf::jit::ebpf::Hook;
constexpr uint32_t kRepeat = 1000;

const std::vector<bpf::jit::PacketView>& testable() {
  static const std::vector<bpf::jit::PacketView> v = [] {
    std::vector<bpf::jit::PacketView> out;
    for (const auto& p : bpf::bench::workload().views)
      if (p.caplen == p.wirelen && p.caplen >= 14 && p.caplen <= 3500 && out.size() < 2000)
        out.push_back(p);
    return out;
  }();
  return v;
}

bpf::vm::VerifiedProgram verified(size_t i) {
  bpf::vm::Program p;
  p.insns = bpf::bench::program(i);
  bpf::verifier::Options vo;
  vo.destination = bpf::verifier::Destination::kUserSpace;
  return bpf::verifier::verify(p, vo).take();
}

void kernel(benchmark::State& st, size_t i, Hook h) {
  std::string why;
  if (!bpf::test::can_load_bpf(&why)) {
    st.SkipWithError(("cannot load eBPF programs: " + why).c_str());
    return;
  }
  auto e = bpf::jit::ebpf::translate(verified(i), h);
  if (!e.ok()) {
    st.SkipWithError("not translatable");
    return;
  }
  bpf::test::LoadedProg l = bpf::test::load_ebpf(*e);
  if (!l.ok()) {
    st.SkipWithError(l.log.c_str());
    return;
  }
  bpf::jit::ebpf::EbpfProgram empty;
  empty.hook = h;
  empty.insns = {bpf::jit::ebpf::mov32_imm(bpf::jit::ebpf::kR0, 1), bpf::jit::ebpf::exit_insn()};
  bpf::test::LoadedProg base = bpf::test::load_ebpf(empty);
  // The first 200 packets: an XDP test run with repeat > 1 switches the XDP dispatcher per call
  // (bpf_prog_change_xdp, ~20 ms of wall time each), which the reported duration does not
  // include but the benchmark's wall clock does.
  const std::vector<bpf::jit::PacketView> pkts(testable().begin(),
                                               testable().begin() + std::min<size_t>(testable().size(), 200));
  // Frames a test run refuses (socket, tc: IPv4/IPv6 shorter than its header, see
  // tests/ebpf/kernel_harness.hpp) are left out of the average.
  auto per_packet = [&](int fd) {
    uint64_t total = 0, n = 0;
    for (const auto& p : pkts) {
      auto r = bpf::test::test_run(fd, p.data, p.caplen, kRepeat);
      if (r) total += r->duration_ns, ++n;
      benchmark::DoNotOptimize(r);
    }
    return n ? double(total) / double(n) : 0.0;
  };
  double ns = 0, base_ns = 0;
  for (auto _ : st) {
    ns = per_packet(l.fd);
    base_ns = per_packet(base.fd);
  }
  st.counters["ns_per_packet"] = ns;
  st.counters["base_ns"] = base_ns;
  st.counters["net_ns"] = ns - base_ns;
  bpf::bench::record(std::string("kernel eBPF ") + std::string(bpf::jit::ebpf::hook_name(h)),
                     bpf::bench::kFilters[i].name, ns);
}

void engine(benchmark::State& st, size_t i, bpf::jit::Engine eng) {
  if (!bpf::jit::available(eng)) {
    st.SkipWithError("engine not built");
    return;
  }
  auto f = bpf::jit::Filter::compile(verified(i), eng);
  const auto& pkts = testable();
  std::vector<uint32_t> out(pkts.size());
  for (auto _ : st) {
    f->run_batch(pkts, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["ns_per_packet"] = benchmark::Counter(
      double(pkts.size()), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  st.SetItemsProcessed(int64_t(st.iterations()) * int64_t(pkts.size()));
}

void translate_filter(benchmark::State& st, size_t i) {
  const auto v = verified(i);
  for (auto _ : st) benchmark::DoNotOptimize(bpf::jit::ebpf::translate(v, Hook::kXdp));
}

void translate_hosts(benchmark::State& st) {
  std::string e = "host 10.0.0.1";
  std::mt19937 rng(uint32_t(st.range(0)));  // scattered hosts: no ranges to merge
  for (int64_t h = 1; h < st.range(0); ++h)
    e += " or host 10." + std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) + "." +
         std::to_string(rng() % 256);
  auto p = bpf::compiler::compile_expression(e, bpf::compiler::ExprOptions{});
  bpf::verifier::Options vo;
  vo.destination = bpf::verifier::Destination::kUserSpace;
  const auto v = bpf::verifier::verify(*p, vo).take();
  size_t n = 0;
  for (auto _ : st) {
    auto r = bpf::jit::ebpf::translate(v, Hook::kXdp);
    n = r->insns.size();
    benchmark::DoNotOptimize(r);
  }
  st.counters["classic_insns"] = double(v.size());
  st.counters["ebpf_insns"] = double(n);
}

[[maybe_unused]] const bool kRegistered = [] {
  for (size_t i = 0; i < bpf::bench::kNumFilters; ++i) {
    const std::string name = bpf::bench::kFilters[i].name;
    for (Hook h : {Hook::kSocket, Hook::kXdp, Hook::kTc})
      benchmark::RegisterBenchmark(("Ebpf/Kernel/" + std::string(bpf::jit::ebpf::hook_name(h)) + "/" + name).c_str(),
                                   [i, h](benchmark::State& s) { kernel(s, i, h); })->Iterations(1);
    benchmark::RegisterBenchmark(("Ebpf/Engine/interp/" + name).c_str(),
                                 [i](benchmark::State& s) { engine(s, i, bpf::jit::Engine::kInterp); });
    benchmark::RegisterBenchmark(("Ebpf/Engine/asmjit/" + name).c_str(),
                                 [i](benchmark::State& s) { engine(s, i, bpf::jit::Engine::kAsmjit); });
    benchmark::RegisterBenchmark(("Ebpf/Translate/" + name).c_str(),
                                 [i](benchmark::State& s) { translate_filter(s, i); });
  }
  benchmark::RegisterBenchmark("Ebpf/TranslateHosts", translate_hosts)->Arg(100)->Arg(1000)->Arg(3000);
  return true;
}();

}  // namespace
#endif
