// The eBPF translation (jit/ebpf/) against the running kernel, with the harness of
// kernel_harness.hpp (what is compared, which frames are skipped and why): every program of the
// conformance cases (tests/conformance/cases, Linux and BSD targets; sharded over several ctest
// entries), a 3,000-host filter (over 4,096 classic instructions), loads relative to the
// network header (SKF_NET_OFF) and loads past the verifier's 65,535-byte direct-access range,
// each translated for socket, xdp and tc, loaded, and run with BPF_PROG_TEST_RUN on every frame
// of kernel_frames() (generated, examples/sample.pcap, ../shared/corpus) and the case's own.
// Needs root: prints SKIPPED otherwise. The expression list is in ebpf_expr_kernel_test.cpp.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/assembler.hpp"
#include "compiler/expr.hpp"
#include "jit/ebpf/translate.hpp"
#include "tests/conformance/case_file.hpp"
#include "tests/ebpf/kernel_harness.hpp"
#include "verifier/verifier.hpp"

namespace bpf::test {
namespace {

using jit::ebpf::Hook;
constexpr int kConformanceShards = 6;

#define SKIP_UNLESS_BPF()                               \
  do {                                                  \
    if (!kernel_available()) GTEST_SKIP() << "no eBPF"; \
  } while (0)

const std::vector<Frame>& frames() {
  static const std::vector<Frame> f = kernel_frames(BPFC_TEST_SOURCE_DIR);
  return f;
}

struct CaseProgram {
  std::string name;
  std::string source;
  bool linux = false, bsd = false;
  std::vector<Frame> own;  // the case's full-length packets of 14 bytes or more
};

std::vector<CaseProgram> case_programs() {
  std::vector<CaseProgram> out;
  std::vector<std::filesystem::path> files;
  for (const auto& f : std::filesystem::directory_iterator(BPFC_CONFORMANCE_DIR))
    if (f.path().extension() == ".cases") files.push_back(f.path());
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    for (const auto& c : conformance::parse_cases(ss.str(), path.filename().string()).cases) {
      CaseProgram p{
          c.file + ":" + std::to_string(c.line) + " " + c.name, c.source, c.linux, c.bsd, {}};
      for (const auto& r : c.runs)
        if (r.packet.size() == r.wirelen && r.packet.size() >= 14) p.own.push_back(r.packet);
      out.push_back(std::move(p));
    }
  }
  return out;
}

class EbpfConformance : public ::testing::TestWithParam<int> {};

TEST_P(EbpfConformance, KernelAgreesOnEveryFrame) {
  SKIP_UNLESS_BPF();
  KernelHarness h(frames());
  KernelStats st;
  const auto cases = case_programs();
  size_t mine = 0;
  for (size_t i = static_cast<size_t>(GetParam()); i < cases.size(); i += kConformanceShards) {
    auto prog = compiler::assemble(cases[i].source);
    if (!prog.ok()) continue;
    ++mine;
    if (cases[i].linux)
      h.check(*prog, vm::Target::kLinux, cases[i].name + " [linux]", st, cases[i].own);
    if (cases[i].bsd) h.check(*prog, vm::Target::kBsd, cases[i].name + " [bsd]", st, cases[i].own);
  }
  std::printf("shard %d of %d: %zu of %zu cases, %zu frames\n", GetParam(), kConformanceShards,
              mine, cases.size(), frames().size());
  print_stats("conformance cases", st);
  EXPECT_GT(st.runs, 10000u);
  EXPECT_GT(st.ancillary_runs, 0u);
  EXPECT_EQ(st.mismatches, 0u);
}

INSTANTIATE_TEST_SUITE_P(Shards, EbpfConformance, ::testing::Range(0, kConformanceShards));

// A big host list: more classic instructions than the kernel's classic attach allows (4,096).
TEST(EbpfKernel, BigFilter) {
  SKIP_UNLESS_BPF();
  std::string e = "host 10.0.0.1";
  std::mt19937 rng(3000);
  for (int i = 1; i < 3000; ++i)
    e += " or host 10." + std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) + "." +
         std::to_string(rng() % 256);
  auto prog = compiler::compile_expression(e, compiler::ExprOptions{});
  ASSERT_TRUE(prog.ok());
  std::printf("3,000-host filter: %zu classic instructions\n", prog->size());
  EXPECT_GT(prog->size(), 4096u);
  KernelHarness h(frames());
  KernelStats st;
  h.check(*prog, vm::Target::kLinux, "3,000 hosts", st);
  print_stats("big filter", st);
  EXPECT_EQ(st.loaded, 3u);
  EXPECT_EQ(st.mismatches, 0u);
}

std::vector<jit::ebpf::EbpfInsn> translation(const std::string& src, Hook h) {
  auto prog = compiler::assemble(src);
  EXPECT_TRUE(prog.ok()) << src;
  verifier::Options vo;
  vo.destination = verifier::Destination::kUserSpace;
  auto v = verifier::verify(*prog, vo);
  EXPECT_TRUE(v.ok()) << src;
  auto e = jit::ebpf::translate(*v, h);
  return e.ok() ? e->insns : std::vector<jit::ebpf::EbpfInsn>{};
}

bool calls(const std::vector<jit::ebpf::EbpfInsn>& insns, int32_t helper) {
  for (const auto& i : insns)
    if (i.code == (jit::ebpf::op::kJmp | jit::ebpf::op::kCall) && i.imm == helper) return true;
  return false;
}

