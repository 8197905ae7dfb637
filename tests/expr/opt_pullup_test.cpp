// The optimiser's pullups (compiler/expr_opt.cpp, libpcap 1.10 optimize.c or_pullup/and_pullup)
// on relations and primitives that read the same packet field, against libpcap on snapped
// packets. libpcap loads a relation's operand through its index arithmetic (`ld M[r]; add x;
// tax; ldh [x + 0]` for udp[0:2]), so in its branch-moving opt_loop the value is never that of a
// primitive's load of the same field (`ldxb; ldh [x + 0]` of `udp src port`): a relation test is
// not pulled up past a primitive's test of another field. Pulling `udp[0:2] >= 1024` above the
// destination-port load accepts packets snapped before the destination port that libpcap rejects
// (IrBlock::rel_load). Fixed cases are run at -O1 and -O2 on every generated full-length packet
// cut at every length; random and/or/not trees of such atoms on the generated packets (snapped
// copies included). Corpus-independent: the packets are generated in-tree.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "compiler/expr.hpp"
#include "tests/expr/expr_list.hpp"
#include "tests/expr/libpcap_ref.hpp"
#include "tests/expr/packets_links.hpp"

namespace {

using bpf::compiler::compile_expression;
using bpf::compiler::ExprOptions;
using bpf::test::TestPacket;

// The generated packets of link type `lt` (expr_packets.hpp for the classic link types,
// packets_links.hpp for the others), snapped copies included.
std::vector<TestPacket> packets_for(int lt) {
  std::mt19937 rng(uint32_t(lt) + 53);
  for (int c : bpf::test::kExprLinkTypes)
    if (c == lt) return bpf::test::make_packets(lt, rng);
  return bpf::test::make_link_packets(lt, rng);
}

// Every full-length packet of `in` cut at every length from 0 to its own.
std::vector<TestPacket> every_length(const std::vector<TestPacket>& in) {
  std::vector<TestPacket> out;
  for (const TestPacket& p : in) {
    if (p.data.size() != p.wirelen) continue;
    for (size_t n = 0; n <= p.data.size(); ++n) {
      TestPacket s;
      s.data.assign(p.data.begin(), p.data.begin() + static_cast<std::ptrdiff_t>(n));
      s.wirelen = p.wirelen;
      out.push_back(std::move(s));
    }
  }
  return out;
}

struct Counts {
  size_t pairs = 0, runs = 0, diffs = 0, accept_diff = 0;
};

// Ours at -O1 and -O2 against libpcap's optimised program on `pkts`.
void compare(const std::string& e, int lt, const std::vector<TestPacket>& pkts, Counts& n) {
  const auto ref = bpf::test::libpcap_program(e, lt, 1);
  for (int level : {1, 2}) {
    ExprOptions o;
    o.linktype = lt;
    o.opt_level = level;
    const auto ours = compile_expression(e, o);
    if (ref.has_value() != ours.ok()) {
      ++n.accept_diff;
      ADD_FAILURE() << "accept/refuse differs for '" << e << "' linktype " << lt << " -O" << level;
      continue;
    }
    if (!ref) continue;
    ++n.pairs;
    size_t bad = 0;
    for (const TestPacket& p : pkts) {
      ++n.runs;
      if (bpf::test::run_libpcap(*ref, p) != bpf::test::run_libpcap(ours->insns, p) && bad++ == 0)
        ADD_FAILURE() << "verdict differs for '" << e << "' linktype " << lt << " -O" << level
                      << " (caplen " << p.data.size() << " of " << p.wirelen << ")\nlibpcap:\n"
                      << bpf::test::dump(*ref) << "ours:\n" << bpf::test::dump(ours->insns);
    }
    n.diffs += bad;
  }
}

// The expressions the random link-type test found (LINKTYPES_RANDOM_SEED=3, 28, 41) and their
// relatives: a relation on a port field next to port primitives, on RAW (12), IPNET (226),
// PPPoE (51), Ethernet (1) and Linux SLL (113); then what the random test below found
// (OPT_PULLUP_RANDOM_SEED=2, 4, 17 before the fix): `ip[9] > 6` next to `ip proto 17`,
// relations of one field, `len` relations.
TEST(ExprOptPullup, RelationIsNotPulledAbovePrimitiveLoads) {
  const std::pair<const char*, int> cases[] = {
      {"(udp port 53 or not udp[0:2] < 1024) and not arp", 12},
      {"((udp port 53 or not udp[0:2] < 1024) and not pppoes)", 226},
      {"not (not udp port 53 and (udp[0:2] < 1024 or tcp port 80))", 226},
      {"not (not udp port 53 and udp[0:2] < 1024)", 51},
      {"udp port 53 or not udp[0:2] < 1024", 1},
      {"udp port 53 or udp[0:2] >= 1024", 113},
      {"tcp port 80 or tcp[0:2] > 1023", 12},
      {"udp port 53 and udp[0:2] < 1024", 1},
      {"((ip proto 17 or tcp) and (ip host 10.0.0.1 or ip[9] > 6)) or "
       "(len <= 60 and udp src port 53)",
       113},
      // `=` and `>` relations of one field share their value from libpcap's second pass
      {"not ((ip6 or udp[0:2] > 2000) and (udp[2:2] > 1000 and udp[0:2] = 53))", 226},
      // `len = 60` is `ld len`'s value from the second pass, as `greater` and `len > 100` are
      {"(len = 60 and not (pppoes and greater 120))", 1},
      {"not (not len > 100 or (ip[9] > 6 and len = 60))", 226},
      {"((len > 100 and udp[0:2] > 2000) and not portrange 1000-2000)", 113},
  };
  std::map<int, std::vector<TestPacket>> pkts;
  Counts n;
  for (const auto& [e, lt] : cases) {
    if (!pkts.count(lt)) pkts[lt] = every_length(packets_for(lt));
    compare(e, lt, pkts[lt], n);
  }
  std::printf("fixed cases: %zu (expression, level) pairs, %zu packet runs, %zu verdict "
              "differences\n", n.pairs, n.runs, n.diffs);
  EXPECT_EQ(n.diffs, 0u);
  EXPECT_EQ(n.accept_diff, 0u);
  EXPECT_EQ(n.pairs, 2 * std::size(cases));
}

// Random and/or/not trees over primitives and relations reading the same fields (ports, IP
// protocol, addresses, length), on five link types (OPT_PULLUP_RANDOM_SEED /
// OPT_PULLUP_RANDOM_COUNT run other or more expressions).
TEST(ExprOptPullup, RandomRelationsAndPrimitivesOnSameFields) {
  const char* const atoms[] = {
      "udp port 53", "udp src port 53", "udp dst port 1000", "tcp port 80", "src port 1024",
      "portrange 1000-2000", "udp[0:2] < 1024", "udp[0:2] > 2000", "udp[2:2] = 53",
      "udp[0:2] >= 53", "tcp[0:2] > 1023", "tcp[2:2] = 80", "ip proto 17", "ip[9] = 17",
      "ip[9] > 6", "len > 100", "greater 120", "less 80", "len <= 60", "len = 60",
      "ip host 10.0.0.1", "ip[12:4] = 0x0a000001", "ip[16:4] > 0x0a000000", "udp[0:2] = 53",
      "udp[2:2] > 1000", "ip6[6] = 17", "ip6[6] > 6", "ip6 proto 17", "udp", "tcp", "ip", "ip6",
      "arp", "pppoes", "vlan"};
  const int lts[] = {12, 1, 113, 226, 51};
  std::map<int, std::vector<TestPacket>> pkts;
  for (int lt : lts) pkts[lt] = packets_for(lt);
  const char* seed = std::getenv("OPT_PULLUP_RANDOM_SEED");
  const char* count = std::getenv("OPT_PULLUP_RANDOM_COUNT");
  std::mt19937 rng(seed ? uint32_t(std::strtoul(seed, nullptr, 10)) : 20261202u);
  const int n_exprs = count ? int(std::strtol(count, nullptr, 10)) : 400;
  std::function<std::string(int)> gen = [&](int depth) -> std::string {
    const int r = int(rng() % 6);
    if (depth == 0 || r < 2) return atoms[rng() % std::size(atoms)];
    if (r == 2) return "not " + gen(depth - 1);
    return "(" + gen(depth - 1) + (r % 2 ? " and " : " or ") + gen(depth - 1) + ")";
  };
  Counts n;
  for (int i = 0; i < n_exprs; ++i) {
    const std::string e = gen(3);
    const int lt = lts[rng() % std::size(lts)];
    compare(e, lt, pkts[lt], n);
  }
  std::printf("random: %zu (expression, level) pairs, %zu packet runs, %zu verdict differences\n",
              n.pairs, n.runs, n.diffs);
  EXPECT_EQ(n.diffs, 0u);
  EXPECT_EQ(n.accept_diff, 0u);
  EXPECT_GT(n.pairs, size_t(n_exprs));
}

}  // namespace
