// "Use it on ourselves": proves, with analysis::check_equivalence, that our -O2 program has the
// meaning of our -O0 program for expressions of the expression differential list
// (tests/expr/expr_diff_test.cpp) on several link types; where they differ, checks that
// libpcap's own -O0 and -O1 programs differ too (libpcap's optimiser changes the meaning and we
// follow it). Then compares libpcap's optimised program with ours, reporting the counts and
// every pair that differs (a difference is printed with its witness, not failed: the
// differential test compares on sampled packets, this one on all of them).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "analysis/equiv.hpp"
#include "tests/analysis/test_util.hpp"
#include "tests/support/pcap_ref.hpp"

namespace {

// A sample of tests/expr/expr_diff_test.cpp's kExprs (primitives, combinations, arithmetic,
// VLAN and MPLS, libpcap's gen_arth quirks).
const char* const kExprs[] = {
    "", "ip", "ip6", "arp", "tcp", "udp", "icmp", "icmp6", "sctp", "not ip", "ip and tcp",
    "tcp or udp or icmp", "not (tcp or udp)", "ip6 and not udp", "host 10.0.0.1",
    "src host 10.0.0.1", "dst host 10.0.0.2", "host 10.0.0.1 or 10.0.0.2",
    "host 10.0.0.1 and not 10.0.0.2", "net 10.0.0.0/8", "net 192.168.1.0 mask 255.255.255.0",
    "host fe80::1", "net 2001:db8::/32", "ip6 host ::1 and tcp", "port 22", "port 53",
    "tcp port 22", "udp src or dst port 53", "port 22 or 80", "tcp port (22 or 80)",
    "not port 22", "portrange 1000-2000", "tcp portrange 1-1024", "ip6 and tcp port 80",
    "host 10.0.0.1 and tcp port 22", "ip proto 47", "ip6 proto 58", "proto 17",
    "ether proto 0x806", "ether host 00:11:22:33:44:55", "ether broadcast", "multicast",
    "ip multicast", "ip6 multicast", "less 100", "greater 1000", "len != 60",
    "ip[0] & 0xf > 5", "ip[6:2] & 0x1fff = 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn",
    "tcp[((tcp[12] & 0xf0) >> 2)] = 0", "icmp[icmptype] = icmp-echo", "icmp6[icmp6type] = icmp6-echo",
    "ip[0] + ip[1] > 0x45", "ip[0] / 16 = 4", "ip[0] % 16 = 5", "ip[0] << 1 = 0x8a",
    "ip[ip[0] & 0xf] = 0", "len - 14 > ip[2:2]", "1 = 2", "0 = 0 and tcp", "ip[0] * 0 = 1 or tcp",
    "(ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2)) != 0", "ip[0] + tcp[0] = 0x45",
    "vlan", "vlan 10", "vlan and ip", "vlan 10 and tcp port 22", "vlan 10 and vlan 20",
    "vlan and not vlan 10", "not vlan", "mpls", "mpls 3 and ip", "mpls and tcp",
    "vlan 10 and mpls 3 and ip", "tcp port 22 and host 10.0.0.1 and not icmp",
    "(tcp or udp) and (port 53 or port 80) and not host 10.0.0.1",
    "ip and (tcp[13] & 2 != 0) and not src net 10.0.0.0/8", "not (ip or ip6 or arp)",
    "tcp and (port 80 or port 443) and greater 60", "!(ip && tcp) || udp", "ip or not ip",
    "tcp and not tcp", "ip and ip6", "(ip or arp) and host 10.0.0.1",
    "ip[9] > 5 and ip[9] < 7", "ip[9] > 20 or ip[9] < 5",
    "port 22 or port 53 or port 80 or port 443 or port 1000 or port 2000",
};
const int kLinkTypes[] = {1, 12, 113};  // EN10MB, RAW, LINUX_SLL

std::optional<bpf::vm::VerifiedProgram> verified_insns(const std::vector<bpf::vm::Insn>& insns) {
  return bpf::test::verified({insns, {}}, bpf::vm::Target::kLinux);
}

std::optional<bool> equivalent(const bpf::vm::VerifiedProgram& a, const bpf::vm::VerifiedProgram& b,
                               std::string* witness = nullptr) {
  auto r = bpf::analysis::check_equivalence(a, b);
  if (!r.ok()) {
    ADD_FAILURE() << r.diagnostics().items().front().message;
    return std::nullopt;
  }
  if (!r->equivalent && witness)
    *witness = bpf::analysis::format_witness(r->witness) + "A returns " +
               std::to_string(r->witness.a_returns) + ", B returns " +
               std::to_string(r->witness.b_returns) + "\n";
  return r->equivalent;
}

TEST(OptimiserEquiv, O0EqualsO2) {
  const auto t0 = std::chrono::steady_clock::now();
  size_t proved = 0, follows_libpcap = 0, pairs = 0;
  size_t lib_same = 0, lib_diff = 0, lib_skipped = 0;
  for (int lt : kLinkTypes) {
    for (const char* e : kExprs) {
      auto o0 = bpf::test::from_expr(e, lt, 0), o2 = bpf::test::from_expr(e, lt, 2);
      if (!o0 || !o2) continue;  // not valid on this link type (as libpcap)
      ++pairs;
      std::string w;
      auto same = equivalent(*o0, *o2, &w);
      if (!same) continue;
      if (*same) {
        ++proved;
      } else {
        // Only acceptable where libpcap's own optimiser changes the meaning the same way.
        auto l0 = bpf::test::pcap_compile_expr(e, lt, 262144, false);
        auto l1 = bpf::test::pcap_compile_expr(e, lt, 262144, true);
        std::optional<bool> lib;
        if (l0 && l1) {
          auto v0 = verified_insns(*l0), v1 = verified_insns(*l1);
          if (v0 && v1) lib = equivalent(*v0, *v1);
        }
        if (lib && !*lib) {
          ++follows_libpcap;
          std::printf("-O0 != -O2 for '%s' linktype %d, as libpcap's -O0 != -O1 (followed)\n", e, lt);
        } else {
          ADD_FAILURE() << "our optimiser changes the meaning of '" << e << "' linktype " << lt
                        << ":\n" << w;
        }
      }
      // libpcap's optimised program against ours.
      auto lp = bpf::test::pcap_compile_expr(e, lt, 262144, true);
      auto vl = lp ? verified_insns(*lp) : std::nullopt;
      if (!vl) {
        ++lib_skipped;
        continue;
      }
      std::string lw;
      auto ls = equivalent(*vl, *o2, &lw);
      if (!ls) continue;
      if (*ls) {
        ++lib_same;
      } else {
        ++lib_diff;
        std::printf("libpcap -O1 and our -O2 differ for '%s' linktype %d:\n%s", e, lt, lw.c_str());
      }
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%zu expression x link type pairs: -O0 = -O2 proved for %zu, %zu differ as "
              "libpcap's -O0 and -O1 do; libpcap's program = ours proved for %zu, %zu differ, "
              "%zu not comparable (%.1f s)\n",
              pairs, proved, follows_libpcap, lib_same, lib_diff, lib_skipped, secs);
  EXPECT_GT(proved, pairs * 3 / 4);
  EXPECT_EQ(lib_diff, 0u);
}

}  // namespace
