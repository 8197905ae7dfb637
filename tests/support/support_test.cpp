// The test support library keeps its promises: generators are deterministic, generated BSD
// programs pass libpcap's bpf_validate, invalid mutations fail it (for the rules libpcap checks),
// packets are well-formed, the corpus loader works (or returns nothing when the corpus is absent).
#include <gtest/gtest.h>

#include "tests/support/packet_gen.hpp"
#include "tests/support/pcap_ref.hpp"
#include "tests/support/program_gen.hpp"

namespace bpf::test {
namespace {

TEST(ProgramGen, Deterministic) {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(random_program(a), random_program(b));
}

TEST(ProgramGen, BsdProgramsPassLibpcapValidate) {
  Rng rng(1);
  GenOptions o;
  o.target = vm::Target::kBsd;
  for (int i = 0; i < 5000; ++i) {
    auto p = random_program(rng, o);
    ASSERT_GE(p.size(), 1u);
    ASSERT_TRUE(pcap_validate(p)) << "program " << i;
  }
}

TEST(ProgramGen, CoversEveryBsdOpcode) {
  Rng rng(2);
  GenOptions o;
  o.target = vm::Target::kBsd;
  o.ret_x = true;
  std::array<bool, vm::kNumOps> seen{};
  for (int i = 0; i < 2000; ++i)
    for (const auto& in : random_program(rng, o)) seen[size_t(*vm::decode(in.code))] = true;
  for (size_t i = 0; i < vm::kNumOps; ++i) EXPECT_TRUE(seen[i]) << vm::kOpTable[i].mnemonic;
}

TEST(ProgramGen, InvalidMutationsFailLibpcapValidate) {
  Rng rng(3);
  GenOptions o;
  o.target = vm::Target::kBsd;
  int checked = 0;
  for (int i = 0; i < 2000; ++i) {
    auto p = random_program(rng, o);
    auto bad = mutate_invalid(rng, p, vm::Target::kBsd);
    // libpcap 1.10 bpf_validate checks jumps, the final ret, the length and opcodes; not every
    // rule our verifier has (constant shifts, division by constant 0, scratch slots).
    if (bad.why.find("out of range") == std::string::npos && bad.why != "empty program" &&
        bad.why.rfind("last instruction", 0) != 0)
      continue;
    if (bad.why.rfind("scratch", 0) == 0) continue;
    ++checked;
    EXPECT_FALSE(pcap_validate(bad.insns)) << bad.why;
  }
  EXPECT_GT(checked, 300);
}

TEST(PacketGen, FramesAreConsistent) {
  Rng rng(4);
  for (int i = 0; i < 2000; ++i) {
    Packet p = random_packet(rng);
    EXPECT_GE(p.wirelen, p.caplen());
  }
  Rng a(5), b(5);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ethernet_frame(a).data, ethernet_frame(b).data);
}

TEST(PacketGen, TcpdumpFiltersSeeBothOutcomes) {
  Rng rng(6);
  auto pkts = packet_mix(rng, 3000);
  for (const char* expr : {"ip", "tcp", "udp", "tcp port 80", "ip6", "arp", "vlan",
                           "host 10.0.0.1", "ip[6:2] & 0x1fff != 0"}) {
    auto prog = pcap_compile_expr(expr);
    ASSERT_TRUE(prog) << expr;
    size_t accepted = 0;
    for (const auto& p : pkts) accepted += pcap_filter(*prog, p) != 0;
    EXPECT_GT(accepted, 10u) << expr;
    EXPECT_LT(accepted, pkts.size() - 10) << expr;
  }
}

TEST(Corpus, LoadsWhenPresent) {
  auto pkts = load_corpus("ether", 100);
  auto missing = load_pcap(corpus_dir() + "/does-not-exist.pcap");
  EXPECT_TRUE(missing.empty());
  if (pkts.empty()) GTEST_SKIP() << "SKIPPED: corpus absent at " << corpus_dir();
  EXPECT_EQ(pkts.size(), 100u);
  for (const auto& p : pkts) EXPECT_GE(p.wirelen, p.caplen());
}

}  // namespace
}  // namespace bpf::test