// SKF_NET_OFF + n (net/core/filter.c, bpf_internal_load_pointer_neg_helper: relative to
// skb_network_header): tc reads it with bpf_skb_load_bytes_relative(BPF_HDR_START_NET) and must
// agree with the interpreter given the test-run skb's network offset (14); xdp has no network
// header: the absolute form is a located translation error, the indexed one rejects at run time.
const char* const kNetOffPrograms[] = {
    "ldb [-1048567]\njeq #6, a, r\na: ret #1\nr: ret #0\n",   // IPv4 protocol = TCP
    "ldh [-1048574]\njgt #60, a, r\na: ret #1\nr: ret #0\n",  // total length > 60
    "ld [-1048564]\nand #0xff000000\njeq #0x0a000000, a, r\na: ret #1\nr: ret #0\n",
    "ldxb 4*([-1048576]&0xf)\nldh [x + 14]\njgt #1023, a, r\na: ret #1\nr: ret #0\n",
    "ldx #0xfff00000\nldb [x + 9]\nret a\n",  // indexed into the network header
    "ldx #0xfff00000\nld [x + 1500]\njeq #0, r, a\na: ret #1\nr: ret #0\n",
    "ldx #0xfffff000\nldb [x + 9]\nret #1\n",  // SKF_AD_OFF range: net + 0xff009
    "ldx #0xffe00000\nldh [x + 12]\njeq #0x800, a, r\na: ret #1\nr: ret #0\n",  // SKF_LL_OFF
    "ldb [-2097140]\njeq #0x86, a, r\na: ret #1\nr: ret #0\n",                  // SKF_LL_OFF + 12
};

TEST(EbpfKernel, NetworkHeaderLoads) {
  SKIP_UNLESS_BPF();
  KernelHarness h(frames());
  KernelStats st;
  for (const char* src : kNetOffPrograms) {
    auto prog = compiler::assemble(src);
    ASSERT_TRUE(prog.ok()) << src;
    h.check(*prog, vm::Target::kLinux, std::string("'") + src + "'", st);
  }
  print_stats("SKF_NET_OFF / SKF_LL_OFF loads", st);
  EXPECT_EQ(st.refused,
            4u);  // the four absolute SKF_NET_OFF loads under xdp (one in ldxb 4*([k]&0xf))
  EXPECT_GT(st.runs, 10000u);
  EXPECT_EQ(st.mismatches, 0u);
  // The absolute form under xdp: an error naming the instruction.
  auto prog = compiler::assemble(kNetOffPrograms[0]);
  verifier::Options vo;
  vo.destination = verifier::Destination::kUserSpace;
  auto v = verifier::verify(*prog, vo);
  auto x = jit::ebpf::translate(*v, Hook::kXdp);
  ASSERT_FALSE(x.ok());
  EXPECT_EQ(x.diagnostics().items().at(0).insn_index, 0u);
  EXPECT_TRUE(
      calls(translation(kNetOffPrograms[0], Hook::kTc), jit::ebpf::kHelperSkbLoadBytesRelative));
  EXPECT_TRUE(
      calls(translation(kNetOffPrograms[4], Hook::kTc), jit::ebpf::kHelperSkbLoadBytesRelative));
  EXPECT_FALSE(
      calls(translation(kNetOffPrograms[4], Hook::kXdp), jit::ebpf::kHelperSkbLoadBytesRelative));
}

// Loads past the first 65,535 bytes, which the kernel verifier cannot prove for direct packet
// access: tc and xdp use bpf_skb_load_bytes / bpf_xdp_load_bytes. A test run holds at most a
// page (3,712 bytes for an skb, 3,520 linear for xdp), so here every such load fails and the
// program must reject, as the interpreter does; loads that succeed are checked live on a
// 65,549-byte loopback frame by ebpf_far_live_test.cpp. Under xdp a load starting past byte
// 65,535 rejects outright (bpf_xdp_load_bytes would refuse it: translate.hpp).
const char* const kFarPrograms[] = {
    "ld [70000]\nret a\n",
    "ldh [65534]\nret #1\n",
    "ldb [65535]\nret #1\n",
    "ldb [100]\nldb [65536]\nret #1\n",
    "ldx #70000\nldb [x + 0]\nret #1\n",
    "ldx #65530\nld [x + 4]\nret #1\n",
    "ldx #65530\nld [x + 1]\nret #1\n",            // 65,531..65,534: still direct access
    "ldx #0xffe00000\nldb [x + 70000]\nret #1\n",  // SKF_LL_OFF + 70,000
    "ldxb 4*([14]&0xf)\nld [x + 65520]\nret #1\n",
};

TEST(EbpfKernel, LoadsPastDirectAccessRange) {
  SKIP_UNLESS_BPF();
  KernelHarness h(frames());
  KernelStats st;
  for (const char* src : kFarPrograms)
    for (vm::Target t : {vm::Target::kLinux, vm::Target::kBsd}) {
      auto prog = compiler::assemble(src);
      ASSERT_TRUE(prog.ok()) << src;
      h.check(*prog, t, std::string("'") + src + "'", st);
    }
  print_stats("loads past 65,535 bytes", st);
  EXPECT_EQ(st.refused, 0u);
  EXPECT_EQ(st.loaded, st.translations);
  EXPECT_GT(st.runs, 10000u);
  EXPECT_EQ(st.mismatches, 0u);
  EXPECT_TRUE(calls(translation(kFarPrograms[0], Hook::kTc), jit::ebpf::kHelperSkbLoadBytes));
  EXPECT_FALSE(calls(translation(kFarPrograms[0], Hook::kXdp), jit::ebpf::kHelperXdpLoadBytes));
  EXPECT_TRUE(calls(translation(kFarPrograms[1], Hook::kXdp), jit::ebpf::kHelperXdpLoadBytes));
  EXPECT_TRUE(calls(translation(kFarPrograms[4], Hook::kXdp), jit::ebpf::kHelperXdpLoadBytes));
}

}  // namespace
}  // namespace bpf::test
