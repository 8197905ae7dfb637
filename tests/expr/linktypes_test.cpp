// Differential test of the serial, ATM and 802.x link types (compiler/expr_gen_serial.cpp,
// expr_gen_atm.cpp, expr_gen_lan.cpp) against libpcap 1.10.3: PPP, PPP_SERIAL, PPP_ETHER,
// C_HDLC, FRELAY, SLIP, ARCNET, ARCNET_LINUX, SUNATM, FDDI, IEEE802 (token ring), IPNET.
// Every expression of kLinkExprs is compiled by us and by pcap_compile on pcap_open_dead for
// every one of these link types: both must accept or both refuse. Accepted programs run on
// packets generated for the link type (tests/expr/packets_links.hpp, snapped copies included),
// on ../shared/corpus captures of it when present, and on mutated and truncated copies of both;
// our -O2 program must give libpcap's optimised program's verdict and our -O0 program libpcap's
// unoptimised one, on our interpreter and on libpcap's bpf_filter, on every packet; refusals
// must carry libpcap's message. Random and/or/not trees of the keywords (address and port lists
// included) are compared the same way (LINKTYPES_RANDOM_SEED / LINKTYPES_RANDOM_COUNT for more).
// One more check runs the programs through jit::Filter (the default engine). Figures, program
// lengths against libpcap's included, are printed.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "compiler/expr.hpp"
#include "jit/engine.hpp"
#include "tests/expr/libpcap_ref.hpp"
#include "tests/expr/packets_links.hpp"
#include "verifier/verifier.hpp"
#include "vm/interpreter.hpp"

