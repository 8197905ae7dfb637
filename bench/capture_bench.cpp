// Capture benchmarks (Google Benchmark, part of bpfc_bench):
//  - BM_RingHandoff/<size>: packets per second handed from a producer thread to a consumer thread
//    through the hold/store ring (blocking producer: nothing dropped, so the rate is the ring's),
//    and BM_RingHandoffLive/<size> with a dropping producer (delivered and dropped reported);
//  - BM_BpfdumpVsTcpdump/<filter>: `bpfdump -r BIG -w OUT EXPR` against `tcpdump -r BIG -w OUT
//    EXPR` on the same generated ~250 MB IMIX pcap, in the same run, alternating, best of 5 each,
//    each run started without an output file and after sync(2);
//    counters tcpdump_s, bpfdump_s, speedup (wall time ratio) and *_cpu_s, cpu_speedup (user +
//    system time of the command; the fair measure on a loaded machine, since bpfdump's reader and
//    writer threads overlap and wall time then depends on the scheduler). bpfdump is looked
//    up next to this binary (build/bin). Skipped with a message when tcpdump or bpfdump is missing.
//
//  - BM_ToolStartup/<tool>: wall time of `bpfc --help`, `bpfdump --help`, `tcpdump --version`.
// Run: build/bin/bpfc_bench --benchmark_filter='Ring|Bpfdump|Startup'
//      (BPFC_BENCH_PCAP=FILE to run on FILE, or to keep the generated file there)
#include <benchmark/benchmark.h>
#include <pcap/pcap.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "capture/ring.hpp"

namespace {

using namespace bpf::capture;

void run_handoff(benchmark::State& state, bool blocking) {
  const uint32_t size = static_cast<uint32_t>(state.range(0));
  constexpr uint64_t kPerIteration = 1'000'000;
  std::vector<uint8_t> pkt(size, 0x5a);
  uint64_t delivered = 0, dropped = 0;
  for (auto _ : state) {
    Ring::Options o;
    o.buffer_bytes = 1 << 20;
    o.block_when_full = blocking;
    auto ring = Ring::create(o);
    if (!ring.ok()) {
      state.SkipWithError("ring");
      return;
    }
    Ring& r = **ring;
    uint64_t seen = 0, sum = 0;
    std::thread consumer([&] {
      Batch b;
      for (;;) {
        const Ring::Wait w = r.next(b, 100);
        if (w == Ring::Wait::kEnd) break;
        if (w != Ring::Wait::kBatch) continue;
        for (const Packet& p : b) sum += p.data[0], ++seen;
        r.release(b);
      }
    });
    for (uint64_t i = 0; i < kPerIteration; ++i) {
      r.push(Timestamp{uint32_t(i), 0}, pkt.data(), size, size);
      if ((i & 4095) == 0) r.tick();
    }
    r.finish();
    consumer.join();
    benchmark::DoNotOptimize(sum);
    const RingStats s = r.stats();
    delivered += s.delivered;
    dropped += s.dropped;
  }
  state.SetItemsProcessed(int64_t(state.iterations() * kPerIteration));
  state.counters["delivered"] = benchmark::Counter(double(delivered), benchmark::Counter::kAvgIterations);
  state.counters["dropped"] = benchmark::Counter(double(dropped), benchmark::Counter::kAvgIterations);
}

void BM_RingHandoff(benchmark::State& state) { run_handoff(state, true); }
void BM_RingHandoffLive(benchmark::State& state) { run_handoff(state, false); }
BENCHMARK(BM_RingHandoff)->Arg(64)->Arg(512)->Arg(1500)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RingHandoffLive)->Arg(64)->Arg(512)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- bpfdump -r -w against tcpdump -r -w ----

std::string self_dir() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string s(buf, size_t(n));
  return s.substr(0, s.rfind('/'));
}

void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(uint8_t(x >> 8));
  v.push_back(uint8_t(x));
}

// ~250 MB of Ethernet traffic: TCP (ports 22, 80, 443, high), UDP (53, 123, high), some IPv6 and
// ARP, IMIX packet sizes, written with libpcap's pcap_dump.
const std::string& big_pcap() {
  static const std::string path = [] {
    // BPFC_BENCH_PCAP=FILE: use FILE if it exists, else generate it there and keep it.
    const char* env = std::getenv("BPFC_BENCH_PCAP");
    if (env != nullptr && access(env, R_OK) == 0) return std::string(env);
    const std::string p = env != nullptr ? std::string(env) : "/tmp/bpfc_capture_bench_" + std::to_string(getpid()) + ".pcap";
    pcap_t* dead = pcap_open_dead(1, 262144);
    pcap_dumper_t* d = pcap_dump_open(dead, p.c_str());
    std::mt19937 rng(1);
    const uint16_t ports[] = {22, 80, 443, 8080, 53, 123, 40000, 51234};
    std::vector<uint8_t> f;
    size_t total = 0;
    for (uint32_t i = 0; total < (250u << 20); ++i) {
      f.clear();
      for (int k = 0; k < 12; ++k) f.push_back(uint8_t(0x02 + k));
      const uint32_t kind = rng() % 16;
      // Simple IMIX sizes (7:4:1 of 60, 576, 1514 bytes), the usual stand-in for Internet traffic.
      const uint32_t pick = rng() % 12;
      const uint32_t len = pick < 7 ? 60 : pick < 11 ? 576 : 1514;
      if (kind == 15) {
        put16(f, 0x0806);
      } else if (kind == 14) {
        put16(f, 0x86dd);
        put16(f, 0x6000);
        put16(f, 0);
        put16(f, uint16_t(len - 54));
        f.push_back(17);
        f.push_back(64);
      } else {
        put16(f, 0x0800);
        f.push_back(0x45);
        f.push_back(0);
        put16(f, uint16_t(len - 14));
        put16(f, uint16_t(i));
        put16(f, 0x4000);
        f.push_back(64);
        f.push_back(kind < 9 ? 6 : 17);
        put16(f, 0);
        for (int k = 0; k < 8; ++k) f.push_back(uint8_t(10 + (k == 3 ? rng() % 8 : 0)));
        put16(f, ports[rng() % 8]);
        put16(f, ports[rng() % 8]);
      }
      while (f.size() < len) f.push_back(uint8_t(i + f.size()));
      pcap_pkthdr h{};
      h.ts.tv_sec = 1700000000 + i / 1000;
      h.ts.tv_usec = (i % 1000) * 1000;
      h.caplen = h.len = uint32_t(f.size());
      pcap_dump(reinterpret_cast<u_char*>(d), &h, f.data());
      total += 16 + f.size();
    }
    pcap_dump_close(d);
    pcap_close(dead);
    if (env == nullptr) std::atexit([] { unlink(("/tmp/bpfc_capture_bench_" + std::to_string(getpid()) + ".pcap").c_str()); });
    return p;
  }();
  return path;
}

