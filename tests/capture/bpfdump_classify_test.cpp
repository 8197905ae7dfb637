// bpfdump --classify RULES end to end (tools/bpfdump_classify.cpp, ../shared/CLI.md): on the
// generated traffic mix and the corpus, --verdicts prints libpcap's first match (pcap_compile
// of each rule, bpf_filter in order) for every packet and engine; summary lines are those
// packets' lines prefixed with [N]; -w PREFIX writes exactly rule N's packets to PREFIX.N.pcap
// in one pass; --stats counts per rule; a bad rule file is located and exits 1.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "jit/engine.hpp"
#include "shell.hpp"
#include "test_packets.hpp"

namespace bpf::capture {
namespace {

using testing::Out;
using testing::sh;

const std::string kBpfdump = BPFDUMP_PATH;

const char* const kRules =
    "# test rules\n"
    "tcp port 80\n"
    "udp and len > 200\n"
    "\n"
    "icmp or ip proto 50\n"
    "  arp\n"
    "vlan\n"
    "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0\n"
    "ip6\n";
const std::vector<std::string> kRuleExprs = {"tcp port 80", "udp and len > 200", "icmp or ip proto 50",
                                             "arp", "vlan", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "ip6"};

// libpcap's first match for every packet of `file`.
std::vector<uint32_t> libpcap_first(const std::string& file, std::vector<testing::TestPacket>* pkts) {
  char ebuf[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(file.c_str(), ebuf);
  EXPECT_NE(p, nullptr) << ebuf;
  if (!p) return {};
  std::vector<bpf_program> progs(kRuleExprs.size());
  for (size_t i = 0; i < kRuleExprs.size(); ++i)
    EXPECT_EQ(pcap_compile(p, &progs[i], kRuleExprs[i].c_str(), 1, PCAP_NETMASK_UNKNOWN), 0);
  std::vector<uint32_t> out;
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1) {
    uint32_t r = 0;
    for (size_t i = 0; i < progs.size() && !r; ++i)
      if (bpf_filter(progs[i].bf_insns, d, h->len, h->caplen)) r = uint32_t(i + 1);
    out.push_back(r);
    if (pkts) pkts->push_back({0, h->len, std::vector<uint8_t>(d, d + h->caplen)});
  }
  for (auto& bp : progs) pcap_freecode(&bp);
  pcap_close(p);
  return out;
}

class BpfdumpClassify : public ::testing::Test {
 protected:
  void SetUp() override {
    gen_ = testing::temp_path("cls.pcap");
    ASSERT_TRUE(testing::write_with_libpcap(gen_, testing::traffic_mix(4000, 7)));
    rules_ = testing::temp_path("cls.rules");
    std::ofstream(rules_) << kRules;
  }
  void TearDown() override {
    unlink(gen_.c_str());
    unlink(rules_.c_str());
  }
  std::string gen_, rules_;
};

TEST_F(BpfdumpClassify, VerdictsAreLibpcapsFirstMatchOnEveryEngine) {
  std::vector<std::string> files = {gen_};
  const std::string corpus = std::string(BPFC_CORPUS_DIR) + "/ether.pcap";
  if (access(corpus.c_str(), R_OK) == 0) files.push_back(corpus);
  for (const std::string& f : files) {
    const std::vector<uint32_t> want = libpcap_first(f, nullptr);
    std::ostringstream w;
    std::map<uint32_t, size_t> hist;
    for (size_t i = 0; i < want.size(); ++i) {
      w << i << ' ' << want[i] << '\n';
      ++hist[want[i]];
    }
    EXPECT_GE(hist.size(), 5u) << "the rules must split the traffic";
    for (jit::Engine e : {jit::Engine::kInterp, jit::Engine::kAsmjit, jit::Engine::kLlvm}) {
      if (!jit::available(e)) continue;
      const Out r = sh(kBpfdump + " -r " + f + " --classify " + rules_ + " --verdicts --engine " +
                       std::string(jit::engine_name(e)));
      ASSERT_EQ(r.status, 0) << r.err;
      EXPECT_EQ(r.out, w.str()) << f << " engine " << jit::engine_name(e);
    }
  }
}

TEST_F(BpfdumpClassify, SummariesSplitFilesAndStatsInOnePass) {
  std::vector<testing::TestPacket> pkts;
  const std::vector<uint32_t> want = libpcap_first(gen_, &pkts);
  // summary lines: the matched packets, in order, each with its rule number
  const Out s = sh(kBpfdump + " -r " + gen_ + " --classify " + rules_);
  ASSERT_EQ(s.status, 0) << s.err;
  std::istringstream lines(s.out);
  std::string line;
  size_t k = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] == 0) continue;
    ASSERT_TRUE(std::getline(lines, line)) << "missing line for packet " << i;
    EXPECT_EQ(line.rfind("[" + std::to_string(want[i]) + "] ", 0), 0u) << line;
    ++k;
  }
  EXPECT_FALSE(std::getline(lines, line)) << "extra line: " << line;
  EXPECT_GT(k, 100u);
  // -w PREFIX and --stats
  const std::string prefix = testing::temp_path("split");
  const Out w = sh(kBpfdump + " -r " + gen_ + " --classify " + rules_ + " -w " + prefix + " --stats");
  ASSERT_EQ(w.status, 0) << w.err;
  EXPECT_EQ(w.out, "");
  std::map<uint32_t, std::vector<std::vector<uint8_t>>> by_rule;
  for (size_t i = 0; i < want.size(); ++i) by_rule[want[i]].push_back(pkts[i].bytes);
  EXPECT_NE(w.err.find("received: " + std::to_string(want.size()) + "\n"), std::string::npos) << w.err;
  EXPECT_NE(w.err.find("no rule: " + std::to_string(by_rule[0].size()) + "\n"), std::string::npos) << w.err;
  for (uint32_t r = 1; r <= kRuleExprs.size(); ++r) {
    const std::string path = prefix + "." + std::to_string(r) + ".pcap";
    EXPECT_NE(w.err.find("rule " + std::to_string(r) + ": " + std::to_string(by_rule[r].size()) + "\n"),
              std::string::npos) << w.err;
    if (by_rule[r].empty()) {
      EXPECT_NE(access(path.c_str(), F_OK), 0) << "no file for a rule without packets";
      continue;
    }
    std::string err;
    const auto got = testing::read_with_libpcap(path, &err);
    EXPECT_EQ(err, "");
    ASSERT_EQ(got.size(), by_rule[r].size()) << path;
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].bytes, by_rule[r][i]) << path << " #" << i;
    unlink(path.c_str());
  }
  // --verdicts --stats: the same per-rule counts
  const Out vs = sh(kBpfdump + " -r " + gen_ + " --classify " + rules_ + " --verdicts --stats");
  ASSERT_EQ(vs.status, 0) << vs.err;
  EXPECT_NE(vs.err.find("no rule: " + std::to_string(by_rule[0].size()) + "\n"), std::string::npos) << vs.err;
  for (uint32_t r = 1; r <= kRuleExprs.size(); ++r)
    EXPECT_NE(vs.err.find("rule " + std::to_string(r) + ": " + std::to_string(by_rule[r].size()) + "\n"),
              std::string::npos) << vs.err;
  // -c N: N matched packets
  const Out c = sh(kBpfdump + " -r " + gen_ + " --classify " + rules_ + " -c 5");
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(std::count(c.out.begin(), c.out.end(), '\n'), 5);
}

TEST_F(BpfdumpClassify, BadRulesAreLocatedAndUsageChecked) {
  const std::string bad = testing::temp_path("bad.rules");
  std::ofstream(bad) << "tcp\nudp prot 53\n  tcp and\n";
  const Out r = sh(kBpfdump + " -r " + gen_ + " --classify " + bad);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(bad + ":2:5: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(bad + ":3:10: error:"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  unlink(bad.c_str());
  EXPECT_EQ(sh(kBpfdump + " -r " + gen_ + " --classify " + rules_ + " tcp").status, 2);
  EXPECT_EQ(sh(kBpfdump + " -r " + gen_ + " --classify " + rules_ + " --engine kernel").status, 2);
}

}  // namespace
}  // namespace bpf::capture
