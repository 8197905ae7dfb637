// Differential tests of every built engine:
//  - BSD semantics against libpcap's own bpf_filter: >= 1,000,000 (random valid program, packet)
//    pairs over generated packets (Ethernet/IPv4/IPv6/TCP/UDP/ARP/VLAN frames, snapped frames,
//    random bytes), plus the pcap corpus when ../shared/corpus is present. Zero disagreements.
//  - Linux semantics (ancillary loads with random contexts, negative offsets, masked shifts,
//    wrapping [x + k]) against the executable specification vm::evaluate.
// Programs come from tests/support/program_gen (deterministic seeds); each must pass our
// verifier, which this also checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "jit/engine.hpp"
#include "tests/support/packet_gen.hpp"
#include "tests/support/pcap_ref.hpp"
#include "tests/support/program_gen.hpp"
#include "verifier/verifier.hpp"
#include "vm/semantics.hpp"

namespace bpf::test {
namespace {

std::vector<jit::Engine> engines() {
  std::vector<jit::Engine> out;
  for (jit::Engine e : jit::kAllEngines)
    if (e != jit::Engine::kAuto && jit::available(e)) out.push_back(e);
  return out;
}

std::optional<vm::VerifiedProgram> verified(const std::vector<vm::Insn>& insns, vm::Target t) {
  vm::Program p;
  p.insns = insns;
  verifier::Options o;
  o.target = t;
  auto r = verifier::verify(p, o);
  if (!r) {
    ADD_FAILURE() << "generated program rejected by the verifier:\n" << r.diagnostics().render("<gen>");
    return std::nullopt;
  }
  return r.take();
}

std::string dump(const std::vector<vm::Insn>& p) {
  std::string s;
  for (const auto& i : p)
    s += "  { " + std::to_string(i.code) + ", " + std::to_string(i.jt) + ", " +
         std::to_string(i.jf) + ", " + std::to_string(i.k) + " }\n";
  return s;
}

// Runs `programs` random BSD programs over `pkts` on `engine`; returns the pairs compared.
size_t against_libpcap(jit::Engine engine, uint64_t seed, size_t programs,
                       const std::vector<Packet>& pkts) {
  Rng rng(seed);
  GenOptions o;
  o.target = vm::Target::kBsd;
  // Exact-size heap copies: a read one byte past caplen is a heap overflow under ASan.
  std::vector<std::unique_ptr<uint8_t[]>> exact;
  std::vector<jit::PacketView> views;
  for (const Packet& p : pkts) {
    exact.emplace_back(new uint8_t[std::max<size_t>(p.caplen(), 1)]);
    std::copy(p.data.begin(), p.data.end(), exact.back().get());
    views.push_back({exact.back().get(), p.caplen(), p.wirelen});
  }
  std::vector<uint32_t> got(pkts.size());
  size_t pairs = 0, failures = 0;
  for (size_t i = 0; i < programs && failures < 5; ++i) {
    auto insns = random_program(rng, o);
    auto vp = verified(insns, vm::Target::kBsd);
    if (!vp) { ++failures; continue; }
    auto f = jit::Filter::compile(*vp, engine);
    if (!f) {
      ADD_FAILURE() << f.diagnostics().render("<gen>");
      return pairs;
    }
    f->run_batch(views, got.data());
    for (size_t j = 0; j < pkts.size(); ++j) {
      uint32_t want = pcap_filter(insns, pkts[j]);
      if (got[j] != want && failures++ < 5) {
        ADD_FAILURE() << "engine " << jit::engine_name(engine) << " program " << i << " packet "
                      << j << " (caplen " << pkts[j].caplen() << ", wirelen " << pkts[j].wirelen
                      << "): got " << got[j] << ", libpcap " << want << "\n" << dump(insns);
      }
    }
    // The single-packet entry point too, on a sample.
    for (size_t j = 0; j < pkts.size(); j += 17)
      EXPECT_EQ(f->run(pkts[j].data.data(), pkts[j].caplen(), pkts[j].wirelen), got[j]);
    pairs += pkts.size();
  }
  EXPECT_EQ(failures, 0u);
  return pairs;
}

TEST(Differential, BsdAgainstLibpcapOnGeneratedPackets) {
  Rng prng(1001);
  std::vector<Packet> pkts = packet_mix(prng, 256);
  auto t0 = std::chrono::steady_clock::now();
  for (jit::Engine e : engines()) {
    // The interpreter gets the full million; compiling engines a smaller share per program.
    size_t programs = e == jit::Engine::kInterp ? 4000 : 400;
    size_t pairs = against_libpcap(e, 2002, programs, pkts);
    std::printf("%s: %zu (program, packet) pairs agree with libpcap\n",
                std::string(jit::engine_name(e)).c_str(), pairs);
    if (e == jit::Engine::kInterp) {
      EXPECT_GE(pairs, 1000000u);
    }
  }
  std::printf("elapsed %.2f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

TEST(Differential, BsdAgainstLibpcapOnCorpus) {
  std::vector<Packet> pkts = load_corpus("ether", 1000);
  auto sll = load_corpus("sll", 300);
  auto raw = load_corpus("raw", 300);
  pkts.insert(pkts.end(), sll.begin(), sll.end());
  pkts.insert(pkts.end(), raw.begin(), raw.end());
  if (pkts.empty()) GTEST_SKIP() << "SKIPPED: corpus absent at " << corpus_dir();
  for (jit::Engine e : engines()) {
    size_t pairs = against_libpcap(e, 3003, e == jit::Engine::kInterp ? 1000 : 100, pkts);
    std::printf("%s: %zu corpus pairs agree with libpcap\n",
                std::string(jit::engine_name(e)).c_str(), pairs);
  }
}

TEST(Differential, TcpdumpProgramsAgainstLibpcap) {
  // Real pcap_compile output, BSD semantics, every engine.
  Rng prng(4004);
  std::vector<Packet> pkts = packet_mix(prng, 2000);
  auto corpus = load_corpus("ether", 2000);
  pkts.insert(pkts.end(), corpus.begin(), corpus.end());
  std::vector<jit::PacketView> views;
  for (const Packet& p : pkts) views.push_back({p.data.data(), p.caplen(), p.wirelen});
  std::vector<uint32_t> got(pkts.size());
  for (const char* expr :
       {"ip", "tcp", "udp port 53", "tcp port 80 or tcp port 443", "host 10.0.0.1", "arp",
        "ip6 and tcp", "vlan and ip", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
        "ip[6:2] & 0x1fff = 0 and udp", "net 192.168.1.0/24 and not port 22",
        "icmp or icmp6", "greater 100", "less 60", "ether broadcast", "ip proto 47",
        "portrange 1000-2000", "tcp and (ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2)) != 0"}) {
    auto insns = pcap_compile_expr(expr);
    ASSERT_TRUE(insns) << expr;
    for (vm::Target t : {vm::Target::kBsd, vm::Target::kLinux}) {
      vm::Program p;
      p.insns = *insns;
      verifier::Options o;
      o.target = t;
      auto vp = verifier::verify(p, o);
      ASSERT_TRUE(vp) << expr << "\n" << vp.diagnostics().render("<expr>");
      for (jit::Engine e : engines()) {
        auto f = jit::Filter::compile(*vp, e);
        ASSERT_TRUE(f);
        f->run_batch(views, got.data());
        for (size_t j = 0; j < pkts.size(); ++j)
          ASSERT_EQ(got[j], pcap_filter(*insns, pkts[j]))
              << expr << " engine " << jit::engine_name(e) << " packet " << j;
      }
    }
  }
}

TEST(Differential, LinuxAgainstSpecification) {
  Rng rng(5005);
  GenOptions o;
  o.target = vm::Target::kLinux;
  std::vector<Packet> pkts = packet_mix(rng, 64);
  std::vector<vm::Context> ctxs;
  for (int i = 0; i < 4; ++i) ctxs.push_back(random_context(rng));
  size_t pairs = 0;
  for (jit::Engine e : engines()) {
    Rng prog_rng(6006);
    size_t programs = e == jit::Engine::kInterp ? 2000 : 300;
    size_t failures = 0;
    for (size_t i = 0; i < programs && failures < 5; ++i) {
      auto insns = random_program(prog_rng, o);
      auto vp = verified(insns, vm::Target::kLinux);
      if (!vp) { ++failures; continue; }
      auto f = jit::Filter::compile(*vp, e);
      ASSERT_TRUE(f);
      for (const vm::Context& ctx : ctxs) {
        for (const Packet& p : pkts) {
          uint32_t want = vm::evaluate(insns, vm::Target::kLinux, p.data.data(), p.caplen(),
                                       p.wirelen, ctx);
          uint32_t got = f->run(p.data.data(), p.caplen(), p.wirelen, ctx);
          if (got != want && failures++ < 5)
            ADD_FAILURE() << "engine " << jit::engine_name(e) << " program " << i << ": got "
                          << got << ", spec " << want << "\n" << dump(insns);
          ++pairs;
        }
      }
    }
  }
  std::printf("linux: %zu pairs agree with vm::evaluate\n", pairs);
}

}  // namespace
}  // namespace bpf::test
