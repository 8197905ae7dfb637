// asmjit engine benchmarks, all in one run against the references:
//   libpcap's bpf_filter, the interpreter, the asmjit JIT (per packet and batched with prefetch),
//   and the same eight filters written by hand in C++ (compiled with the rest of the bench, -O2).
//
// Filters are tcpdump expressions compiled by libpcap's pcap_compile for EN10MB; packets are the
// Ethernet corpus (../shared/corpus/ether.pcap, 8510 real frames) or, when it is absent,
// generated Ethernet frames (tests/support). Before timing anything, the setup checks that every
// engine and the hand-written function give the same verdict on every packet (abort otherwise),
// so the timings compare equal work.
//
//   Asmjit/<engine>/<filter>      one pass over all packets; items_per_second = packets/s
//   AsmjitSummary                 ratios measured back to back in one loop (geometric means;
//                                 > 1: the JIT is faster; JIT times = median over 9 copies of
//                                 the code at different addresses):
//     asmjit_call_vs_hand_call      the call loop in the filter's code (one direct call of the
//                                   filter per packet) against the hand-written filter called
//                                   out of line from a loop of its own: the same work per packet
//     asmjit_batch_vs_hand_batch    the loop with the filter inlined (compile_asmjit_batch, what
//                                   Filter::run_batch runs) against the hand-written filter
//                                   inlined into its loop by the compiler (the best C++ can do)
//     asmjit_indirect_vs_hand_indirect  one indirect call per packet (Filter::run) from a call
//                                   site shared by every filter, for both. Measured on Zen 4: an
//                                   indirect call site that has seen more than one target costs
//                                   ~3 cycles more per call whatever the callee (hand-written
//                                   code copied to the JIT's pages behaves the same), so this
//                                   ratio mostly measures the branch predictor's state
//     asmjit_mono_vs_hand_mono      one indirect call per packet from a call site that calls only
//                                   that function (an application with one filter): the
//                                   everyday Filter::run case
//     asmjit_vs_pcap, batch_gain_hot / batch_gain_cold (per-packet indirect / batch entry, on the
//                                   corpus in cache and on a 96 MiB ring), interp_vs_pcap
//   AsmjitCompile/<n>             compile latency of an n-instruction filter (verify excluded);
//                                 /50_inlined_batch_loop: compile_asmjit_batch, which
//                                 Filter::run_batch adds on its first call
//   Asmjit/llvm*/<filter>, llvm_* counters: the LLVM engine (jit/llvm) in the same run, per
//                                 packet (what Filter::run calls) and batched (what
//                                 Filter::run_batch calls: the filter inlined into the loop;
//                                 llvm_batch_vs_hand_batch compares it with the inlined
//                                 hand-written loop), also median over 9 placements; its compile
//                                 latency is LlvmCompile/<n> in llvm_bench.cpp
//
// Run: build/bin/bpfc_bench --benchmark_filter=Asmjit
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <algorithm>
#include <array>
#include <utility>
#include <string>
#include <vector>

#if defined(BPFC_HAVE_ASMJIT) && defined(BPFC_BENCH_HAS_TEST_SUPPORT)
#define BPFC_ASMJIT_BENCH 1
#include "jit/asmjit/asmjit_jit.hpp"
#include "tests/support/packet_gen.hpp"
#include "tests/support/pcap_ref.hpp"
#include "verifier/verifier.hpp"
#include "vm/context.hpp"
#if __has_include("vm/interpreter.hpp")
#include "vm/interpreter.hpp"
#define BPFC_ASMJIT_BENCH_INTERP 1
#endif
#if defined(BPFC_BENCH_HAS_LLVM)  // the LLVM engine in the same run (bench/CMakeLists.txt)
#include "jit/llvm/llvm_engine.hpp"
#define BPFC_ASMJIT_BENCH_LLVM 1
#endif
#endif

