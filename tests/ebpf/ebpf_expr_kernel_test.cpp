// Every expression of the differential list (tests/expr/expr_list.hpp) compiled for Ethernet
// (EN10MB: the frames xdp and tc see, and what a socket filter on an Ethernet device is written
// for), translated for socket, xdp and tc, loaded by the kernel and run with BPF_PROG_TEST_RUN on
// every frame of kernel_frames(); the kernel's verdict must equal the interpreter's on each
// (kernel_harness.hpp says what the socket hook sees and which frames are skipped, and why).
// Sharded over kShards ctest entries (EbpfExpressions/KernelAgreesOnEveryFrame/N) to keep each
// one short. Needs root: prints SKIPPED otherwise.
#include <gtest/gtest.h>

#include <cstdio>
#include <iterator>
#include <string>

#include "compiler/expr.hpp"
#include "tests/ebpf/kernel_harness.hpp"
#include "tests/expr/expr_list.hpp"

namespace bpf::test {
namespace {

constexpr int kShards = 6;

class EbpfExpressions : public ::testing::TestWithParam<int> {};

TEST_P(EbpfExpressions, KernelAgreesOnEveryFrame) {
  if (!kernel_available()) GTEST_SKIP() << "no eBPF";
  static const std::vector<Frame> frames = kernel_frames(BPFC_TEST_SOURCE_DIR);
  KernelHarness h(frames);
  KernelStats st;
  size_t mine = 0, compiled = 0;
  for (size_t i = static_cast<size_t>(GetParam()); i < std::size(kExprs); i += kShards) {
    ++mine;
    compiler::ExprOptions eo;
    eo.linktype = 1;  // EN10MB
    auto prog = compiler::compile_expression(kExprs[i], eo);
    if (!prog.ok()) continue;  // libpcap rejects it on Ethernet too (expr_diff_test checks that)
    ++compiled;
    h.check(*prog, vm::Target::kLinux, std::string("expr '") + kExprs[i] + "'", st);
  }
  std::printf("shard %d of %d: %zu of %zu expressions, %zu compiled for EN10MB; %zu frames\n",
              GetParam(), kShards, mine, std::size(kExprs), compiled, frames.size());
  print_stats("expressions", st);
  EXPECT_EQ(st.programs, compiled);
  EXPECT_GT(st.runs, 100000u);
  EXPECT_EQ(st.mismatches, 0u);
}

INSTANTIATE_TEST_SUITE_P(Shards, EbpfExpressions, ::testing::Range(0, kShards));

}  // namespace
}  // namespace bpf::test
