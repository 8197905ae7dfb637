// bpfdump's reliability around its input and output (issue 18), one regression test per item:
//  - a file that shrinks while it is read ends like a truncated file (no SIGBUS), through the
//    Source API and through bpfdump; -w onto the file being read is refused;
//  - every mode (summaries, -w, --verdicts, --bench) reads pipes, /dev/stdin, process
//    substitution and FIFOs, opening its input once;
//  - SIGINT while stdin is idle ends the run within a second, the output complete;
//  - write errors (/dev/full) are reported with exit 1; a closed pipe stops the run promptly;
//  - -c N with --verdicts prints N lines;
//  - -w keeps the FCS bits of the link type and scales nanosecond fractions as tcpdump does,
//    byte for byte against `tcpdump -r X -w Y`; unknown link types are refused as by tcpdump;
//    -s is ignored when reading, as by tcpdump.
// Tests that need tcpdump or bash print SKIPPED and skip when they are missing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "capture/source.hpp"
#include "shell.hpp"
#include "test_packets.hpp"

#ifndef BPFDUMP_PATH
#error "BPFDUMP_PATH must name the bpfdump binary"
#endif

namespace bpf::capture {
namespace {

using testing::temp_path;

const std::string kBpfdump = BPFDUMP_PATH;

using testing::Out;
using testing::slurp;

// bash: process substitution and PIPESTATUS.
Out sh(const std::string& cmd) { return testing::sh(cmd, "bash"); }

void spit(const std::string& path, const std::string& data) { std::ofstream(path, std::ios::binary) << data; }

bool have(const char* cmd) { return std::system((std::string(cmd) + " >/dev/null 2>&1").c_str()) == 0; }
bool have_tcpdump() { return have("tcpdump --version"); }
bool have_bash() { return have("bash -c true"); }

// A classic pcap built byte by byte: host order unless `swapped`, any magic and link type.
struct RawRecord {
  uint32_t sec, frac;
  std::vector<uint8_t> bytes;
};
std::string raw_pcap(uint32_t magic, uint32_t linktype, const std::vector<RawRecord>& recs, bool swapped = false,
                     uint32_t snaplen = 262144) {
  std::string s;
  auto u32 = [&](uint32_t v) {
    if (swapped) v = __builtin_bswap32(v);
    s.append(reinterpret_cast<const char*>(&v), 4);
  };
  auto u16 = [&](uint16_t v) {
    if (swapped) v = __builtin_bswap16(v);
    s.append(reinterpret_cast<const char*>(&v), 2);
  };
  u32(magic);
  u16(2);
  u16(4);
  u32(0);
  u32(0);
  u32(snaplen);
  u32(linktype);
  for (const RawRecord& r : recs) {
    u32(r.sec);
    u32(r.frac);
    u32(uint32_t(r.bytes.size()));
    u32(uint32_t(r.bytes.size()));
    s.append(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size());
  }
  return s;
}

// n small Ethernet/IPv4/UDP packets, each tagged with its index (fast to build, ~90 bytes each).
std::vector<testing::TestPacket> many_packets(size_t n) {
  std::vector<testing::TestPacket> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    testing::TestPacket p;
    p.ts_ns = 1700000000ull * 1000000000ull + i * 1000;
    p.bytes = testing::ipv4_packet(17, 0x0a000001, 0x0a000002, 1000, 53, 30 + uint32_t(i % 40), uint32_t(i));
    p.wirelen = uint32_t(p.bytes.size());
    v.push_back(std::move(p));
  }
  return v;
}

class Reader : public ::testing::Test {
 protected:
  void SetUp() override {
    pkts_ = many_packets(3000);
    in_ = temp_path("in.pcap");
    ASSERT_TRUE(testing::write_with_libpcap(in_, pkts_));
  }
  void TearDown() override {
    for (const std::string& f : cleanup_) unlink(f.c_str());
    unlink(in_.c_str());
  }
  std::string tmp(const std::string& name) {
    cleanup_.push_back(temp_path(name));
    return cleanup_.back();
  }
  std::vector<testing::TestPacket> pkts_;
  std::string in_;
  std::vector<std::string> cleanup_;
};

// ---- 1. a file that shrinks while it is read ----

TEST_F(Reader, ShrinkingFileUnderTheSourceEndsLikeATruncatedFile) {
  // The source has handed out its first batch; another process cuts the file to a third
  // (mid-record). Reading on must neither fault (a mapping would raise SIGBUS here) nor
  // deliver a record past the cut: every packet delivered is a whole original one, then an error.
  const std::string path = tmp("shrink_src.pcap");
  const auto pkts = many_packets(60000);  // ~6 MB: more than any read-ahead
  ASSERT_TRUE(testing::write_with_libpcap(path, pkts));
  const off_t whole = off_t(slurp(path).size());
  auto src = open_file(path);
  ASSERT_TRUE(src.ok());
  std::vector<Frame> frames;
  ASSERT_EQ((*src)->read(frames, -1), Source::Status::kOk);
  ASSERT_FALSE(frames.empty());
  ASSERT_EQ(truncate(path.c_str(), whole / 3 + 7), 0);
  size_t n = 0;
  Source::Status st;
  do {
    for (const Frame& f : frames) {
      ASSERT_LT(n, pkts.size());
      ASSERT_EQ(std::vector<uint8_t>(f.data, f.data + f.caplen), pkts[n].bytes) << "packet " << n;
      ++n;
    }
    st = (*src)->read(frames, -1);
  } while (st == Source::Status::kOk);
  EXPECT_EQ(st, Source::Status::kError);
  EXPECT_NE((*src)->error().find("truncated dump file"), std::string::npos) << (*src)->error();
  EXPECT_LT(n, pkts.size());
}

TEST_F(Reader, ShrinkingFileUnderBpfdumpEndsLikeATruncatedFile) {
  // bpfdump -r F -w FIFO with small buffers: it reads ahead a little, then waits for the FIFO's
  // reader (this test); F is cut meanwhile; then the FIFO is drained. bpfdump must exit 1 with
  // "truncated dump file", its output a valid capture of whole records (a prefix of F's).
  const std::string path = tmp("shrink.pcap"), fifo = tmp("shrink.fifo"), errf = tmp("shrink.err");
  const auto pkts = many_packets(60000);
  ASSERT_TRUE(testing::write_with_libpcap(path, pkts));
  const off_t whole = off_t(slurp(path).size());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd = "exec " + kBpfdump + " -B 64 -r " + path + " -w " + fifo + " 2>" + errf;
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  FILE* f = std::fopen(fifo.c_str(), "rb");  // unblocks bpfdump's open
  ASSERT_NE(f, nullptr);
  std::string out(64 << 10, '\0');
  out.resize(std::fread(out.data(), 1, out.size(), f));  // bpfdump is running and blocked
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(truncate(path.c_str(), whole / 2 + 7), 0);
  char buf[65536];
  for (size_t k; (k = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, k);
  std::fclose(f);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st)) << "killed by signal " << WTERMSIG(st);
  EXPECT_EQ(WEXITSTATUS(st), 1);
  const std::string err = slurp(errf);
  EXPECT_NE(err.find("truncated dump file"), std::string::npos) << err;
  const std::string copy = tmp("shrink_out.pcap");
  spit(copy, out);
  std::string perr;
  const auto got = testing::read_with_libpcap(copy, &perr);
  EXPECT_EQ(perr, "") << "the output must end with a whole record";
  EXPECT_GT(got.size(), 100u);
  EXPECT_LT(got.size(), pkts.size());
  for (size_t i = 0; i < got.size() && i < pkts.size(); ++i) {
    ASSERT_EQ(got[i].bytes, pkts[i].bytes) << i;
  }
}

