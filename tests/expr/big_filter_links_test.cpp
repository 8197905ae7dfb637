// Big filters on the serial, ATM and 802.x link types (PPP, PPP_SERIAL, PPP_ETHER, C_HDLC,
// FRELAY, SLIP, ARCNET, ARCNET_LINUX, SUNATM, FDDI, IEEE802, IPNET) against libpcap: seeded lists
// of hosts (both, src, dst), nets, ports and port ranges (tcp/udp/none) and IP protocol numbers,
// plain, under `not (...)` and inside `ip and not icmp and (...)`, on network packets aimed at the
// members (IPv4 TCP/UDP, ARP/RARP with member addresses, IPv6 with member ports) wrapped in each
// link header, the generic packets of tests/expr/packets_links.hpp, and mutated and truncated
// copies of both.
//  - 10 to 40 terms: our -O2 against libpcap -O1 on every packet, snapped ones included (the
//    set searches must keep the load paths of libpcap's optimised program).
//  - 100 terms: our -O2 against libpcap -O0 on full-length packets, our -O0 against libpcap -O0
//    on every packet.
// On the link types where compiler/expr_gen_sets.cpp searches (or_segments), this is what makes
// the search exact; on the others lists stay member by member and this checks that too.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "compiler/expr.hpp"
#include "tests/expr/aimed_packets.hpp"
#include "tests/expr/libpcap_ref.hpp"
#include "tests/expr/packets_links.hpp"
#include "tests/expr/verdict_check.hpp"

namespace {

using bpf::test::NetPacket;
using bpf::test::TestPacket;

using bpf::test::ip4;

struct ListCase {
  std::string expr;
  std::vector<uint32_t> addrs;
  std::vector<uint16_t> ports;
  std::vector<uint8_t> protos;
};

// kind 0 hosts, 1 nets, 2 ports and ranges, 3 protocol numbers; the wrapping and qualifiers
// vary with `variant`.
ListCase make_list(int kind, int n, int variant, std::mt19937& rng) {
  ListCase c;
  auto addr = [&] { return 0x0a000000u | (rng() & 0x00ffffffu) | (rng() % 4 == 0 ? 0xc0000000u : 0); };
  const char* dirs[] = {"", "src ", "dst "};
  const char* protos[] = {"", "tcp ", "udp "};
  std::string list;
  for (int i = 0; i < n; ++i) {
    std::string t;
    switch (kind) {
      case 0: {
        const uint32_t a = addr();
        c.addrs.push_back(a);
        t = std::string(dirs[variant % 3]) + "host " + ip4(a);
        break;
      }
      case 1: {
        const uint32_t a = addr();
        c.addrs.push_back(a);
        switch (rng() % 3) {
          case 0: t = "net " + ip4(a & 0xffffff00u) + "/24"; break;
          case 1: t = "net " + ip4(a & 0xffff0000u) + "/16"; break;
          default: t = "net " + std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255); break;
        }
        break;
      }
      case 2: {
        const uint16_t p = static_cast<uint16_t>(1 + rng() % 65000);
        c.ports.push_back(p);
        if (rng() % 3 == 0) {
          const uint16_t h = static_cast<uint16_t>(p + rng() % 200);
          c.ports.push_back(h);
          t = std::string(protos[variant % 3]) + "portrange " + std::to_string(p) + "-" + std::to_string(h);
        } else {
          t = std::string(protos[variant % 3]) + "port " + std::to_string(p);
        }
        break;
      }
      default: {
        const uint8_t v = static_cast<uint8_t>(rng() % 256);
        c.protos.push_back(v);
        t = std::string(variant % 2 ? "ip proto " : "proto ") + std::to_string(v);
        break;
      }
    }
    list += (i ? " or " : "") + t;
  }
  switch (variant % 3) {
    case 0: c.expr = list; break;
    case 1: c.expr = "not (" + list + ")"; break;
    default: c.expr = "ip and not icmp and (" + list + ")"; break;
  }
  return c;
}


class BigFilterLinks : public ::testing::TestWithParam<int> {};

