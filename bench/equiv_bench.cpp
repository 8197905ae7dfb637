// Time to decide equivalence (analysis::check_equivalence, Z3) -- goal <= 1 s per pair of
// typical filters: each typical expression's -O0 against its -O2 program (verdicts), and
// 100-term filters (100 hosts and 100 ports, which compile to set searches; 100 distinct
// `(src host H and tcp dst port P)` terms, which do not) against the same terms in reverse order.
// BM_Equiv_Strategies: what the path walk (equiv_paths.cpp) and the shared tails
// (shared_tails.hpp) each bring, as ratios in the same run: one -O0 / -O2 pair decided three
// ways -- everything on (the walk first), without the walk (shared tails, then the whole
// programs), and the plain merged encoding alone.
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "analysis/equiv.hpp"
#include "bench/bench_common.hpp"
#include "compiler/expr.hpp"
#include "verifier/verifier.hpp"

namespace {

const auto& kTypical = bpf::bench::kTypicalExprs;

bpf::vm::VerifiedProgram program(const std::string& e, int opt) {
  bpf::compiler::ExprOptions o;
  o.opt_level = opt;
  o.resolve_hosts = false;
  auto p = bpf::compiler::compile_expression(e, o);
  bpf::verifier::Options vo;
  vo.destination = bpf::verifier::Destination::kUserSpace;
  return bpf::verifier::verify(*p, vo).take();
}

void BM_Equiv_Typical_O0_vs_O2(benchmark::State& st) {
  const std::string e = kTypical[st.range(0)];
  const auto a = program(e, 0), b = program(e, 2);
  for (auto _ : st) {
    auto r = bpf::analysis::check_equivalence(a, b);
    benchmark::DoNotOptimize(r);
  }
  st.SetLabel(e);
}
BENCHMARK(BM_Equiv_Typical_O0_vs_O2)->DenseRange(0, 7)->Unit(benchmark::kMillisecond);

std::string terms(const char* kind, int n, bool reverse) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    const int k = reverse ? n - 1 - i : i;
    if (i) s += " or ";
    const std::string host = "10.0." + std::to_string(k / 250) + "." + std::to_string(k % 250 + 1);
    if (std::string(kind) == "host") s += "host " + host;
    else if (std::string(kind) == "port") s += "port " + std::to_string(1000 + k);
    else s += "(src host " + host + " and tcp dst port " + std::to_string(1000 + k) + ")";
  }
  return s;
}

void BM_Equiv_100Terms(benchmark::State& st) {
  const char* kind = st.range(0) == 0 ? "host" : st.range(0) == 1 ? "port" : "pair";
  const auto a = program(terms(kind, 100, false), 2), b = program(terms(kind, 100, true), 2);
  bool eq = false;
  for (auto _ : st) {
    auto r = bpf::analysis::check_equivalence(a, b);
    eq = r.ok() && r->equivalent;
  }
  st.SetLabel(std::string("100 ") + kind + " terms vs reversed: " + (eq ? "equivalent" : "NOT equivalent") +
              ", " + std::to_string(a.size()) + "+" + std::to_string(b.size()) + " insns");
}
BENCHMARK(BM_Equiv_100Terms)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->Iterations(1);

// The pairs: the biggest (protochain's 32-header walk), the hardest for the merged encoding
// (geneve's option offsets), a typical filter. Plain on protochain takes over 10 minutes
// (11.4 min measured with bpfc --equiv): with `plain` 0 it is not run.
struct StrategyPair {
  const char* expr;
  bool plain;
};
constexpr StrategyPair kStrategyPairs[] = {
    {"protochain 6", false},
    {"geneve and port 53", true},
    {"vlan 10 and ip6 and udp portrange 1000-2000", true},
};

double seconds_to_decide(const bpf::vm::VerifiedProgram& a, const bpf::vm::VerifiedProgram& b,
                         bool walk, bool tails, bool* equivalent) {
  bpf::analysis::EquivOptions o;
  o.path_walk = walk;
  o.shared_tails = tails;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = bpf::analysis::check_equivalence(a, b, o);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  *equivalent = r.ok() && r->equivalent;
  return s;
}

void BM_Equiv_Strategies(benchmark::State& st) {
  const StrategyPair& p = kStrategyPairs[st.range(0)];
  const auto a = program(p.expr, 0), b = program(p.expr, 2);
  double all = 0, tails = 0, plain = 0;
  bool eq_all = false, eq_tails = false, eq_plain = true;
  for (auto _ : st) {
    all = seconds_to_decide(a, b, true, true, &eq_all);
    tails = seconds_to_decide(a, b, false, true, &eq_tails);
    if (p.plain) plain = seconds_to_decide(a, b, false, false, &eq_plain);
  }
  st.counters["walk_s"] = all;
  st.counters["tails_s"] = tails;
  st.counters["tails_over_walk"] = tails / all;
  if (p.plain) {
    st.counters["plain_s"] = plain;
    st.counters["plain_over_tails"] = plain / tails;
    st.counters["plain_over_walk"] = plain / all;
  }
  st.SetLabel(std::string(p.expr) + " -O0 vs -O2, " + std::to_string(a.size()) + "+" +
              std::to_string(b.size()) + " insns: " +
              (eq_all && eq_tails && eq_plain ? "equivalent every way" : "NOT equivalent"));
}
BENCHMARK(BM_Equiv_Strategies)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
