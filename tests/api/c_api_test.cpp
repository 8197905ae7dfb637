// The C API (api/bpfc.h, libbpfc.so) as an embedder sees it: every function, every error path
// (bad expression, bad assembly, a program the verifier rejects, an unknown or unavailable
// engine, bad arguments), errbuf contents and truncation, libpcap compatibility of the program
// layout (static_asserts against <pcap/bpf.h>, pcap_offline_filter, pcap_freecode), and one
// filter run from several threads at once on every engine. Links the shared library, so it runs
// the exported symbols only; the suite also runs under ASan/UBSan (make asan).
#include <pcap/pcap.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bpfc/bpfc.h"

// struct bpfc_program is libpcap's struct bpf_program, struct bpfc_insn its struct bpf_insn.
static_assert(sizeof(bpfc_program) == sizeof(bpf_program));
static_assert(alignof(bpfc_program) == alignof(bpf_program));
static_assert(offsetof(bpfc_program, len) == offsetof(bpf_program, bf_len));
static_assert(offsetof(bpfc_program, insns) == offsetof(bpf_program, bf_insns));
static_assert(sizeof(bpfc_program::len) == sizeof(bpf_program::bf_len));
static_assert(sizeof(bpfc_insn) == sizeof(bpf_insn));
static_assert(offsetof(bpfc_insn, code) == offsetof(bpf_insn, code));
static_assert(offsetof(bpfc_insn, jt) == offsetof(bpf_insn, jt));
static_assert(offsetof(bpfc_insn, jf) == offsetof(bpf_insn, jf));
static_assert(offsetof(bpfc_insn, k) == offsetof(bpf_insn, k));
static_assert(sizeof(bpfc_insn::k) == sizeof(bpf_insn::k));

extern "C" int bpfc_c99_smoke(char* errbuf);  // c99_header_test.c

namespace {

constexpr int kEn10mb = 1;
constexpr const char* kArpAsm =
    "; tcpdump 'arp'\n"
    "        ldh [12]\n"
    "        jeq #0x806, keep, drop\n"
    "keep:   ret #65535\n"
    "drop:   ret #0\n";

std::vector<unsigned char> ether(uint16_t type, size_t len) {
  std::vector<unsigned char> p(len, 0);
  for (int i = 0; i < 6; ++i) p[i] = 0xff;
  p[12] = type >> 8;
  p[13] = type & 0xff;
  return p;
}
// IPv4 + TCP to port `dport`.
std::vector<unsigned char> tcp(uint16_t dport) {
  auto p = ether(0x0800, 54);
  p[14] = 0x45;
  p[16] = 0;
  p[17] = 40;
  p[22] = 64;
  p[23] = 6;
  p[36] = dport >> 8;
  p[37] = dport & 0xff;
  p[46] = 0x50;
  return p;
}

size_t lines(const char* s) {
  size_t n = *s != 0;
  for (; *s; ++s) n += *s == '\n';
  return n;
}

// A program whose every engine must be built: the "auto", "interp" names always are.
std::vector<std::string> engines() {
  std::vector<std::string> out = {"auto", "interp"};
  bpfc_program p;
  char err[BPFC_ERRBUF_SIZE];
  if (bpfc_assemble(&p, kArpAsm, err) != 0) return out;
  for (const char* e : {"asmjit", "llvm"}) {
    if (bpfc_filter* f = bpfc_filter_new(&p, e, BPFC_TARGET_LINUX, err)) {
      out.push_back(e);
      bpfc_filter_free(f);
    } else {
      std::printf("engine %s not available here: %s\n", e, err);
    }
  }
  bpfc_program_free(&p);
  return out;
}

class Errbuf {
 public:
  Errbuf() { std::memset(buf_, 'Z', sizeof buf_); }
  char* get() { return buf_; }
  std::string str() const { return buf_; }
  // NUL-terminated within BPFC_ERRBUF_SIZE bytes, nothing written past it.
  bool sane() const {
    if (std::memchr(buf_, 0, BPFC_ERRBUF_SIZE) == nullptr) return false;
    for (size_t i = BPFC_ERRBUF_SIZE; i < sizeof buf_; ++i)
      if (buf_[i] != 'Z') return false;
    return true;
  }