#ifdef BPFC_ASMJIT_BENCH
namespace {

using bpf::test::Packet;

// ---- the eight filters, by hand ------------------------------------------------------------
// Each returns exactly what pcap_compile's program returns, including 0 when a load the
// program makes would be out of the captured bytes (checked in setup against bpf_filter).

constexpr uint32_t kAccept = 262144;

inline uint32_t be16(const uint8_t* p) { return uint32_t(p[0]) << 8 | p[1]; }
inline uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

uint32_t hand_ip(const uint8_t* p, uint32_t len) {
  if (len < 14) return 0;
  return be16(p + 12) == 0x0800 ? kAccept : 0;
}

uint32_t hand_arp(const uint8_t* p, uint32_t len) {
  if (len < 14) return 0;
  return be16(p + 12) == 0x0806 ? kAccept : 0;
}

// tcp/udp port N, IPv6 and IPv4 (non-fragment, any IHL), as gen_port does.
template <uint8_t kProto, uint16_t kPort>
uint32_t hand_port(const uint8_t* p, uint32_t len) {
  if (len < 14) return 0;
  const uint32_t et = be16(p + 12);
  if (et == 0x86dd) {
    if (len < 21 || p[20] != kProto) return 0;
    if (len < 56) return 0;
    if (be16(p + 54) == kPort) return kAccept;
    if (len < 58) return 0;
    return be16(p + 56) == kPort ? kAccept : 0;
  }
  if (et != 0x0800) return 0;
  if (len < 24 || p[23] != kProto) return 0;
  if (be16(p + 20) & 0x1fff) return 0;
  const uint32_t x = (p[14] & 0xfu) * 4;
  if (x + 16 > len) return 0;
  if (be16(p + x + 14) == kPort) return kAccept;
  if (x + 18 > len) return 0;
  return be16(p + x + 16) == kPort ? kAccept : 0;
}

// host / net on IPv4, ARP and RARP, as gen_host does.
template <uint32_t kAddr, uint32_t kMask>
uint32_t hand_host(const uint8_t* p, uint32_t len) {
  if (len < 14) return 0;
  const uint32_t et = be16(p + 12);
  if (et == 0x0800) {
    if (len < 30) return 0;
    if ((be32(p + 26) & kMask) == kAddr) return kAccept;
    if (len < 34) return 0;
    return (be32(p + 30) & kMask) == kAddr ? kAccept : 0;
  }
  if (et != 0x0806 && et != 0x8035) return 0;
  if (len < 32) return 0;
  if ((be32(p + 28) & kMask) == kAddr) return kAccept;
  if (len < 42) return 0;
  return (be32(p + 38) & kMask) == kAddr ? kAccept : 0;
}

uint32_t hand_tcp_syn(const uint8_t* p, uint32_t len) {
  if (len < 14 || be16(p + 12) != 0x0800) return 0;
  if (len < 24 || p[23] != 6) return 0;
  if (be16(p + 20) & 0x1fff) return 0;
  const uint32_t x = (p[14] & 0xfu) * 4;
  if (x + 28 > len) return 0;
  return (p[x + 27] & 2) ? kAccept : 0;
}

uint32_t hand_icmp(const uint8_t* p, uint32_t len) {
  if (len < 14 || be16(p + 12) != 0x0800) return 0;
  if (len < 24) return 0;
  return p[23] == 1 ? kAccept : 0;
}

using HandFn = uint32_t (*)(const uint8_t*, uint32_t);

struct FilterSpec {
  const char* name;
  const char* expr;
  HandFn hand;
};

constexpr FilterSpec kFilters[] = {
    {"ip", "ip", hand_ip},
    {"arp", "arp", hand_arp},
    {"tcp_port_22", "tcp port 22", hand_port<6, 22>},
    {"host", "host 10.0.0.1", hand_host<0x0a000001u, 0xffffffffu>},
    {"udp_port_53", "udp port 53", hand_port<17, 53>},
    {"tcp_syn", "tcp[tcpflags] & tcp-syn != 0", hand_tcp_syn},
    {"net", "net 192.168.1.0/24", hand_host<0xc0a80100u, 0xffffff00u>},
    {"icmp", "icmp", hand_icmp},
};
constexpr size_t kNumFilters = sizeof(kFilters) / sizeof(kFilters[0]);

// The hand-written filters as a per-packet call (a direct call of an out-of-line function, one
// call site per filter) and as a batch loop (the filter inlined into the loop): the two shapes
// the JIT's batch entry is compared with. Both write one verdict per packet, as the engines'
// batch entries do.
struct PacketRef;
using HandLoop = void (*)(const PacketRef* pkts, size_t n, uint32_t* out);

// ---- shared state --------------------------------------------------------------------------

struct PacketRef {
  const uint8_t* data;
  uint32_t caplen;
  uint32_t wirelen;
};

struct Compiled {
  std::vector<bpf::vm::Insn> insns;
  std::vector<bpf::vm::VerifiedProgram> verified;  // 0 or 1
  bpf::jit::NativeCode code;
  // The same filter compiled kPlacements more times: each copy sits on its own page. The
  // per-call cost of a tiny filter depends on the branch predictor's view of the calling site
  // (one target or several, near or far code; ~3 cycles per call on Zen 4), not on the code,
  // so the summary reports the median over copies rather than one arbitrary address.
  std::vector<bpf::jit::NativeCode> placements;
  // compile_asmjit_batch (the loop with the filter inlined: what Filter::run_batch runs), the
  // same number of copies.
  std::vector<bpf::jit::NativeCode> batch_placements;
#ifdef BPFC_ASMJIT_BENCH_INTERP
  std::vector<bpf::vm::Interpreter> interp;  // 0 or 1
#endif
#ifdef BPFC_ASMJIT_BENCH_LLVM
  // [0]: the one compiled first; [1 + p]: placement p (as `placements` for asmjit).
  std::vector<bpf::jit::LlvmCode> llvm;
#endif
};

constexpr size_t kPlacements = 9;
static_assert(3 * kNumFilters * kPlacements <= 256, "one mono_pass call site per measurement");

struct Setup {
  std::vector<Packet> storage;
  std::vector<PacketRef> pkts;
  // A capture ring far larger than the last-level cache: the corpus packets copied into 2 KiB
  // slots of a 96 MiB buffer, so each packet's header is a cache miss, as in a live capture.
  std::vector<uint8_t> ring;
  std::vector<PacketRef> cold;
  std::vector<Compiled> filters;
  std::string source;
};

template <size_t F>
__attribute__((noinline)) uint32_t hand_out_of_line(const uint8_t* p, uint32_t len) {
  return kFilters[F].hand(p, len);
}
template <size_t F>
void hand_call_loop(const PacketRef* pkts, size_t n, uint32_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = hand_out_of_line<F>(pkts[i].data, pkts[i].caplen);
}
template <size_t F>
void hand_inline_loop(const PacketRef* pkts, size_t n, uint32_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = kFilters[F].hand(pkts[i].data, pkts[i].caplen);
}
template <size_t... F>
constexpr std::array<HandLoop, kNumFilters> call_loops(std::index_sequence<F...>) {
  return {hand_call_loop<F>...};
}
template <size_t... F>
constexpr std::array<HandLoop, kNumFilters> inline_loops(std::index_sequence<F...>) {
  return {hand_inline_loop<F>...};
}
constexpr auto kHandCallLoops = call_loops(std::make_index_sequence<kNumFilters>());
constexpr auto kHandInlineLoops = inline_loops(std::make_index_sequence<kNumFilters>());

// Per-packet calls from a call site that only ever calls one function (as an application with
// one filter calls Filter::run): every (engine, filter, code copy) gets its own instantiation of
// mono_pass, so its indirect call has a single target. The asm statement keeps the
// instantiations distinct (identical code folding would merge them into one call site).
using RunSig = uint32_t (*)(const void*, const uint8_t*, uint32_t, uint32_t,
                            const bpf::vm::Context&);
using MonoPass = uint64_t (*)(RunSig, const PacketRef*, size_t, const bpf::vm::Context&);
template <size_t N>
__attribute__((noinline)) uint64_t mono_pass(RunSig fn, const PacketRef* pkts, size_t n,
                                             const bpf::vm::Context& ctx) {
  uint64_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    asm volatile("# mono call site %0" ::"i"(N));
    sum += fn(nullptr, pkts[i].data, pkts[i].caplen, pkts[i].wirelen, ctx);
  }
  return sum;
}
template <size_t... N>
constexpr auto mono_passes(std::index_sequence<N...>) {
  return std::array<MonoPass, sizeof...(N)>{mono_pass<N>...};
}
constexpr auto kMonoPasses = mono_passes(std::make_index_sequence<256>());
template <size_t F>
__attribute__((noinline)) uint32_t hand_run(const void*, const uint8_t* p, uint32_t len, uint32_t,
                                            const bpf::vm::Context&) {
  return kFilters[F].hand(p, len);
}
template <size_t... F>
constexpr std::array<RunSig, kNumFilters> hand_runs(std::index_sequence<F...>) {
  return {hand_run<F>...};
}
constexpr auto kHandRuns = hand_runs(std::make_index_sequence<kNumFilters>());

