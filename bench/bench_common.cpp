// Workload, programs and the results table of the filter benchmarks (see bench_common.hpp).
#include "bench/bench_common.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "tests/support/packet_gen.hpp"
#include "tests/support/pcap_ref.hpp"

namespace bpf::bench {

namespace {

struct Table {
  std::mutex mu;
  std::map<std::string, std::map<std::string, double>> rows;  // engine -> filter -> ns/packet
  ~Table() {
    auto base = rows.find("libpcap");
    if (base == rows.end() || rows.size() < 2) return;
    std::printf("\nns/packet over %zu packets (%s); ratio = libpcap / engine (higher is faster)\n",
                workload().views.size(), workload().source.c_str());
    std::printf("%-12s %10s", "filter", "libpcap");
    for (const auto& [engine, _] : rows)
      if (engine != "libpcap") std::printf(" %12s %7s", engine.c_str(), "ratio");
    std::printf("\n");
    std::map<std::string, double> log_sum;
    std::map<std::string, int> count;
    for (const FilterSpec& f : kFilters) {
      auto b = base->second.find(f.name);
      if (b == base->second.end()) continue;
      std::printf("%-12s %10.2f", f.name, b->second);
      for (const auto& [engine, by_filter] : rows) {
        if (engine == "libpcap") continue;
        auto e = by_filter.find(f.name);
        if (e == by_filter.end()) {
          std::printf(" %12s %7s", "-", "-");
          continue;
        }
        double ratio = b->second / e->second;
        log_sum[engine] += std::log(ratio);
        ++count[engine];
        std::printf(" %12.2f %6.2fx", e->second, ratio);
      }
      std::printf("\n");
    }
    std::printf("%-12s %10s", "geomean", "");
    for (const auto& [engine, _] : rows) {
      if (engine == "libpcap") continue;
      if (count[engine])
        std::printf(" %12s %6.2fx", "", std::exp(log_sum[engine] / count[engine]));
      else
        std::printf(" %12s %7s", "", "-");
    }
    std::printf("\n");
  }
};

Table& table() {
  static Table t;
  return t;
}

Workload make_workload() {
  Workload w;
  std::vector<test::Packet> pkts = test::load_corpus("ether");
  if (!pkts.empty()) {
    w.source = "corpus ether.pcap";
  } else {
    test::Rng rng(20240101);
    for (int i = 0; i < 8192; ++i) pkts.push_back(test::ethernet_frame(rng));
    w.source = "generated Ethernet frames";
  }
  size_t total = 0;
  for (const auto& p : pkts) total += p.data.size();
  w.buffer.reserve(total);
  for (const auto& p : pkts) w.buffer.insert(w.buffer.end(), p.data.begin(), p.data.end());
  size_t off = 0;
  for (const auto& p : pkts) {
    w.views.push_back({w.buffer.data() + off, p.caplen(), p.wirelen});
    off += p.data.size();
  }
  return w;
}

}  // namespace

const Workload& workload() {
  static const Workload w = make_workload();
  return w;
}

const std::vector<vm::Insn>& program(size_t i) {
  static std::vector<std::vector<vm::Insn>> programs = [] {
    std::vector<std::vector<vm::Insn>> out;
    for (const FilterSpec& f : kFilters) {
      std::string err;
      auto p = test::pcap_compile_expr(f.expr, 1, 262144, true, &err);
      if (!p) {
        std::fprintf(stderr, "pcap_compile(%s): %s\n", f.expr, err.c_str());
        std::abort();
      }
      out.push_back(std::move(*p));
    }
    return out;
  }();
  return programs[i];
}

void record(const std::string& engine, const std::string& filter, double ns_per_packet) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  t.rows[engine][filter] = ns_per_packet;
}

}  // namespace bpf::bench
