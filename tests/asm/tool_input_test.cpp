// The tools' inputs through bpfdump (bpfc's are in cli_test.cpp): --program with a directory or
// a missing file (an error message and status 1, never an uncaught exception), -F FILE (the
// expression from a file, as tcpdump -F: same verdicts as on the command line, '#' comments,
// diagnostics under the file's name, usage errors as tcpdump's), and a --program past the
// kernel's 4096 instructions on the user-space engines (tools/input.hpp, tools/bpfdump.cpp).
#include <gtest/gtest.h>

#include <algorithm>

#include <cstdio>
#include <fstream>
#include <string>

#include "tests/asm/tool_run.hpp"

namespace {

using bpf::test::Outcome;
using bpf::test::write_temp;

Outcome bpfdump(const std::string& args) { return bpf::test::run_tool(BPFDUMP_BIN, args); }

const std::string kPcap = std::string(BPFC_EXAMPLES_DIR) + "/sample.pcap";

TEST(BpfdumpInput, ProgramThatIsADirectory) {
  // Used to abort on an uncaught std::ios_base::failure.
  Outcome r = bpfdump("-r " + kPcap + " --program " + ::testing::TempDir());
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(": Is a directory"), std::string::npos) << r.err;
  Outcome m = bpfdump("-r " + kPcap + " --program " + ::testing::TempDir() + "no-such.bpf");
  EXPECT_EQ(m.status, 1);
  EXPECT_NE(m.err.find("no-such.bpf: No such file or directory"), std::string::npos) << m.err;
}

TEST(BpfdumpInput, ExpressionFile) {
  const std::string file = write_temp("dump.expr", "# DNS\nudp and  # UDP only\n  port 53\n");
  Outcome f = bpfdump("-r " + kPcap + " --verdicts -F " + file);
  Outcome e = bpfdump("-r " + kPcap + " --verdicts 'udp and port 53'");
  EXPECT_EQ(f.status, 0) << f.err;
  EXPECT_EQ(e.status, 0) << e.err;
  EXPECT_EQ(f.out, e.out);
  EXPECT_NE(f.out.find(" 262144\n"), std::string::npos);  // some packet accepted
  // Errors: under the file's name; a missing file names it; -F with an expression too is a
  // usage error (tcpdump refuses it as well).
  const std::string bad = write_temp("dump_bad.expr", "tcp port 99999\n");
  Outcome b = bpfdump("-r " + kPcap + " -F " + bad);
  EXPECT_EQ(b.status, 1);
  EXPECT_EQ(b.err.rfind(bad + ":1:10: error: ", 0), 0u) << b.err;
  Outcome m = bpfdump("-r " + kPcap + " -F " + ::testing::TempDir() + "no-such.expr");
  EXPECT_EQ(m.status, 1);
  EXPECT_NE(m.err.find("no-such.expr: No such file or directory"), std::string::npos) << m.err;
  EXPECT_EQ(bpfdump("-r " + kPcap + " -F " + file + " udp").status, 2);
  EXPECT_EQ(bpfdump("-r " + kPcap + " -F " + file + " --program " + file).status, 2);
  EXPECT_EQ(bpfdump("-r " + kPcap + " -F").status, 2);
}

TEST(BpfdumpInput, ProgramPastTheKernelLimit) {
  // 6,000 jumps on the EtherType, each to `accept` through a trampoline: ~12,000 instructions.
  std::string src = "ldh [12]\n";
  for (int i = 1; i <= 6000; ++i)
    src += "jeq #" + std::to_string(i == 3000 ? 0x800 : 0x10000 + i) + ", accept\n";
  src += "ret #0\naccept: ret #65535\n";
  const std::string prog = write_temp("long.bpf", src);
  const std::string want = bpfdump("-r " + kPcap + " --verdicts ip").out;
  ASSERT_FALSE(want.empty());
  for (const char* engine : {"interp", "asmjit", "auto"}) {
    SCOPED_TRACE(engine);
    Outcome r = bpfdump("-r " + kPcap + " --verdicts --engine " + std::string(engine) +
                        " --program " + prog);
    if (r.status == 1 && r.err.find("not built") != std::string::npos) continue;
    EXPECT_EQ(r.status, 0) << r.err.substr(0, 300);
    // `ip` returns 262144 and the program 65535: compare accept/reject.
    std::string norm = r.out;
    for (size_t at = norm.find(" 65535\n"); at != std::string::npos; at = norm.find(" 65535\n"))
      norm.replace(at, 7, " 262144\n");
    EXPECT_EQ(norm, want);
  }
}

