// The classifier (compiler/classify/classify.hpp) against libpcap: for rule sets generated here
// (ports, hosts, nets, protocols, VLAN/MPLS, TCP flags, lengths, and/or/not of those; 2 to 200
// rules) the program returns libpcap's first match (pcap_compile of each rule alone, then
// bpf_filter in order; 0 when none accepts) on every unsnapped packet: generated packets
// (tests/expr/expr_packets.hpp), ../shared/corpus when present, and mutated copies of both
// (bytes flipped, and cut short with the wire length cut too, which is what the `len` guards
// are for) - on every engine (interpreter, asmjit, llvm when built). Snapped packets: the result
// is the full packet's or 0 (CLI.md). Also: diagnostics name FILE:LINE:COL of every bad rule;
// the kernel accepts a 40-rule classifier (SO_ATTACH_FILTER, <= 4,096 instructions); the
// sharing achieved (instructions of the classifier against the rules compiled one by one) is
// printed.
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "compiler/classify/classify.hpp"
#include "jit/engine.hpp"
#include "tests/expr/libpcap_ref.hpp"
#include "verifier/verifier.hpp"

namespace {

using bpf::test::TestPacket;

// A random rule: one or two primitives of the families the issue names, joined.
std::string primitive(std::mt19937& rng) {
  static const char* kPorts[] = {"22", "53", "80", "443", "1000", "1500", "2000", "8080", "5", "0"};
  static const char* kHosts[] = {"10.0.0.1", "10.0.0.2", "192.168.1.1", "1.2.3.4", "172.16.0.5",
                                 "10.0.0.255"};
  static const char* kNets[] = {"10.0.0.0/8", "192.168.0.0/16", "10.0.0.0/24", "172.16.0.0/12"};
  static const char* kProtos[] = {"tcp", "udp", "icmp", "arp", "ip6", "ip", "icmp6", "sctp",
                                  "igmp", "rarp", "pim", "vrrp"};
  static const char* kDirs[] = {"", "src ", "dst "};
  auto pick = [&](auto& arr) { return std::string(arr[rng() % (sizeof arr / sizeof arr[0])]); };
  switch (rng() % 16) {
    case 0: return (rng() % 2 ? "tcp " : "udp ") + pick(kDirs) + "port " + pick(kPorts);
    case 1: return pick(kDirs) + "port " + pick(kPorts);
    case 2: return "portrange " + std::to_string(rng() % 1000) + "-" + std::to_string(1000 + rng() % 2000);
    case 3: return pick(kDirs) + "host " + pick(kHosts);
    case 4: return pick(kDirs) + "net " + pick(kNets);
    case 5: return pick(kProtos);
    case 6: return rng() % 2 ? "vlan" : "vlan " + std::to_string(rng() % 2 ? 10 : 20);
    case 7: return rng() % 2 ? "mpls" : "mpls " + std::to_string(rng() % 2 ? 3 : 100);
    case 8: return "tcp[tcpflags] & tcp-syn != 0";
    case 9: return "tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn";
    case 10: return rng() % 2 ? "len > " + std::to_string(rng() % 200) : "less " + std::to_string(40 + rng() % 100);
    case 11: return "ip[2:2] > " + std::to_string(rng() % 120);
    case 12: return "ip6 host 2001:db8::1";
    // arithmetic whose right operand's protocol checks libpcap drops (gen_arth): the lowering
    // leaves those check blocks unlinked (found by fuzz_classify_rules)
    case 13: return "(ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2)) != 0";
    case 14: return "udp[0:2] + tcp[2:2] > " + std::to_string(rng() % 2000);
    default: return "port " + pick(kPorts) + " or port " + pick(kPorts) + " or port " + pick(kPorts);
  }
}

std::string make_rule(std::mt19937& rng) {
  std::string a = primitive(rng);
  switch (rng() % 6) {
    case 0: return a + " and " + primitive(rng);
    case 1: return "(" + a + ") or (" + primitive(rng) + ")";
    case 2: return "not (" + a + ")";
    case 3: return "vlan and " + a;
    default: return a;
  }
}

// Unsnapped packets: generated and corpus packets, plus mutated copies.
std::vector<TestPacket> packets(int lt, const char* corpus, std::mt19937& rng) {
  std::vector<TestPacket> base = bpf::test::make_packets(lt, rng);
  if (corpus) {
    auto c = bpf::test::load_corpus(corpus, 1500);
    base.insert(base.end(), c.begin(), c.end());
  }
  std::erase_if(base, [](const TestPacket& p) { return p.data.size() != p.wirelen; });
  std::vector<TestPacket> out = base;
  for (const TestPacket& p : base) {
    TestPacket m = p;  // flip 1-3 header bytes
    for (int i = 0, n = 1 + int(rng() % 3); i < n && !m.data.empty(); ++i)
      m.data[rng() % std::min<size_t>(m.data.size(), 80)] ^= uint8_t(1u << (rng() % 8));
    out.push_back(m);
    if (p.data.size() > 2) {  // cut short: a short packet on the wire
      TestPacket s = p;
      s.data.resize(1 + rng() % (p.data.size() - 1));
      s.wirelen = uint32_t(s.data.size());
      out.push_back(std::move(s));
    }
  }
  return out;
}

struct RuleSet {
  std::vector<bpf::compiler::Rule> rules;
  std::vector<std::vector<bpf::vm::Insn>> ref;  // libpcap's program of each rule
  size_t one_by_one = 0;                          // our instructions, rules compiled alone
};

// `n` rules that libpcap compiles (a rule it refuses, e.g. one that rejects every packet, is
// drawn again), with our and libpcap's programs.
RuleSet make_rules(size_t n, int lt, std::mt19937& rng) {
  RuleSet rs;
  bpf::compiler::ExprOptions o;
  o.linktype = lt;
  while (rs.rules.size() < n) {
    std::string r = make_rule(rng);
    auto ref = bpf::test::libpcap_program(r, lt, 1);
    if (!ref) continue;
    auto ours = bpf::compiler::compile_expression(r, o);
    EXPECT_TRUE(ours.ok()) << r << ": " << ours.diagnostics().render("<expr>");
    if (!ours) continue;
    rs.one_by_one += ours->insns.size();
    rs.rules.push_back({r, uint32_t(rs.rules.size() + 1), 1, r});
    rs.ref.push_back(*ref);
  }
  return rs;
}

uint32_t first_match(const RuleSet& rs, const TestPacket& p) {
  for (size_t i = 0; i < rs.ref.size(); ++i)
    if (bpf::test::run_libpcap(rs.ref[i], p) != 0) return uint32_t(i + 1);
  return 0;
}

std::string listing_of(const RuleSet& rs) {
  std::string s;
  for (const auto& r : rs.rules) s += "  " + std::to_string(r.line) + ": " + r.expr + "\n";
  return s;
}

void check_link_type(int lt, const char* corpus, std::initializer_list<size_t> sizes, int seeds,
                     RuleSet (*gen)(size_t, int, std::mt19937&) = make_rules) {
  std::mt19937 rng(1500 + uint32_t(lt));
  const std::vector<TestPacket> pkts = packets(lt, corpus, rng);
  std::printf("link type %d: %zu unsnapped packets (generated, corpus %s, mutated)\n", lt,
              pkts.size(), corpus ? corpus : "-");
  for (size_t n : sizes) {
    size_t total_ours = 0, total_alone = 0, accepted = 0, checked = 0;
    for (int seed = 0; seed < seeds; ++seed) {
      RuleSet rs = gen(n, lt, rng);
      bpf::compiler::ExprOptions o;
      o.linktype = lt;
      auto prog = bpf::compiler::compile_classifier(rs.rules, o);
      ASSERT_TRUE(prog.ok()) << prog.diagnostics().render("<rules>") << listing_of(rs);
      bpf::verifier::Options vo;
      vo.destination = bpf::verifier::Destination::kUserSpace;  // 200 rules may pass 4,096
      auto v = bpf::verifier::verify(*prog, vo);
      ASSERT_TRUE(v.ok()) << v.diagnostics().render("<rules>");
      total_ours += prog->insns.size();
      total_alone += rs.one_by_one;
      std::vector<uint32_t> want(pkts.size());
      for (size_t i = 0; i < pkts.size(); ++i) want[i] = first_match(rs, pkts[i]);
      for (auto e : {bpf::jit::Engine::kInterp, bpf::jit::Engine::kAsmjit, bpf::jit::Engine::kLlvm}) {
        if (!bpf::jit::available(e)) {
          if (n == *sizes.begin() && seed == 0)
            std::printf("  engine %s not available: %s\n", std::string(bpf::jit::engine_name(e)).c_str(),
                        bpf::jit::unavailable_reason(e).c_str());
          continue;
        }
        if (e == bpf::jit::Engine::kLlvm && n > 40) continue;  // LLVM's compile time; covered at 40
        auto f = bpf::jit::Filter::compile(*v, e);
        ASSERT_TRUE(f.ok()) << f.diagnostics().render("<rules>");
        size_t bad = 0;
        for (size_t i = 0; i < pkts.size(); ++i) {
          const TestPacket& p = pkts[i];
          const uint32_t got = f->run(p.data.data(), uint32_t(p.data.size()), p.wirelen);
          ++checked;
          accepted += e == bpf::jit::Engine::kInterp && got != 0;
          if (got != want[i] && bad++ < 3)
            ADD_FAILURE() << "engine " << bpf::jit::engine_name(e) << " packet " << i << " (len "
                          << p.wirelen << "): got " << got << ", libpcap's first match " << want[i]
                          << "\nrules:\n" << listing_of(rs) << bpf::test::dump(prog->insns);
        }
      }
    }
    std::printf("  %3zu rules x %d sets: %zu instructions against %zu for the rules compiled one "
                "by one (%.0f%%); %zu packet runs, %zu classified\n",
                n, seeds, total_ours, total_alone, 100.0 * double(total_ours) / double(total_alone),
                checked, accepted);
  }
}

// Runs of rules of one shape (a services table: `tcp port 22`, `tcp port 80`, ...; host lists;
// protocol numbers; nets), searched together (compiler/classify/groups.cpp), duplicates and
// other rules between the runs.
RuleSet make_runs(size_t n, int lt, std::mt19937& rng) {
  static const char* kShapes[] = {"tcp port %", "udp dst port %", "port %", "host 10.0.0.%",
                                  "ip proto %", "src net 10.0.%.0/24", "tcp src port %", "ip6 and udp port %"};
  static const int kPorts[] = {22, 53, 80, 443, 1000, 1500, 2000, 20, 21, 8080, 65535, 0, 5, 7, 9999};
  static const int kLast[] = {1, 2, 255, 0, 3, 4};
  RuleSet rs;
  bpf::compiler::ExprOptions o;
  o.linktype = lt;
  while (rs.rules.size() < n) {
    const std::string shape = kShapes[rng() % (sizeof kShapes / sizeof kShapes[0])];
    const size_t run = 2 + rng() % 12;
    for (size_t j = 0; j < run && rs.rules.size() < n; ++j) {
      const int v = shape.find("port") != std::string::npos ? kPorts[rng() % 15]
                    : shape.find("proto") != std::string::npos ? int(1 + rng() % 20)
                                                               : kLast[rng() % 6];
      std::string r = shape;
      r.replace(r.find('%'), 1, std::to_string(v));
      auto ref = bpf::test::libpcap_program(r, lt, 1);
      if (!ref) continue;
      auto ours = bpf::compiler::compile_expression(r, o);
      if (!ours) continue;
      rs.one_by_one += ours->insns.size();
      rs.rules.push_back({r, uint32_t(rs.rules.size() + 1), 1, r});
      rs.ref.push_back(*ref);
    }
    if (rng() % 3 == 0 && rs.rules.size() < n) {  // something else between runs
      std::string r = make_rule(rng);
      auto ref = bpf::test::libpcap_program(r, lt, 1);
      auto ours = bpf::compiler::compile_expression(r, o);
      if (!ref || !ours) continue;
      rs.one_by_one += ours->insns.size();
      rs.rules.push_back({r, uint32_t(rs.rules.size() + 1), 1, r});
      rs.ref.push_back(*ref);
    }
  }
  return rs;
}

TEST(Classify, FirstMatchIsLibpcapsEthernet) { check_link_type(1, "ether.pcap", {2, 3, 5, 10, 40, 200}, 5); }
TEST(Classify, FirstMatchIsLibpcapsSll) { check_link_type(113, "sll.pcap", {2, 10, 40}, 2); }
TEST(Classify, FirstMatchIsLibpcapsRaw) { check_link_type(12, "raw.pcap", {2, 10, 40}, 2); }
TEST(Classify, FirstMatchIsLibpcapsRunsOfOneShape) {
  check_link_type(1, "ether.pcap", {4, 10, 40, 200}, 4, make_runs);
  check_link_type(113, nullptr, {10, 40}, 2, make_runs);
}

// A snapped packet gives the full packet's rule number, or 0 (a load past the captured bytes).
TEST(Classify, SnappedPacketsGiveTheFullResultOrZero) {
  std::mt19937 rng(77);
  std::vector<TestPacket> pkts = packets(1, "ether.pcap", rng);
  RuleSet rs = make_rules(40, 1, rng);
  auto prog = bpf::compiler::compile_classifier(rs.rules, {});
  ASSERT_TRUE(prog.ok());
  auto v = bpf::verifier::verify(*prog);
  ASSERT_TRUE(v.ok());
  auto f = bpf::jit::Filter::compile(*v, bpf::jit::Engine::kInterp);
  ASSERT_TRUE(f.ok());
  size_t zero = 0, same = 0;
  for (const TestPacket& p : pkts) {
    const uint32_t full = f->run(p.data.data(), uint32_t(p.data.size()), p.wirelen);
    for (uint32_t cap : {14u, 20u, 34u, 40u, 54u}) {
      if (cap >= p.data.size()) continue;
      const uint32_t got = f->run(p.data.data(), cap, p.wirelen);
      EXPECT_TRUE(got == full || got == 0) << "caplen " << cap << ": " << got << " vs " << full;
      zero += got == 0 && full != 0;
      same += got == full;
    }
  }
  std::printf("snapped runs: %zu same as the full packet, %zu cut to 0\n", same, zero);
  EXPECT_GT(same, 0u);
}

TEST(Classify, RulesFileSyntaxAndEveryErrorLocated) {
  const std::string text =
      "# web\n"
      "tcp port 80\n"
      "\n"
      "  udp prot 53\n"
      "tcp port 22 and\n"
      "\tip[0]/0 = 1\n"
      "ip protochain 6\n";
  auto rules = bpf::compiler::parse_rules(text);
  ASSERT_EQ(rules.size(), 5u);
  EXPECT_EQ(rules[1].expr, "udp prot 53");
  EXPECT_EQ(rules[1].line, 4u);
  EXPECT_EQ(rules[1].column, 3u);
  auto r = bpf::compiler::compile_classifier(text, {});
  ASSERT_FALSE(r.ok());
  const std::string out = r.diagnostics().render("rules.txt");
  EXPECT_EQ(r.diagnostics().error_count(), 4u) << out;
  EXPECT_NE(out.find("rules.txt:4:7: error:"), std::string::npos) << out;
  EXPECT_NE(out.find("rules.txt:5:"), std::string::npos) << out;
  EXPECT_NE(out.find("rules.txt:6:7: error: division by zero"), std::string::npos) << out;
  EXPECT_NE(out.find("rules.txt:7:"), std::string::npos) << out;
  EXPECT_NE(out.find("  udp prot 53\n      ^"), std::string::npos) << out;
  EXPECT_FALSE(bpf::compiler::compile_classifier("# nothing\n\n", {}).ok());
  // a rule that matches nothing is an error, as pcap_compile's
  auto none = bpf::compiler::compile_classifier("tcp\nip and arp\n", {});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.diagnostics().render("r").find("r:2:"), std::string::npos);
}

