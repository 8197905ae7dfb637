// The interpreter (and every other engine built into bpf::jit::Filter) against libpcap's
// bpf_filter: the same libpcap-compiled programs over the same packets, laid back to back, in
// the same run. Rows: libpcap (bpf_filter per packet, as pcap_offline_filter does),
// <engine> (Filter::run_batch over the buffer), <engine>/run (Filter::run per packet).
// At exit a table prints ns/packet and the ratio to libpcap with the geometric mean.
//   build/bin/bpfc_bench --benchmark_filter='Filter/' --benchmark_min_time=0.2
// Every engine's verdicts are checked against libpcap's on the whole workload first.
#include <benchmark/benchmark.h>
#include <pcap/pcap.h>

#include <time.h>

#include "bench/bench_common.hpp"
#include "verifier/verifier.hpp"

namespace bpf::bench {
namespace {

// Thread CPU time, not wall time: the machine may be shared, and a preempted benchmark should
// not look slow.
double cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

double ns_per_packet(double t0, benchmark::State& state) {
  return (cpu_ns() - t0) / (double(state.iterations()) * double(workload().views.size()));
}

void BM_libpcap(benchmark::State& state, size_t fi) {
  const auto& w = workload();
  const auto* insns = reinterpret_cast<const bpf_insn*>(program(fi).data());
  double t0 = cpu_ns();
  for (auto _ : state) {
    uint32_t acc = 0;
    for (const auto& v : w.views) acc += bpf_filter(insns, v.data, v.wirelen, v.caplen);
    benchmark::DoNotOptimize(acc);
  }
  double ns = ns_per_packet(t0, state);
  state.counters["ns/pkt"] = ns;
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(w.views.size()));
  record("libpcap", kFilters[fi].name, ns);
}

void BM_engine(benchmark::State& state, size_t fi, jit::Engine engine, bool batch) {
  const auto& w = workload();
  vm::Program prog;
  prog.insns = program(fi);
  verifier::Options opts;
  opts.target = vm::Target::kBsd;  // libpcap's semantics
  auto vp = verifier::verify(prog, opts);
  if (!vp) {
    state.SkipWithError(vp.diagnostics().render("<pcap_compile>").c_str());
    return;
  }
  auto f = jit::Filter::compile(*vp, engine);
  if (!f) {
    state.SkipWithError(f.diagnostics().render("<engine>").c_str());
    return;
  }
  std::vector<uint32_t> out(w.views.size());
  f->run_batch(w.views, out.data());
  const auto* insns = reinterpret_cast<const bpf_insn*>(prog.insns.data());
  for (size_t i = 0; i < w.views.size(); ++i) {
    const auto& v = w.views[i];
    if (out[i] != bpf_filter(insns, v.data, v.wirelen, v.caplen)) {
      state.SkipWithError("verdict differs from libpcap's");
      return;
    }
  }
  double t0 = cpu_ns();
  if (batch) {
    for (auto _ : state) {
      f->run_batch(w.views, out.data());
      benchmark::ClobberMemory();
    }
  } else {
    for (auto _ : state) {
      uint32_t acc = 0;
      for (const auto& v : w.views) acc += f->run(v.data, v.caplen, v.wirelen);
      benchmark::DoNotOptimize(acc);
    }
  }
  double ns = ns_per_packet(t0, state);
  state.counters["ns/pkt"] = ns;
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(w.views.size()));
  std::string name(jit::engine_name(engine));
  record(batch ? name : name + "/run", kFilters[fi].name, ns);
}

int register_all() {
  for (size_t i = 0; i < kNumFilters; ++i) {
    std::string f = kFilters[i].name;
    benchmark::RegisterBenchmark(("Filter/libpcap/" + f).c_str(), BM_libpcap, i);
    for (jit::Engine e : jit::kAllEngines) {
      if (e == jit::Engine::kAuto || !jit::available(e)) continue;
      std::string en(jit::engine_name(e));
      benchmark::RegisterBenchmark(("Filter/" + en + "/" + f).c_str(), BM_engine, i, e, true);
      benchmark::RegisterBenchmark(("Filter/" + en + "_run/" + f).c_str(), BM_engine, i, e, false);
    }
  }
  return 0;
}
const int kRegistered = register_all();

}  // namespace
}  // namespace bpf::bench
