// `geneve` combined with primitives that run where it failed (`geneve or X`, `not geneve and X`,
// nested), against libpcap's programs run with scratch memory starting at zero: libpcap's code
// then reads M[] slots nothing wrote, which libpcap 1.10.3's bpf_filter leaves uninitialised and
// libpcap 1.10.7 (and Linux) start at zero. The reference here is libpcap's program (optimize 1,
// and optimize 0 against our -O0) behind `ld #0; st M[0..15]`, run by libpcap's bpf_filter, on
// generated Ethernet packets (Geneve-encapsulated ones included, snapped copies too) and the
// corpus. Every verdict must be equal; the counts of accepted packets are printed.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "compiler/expr.hpp"
#include "tests/expr/expr_packets.hpp"
#include "tests/expr/libpcap_ref.hpp"
#include "vm/insn.hpp"

namespace {

using bpf::test::TestPacket;

std::vector<bpf::vm::Insn> zeroed(const std::vector<bpf::vm::Insn>& prog) {
  std::vector<bpf::vm::Insn> out{{BPF_LD | BPF_IMM, 0, 0, 0}};
  for (uint32_t i = 0; i < 16; ++i) out.push_back({BPF_ST, 0, 0, i});
  out.insert(out.end(), prog.begin(), prog.end());
  return out;
}

TEST(GeneveScratch, EveryCombinationMatchesLibpcapWithZeroedScratch) {
  std::mt19937 rng(777);
  std::vector<TestPacket> pkts = bpf::test::make_packets(1, rng);
  auto corpus = bpf::test::load_corpus("ether.pcap");
  pkts.insert(pkts.end(), corpus.begin(), corpus.end());
  const char* const atoms[] = {"ip", "ip6", "arp", "tcp", "udp port 53", "tcp port 22",
                               "ether src 00:11:22:33:44:55", "ether broadcast", "vlan",
                               "net 10.0.0.0/8", "icmp6", "ip[9] = 17", "link[0] = 0x45",
                               "host 10.0.0.1", "pppoes", "mpls"};
  const char* const forms[] = {"geneve or %s", "not geneve and %s", "%s or geneve",
                               "(geneve and tcp) or %s", "not (geneve or %s)",
                               "geneve 5 or %s", "%s and (geneve or ip)", "not geneve or %s",
                               "(not geneve and %s) or (geneve and udp)"};
  size_t pairs = 0, runs = 0, diffs = 0, accepted = 0, unwritten = 0;
  for (const char* f : forms)
    for (const char* a : atoms) {
      char buf[256];
      std::snprintf(buf, sizeof buf, f, a);
      const std::string e = buf;
      for (int level : {2, 0}) {
        bpf::compiler::ExprOptions o;
        o.opt_level = level;
        auto ours = bpf::compiler::compile_expression(e, o);
        auto ref = bpf::test::libpcap_program(e, 1, level ? 1 : 0);
        ASSERT_EQ(ours.ok(), ref.has_value()) << e << " -O" << level;
        if (!ref) continue;
        ++pairs;
        const auto zref = zeroed(*ref);
        size_t bad = 0;
        for (const TestPacket& p : pkts) {
          const uint32_t want = bpf::test::run_libpcap(zref, p), got = bpf::test::run_libpcap(ours->insns, p);
          ++runs;
          accepted += got != 0;
          if (want != got && bad++ == 0)
            ADD_FAILURE() << "'" << e << "' -O" << level << ": libpcap (zeroed scratch) " << want
                          << ", ours " << got << " (caplen " << p.data.size() << " of " << p.wirelen
                          << ")\nlibpcap:\n" << bpf::test::dump(*ref) << "ours:\n"
                          << bpf::test::dump(ours->insns);
        }
        diffs += bad;
        // our own program never depends on what scratch memory held: it writes every slot it reads
        const bool init = !ours->insns.empty() && ours->insns[0].code == (BPF_LD | BPF_IMM);
        unwritten += init;
      }
    }
  std::printf("geneve combinations: %zu programs, %zu runs, %zu accepted, %zu differences; "
              "%zu of our programs zero some slots first\n", pairs, runs, accepted, diffs, unwritten);
  EXPECT_EQ(diffs, 0u);
  EXPECT_GT(unwritten, 20u);
}

}  // namespace
