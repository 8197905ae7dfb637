// Big filters (issue: thousands of terms) against libpcap. Generated, seeded lists of hosts,
// nets (/8 /16 /24 and partial `net A.B` forms), ports and port ranges (with and without
// tcp/udp), MAC addresses, IP protocol numbers, (host and port) pairs, `not (...)` lists and mixes inside
// `ip and ... and (...)`,
// of 10 to 3,000 terms, run on packets built to hit the members (and their neighbours and range
// edges), on generated and corpus packets, and on snapped copies.
//  - Up to 40 terms libpcap's optimiser still gathers every member's test (its program is the
//    search's shape): every verdict, snapped packets included, must be libpcap -O1's.
//  - Up to 1,000 terms: our -O2 against libpcap -O0 on every full-length packet, and our -O0
//    against libpcap -O0 on every packet (libpcap's optimiser takes seconds to minutes there).
//  - 3,000 terms: our -O2 against our -O0 (libpcap -O0 itself takes 94 s to compile 3,000
//    hosts) on full-length packets.
// Also: the 1,000-host list fits the kernel's 4,096 instructions and passes our Linux verifier
// (expr_kernel_test attaches it).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "compiler/expr.hpp"
#include "tests/expr/aimed_packets.hpp"
#include "tests/expr/expr_packets.hpp"
#include "tests/expr/libpcap_ref.hpp"
#include "tests/expr/verdict_check.hpp"
#include "verifier/verifier.hpp"

namespace {

using bpf::test::NetPacket;
using bpf::test::TestPacket;

using bpf::test::ip4;

struct BigCase {
  std::string expr;
  std::vector<uint32_t> addrs;  // values that should hit (and their neighbours)
  std::vector<uint16_t> ports;
  std::vector<uint64_t> macs;
  std::vector<uint8_t> protos;
};

BigCase make_case(int kind, int n, std::mt19937& rng) {
  BigCase c;
  auto addr = [&] { return 0x0a000000u | (rng() & 0x00ffffffu) | (rng() % 4 == 0 ? 0xc0000000u : 0); };
  std::string sep;
  const char* dirs[] = {"", "src ", "dst "};
  const char* protos[] = {"", "tcp ", "udp "};
  std::string list;
  for (int i = 0; i < n; ++i) {
    std::string t;
    switch (kind) {
      case 0: {  // hosts, one direction for the whole list
        const uint32_t a = addr();
        c.addrs.push_back(a);
        t = std::string(dirs[n % 3]) + "host " + ip4(a);
        break;
      }
      case 1: {  // nets
        const uint32_t a = addr();
        c.addrs.push_back(a);
        switch (rng() % 4) {
          case 0: t = "net " + ip4(a & 0xffffff00u) + "/24"; break;
          case 1: t = "net " + ip4(a & 0xffff0000u) + "/16"; break;
          case 2: t = "net " + std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255); break;
          default: t = "net " + ip4(a & 0xff000000u) + "/8"; break;
        }
        break;
      }
      case 2: {  // ports and port ranges
        const uint16_t p = static_cast<uint16_t>(1 + rng() % 65000);
        c.ports.push_back(p);
        if (rng() % 3 == 0) {
          const uint16_t h = static_cast<uint16_t>(p + rng() % 200);
          c.ports.push_back(h);
          t = std::string(protos[n % 3]) + "portrange " + std::to_string(p) + "-" + std::to_string(h);
        } else {
          t = std::string(protos[n % 3]) + "port " + std::to_string(p);
        }
        break;
      }
      case 4: {  // MAC addresses, some sharing their low 32 bits
        uint64_t m = (uint64_t(rng() & 0xffff) << 32) | (rng() % 2 ? rng() : 0x22334400u + rng() % 8);
        if (!c.macs.empty() && rng() % 4 == 0) m = (c.macs.back() & 0xffffffffu) | (uint64_t(rng() & 0xffff) << 32);
        c.macs.push_back(m);
        char b[40];
        std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", unsigned(m >> 40) & 255,
                      unsigned(m >> 32) & 255, unsigned(m >> 24) & 255, unsigned(m >> 16) & 255,
                      unsigned(m >> 8) & 255, unsigned(m) & 255);
        t = std::string("ether ") + (n % 3 == 1 ? "src " : n % 3 == 2 ? "dst " : "host ") + b;
        break;
      }
      case 5: {  // IP protocol numbers
        uint8_t v = static_cast<uint8_t>(rng() % 256);
        c.protos.push_back(v);
        const char* q[] = {"proto ", "ip proto ", "ip6 proto "};
        t = std::string(q[n % 3 == 2 ? 1 : n % 3]) + std::to_string(v);  // not ip6 under "ip and"
        break;
      }
      case 3: {  // (host, port) pairs: searched (compiler/expr_gen_pairs.cpp; pair_list_test.cpp)
        const uint32_t a = addr();
        const uint16_t p = static_cast<uint16_t>(1 + rng() % 65000);
        c.addrs.push_back(a);
        c.ports.push_back(p);
        t = "(host " + ip4(a) + " and port " + std::to_string(p) + ")";
        break;
      }
    }
    list += (i ? " or " : "") + t;
  }
  switch (n % 3) {
    case 0: c.expr = list; break;
    case 1: c.expr = "not (" + list + ")"; break;
    default: c.expr = "ip and not icmp and (" + list + ")"; break;
  }
  return c;
}