 private:
  char buf_[BPFC_ERRBUF_SIZE + 64];
};

TEST(CApiVersion, NamesTheLibrary) {
  ASSERT_NE(bpfc_version(), nullptr);
  EXPECT_EQ(std::string(bpfc_version()).rfind("bpfc ", 0), 0u) << bpfc_version();
}

TEST(CApiCompile, ExpressionRunsAsLibpcapDoes) {
  Errbuf err;
  bpfc_program prog{99, nullptr};
  ASSERT_EQ(bpfc_compile(&prog, "tcp dst port 80", kEn10mb, 65535, 1, err.get()), 0) << err.str();
  ASSERT_GT(prog.len, 0u);
  ASSERT_NE(prog.insns, nullptr);
  EXPECT_EQ(bpfc_verify(&prog, BPFC_TARGET_LINUX, err.get()), 0) << err.str();

  bpfc_filter* f = bpfc_filter_new(&prog, nullptr, BPFC_TARGET_LINUX, err.get());
  ASSERT_NE(f, nullptr) << err.str();
  for (const auto& pkt : {tcp(80), tcp(22), ether(0x0806, 42)}) {
    const unsigned ours = bpfc_filter_run(f, pkt.data(), pkt.size(), pkt.size());
    pcap_pkthdr h{};
    h.caplen = h.len = pkt.size();
    // The same program handed to libpcap by a cast, as API.md promises.
    const int theirs =
        pcap_offline_filter(reinterpret_cast<const bpf_program*>(&prog), &h, pkt.data());
    EXPECT_EQ(ours, unsigned(theirs));
  }
  EXPECT_EQ(bpfc_filter_run(f, tcp(80).data(), 54, 54), 65535u);
  EXPECT_EQ(bpfc_filter_run(f, tcp(22).data(), 54, 54), 0u);
  bpfc_filter_free(f);
  // Instructions come from malloc: libpcap's pcap_freecode can free them.
  pcap_freecode(reinterpret_cast<bpf_program*>(&prog));
}

TEST(CApiCompile, SnaplenAndOptimizeLevels) {
  Errbuf err;
  const auto pkt = ether(0x0806, 42);
  for (int opt : {-3, 0, 1, 2, 9}) {
    for (unsigned snap : {0u, 96u}) {
      bpfc_program prog;
      ASSERT_EQ(bpfc_compile(&prog, "arp or ip6", kEn10mb, snap, opt, err.get()), 0) << err.str();
      bpfc_filter* f = bpfc_filter_new(&prog, "interp", BPFC_TARGET_LINUX, err.get());
      ASSERT_NE(f, nullptr) << err.str();
      EXPECT_EQ(bpfc_filter_run(f, pkt.data(), 42, 42), snap == 0 ? 262144u : snap)
          << "optimize " << opt;
      bpfc_filter_free(f);
      bpfc_program_free(&prog);
    }
  }
}

TEST(CApiCompile, OtherLinkTypes) {
  Errbuf err;
  bpfc_program prog;
  ASSERT_EQ(bpfc_compile(&prog, "tcp", 12 /* DLT_RAW */, 0, 1, err.get()), 0) << err.str();
  bpfc_program_free(&prog);
  ASSERT_EQ(bpfc_compile(&prog, "tcp", 113 /* DLT_LINUX_SLL */, 0, 1, err.get()), 0);
  bpfc_program_free(&prog);
}

TEST(CApiCompile, BadExpressionIsAnErrorWithItsPosition) {
  Errbuf err;
  bpfc_program prog{7, reinterpret_cast<bpfc_insn*>(&err)};
  EXPECT_EQ(bpfc_compile(&prog, "tcp port 80 and", kEn10mb, 0, 1, err.get()), -1);
  EXPECT_EQ(prog.len, 0u);
  EXPECT_EQ(prog.insns, nullptr);
  EXPECT_TRUE(err.sane());
  EXPECT_NE(err.str().find("1:"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("syntax"), std::string::npos) << err.str();
  EXPECT_EQ(err.str().back() != '\n', true);
}

TEST(CApiCompile, SemanticErrors) {
  Errbuf err;
  bpfc_program prog;
  EXPECT_EQ(bpfc_compile(&prog, "tcp port 99999", kEn10mb, 0, 1, err.get()), -1);
  EXPECT_FALSE(err.str().empty());
  EXPECT_EQ(bpfc_compile(&prog, "tcp", 9999, 0, 1, err.get()), -1);
  EXPECT_NE(err.str().find("link type 9999"), std::string::npos) << err.str();
  // An expression that can match nothing is rejected when optimising, as pcap_compile does.
  EXPECT_EQ(bpfc_compile(&prog, "tcp and udp", kEn10mb, 0, 1, err.get()), -1);
  EXPECT_FALSE(err.str().empty());
}

TEST(CApiCompile, NullArguments) {
  Errbuf err;
  bpfc_program prog;
  EXPECT_EQ(bpfc_compile(nullptr, "tcp", kEn10mb, 0, 1, err.get()), -1);
  EXPECT_NE(err.str().find("NULL"), std::string::npos);
  EXPECT_EQ(bpfc_compile(&prog, nullptr, kEn10mb, 0, 1, err.get()), -1);
  EXPECT_NE(err.str().find("NULL"), std::string::npos);
  // errbuf may be NULL: the error is only returned.
  EXPECT_EQ(bpfc_compile(&prog, "tcp port", kEn10mb, 0, 1, nullptr), -1);
  EXPECT_EQ(bpfc_compile(&prog, "tcp", kEn10mb, 0, 1, nullptr), 0);
  bpfc_program_free(&prog);
}

TEST(CApiAssemble, AssemblesAndRuns) {
  Errbuf err;
  bpfc_program prog;
  ASSERT_EQ(bpfc_assemble(&prog, kArpAsm, err.get()), 0) << err.str();
  ASSERT_EQ(prog.len, 4u);
  EXPECT_EQ(prog.insns[0].code, 0x28);
  EXPECT_EQ(prog.insns[0].k, 12u);
  EXPECT_EQ(prog.insns[1].code, 0x15);
  EXPECT_EQ(prog.insns[1].k, 0x806u);
  EXPECT_EQ(prog.insns[2].k, 65535u);
  bpfc_program_free(&prog);
  EXPECT_EQ(prog.len, 0u);
  EXPECT_EQ(prog.insns, nullptr);
  bpfc_program_free(&prog);  // again: harmless
  bpfc_program_free(nullptr);
}

TEST(CApiAssemble, EveryErrorOnItsOwnLine) {
  Errbuf err;
  bpfc_program prog;
  EXPECT_EQ(bpfc_assemble(&prog, "ldh [12]\nfrob #1\njeq #1, nowhere\nret #0\nbogus\n", err.get()),
            -1);
  EXPECT_EQ(prog.insns, nullptr);
  EXPECT_TRUE(err.sane());
  EXPECT_GE(lines(err.get()), 2u) << err.str();
  EXPECT_NE(err.str().find("2:"), std::string::npos) << err.str();
  EXPECT_EQ(bpfc_assemble(&prog, nullptr, err.get()), -1);
  EXPECT_EQ(bpfc_assemble(nullptr, kArpAsm, err.get()), -1);
}

TEST(CApiErrbuf, ManyErrorsAreCutAtALineAndCounted) {
  std::string src;
  for (int i = 0; i < 200; ++i) src += "frobnicate #" + std::to_string(i) + "\n";
  Errbuf err;
  bpfc_program prog;
  ASSERT_EQ(bpfc_assemble(&prog, src.c_str(), err.get()), -1);
  ASSERT_TRUE(err.sane());
  const std::string s = err.str();
  EXPECT_LE(s.size(), size_t(BPFC_ERRBUF_SIZE - 1));
  EXPECT_GT(lines(s.c_str()), 3u);
  EXPECT_NE(s.rfind(" more)"), std::string::npos) << s;
  // Every line but the count is a whole diagnostic: "LINE:COL: message".
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find('\n', pos);
    if (end == std::string::npos) end = s.size();
    const std::string line = s.substr(pos, end - pos);
    if (line.front() != '(') {
      EXPECT_TRUE(isdigit(line.front())) << line;
    }
    pos = end + 1;
  }
}

TEST(CApiErrbuf, OneLongMessageIsCutSafely) {
  std::string label(3000, 'a');
  const std::string src = "ja " + label + "\nret #0\n";
  Errbuf err;
  bpfc_program prog;
  ASSERT_EQ(bpfc_assemble(&prog, src.c_str(), err.get()), -1);
  EXPECT_TRUE(err.sane());
  EXPECT_LE(err.str().size(), size_t(BPFC_ERRBUF_SIZE - 1));
  EXPECT_FALSE(err.str().empty());
}

TEST(CApiVerify, AcceptsAndRejectsWithEveryReason) {
  Errbuf err;
  bpfc_program prog;
  ASSERT_EQ(bpfc_assemble(&prog, kArpAsm, err.get()), 0);
  EXPECT_EQ(bpfc_verify(&prog, BPFC_TARGET_LINUX, err.get()), 0);
  EXPECT_EQ(bpfc_verify(&prog, BPFC_TARGET_BSD, err.get()), 0);
  EXPECT_EQ(bpfc_verify(&prog, 7, err.get()), -1);
  EXPECT_NE(err.str().find("unknown target 7"), std::string::npos) << err.str();

  // Two faults: an unknown opcode and a program that does not end with a return.
  bpfc_insn bad[] = {{0xffff, 0, 0, 0}, {0x28, 0, 0, 12}};
  bpfc_program p2{2, bad};
  EXPECT_EQ(bpfc_verify(&p2, BPFC_TARGET_LINUX, err.get()), -1);
  EXPECT_TRUE(err.sane());
  EXPECT_GE(lines(err.get()), 2u) << err.str();
  EXPECT_NE(err.str().find("insn 0"), std::string::npos) << err.str();

  // A shift by 33: Linux rejects it, BSD accepts it.
  bpfc_insn shift[] = {{0x00, 0, 0, 1}, {0x64, 0, 0, 33}, {0x16, 0, 0, 0}};
  bpfc_program p3{3, shift};
  EXPECT_EQ(bpfc_verify(&p3, BPFC_TARGET_LINUX, err.get()), -1);
  EXPECT_EQ(bpfc_verify(&p3, BPFC_TARGET_BSD, err.get()), 0) << err.str();

  bpfc_program empty{0, nullptr};
  EXPECT_EQ(bpfc_verify(&empty, BPFC_TARGET_LINUX, err.get()), -1);
  EXPECT_FALSE(err.str().empty());
  bpfc_program dangling{3, nullptr};
  EXPECT_EQ(bpfc_verify(&dangling, BPFC_TARGET_LINUX, err.get()), -1);
  EXPECT_NE(err.str().find("NULL"), std::string::npos);
  EXPECT_EQ(bpfc_verify(nullptr, BPFC_TARGET_LINUX, err.get()), -1);
  bpfc_program_free(&prog);
}

// "arp or tcp port 80" and three packets: ARP (accepted), HTTP (accepted), SSH (rejected).
class CApiArpOrHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(bpfc_compile(&prog, "arp or tcp port 80", kEn10mb, 0, 2, err.get()), 0);
  }
  void TearDown() override { bpfc_program_free(&prog); }
  Errbuf err;
  bpfc_program prog{0, nullptr};
  const std::vector<unsigned char> arp = ether(0x0806, 42), http = tcp(80), ssh = tcp(22);
};