// The engines' batch entries take vm::PacketRef, laid out exactly as PacketRef here.
static_assert(sizeof(PacketRef) == sizeof(bpf::vm::PacketRef) &&
              offsetof(PacketRef, caplen) == offsetof(bpf::vm::PacketRef, caplen) &&
              offsetof(PacketRef, wirelen) == offsetof(bpf::vm::PacketRef, wirelen));
const bpf::vm::PacketRef* as_vm(const std::vector<PacketRef>& v) {
  return reinterpret_cast<const bpf::vm::PacketRef*>(v.data());
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "asmjit_bench setup: %s\n", msg.c_str());
  std::abort();
}

bpf::vm::VerifiedProgram verify_or_die(const std::vector<bpf::vm::Insn>& insns,
                                       const std::string& what) {
  bpf::vm::Program prog;
  prog.insns = insns;
  bpf::verifier::Options vo;
  vo.target = bpf::vm::Target::kBsd;
  auto v = bpf::verifier::verify(prog, vo);
  if (!v) die("verifier rejected " + what + ": " + v.diagnostics().render(what));
  return v.take();
}

std::vector<bpf::vm::Insn> compile_or_die(const char* expr) {
  std::string err;
  auto insns = bpf::test::pcap_compile_expr(expr, 1, 262144, true, &err);
  if (!insns) die(std::string("pcap_compile(") + expr + "): " + err);
  return *insns;
}