// Packets aimed at a case: IPv4 TCP/UDP/ARP with member addresses as source or destination (or
// a neighbour), member ports and range edges, IPv6 with member ports; plus snapped copies.
std::vector<TestPacket> aimed_packets(const BigCase& c, std::mt19937& rng) {
  std::vector<TestPacket> out;
  const uint8_t mac[6] = {0, 0x11, 0x22, 0x33, 0x44, 0x55};
  auto pick_mac = [&](uint8_t* out) {
    std::memcpy(out, mac, 6);
    if (c.macs.empty() || rng() % 3 == 0) return;
    uint64_t m = c.macs[rng() % c.macs.size()];
    if (rng() % 5 == 0) m ^= uint64_t(1) << (rng() % 48);  // a neighbour
    for (int i = 0; i < 6; ++i) out[i] = uint8_t(m >> (40 - 8 * i));
  };
  auto frame = [&](const NetPacket& np) {
    TestPacket p;
    uint8_t src[6], dst[6];
    pick_mac(src);
    pick_mac(dst);
    p.data = bpf::test::ether(dst, src, {}, {}, np);
    p.wirelen = static_cast<uint32_t>(p.data.size());
    out.push_back(p);
    if (rng() % 3 == 0) {  // a snapped copy somewhere in the headers
      TestPacket s = p;
      s.data.resize(std::min<size_t>(s.data.size(), (rng() % 4 ? 14 : 0) + rng() % 44));
      out.push_back(s);
    }
  };
  bpf::test::aimed_net_packets(c.addrs, c.ports, c.protos, 600, rng, frame);
  return out;
}

using Counts = bpf::test::VerdictCounts;
constexpr auto check = bpf::test::check_verdicts;

TEST(BigFilters, VerdictsMatchLibpcap) {
  const char* seed = std::getenv("BIG_FILTER_SEED");  // other seeds: BIG_FILTER_SEED=N
  std::mt19937 rng(seed ? static_cast<uint32_t>(std::strtoul(seed, nullptr, 10)) : 20261202u);
  std::mt19937 prng(99);
  std::vector<TestPacket> common = bpf::test::make_packets(1, prng);
  const auto corpus = bpf::test::load_corpus("ether.pcap", 1500);
  common.insert(common.end(), corpus.begin(), corpus.end());
  Counts o1, o0, self;
  const char* kinds[] = {"hosts", "nets", "ports", "pairs", "macs", "protocols"};
  for (int n : {10, 11, 12, 40, 41, 100, 300, 1000, 3000})
    for (int kind = 0; kind < 6; ++kind) {
      if (n > 1000 && kind == 3) continue;
      if (n > 300 && kind == 5) continue;  // 256 protocol numbers
      const BigCase c = make_case(kind, n, rng);
      std::vector<TestPacket> pkts = aimed_packets(c, rng);
      pkts.insert(pkts.end(), common.begin(), common.end());
      const std::string what = std::string(kinds[kind]) + " n=" + std::to_string(n) + " '" +
                               c.expr.substr(0, 60) + "...'";
      bpf::compiler::ExprOptions opt;
      auto ours = bpf::compiler::compile_expression(c.expr, opt);
      ASSERT_TRUE(ours.ok()) << what << ours.diagnostics().render("<expr>").substr(0, 400);
      opt.opt_level = 0;
      auto ours0 = bpf::compiler::compile_expression(c.expr, opt);
      ASSERT_TRUE(ours0.ok()) << what;
      if (n <= 40) {
        auto ref = bpf::test::libpcap_program(c.expr, 1, 1);
        ASSERT_TRUE(ref.has_value()) << what;
        check(what + " vs libpcap -O1", *ref, ours->insns, pkts, false, o1);
      }
      if (n <= 1000 && !(n == 1000 && kind != 0)) {
        auto ref0 = bpf::test::libpcap_program(c.expr, 1, 0);
        ASSERT_TRUE(ref0.has_value()) << what;
        check(what + " -O2 vs libpcap -O0", *ref0, ours->insns, pkts, true, o0);
        check(what + " -O0 vs libpcap -O0", *ref0, ours0->insns, pkts, false, o0);
      } else {
        check(what + " -O2 vs our -O0", ours0->insns, ours->insns, pkts, true, self);
      }
      if (n == 1000 && kind == 0) {
        std::printf("1,000-host list: %zu instructions (libpcap -O0: see -d)\n", ours->insns.size());
        EXPECT_LE(ours->insns.size(), 4096u);
        auto v = bpf::verifier::verify(*ours);
        EXPECT_TRUE(v.ok()) << v.diagnostics().render("<expr>");
      }
    }
  std::printf("big filters: %zu cases vs libpcap -O1 (%zu runs, %zu differences); %zu vs libpcap "
              "-O0 (%zu runs, %zu differences); %zu vs our -O0 (%zu runs, %zu differences)\n",
              o1.cases, o1.runs, o1.diffs, o0.cases, o0.runs, o0.diffs, self.cases, self.runs,
              self.diffs);
  EXPECT_EQ(o1.diffs + o0.diffs + self.diffs, 0u);
}

}  // namespace
