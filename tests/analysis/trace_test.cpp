// The tracing evaluator (analysis/trace.hpp) against the interpreter: the same return value on
// generated packets (random programs, both targets, random contexts), on examples/sample.pcap
// and on the corpus when present; the trace's shape (one step per executed instruction, the
// failing load's offset/size). And `bpfdump --trace` against `bpfdump --verdicts`.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "analysis/trace.hpp"
#include "tests/analysis/test_util.hpp"
#include "tests/support/packet_gen.hpp"
#include "tests/support/pcap_ref.hpp"
#include "vm/interpreter.hpp"

namespace {

using bpf::vm::Target;

TEST(Trace, AgreesWithInterpreterOnRandomPrograms) {
  bpf::test::Rng rng(17);
  size_t runs = 0;
  for (Target t : {Target::kLinux, Target::kBsd}) {
    bpf::test::GenOptions go;
    go.target = t;
    for (int i = 0; i < 400; ++i) {
      bpf::vm::Program p{bpf::test::random_program(rng, go), {}};
      auto v = bpf::test::verified(p, t);
      if (!v) continue;
      const bpf::vm::Interpreter interp(*v);
      for (int j = 0; j < 20; ++j) {
        const bpf::test::Packet pk = bpf::test::random_packet(rng);
        const bpf::vm::Context ctx = bpf::test::random_context(rng);
        const auto tr = bpf::analysis::trace(*v, pk.data.data(), pk.caplen(), pk.wirelen, ctx);
        ASSERT_EQ(tr.value, interp.run(pk.data.data(), pk.caplen(), pk.wirelen, ctx));
        ASSERT_FALSE(tr.steps.empty());
        ++runs;
      }
    }
  }
  std::printf("trace = interpreter on %zu runs\n", runs);
  EXPECT_GT(runs, 5000u);
}

TEST(Trace, AgreesOnSampleAndCorpus) {
  std::vector<bpf::test::Packet> pkts =
      bpf::test::load_pcap(std::string(BPFC_EXAMPLES_DIR) + "/sample.pcap");
  ASSERT_FALSE(pkts.empty());
  const auto corpus = bpf::test::load_corpus("ether", 2000);
  if (corpus.empty()) std::printf("corpus ether.pcap absent: sample.pcap only\n");
  pkts.insert(pkts.end(), corpus.begin(), corpus.end());
  size_t n = 0;
  for (const char* e : {"tcp port 22", "ip and udp", "ip6", "vlan and ip", "host 10.0.0.1",
                        "tcp[tcpflags] & tcp-syn != 0", "greater 100", "icmp or arp"}) {
    auto v = bpf::test::from_expr(e);
    ASSERT_TRUE(v) << e;
    const bpf::vm::Interpreter interp(*v);
    for (const auto& pk : pkts) {
      const auto tr = bpf::analysis::trace(*v, pk.data.data(), pk.caplen(), pk.wirelen);
      ASSERT_EQ(tr.value, interp.run(pk.data.data(), pk.caplen(), pk.wirelen)) << e;
      ++n;
    }
  }
  std::printf("trace = interpreter on %zu packet runs (sample.pcap + corpus)\n", n);
}

TEST(Trace, FailedLoadIsReported) {
  auto v = bpf::test::from_asm("ldx #10\nldb [x + 20]\nret a\n");
  ASSERT_TRUE(v);
  const uint8_t pkt[16] = {};
  const auto tr = bpf::analysis::trace(*v, pkt, sizeof pkt, 60);
  EXPECT_EQ(tr.end, bpf::analysis::TraceEnd::kLoadFailed);
  EXPECT_EQ(tr.fail_offset, 30);
  EXPECT_EQ(tr.fail_size, 1u);
  EXPECT_EQ(tr.value, 0u);
  EXPECT_EQ(tr.steps.size(), 2u);
  const std::string text = bpf::analysis::format_trace(*v, tr, sizeof pkt);
  EXPECT_NE(text.find("load failed: offset 30, size 1, captured length 16"), std::string::npos)
      << text;
  EXPECT_NE(text.find("returns 0 (reject)"), std::string::npos) << text;
}

TEST(Trace, ScratchWritesShown) {
  auto v = bpf::test::from_asm("ld #7\nst M[3]\nldx M[3]\ntxa\nret a\n");
  ASSERT_TRUE(v);
  const auto tr = bpf::analysis::trace(*v, nullptr, 0, 0);
  ASSERT_EQ(tr.steps.size(), 5u);
  ASSERT_TRUE(tr.steps[1].slot);
  EXPECT_EQ(*tr.steps[1].slot, 3u);
  EXPECT_EQ(tr.steps[1].slot_value, 7u);
  EXPECT_EQ(tr.value, 7u);
  EXPECT_NE(bpf::analysis::format_trace(*v, tr, 0).find("M[3]=0x00000007"), std::string::npos);
}

// bpfdump --trace 0-N prints, for every packet, the value --verdicts prints.
TEST(TraceCli, MatchesVerdicts) {
  const std::string pcap = std::string(BPFC_EXAMPLES_DIR) + "/sample.pcap";
  for (const char* e : {"tcp", "udp port 53", "ip and greater 100"}) {
    const auto verdicts = bpf::test::shell(std::string(BPFDUMP_BIN) + " -r " + pcap +
                                           " --verdicts '" + e + "'");
    ASSERT_EQ(verdicts.status, 0) << verdicts.err;
    size_t count = 0;
    for (char c : verdicts.out) count += c == '\n';
    ASSERT_GT(count, 0u);
    const auto tr = bpf::test::shell(std::string(BPFDUMP_BIN) + " -r " + pcap + " --trace 0-" +
                                     std::to_string(count - 1) + " '" + e + "'");
    ASSERT_EQ(tr.status, 0) << tr.err;
    std::istringstream in(tr.out);
    std::string line, from_trace;
    size_t index = 0;
    while (std::getline(in, line))
      if (line.rfind("returns ", 0) == 0)
        from_trace += std::to_string(index++) + " " + line.substr(8, line.find(' ', 8) - 8) + "\n";
    EXPECT_EQ(from_trace, verdicts.out) << e;
  }
  const auto one = bpf::test::shell(std::string(BPFDUMP_BIN) + " -r " + pcap + " --trace 1 tcp");
  EXPECT_EQ(one.status, 0);
  EXPECT_EQ(one.out.rfind("packet 1: wirelen ", 0), 0u) << one.out;
  EXPECT_NE(one.out.find("(000) ldh [12]"), std::string::npos) << one.out;
  EXPECT_EQ(bpf::test::shell(std::string(BPFDUMP_BIN) + " -r " + pcap + " --trace 3-1 tcp").status, 2);
  EXPECT_EQ(bpf::test::shell(std::string(BPFDUMP_BIN) + " -r " + pcap + " --trace 0").status, 2);
}

}  // namespace