const Setup& setup() {
  static const Setup* s = [] {
    auto* st = new Setup();
    st->storage = bpf::test::load_corpus("ether");
    st->source = "corpus ether.pcap";
    if (st->storage.empty()) {
      bpf::test::Rng rng(1);
      for (int i = 0; i < 8192; ++i) st->storage.push_back(bpf::test::ethernet_frame(rng));
      st->source = "generated Ethernet frames";
    }
    for (const Packet& p : st->storage) st->pkts.push_back({p.data.data(), p.caplen(), p.wirelen});
    constexpr size_t kSlot = 2048, kRingBytes = size_t{96} << 20;
    st->ring.assign(kRingBytes, 0);
    for (size_t i = 0; i < kRingBytes / kSlot; ++i) {
      const PacketRef& src = st->pkts[i % st->pkts.size()];
      const uint32_t n = std::min<uint32_t>(src.caplen, kSlot);
      std::memcpy(st->ring.data() + i * kSlot, src.data, n);
      st->cold.push_back({st->ring.data() + i * kSlot, n, src.wirelen});
    }
    bpf::vm::Context ctx;
    for (const FilterSpec& f : kFilters) {
      Compiled c;
      c.insns = compile_or_die(f.expr);
      c.verified.push_back(verify_or_die(c.insns, f.expr));
      auto code = bpf::jit::compile_asmjit(c.verified[0]);
      if (!code) die(std::string("asmjit failed on ") + f.expr);
      c.code = code.take();
      for (size_t i = 0; i < kPlacements; ++i) c.placements.push_back(bpf::jit::compile_asmjit(c.verified[0]).take());
      for (size_t i = 0; i < kPlacements; ++i)
        c.batch_placements.push_back(bpf::jit::compile_asmjit_batch(c.verified[0]).take());
#ifdef BPFC_ASMJIT_BENCH_INTERP
      c.interp.emplace_back(c.verified[0]);
#endif
#ifdef BPFC_ASMJIT_BENCH_LLVM
      for (size_t i = 0; i <= kPlacements; ++i) {
        auto l = bpf::jit::LlvmCode::compile(c.verified[0], bpf::jit::kLlvmFilterOptLevel, true);
        if (!l) die(std::string("llvm failed on ") + f.expr + ": " + l.diagnostics().render(f.expr));
        c.llvm.push_back(l.take());
      }
      {
        std::vector<uint32_t> out(st->pkts.size());
        c.llvm[0].batch_function()(nullptr, as_vm(st->pkts), out.size(), out.data(), ctx);
        for (size_t i = 0; i < out.size(); ++i) {
          const PacketRef& p = st->pkts[i];
          const uint32_t ref = bpf::test::pcap_filter(c.insns, p.data, p.caplen, p.wirelen);
          if (out[i] != ref || c.llvm[0].run(p.data, p.caplen, p.wirelen, ctx) != ref)
            die(std::string("llvm differs on '") + f.expr + "'");
        }
      }
#endif
      std::vector<uint32_t> inlined(st->pkts.size()), called(st->pkts.size());
      c.batch_placements[0].batch_fn()(nullptr, as_vm(st->pkts), st->pkts.size(), inlined.data(), ctx);
      c.code.batch_fn()(nullptr, as_vm(st->pkts), st->pkts.size(), called.data(), ctx);
      size_t accepted = 0;
      for (size_t i = 0; i < st->pkts.size(); ++i) {
        const PacketRef& p = st->pkts[i];
        const uint32_t ref = bpf::test::pcap_filter(c.insns, p.data, p.caplen, p.wirelen);
        if (inlined[i] != ref || called[i] != ref)
          die(std::string("asmjit batch loops differ on '") + f.expr + "'");
        const uint32_t jit = c.code.fn()(p.data, p.caplen, p.wirelen, &ctx);
        const uint32_t hand = f.hand(p.data, p.caplen);
        if (jit != ref || hand != ref)
          die(std::string("verdicts differ on '") + f.expr + "': pcap " + std::to_string(ref) +
              " asmjit " + std::to_string(jit) + " hand " + std::to_string(hand) +
              " (caplen " + std::to_string(p.caplen) + ")");
#ifdef BPFC_ASMJIT_BENCH_INTERP
        if (c.interp[0].run(p.data, p.caplen, p.wirelen, ctx) != ref)
          die(std::string("interpreter differs on '") + f.expr + "'");
#endif
        accepted += ref != 0;
      }
      if (accepted == 0 || accepted == st->pkts.size())
        std::fprintf(stderr, "asmjit_bench: note: '%s' gives one verdict on every packet\n",
                     f.expr);
      st->filters.push_back(std::move(c));
    }
    return st;
  }();
  return *s;
}