namespace {

using bpf::compiler::compile_expression;
using bpf::compiler::ExprOptions;
using bpf::test::TestPacket;

// Every keyword of these link types, and the usual IP ones over each of them. Keywords that do
// not apply to a link type must be refused as libpcap refuses them.
const char* const kLinkExprs[] = {
    "ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "sctp", "igmp", "pim",
    "tcp port 80", "udp port 53", "port 22 or port 80", "tcp dst portrange 20-80",
    "host 10.0.0.1", "src host 10.0.0.1", "dst net 10.0.0.0/8", "net 192.168.0.0/16",
    "ip6 host 2001:db8::1", "ip6 net fe80::/10", "ip proto 17", "ip6 proto 58", "proto 6",
    "tcp[tcpflags] & tcp-syn != 0", "icmp[icmptype] = icmp-echo", "ip[9] = 6", "ip[2:2] > 100",
    "ip6[6] = 17", "udp[8:2] = 0x1100", "ip multicast", "ip6 multicast", "ip and not tcp",
    "arp host 10.0.0.1", "rarp or arp", "atalk", "aarp", "decnet", "lat", "sca", "mopdl",
    "moprc", "stp", "ipx", "netbeui", "iso", "link proto 0x800", "ether proto 0x86dd",
    "ether proto \\ip", "link proto 0x21", "link proto 0xfefe", "link proto 0x42",
    "link[0] = 0xff", "link[0:2] = 0xff03", "link[1] & 1 = 1", "fddi[1] = 0xff",
    "tr[2:4] = 0xffffffff", "len > 100", "less 60", "greater 200", "byte 2 = 0x21",
    "byte 0 > 0x40", "byte 1 & 0x1", "pppoed", "pppoes", "pppoes and ip", "pppoes 2 and udp",
    "mpls", "mpls and ip", "mpls 3 and tcp", "vlan", "vlan and ip", "llc", "llc u", "llc s",
    "llc i", "llc ui", "llc and ip", "inbound", "outbound", "not inbound and ip", "ifindex 1",
    "broadcast", "multicast", "link broadcast", "ether broadcast", "fddi multicast",
    "fddi host 00:11:22:33:44:55", "tr src 00:11:22:33:44:55", "ether dst ff:ff:ff:ff:ff:ff",
    "ether src 02:00:00:00:00:01 and ip", "ether host 00:11:22:33:44:55 or ether host 02:00:00:00:00:01",
    "ether src and dst 00:11:22:33:44:55", "link host $12", "ether src $12", "ether dst $d1",
    "link src or dst $0a", "src $ab", "$12", "ether host $1", "vpi 0", "vpi 1", "vci 5",
    "vpi > 0", "vci >= 16", "vci < 5", "vci <= 5", "vpi != 1", "vci != 5", "vpi (0 or 1)",
    "vci (1 or 5 or 16)", "lane", "lane and ip", "lane and tcp port 80",
    "lane and ether host 00:11:22:33:44:55", "lane and broadcast", "lane and multicast",
    "lane and llc", "lane and vlan", "lane and arp", "not lane", "lane or ip", "llc and lane",
    "metac", "bcc", "oamf4sc", "oamf4ec", "sc", "ilmic", "oam", "oamf4", "connectmsg",
    "metaconnect", "vpi 0 and vci 5 and not connectmsg", "ip and tcp port 80 and not vpi 1",
    "ip host 10.0.0.1 and (tcp or udp)", "geneve", "geneve and ip", "ip6 and tcp port 443",
    "(ip or ip6) and udp", "not ip and not ip6", "ether[0] = 0xff", "ppp[0] = 1",
    // header pushes in sequence (libpcap's offsets are state changed in source order)
    "lane and lane and ip", "lane and not ether broadcast", "not lane and llc and ip",
    "lane and pppoes and ip", "pppoes and lane", "lane and geneve and ip", "geneve and lane",
    "lane and llc and ether host 00:11:22:33:44:55", "llc and llc", "ip and lane and ip",
    "lane and mpls", "vlan and lane", "vpi 0 and (vci 3 or vci 4)", "vpi >= 1", "vci > 100",
    "vpi (1)", "connectmsg or lane", "lane and ether proto 0x6558", "atalk and lane",
    "link proto 0x2b", "arp and arp host 10.0.0.1", "lane and vpi 0", "lane and link[0] = 0",
    "lane and ether[0] & 1 = 1", "fddi src 00:11:22:33:44:55 and ip", "tr dst ff:ff:ff:ff:ff:ff",
    "ether src or dst 02:00:00:00:00:01", "ether addr1 00:11:22:33:44:55", "ip[0] & 0xf > 5",
    "mpls 100 and mpls 3", "iso and not ip", "stp or ipx or netbeui", "ether proto 0xfe",
    "ether proto 6", "ether proto 0xe0", "ether proto 0x42", "ether proto 0x8137",
    "ether ra 00:11:22:33:44:55", "ether addr4 00:11:22:33:44:55", "link ta $12",
    "link addr2 $12", "ip broadcast", "tcp broadcast", "ip6 broadcast", "vpi 1 and lane and vci 2",
    "vlan 5", "mpls 1048576", "pppoes 65536", "lane and fddi host 00:11:22:33:44:55",
    "type mgt", "wlan host 00:11:22:33:44:55",
    // OSI on every link type (gen_proto Q_ISO's Frame Relay NLPID, Cisco HDLC 0xfefe, LLC)
    "iso proto 0x81", "clnp", "esis", "isis", "isis proto 0x1a or l1", "l2", "iih", "lsp",
    "snp", "csnp", "psnp", "iso proto \\isis and not l1", "decnet host 1.2", "decnet src 50.764",
    // runs long enough to be lowered as searches (compiler/expr_gen_sets.cpp)
    "host 10.0.0.1 or host 10.0.0.2 or host 192.168.1.1 or host 127.0.0.1 or host 1.2.3.4 or "
    "host 224.0.0.1 or host 10.0.0.255 or host 172.16.0.5 or host 10.0.255.255",
    "port 22 or port 53 or port 80 or port 443 or port 1000 or port 1500 or port 2000 or "
    "port 8080 or portrange 20-21",
    "ip6 host ::1 or ip6 host fe80::1 or ip6 host 2001:db8::1 or ip6 host ff02::1 or "
    "ip6 host 2001:db8::2 or ip6 host ::2 or ip6 host ::3 or ip6 host ::4",
    "proto 6 or proto 17 or proto 1 or proto 2 or proto 9 or proto 103 or proto 112 or proto 47",
    "ether host 00:11:22:33:44:55 or ether host 02:00:00:00:00:01 or ether host ff:ff:ff:ff:ff:ff or "
    "ether host 01:00:5e:00:00:01 or ether host 33:33:00:00:00:01 or ether host 00:00:00:00:00:01 or "
    "ether host 00:00:00:00:00:02 or ether host 00:00:00:00:00:03",
    "lane and (ether src 00:11:22:33:44:55 or ether src 02:00:00:00:00:01 or ether src ff:ff:ff:ff:ff:ff or "
    "ether src 01:00:5e:00:00:01 or ether src 33:33:00:00:00:01 or ether src 00:00:00:00:00:01 or "
    "ether src 00:00:00:00:00:02 or ether src 00:00:00:00:00:03)",
};

// Primitives the random expressions of RandomExpressions are made of.
const char* const kAtoms[] = {
    "ip", "ip6", "arp", "tcp", "udp", "icmp", "tcp port 80", "udp port 53", "host 10.0.0.1",
    "net 10.0.0.0/8", "ip6 host 2001:db8::1", "ip proto 17", "iso", "atalk", "stp", "ipx",
    "len > 100", "link[0] = 0xff", "link[2] & 0x80 = 0x80", "byte 3 = 0x21", "broadcast",
    "multicast", "inbound", "llc", "vpi 0", "vci 5", "vpi > 0", "lane", "oam", "metac",
    "connectmsg", "fddi host 00:11:22:33:44:55", "tr src 02:00:00:00:00:01", "link host $12",
    "pppoes", "mpls", "vlan", "ip[9] = 6", "ip6[6] = 58", "udp[0:2] < 1024",
    "(host 10.0.0.1 or host 10.0.0.2 or host 192.168.1.1 or host 127.0.0.1 or host 1.2.3.4 or "
    "host 224.0.0.1 or host 10.0.0.255 or host 172.16.0.5)",
    "(tcp port 22 or tcp port 53 or tcp port 80 or tcp port 443 or tcp port 1000 or tcp port 1500 or "
    "tcp port 2000 or tcp port 8080)",
};

struct Figures {
  size_t pairs = 0, both_refuse = 0, accept_diff = 0, runs = 0, diffs = 0, interp_runs = 0;
  size_t message_diff = 0;  // refusals whose message is not libpcap's
  size_t len_le = 0, len_ours = 0, len_pcap = 0;  // program lengths, ours -O2 vs libpcap's
  std::map<int, size_t> packets;
};

// Ancillary loads (SKF_AD_*: `inbound` on links without a direction field, `ifindex`) read the
// kernel's metadata; libpcap's bpf_filter fails them. The interpreter is compared on the other
// programs only.
bool has_ancillary(const std::vector<bpf::vm::Insn>& p) {
  for (const auto& in : p)
    if ((in.code & 0x07) <= 1 && (in.code & 0xe0) == 0x20 && in.k >= 0xfffff000u) return true;
  return false;
}

std::map<int, std::vector<TestPacket>> all_packets(size_t* corpus_count) {
  std::map<int, std::vector<TestPacket>> packets;
  std::mt19937 rng(2026);
  for (int lt : bpf::test::kLinkTypesMore) packets[lt] = bpf::test::make_link_packets(lt, rng);
  *corpus_count = 0;
  const std::pair<const char*, std::vector<int>> files[] = {
      {"ppp.pcap", {9, 50}},     {"ppp_serial.pcap", {9, 50}}, {"chdlc.pcap", {104}},
      {"frelay.pcap", {107}},    {"slip.pcap", {8}},           {"arcnet_linux.pcap", {129}},
      {"ipnet.pcap", {226}},     {"sunatm.pcap", {123}}};
  for (const auto& [file, lts] : files) {
    auto c = bpf::test::load_corpus(file);
    *corpus_count += c.size();
    auto more = bpf::test::mutate_and_truncate(c, rng, c.size() < 50 ? 12 : 3);
    c.insert(c.end(), more.begin(), more.end());
    for (int lt : lts) packets[lt].insert(packets[lt].end(), c.begin(), c.end());
  }
  for (int lt : bpf::test::kLinkTypesMore) {  // mutated copies of the generated packets too
    std::vector<TestPacket> gen(packets[lt].begin(), packets[lt].begin() + 200);
    auto more = bpf::test::mutate_and_truncate(gen, rng, 1);
    packets[lt].insert(packets[lt].end(), more.begin(), more.end());
  }
  return packets;
}

TEST(ExprLinkTypes, VerdictsMatchLibpcap) {
  size_t corpus = 0;
  auto packets = all_packets(&corpus);
  std::printf("corpus packets: %zu%s\n", corpus, corpus ? "" : " (corpus absent: generated packets only)");
  Figures fig;
  for (int lt : bpf::test::kLinkTypesMore) fig.packets[lt] = packets[lt].size();
  for (const char* e : kLinkExprs) {
    for (int lt : bpf::test::kLinkTypesMore) {
      std::string perr;
      auto ref = bpf::test::libpcap_program(e, lt, 1, &perr);
      ExprOptions o;
      o.linktype = lt;
      auto ours = compile_expression(e, o);
      if (ref.has_value() != ours.ok()) {
        ++fig.accept_diff;
        ADD_FAILURE() << "accept/refuse differs for '" << e << "' linktype " << lt << ": libpcap "
                      << (ref ? "accepts" : "refuses: " + perr) << ", ours "
                      << (ours.ok() ? "accepts" : ours.diagnostics().render("<expr>"));
        continue;
      }
      if (!ref) {
        ++fig.both_refuse;
        // libpcap's message (pcap_geterr), without the location we add.
        const std::string ours_msg = ours.diagnostics().items().front().message;
        if (ours_msg != perr) {
          ++fig.message_diff;
          std::printf("message differs for '%s' linktype %d: libpcap \"%s\", ours \"%s\"\n", e, lt,
                      perr.c_str(), ours_msg.c_str());
        }
        continue;
      }
      ++fig.pairs;
      fig.len_le += ours->insns.size() <= ref->size();
      fig.len_ours += ours->insns.size();
      fig.len_pcap += ref->size();
      auto ref0 = bpf::test::libpcap_program(e, lt, 0);
      ASSERT_TRUE(ref0) << e;
      o.opt_level = 0;
      auto o0 = compile_expression(e, o);
      ASSERT_TRUE(o0.ok()) << e;
      auto v2 = bpf::verifier::verify(*ours);
      auto v0 = bpf::verifier::verify(*o0);
      ASSERT_TRUE(v2.ok() && v0.ok()) << "verifier refuses our program for '" << e << "' linktype " << lt;
      const bool interp = !has_ancillary(ours->insns) && !has_ancillary(o0->insns);
      bpf::vm::Interpreter i2(*v2), i0(*v0);
      size_t bad = 0;
      for (const TestPacket& p : packets[lt]) {
        const uint32_t want = bpf::test::run_libpcap(*ref, p), want0 = bpf::test::run_libpcap(*ref0, p);
        uint32_t got = bpf::test::run_libpcap(ours->insns, p), got0 = bpf::test::run_libpcap(o0->insns, p);
        ++fig.runs;
        if (interp) {
          ++fig.interp_runs;
          const uint32_t n = static_cast<uint32_t>(p.data.size());
          if (i2.run(p.data.data(), n, p.wirelen) != got || i0.run(p.data.data(), n, p.wirelen) != got0)
            got = ~want;  // the interpreter and bpf_filter disagree: count it as a difference
        }
        if ((want != got || want0 != got0) && bad++ < 2)
          ADD_FAILURE() << "verdict differs for '" << e << "' linktype " << lt << " (caplen "
                        << p.data.size() << " of " << p.wirelen << "): libpcap " << want << "/" << want0
                        << " (-O1/-O0), ours " << got << "/" << got0 << "\nlibpcap:\n"
                        << bpf::test::dump(*ref) << "ours:\n" << bpf::test::dump(ours->insns);
      }
      fig.diffs += bad;
    }
  }
  std::printf("link types: %zu; packets per link type:", fig.packets.size());
  for (const auto& [lt, n] : fig.packets) std::printf(" %d:%zu", lt, n);
  std::printf("\nexpressions: %zu; (expression, link type) pairs compiled by both: %zu, refused by both: %zu\n",
              sizeof kLinkExprs / sizeof kLinkExprs[0], fig.pairs, fig.both_refuse);
  std::printf("packet runs (each at -O2 and -O0): %zu (%zu also on the interpreter); verdict "
              "differences: %zu; accept/refuse differences: %zu\n",
              fig.runs, fig.interp_runs, fig.diffs, fig.accept_diff);
  std::printf("program length <= libpcap's: %zu of %zu pairs; total ours %zu vs libpcap %zu\n",
              fig.len_le, fig.pairs, fig.len_ours, fig.len_pcap);
  std::printf("refusals whose message differs from libpcap's: %zu of %zu\n", fig.message_diff, fig.both_refuse);
  EXPECT_EQ(fig.diffs, 0u);
  EXPECT_EQ(fig.accept_diff, 0u);
  EXPECT_EQ(fig.message_diff, 0u);
  EXPECT_GE(fig.pairs, 800u);
}

// Random and/or/not trees over kAtoms, compared the same way (accept/refuse, verdicts at -O2
// and -O0 on every packet of the link type).
TEST(ExprLinkTypes, RandomExpressions) {
  size_t corpus = 0;
  auto packets = all_packets(&corpus);
  // LINKTYPES_RANDOM_SEED / LINKTYPES_RANDOM_COUNT run other or more expressions.
  const char* seed = std::getenv("LINKTYPES_RANDOM_SEED");
  const char* count = std::getenv("LINKTYPES_RANDOM_COUNT");
  std::mt19937 rng(seed ? uint32_t(std::strtoul(seed, nullptr, 10)) : 99u);
  const int n_exprs = count ? int(std::strtol(count, nullptr, 10)) : 1200;
  const size_t n_atoms = sizeof kAtoms / sizeof kAtoms[0];
  std::function<std::string(int)> gen = [&](int depth) -> std::string {
    const int r = int(rng() % 6);
    if (depth == 0 || r < 2) return kAtoms[rng() % n_atoms];
    if (r == 2) return "not " + gen(depth - 1);
    return "(" + gen(depth - 1) + (r % 2 ? " and " : " or ") + gen(depth - 1) + ")";
  };
  size_t pairs = 0, runs = 0, diffs = 0, accept_diff = 0;
  for (int i = 0; i < n_exprs; ++i) {
    const std::string e = gen(3);
    const int lt = bpf::test::kLinkTypesMore[rng() % std::size(bpf::test::kLinkTypesMore)];
    for (int level : {2, 0}) {
      auto ref = bpf::test::libpcap_program(e, lt, level ? 1 : 0);
      ExprOptions o;
      o.linktype = lt;
      o.opt_level = level;
      auto ours = compile_expression(e, o);
      if (ref.has_value() != ours.ok()) {
        ++accept_diff;
        ADD_FAILURE() << "accept/refuse differs for '" << e << "' linktype " << lt << " -O" << level;
        continue;
      }
      if (!ref) continue;
      ++pairs;
      size_t bad = 0;
      for (const TestPacket& p : packets[lt]) {
        ++runs;
        if (bpf::test::run_libpcap(*ref, p) != bpf::test::run_libpcap(ours->insns, p) && bad++ < 1)
          ADD_FAILURE() << "verdict differs for '" << e << "' linktype " << lt << " -O" << level
                        << " (caplen " << p.data.size() << ")\nlibpcap:\n" << bpf::test::dump(*ref)
                        << "ours:\n" << bpf::test::dump(ours->insns);
      }
      diffs += bad;
    }
  }
  std::printf("random expressions: pairs compiled by both %zu, packet runs %zu, verdict differences %zu, "
              "accept/refuse differences %zu\n", pairs, runs, diffs, accept_diff);
  EXPECT_EQ(diffs, 0u);
  EXPECT_EQ(accept_diff, 0u);
  EXPECT_GT(pairs, size_t(n_exprs) / 2);
}

// The keywords must have packets of both verdicts (generated packets alone), so that the
// comparison above can fail: one expression per link type and keyword family.
TEST(ExprLinkTypes, GeneratedPacketsExerciseBothVerdicts) {
  std::mt19937 rng(7);
  const std::pair<int, const char*> cases[] = {
      {9, "ip"}, {9, "ip6"}, {50, "tcp port 80"}, {51, "udp"}, {104, "ip"}, {104, "iso"},
      {104, "mpls"}, {107, "ip"}, {107, "iso"}, {107, "clnp"}, {104, "clnp"}, {9, "iso"},
      {8, "ip"}, {8, "inbound"}, {7, "ip"},
      {7, "link host $12"}, {129, "arp"}, {129, "broadcast"}, {123, "lane"}, {123, "ip"},
      {123, "lane and ip"}, {123, "vci 5"}, {123, "connectmsg"}, {123, "oam"},
      {10, "fddi host 00:11:22:33:44:55"}, {10, "ip"}, {10, "multicast"}, {6, "tr broadcast"},
      {6, "ip6"}, {226, "ip"}, {226, "outbound"}};
  for (const auto& [lt, e] : cases) {
    auto pkts = bpf::test::make_link_packets(lt, rng);
    auto ref = bpf::test::libpcap_program(e, lt, 1);
    ASSERT_TRUE(ref) << e;
    size_t acc = 0;
    for (const auto& p : pkts) acc += bpf::test::run_libpcap(*ref, p) != 0;
    EXPECT_GT(acc, 0u) << e << " on " << lt;
    EXPECT_LT(acc, pkts.size()) << e << " on " << lt;
  }
}

// The same programs through jit::Filter (the default engine: a JIT when built in).
TEST(ExprLinkTypes, EngineMatchesLibpcap) {
  size_t corpus = 0;
  auto packets = all_packets(&corpus);
  size_t runs = 0, diffs = 0;
  for (const char* e : {"ip and tcp port 80", "lane and ip", "vci 5 or metac", "fddi src 00:11:22:33:44:55",
                        "link host $12 or arp", "iso or ip6", "outbound and udp", "llc"}) {
    for (int lt : bpf::test::kLinkTypesMore) {
      auto ref = bpf::test::libpcap_program(e, lt, 1);
      ExprOptions o;
      o.linktype = lt;
      auto ours = compile_expression(e, o);
      ASSERT_EQ(ref.has_value(), ours.ok()) << e << " " << lt;
      if (!ref) continue;
      auto v = bpf::verifier::verify(*ours);
      ASSERT_TRUE(v.ok());
      auto f = bpf::jit::Filter::compile(*v);
      ASSERT_TRUE(f.ok()) << f.diagnostics().render("<filter>");
      if (has_ancillary(ours->insns)) continue;
      for (const TestPacket& p : packets[lt]) {
        ++runs;
        const uint32_t got = f->run(p.data.data(), static_cast<uint32_t>(p.data.size()), p.wirelen);
        diffs += got != bpf::test::run_libpcap(*ref, p);
      }
    }
  }
  std::printf("engine runs: %zu, verdict differences: %zu\n", runs, diffs);
  EXPECT_EQ(diffs, 0u);
  EXPECT_GT(runs, 10000u);
}

}  // namespace
