// Verdict comparison of a program with a reference program (both run by libpcap's bpf_filter)
// over a packet list, for the big-filter tests (big_filter_test, big_filter_ip6_test,
// big_filter_links_test): counts cases, runs and differing packets, reports the first
// difference of each case as a test failure (BIG_FILTER_DEBUG=1 also prints the packet and
// both listings).
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/expr/libpcap_ref.hpp"

namespace bpf::test {

struct VerdictCounts {
  size_t cases = 0, runs = 0, diffs = 0;
};

inline void check_verdicts(const std::string& what, const std::vector<vm::Insn>& ref,
                           const std::vector<vm::Insn>& ours, const std::vector<TestPacket>& pkts,
                           bool full_length_only, VerdictCounts& n) {
  ++n.cases;
  size_t bad = 0;
  for (const TestPacket& p : pkts) {
    if (full_length_only && p.data.size() != p.wirelen) continue;
    ++n.runs;
    const uint32_t want = run_libpcap(ref, p), got = run_libpcap(ours, p);
    if (want == got) continue;
    if (bad++ > 0) continue;
    ADD_FAILURE() << what << ": reference " << want << ", ours " << got << " (caplen "
                  << p.data.size() << " of " << p.wirelen << ")";
    if (std::getenv("BIG_FILTER_DEBUG")) {
      std::string hex;
      for (uint8_t b : p.data) hex += "0123456789abcdef"[b >> 4], hex += "0123456789abcdef"[b & 15];
      std::printf("%s\n%s\nreference:\n%s\nours:\n%s\n", what.c_str(), hex.c_str(),
                  dump(ref).c_str(), dump(ours).c_str());
    }
  }
  n.diffs += bad;
}

}  // namespace bpf::test