// ---- the engines, one pass over all packets each -------------------------------------------

enum class Engine {
  kPcap, kInterp, kAsmjit, kAsmjitBatch, kAsmjitCallLoop, kHand, kHandCall, kHandBatch, kLlvm,
  kLlvmBatch,
  kHandMono, kAsmjitMono, kLlvmMono  // per-packet calls from a call site of their own
};

// One pass of engine `e` with filter `f` over `pkts`; `placement` picks the copy of the JIT code
// (-1: the first compiled one).
uint64_t pass(Engine e, size_t f, const std::vector<PacketRef>& pkts, int placement = -1) {
  const Setup& s = setup();
  const Compiled& c = s.filters[f];
  static const bpf::vm::Context ctx;
  const bpf::jit::NativeFilterFn fn =
      placement < 0 ? c.code.fn() : c.placements[size_t(placement)].fn();
  uint64_t sum = 0;
  switch (e) {
    case Engine::kPcap:
      for (const PacketRef& p : pkts)
        sum += bpf::test::pcap_filter(c.insns, p.data, p.caplen, p.wirelen);
      break;
    case Engine::kInterp:
#ifdef BPFC_ASMJIT_BENCH_INTERP
      for (const PacketRef& p : pkts) sum += c.interp[0].run(p.data, p.caplen, p.wirelen, ctx);
#endif
      break;
    case Engine::kAsmjit:
      for (const PacketRef& p : pkts) sum += fn(p.data, p.caplen, p.wirelen, &ctx);
      break;
    case Engine::kAsmjitBatch:
    case Engine::kAsmjitCallLoop: {
      // kAsmjitBatch: the loop with the filter inlined (compile_asmjit_batch, what
      // Filter::run_batch runs); kAsmjitCallLoop: the loop in the filter's own code that calls
      // it once per packet (emit_batch_entry). Both prefetch ahead.
      static std::vector<uint32_t> out;
      out.resize(pkts.size());
      const size_t copy = placement < 0 ? 0 : size_t(placement);
      const bpf::jit::NativeCode& code =
          e == Engine::kAsmjitBatch ? c.batch_placements[copy]
                                    : (placement < 0 ? c.code : c.placements[copy]);
      code.batch_fn()(nullptr, as_vm(pkts), pkts.size(), out.data(), ctx);
      for (uint32_t v : out) sum += v;
      break;
    }
    case Engine::kHandCall:
    case Engine::kHandBatch: {
      static std::vector<uint32_t> out;
      out.resize(pkts.size());
      (e == Engine::kHandCall ? kHandCallLoops : kHandInlineLoops)[f](pkts.data(), pkts.size(),
                                                                     out.data());
      for (uint32_t v : out) sum += v;
      break;
    }
    case Engine::kHand: {
      const HandFn h = kFilters[f].hand;
      for (const PacketRef& p : pkts) sum += h(p.data, p.caplen);
      break;
    }
    case Engine::kHandMono:
    case Engine::kAsmjitMono:
    case Engine::kLlvmMono: {
      const size_t which = e == Engine::kHandMono ? 0 : e == Engine::kAsmjitMono ? 1 : 2;
      const size_t copy = placement < 0 ? 0 : size_t(placement);
      const size_t slot = (which * kNumFilters + f) * kPlacements + copy;
      RunSig fn = nullptr;
      if (which == 0) fn = kHandRuns[f];
      if (which == 1)
        fn = reinterpret_cast<RunSig>(
            (placement < 0 ? c.code : c.placements[copy]).backend_entry());
#ifdef BPFC_ASMJIT_BENCH_LLVM
      if (which == 2) fn = c.llvm[copy + 1].function();
#endif
      if (fn != nullptr) sum = kMonoPasses[slot](fn, pkts.data(), pkts.size(), ctx);
      break;
    }
    case Engine::kLlvm: {
#ifdef BPFC_ASMJIT_BENCH_LLVM
      const bpf::jit::LlvmFilterFn lf = c.llvm[size_t(placement + 1)].function();
      for (const PacketRef& p : pkts) sum += lf(nullptr, p.data, p.caplen, p.wirelen, ctx);
#endif
      break;
    }
    case Engine::kLlvmBatch: {
#ifdef BPFC_ASMJIT_BENCH_LLVM
      static std::vector<uint32_t> out;
      out.resize(pkts.size());
      c.llvm[size_t(placement + 1)].batch_function()(nullptr, as_vm(pkts), pkts.size(),
                                                      out.data(), ctx);
      for (uint32_t v : out) sum += v;
#endif
      break;
    }
  }
  return sum;
}

