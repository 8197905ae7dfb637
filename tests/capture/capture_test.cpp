// The Capture pipeline on files (source -> filter -> hold/store ring -> consumer), with every
// engine that is built, against libpcap as the reference: the packets delivered are exactly those
// for which libpcap's pcap_offline_filter (its bpf_filter) accepts, in order, byte for byte, and
// the counters reconcile (received = accepted + rejected, accepted = delivered + dropped, no drop
// when reading a file). Also: stop() part way, truncated input, ancillary loads from a file, the
// kernel filter refused for files.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include "capture/capture.hpp"
#include "jit/engine.hpp"
#include "vm/ancillary.hpp"
#include "test_packets.hpp"
#include "verifier/verifier.hpp"

namespace bpf::capture {
namespace {

using testing::TestPacket;

vm::Program from_libpcap(const std::string& expr, int linktype = 1) {
  pcap_t* p = pcap_open_dead(linktype, 262144);
  bpf_program bp{};
  EXPECT_EQ(pcap_compile(p, &bp, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN), 0) << pcap_geterr(p);
  vm::Program prog;
  for (u_int i = 0; i < bp.bf_len; ++i)
    prog.insns.push_back({bp.bf_insns[i].code, bp.bf_insns[i].jt, bp.bf_insns[i].jf, bp.bf_insns[i].k});
  pcap_freecode(&bp);
  pcap_close(p);
  return prog;
}

std::vector<bool> libpcap_verdicts(const std::string& expr, const std::vector<TestPacket>& pkts) {
  pcap_t* p = pcap_open_dead(1, 262144);
  bpf_program bp{};
  EXPECT_EQ(pcap_compile(p, &bp, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN), 0);
  std::vector<bool> out;
  for (const TestPacket& t : pkts) {
    pcap_pkthdr h{};
    h.caplen = uint32_t(t.bytes.size());
    h.len = t.wirelen;
    out.push_back(pcap_offline_filter(&bp, &h, t.bytes.data()) != 0);
  }
  pcap_freecode(&bp);
  pcap_close(p);
  return out;
}

vm::VerifiedProgram verified(const vm::Program& prog, vm::Target target = vm::Target::kLinux) {
  verifier::Options o;
  o.target = target;
  auto v = verifier::verify(prog, o);
  EXPECT_TRUE(v.ok()) << v.diagnostics().render("prog");
  return v.take();
}

std::vector<jit::Engine> engines() {
  std::vector<jit::Engine> out;
  for (jit::Engine e : {jit::Engine::kInterp, jit::Engine::kAsmjit, jit::Engine::kLlvm})
    if (jit::available(e)) out.push_back(e);
  return out;
}

struct Drained {
  std::vector<TestPacket> got;
  CaptureStats stats;
  std::string error;
};

Drained drain(Capture& cap, size_t stop_after = SIZE_MAX) {
  Drained r;
  Batch b;
  for (;;) {
    const Ring::Wait w = cap.next(b, 200);
    if (w == Ring::Wait::kEnd) break;
    if (w == Ring::Wait::kTimeout) continue;
    for (const Packet& p : b)
      r.got.push_back(TestPacket{p.ts.sec * 1'000'000'000ull + p.ts.frac * 1000ull, p.wirelen, {p.data, p.data + p.caplen}});
    cap.release(b);
    if (r.got.size() >= stop_after) cap.stop();
  }
  r.stats = cap.stats();
  r.error = cap.error();
  return r;
}

class CaptureFile : public ::testing::Test {
 protected:
  void SetUp() override {
    pkts_ = testing::traffic_mix(20000, 77);
    path_ = testing::temp_path("cap.pcap");
    ASSERT_TRUE(testing::write_with_libpcap(path_, pkts_));
  }
  void TearDown() override { unlink(path_.c_str()); }
  std::vector<TestPacket> pkts_;
  std::string path_;
};

TEST_F(CaptureFile, EveryEngineDeliversExactlyWhatLibpcapAccepts) {
  const std::vector<std::string> exprs = {"udp or (tcp and port 80)", "vlan and tcp", "ip6", "arp",
                                          "tcp[tcpflags] & tcp-push != 0", "icmp or less 100"};
  for (const std::string& expr : exprs) {
    const auto want = libpcap_verdicts(expr, pkts_);
    std::vector<TestPacket> expected;
    for (size_t i = 0; i < pkts_.size(); ++i)
      if (want[i]) expected.push_back(pkts_[i]);
    for (vm::Target target : {vm::Target::kLinux, vm::Target::kBsd}) {
      const vm::VerifiedProgram prog = verified(from_libpcap(expr), target);
      for (jit::Engine e : engines()) {
        CaptureOptions o;
        o.buffer_bytes = 256 << 10;  // several rotations
        auto cap = Capture::open_file(path_, o);
        ASSERT_TRUE(cap.ok());
        ASSERT_FALSE((*cap)->set_filter(prog, e).has_errors());
        ASSERT_FALSE((*cap)->start().has_errors());
        const Drained r = drain(**cap);
        SCOPED_TRACE(expr + " engine " + std::string(jit::engine_name(e)));
        EXPECT_EQ(r.error, "");
        ASSERT_EQ(r.got.size(), expected.size());
        for (size_t i = 0; i < expected.size(); ++i) ASSERT_EQ(r.got[i], expected[i]) << i;
        EXPECT_EQ(r.stats.received, pkts_.size());
        EXPECT_EQ(r.stats.received, r.stats.accepted + r.stats.rejected);
        EXPECT_EQ(r.stats.accepted, r.stats.delivered + r.stats.dropped);
        EXPECT_EQ(r.stats.dropped, 0u);
        EXPECT_EQ(r.stats.delivered, expected.size());
      }
    }
  }
}

TEST_F(CaptureFile, NoFilterDeliversEverythingAndSnaplenClips) {
  CaptureOptions o;
  o.snaplen = 64;
  auto cap = Capture::open_file(path_, o);
  ASSERT_TRUE(cap.ok());
  ASSERT_FALSE((*cap)->start().has_errors());
  const Drained r = drain(**cap);
  ASSERT_EQ(r.got.size(), pkts_.size());
  for (size_t i = 0; i < pkts_.size(); ++i) {
    const size_t keep = std::min<size_t>(64, pkts_[i].bytes.size());
    ASSERT_EQ(r.got[i].bytes, std::vector<uint8_t>(pkts_[i].bytes.begin(), pkts_[i].bytes.begin() + long(keep)));
    ASSERT_EQ(r.got[i].wirelen, pkts_[i].wirelen);
  }
}

TEST_F(CaptureFile, VerdictIsTheNumberOfBytesToKeep) {
  vm::Program prog;
  prog.insns = {{0x06, 0, 0, 20}};  // ret #20
  auto cap = Capture::open_file(path_);
  ASSERT_TRUE(cap.ok());
  ASSERT_FALSE((*cap)->set_filter(verified(prog)).has_errors());
  ASSERT_FALSE((*cap)->start().has_errors());
  const Drained r = drain(**cap);
  ASSERT_EQ(r.got.size(), pkts_.size());
  for (const auto& t : r.got) EXPECT_EQ(t.bytes.size(), 20u);
}

TEST_F(CaptureFile, AncillaryProtocolLoadFromFile) {
  vm::Program prog;  // ld #proto; jeq #0x800, accept, drop (ancillary: SKF_AD_OFF + 0)
  prog.insns = {{0x28, 0, 0, vm::kSkfAdOff}, {0x15, 0, 1, 0x0800}, {0x06, 0, 0, 0xffff}, {0x06, 0, 0, 0}};
  size_t expected = 0;
  for (const auto& t : pkts_) expected += t.bytes[12] == 0x08 && t.bytes[13] == 0x00;
  auto cap = Capture::open_file(path_);
  ASSERT_TRUE(cap.ok());
  ASSERT_FALSE((*cap)->set_filter(verified(prog)).has_errors());
  ASSERT_FALSE((*cap)->start().has_errors());
  const Drained r = drain(**cap);
  EXPECT_EQ(r.got.size(), expected);
  for (const auto& t : r.got) EXPECT_TRUE(t.bytes[12] == 0x08 && t.bytes[13] == 0x00);
}

TEST_F(CaptureFile, StopPartWayEndsCleanlyAndReconciles) {
  CaptureOptions o;
  o.buffer_bytes = 64 << 10;
  auto cap = Capture::open_file(path_, o);
  ASSERT_TRUE(cap.ok());
  ASSERT_FALSE((*cap)->start().has_errors());
  const Drained r = drain(**cap, 100);
  EXPECT_LT(r.got.size(), pkts_.size());
  EXPECT_GE(r.got.size(), 100u);
  EXPECT_EQ(r.stats.delivered, r.got.size());
  EXPECT_EQ(r.stats.received, r.stats.accepted + r.stats.rejected);
  EXPECT_EQ(r.stats.accepted, r.stats.delivered + r.stats.dropped);
  for (size_t i = 0; i < r.got.size(); ++i) ASSERT_EQ(r.got[i], pkts_[i]);
}

TEST_F(CaptureFile, TruncatedFileKeepsWhatWasReadAndSaysWhy) {
  const std::string cut = testing::temp_path("cut.pcap");
  {
    std::vector<TestPacket> head(pkts_.begin(), pkts_.begin() + 1000);
    ASSERT_TRUE(testing::write_with_libpcap(cut, head));
    ASSERT_EQ(truncate(cut.c_str(), 24 + 16 * 1000 + [&] {
                size_t n = 0;
                for (const auto& t : head) n += t.bytes.size();
                return n;
              }() - 10), 0);
  }
  auto cap = Capture::open_file(cut);
  ASSERT_TRUE(cap.ok());
  ASSERT_FALSE((*cap)->start().has_errors());
  const Drained r = drain(**cap);
  EXPECT_EQ(r.got.size(), 999u);
  EXPECT_EQ(r.stats.received, 999u);
  EXPECT_NE(r.error.find("truncated"), std::string::npos) << r.error;
  unlink(cut.c_str());
}

TEST_F(CaptureFile, KernelFilterNeedsALiveSource) {
  auto cap = Capture::open_file(path_);
  ASSERT_TRUE(cap.ok());
  vm::Program prog;
  prog.insns = {{0x06, 0, 0, 0xffff}};
  const Diagnostics d = (*cap)->set_kernel_filter(verified(prog));
  ASSERT_TRUE(d.has_errors());
  EXPECT_NE(d.render("t").find("live"), std::string::npos);
}

}  // namespace
}  // namespace bpf::capture