// The numbers: rule 1 wins over rule 2 on a packet both accept; 0 where none does.
TEST(Classify, FirstRuleWinsAndZeroForNone) {
  auto prog = bpf::compiler::compile_classifier("tcp port 80\ntcp\nudp\n", {});
  ASSERT_TRUE(prog.ok());
  auto v = bpf::verifier::verify(*prog);
  ASSERT_TRUE(v.ok());
  auto f = bpf::jit::Filter::compile(*v, bpf::jit::Engine::kInterp);
  std::vector<uint8_t> pkt(54, 0);
  pkt[12] = 0x08;
  pkt[14] = 0x45;
  pkt[16] = 0;
  pkt[17] = 40;
  pkt[23] = 6;
  pkt[37] = 80;
  EXPECT_EQ(f->run(pkt.data(), 54, 54), 1u);
  pkt[37] = 81;
  EXPECT_EQ(f->run(pkt.data(), 54, 54), 2u);
  pkt[23] = 17;
  EXPECT_EQ(f->run(pkt.data(), 54, 54), 3u);
  pkt[23] = 1;
  EXPECT_EQ(f->run(pkt.data(), 54, 54), 0u);
  pkt[23] = 6;  // a TCP packet too short for its ports: rule 1 false, rule 2 true
  EXPECT_EQ(f->run(pkt.data(), 36, 36), 2u);
}