uint64_t pass(Engine e, size_t f) { return pass(e, f, setup().pkts); }

void BM_Filter(benchmark::State& state, Engine e, size_t f) {
  const Setup& s = setup();
#ifndef BPFC_ASMJIT_BENCH_INTERP
  if (e == Engine::kInterp) {
    state.SkipWithError("interpreter not built");
    return;
  }
#endif
#ifndef BPFC_ASMJIT_BENCH_LLVM
  if (e == Engine::kLlvm || e == Engine::kLlvmBatch) {
    state.SkipWithError("LLVM engine not built");
    return;
  }
#endif
  for (auto _ : state) benchmark::DoNotOptimize(pass(e, f));
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(s.pkts.size()));
  state.SetLabel(s.source);
}

// ns per packet for one engine and filter over `pkts`, best of `reps` passes.
double ns_per_packet(Engine e, size_t f, int reps, const std::vector<PacketRef>& pkts,
                     int placement = -1) {
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(pass(e, f, pkts, placement));
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  return best / double(pkts.size());
}

// Median over the placements of the JIT code (see Compiled::placements).
double jit_ns_median(Engine e, size_t f, int reps, const std::vector<PacketRef>& pkts,
                     double* lo = nullptr, double* hi = nullptr) {
  std::vector<double> v;
  for (size_t p = 0; p < kPlacements; ++p) v.push_back(ns_per_packet(e, f, reps, pkts, int(p)));
  std::sort(v.begin(), v.end());
  if (lo) *lo = v.front();
  if (hi) *hi = v.back();
  return v[v.size() / 2];
}