TEST_F(CApiArpOrHttp, EveryEngineGivesTheSameVerdicts) {
  for (const std::string& e : engines()) {
    bpfc_filter* f = bpfc_filter_new(&prog, e.c_str(), BPFC_TARGET_LINUX, err.get());
    ASSERT_NE(f, nullptr) << e << ": " << err.str();
    const std::string chosen = bpfc_filter_engine(f);
    if (e != "auto") {
      EXPECT_EQ(chosen, e);
    }
    EXPECT_NE(chosen, "auto");
    EXPECT_EQ(bpfc_filter_run(f, arp.data(), 42, 42), 262144u) << e;
    EXPECT_EQ(bpfc_filter_run(f, http.data(), 54, 54), 262144u) << e;
    EXPECT_EQ(bpfc_filter_run(f, ssh.data(), 54, 54), 0u) << e;
    EXPECT_EQ(bpfc_filter_run(f, http.data(), 20, 54), 0u) << e;  // snapped before the port
    EXPECT_EQ(bpfc_filter_run(f, nullptr, 0, 0), 0u) << e;
    bpfc_filter_free(f);
  }
  bpfc_filter_free(nullptr);
  EXPECT_EQ(bpfc_filter_run(nullptr, arp.data(), 42, 42), 0u);
  EXPECT_STREQ(bpfc_filter_engine(nullptr), "");
}