// `inbound`, `outbound` and `ifindex` on a file: refused where the file does not record the
// packet's direction or interface (they ran on a made-up PACKET_HOST / 0 before), answered from
// the header where it does (LINUX_SLL: direction; LINUX_SLL2: both).
TEST(BpfdumpInput, DirectionNeedsAFileThatRecordsIt) {
  for (const char* e : {"inbound", "outbound", "ifindex 2", "tcp or inbound"}) {
    Outcome r = bpfdump("-r " + kPcap + " '" + std::string(e) + "'");
    EXPECT_EQ(r.status, 1) << e;
    EXPECT_NE(r.err.find("does not record"), std::string::npos) << e << ": " << r.err;
    EXPECT_EQ(r.out, "") << e;
  }
  // One LINUX_SLL2 record: protocol 0x0800, ifindex 7, hatype 1, pkttype 4 (outgoing), then a
  // minimal IPv4 header.
  auto le32 = [](uint32_t v) { return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; };
  std::string ip(20, '\0');
  ip[0] = 0x45;
  ip[3] = 20;
  std::string sll2 = std::string("\x08\x00\x00\x00\x00\x00\x00\x07\x00\x01\x04\x06", 12) + std::string(8, '\0');
  const std::string rec = sll2 + ip;
  const std::string pcap = le32(0xa1b2c3d4) + std::string("\x02\x00\x04\x00", 4) + le32(0) + le32(0) +
                           le32(65535) + le32(276) + le32(1) + le32(0) + le32(uint32_t(rec.size())) +
                           le32(uint32_t(rec.size())) + rec;
  const std::string file = write_temp("sll2.pcap", pcap);
  EXPECT_EQ(bpfdump("-r " + file + " --verdicts outbound").out, "0 262144\n");
  EXPECT_EQ(bpfdump("-r " + file + " --verdicts inbound").out, "0 0\n");
  EXPECT_EQ(bpfdump("-r " + file + " --verdicts 'ifindex 7'").out, "0 262144\n");
  EXPECT_EQ(bpfdump("-r " + file + " --verdicts 'ifindex 8'").out, "0 0\n");
}

// pcapng records may state the direction (epb_flags bits 0-1): `inbound` / `outbound` use it,
// in every mode; a record that does not state it ends the run with an error naming it.
TEST(BpfdumpInput, DirectionFromPcapngFlags) {
  auto le32 = [](uint32_t v) { return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; };
  auto le16 = [](uint16_t v) { return std::string{char(v), char(v >> 8)}; };
  auto block = [&](uint32_t type, const std::string& body) {
    return le32(type) + le32(uint32_t(12 + body.size())) + body + le32(uint32_t(12 + body.size()));
  };
  const std::string frame = std::string(12, '\x02') + std::string("\x08\x00\x45\x00", 4) + std::string(44, '\0');
  auto epb = [&](int flags) {  // flags < 0: no options
    std::string b = le32(0) + le32(0) + le32(0) + le32(uint32_t(frame.size())) + le32(uint32_t(frame.size())) + frame;
    if (flags >= 0) b += le16(2) + le16(4) + le32(uint32_t(flags)) + le32(0);
    return block(6, b);
  };
  const std::string head = block(0x0A0D0D0A, le32(0x1A2B3C4D) + le16(1) + le16(0) + le32(~0u) + le32(~0u)) +
                           block(1, le16(1) + le16(0) + le32(65535));
  const std::string file = write_temp("dir.pcapng", head + epb(1) + epb(2) + epb(1));
  EXPECT_EQ(bpfdump("-r " + file + " --verdicts inbound").out, "0 262144\n1 0\n2 262144\n");
  EXPECT_EQ(bpfdump("-r " + file + " --verdicts outbound").out, "0 0\n1 262144\n2 0\n");
  Outcome w = bpfdump("-r " + file + " -w - outbound");
  EXPECT_EQ(w.status, 0) << w.err;
  EXPECT_EQ(w.out.size(), 24u + 16 + frame.size());  // one packet written
  Outcome sum = bpfdump("-r " + file + " inbound");
  EXPECT_EQ(sum.status, 0) << sum.err;
  EXPECT_EQ(std::count(sum.out.begin(), sum.out.end(), '\n'), 2) << sum.out;
  // The second record has no flags: an error there, after the first packet.
  const std::string gap = write_temp("gap.pcapng", head + epb(1) + epb(-1) + epb(2));
  for (const char* mode : {"--verdicts", "-w /dev/null", ""}) {
    Outcome r = bpfdump("-r " + gap + " " + mode + " inbound");
    EXPECT_EQ(r.status, 1) << mode;
    EXPECT_NE(r.err.find("packet 1 of the file does not record its direction"), std::string::npos)
        << mode << ": " << r.err;
  }
  // Without a direction in the filter, such files read as before.
  EXPECT_EQ(bpfdump("-r " + gap + " --verdicts ip").out, "0 262144\n1 262144\n2 262144\n");
  // ifindex is not recorded by pcapng records (an interface id is not an ifindex).
  EXPECT_EQ(bpfdump("-r " + file + " 'ifindex 1'").status, 1);
}

}  // namespace