void BM_Summary(benchmark::State& state) {
  const Setup& s = setup();
  double log_vs_pcap = 0, log_ind = 0, log_ind_best = 0, log_call = 0, log_batch_hand = 0,
         log_batch = 0, log_batch_cold = 0, log_interp = 0, log_mono = 0;
  for (auto _ : state) {
    for (size_t f = 0; f < kNumFilters; ++f) {
      const std::string name = kFilters[f].name;
      const double pcap = ns_per_packet(Engine::kPcap, f, 9, s.pkts);
      const double hand = ns_per_packet(Engine::kHand, f, 9, s.pkts);
      const double hand_call = ns_per_packet(Engine::kHandCall, f, 9, s.pkts);
      const double hand_batch = ns_per_packet(Engine::kHandBatch, f, 9, s.pkts);
      double jit_lo = 0, jit_hi = 0;
      const double jit = jit_ns_median(Engine::kAsmjit, f, 9, s.pkts, &jit_lo, &jit_hi);
      const double batch = jit_ns_median(Engine::kAsmjitBatch, f, 9, s.pkts);
      const double call_loop = jit_ns_median(Engine::kAsmjitCallLoop, f, 9, s.pkts);
      const double cold = jit_ns_median(Engine::kAsmjit, f, 2, s.cold);
      const double cold_batch = jit_ns_median(Engine::kAsmjitBatch, f, 2, s.cold);
      log_vs_pcap += std::log(pcap / jit);
      log_ind += std::log(hand / jit);
      log_ind_best += std::log(hand / jit_lo);
      log_call += std::log(hand_call / call_loop);
      state.counters[name + "_jit_call_loop_ns"] = call_loop;
      log_batch_hand += std::log(hand_batch / batch);
      log_batch += std::log(jit / batch);
      const double hand_mono = jit_ns_median(Engine::kHandMono, f, 9, s.pkts);
      const double jit_mono = jit_ns_median(Engine::kAsmjitMono, f, 9, s.pkts);
      log_mono += std::log(hand_mono / jit_mono);
      state.counters[name + "_hand_mono_ns"] = hand_mono;
      state.counters[name + "_jit_mono_ns"] = jit_mono;
      log_batch_cold += std::log(cold / cold_batch);
#ifdef BPFC_ASMJIT_BENCH_INTERP
      const double interp = ns_per_packet(Engine::kInterp, f, 9, s.pkts);
      log_interp += std::log(pcap / interp);
      state.counters[name + "_interp_ns"] = interp;
#endif
      state.counters[name + "_pcap_ns"] = pcap;
      state.counters[name + "_hand_ns"] = hand;
      state.counters[name + "_hand_call_ns"] = hand_call;
      state.counters[name + "_hand_batch_ns"] = hand_batch;
      state.counters[name + "_jit_ns"] = jit;
      state.counters[name + "_jit_ns_min"] = jit_lo;
      state.counters[name + "_jit_ns_max"] = jit_hi;
      state.counters[name + "_jit_batch_ns"] = batch;
      state.counters[name + "_jit_vs_pcap"] = pcap / jit;
      state.counters[name + "_cold_ns"] = cold;
      state.counters[name + "_cold_batch_ns"] = cold_batch;
    }
  }
  const double n = double(kNumFilters);
#ifdef BPFC_ASMJIT_BENCH_LLVM
  // The LLVM engine, measured the same way (medians over placements): >1 means LLVM is faster.
  double log_l_asmjit = 0, log_l_hand = 0, log_lb_asmjitb = 0, log_lb_hand = 0, log_l_pcap = 0,
         log_lb_cold = 0, log_lb_pcap = 0, log_lm_asmjit = 0, log_lm_hand = 0;
  for (size_t f = 0; f < kNumFilters; ++f) {
    const std::string name = kFilters[f].name;
    const double pcap = ns_per_packet(Engine::kPcap, f, 9, s.pkts);
    const double hand = ns_per_packet(Engine::kHand, f, 9, s.pkts);
    const double hand_batch = ns_per_packet(Engine::kHandBatch, f, 9, s.pkts);
    const double jit = jit_ns_median(Engine::kAsmjit, f, 9, s.pkts);
    const double jitb = jit_ns_median(Engine::kAsmjitBatch, f, 9, s.pkts);
    const double jitb_cold = jit_ns_median(Engine::kAsmjitBatch, f, 2, s.cold);
    const double llvm = jit_ns_median(Engine::kLlvm, f, 9, s.pkts);
    const double llvmb = jit_ns_median(Engine::kLlvmBatch, f, 9, s.pkts);
    const double llvmb_cold = jit_ns_median(Engine::kLlvmBatch, f, 2, s.cold);
    log_l_asmjit += std::log(jit / llvm);
    const double llvm_mono = jit_ns_median(Engine::kLlvmMono, f, 9, s.pkts);
    const double jit_mono = jit_ns_median(Engine::kAsmjitMono, f, 9, s.pkts);
    const double hand_mono = jit_ns_median(Engine::kHandMono, f, 9, s.pkts);
    log_lm_asmjit += std::log(jit_mono / llvm_mono);
    log_lm_hand += std::log(hand_mono / llvm_mono);
    state.counters[name + "_llvm_mono_ns"] = llvm_mono;
    log_l_hand += std::log(hand / llvm);
    log_lb_asmjitb += std::log(jitb / llvmb);
    log_lb_hand += std::log(hand_batch / llvmb);
    log_l_pcap += std::log(pcap / llvm);
    log_lb_pcap += std::log(pcap / llvmb);
    log_lb_cold += std::log(jitb_cold / llvmb_cold);
    state.counters[name + "_llvm_ns"] = llvm;
    state.counters[name + "_llvm_batch_ns"] = llvmb;
    state.counters[name + "_llvm_cold_batch_ns"] = llvmb_cold;
  }
  state.counters["llvm_vs_asmjit"] = std::exp(log_l_asmjit / n);
  state.counters["llvm_mono_vs_asmjit_mono"] = std::exp(log_lm_asmjit / n);
  state.counters["llvm_mono_vs_hand_mono"] = std::exp(log_lm_hand / n);
  state.counters["llvm_vs_hand"] = std::exp(log_l_hand / n);
  state.counters["llvm_batch_vs_asmjit_batch"] = std::exp(log_lb_asmjitb / n);
  state.counters["llvm_batch_vs_hand_batch"] = std::exp(log_lb_hand / n);
  state.counters["llvm_batch_vs_asmjit_batch_cold"] = std::exp(log_lb_cold / n);
  state.counters["llvm_vs_pcap"] = std::exp(log_l_pcap / n);
  state.counters["llvm_batch_vs_pcap"] = std::exp(log_lb_pcap / n);
#endif
  state.counters["asmjit_vs_pcap"] = std::exp(log_vs_pcap / n);
  state.counters["asmjit_call_vs_hand_call"] = std::exp(log_call / n);
  state.counters["asmjit_mono_vs_hand_mono"] = std::exp(log_mono / n);
  state.counters["asmjit_batch_vs_hand_batch"] = std::exp(log_batch_hand / n);
  state.counters["asmjit_indirect_vs_hand_indirect"] = std::exp(log_ind / n);
  state.counters["asmjit_indirect_best_placement_vs_hand"] = std::exp(log_ind_best / n);
  state.counters["batch_gain_hot"] = std::exp(log_batch / n);
  state.counters["batch_gain_cold"] = std::exp(log_batch_cold / n);
#ifdef BPFC_ASMJIT_BENCH_INTERP
  state.counters["interp_vs_pcap"] = std::exp(log_interp / n);
#endif
}

