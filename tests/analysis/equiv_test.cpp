// analysis::check_equivalence and `bpfc --equiv`: pairs known equivalent and known different
// across the hard corners (snapped packets, what keywords cover, VLAN offsets, libpcap optimiser
// bugs as bytecode, BSD vs Linux semantics, ancillary loads), and random programs: every
// witness is confirmed by the interpreter inside check_equivalence (an unconfirmed one is an
// error, failing the test), and every "equivalent" is checked on random packets and contexts.
#include <gtest/gtest.h>

#include <string>

#include "analysis/equiv.hpp"
#include "tests/analysis/test_util.hpp"
#include "tests/support/packet_gen.hpp"
#include "vm/interpreter.hpp"

namespace {

using bpf::vm::Target;
using bpf::test::from_asm;
using bpf::test::from_expr;

enum class Want { kEquivalent, kDifferent };

void expect(const std::optional<bpf::vm::VerifiedProgram>& a,
            const std::optional<bpf::vm::VerifiedProgram>& b, Want want, const std::string& what,
            bool exact = false, bool path_walk = true) {
  ASSERT_TRUE(a && b) << what;
  bpf::analysis::EquivOptions o;
  o.exact = exact;
  o.path_walk = path_walk;
  auto r = bpf::analysis::check_equivalence(*a, *b, o);
  ASSERT_TRUE(r.ok()) << what << ": " << r.diagnostics().items().front().message;
  EXPECT_EQ(r->equivalent, want == Want::kEquivalent)
      << what << "\n" << (r->equivalent ? "" : bpf::analysis::format_witness(r->witness));
}

void expr_pair(const char* a, const char* b, Want want, int lt = 1) {
  expect(from_expr(a, lt), from_expr(b, lt), want, std::string(a) + " vs " + b);
}

TEST(Equiv, Keywords) {
  expr_pair("tcp", "ip proto 6 or ip6 proto 6", Want::kEquivalent);
  expr_pair("port 80", "tcp port 80 or udp port 80 or sctp port 80", Want::kEquivalent);
  expr_pair("host 10.0.0.1", "src host 10.0.0.1 or dst host 10.0.0.1", Want::kEquivalent);
  expr_pair("ip", "ether proto 0x800", Want::kEquivalent);
  expr_pair("not not ip", "ip", Want::kEquivalent);
  expr_pair("tcp port 22", "tcp port 23", Want::kDifferent);
  // `host` covers ARP and RARP too, `ip host` only IPv4.
  expr_pair("host 10.0.0.1", "ip host 10.0.0.1", Want::kDifferent);
  // `port` covers SCTP.
  expr_pair("port 80", "tcp port 80 or udp port 80", Want::kDifferent);
  expr_pair("tcp", "ip proto 6", Want::kDifferent);
  expr_pair("udp port 53", "udp port 53", Want::kEquivalent, 12);
}

TEST(Equiv, VlanOffsets) {
  // `vlan` also matches the 802.1ad and 0x9100 tags, and every `vlan` moves later offsets.
  expr_pair("vlan and ip", "ether[12:2] = 0x8100 and ether[16:2] = 0x800", Want::kDifferent);
  expr_pair("vlan 10 and tcp", "vlan 10 and ip proto 6 or vlan 10 and ip6 proto 6",
            Want::kDifferent);
  expr_pair("vlan 10 and tcp", "vlan 10 and (ip proto 6 or ip6 proto 6)", Want::kEquivalent);
}

TEST(Equiv, SnappedPackets) {
  // A load beyond the captured bytes rejects: only on a snapped (or short) packet do these differ.
  const char* a = "ldb [100]\nldb [0]\njeq #0x45, a, r\na: ret #1\nr: ret #0\n";
  const char* b = "ldb [0]\njeq #0x45, a, r\na: ret #1\nr: ret #0\n";
  expect(from_asm(a), from_asm(b), Want::kDifferent, "ldb [100] first");
  // ... but reading a byte the other filter reads anyway changes nothing.
  const char* c = "ldb [0]\nldb [0]\njeq #0x45, a, r\na: ret #1\nr: ret #0\n";
  expect(from_asm(c), from_asm(b), Want::kEquivalent, "ldb [0] twice");
  // `less 100` reads no byte; `ip[0] = 0x45 or less 100` may fail its load first (caplen 0).
  expr_pair("ip and (ip[0] = 0x45 or ip[0] != 0x45)", "ip", Want::kEquivalent);
}

TEST(Equiv, LibpcapOptimiserBugsAsBytecode) {
  // jset #0xffffffff treated as always true (libpcap's optimiser, 2001-2022).
  const char* jset = "ld [26]\njset #0xffffffff, a, r\na: ret #1\nr: ret #0\n";
  const char* jeq = "ld [26]\njeq #0, r, a\na: ret #1\nr: ret #0\n";
  const char* always = "ld [26]\nret #1\n";
  expect(from_asm(jset), from_asm(jeq), Want::kEquivalent, "jset all bits = not zero");
  expect(from_asm(jset), from_asm(always), Want::kDifferent, "jset all bits = always");
  // libpcap #1699: `1/2=1/3&&1>4/5&&1>6/7` accepts everything; libpcap -O rejects everything.
  expect(from_expr("1/2=1/3&&1>4/5&&1>6/7"), from_asm("ret #262144\n"), Want::kEquivalent,
         "#1699 unoptimised meaning");
  expect(from_expr("1/2=1/3&&1>4/5&&1>6/7"), from_asm("ret #0\n"), Want::kDifferent,
         "#1699 libpcap's optimised program");
}

TEST(Equiv, LinuxVersusBsd) {
  // [x + k] wraps modulo 2^32 on Linux ((int)(X + k)), not in libpcap's bpf_filter.
  const char* wrap = "ldx #0xffffffff\nldb [x + 1]\njeq #0x45, a, r\na: ret #1\nr: ret #0\n";
  const char* b0 = "ldb [0]\njeq #0x45, a, r\na: ret #1\nr: ret #0\n";
  expect(from_asm(wrap, Target::kLinux), from_asm(b0, Target::kLinux), Want::kEquivalent,
         "x + k wraps (linux)");
  expect(from_asm(wrap, Target::kBsd), from_asm(b0, Target::kBsd), Want::kDifferent,
         "x + k does not wrap (bsd)");
  // Shifts by X >= 32: Linux masks the count (33 -> 1), BSD gives 0.
  const char* shx = "ldb [0]\nldx #33\nlsh x\njeq #0, r, a\na: ret #1\nr: ret #0\n";
  const char* sh1 = "ldb [0]\nlsh #1\njeq #0, r, a\na: ret #1\nr: ret #0\n";
  const char* none = "ldb [0]\nret #0\n";
  expect(from_asm(shx, Target::kLinux), from_asm(sh1, Target::kLinux), Want::kEquivalent,
         "lsh x, X = 33 (linux)");
  expect(from_asm(shx, Target::kBsd), from_asm(sh1, Target::kBsd), Want::kDifferent,
         "lsh x, X = 33 (bsd)");
  expect(from_asm(shx, Target::kBsd), from_asm(none, Target::kBsd), Want::kEquivalent,
         "lsh x, X = 33 rejects all (bsd)");
  // Division by X = 0 ends the program with 0 on both.
  const char* div = "ldb [0]\ntax\nld #10\ndiv x\nret #1\n";
  const char* nz = "ldb [0]\njeq #0, r, a\na: ret #1\nr: ret #0\n";
  for (Target t : {Target::kLinux, Target::kBsd})
    expect(from_asm(div, t), from_asm(nz, t), Want::kEquivalent, "div by X = 0");
}

TEST(Equiv, Ancillary) {
  expect(from_asm("ld #vlan_avail\njeq #1, a, r\na: ret #1\nr: ret #0\n"),
         from_asm("ld #vlan_avail\njgt #0, a, r\na: ret #1\nr: ret #0\n"), Want::kEquivalent,
         "vlan_avail is 0 or 1");
  expect(from_asm("ld #type\njgt #7, a, r\na: ret #1\nr: ret #0\n"), from_asm("ret #0\n"),
         Want::kEquivalent, "pkttype has 3 bits");
  expect(from_asm("ld #proto\njeq #0x800, a, r\na: ret #1\nr: ret #0\n"),
         from_asm("ldh [12]\njeq #0x800, a, r\na: ret #1\nr: ret #0\n"), Want::kDifferent,
         "skb->protocol is not the frame's ethertype");
  // ifindex without a device ends the program returning A (0 here).
  expect(from_asm("ld #ifidx\nret #1\n"), from_asm("ret #1\n"), Want::kDifferent, "ifidx");
  expect(from_asm("ld #mark\nret #1\n"), from_asm("ret #1\n"), Want::kEquivalent, "mark");
}

// A packet that is a chain of netlink attributes (host-order len, type), with room after it.
std::vector<uint8_t> nla_chain(bpf::test::Rng& rng, uint32_t start) {
  std::vector<uint8_t> p(start + 4 + bpf::test::below(rng, 60));
  for (auto& b : p) b = static_cast<uint8_t>(bpf::test::below(rng, 256));
  uint32_t pos = start;
  while (pos + 4 <= p.size() && !bpf::test::chance(rng, 15)) {
    uint16_t len = static_cast<uint16_t>(4 + bpf::test::below(rng, 9));
    if (bpf::test::chance(rng, 5)) len = static_cast<uint16_t>(bpf::test::below(rng, 4));
    const uint16_t type = static_cast<uint16_t>(bpf::test::below(rng, 4) |
                                                (bpf::test::chance(rng, 20) ? 0x8000 : 0));
    p[pos] = static_cast<uint8_t>(len);
    p[pos + 1] = static_cast<uint8_t>(len >> 8);
    p[pos + 2] = static_cast<uint8_t>(type);
    p[pos + 3] = static_cast<uint8_t>(type >> 8);
    pos += (len + 3u) & ~3u;
    if (len < 4) break;
  }
  return p;
}

// nla / nlan (a loop over the packet): encoded exactly for the first attributes of a chain and
// soundly past them. Every "equivalent" below is also checked on chains of attributes.
TEST(Equiv, NetlinkAttributes) {
  struct Pair {
    const char* a;
    const char* b;
    Want want;
    const char* what;
  };
  const Pair pairs[] = {
      {"ldx #2\nld #0\nld #nla\njeq #0, r, a\na: ret #1\nr: ret #0\n",
       "ld #0\nldx #2\nld #nla\njgt #0, a, r\na: ret #1\nr: ret #0\n", Want::kEquivalent,
       "nla, instructions reordered"},
      {"ldx #2\nld #0\nld #nla\nret a\n", "ldx #3\nld #0\nld #nla\nret a\n",
       Want::kDifferent, "nla of two types"},
      // The chain starts at A and steps by 4-byte multiples: an odd distance is impossible.
      {"ldx #1\nld #4\nld #nla\njeq #6, a, r\na: ret #1\nr: ret #0\n", "ret #0\n",
       Want::kEquivalent, "nla results are aligned to the chain"},
      {"ldx #1\nld #4\nld #nla\njeq #12, a, r\na: ret #1\nr: ret #0\n", "ret #0\n",
       Want::kDifferent, "the third attribute"},
      // A result is never before A, and never 0 < result when the packet is shorter than 4.
      {"ldx #1\nld #8\nld #nla\njgt #0, p, r\np: jge #8, r, a\na: ret #1\nr: ret #0\n",
       "ret #0\n", Want::kEquivalent, "nla >= A"},
      {"ldx #1\nld #0\nld #nla\njgt #0, a, r\na: ret #1\nr: ret #0\n",
       "ldx #1\nld #0\nld #nla\njgt #0, c, r\nc: ld len\njge #4, a, r\na: ret #1\nr: ret #0\n",
       Want::kEquivalent, "a found attribute fits the packet"},
      // The type is masked with 0x3fff (NLA_F_NESTED, NLA_F_NET_BYTEORDER): X = 0x8001 never
      // matches.
      {"ldx #0x8001\nld #0\nld #nla\nret a\n", "ret #0\n", Want::kEquivalent,
       "nla type bits"},
      {"ldx #1\nld #0\nld #nlan\nret a\n", "ldx #1\nld #0\nld #nla\nret a\n",
       Want::kDifferent, "nlan searches inside the attribute at A"},
      // nlan's results start after the outer attribute's header.
      {"ldx #1\nld #0\nld #nlan\njeq #0, r, p\np: jge #4, a, r\na: ret #1\nr: ret #0\n",
       "ldx #1\nld #0\nld #nlan\njeq #0, r, a\na: ret #1\nr: ret #0\n", Want::kEquivalent,
       "nlan >= A + 4"},
  };
  bpf::test::Rng rng(4242);
  for (const Pair& p : pairs) {
    auto a = from_asm(p.a), b = from_asm(p.b);
    expect(a, b, p.want, p.what, true);
    if (p.want != Want::kEquivalent || !a || !b) continue;
    const bpf::vm::Interpreter ia(*a), ib(*b);
    for (int j = 0; j < 3000; ++j) {
      const auto pk = nla_chain(rng, static_cast<uint32_t>(bpf::test::below(rng, 3) * 4));
      const auto n = static_cast<uint32_t>(pk.size());
      ASSERT_EQ(ia.run(pk.data(), n, n, {}), ib.run(pk.data(), n, n, {})) << p.what;
    }
  }
}

// Random programs with nla / nlan against mutants: every "different" is confirmed (or, when it
// needs a chain longer than the exact part, "could not decide"); "equivalent" holds on chains.
TEST(Equiv, NetlinkAttributesRandom) {
  bpf::test::Rng rng(5151);
  size_t equal = 0, differ = 0, undecided = 0;
  for (int i = 0; i < 60; ++i) {
    const uint32_t x = static_cast<uint32_t>(bpf::test::below(rng, 4));
    const uint32_t a0 = static_cast<uint32_t>(bpf::test::below(rng, 3) * 4);
    const char* op = bpf::test::chance(rng, 50) ? "nla" : "nlan";
    const uint32_t k = static_cast<uint32_t>(bpf::test::below(rng, 5) * 4);
    const char* rel = bpf::test::chance(rng, 50) ? "jeq" : "jgt";
    auto text = [&](uint32_t xx, uint32_t kk) {
      return "ldx #" + std::to_string(xx) + "\nld #" + std::to_string(a0) + "\nld #" + op +
             "\n" + rel + " #" + std::to_string(kk) + ", a, r\na: ret #1\nr: ret #0\n";
    };
    const uint32_t x2 = bpf::test::chance(rng, 50) ? x : static_cast<uint32_t>(bpf::test::below(rng, 4));
    const uint32_t k2 = bpf::test::chance(rng, 50) ? k : static_cast<uint32_t>(bpf::test::below(rng, 5) * 4);
    auto a = from_asm(text(x, k).c_str()), b = from_asm(text(x2, k2).c_str());
    ASSERT_TRUE(a && b);
    auto r = bpf::analysis::check_equivalence(*a, *b);
    if (!r.ok()) {
      const std::string& m = r.diagnostics().items().front().message;
      ASSERT_NE(m.find("could not decide"), std::string::npos) << m;
      ++undecided;
      continue;
    }
    if (!r->equivalent) {
      ++differ;
      continue;
    }
    ++equal;
    const bpf::vm::Interpreter ia(*a), ib(*b);
    for (int j = 0; j < 300; ++j) {
      const auto pk = nla_chain(rng, a0);
      const auto n = static_cast<uint32_t>(pk.size());
      ASSERT_EQ(ia.run(pk.data(), n, n, {}) != 0, ib.run(pk.data(), n, n, {}) != 0)
          << text(x, k) << "vs\n" << text(x2, k2);
    }
  }
  std::printf("nla pairs: %zu equivalent, %zu different (confirmed), %zu undecided\n", equal,
              differ, undecided);
  EXPECT_GT(equal, 20u);
  EXPECT_GT(differ, 20u);
}

// A tail of 12 instructions reading X and the packet (not A): the cut-off encoding's unit.
std::string shared_tail() {
  return "ldb [x + 0]\njeq #7, t1, t2\nt1: ldb [x + 1]\njeq #8, acc, t2\n"
         "t2: ldb [x + 2]\njgt #9, t3, rej\nt3: ldh [x + 3]\njset #0x100, acc, t4\n"
         "t4: ld #3\nadd x\njeq #9, acc, rej\nacc: ret #1\nrej: ret #0\n";
}

TEST(SharedTails, ClassesAndLiveRegisters) {
  auto a = from_asm(("ldx #4\n" + shared_tail()).c_str());
  auto b = from_asm(("ld #4\ntax\n" + shared_tail()).c_str());
  ASSERT_TRUE(a && b);
  const auto t = bpf::analysis::shared_tails(a->decoded(), b->decoded(), Target::kLinux);
  ASSERT_TRUE(t.any());
  // The tail starts at 1 in A and at 2 in B: one class, which reads X only.
  ASSERT_GE(t.a[1], 0);
  EXPECT_EQ(t.a[1], t.b[2]);
  EXPECT_EQ(t.live_in[size_t(t.a[1])], 2u);
  EXPECT_EQ(t.a[0], -1);  // `ldx #4` is not in B
  // Too short to cut: the last instructions (ret, ret) are shared but below the minimum size.
  EXPECT_EQ(t.a.back(), -1);
}

// With shared tails cut off (the path walk off, as it decides these first): a proof where the
// tails are entered alike, a confirmed witness (after refining) where they are entered with
// different registers; both checked on packets.
TEST(Equiv, SharedTailsCutAndRefined) {
  const std::string tail = shared_tail();
  const bool walk = false;
  expect(from_asm(("ldx #4\n" + tail).c_str()), from_asm(("ld #4\ntax\n" + tail).c_str()),
         Want::kEquivalent, "same X into the same tail, A differs but is dead", false, walk);
  expect(from_asm(("ldx #4\n" + tail).c_str()), from_asm(("ldx #5\n" + tail).c_str()),
         Want::kDifferent, "different X into the same tail", false, walk);
  // Entered through different code that computes the same thing: the refinement uncuts it.
  expect(from_asm(("ldx #2\ntxa\nadd #2\ntax\n" + tail).c_str()),
         from_asm(("ld #8\nrsh #1\ntax\n" + tail).c_str()), Want::kEquivalent, "X = 4 twice",
         false, walk);
  // geneve, -O0 against -O2 (long shared tails; protochain's are in PathWalk, where the walk
  // decides them: without it they take seconds to minutes).
  expect(from_expr("geneve and tcp", 1, 0), from_expr("geneve and tcp", 1, 2), Want::kEquivalent,
         "geneve and tcp -O0 vs -O2", false, walk);
}

TEST(Equiv, ExactReturnValues) {
  expect(from_asm("ret #65535\n"), from_asm("ret #262144\n"), Want::kEquivalent, "verdicts");
  expect(from_asm("ret #65535\n"), from_asm("ret #262144\n"), Want::kDifferent, "exact", true);
  expect(from_asm("ld len\nret a\n"), from_asm("ld len\njeq #0, r, a\na: ret #1\nr: ret #0\n"),
         Want::kEquivalent, "ret len vs len != 0");
}

// Random programs against mutants of themselves: every "different" carries a witness the
// interpreter confirmed (else check_equivalence fails); every "equivalent" must hold on packets.
TEST(Equiv, RandomProgramsAgainstInterpreter) {
  bpf::test::Rng rng(1717);
  size_t equal = 0, differ = 0;
  for (Target t : {Target::kLinux, Target::kBsd}) {
    for (int i = 0; i < 150; ++i) {
      auto pair = bpf::test::random_mutant_pair(rng, t);
      if (!pair) continue;
      const bpf::vm::VerifiedProgram* va = &pair->first;
      const bpf::vm::VerifiedProgram* vb = &pair->second;
      bpf::analysis::EquivOptions o;
      o.exact = bpf::test::chance(rng, 50);
      auto r = bpf::analysis::check_equivalence(*va, *vb, o);
      ASSERT_TRUE(r.ok()) << r.diagnostics().items().front().message;
      if (!r->equivalent) {
        ++differ;
        continue;
      }
      ++equal;
      const bpf::vm::Interpreter ia(*va), ib(*vb);
      for (int j = 0; j < 200; ++j) {
        const auto pk = bpf::test::random_packet(rng);
        const auto ctx = bpf::test::random_context(rng);
        const uint32_t x = ia.run(pk.data.data(), pk.caplen(), pk.wirelen, ctx);
        const uint32_t y = ib.run(pk.data.data(), pk.caplen(), pk.wirelen, ctx);
        if (o.exact) ASSERT_EQ(x, y);
        else ASSERT_EQ(x != 0, y != 0);
      }
    }
  }
  std::printf("random pairs: %zu equivalent (checked on packets), %zu different (confirmed)\n",
              equal, differ);
  EXPECT_GT(equal, 10u);
  EXPECT_GT(differ, 10u);
}

// bpfc --equiv as CLI.md says: outputs and exit statuses, -w.
// --timeout: running out is an error (exit 2) and prints no verdict; a quick proof is unaffected.
TEST(EquivCli, TimeoutIsAnErrorNotAVerdict) {
  const std::string bpfc = BPFC_BIN;
  // protochain's unrolled walk: equal programs the solver needs seconds to prove equal
  auto slow = bpf::test::shell(bpfc + " --equiv --timeout 1 -e 'protochain 6' -e 'ip protochain 6 or ip6 protochain 6'");
  EXPECT_EQ(slow.status, 2) << slow.out << slow.err;
  EXPECT_EQ(slow.out, "");
  EXPECT_NE(slow.err.find("could not decide"), std::string::npos) << slow.err;
  auto quick = bpf::test::shell(bpfc + " --equiv --timeout 60000 -e tcp -e 'ip proto 6 or ip6 proto 6'");
  EXPECT_EQ(quick.status, 0) << quick.err;
  EXPECT_EQ(bpf::test::shell(bpfc + " --equiv --timeout x -e tcp -e tcp").status, 2);
}

TEST(EquivCli, OutputsAndStatus) {
  const std::string bpfc = BPFC_BIN;
  auto eq = bpf::test::shell(bpfc + " --equiv -e tcp -e 'ip proto 6 or ip6 proto 6'");
  EXPECT_EQ(eq.status, 0) << eq.err;
  EXPECT_EQ(eq.out, "equivalent\n");
  const std::string pcap = ::testing::TempDir() + "equiv_witness.pcap";
  auto diff = bpf::test::shell(bpfc + " --equiv -w " + pcap + " -e 'tcp port 22' -e 'tcp port 23'");
  EXPECT_EQ(diff.status, 1) << diff.err;
  EXPECT_EQ(diff.out.rfind("different\nwirelen ", 0), 0u) << diff.out;
  EXPECT_NE(diff.out.find("\t0x0000:  "), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("A returns "), std::string::npos) << diff.out;
  // The witness file replays with bpfdump to the same verdicts.
  auto a = bpf::test::shell(std::string(BPFDUMP_BIN) + " -r " + pcap + " --verdicts 'tcp port 22'");
  auto b = bpf::test::shell(std::string(BPFDUMP_BIN) + " -r " + pcap + " --verdicts 'tcp port 23'");
  EXPECT_EQ(a.status, 0) << a.err;
  EXPECT_NE(a.out == "0 0\n", b.out == "0 0\n") << a.out << b.out;
  // Mixed inputs: an expression and a program file.
  const std::string arp = std::string(BPFC_EXAMPLES_DIR) + "/arp.bpf";
  auto mix = bpf::test::shell(bpfc + " --equiv " + arp + " -e arp");
  EXPECT_EQ(mix.status, 0) << mix.out << mix.err;
  auto ex = bpf::test::shell(bpfc + " --equiv --exact -e arp " + arp);
  EXPECT_EQ(ex.status, 1) << ex.out;  // 262144 vs 65535 on an ARP frame
  EXPECT_EQ(bpf::test::shell(bpfc + " --equiv -e tcp").status, 2);
  EXPECT_EQ(bpf::test::shell(bpfc + " --equiv -e 'tcp port' -e tcp").status, 2);
  EXPECT_EQ(bpf::test::shell(bpfc + " --equiv -e tcp /nonexistent").status, 2);
  EXPECT_EQ(bpf::test::shell(bpfc + " --equiv --semantics bsd -e tcp -e tcp").status, 0);
  EXPECT_EQ(bpf::test::shell(bpfc + " --equiv -l RAW -e tcp -e 'ip proto 6'").status, 1);
}

}  // namespace