TEST(CApiFilter, BsdTargetRunsWithBsdSemantics) {
  Errbuf err;
  // ld #1; lsh #33; ret a: BSD semantics shift by >= 32 gives 0 (libpcap bpf_filter).
  bpfc_insn shift[] = {{0x00, 0, 0, 1}, {0x64, 0, 0, 33}, {0x16, 0, 0, 0}};
  bpfc_program p{3, shift};
  EXPECT_EQ(bpfc_filter_new(&p, "interp", BPFC_TARGET_LINUX, err.get()), nullptr);
  bpfc_filter* f = bpfc_filter_new(&p, "interp", BPFC_TARGET_BSD, err.get());
  ASSERT_NE(f, nullptr) << err.str();
  const unsigned char pkt[1] = {0};
  EXPECT_EQ(bpfc_filter_run(f, pkt, 1, 1), 0u);
  bpfc_filter_free(f);
}

TEST(CApiFilter, ErrorPaths) {
  Errbuf err;
  bpfc_program prog;
  ASSERT_EQ(bpfc_assemble(&prog, kArpAsm, err.get()), 0);
  EXPECT_EQ(bpfc_filter_new(&prog, "nope", BPFC_TARGET_LINUX, err.get()), nullptr);
  EXPECT_TRUE(err.sane());
  EXPECT_EQ(err.str(), "unknown engine \"nope\" (auto, interp, asmjit, llvm)");
  EXPECT_EQ(bpfc_filter_new(&prog, "interp", 3, err.get()), nullptr);
  EXPECT_NE(err.str().find("unknown target 3"), std::string::npos);
  EXPECT_EQ(bpfc_filter_new(nullptr, "interp", BPFC_TARGET_LINUX, err.get()), nullptr);
  EXPECT_NE(err.str().find("NULL"), std::string::npos);
  // The verifier's reasons come back from bpfc_filter_new too.
  bpfc_insn noret[] = {{0x28, 0, 0, 12}};
  bpfc_program p2{1, noret};
  EXPECT_EQ(bpfc_filter_new(&p2, nullptr, BPFC_TARGET_LINUX, err.get()), nullptr);
  EXPECT_NE(err.str().find("insn 0"), std::string::npos) << err.str();
  bpfc_program_free(&prog);
}

