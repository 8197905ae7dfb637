// IPv6 host and net lists compiled as searches (compiler/expr_gen_sets_ip6.cpp) against
// libpcap. Seeded lists of 10 to 3,000 `host` / `src host` / `dst host` / `net P/len` members
// (addresses drawn from a few shared /32 and /64 prefixes and at random, duplicates, nets
// nesting hosts and other nets), alone, under `not (...)`, inside `ip6 and tcp and (...)` and
// in front of `or udp` (where a failing load and a false test differ), run on packets built to
// hit the members (their addresses, neighbours sharing 1 to 3 leading words, addresses inside
// the nets), each also snapped at every length through the IPv6 addresses (0 to 58 bytes).
//  - up to 300 terms: every verdict, snapped packets included, must be libpcap -O1's;
//  - 1,000 terms: libpcap -O0's (the same walk for hosts; for nets libpcap's optimiser deletes
//    the masked-out words' loads, so snapped packets are compared at -O1 sizes only);
//  - 3,000 terms: our -O2 against our -O0 (libpcap -O0 takes 39 s there).
// Also: raw IPv6 and VLAN framing, and IPv4 and IPv6 lists followed by a primitive that accepts
// everything they lead to (`(list) or ip6`: libpcap deletes the list's tests and loads).
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "compiler/expr.hpp"
#include "tests/expr/expr_packets.hpp"
#include "tests/expr/libpcap_ref.hpp"
#include "tests/expr/verdict_check.hpp"
#include "verifier/verifier.hpp"