TEST_P(BigFilterLinks, VerdictsMatchLibpcap) {
  const int lt = GetParam();
  std::mt19937 rng(20261202u + static_cast<uint32_t>(lt));
  const std::vector<TestPacket> generic = bpf::test::make_link_packets(lt, rng);
  bpf::test::VerdictCounts o1, o0;
  size_t ours_len = 0, ref0_len = 0;  // -O2 against libpcap -O0 at n = 100
  const char* kinds[] = {"hosts", "nets", "ports", "protocols"};
  for (int n : {10, 12, 40, 100})
    for (int kind = 0; kind < 4; ++kind)
      for (int variant = 0; variant < 3; ++variant) {
        const ListCase c = make_list(kind, n, variant + n, rng);
        std::vector<TestPacket> pkts;
        bpf::test::aimed_net_packets(c.addrs, c.ports, c.protos, 300, rng, [&](const NetPacket& np) {
          TestPacket p;
          p.data = bpf::test::link_frame(lt, np, rng);
          p.wirelen = static_cast<uint32_t>(p.data.size());
          pkts.push_back(std::move(p));
        });
        const std::vector<TestPacket> cut = bpf::test::mutate_and_truncate(pkts, rng, 1);
        pkts.insert(pkts.end(), cut.begin(), cut.end());
        pkts.insert(pkts.end(), generic.begin(), generic.end());
        const std::string what = std::string(kinds[kind]) + " n=" + std::to_string(n) + " linktype " +
                                 std::to_string(lt) + " '" + c.expr.substr(0, 60) + "...'";
        bpf::compiler::ExprOptions opt;
        opt.linktype = lt;
        auto ours = bpf::compiler::compile_expression(c.expr, opt);
        opt.opt_level = 0;
        auto ours0 = bpf::compiler::compile_expression(c.expr, opt);
        auto ref0 = bpf::test::libpcap_program(c.expr, lt, 0);
        ASSERT_EQ(ours.ok(), ref0.has_value()) << what;
        if (!ref0) continue;  // refused by both (e.g. no IPv4 on this link type)
        ASSERT_TRUE(ours0.ok()) << what;
        if (n == 100) {
          ours_len += ours->insns.size();
          ref0_len += ref0->size();
        }
        if (n <= 40) {
          auto ref1 = bpf::test::libpcap_program(c.expr, lt, 1);
          ASSERT_TRUE(ref1.has_value()) << what;
          bpf::test::check_verdicts(what + " vs libpcap -O1", *ref1, ours->insns, pkts, false, o1);
        }
        bpf::test::check_verdicts(what + " -O2 vs libpcap -O0", *ref0, ours->insns, pkts, true, o0);
        bpf::test::check_verdicts(what + " -O0 vs libpcap -O0", *ref0, ours0->insns, pkts, false, o0);
      }
  std::printf("linktype %d: %zu cases vs libpcap -O1 (%zu runs, %zu differences), %zu vs libpcap -O0 "
              "(%zu runs, %zu differences); 100-term lists: %zu instructions against libpcap -O0's %zu\n",
              lt, o1.cases, o1.runs, o1.diffs, o0.cases, o0.runs, o0.diffs, ours_len, ref0_len);
  EXPECT_EQ(o1.diffs + o0.diffs, 0u);
}

INSTANTIATE_TEST_SUITE_P(LinkTypes, BigFilterLinks, ::testing::ValuesIn(bpf::test::kLinkTypesMore));

