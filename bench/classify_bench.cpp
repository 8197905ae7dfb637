// Classifying with N rules (compiler/classify/): ns per packet to find the first matching rule
// of N = 10, 40, 200 realistic rules (built from bench_common's kTypicalExprs and kFilters, with
// their ports, hosts and nets varied), in the same run and on the same packets
// (../shared/corpus/ether.pcap or generated frames, plus a mutated copy of each):
//   libpcap:       pcap_compile (optimize=1) of each rule, bpf_filter in order, first match;
//   asmjit 1by1:   our compiler and asmjit, each rule its own Filter, in order, first match;
//   classifier/E:  the one program of compile_classifier on engine E (interp, asmjit, llvm).
// Every engine's numbers are checked against libpcap's first match on every unsnapped packet
// before timing. A table with the ratios is printed at exit.
//   build/bin/bpfc_bench --benchmark_filter='Classify/'
#include <benchmark/benchmark.h>
#include <pcap/pcap.h>
#include <time.h>

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_common.hpp"
#include "compiler/classify/classify.hpp"
#include "compiler/expr.hpp"
#include "verifier/verifier.hpp"

namespace bpf::bench {
namespace {

double cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

// N rules: the typical expressions and the filter table first, then variations of them.
// (For N = 10, the first ten of those.)
std::vector<std::string> rules(size_t n) {
  std::vector<std::string> out;
  for (const char* e : kTypicalExprs) out.push_back(e);
  // (not the catch-alls `ip` and `tcp`: a rule set ends with those, if it has them at all)
  for (const FilterSpec& f : kFilters)
    if (std::string(f.name) != "ip" && std::string(f.name) != "tcp") out.push_back(f.expr);
  static const char* kTemplates[] = {
      "tcp port %P", "udp port %P", "host 10.%A.%B.%C", "src net 10.%A.0.0/16 and tcp dst port %P",
      "tcp dst port %P and tcp[tcpflags] & tcp-syn != 0", "vlan %V and udp port %P",
      "ip6 and tcp port %P", "dst host 192.168.%A.%B and not port 22", "udp portrange %P-%Q",
      "ether src 00:11:22:33:%A:%B", "icmp and host 172.16.%A.%B", "ip[2:2] > %L and tcp port %P"};
  std::mt19937 rng(static_cast<uint32_t>(n));
  while (out.size() < n) {
    std::string t = kTemplates[rng() % (sizeof kTemplates / sizeof kTemplates[0])];
    auto sub = [&](const std::string& key, uint32_t v) {
      for (size_t p; (p = t.find(key)) != std::string::npos;) t.replace(p, key.size(), std::to_string(v));
    };
    const uint32_t port = 1024 + rng() % 30000;
    sub("%P", port);
    sub("%Q", port + 1 + rng() % 100);
    sub("%A", rng() % 256);
    sub("%B", rng() % 256);
    sub("%C", 1 + rng() % 254);
    sub("%V", 1 + rng() % 4094);
    sub("%L", 40 + rng() % 1400);
    if (t.find("ether src") != std::string::npos) {  // hex octets
      char buf[64];
      std::snprintf(buf, sizeof buf, "ether src 00:11:22:33:%02x:%02x", unsigned(rng() % 256), unsigned(rng() % 256));
      t = buf;
    }
    out.push_back(t);
  }
  out.resize(n);
  return out;
}

struct Packets {
  std::vector<uint8_t> buffer;
  std::vector<jit::PacketView> views;
};

// The workload and a mutated copy of each packet (a few header bytes flipped).
const Packets& packets() {
  static const Packets p = [] {
    Packets out;
    const Workload& w = workload();
    std::mt19937 rng(403);
    size_t total = 0;
    for (const auto& v : w.views) total += 2 * v.caplen;
    out.buffer.reserve(total);
    std::vector<std::pair<size_t, jit::PacketView>> at;
    for (int copy = 0; copy < 2; ++copy)
      for (const auto& v : w.views) {
        const size_t off = out.buffer.size();
        out.buffer.insert(out.buffer.end(), v.data, v.data + v.caplen);
        if (copy == 1)
          for (int i = 0; i < 3 && v.caplen > 0; ++i)
            out.buffer[off + rng() % std::min<uint32_t>(v.caplen, 64)] ^= uint8_t(1u << (rng() % 8));
        at.push_back({off, v});
      }
    for (auto& [off, v] : at) out.views.push_back({out.buffer.data() + off, v.caplen, v.wirelen});
    return out;
  }();
  return p;
}

struct Set {
  std::vector<std::string> exprs;
  std::vector<std::vector<vm::Insn>> libpcap;  // pcap_compile, optimize=1
  std::vector<jit::Filter> ours;                // each rule with asmjit
  std::unique_ptr<vm::VerifiedProgram> classifier;
  size_t insns = 0, insns_one_by_one = 0;
  std::vector<uint32_t> want;  // libpcap's first match per packet
};

std::vector<vm::Insn> pcap_program(const std::string& e) {
  pcap_t* p = pcap_open_dead(DLT_EN10MB, 262144);
  bpf_program bp{};
  std::vector<vm::Insn> out;
  if (pcap_compile(p, &bp, e.c_str(), 1, PCAP_NETMASK_UNKNOWN) == 0) {
    for (u_int i = 0; i < bp.bf_len; ++i)
      out.push_back({bp.bf_insns[i].code, bp.bf_insns[i].jt, bp.bf_insns[i].jf, bp.bf_insns[i].k});
    pcap_freecode(&bp);
  } else {
    std::fprintf(stderr, "pcap_compile(%s): %s\n", e.c_str(), pcap_geterr(p));
    std::abort();
  }
  pcap_close(p);
  return out;
}

uint32_t libpcap_first(const Set& s, const jit::PacketView& v) {
  for (size_t i = 0; i < s.libpcap.size(); ++i)
    if (bpf_filter(reinterpret_cast<const bpf_insn*>(s.libpcap[i].data()), v.data, v.wirelen, v.caplen))
      return static_cast<uint32_t>(i + 1);
  return 0;
}

const Set& set(size_t n) {
  static std::map<size_t, std::unique_ptr<Set>> sets;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = sets[n];
  if (slot) return *slot;
  slot = std::make_unique<Set>();
  Set& s = *slot;
  s.exprs = rules(n);
  verifier::Options vo;
  vo.destination = verifier::Destination::kUserSpace;
  std::vector<compiler::Rule> rs;
  for (const std::string& e : s.exprs) {
    s.libpcap.push_back(pcap_program(e));
    auto p = compiler::compile_expression(e, {});
    auto v = verifier::verify(*p, vo);
    s.insns_one_by_one += p->insns.size();
    auto f = jit::Filter::compile(*v, jit::available(jit::Engine::kAsmjit) ? jit::Engine::kAsmjit : jit::Engine::kInterp);
    s.ours.push_back(f.take());
    rs.push_back({e, static_cast<uint32_t>(rs.size() + 1), 1, e});
  }
  auto c = compiler::compile_classifier(rs, {});
  if (!c) {
    std::fprintf(stderr, "%s", c.diagnostics().render("<rules>").c_str());
    std::abort();
  }
  s.insns = c->insns.size();
  s.classifier = std::make_unique<vm::VerifiedProgram>(verifier::verify(*c, vo).take());
  for (const auto& v : packets().views) s.want.push_back(libpcap_first(s, v));
  return s;
}

struct Row {
  double libpcap = 0, one_by_one = 0;
  std::map<std::string, double> engines;
  size_t insns = 0, insns_one_by_one = 0, matched = 0, packets = 0;
};
struct Report {
  std::mutex mu;
  std::map<size_t, Row> rows;
  ~Report() {
    if (rows.empty()) return;
    std::printf("\nClassify: ns/packet to find the first matching rule (%zu packets: %s + mutated copies)\n",
                rows.begin()->second.packets, workload().source.c_str());
    std::printf("%6s %8s %8s %9s %10s", "rules", "insns", "1by1", "libpcap", "asmjit1by1");
    for (const auto& [e, _] : rows.begin()->second.engines) std::printf(" %9s %8s %8s", e.c_str(), "vs pcap", "vs 1by1");
    std::printf("\n");
    for (const auto& [n, r] : rows) {
      std::printf("%6zu %8zu %8zu %9.1f %10.1f", n, r.insns, r.insns_one_by_one, r.libpcap, r.one_by_one);
      for (const auto& [e, ns] : r.engines)
        std::printf(" %9.1f %7.1fx %7.1fx", ns, ns > 0 ? r.libpcap / ns : 0.0, ns > 0 ? r.one_by_one / ns : 0.0);
      std::printf("   (%zu packets matched a rule)\n", r.matched);
    }
  }
};
Report& report() {
  static Report r;
  return r;
}

void BM_libpcap(benchmark::State& state) {
  const Set& s = set(static_cast<size_t>(state.range(0)));
  const auto& views = packets().views;
  const double t0 = cpu_ns();
  for (auto _ : state) {
    uint32_t acc = 0;
    for (const auto& v : views) acc += libpcap_first(s, v);
    benchmark::DoNotOptimize(acc);
  }
  const double ns = (cpu_ns() - t0) / (double(state.iterations()) * double(views.size()));
  state.counters["ns/pkt"] = ns;
  std::lock_guard<std::mutex> lock(report().mu);
  Row& r = report().rows[s.exprs.size()];
  r.libpcap = ns;
  r.insns = s.insns;
  r.insns_one_by_one = s.insns_one_by_one;
  r.packets = views.size();
  r.matched = 0;
  for (uint32_t w : s.want) r.matched += w != 0;
}

void BM_one_by_one(benchmark::State& state) {
  const Set& s = set(static_cast<size_t>(state.range(0)));
  const auto& views = packets().views;
  auto first = [&](const jit::PacketView& v) -> uint32_t {
    for (size_t i = 0; i < s.ours.size(); ++i)
      if (s.ours[i].run(v.data, v.caplen, v.wirelen)) return static_cast<uint32_t>(i + 1);
    return 0;
  };
  for (size_t i = 0; i < views.size(); ++i)
    if (views[i].caplen == views[i].wirelen && first(views[i]) != s.want[i]) {
      state.SkipWithError("first match differs from libpcap's");
      return;
    }
  const double t0 = cpu_ns();
  for (auto _ : state) {
    uint32_t acc = 0;
    for (const auto& v : views) acc += first(v);
    benchmark::DoNotOptimize(acc);
  }
  const double ns = (cpu_ns() - t0) / (double(state.iterations()) * double(views.size()));
  state.counters["ns/pkt"] = ns;
  std::lock_guard<std::mutex> lock(report().mu);
  report().rows[s.exprs.size()].one_by_one = ns;
}

void BM_classifier(benchmark::State& state, jit::Engine engine) {
  const Set& s = set(static_cast<size_t>(state.range(0)));
  const auto& views = packets().views;
  auto f = jit::Filter::compile(*s.classifier, engine);
  if (!f) {
    state.SkipWithError("engine unavailable");
    return;
  }
  for (size_t i = 0; i < views.size(); ++i)
    if (views[i].caplen == views[i].wirelen && f->run(views[i].data, views[i].caplen, views[i].wirelen) != s.want[i]) {
      state.SkipWithError("rule number differs from libpcap's first match");
      return;
    }
  const double t0 = cpu_ns();
  for (auto _ : state) {
    uint32_t acc = 0;
    for (const auto& v : views) acc += f->run(v.data, v.caplen, v.wirelen);
    benchmark::DoNotOptimize(acc);
  }
  const double ns = (cpu_ns() - t0) / (double(state.iterations()) * double(views.size()));
  state.counters["ns/pkt"] = ns;
  state.counters["insns"] = double(s.insns);
  std::lock_guard<std::mutex> lock(report().mu);
  report().rows[s.exprs.size()].engines[std::string(jit::engine_name(engine))] = ns;
}

int register_all() {
  for (int n : {10, 40, 200}) {
    benchmark::RegisterBenchmark(("Classify/libpcap/" + std::to_string(n)).c_str(), BM_libpcap)->Arg(n);
    benchmark::RegisterBenchmark(("Classify/asmjit_one_by_one/" + std::to_string(n)).c_str(), BM_one_by_one)->Arg(n);
    for (jit::Engine e : {jit::Engine::kInterp, jit::Engine::kAsmjit, jit::Engine::kLlvm}) {
      if (!jit::available(e)) continue;
      benchmark::RegisterBenchmark(("Classify/classifier/" + std::string(jit::engine_name(e)) + "/" + std::to_string(n)).c_str(),
                                   BM_classifier, e)->Arg(n);
    }
  }
  return 0;
}
const int kRegistered = register_all();

}  // namespace
}  // namespace bpf::bench