TEST(CApiFilter, UnavailableLlvmEngineIsAnError) {
  // In a child process (the module is looked up once per process), with BPFC_LLVM_PLUGIN naming
  // a file that is not a module: the engine is unavailable and bpfc_filter_new says why.
#if !defined(BPFC_TEST_LLVM_MODULE)
  GTEST_SKIP() << "the LLVM engine is linked in or not built (BPFC_LLVM_MODULE=OFF)";
#endif
  if (std::getenv("BPFC_C_API_CHILD") == nullptr) {
    const std::string fake = ::testing::TempDir() + "not_a_module.so";
    FILE* out = std::fopen(fake.c_str(), "w");
    ASSERT_NE(out, nullptr);
    std::fputs("not an ELF file\n", out);
    std::fclose(out);
    const std::string cmd = "BPFC_C_API_CHILD=1 BPFC_LLVM_PLUGIN=" + fake + " " +
                            ::testing::internal::GetArgvs()[0] +
                            " --gtest_filter=CApiFilter.UnavailableLlvmEngineIsAnError";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    std::remove(fake.c_str());
    return;
  }
  Errbuf err;
  bpfc_program prog;
  ASSERT_EQ(bpfc_assemble(&prog, kArpAsm, err.get()), 0);
  EXPECT_EQ(bpfc_filter_new(&prog, "llvm", BPFC_TARGET_LINUX, err.get()), nullptr);
  EXPECT_TRUE(err.sane());
  EXPECT_NE(err.str().find("LLVM engine"), std::string::npos) << err.str();
  std::printf("errbuf: %s\n", err.get());
  // The other engines are unaffected.
  bpfc_filter* f = bpfc_filter_new(&prog, "interp", BPFC_TARGET_LINUX, err.get());
  EXPECT_NE(f, nullptr);
  bpfc_filter_free(f);
  bpfc_program_free(&prog);
}