// Lists inside random and/or/not contexts, on Ethernet and the link types above, against
// libpcap -O1: a search is exact where libpcap's optimiser gathers the members' tests of one
// field (src, then dst) as the search does. Where another test loads the searched field
// (`hosts or not hosts`, `not hosts and host A`, two port lists), the run is lowered member by
// member (Gen::conflicting_set_runs) and must agree on every packet. Where the list is entered
// from paths that know different things about the EtherType (`not (len > 100 and udp[0:2] <
// 1024) and hosts`), libpcap's optimiser gathers only part of the members and a snapped packet
// can fail a load there that the search does not make: those differences are counted and
// bounded here (README, Known gaps); full-length packets must always agree.
TEST(BigFilterContexts, RandomContextsMatchLibpcap) {
  const char* const lists[] = {
      "(host 10.0.0.1 or host 10.0.0.2 or host 192.168.1.1 or host 127.0.0.1 or host 1.2.3.4 or "
      "host 224.0.0.1 or host 10.0.0.255 or host 172.16.0.5)",
      "(tcp port 22 or tcp port 53 or tcp port 80 or tcp port 443 or tcp port 1000 or tcp port 1500 or "
      "tcp port 2000 or tcp port 8080)",
      "(port 22 or port 53 or port 80 or port 443 or port 1000 or port 1500 or port 2000 or "
      "portrange 8080-8090)",
      "(net 10.0.0.0/8 or net 192.168.0.0/16 or net 172.16.0.0/12 or net 1.2.3.0/24 or "
      "net 224.0.0.0/4 or net 100.64.0.0/10 or net 169.254.0.0/16 or net 198.18.0.0/15)",
      "(proto 6 or proto 17 or proto 1 or proto 2 or proto 9 or proto 103 or proto 112 or proto 47)",
  };
  const char* const atoms[] = {
      "ip", "ip6", "arp", "tcp", "udp", "icmp", "tcp port 80", "udp port 53", "host 10.0.0.1",
      "net 10.0.0.0/8", "src host 1.2.3.4", "dst port 22", "ip proto 17", "len > 100", "less 60",
      "udp[0:2] < 1024", "tcp[13] & 2 != 0", "ip[9] = 6", "broadcast", "multicast", "vlan",
  };
  std::mt19937 rng(4242);
  std::function<std::string(int)> gen = [&](int depth) -> std::string {
    const int r = static_cast<int>(rng() % 7);
    if (depth == 0 || r < 2) return r == 0 || rng() % 3 == 0 ? lists[rng() % std::size(lists)] : atoms[rng() % std::size(atoms)];
    if (r == 2) return "not " + gen(depth - 1);
    return "(" + gen(depth - 1) + (r % 2 ? " and " : " or ") + gen(depth - 1) + ")";
  };
  std::vector<int> lts{1};
  lts.insert(lts.end(), std::begin(bpf::test::kLinkTypesMore), std::end(bpf::test::kLinkTypesMore));
  std::map<int, std::vector<TestPacket>> packets;
  for (int lt : lts) {
    std::mt19937 prng(static_cast<uint32_t>(lt));
    packets[lt] = lt == 1 ? bpf::test::make_packets(1, prng) : bpf::test::make_link_packets(lt, prng);
    const auto more = bpf::test::mutate_and_truncate(packets[lt], prng, 1);
    packets[lt].insert(packets[lt].end(), more.begin(), more.end());
  }
  size_t pairs = 0, runs = 0, snapped_runs = 0, snapped_diffs = 0, full_diffs = 0, refuse_diffs = 0;
  const char* count = std::getenv("BIG_CONTEXTS_COUNT");  // more for ad-hoc runs
  const char* seed = std::getenv("BIG_CONTEXTS_SEED");
  if (seed) rng.seed(static_cast<uint32_t>(std::strtoul(seed, nullptr, 10)));
  const int n_exprs = count ? std::atoi(count) : 1500;
  for (int i = 0; i < n_exprs; ++i) {
    const std::string e = gen(3);
    if (e.find(" or ") == std::string::npos) continue;
    const int lt = lts[rng() % lts.size()];
    auto ref = bpf::test::libpcap_program(e, lt, 1);
    bpf::compiler::ExprOptions o;
    o.linktype = lt;
    auto ours = bpf::compiler::compile_expression(e, o);
    if (ref.has_value() != ours.ok()) {
      ++refuse_diffs;
      ADD_FAILURE() << "accept/refuse differs for '" << e << "' linktype " << lt;
      continue;
    }
    if (!ref) continue;
    ++pairs;
    size_t bad = 0;
    for (const TestPacket& p : packets[lt]) {
      ++runs;
      const bool snapped = p.data.size() < p.wirelen;
      snapped_runs += snapped;
      if (bpf::test::run_libpcap(*ref, p) == bpf::test::run_libpcap(ours->insns, p)) continue;
      if (snapped) {
        ++snapped_diffs;
        if (bad++ == 0) std::printf("snapped packet differs (caplen %zu of %u): '%s' linktype %d\n",
                                    p.data.size(), p.wirelen, e.c_str(), lt);
      } else {
        ++full_diffs;
        ADD_FAILURE() << "verdict differs on a full-length packet for '" << e << "' linktype " << lt;
      }
    }
  }
  std::printf("lists in random contexts: %zu expressions compiled by both, %zu runs, %zu on snapped "
              "packets of which %zu differ; %zu full-length differences, %zu accept/refuse "
              "differences\n", pairs, runs, snapped_runs, snapped_diffs, full_diffs, refuse_diffs);
  EXPECT_EQ(full_diffs, 0u);
  EXPECT_EQ(refuse_diffs, 0u);
  EXPECT_LE(snapped_diffs * 1000, snapped_runs);  // at most 0.1% of the snapped runs
}

}  // namespace