struct Cost {
  double wall = -1;  // seconds
  double cpu = -1;   // user + system seconds of the command (RUSAGE_CHILDREN delta)
};

double cpu_of_children() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

Cost time_cmd(const std::string& cmd) {
  const double c0 = cpu_of_children();
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = std::system(cmd.c_str());
  Cost c;
  if (rc != 0) return c;
  c.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  c.cpu = cpu_of_children() - c0;
  return c;
}

void BM_BpfdumpVsTcpdump(benchmark::State& state, const char* expr) {
  const std::string bpfdump = self_dir() + "/bpfdump";
  if (std::system("tcpdump --version >/dev/null 2>&1") != 0 || access(bpfdump.c_str(), X_OK) != 0) {
    state.SkipWithError("SKIPPED: needs tcpdump and build/bin/bpfdump");
    return;
  }
  const std::string in = big_pcap();
  const std::string out_t = in + ".tcpdump.out", out_b = in + ".bpfdump.out";
  const std::string tcpdump = "tcpdump -r " + in + " -w " + out_t + " '" + expr + "' 2>/dev/null";
  const std::string ours = bpfdump + " -r " + in + " -w " + out_b + " '" + expr + "'";
  time_cmd("cat " + in + " >/dev/null");  // page cache warm for both
  Cost best_t{1e9, 1e9}, best_b{1e9, 1e9};
  for (auto _ : state) {
    for (int rep = 0; rep < 5; ++rep) {
      // Each command starts from the same state, outside the timing: no previous output file
      // to truncate and no dirty pages of earlier runs being written back (ext4 throttles a
      // writer when they pile up, which hit whichever command ran next).
      unlink(out_t.c_str());
      sync();
      const Cost t = time_cmd(tcpdump);
      unlink(out_b.c_str());
      sync();
      const Cost b = time_cmd(ours);
      if (t.wall < 0 || b.wall < 0) {
        state.SkipWithError("a command failed");
        return;
      }
      best_t = {std::min(best_t.wall, t.wall), std::min(best_t.cpu, t.cpu)};
      best_b = {std::min(best_b.wall, b.wall), std::min(best_b.cpu, b.cpu)};
    }
  }
  struct stat st{};
  stat(in.c_str(), &st);
  state.counters["input_MB"] = double(st.st_size) / 1e6;
  state.counters["tcpdump_s"] = best_t.wall;
  state.counters["bpfdump_s"] = best_b.wall;
  state.counters["speedup"] = best_t.wall / best_b.wall;
  state.counters["tcpdump_cpu_s"] = best_t.cpu;
  state.counters["bpfdump_cpu_s"] = best_b.cpu;
  state.counters["cpu_speedup"] = best_t.cpu / best_b.cpu;
  const bool same = std::system(("cmp -s " + out_t + " " + out_b).c_str()) == 0;
  state.counters["same_output"] = same ? 1 : 0;
  unlink(out_t.c_str());
  unlink(out_b.c_str());
}
// Start-up cost of the tools (`--help`: load, relocate, run static constructors, exit), wall
// time per run, best of 20, next to `tcpdump --version`. The LLVM engine is a module loaded on
// first use (jit/backend.hpp), so neither tool pays for libLLVM's relocations here.
void BM_ToolStartup(benchmark::State& state, const char* tool) {
  const std::string cmd = std::string(tool) == "tcpdump"
                              ? std::string("tcpdump --version >/dev/null 2>&1")
                              : self_dir() + "/" + tool + " --help >/dev/null 2>&1";
  double best = 1e9;
  for (auto _ : state) {
    for (int i = 0; i < 20; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      if (std::system(cmd.c_str()) != 0 && std::string(tool) == "tcpdump") {
        state.SkipWithError("SKIPPED: tcpdump not installed");
        return;
      }
      best = std::min(best, std::chrono::duration<double, std::milli>(
                                std::chrono::steady_clock::now() - t0).count());
    }
  }
  state.counters["best_ms"] = best;
}
BENCHMARK_CAPTURE(BM_ToolStartup, bpfc, "bpfc")->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ToolStartup, bpfdump, "bpfdump")->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ToolStartup, tcpdump, "tcpdump")->Iterations(1)->Unit(benchmark::kMillisecond);

BENCHMARK_CAPTURE(BM_BpfdumpVsTcpdump, broad, "tcp port 80 or udp")
    ->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_BpfdumpVsTcpdump, selective, "tcp port 22 and host 10.0.0.3")
    ->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_BpfdumpVsTcpdump, all, "")->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