namespace {

using bpf::test::TestPacket;

struct Addr {
  uint8_t b[16];
};

std::string text(const Addr& a) {
  char s[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a.b, s, sizeof s);
  return s;
}

struct Ip6Case {
  std::string expr;
  std::vector<Addr> hits;  // member addresses (hosts, or inside nets)
  bool nets = false;       // some member has masked-out words (libpcap -O0 and -O1 differ)
};

// kind 0: hosts, 1: nets and hosts (from shared prefixes: nets often contain other members, and
// such runs keep the member-by-member form), 2: nets and hosts at random; dir: 0 both, 1 src, 2 dst, 3 src then dst halves.
Ip6Case make_case(int kind, int dir, int n, std::mt19937& rng) {
  Ip6Case c;
  Addr prefixes[6];
  for (Addr& p : prefixes)
    for (uint8_t& x : p.b) x = static_cast<uint8_t>(rng());
  prefixes[0].b[0] = 0x20, prefixes[0].b[1] = 0x01, prefixes[0].b[2] = 0x0d, prefixes[0].b[3] = 0xb8;
  std::string list;
  for (int i = 0; i < n; ++i) {
    Addr a;
    for (uint8_t& x : a.b) x = static_cast<uint8_t>(rng());
    int shape = static_cast<int>(rng() % 6);
    if (kind == 2) shape = 5;  // random: nets rarely contain other members
    if (shape < 4) std::memcpy(a.b, prefixes[rng() % 6].b, shape < 2 ? 8 : 4);  // a shared /64 or /32
    if (shape == 1) std::memset(a.b + 8, 0, 6);                                   // ::xx
    if (!c.hits.empty() && rng() % 20 == 0) a = c.hits[rng() % c.hits.size()];   // a duplicate
    std::string term;
    int plen = 128;
    if (kind >= 1 && rng() % 2) {
      const int lens[] = {16, 32, 40, 48, 56, 64, 80, 96, 112, 120, 127};
      plen = lens[rng() % 11];
      for (int b = plen; b < 128; ++b) a.b[b / 8] &= static_cast<uint8_t>(~(0x80u >> (b % 8)));
      c.nets |= plen <= 96;
    }
    c.hits.push_back(a);
    const char* d = dir == 1 || (dir == 3 && i < n / 2) ? "src " : dir == 2 || dir == 3 ? "dst " : "";
    if (plen < 128) {
      term = std::string(i % 3 == 0 ? "ip6 " : "") + d + "net " + text(a) + "/" + std::to_string(plen);
    } else {
      const char* q[] = {"host ", "ip6 host ", "net ", ""};  // `A` alone is a host too
      term = *d ? std::string(i % 2 ? "ip6 " : "") + d + "host " + text(a) : q[i % 4] + text(a);
    }
    list += (i ? " or " : "") + term;
  }
  switch (n % 4) {
    case 0: c.expr = list; break;
    case 1: c.expr = "not (" + list + ")"; break;
    case 2: c.expr = "ip6 and tcp and (" + list + ")"; break;
    default: c.expr = "(" + list + ") or udp"; break;
  }
  return c;
}

// Packets aimed at a case, each full and snapped at every length through the addresses for
// the first `every_len` of them (random lengths for the others).
std::vector<TestPacket> aimed_packets(const Ip6Case& c, std::mt19937& rng, int count, int every_len) {
  std::vector<TestPacket> out;
  const uint8_t mac_a[6] = {0, 1, 2, 3, 4, 5}, mac_b[6] = {0, 6, 7, 8, 9, 10};
  auto pick = [&] {
    Addr a;
    for (uint8_t& x : a.b) x = static_cast<uint8_t>(rng());
    const int r = static_cast<int>(rng() % 8);
    if (r == 0) return a;
    Addr m = c.hits[rng() % c.hits.size()];
    if (r == 1) {  // inside the member's net (or a neighbour of a host)
      for (int i = 8 + static_cast<int>(rng() % 8); i < 16; ++i) m.b[i] = static_cast<uint8_t>(rng());
    } else if (r == 2) {  // shares 1 to 3 leading words, then differs
      const int w = 1 + static_cast<int>(rng() % 3);
      m.b[4 * w + rng() % 4] ^= static_cast<uint8_t>(1 + rng() % 255);
    } else if (r == 3) {
      m.b[15] ^= 1;
    }
    return m;
  };
  for (int i = 0; i < count; ++i) {
    const Addr s = pick(), d = rng() % 3 ? pick() : s;
    const uint8_t proto = rng() % 2 ? 6 : 17;
    const auto ip = bpf::test::ipv6(s.b, d.b, proto, bpf::test::transport(proto, 1000, 80, rng, 0x02));
    TestPacket p;
    p.data = bpf::test::ether(mac_a, mac_b, {}, {}, {0x86dd, ip});
    p.wirelen = static_cast<uint32_t>(p.data.size());
    out.push_back(p);
    if (i < every_len) {
      for (size_t len = 0; len <= 58 && len < p.data.size(); ++len) {
        TestPacket q = p;
        q.data.resize(len);
        out.push_back(std::move(q));
      }
    } else {
      TestPacket q = p;
      q.data.resize(rng() % 60);
      out.push_back(std::move(q));
    }
  }
  return out;
}

using Counts = bpf::test::VerdictCounts;
constexpr auto check = bpf::test::check_verdicts;

TEST(BigFilters, Ipv6Lists) {
  const char* seed = std::getenv("BIG_FILTER_SEED");  // other seeds: BIG_FILTER_SEED=N
  std::mt19937 rng(seed ? static_cast<uint32_t>(std::strtoul(seed, nullptr, 10)) : 20261203u);
  std::mt19937 prng(7);
  std::vector<TestPacket> common = bpf::test::make_packets(1, prng);
  const auto corpus = bpf::test::load_corpus("ether.pcap", 1500);
  common.insert(common.end(), corpus.begin(), corpus.end());
  Counts o1, o0, self;
  const char* kinds[] = {"hosts", "nets", "random nets"};
  const char* dirs[] = {"host", "src", "dst", "src+dst"};
  for (int n : {10, 11, 12, 13, 40, 101, 300, 1000, 3000})
    for (int kind = 0; kind < 3; ++kind)
      for (int dir = 0; dir < 4; ++dir) {
        if (n >= 1000 && (dir == 3 || (kind > 0 && dir > 0) || kind == 1 || (n == 1000 && dir == 1)))
          continue;  // libpcap -O0 takes 3 s per 1,000-term list
        const Ip6Case c = make_case(kind, dir, n, rng);
        std::vector<TestPacket> pkts = aimed_packets(c, rng, n >= 1000 ? 300 : 200, 40);
        pkts.insert(pkts.end(), common.begin(), common.end());
        const std::string what = std::string(kinds[kind]) + " " + dirs[dir] + " n=" +
                                 std::to_string(n) + " '" + c.expr.substr(0, n <= 12 ? 2000 : 70) + "...'";
        bpf::compiler::ExprOptions opt;
        auto ours = bpf::compiler::compile_expression(c.expr, opt);
        ASSERT_TRUE(ours.ok()) << what << ours.diagnostics().render("<expr>").substr(0, 400);
        opt.opt_level = 0;
        auto ours0 = bpf::compiler::compile_expression(c.expr, opt);
        ASSERT_TRUE(ours0.ok()) << what;
        auto v = bpf::verifier::verify(*ours);
        EXPECT_TRUE(v.ok() || ours->insns.size() > 4096) << what << v.diagnostics().render("<expr>");
        if (n <= 300) {
          auto ref = bpf::test::libpcap_program(c.expr, 1, 1);
          ASSERT_TRUE(ref.has_value()) << what;
          check(what + " vs libpcap -O1", *ref, ours->insns, pkts, false, o1);
          if (n <= 40) {  // our -O1 (no redundant load elimination) too
            opt.opt_level = 1;
            auto ours1 = bpf::compiler::compile_expression(c.expr, opt);
            ASSERT_TRUE(ours1.ok()) << what;
            check(what + " -O1 vs libpcap -O1", *ref, ours1->insns, pkts, false, o1);
          }
        } else if (n <= 1000 && dir != 3) {
          auto ref0 = bpf::test::libpcap_program(c.expr, 1, 0);
          ASSERT_TRUE(ref0.has_value()) << what;
          check(what + " -O2 vs libpcap -O0", *ref0, ours->insns, pkts, c.nets, o0);
          check(what + " -O0 vs libpcap -O0", *ref0, ours0->insns, pkts, false, o0);
        } else {
          check(what + " -O2 vs our -O0", ours0->insns, ours->insns, pkts, c.nets, self);
        }
        if (n == 1000 && kind == 0)
          std::printf("1,000 IPv6 hosts (%s): %zu instructions\n", dirs[dir], ours->insns.size());
      }
  std::printf("IPv6 lists: %zu cases vs libpcap -O1 (%zu runs, %zu differences); %zu vs libpcap "
              "-O0 (%zu runs, %zu differences); %zu vs our -O0 (%zu runs, %zu differences)\n",
              o1.cases, o1.runs, o1.diffs, o0.cases, o0.runs, o0.diffs, self.cases, self.runs,
              self.diffs);
  EXPECT_EQ(o1.diffs + o0.diffs + self.diffs, 0u);
}

// The same search behind other link layers: raw IPv6 (DLT_RAW, the network layer at 0), and
// inside `vlan` on Ethernet (the network layer 4 bytes further), snapped at every length.
TEST(BigFilters, Ipv6ListsOtherLinkLayers) {
  std::mt19937 rng(31337);
  Counts o1;
  for (int n : {12, 40, 150})
    for (int dir = 0; dir < 3; ++dir)
      for (int lt : {12, 1}) {
        Ip6Case c = make_case(n == 150 ? 2 : 0, dir, n, rng);
        if (lt == 1) c.expr = "vlan and (" + c.expr + ")";
        std::vector<TestPacket> pkts;
        for (const TestPacket& p : aimed_packets(c, rng, 120, 120)) {
          if (p.data.size() != p.wirelen) continue;  // snapped again below, after the re-framing
          TestPacket q;
          if (lt == 12) {
            q.data.assign(p.data.begin() + 14, p.data.end());
          } else {
            q.data.assign(p.data.begin(), p.data.begin() + 12);
            const uint8_t tag[4] = {0x81, 0x00, 0x00, 0x0a};
            q.data.insert(q.data.end(), tag, tag + 4);
            q.data.insert(q.data.end(), p.data.begin() + 12, p.data.end());
          }
          q.wirelen = static_cast<uint32_t>(q.data.size());
          for (size_t len = 0; len <= q.data.size(); ++len) {
            TestPacket r = q;
            r.data.resize(len);
            pkts.push_back(std::move(r));
          }
        }
        bpf::compiler::ExprOptions opt;
        opt.linktype = lt;
        auto ours = bpf::compiler::compile_expression(c.expr, opt);
        const std::string what = "linktype " + std::to_string(lt) + " n=" + std::to_string(n) + " '" +
                                 c.expr.substr(0, 60) + "...'";
        ASSERT_TRUE(ours.ok()) << what << ours.diagnostics().render("<expr>").substr(0, 400);
        auto ref = bpf::test::libpcap_program(c.expr, lt, 1);
        ASSERT_TRUE(ref.has_value()) << what;
        check(what + " vs libpcap -O1", *ref, ours->insns, pkts, false, o1);
      }
  std::printf("IPv6 lists on raw IPv6 and in VLANs: %zu cases vs libpcap -O1 (%zu runs, %zu differences)\n",
              o1.cases, o1.runs, o1.diffs);
  EXPECT_EQ(o1.diffs, 0u);
}

// A list followed by what accepts every packet its tests lead to (`... or ip6`): libpcap's
// optimiser deletes the list's tests (both exits of each end up at one block), loads included,
// so a packet snapped inside the addresses is accepted. IPv4 and IPv6 lists, snapped at every
// length through the addresses.
TEST(BigFilters, ListsFollowedByASuperset) {
  std::mt19937 rng(4711);
  Counts o1;
  auto ip4 = [](uint32_t a) {
    return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
           std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
  };
  for (int n : {10, 40, 100})
    for (int dir = 0; dir < 3; ++dir) {
      const Ip6Case c6 = make_case(0, dir, n - n % 4, rng);  // the bare list
      std::string l4;
      std::vector<uint32_t> a4;
      for (int i = 0; i < n; ++i) {
        a4.push_back(0x0a000000u | (rng() & 0xffffu));
        l4 += std::string(i ? " or " : "") + (dir == 1 ? "src " : dir == 2 ? "dst " : "") + "host " + ip4(a4.back());
      }
      std::vector<TestPacket> pkts;
      for (const TestPacket& p : aimed_packets(c6, rng, 60, 60)) pkts.push_back(p);
      const uint8_t mac[6] = {0, 1, 2, 3, 4, 5};
      for (int i = 0; i < 60; ++i) {
        const uint32_t s = rng() % 2 ? a4[rng() % a4.size()] : rng(), d = rng() % 2 ? a4[rng() % a4.size()] : rng();
        TestPacket p;
        p.data = bpf::test::ether(mac, mac, {}, {}, {0x0800, bpf::test::ipv4(s, d, 6, bpf::test::transport(6, 1, 2, rng, 2), 0, 0)});
        p.wirelen = static_cast<uint32_t>(p.data.size());
        for (size_t len = 0; len <= 40; ++len) {
          TestPacket q = p;
          q.data.resize(len);
          pkts.push_back(std::move(q));
        }
      }
      const std::string l6 = c6.expr;
      Addr p64 = c6.hits[0];
      std::memset(p64.b + 8, 0, 8);
      Addr p32 = c6.hits[1];
      std::memset(p32.b + 4, 0, 12);
      for (const std::string& e : {"(" + l6 + ") or ip6", "(" + l4 + ") or ip", "(" + l6 + ") or ip6 or arp",
                                   "ip6 and ((" + l6 + ") or tcp or udp or not tcp)",
                                   "(" + l4 + ") or ip or (" + l6 + ") or ip6",
                                   "(" + l6 + ") or src net " + text(p64) + "/64",
                                   "(" + l6 + ") or tcp or net " + text(p32) + "/32"}) {
        auto ours = bpf::compiler::compile_expression(e, {});
        ASSERT_TRUE(ours.ok()) << e.substr(0, 80);
        auto ref = bpf::test::libpcap_program(e, 1, 1);
        ASSERT_TRUE(ref.has_value()) << e.substr(0, 80);
        check("n=" + std::to_string(n) + " '" + e.substr(0, 60) + "...' vs libpcap -O1", *ref, ours->insns, pkts, false, o1);
      }
    }
  std::printf("lists followed by a superset: %zu cases vs libpcap -O1 (%zu runs, %zu differences)\n",
              o1.cases, o1.runs, o1.diffs);
  EXPECT_EQ(o1.diffs, 0u);
}

}  // namespace
