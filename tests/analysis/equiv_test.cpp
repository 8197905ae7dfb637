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
            bool exact = false) {
  ASSERT_TRUE(a && b) << what;
  bpf::analysis::EquivOptions o;
  o.exact = exact;
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
  // nla is a loop over the packet: refused, not guessed.
  auto nla = from_asm("ld #nla\nret a\n");
  ASSERT_TRUE(nla);
  EXPECT_FALSE(bpf::analysis::check_equivalence(*nla, *nla).ok());
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
    bpf::test::GenOptions go;
    go.target = t;
    go.max_len = 24;
    go.ancillary_mask = 0xffff & ~(1u << 3) & ~(1u << 4);  // no nla / nlan
    for (int i = 0; i < 150; ++i) {
      std::vector<bpf::vm::Insn> pa = bpf::test::random_program(rng, go);
      std::vector<bpf::vm::Insn> pb = pa;
      bpf::vm::Insn& m = pb[bpf::test::below(rng, pb.size())];
      if (bpf::test::chance(rng, 50)) m.k ^= 1u << bpf::test::below(rng, 32);
      else m.k = static_cast<uint32_t>(bpf::test::below(rng, 64));
      auto va = bpf::test::verified({pa, {}}, t), vb = bpf::test::verified({pb, {}}, t);
      if (!va || !vb) continue;
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
  EXPECT_GT(equal, 20u);
  EXPECT_GT(differ, 20u);
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
