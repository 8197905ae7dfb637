// The path walk (analysis/equiv_paths.cpp) on its own, through detail::solve_paths: pairs it
// must decide without the merged encoding -- protochain's and geneve's -O0 against -O2 (the
// pairs the merged encoding could not decide in 3 s), tests one program repeats or reorders
// (decided by the path's facts), snapped packets (a solver call at a leaf) -- with every
// witness run through the interpreter here; its bound (a tiny budget gives up, and
// check_equivalence still decides); and random programs against mutants, where the walk's
// verdict must be the merged encoding's (path_walk and shared_tails off).
#include <gtest/gtest.h>

#include <string>

#include "analysis/equiv.hpp"
#include "tests/analysis/test_util.hpp"
#include "tests/support/packet_gen.hpp"
#include "vm/interpreter.hpp"

namespace {

using bpf::test::from_asm;
using bpf::test::from_expr;
using bpf::vm::Target;
using bpf::vm::VerifiedProgram;

constexpr uint64_t kBudget = 2'000'000;

// The walk's answer, which must be a decision; a witness must be confirmed by the interpreter.
bool walk_equivalent(const VerifiedProgram& a, const VerifiedProgram& b, const std::string& what,
                     bool exact = false) {
  bpf::analysis::EquivOptions o;
  o.exact = exact;
  bool approximate = false;
  auto r = bpf::analysis::detail::solve_paths(a, b, o, &approximate, kBudget, 60'000);
  EXPECT_TRUE(r.has_value()) << what << ": the walk gave up";
  if (!r) return false;
  if (!r->has_value()) return true;
  const bpf::analysis::Witness& w = **r;
  const bpf::vm::Interpreter ia(a), ib(b);
  const auto caplen = static_cast<uint32_t>(w.bytes.size());
  const uint32_t x = ia.run(w.bytes.data(), caplen, w.wirelen, w.ctx);
  const uint32_t y = ib.run(w.bytes.data(), caplen, w.wirelen, w.ctx);
  EXPECT_TRUE(exact ? x != y : (x != 0) != (y != 0))
      << what << ": witness not confirmed\n" << bpf::analysis::format_witness(w);
  return false;
}

void expr_pair(const char* a, int oa, const char* b, int ob, bool want, int lt = 1) {
  auto pa = from_expr(a, lt, oa), pb = from_expr(b, lt, ob);
  ASSERT_TRUE(pa && pb) << a << " / " << b;
  const std::string what = std::string(a) + " -O" + std::to_string(oa) + " vs " + b + " -O" +
                           std::to_string(ob) + " linktype " + std::to_string(lt);
  EXPECT_EQ(walk_equivalent(*pa, *pb, what), want) << what;
}

TEST(PathWalk, ProtochainAndGeneveOptimised) {
  for (const char* e : {"protochain 6", "ip6 protochain 6 or ip6 protochain 17",
                        "vlan and protochain 6", "not protochain 6", "geneve and port 53",
                        "geneve and (geneve or ip)", "geneve and tcp[len - 60] = 0"}) {
    expr_pair(e, 0, e, 2, true);
  }
  expr_pair("protochain 6", 2, "protochain 17", 2, false);
  expr_pair("geneve and port 53", 0, "geneve and port 54", 2, false);
  expr_pair("geneve 5 and ip6 host ::1", 0, "geneve 5 and ip6 host ::1", 2, true, 113);
}

TEST(PathWalk, FactsDecideTheOtherProgramsTests) {
  // The same tests in another order, or repeated: decided by what the path already knows.
  expr_pair("ip or ip6 or arp", 2, "arp or ip6 or ip", 2, true);
  expr_pair("tcp port 80", 0, "tcp port 80 and tcp", 2, true);
  const char* twice = "ldh [12]\njeq #0x800, a, r\na: ldh [12]\njeq #0x86dd, r, b\n"
                      "b: ldb [23]\njeq #6, acc, r\nacc: ret #1\nr: ret #0\n";
  const char* once = "ldh [12]\njeq #0x800, a, r\na: ldb [23]\njeq #6, acc, r\n"
                     "acc: ret #1\nr: ret #0\n";
  EXPECT_TRUE(walk_equivalent(*from_asm(twice), *from_asm(once), "0x800 then not 0x86dd"));
  // Loads ordered differently fail on the same packets: caplen ranges.
  const char* far_first = "ldb [30]\nldb [20]\njeq #1, acc, r\nacc: ret #1\nr: ret #0\n";
  const char* near_first = "ldb [20]\nldb [30]\nldb [20]\njeq #1, acc, r\nacc: ret #1\nr: ret #0\n";
  EXPECT_TRUE(walk_equivalent(*from_asm(far_first), *from_asm(near_first), "load order"));
  // A snapped packet tells these apart: a leaf the solver decides, with a witness.
  const char* no_far = "ldb [20]\njeq #1, acc, r\nacc: ret #1\nr: ret #0\n";
  EXPECT_FALSE(walk_equivalent(*from_asm(far_first), *from_asm(no_far), "ldb [30] first"));
  // Different registers into one join: the join's constants, then a solver call.
  const char* x4 = "ldb [0]\njeq #1, a, b\na: ldx #4\nja c\nb: ld #4\ntax\nc: ldb [x + 0]\n"
                   "jeq #7, acc, r\nacc: ret #1\nr: ret #0\n";
  const char* x4b = "ldb [0]\nldx #4\nldb [x + 0]\njeq #7, acc, r\nacc: ret #1\nr: ret #0\n";
  const char* x5 = "ldb [0]\njeq #1, a, b\na: ldx #5\nja c\nb: ld #4\ntax\nc: ldb [x + 0]\n"
                   "jeq #7, acc, r\nacc: ret #1\nr: ret #0\n";
  EXPECT_TRUE(walk_equivalent(*from_asm(x4), *from_asm(x4b), "X = 4 on both paths"));
  EXPECT_FALSE(walk_equivalent(*from_asm(x5), *from_asm(x4b), "X = 5 on one path"));
  // Exact return values.
  EXPECT_FALSE(walk_equivalent(*from_asm("ret #65535\n"), *from_asm("ret #262144\n"), "exact",
                               true));
  EXPECT_TRUE(walk_equivalent(*from_asm("ret #65535\n"), *from_asm("ret #262144\n"), "verdicts"));
}

TEST(PathWalk, BoundedAndFallsBack) {
  auto a = from_expr("protochain 17", 1, 0), b = from_expr("protochain 17", 1, 2);
  ASSERT_TRUE(a && b);
  bool approximate = false;
  EXPECT_FALSE(bpf::analysis::detail::solve_paths(*a, *b, {}, &approximate, 100, 60'000));
  // check_equivalence still decides without the walk (shared tails, then the whole programs).
  auto c = from_expr("geneve and tcp", 1, 0), d = from_expr("geneve and tcp", 1, 2);
  ASSERT_TRUE(c && d);
  EXPECT_FALSE(bpf::analysis::detail::solve_paths(*c, *d, {}, &approximate, 100, 60'000));
  bpf::analysis::EquivOptions o;
  o.path_walk = false;
  auto r = bpf::analysis::check_equivalence(*c, *d, o);
  ASSERT_TRUE(r.ok()) << r.diagnostics().items().front().message;
  EXPECT_TRUE(r->equivalent);
}

// Random programs against mutants: the walk, when it decides, gives the merged encoding's
// verdict (and its witnesses are confirmed in walk_equivalent).
TEST(PathWalk, AgreesWithTheMergedEncoding) {
  bpf::test::Rng rng(4242);
  size_t equal = 0, differ = 0;
  for (Target t : {Target::kLinux, Target::kBsd}) {
    for (int i = 0; i < 120; ++i) {
      auto pair = bpf::test::random_mutant_pair(rng, t);
      if (!pair) continue;
      const bpf::vm::VerifiedProgram* va = &pair->first;
      const bpf::vm::VerifiedProgram* vb = &pair->second;
      bpf::analysis::EquivOptions o;
      o.exact = bpf::test::chance(rng, 50);
      o.path_walk = false;
      o.shared_tails = false;
      auto merged = bpf::analysis::check_equivalence(*va, *vb, o);
      ASSERT_TRUE(merged.ok()) << merged.diagnostics().items().front().message;
      const bool walk = walk_equivalent(*va, *vb, "random pair " + std::to_string(i), o.exact);
      ASSERT_EQ(walk, merged->equivalent) << "random pair " << i;
      ++(walk ? equal : differ);
    }
  }
  std::printf("random pairs: %zu equivalent, %zu different, the walk agreeing\n", equal, differ);
  EXPECT_GT(equal, 10u);
  EXPECT_GT(differ, 10u);
}

}  // namespace