TEST(CApiBatch, MatchesRunInChunksAndAtZero) {
  Errbuf err;
  bpfc_program prog;
  ASSERT_EQ(bpfc_compile(&prog, "tcp port 80", kEn10mb, 0, 2, err.get()), 0);
  std::vector<std::vector<unsigned char>> pkts;
  for (int i = 0; i < 1000; ++i) pkts.push_back(i % 3 == 0 ? tcp(80) : tcp(uint16_t(i)));
  std::vector<const unsigned char*> ptrs;
  std::vector<unsigned> caps, wires;
  for (size_t i = 0; i < pkts.size(); ++i) {
    ptrs.push_back(pkts[i].data());
    caps.push_back(i % 7 == 0 ? 30 : unsigned(pkts[i].size()));
    wires.push_back(unsigned(pkts[i].size()));
  }
  for (const std::string& e : engines()) {
    bpfc_filter* f = bpfc_filter_new(&prog, e.c_str(), BPFC_TARGET_LINUX, err.get());
    ASSERT_NE(f, nullptr) << err.str();
    std::vector<unsigned> out(pkts.size(), 12345);
    bpfc_filter_run_batch(f, ptrs.data(), caps.data(), wires.data(), unsigned(pkts.size()),
                          out.data());
    for (size_t i = 0; i < pkts.size(); ++i)
      ASSERT_EQ(out[i], bpfc_filter_run(f, ptrs[i], caps[i], wires[i])) << e << " packet " << i;
    bpfc_filter_run_batch(f, ptrs.data(), caps.data(), wires.data(), 0, out.data());
    bpfc_filter_run_batch(f, ptrs.data(), caps.data(), wires.data(), 3, nullptr);
    bpfc_filter_free(f);
  }
  std::vector<unsigned> out(3, 7);
  bpfc_filter_run_batch(nullptr, ptrs.data(), caps.data(), wires.data(), 3, out.data());
  EXPECT_EQ(out, (std::vector<unsigned>{0, 0, 0}));
  bpfc_program_free(&prog);
}