bool kernel_accepts(const bpf::vm::Program& p, int* err) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    *err = errno;
    return false;
  }
  sock_fprog fp{static_cast<unsigned short>(p.insns.size()),
                reinterpret_cast<sock_filter*>(const_cast<bpf::vm::Insn*>(p.insns.data()))};
  const int rc = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp);
  *err = rc == 0 ? 0 : errno;
  close(fd);
  return rc == 0;
}

TEST(Classify, Kernel40RulesFitAndAreAccepted) {
  std::mt19937 rng(40);
  for (int set = 0; set < 5; ++set) {
    RuleSet rs = make_rules(40, 1, rng);
    auto prog = bpf::compiler::compile_classifier(rs.rules, {});
    ASSERT_TRUE(prog.ok());
    EXPECT_LE(prog->insns.size(), 4096u) << listing_of(rs);
    bpf::verifier::Options vo;
    vo.destination = bpf::verifier::Destination::kKernel;
    EXPECT_TRUE(bpf::verifier::verify(*prog, vo).ok());
    int err = 0;
    EXPECT_TRUE(kernel_accepts(*prog, &err)) << "errno " << err << "\n" << listing_of(rs);
    std::printf("40 rules: %zu instructions (one by one: %zu), accepted by the kernel\n",
                prog->insns.size(), rs.one_by_one);
  }
}

}  // namespace
