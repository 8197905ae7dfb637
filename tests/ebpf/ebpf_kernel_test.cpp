// The eBPF translation (jit/ebpf/) against the running kernel, packet by packet: every program of
// the conformance cases (tests/conformance/cases, Linux and BSD targets), a list of pcap-filter
// expressions and a 3,000-host filter (over 4,096 classic instructions) are translated for each
// hook (socket, xdp, tc), loaded with BPF_PROG_LOAD (the kernel's verifier must accept every
// translation that translate() returns) and run with BPF_PROG_TEST_RUN on full-length packets
// (generated Ethernet frames, examples/sample.pcap, ../shared/corpus/*.pcap when present; at
// least 14 bytes, as the kernel requires, and at most 3,500: one page with head and tail room).
// The kernel's result must equal our interpreter's verdict on every packet:
//   socket: the raw return value; BPF_PROG_TEST_RUN gives a socket filter the frame after its
//     Ethernet header (eth_type_trans pulled it), so the interpreter runs on bytes 14.. too;
//   xdp: XDP_PASS / XDP_DROP; tc: TC_ACT_OK / TC_ACT_SHOT (hook_verdict), on the whole frame.
// Socket programs with loads at negative constant offsets are loaded but not run (see
// negative_constants). Programs with ancillary loads are loaded but not run (their values — mark, hash, ifindex ... —
// are the test-run skb's, not a vm::Context we choose). Needs root: prints SKIPPED otherwise.
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
#include "tests/ebpf/bpf_syscall.hpp"
#include "tests/expr/expr_packets.hpp"
#include "tests/support/pcap_ref.hpp"
#include "verifier/verifier.hpp"
#include "vm/interpreter.hpp"

