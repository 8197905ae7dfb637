// "Use it on ourselves": proves, with analysis::check_equivalence, that our -O2 program has the
// meaning of our -O0 program for every expression of the expression differential list
// (tests/expr/expr_list.hpp) on every link type it is compiled for; where they differ, checks that
// libpcap's own -O0 and -O1 programs differ too (libpcap's optimiser changes the meaning and we
// follow it). Then compares libpcap's optimised program with ours, reporting the counts and
// every pair that differs (a difference is printed with its witness, not failed: the
// differential test compares on sampled packets, this one on all of them).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "analysis/equiv.hpp"
#include "tests/analysis/test_util.hpp"
#include "tests/expr/expr_list.hpp"
#include "tests/support/pcap_ref.hpp"

namespace {

std::optional<bpf::vm::VerifiedProgram> verified_insns(const std::vector<bpf::vm::Insn>& insns) {
  return bpf::test::verified({insns, {}}, bpf::vm::Target::kLinux);
}

// A proof may take long on the biggest programs (protochain's unrolled walk against libpcap's
// loop-free -O0 program, ...): each gets kProofMs; one that runs out is counted as undecided
// and printed, never taken as a verdict.
constexpr unsigned kProofMs = 3000;
size_t g_undecided = 0;

std::optional<bool> equivalent(const bpf::vm::VerifiedProgram& a, const bpf::vm::VerifiedProgram& b,
                               std::string* witness = nullptr, const char* what = "") {
  bpf::analysis::EquivOptions opts;
  opts.timeout_ms = kProofMs;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = bpf::analysis::check_equivalence(a, b, opts);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (secs > 1.0) std::printf("slow proof (%.1f s): %s\n", secs, what);
  if (!r.ok()) {
    const std::string& m = r.diagnostics().items().front().message;
    if (m.find("could not decide") != std::string::npos) {
      ++g_undecided;
      std::printf("undecided within %u ms: %s (%s)\n", kProofMs, what, m.c_str());
    } else {
      ADD_FAILURE() << what << ": " << m;
    }
    return std::nullopt;
  }
  if (!r->equivalent && witness)
    *witness = bpf::analysis::format_witness(r->witness) + "A returns " +
               std::to_string(r->witness.a_returns) + ", B returns " +
               std::to_string(r->witness.b_returns) + "\n";
  return r->equivalent;
}

// One test per link type (ctest runs them in parallel), every expression of the list.
class OptimiserEquiv : public ::testing::TestWithParam<int> {};

TEST_P(OptimiserEquiv, O0EqualsO2) {
  const auto t0 = std::chrono::steady_clock::now();
  size_t proved = 0, follows_libpcap = 0, pairs = 0;
  size_t lib_same = 0, lib_diff = 0, lib_skipped = 0;
  for (int lt : {GetParam()}) {
    for (const char* e : bpf::test::kExprs) {
      auto o0 = bpf::test::from_expr(e, lt, 0), o2 = bpf::test::from_expr(e, lt, 2);
      if (!o0 || !o2) continue;  // not valid on this link type (as libpcap)
      ++pairs;
      std::string w;
      const std::string ours = std::string("-O0 vs -O2: ") + e;
      auto same = equivalent(*o0, *o2, &w, ours.c_str());
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
          const std::string lib01 = std::string("libpcap -O0 vs -O1: ") + e;
          if (v0 && v1) lib = equivalent(*v0, *v1, nullptr, lib01.c_str());
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
      const std::string theirs = std::string("libpcap -O1 vs our -O2: ") + e;
      auto ls = equivalent(*vl, *o2, &lw, theirs.c_str());
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
  std::printf("link type %d, %zu expressions: -O0 = -O2 proved for %zu, %zu differ as "
              "libpcap's -O0 and -O1 do; libpcap's program = ours proved for %zu, %zu differ, "
              "%zu not comparable (%.1f s)\n",
              GetParam(), pairs, proved, follows_libpcap, lib_same, lib_diff, lib_skipped, secs);
  EXPECT_GT(proved, pairs * 3 / 4);
  EXPECT_EQ(lib_diff, 0u);
}

INSTANTIATE_TEST_SUITE_P(LinkTypes, OptimiserEquiv, ::testing::ValuesIn(bpf::test::kExprLinkTypes));

}  // namespace