// Compile latency: pcap_compile output of 18 and 50 instructions, verified once outside the
// loop. Each iteration compiles kBatch filters and times them with the thread's CPU clock
// (other processes on the machine do not count), then frees them untimed (freeing returns the
// page to the cache with one mprotect; it is not part of the latency to a runnable filter).
double thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

void BM_Compile(benchmark::State& state, const char* expr, bool dual, bool batch = false) {
  constexpr int kBatch = 32;
  const auto insns = compile_or_die(expr);
  const auto verified = verify_or_die(insns, expr);
  bpf::jit::AsmjitOptions opts;
  opts.dual_version = dual;
  std::vector<bpf::jit::NativeCode> keep;
  keep.reserve(kBatch);
  for (auto _ : state) {
    const double t0 = thread_cpu_ns();
    for (int i = 0; i < kBatch; ++i)
      keep.push_back((batch ? bpf::jit::compile_asmjit_batch(verified, opts)
                            : bpf::jit::compile_asmjit(verified, opts)).take());
    const double t1 = thread_cpu_ns();
    state.SetIterationTime((t1 - t0) / 1e9 / kBatch);
    keep.clear();
  }
  state.SetLabel(std::to_string(insns.size()) + " insns, CPU time per compile");
}

int register_all() {
  const std::pair<Engine, const char*> engines[] = {{Engine::kPcap, "pcap"},
                                                    {Engine::kInterp, "interp"},
                                                    {Engine::kAsmjit, "asmjit"},
                                                    {Engine::kAsmjitBatch, "asmjit_batch"},
                                                    {Engine::kAsmjitCallLoop, "asmjit_call_loop"},
                                                    {Engine::kHand, "hand"},
                                                    {Engine::kHandCall, "hand_call"},
                                                    {Engine::kHandBatch, "hand_batch"},
                                                    {Engine::kLlvm, "llvm"},
                                                    {Engine::kLlvmBatch, "llvm_batch"}};
  for (size_t f = 0; f < kNumFilters; ++f)
    for (auto [e, name] : engines)
      benchmark::RegisterBenchmark(
          (std::string("Asmjit/") + name + "/" + kFilters[f].name).c_str(),
          [e = e, f](benchmark::State& st) { BM_Filter(st, e, f); });
  benchmark::RegisterBenchmark("AsmjitSummary", BM_Summary)->Iterations(1)->Unit(benchmark::kMillisecond);
  const char* k18 = "net 192.168.1.0/24";
  const char* k50 = "host 10.0.0.1 or host 10.0.0.2 or tcp port 80 or udp port 53 or tcp port 443";
  benchmark::RegisterBenchmark("AsmjitCompile/18",
                               [=](benchmark::State& st) { BM_Compile(st, k18, true); })
      ->UseManualTime()
      ->Iterations(3000)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("AsmjitCompile/50",
                               [=](benchmark::State& st) { BM_Compile(st, k50, true); })
      ->UseManualTime()
      ->Iterations(3000)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("AsmjitCompile/50_inlined_batch_loop",
                               [=](benchmark::State& st) { BM_Compile(st, k50, true, true); })
      ->UseManualTime()
      ->Iterations(3000)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("AsmjitCompile/50_single_copy",
                               [=](benchmark::State& st) { BM_Compile(st, k50, false); })
      ->UseManualTime()
      ->Iterations(3000)
      ->Unit(benchmark::kMicrosecond);
  return 0;
}
const int kRegistered = register_all();

}  // namespace
#endif  // BPFC_ASMJIT_BENCH
