// Big filters: compile time and peak memory against the number of terms for bpfc and for
// libpcap's pcap_compile (optimize=1, as tcpdump), side by side in the same run, and the
// per-packet time of a 1,000-host filter on every engine against libpcap running its own
// program. Each compile runs in a child process (wall time, and peak RSS from wait4), libpcap's
// killed after 60 s:
//   build/bin/bpfc_bench --benchmark_filter='BigFilter/'
// (libpcap's -O1 program for 1,000 hosts takes about 80 s to compile; the per-packet rows
// compile it once.)
#include <benchmark/benchmark.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include "bench/bench_common.hpp"
#include "compiler/expr.hpp"
#include "verifier/verifier.hpp"

namespace bpf::bench {
namespace {

std::string host_list(int n) {
  std::mt19937 rng(static_cast<uint32_t>(n));
  std::string s;
  for (int i = 0; i < n; ++i) {
    const uint32_t a = 0x0a000000u | (rng() & 0xffffffu);
    s += (i ? " or host " : "host ") + std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) +
         "." + std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
  }
  return s;
}

struct ChildRun {
  double seconds = 0;
  double peak_mb = 0;
  bool finished = false;
  unsigned insns = 0;  // the program's length, as the child reports it
};

// Runs fn() (which returns the program's length) in a child process: its wall time and peak
// resident memory; killed after limit_s.
template <class Fn>
ChildRun in_child(Fn fn, unsigned limit_s) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    alarm(limit_s);
    const unsigned n = fn();
    if (write(fds[1], &n, sizeof n) != sizeof n) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  unsigned len = 0;
  const bool got = read(fds[0], &len, sizeof len) == sizeof len;
  close(fds[0]);
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ChildRun r;
  r.insns = got ? len : 0;
  r.seconds = double(t1.tv_sec - t0.tv_sec) + double(t1.tv_nsec - t0.tv_nsec) / 1e9;
  r.peak_mb = double(ru.ru_maxrss) / 1024.0;
  r.finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return r;
}

void BM_compile(benchmark::State& state, bool libpcap) {
  const int n = static_cast<int>(state.range(0));
  const std::string e = host_list(n);
  ChildRun best;
  best.seconds = 1e9;
  for (auto _ : state) {
    ChildRun r = in_child(
        [&] {
          if (libpcap) {
            pcap_t* p = pcap_open_dead(DLT_EN10MB, 262144);
            bpf_program bp;
            if (pcap_compile(p, &bp, e.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) _exit(2);
            return static_cast<unsigned>(bp.bf_len);
          }
          auto r = compiler::compile_expression(e, {});
          if (!r.ok()) _exit(2);
          return static_cast<unsigned>(r->insns.size());
        },
        60);
    if (!r.finished) {
      state.SkipWithError("did not finish within 60 s");
      return;
    }
    if (r.seconds < best.seconds) best = r;
  }
  state.counters["ms"] = best.seconds * 1e3;
  state.counters["peak_MB"] = best.peak_mb;
  state.counters["insns"] = best.insns;
}

// The 1,000-host list per packet: ours on every engine, libpcap's bpf_filter on its own -O1
// program (and on ours, to tell program from engine), over the corpus.
const std::vector<vm::Insn>& libpcap_1000() {
  static const std::vector<vm::Insn> prog = [] {
    pcap_t* p = pcap_open_dead(DLT_EN10MB, 262144);
    bpf_program bp;
    std::vector<vm::Insn> v;
    if (pcap_compile(p, &bp, host_list(1000).c_str(), 1, PCAP_NETMASK_UNKNOWN) == 0) {
      for (u_int i = 0; i < bp.bf_len; ++i)
        v.push_back({bp.bf_insns[i].code, bp.bf_insns[i].jt, bp.bf_insns[i].jf, bp.bf_insns[i].k});
      pcap_freecode(&bp);
    }
    pcap_close(p);
    return v;
  }();
  return prog;
}
const vm::Program& ours_1000() {
  static const vm::Program prog = *compiler::compile_expression(host_list(1000), {});
  return prog;
}

double cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

void BM_packet_libpcap(benchmark::State& state, bool own_program) {
  const auto& w = workload();
  const auto& insns = own_program ? libpcap_1000() : ours_1000().insns;
  const auto* code = reinterpret_cast<const bpf_insn*>(insns.data());
  const double t0 = cpu_ns();
  for (auto _ : state) {
    uint32_t acc = 0;
    for (const auto& v : w.views) acc += bpf_filter(code, v.data, v.wirelen, v.caplen);
    benchmark::DoNotOptimize(acc);
  }
  const double ns = (cpu_ns() - t0) / (double(state.iterations()) * double(w.views.size()));
  state.counters["ns/pkt"] = ns;
  state.counters["insns"] = double(insns.size());
  record(own_program ? "libpcap" : "libpcap on ours", "hosts_1000", ns);
}

void BM_packet_engine(benchmark::State& state, jit::Engine engine) {
  const auto& w = workload();
  verifier::Options o;
  o.target = vm::Target::kBsd;
  o.destination = verifier::Destination::kUserSpace;  // BSD's kernel limit is 512
  auto vp = verifier::verify(ours_1000(), o);
  if (!vp) {
    state.SkipWithError(vp.diagnostics().render("<expr>").c_str());
    return;
  }
  auto f = jit::Filter::compile(*vp, engine);
  if (!f) {
    state.SkipWithError("engine unavailable");
    return;
  }
  // the same verdicts as libpcap's program
  const auto* ref = reinterpret_cast<const bpf_insn*>(libpcap_1000().data());
  for (const auto& v : w.views)
    if (f->run(v.data, v.caplen, v.wirelen) != bpf_filter(ref, v.data, v.wirelen, v.caplen)) {
      state.SkipWithError("verdict differs from libpcap's");
      return;
    }
  std::vector<uint32_t> out(w.views.size());
  const double t0 = cpu_ns();
  for (auto _ : state) {
    f->run_batch(w.views, out.data());
    benchmark::ClobberMemory();
  }
  const double ns = (cpu_ns() - t0) / (double(state.iterations()) * double(w.views.size()));
  state.counters["ns/pkt"] = ns;
  record(std::string(jit::engine_name(engine)), "hosts_1000", ns);
}

int register_all() {
  for (int n : {10, 100, 1000, 10000})
    benchmark::RegisterBenchmark(("BigFilter/compile/bpfc/" + std::to_string(n)).c_str(), BM_compile, false)
        ->Arg(n)->Iterations(3)->Unit(benchmark::kMillisecond);
  for (int n : {10, 100, 400, 1000})  // 10,000: 1,000 already takes over 60 s
    benchmark::RegisterBenchmark(("BigFilter/compile/libpcap/" + std::to_string(n)).c_str(), BM_compile, true)
        ->Arg(n)->Iterations(1)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BigFilter/packet/libpcap/hosts_1000", BM_packet_libpcap, true);
  benchmark::RegisterBenchmark("BigFilter/packet/libpcap_on_ours/hosts_1000", BM_packet_libpcap, false);
  for (jit::Engine e : jit::kAllEngines) {
    if (e == jit::Engine::kAuto || !jit::available(e)) continue;
    benchmark::RegisterBenchmark(("BigFilter/packet/" + std::string(jit::engine_name(e)) + "/hosts_1000").c_str(),
                                 BM_packet_engine, e);
  }
  return 0;
}
const int kRegistered = register_all();

}  // namespace
}  // namespace bpf::bench
