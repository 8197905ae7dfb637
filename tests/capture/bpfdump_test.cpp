// bpfdump end to end, against tcpdump and libpcap (both installed; SKIPPED when tcpdump is not):
//  - `bpfdump -r IN -w OUT --program P` (P from `tcpdump -r IN -ddd EXPR`) and, when the expression
//    compiler is built, `bpfdump -r IN -w OUT EXPR`, write exactly the bytes `tcpdump -r IN -w OUT
//    EXPR` writes, with every built engine and both semantics, on generated traffic and on
//    ../shared/corpus when present;
//  - --verdicts prints libpcap's bpf_filter value for every packet; --bench prints ns/packet;
//  - -c, -w -, truncated input (exit 1, packets before it written and counted), usage errors
//    (exit 2), invalid programs (exit 1 with diagnostics), Ctrl-C on a pipe (clean end, stats).
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "jit/engine.hpp"
#include "shell.hpp"
#include "test_packets.hpp"

#ifndef BPFDUMP_PATH
#error "BPFDUMP_PATH must name the bpfdump binary"
#endif

namespace bpf::capture {
namespace {

using testing::Out;
using testing::sh;
using testing::slurp;

const std::string kBpfdump = BPFDUMP_PATH;

bool have_tcpdump() { return std::system("tcpdump --version >/dev/null 2>&1") == 0; }

std::vector<std::string> engines() {
  std::vector<std::string> out;
  for (jit::Engine e : {jit::Engine::kInterp, jit::Engine::kAsmjit, jit::Engine::kLlvm})
    if (jit::available(e)) out.emplace_back(jit::engine_name(e));
  return out;
}

class Bpfdump : public ::testing::Test {
 protected:
  void SetUp() override {
    gen_ = testing::temp_path("gen.pcap");
    ASSERT_TRUE(testing::write_with_libpcap(gen_, testing::traffic_mix(5000, 99)));
    // The same traffic as raw IP (DLT_RAW 12, stored as LINKTYPE_RAW 101 in the file header).
    raw_ = testing::temp_path("gen_raw.pcap");
    std::vector<testing::TestPacket> raw;
    for (auto t : testing::traffic_mix(3000, 98)) {
      if (t.bytes[12] != 0x08 && t.bytes[12] != 0x86) continue;  // IPv4/IPv6, untagged
      t.bytes.erase(t.bytes.begin(), t.bytes.begin() + 14);
      t.wirelen -= 14;
      raw.push_back(std::move(t));
    }
    ASSERT_TRUE(testing::write_with_libpcap(raw_, raw, /*DLT_RAW*/ 12));
    inputs_ = {gen_, raw_};
    for (const char* f : {"ether.pcap", "sll.pcap", "raw.pcap"}) {
      const std::string p = std::string(BPFC_CORPUS_DIR) + "/" + f;
      if (access(p.c_str(), R_OK) == 0) inputs_.push_back(p);
    }
  }
  void TearDown() override {
    unlink(gen_.c_str());
    unlink(raw_.c_str());
  }
  std::string gen_, raw_;
  std::vector<std::string> inputs_;
};

const std::vector<std::string> kExprs = {
    "tcp port 80 or udp", "ip and not tcp", "ip6", "arp", "vlan", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
    "udp and len > 200", "icmp or ip proto 50", "net 10.0.0.0/30 and dst port 443", ""};

TEST_F(Bpfdump, WritesExactlyWhatTcpdumpWritesWithItsBytecode) {
  if (!have_tcpdump()) GTEST_SKIP() << "SKIPPED: tcpdump not installed";
  const std::string prog = testing::temp_path("p.ddd"), want = testing::temp_path("t.pcap"),
                    got = testing::temp_path("b.pcap");
  size_t compared = 0;
  for (const std::string& in : inputs_) {
    for (const std::string& expr : kExprs) {
      const Out d = sh("tcpdump -r " + in + " -ddd '" + expr + "' > " + prog);
      if (d.status != 0) continue;  // not valid for this link type (e.g. vlan on RAW)
      ASSERT_EQ(sh("tcpdump -r " + in + " -w " + want + " '" + expr + "'").status, 0);
      const std::string ref = slurp(want);
      for (const std::string& engine : engines()) {
        for (const char* sem : {"linux", "bsd"}) {
          const Out r = sh(kBpfdump + " -r " + in + " -w " + got + " --engine " + engine +
                           " --semantics " + sem + " --program " + prog);
          SCOPED_TRACE(in + " '" + expr + "' " + engine + " " + sem);
          ASSERT_EQ(r.status, 0) << r.err;
          ASSERT_EQ(slurp(got), ref) << "output differs from tcpdump's";
          ++compared;
        }
      }
    }
  }
  EXPECT_GT(compared, 10u);
  unlink(prog.c_str());
  unlink(want.c_str());
  unlink(got.c_str());
}

#if BPFC_HAVE_EXPR
TEST_F(Bpfdump, WritesExactlyWhatTcpdumpWritesWithExpressions) {
  if (!have_tcpdump()) GTEST_SKIP() << "SKIPPED: tcpdump not installed";
  const std::string want = testing::temp_path("te.pcap"), got = testing::temp_path("be.pcap");
  size_t compared = 0;
  for (const std::string& in : inputs_) {
    for (const std::string& expr : kExprs) {
      if (sh("tcpdump -r " + in + " -w " + want + " '" + expr + "'").status != 0) continue;
      const Out r = sh(kBpfdump + " -r " + in + " -w " + got + " '" + expr + "'");
      SCOPED_TRACE(in + " '" + expr + "'");
      ASSERT_EQ(r.status, 0) << r.err;
      ASSERT_EQ(slurp(got), slurp(want)) << "output differs from tcpdump's";
      ++compared;
    }
  }
  EXPECT_GE(compared, 15u);
  unlink(want.c_str());
  unlink(got.c_str());
}
#endif

TEST_F(Bpfdump, VerdictsAreLibpcapsFilterValues) {
  if (!have_tcpdump()) GTEST_SKIP() << "SKIPPED: tcpdump not installed";
  const std::string prog = testing::temp_path("v.ddd");
  const std::string expr = "tcp port 80 or (udp and len > 300)";
  ASSERT_EQ(sh("tcpdump -r " + gen_ + " -ddd '" + expr + "' > " + prog).status, 0);
  const Out r = sh(kBpfdump + " -r " + gen_ + " --verdicts --program " + prog);
  ASSERT_EQ(r.status, 0) << r.err;
  // Reference: libpcap's own bpf_filter on the same program.
  char ebuf[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(gen_.c_str(), ebuf);
  ASSERT_NE(p, nullptr);
  bpf_program bp{};
  ASSERT_EQ(pcap_compile(p, &bp, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN), 0);
  std::ostringstream want;
  pcap_pkthdr* h;
  const u_char* d;
  for (int i = 0; pcap_next_ex(p, &h, &d) == 1; ++i) want << i << ' ' << bpf_filter(bp.bf_insns, d, h->len, h->caplen) << '\n';
  pcap_freecode(&bp);
  pcap_close(p);
  EXPECT_EQ(r.out, want.str());
  unlink(prog.c_str());
}

TEST_F(Bpfdump, BenchPrintsNsPerPacket) {
  const std::string prog = testing::temp_path("b.bpf");
  std::ofstream(prog) << "ldh [12]\njeq #0x800, ok, drop\nok: ret #65535\ndrop: ret #0\n";
  const Out r = sh(kBpfdump + " -r " + gen_ + " --bench 3 --program " + prog);
  ASSERT_EQ(r.status, 0) << r.err;
  double ns = -1;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "ns/packet: %lf", &ns), 1) << r.out;
  EXPECT_GT(ns, 0);
  unlink(prog.c_str());
}

// --engine auto sizes the run (jit::choose_auto, tested in tests/jit): a short file run
// compiles with asmjit where it is built (microseconds), not LLVM (milliseconds).
TEST_F(Bpfdump, AutoEngineForAShortRun) {
  const std::string prog = testing::temp_path("auto.bpf");
  std::ofstream(prog) << "ldh [12]\njeq #0x800, ok, drop\nok: ret #65535\ndrop: ret #0\n";
  const Out shortrun = sh(kBpfdump + " -r " + gen_ + " --bench 1 --program " + prog);
  ASSERT_EQ(shortrun.status, 0) << shortrun.err;
#ifdef BPFC_HAVE_ASMJIT
  EXPECT_NE(shortrun.err.find("engine: asmjit"), std::string::npos) << shortrun.err;
#else
  EXPECT_NE(shortrun.err.find("engine: interp"), std::string::npos) << shortrun.err;
#endif
#ifdef BPFC_HAVE_LLVM
  // A run of ~2^25 packets (estimated from the file size, >= 64 bytes a record, times the
  // repetitions) is long enough for LLVM's milliseconds of compiling to pay off.
  const uint64_t per_run = std::filesystem::file_size(gen_) / 64;
  const uint64_t reps = ((uint64_t{1} << 25) + per_run - 1) / per_run;
  const Out longrun =
      sh(kBpfdump + " -r " + gen_ + " --bench " + std::to_string(reps) + " --program " + prog);
  ASSERT_EQ(longrun.status, 0) << longrun.err;
  EXPECT_NE(longrun.err.find("engine: llvm"), std::string::npos) << longrun.err;
#endif
  unlink(prog.c_str());
}

TEST_F(Bpfdump, CountStdoutAndSummaries) {
  const Out r = sh(kBpfdump + " -r " + gen_ + " -c 7 -w - > " + testing::temp_path("c.pcap") + "; cat " + testing::temp_path("c.pcap"));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string path = testing::temp_path("c.pcap");
  std::string err;
  EXPECT_EQ(testing::read_with_libpcap(path, &err).size(), 7u) << err;
  unlink(path.c_str());
  const Out s = sh(kBpfdump + " -r " + gen_ + " -c 3");
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_EQ(std::count(s.out.begin(), s.out.end(), '\n'), 3);
  EXPECT_NE(s.out.find(" > "), std::string::npos) << s.out;
}

TEST_F(Bpfdump, TruncatedInputKeepsPacketsAndFails) {
  const std::string cut = testing::temp_path("cut.pcap"), out = testing::temp_path("cut_out.pcap");
  const std::string whole = slurp(gen_);
  std::ofstream(cut, std::ios::binary) << whole.substr(0, whole.size() / 2);
  const Out r = sh(kBpfdump + " -r " + cut + " -w " + out + " --stats");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
  std::string err;
  const auto got = testing::read_with_libpcap(out, &err);
  EXPECT_EQ(err, "");
  EXPECT_GT(got.size(), 1000u);
  EXPECT_NE(r.err.find("received: " + std::to_string(got.size()) + "\n"), std::string::npos) << r.err;
  unlink(cut.c_str());
  unlink(out.c_str());
}

TEST_F(Bpfdump, UsageAndProgramErrors) {
  EXPECT_EQ(sh(kBpfdump).status, 2);
  EXPECT_EQ(sh(kBpfdump + " -r " + gen_ + " -i lo").status, 2);
  EXPECT_EQ(sh(kBpfdump + " -r " + gen_ + " --engine kernel").status, 2);
  EXPECT_EQ(sh(kBpfdump + " -r " + gen_ + " --engine nosuch").status, 2);
  EXPECT_EQ(sh(kBpfdump + " -r " + gen_ + " -c x").status, 2);
  EXPECT_EQ(sh(kBpfdump + " -r /nonexistent.pcap").status, 1);
  const Out i = sh(kBpfdump + " -i nosuchif0");
  EXPECT_EQ(i.status, 1);
  EXPECT_NE(i.err.find("nosuchif0: no such network interface"), std::string::npos) << i.err;
  const std::string prog = testing::temp_path("bad.bpf");
  std::ofstream(prog) << "ldh [12]\njeq #0x800, nowhere, drop\ndrop: ret #0\n";
  const Out r = sh(kBpfdump + " -r " + gen_ + " --program " + prog);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  unlink(prog.c_str());
}

TEST_F(Bpfdump, InterruptOnAPipeEndsCleanly) {
  // Half a file into a pipe that stays open: bpfdump waits for more; SIGINT must end it with the
  // packets so far written, the file complete and the statistics printed.
  const std::string whole = slurp(gen_), half = testing::temp_path("half.pcap"), out = testing::temp_path("int.pcap");
  std::ofstream(half, std::ios::binary) << whole.substr(0, whole.size() / 2);
  const std::string errf = testing::temp_path("int.err");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd = "(cat " + half + "; sleep 10) | exec " + kBpfdump + " -r - -w " + out + " --stats 2>" + errf;
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  kill(-pid, SIGINT);  // the test's own process group: sh, cat/sleep and bpfdump
  const auto t0 = std::chrono::steady_clock::now();
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  std::string err;
  const auto got = testing::read_with_libpcap(out, &err);
  EXPECT_EQ(err, "") << "the output file must be complete";
  EXPECT_GT(got.size(), 100u);
  const std::string stats = slurp(errf);
  EXPECT_NE(stats.find("received: "), std::string::npos) << stats;
  EXPECT_NE(stats.find("delivered: " + std::to_string(got.size()) + "\n"), std::string::npos) << stats;
  unlink(half.c_str());
  unlink(out.c_str());
  unlink(errf.c_str());
}

}  // namespace
}  // namespace bpf::capture