TEST_F(Reader, WritingOverTheInputIsRefused) {
  // tcpdump -r F -w F truncates F under its own reader ("truncated dump file", F lost).
  const std::string copy = tmp("same.pcap");
  spit(copy, slurp(in_));
  const Out r = sh(kBpfdump + " -r " + copy + " -w " + copy);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("overwrite"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(copy), slurp(in_)) << "the input must be left as it was";
  const Out s = sh(kBpfdump + " -r " + copy + " -w - >>" + copy);
  EXPECT_EQ(s.status, 1);
  EXPECT_EQ(slurp(copy), slurp(in_));
}

// ---- 4. pipes and FIFOs, every mode ----

TEST_F(Reader, EveryModeReadsPipesFifosAndDevStdin) {
  if (!have_bash()) GTEST_SKIP() << "SKIPPED: bash not installed (process substitution)";
  const std::string fifo = tmp("in.fifo"), w = tmp("pipe_w.pcap");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::vector<std::string> modes = {"", "-w " + w, "--verdicts", "--verdicts -c 5", "--bench 2", "udp"};
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {"cat " + in_ + " | ", "-r -"},
      {"cat " + in_ + " | ", "-r /dev/stdin"},
      {"", "-r <(cat " + in_ + ")"},
      {"(cat " + in_ + " > " + fifo + " &) ; ", "-r " + fifo},
      {"", "-r - < " + in_},
  };
  for (const std::string& mode : modes) {
    const Out want = sh(kBpfdump + " -r " + in_ + " " + mode);
    ASSERT_EQ(want.status, 0) << mode << ": " << want.err;
    const std::string want_w = mode.starts_with("-w") ? slurp(w) : "";
    for (const auto& [before, opt] : inputs) {
      SCOPED_TRACE(before + "bpfdump " + opt + " " + mode);
      const Out got = sh(before + "timeout 10 " + kBpfdump + " " + opt + " " + mode);
      ASSERT_EQ(got.status, 0) << got.err;
      if (mode.starts_with("--bench")) {
        EXPECT_NE(got.out.find("ns/packet: "), std::string::npos) << got.out;
        EXPECT_NE(got.err.find("packets: 3000,"), std::string::npos) << got.err;
      } else {
        EXPECT_EQ(got.out, want.out);
      }
      if (!want_w.empty()) {
        EXPECT_EQ(slurp(w), want_w);
      }
    }
  }
}