namespace bpf::test {
namespace {

using jit::ebpf::Hook;
constexpr Hook kHooks[] = {Hook::kSocket, Hook::kXdp, Hook::kTc};
constexpr uint32_t kEthHlen = 14, kMaxTestRun = 3500;  // test runs take one page

struct Stats {
  size_t programs = 0, translated = 0, refused = 0, loaded = 0, runs = 0, mismatches = 0,
         not_run = 0, bad_runs = 0;
};

#define SKIP_UNLESS_BPF()                                         \
  do {                                                            \
    std::string why;                                              \
    if (!can_load_bpf(&why)) {                                    \
      std::printf("SKIPPED: cannot load eBPF programs: %s\n", why.c_str()); \
      GTEST_SKIP() << why;                                        \
    }                                                             \
  } while (0)

std::vector<std::vector<uint8_t>> full_packets(const std::vector<Packet>& in) {
  std::vector<std::vector<uint8_t>> out;
  for (const Packet& p : in)
    if (p.caplen() == p.wirelen && p.caplen() >= kEthHlen) out.push_back(p.data);
  return out;
}

// Loads at negative constant offsets (SKF_LL_OFF, SKF_NET_OFF), or programs with such a constant
// that may become X + k: under the socket hook they go
// through LD_ABS/LD_IND, the kernel's own classic helpers, and read the test-run skb's link
// header, which lies before the bytes the socket program (and so our interpreter) sees.
bool negative_constants(const vm::VerifiedProgram& v) {
  for (const vm::DecodedInsn& d : v.decoded())
    if (d.k >= 0x80000000u && !vm::info(d.op).has(vm::eff::kJump)) return true;
  return false;
}

// Translates, loads and runs `prog` on `pkts` for every hook; failures are test failures.
void check(const vm::Program& prog, vm::Target target, const std::vector<std::vector<uint8_t>>& pkts,
           const std::string& name, Stats& st) {
  verifier::Options vo;
  vo.target = target;
  vo.destination = verifier::Destination::kUserSpace;
  auto v = verifier::verify(prog, vo);
  if (!v.ok()) return;  // a case of invalid programs: nothing to translate
  ++st.programs;
  vm::Interpreter interp(*v);
  for (Hook h : kHooks) {
    auto e = jit::ebpf::translate(*v, h);
    if (!e.ok()) {  // only ancillary loads the hook has no field for, or SKF_NET_OFF (xdp/tc)
      ++st.refused;
      for (const Diagnostic& d : e.diagnostics().items()) {
        const bool expected = d.message.find("ancillary") != std::string::npos ||
                              d.message.find("SKF_NET_OFF") != std::string::npos;
        EXPECT_TRUE(expected && d.insn_index) << name << ": " << d.message;
      }
      continue;
    }
    ++st.translated;
    LoadedProg l = load_ebpf(*e);
    if (!l.ok()) {
      ADD_FAILURE() << name << " (hook " << jit::ebpf::hook_name(h) << "): the kernel refuses the "
                    << "translation\n" << l.log;
      continue;
    }
    ++st.loaded;
    if (v->facts().uses_ancillary || (h == Hook::kSocket && negative_constants(*v))) {
      ++st.not_run;
      continue;
    }
    for (const auto& p : pkts) {
      if (p.size() > kMaxTestRun) continue;
      const uint8_t* data = p.data();
      uint32_t len = static_cast<uint32_t>(p.size());
      if (h == Hook::kSocket) {
        data += kEthHlen;
        len -= kEthHlen;
      }
      vm::Context ctx;
      // xdp and tc have no network-header offset: SKF_NET_OFF loads fail (translate.hpp).
      if (h == Hook::kXdp) ctx.net_offset = 0xffffffffu;
      if (h == Hook::kTc) ctx.net_offset = kEthHlen;
      const uint32_t want = jit::ebpf::hook_verdict(h, interp.run(data, len, len, ctx));
      auto r = test_run(l.fd, p.data(), static_cast<uint32_t>(p.size()));
      if (!r && errno == EINVAL) {  // a few short frames (30 bytes, IP ethertype): not testable
        ++st.bad_runs;
        continue;
      }
      ASSERT_TRUE(r) << name << " (hook " << jit::ebpf::hook_name(h) << "): BPF_PROG_TEST_RUN failed on a "
                     << p.size() << "-byte packet: " << std::strerror(errno);
      ++st.runs;
      if (r->retval != want) {
        if (++st.mismatches <= 10 || std::getenv("EBPF_ALL_MISMATCHES"))
          ADD_FAILURE() << name << " (hook " << jit::ebpf::hook_name(h) << "): kernel returns "
                        << r->retval << ", interpreter " << want << " on a " << p.size()
                        << "-byte packet";
      }
    }
  }
}

void print(const char* what, const Stats& st) {
  std::printf("%s: %zu programs, %zu translations (%zu refused: ancillary field missing), %zu "
              "loaded by the kernel, %zu not run (ancillary or socket negative offsets), %zu test runs (%zu frames refused by BPF_PROG_TEST_RUN), %zu mismatches\n",
              what, st.programs, st.translated, st.refused, st.loaded, st.not_run, st.runs, st.bad_runs,
              st.mismatches);
}

std::vector<std::vector<uint8_t>> packets() {
  std::vector<std::vector<uint8_t>> out;
  std::mt19937 rng(16);
  for (auto& p : make_packets(1, rng))
    if (p.data.size() == p.wirelen && p.data.size() >= kEthHlen) out.push_back(p.data);
  auto more = full_packets(load_pcap(std::string(BPFC_TEST_SOURCE_DIR) + "/examples/sample.pcap"));
  out.insert(out.end(), more.begin(), more.end());
  if (std::filesystem::is_directory(corpus_dir())) {
    for (const auto& f : std::filesystem::directory_iterator(corpus_dir())) {
      if (f.path().extension() != ".pcap") continue;
      auto c = full_packets(load_pcap(f.path().string(), 400));
      out.insert(out.end(), c.begin(), c.end());
    }
  } else {
    std::printf("note: no corpus at %s (generated packets and sample.pcap only)\n",
                corpus_dir().c_str());
  }
  return out;
}

TEST(EbpfKernel, ConformanceCases) {
  SKIP_UNLESS_BPF();
  const auto generated = packets();
  std::vector<std::vector<uint8_t>> some(generated.begin(),
                                         generated.begin() + std::min<size_t>(generated.size(), 60));
  Stats st;
  for (const auto& f : std::filesystem::directory_iterator(BPFC_CONFORMANCE_DIR)) {
    if (f.path().extension() != ".cases") continue;
    std::ifstream in(f.path());
    std::stringstream ss;
    ss << in.rdbuf();
    auto parsed = conformance::parse_cases(ss.str(), f.path().filename().string());
    for (const auto& c : parsed.cases) {
      auto prog = compiler::assemble(c.source);
      if (!prog.ok()) continue;
      auto pkts = some;
      for (const auto& r : c.runs)
        if (r.packet.size() == r.wirelen && r.packet.size() >= kEthHlen) pkts.push_back(r.packet);
      const std::string name = c.file + ":" + std::to_string(c.line) + " " + c.name;
      if (c.linux) check(*prog, vm::Target::kLinux, pkts, name + " [linux]", st);
      if (c.bsd) check(*prog, vm::Target::kBsd, pkts, name + " [bsd]", st);
    }
  }
  print("conformance cases", st);
  EXPECT_GT(st.runs, 1000u);
  EXPECT_EQ(st.mismatches, 0u);
}

const char* const kExprs[] = {
    "", "ip", "ip6", "arp", "tcp", "udp", "icmp", "icmp6", "tcp port 80", "udp port 53",
    "port 53", "portrange 1-1023", "tcp src port 22 or tcp dst port 443", "host 10.0.0.1",
    "src host 192.168.1.1", "dst net 10.0.0.0/8", "net 172.16.0.0 mask 255.240.0.0",
    "ip6 host 2001:db8::1", "ip6 net 2001:db8::/32", "ether host 00:11:22:33:44:55",
    "ether broadcast", "ether multicast", "vlan", "vlan 10", "vlan and ip", "mpls", "mpls 3",
    "tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
    "ip[8] < 64", "len > 100", "len <= 60", "greater 200", "less 80", "ip[2:2] > 1000",
    "ip proto 47", "ip6 proto 58", "udp[8:2] = 0x1234", "icmp[icmptype] = icmp-echo",
    "ip[6:2] & 0x1fff = 0", "ip multicast", "ip broadcast", "not ip", "not tcp and not udp",
    "tcp and (port 80 or port 8080) and not host 10.1.1.1", "ip and udp and port 4789",
    "ip[0] & 0xf > 5", "tcp[13] & 2 != 0 and tcp[2:2] > 1024", "ip[1] / 4 = 0", "ip[1] % 3 = 1",
    "ip[1] * 3 > 100", "ip[1] << 2 = 0", "ip[1] >> 1 = 0", "udp[4:2] - 8 > 0",
    "tcp[(tcp[12] >> 4) * 4] = 0x47", "ip protochain 6", "ip6 protochain 17", "geneve",
    "vlan 10 and vlan 20", "ip host 10.0.0.1 and ip host 10.0.0.2", "ether proto 0x88cc",
    "inbound", "ip[len - 1] = 0", "udp[len - 20] != 1",
};

TEST(EbpfKernel, Expressions) {
  SKIP_UNLESS_BPF();
  const auto pkts = packets();
  Stats st;
  size_t compiled = 0;
  for (const char* e : kExprs) {
    compiler::ExprOptions eo;
    auto prog = compiler::compile_expression(e, eo);
    if (!prog.ok()) continue;
    ++compiled;
    check(*prog, vm::Target::kLinux, pkts, std::string("expr '") + e + "'", st);
  }
  std::printf("%zu of %zu expressions compiled; %zu packets\n", compiled,
              sizeof kExprs / sizeof kExprs[0], pkts.size());
  print("expressions", st);
  EXPECT_EQ(st.mismatches, 0u);
}

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
  auto pkts = packets();
  Stats st;
  check(*prog, vm::Target::kLinux, pkts, "3,000 hosts", st);
  print("big filter", st);
  EXPECT_EQ(st.loaded, 3u);
  EXPECT_EQ(st.mismatches, 0u);
}

}  // namespace
}  // namespace bpf::test