TEST_F(CApiArpOrHttp, OneFilterFromManyThreadsAtOnce) {
  for (const std::string& e : engines()) {
    bpfc_filter* f = bpfc_filter_new(&prog, e.c_str(), BPFC_TARGET_LINUX, err.get());
    ASSERT_NE(f, nullptr) << err.str();
    std::vector<int> wrong(8, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        const unsigned char* ptrs[3] = {arp.data(), http.data(), ssh.data()};
        const unsigned caps[3] = {42, 54, 54};
        unsigned out[3];
        for (int i = 0; i < 20000; ++i) {
          wrong[t] += bpfc_filter_run(f, arp.data(), 42, 42) != 262144u;
          wrong[t] += bpfc_filter_run(f, ssh.data(), 54, 54) != 0u;
          if (i % 16 == 0) {
            bpfc_filter_run_batch(f, ptrs, caps, caps, 3, out);
            wrong[t] += out[0] != 262144u || out[1] != 262144u || out[2] != 0u;
          }
        }
      });
    for (auto& th : threads) th.join();
    for (int t = 0; t < 8; ++t) EXPECT_EQ(wrong[t], 0) << e << " thread " << t;
    bpfc_filter_free(f);
  }
}

TEST(CApiThreads, CompileAndBuildInParallel) {
  std::vector<int> failures(6, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        char err[BPFC_ERRBUF_SIZE];
        bpfc_program p;
        const std::string expr = "tcp port " + std::to_string(1000 + t * 100 + i);
        if (bpfc_compile(&p, expr.c_str(), kEn10mb, 0, 2, err) != 0) { ++failures[t]; continue; }
        bpfc_filter* f = bpfc_filter_new(&p, t % 2 ? "interp" : nullptr, BPFC_TARGET_LINUX, err);
        const auto pkt = tcp(uint16_t(1000 + t * 100 + i));
        if (f == nullptr || bpfc_filter_run(f, pkt.data(), 54, 54) == 0) ++failures[t];
        bpfc_program bad;
        if (bpfc_compile(&bad, "tcp port", kEn10mb, 0, 2, err) != -1) ++failures[t];
        bpfc_filter_free(f);
        bpfc_program_free(&p);
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 6; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST(CApiC99, HeaderCompilesAsC99AndWorksFromC) {
  char err[BPFC_ERRBUF_SIZE];
  EXPECT_EQ(bpfc_c99_smoke(err), 0) << err;
}

}  // namespace

// bpfc_compile_rules: the classifier (compiler/classify/, tested against libpcap in
// tests/expr/classify_diff_test.cpp): rule numbers, and every bad rule located.
TEST(CApiCompileRules, ReturnsTheFirstMatchingRuleNumber) {
  Errbuf err;
  bpfc_program prog;
  ASSERT_EQ(bpfc_compile_rules(&prog, "# web\ntcp port 80\n\ntcp\nudp\n", kEn10mb, 2, err.get()), 0) << err.str();
  bpfc_filter* f = bpfc_filter_new(&prog, "interp", BPFC_TARGET_LINUX, err.get());
  ASSERT_NE(f, nullptr) << err.str();
  unsigned char pkt[54] = {};
  pkt[12] = 0x08;
  pkt[14] = 0x45;
  pkt[17] = 40;
  pkt[23] = 6;
  pkt[37] = 80;
  EXPECT_EQ(bpfc_filter_run(f, pkt, 54, 54), 1u);
  pkt[37] = 81;
  EXPECT_EQ(bpfc_filter_run(f, pkt, 54, 54), 2u);
  pkt[23] = 17;
  EXPECT_EQ(bpfc_filter_run(f, pkt, 54, 54), 3u);
  pkt[23] = 1;
  EXPECT_EQ(bpfc_filter_run(f, pkt, 54, 54), 0u);
  bpfc_filter_free(f);
  bpfc_program_free(&prog);
  EXPECT_EQ(bpfc_compile_rules(&prog, "tcp\nudp prot 53\n  tcp and\n", kEn10mb, 2, err.get()), -1);
  EXPECT_EQ(prog.len, 0u);
  EXPECT_NE(err.str().find("2:5: "), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("3:10: "), std::string::npos) << err.str();
  EXPECT_EQ(bpfc_compile_rules(&prog, nullptr, kEn10mb, 2, err.get()), -1);
  EXPECT_EQ(bpfc_compile_rules(&prog, "\n# none\n", kEn10mb, 2, err.get()), -1);
}