// ---- 5. a signal while stdin is idle ----

// Runs `(cat IN; sleep 20) | bpfdump -r - ARGS`, sends SIGINT to bpfdump once it has read IN, and
// returns how long it took to end after that, its exit status and its stdout.
struct Interrupted {
  double secs = 99;
  int status = -1;
  std::string out;
};
// Bytes a process has read so far (rchar in /proc/PID/io), 0 if unknown.
uint64_t read_bytes(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  uint64_t v = 0;
  while (f >> key >> v)
    if (key == "rchar:") return v;
  return 0;
}

Interrupted interrupt_idle(const std::string& in, const std::string& args, const std::string& outf) {
  Interrupted r;
  int fds[2];
  if (pipe(fds) != 0) return r;
  const pid_t feeder = fork();
  if (feeder == 0) {  // the writer: the file, then 20 s of silence with the pipe open
    close(fds[0]);
    dup2(fds[1], 1);
    execl("/bin/sh", "sh", "-c", ("cat " + in + "; exec sleep 20").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[1]);
    dup2(fds[0], 0);
    execl("/bin/sh", "sh", "-c", ("exec " + kBpfdump + " -r - " + args + " >" + outf).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[0]);
  close(fds[1]);
  // Idle: bpfdump has read the whole file (its rchar, /proc/PID/io, counts it; at most 5 s on a
  // loaded machine), then a little more time to process it.
  struct stat in_st{};
  stat(in.c_str(), &in_st);
  for (int i = 0; i < 500 && read_bytes(pid) < uint64_t(in_st.st_size); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  kill(pid, SIGINT);
  const auto t0 = std::chrono::steady_clock::now();
  int st = 0;
  for (;;) {  // at most 20 s: the feeder's sleep ends with EOF anyway
    if (waitpid(pid, &st, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  kill(feeder, SIGKILL);
  waitpid(feeder, nullptr, 0);
  r.out = slurp(outf);
  return r;
}

TEST_F(Reader, SigintWhileStdinIsIdleStopsAtOnce) {
  const std::string w = tmp("idle.pcap"), o = tmp("idle.out");
  const Interrupted a = interrupt_idle(in_, "-w " + w, o);
  EXPECT_LT(a.secs, 1.0);
  EXPECT_EQ(a.status, 0);
  std::string err;
  EXPECT_EQ(testing::read_with_libpcap(w, &err).size(), pkts_.size()) << "every packet, file complete";
  EXPECT_EQ(err, "");
  const Interrupted v = interrupt_idle(in_, "--verdicts", o);
  EXPECT_LT(v.secs, 1.0);
  EXPECT_EQ(v.status, 0);
  EXPECT_EQ(std::count(v.out.begin(), v.out.end(), '\n'), long(pkts_.size()));
  const Interrupted s = interrupt_idle(in_, "", o);
  EXPECT_LT(s.secs, 1.0);
  EXPECT_EQ(s.status, 0);
  EXPECT_EQ(std::count(s.out.begin(), s.out.end(), '\n'), long(pkts_.size()));
}

// ---- 6. output errors ----

TEST_F(Reader, WriteErrorsAreReported) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "SKIPPED: no /dev/full";
  for (const std::string mode : {"", "--verdicts", "-w -", "--bench 1"}) {
    SCOPED_TRACE(mode);
    const Out r = sh(kBpfdump + " -r " + in_ + " " + mode + " >/dev/full");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  }
}

TEST_F(Reader, ClosedPipeStopsPromptly) {
  if (!have_bash()) GTEST_SKIP() << "SKIPPED: bash not installed (PIPESTATUS)";
  // 400,000 packets (~37 MB); `| head -1` must not read them all: --stats counts what was read.
  const std::string big = tmp("big.pcap");
  {
    const auto one = many_packets(1000);
    std::string body;
    const std::string whole = (testing::write_with_libpcap(big, one), slurp(big));
    for (int i = 0; i < 400; ++i) body += whole.substr(24);
    spit(big, whole.substr(0, 24) + body);
  }
  for (const std::string mode : {"", "--verdicts", "-w -"}) {
    SCOPED_TRACE(mode);
    const auto t0 = std::chrono::steady_clock::now();
    const Out r = sh(kBpfdump + " -r " + big + " --stats " + mode + " | head -c 10 >/dev/null; echo ${PIPESTATUS[0]} >&2");
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(secs, 2.0);
    const size_t at = r.err.find("received: ");
    if (mode != "--verdicts" || at != std::string::npos) {
      ASSERT_NE(at, std::string::npos) << r.err;
      EXPECT_LT(std::stoull(r.err.substr(at + 10)), 200000u) << r.err;
    }
    EXPECT_EQ(r.err.find("Broken pipe"), std::string::npos) << "a closed pipe is not worth a message: " << r.err;
    EXPECT_NE(r.err.find("\n1\n"), std::string::npos) << "exit status 1: " << r.err;
  }
}

// ---- 7. -c with --verdicts ----

TEST_F(Reader, CountWithVerdictsPrintsThatManyLines) {
  for (int n : {1, 3, 256, 300}) {
    const Out r = sh(kBpfdump + " -r " + in_ + " --verdicts -c " + std::to_string(n) + " udp");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), n);
    EXPECT_EQ(r.out.substr(0, 2), "0 ");
  }
}

// ---- 13. link type bits, nanosecond fractions, unknown link types ----

std::vector<uint8_t> frame(uint32_t tag) { return testing::ipv4_packet(17, 0x0a000001, 0x0a000002, 7, 9, 12, tag); }

TEST_F(Reader, WriteMatchesTcpdumpOnFcsLinkTypesAndNanosecondFractions) {
  if (!have_tcpdump()) GTEST_SKIP() << "SKIPPED: tcpdump not installed";
  const std::vector<RawRecord> recs = {{1700000000, 0, frame(1)},          {1700000001, 999999999, frame(2)},
                                       {1700000002, 0x7fffffffu, frame(3)}, {1700000003, 0x80000000u, frame(4)},
                                       {1700000004, 0xfffffc18u, frame(5)}, {1700000005, 0xffffffffu, frame(6)}};
  const std::string in = tmp("x.pcap"), want = tmp("t.pcap"), got = tmp("b.pcap");
  size_t compared = 0;
  for (const uint32_t magic : {0xa1b2c3d4u, 0xa1b23c4du}) {
    for (const uint32_t link : {1u, 0x10000001u, 101u | 0x20000000u}) {
      for (const bool swapped : {false, true}) {
        std::vector<RawRecord> rs = recs;
        if ((link & 0x03ffffffu) == 101)  // LINKTYPE_RAW: no Ethernet header
          for (RawRecord& r : rs) r.bytes.erase(r.bytes.begin(), r.bytes.begin() + 14);
        spit(in, raw_pcap(magic, link, rs, swapped));
        for (const std::string prec : {"", " --time-stamp-precision nano"}) {
          ASSERT_EQ(sh("tcpdump" + prec + " -r " + in + " -w " + want).status, 0);
          for (const std::string& how : std::vector<std::string>{"-r " + in, "-r - < " + in}) {  // our reader, libpcap's
            SCOPED_TRACE(std::to_string(magic) + " link " + std::to_string(link) + (swapped ? " swapped" : "") + prec + " " + how);
            const Out r = sh(kBpfdump + prec + " " + how + " -w " + got);
            ASSERT_EQ(r.status, 0) << r.err;
            EXPECT_EQ(slurp(got), slurp(want)) << "differs from tcpdump -w";
            ++compared;
          }
        }
      }
    }
  }
  EXPECT_EQ(compared, 48u);
}

TEST_F(Reader, UnknownLinkTypeIsRefusedAsTcpdumpRefusesIt) {
  const std::string in = tmp("lt999.pcap"), w = tmp("lt999_out.pcap"), prog = tmp("accept.bpf");
  spit(in, raw_pcap(0xa1b2c3d4u, 999, {{1700000000, 0, frame(1)}}));
  if (have_tcpdump()) {
    const Out t = sh("tcpdump -r " + in);
    EXPECT_EQ(t.status, 1) << "tcpdump itself: " << t.err;
  }
  for (const std::string& mode : std::vector<std::string>{"", "-w " + w, "--verdicts", "udp"}) {
    SCOPED_TRACE(mode);
    const Out r = sh(kBpfdump + " -r " + in + " " + mode);
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("unknown data link type 999"), std::string::npos) << r.err;
  }
  // A program needs no link type: raw bytecode still runs on such a file.
  spit(prog, "ret #65535\n");
  const Out v = sh(kBpfdump + " -r " + in + " --verdicts --program " + prog);
  EXPECT_EQ(v.status, 0) << v.err;
  EXPECT_EQ(v.out, "0 65535\n");
  // Link types libpcap knows stay readable (LINKTYPE_IEEE802_11 105, DLT_USER0 147).
  for (const uint32_t lt : {105u, 147u}) {
    spit(in, raw_pcap(0xa1b2c3d4u, lt, {{1700000000, 0, frame(1)}}));
    EXPECT_EQ(sh(kBpfdump + " -r " + in + " -w " + w).status, 0) << lt;
  }
}

// ---- 14. -s when reading ----

TEST_F(Reader, SnaplenIsIgnoredWhenReadingAsTcpdumpIgnoresIt) {
  const std::string got = tmp("s64.pcap"), want = tmp("s64_t.pcap");
  const Out r = sh(kBpfdump + " -r " + in_ + " -s 64 -w " + got + " udp");
  ASSERT_EQ(r.status, 0) << r.err;
  std::string err;
  EXPECT_EQ(testing::read_with_libpcap(got, &err), pkts_) << "no packet cut: " << err;
  EXPECT_EQ(sh(kBpfdump + " -r " + in_ + " -s 64").out, sh(kBpfdump + " -r " + in_).out);
  EXPECT_EQ(sh(kBpfdump + " -r " + in_ + " -s 64 --verdicts udp").out, sh(kBpfdump + " -r " + in_ + " --verdicts udp").out);
  if (!have_tcpdump()) GTEST_SKIP() << "SKIPPED: tcpdump not installed (compared with libpcap only)";
  ASSERT_EQ(sh("tcpdump -r " + in_ + " -s 64 -w " + want + " udp").status, 0);
  EXPECT_EQ(slurp(got), slurp(want));
}

}  // namespace
}  // namespace bpf::capture
