// asmjit JIT vs the interpreter (and libpcap's bpf_filter) on random and real inputs.
//
// - RandomPrograms: >= 1,000,000 (random valid program, packet) pairs per run, Linux and BSD,
//   each program verified by the real verifier and compiled once (cycling through the code
//   generator's options: with and without the check-free copy, with and without movbe/BMI2),
//   then run on a few hundred packets (generated Ethernet frames, snapped frames, random bytes)
//   with random ancillary contexts. Zero disagreements allowed; the first few are printed with
//   the program.
// - Through bpf::jit::Filter (kAsmjit and kAuto): run and run_batch agree with the interpreter.
// - Corpus: tcpdump expressions compiled by libpcap, asmjit vs bpf_filter on every packet of
//   ../shared/corpus/ether.pcap (generated frames when it is absent).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include <cstdio>
#include <string>
#include <vector>

#include "jit/asmjit/asmjit_jit.hpp"
#include "jit/engine.hpp"
#include "tests/support/packet_gen.hpp"
#include "tests/support/pcap_ref.hpp"
#include "tests/support/program_gen.hpp"
#include "verifier/verifier.hpp"
#include "vm/interpreter.hpp"

namespace bpf::jit {
namespace {

std::string dump(const std::vector<vm::Insn>& insns) {
  std::string s;
  char buf[64];
  for (const vm::Insn& in : insns) {
    std::snprintf(buf, sizeof buf, "  { 0x%02x, %u, %u, 0x%08x },\n", in.code, in.jt, in.jf, in.k);
    s += buf;
  }
  return s;
}

// Packets are copied to end exactly at an inaccessible page (one also precedes the buffer), so a
// native read past caplen or before the packet faults instead of passing silently.
class GuardedPacket {
 public:
  static constexpr size_t kMax = 16384;
  GuardedPacket() {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* m = mmap(nullptr, kMax + 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    base_ = static_cast<uint8_t*>(m);
    mprotect(base_, page_, PROT_NONE);
    mprotect(base_ + page_ + kMax, page_, PROT_NONE);
  }
  ~GuardedPacket() { munmap(base_, kMax + 2 * page_); }
  const uint8_t* place(const test::Packet& p) {
    uint8_t* dst = base_ + page_ + kMax - p.data.size();
    if (!p.data.empty()) std::memcpy(dst, p.data.data(), p.data.size());
    return dst;
  }

 private:
  uint8_t* base_ = nullptr;
  size_t page_ = 0;
};

struct DiffStats {
  size_t programs = 0;
  size_t rejected = 0;
  size_t pairs = 0;
  size_t nonzero = 0;
  size_t mismatches = 0;
  size_t batch_pairs = 0;  // through compile_asmjit_batch's inlined loop
};

void run_random(vm::Target target, uint64_t seed, size_t programs, size_t packets_per_program,
                DiffStats& st) {
  test::Rng rng(seed);
  test::GenOptions gen;
  gen.target = target;
  gen.ret_x = target == vm::Target::kBsd;
  std::vector<test::Packet> pkts = test::packet_mix(rng, 512);
  GuardedPacket guard;
  std::vector<vm::Context> ctxs;
  for (int i = 0; i < 16; ++i) ctxs.push_back(test::random_context(rng));
  ctxs.push_back(vm::Context{});
  for (size_t p = 0; p < programs; ++p) {
    vm::Program prog;
    prog.insns = test::random_program(rng, gen);
    verifier::Options vo;
    vo.target = target;
    auto verified = verifier::verify(prog, vo);
    if (!verified) {
      ++st.rejected;
      continue;
    }
    ++st.programs;
    AsmjitOptions opts;
    opts.dual_version = (p & 1) == 0;
    opts.use_cpu_extensions = (p & 2) == 0;
    auto code = compile_asmjit(*verified, opts);
    ASSERT_TRUE(code.ok()) << code.diagnostics().render("<random>");
    const vm::Interpreter interp(*verified);
    const NativeFilterFn fn = code->fn();
    for (size_t j = 0; j < packets_per_program; ++j) {
      const test::Packet& pk = pkts[test::below(rng, pkts.size())];
      const vm::Context& ctx = ctxs[test::below(rng, ctxs.size())];
      const uint32_t want = interp.run(pk.data.data(), pk.caplen(), pk.wirelen, ctx);
      const uint32_t got = fn(guard.place(pk), pk.caplen(), pk.wirelen, &ctx);
      ++st.pairs;
      st.nonzero += want != 0;
      if (want != got && st.mismatches++ < 5) {
        ADD_FAILURE() << "asmjit " << got << " != interpreter " << want << " (target "
                      << (target == vm::Target::kLinux ? "linux" : "bsd") << ", caplen "
                      << pk.caplen() << ", wirelen " << pk.wirelen << ", dual "
                      << opts.dual_version << ", cpu ext " << opts.use_cpu_extensions
                      << ")\nprogram:\n"
                      << dump(prog.insns);
      }
    }
    // Every fourth program also through the loop with the filter inlined, over 64 packets.
    if (p % 4 == 0) {
      auto batch = compile_asmjit_batch(*verified, opts);
      ASSERT_TRUE(batch.ok()) << batch.diagnostics().render("<random>");
      std::vector<vm::PacketRef> refs;
      for (size_t j = 0; j < 64; ++j) {
        const test::Packet& pk = pkts[test::below(rng, pkts.size())];
        refs.push_back({pk.data.data(), pk.caplen(), pk.wirelen});
      }
      const vm::Context& ctx = ctxs[test::below(rng, ctxs.size())];
      std::vector<uint32_t> got(refs.size() + 1, 0xdeadbeef);
      batch->batch_fn()(nullptr, refs.data(), refs.size(), got.data(), ctx);
      EXPECT_EQ(got.back(), 0xdeadbeefu) << "wrote past the batch";
      for (size_t j = 0; j < refs.size(); ++j) {
        const uint32_t want = interp.run(refs[j].data, refs[j].caplen, refs[j].wirelen, ctx);
        ++st.batch_pairs;
        if (want != got[j] && st.mismatches++ < 5)
          ADD_FAILURE() << "asmjit inlined batch " << got[j] << " != interpreter " << want
                        << " (caplen " << refs[j].caplen << ", dual " << opts.dual_version
                        << ")\nprogram:\n"
                        << dump(prog.insns);
      }
    }
  }
}

TEST(AsmjitDiff, RandomProgramsMillionPairs) {
  DiffStats st;
  run_random(vm::Target::kLinux, 0xa5a5, 3200, 256, st);
  run_random(vm::Target::kBsd, 0x5a5a, 2200, 256, st);
  std::printf("asmjit vs interpreter: %zu programs (%zu rejected by the verifier), %zu pairs, "
              "%zu nonzero verdicts, %zu more pairs through the inlined batch loop, "
              "%zu disagreements\n",
              st.programs, st.rejected, st.pairs, st.nonzero, st.batch_pairs, st.mismatches);
  EXPECT_EQ(st.mismatches, 0u);
  EXPECT_GE(st.pairs, 1000000u);
  EXPECT_GE(st.batch_pairs, 50000u);
  // The run must exercise both verdicts, or it proves nothing.
  EXPECT_GT(st.nonzero, st.pairs / 20);
  EXPECT_LT(st.nonzero, st.pairs - st.pairs / 20);
}

TEST(AsmjitDiff, FilterApiRunAndBatch) {
  ASSERT_TRUE(available(Engine::kAsmjit));
  test::Rng rng(77);
  std::vector<test::Packet> pkts = test::packet_mix(rng, 300);
  std::vector<PacketView> views;
  for (const auto& p : pkts) views.push_back({p.data.data(), p.caplen(), p.wirelen});
  const vm::Context ctx = test::random_context(rng);
  for (int i = 0; i < 200; ++i) {
    vm::Program prog;
    prog.insns = test::random_program(rng);
    auto verified = verifier::verify(prog);
    if (!verified) continue;
    auto jit = Filter::compile(*verified, Engine::kAsmjit);
    auto autof = Filter::compile(*verified, Engine::kAuto);
    auto interp = Filter::compile(*verified, Engine::kInterp);
    ASSERT_TRUE(jit.ok() && autof.ok() && interp.ok());
    EXPECT_EQ(jit->engine(), Engine::kAsmjit);
    EXPECT_EQ(autof->engine(), Engine::kAsmjit);  // auto picks asmjit on x86-64
    std::vector<uint32_t> want(views.size()), got(views.size());
    interp->run_batch(views, want.data(), ctx);
    jit->run_batch(views, got.data(), ctx);
    EXPECT_EQ(want, got) << dump(prog.insns);
    // Short batches (fewer packets than the generated loop prefetches ahead, and none): the
    // loop writes exactly n verdicts and nothing past them.
    for (size_t n : {size_t{0}, size_t{1}, size_t{3}, size_t{4}, size_t{5}}) {
      std::vector<uint32_t> part(n + 1, 0xdeadbeef);
      jit->run_batch(std::span<const PacketView>(views.data() + i % 7, n), part.data(), ctx);
      for (size_t j = 0; j < n; ++j) EXPECT_EQ(part[j], want[i % 7 + j]) << dump(prog.insns);
      EXPECT_EQ(part[n], 0xdeadbeefu) << "wrote past the batch";
    }
    Filter moved = std::move(*jit);  // RAII: the moved-to filter owns the code
    for (size_t j = 0; j < views.size(); ++j)
      ASSERT_EQ(moved.run(views[j].data, views[j].caplen, views[j].wirelen, ctx), want[j])
          << dump(prog.insns);
  }
}

TEST(AsmjitDiff, CorpusAgainstLibpcap) {
  std::vector<test::Packet> pkts = test::load_corpus("ether");
  const bool corpus = !pkts.empty();
  if (!corpus) {
    test::Rng rng(5);
    for (int i = 0; i < 4000; ++i) pkts.push_back(test::ethernet_frame(rng));
    for (int i = 0; i < 1000; ++i) pkts.push_back(test::snap(test::ethernet_frame(rng), i % 60));
  }
  const char* exprs[] = {"ip", "arp", "tcp port 22", "host 10.0.0.1", "udp port 53",
                         "tcp[tcpflags] & tcp-syn != 0", "net 192.168.1.0/24", "icmp",
                         "ip6 and tcp", "vlan and ip", "ip[2:2] > 576", "len > 100",
                         "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
                         "ether[0] & 1 != 0 or ip[6] & 0x20 != 0",
                         "host 10.0.0.1 or host 10.0.0.2 or tcp port 80 or udp port 53 or tcp port 443"};
  size_t checked = 0;
  for (const char* e : exprs) {
    std::string err;
    auto insns = test::pcap_compile_expr(e, 1, 262144, true, &err);
    ASSERT_TRUE(insns.has_value()) << e << ": " << err;
    vm::Program prog;
    prog.insns = *insns;
    verifier::Options vo;
    vo.target = vm::Target::kBsd;
    auto verified = verifier::verify(prog, vo);
    ASSERT_TRUE(verified.ok()) << e << verified.diagnostics().render(e);
    auto code = compile_asmjit(*verified);
    ASSERT_TRUE(code.ok());
    size_t accepted = 0;
    for (const auto& p : pkts) {
      const uint32_t want = test::pcap_filter(*insns, p);
      const uint32_t got = code->fn()(p.data.data(), p.caplen(), p.wirelen, nullptr);
      ASSERT_EQ(got, want) << e << " caplen " << p.caplen();
      accepted += want != 0;
      ++checked;
    }
    if (corpus) {
      EXPECT_GT(accepted, 0u) << e;
    }
  }
  std::printf("asmjit vs libpcap bpf_filter: %zu (filter, packet) pairs on %s\n", checked,
              corpus ? "the corpus" : "generated frames");
}

}  // namespace
}  // namespace bpf::jit
