// Live capture on a veth pair in a network namespace (root only; SKIPPED with the reason
// otherwise). A known sequence of frames is sent on veth0 with a raw AF_PACKET socket and read on
// veth1:
//  - the TPACKET_V3 source alone: without a filter (every frame once, in order, byte for byte),
//    with a kernel filter attached and locked before bind, with a program the kernel refuses
//    (also one longer than BPF_MAXINSNS),
//    and with two sockets in a PACKET_FANOUT group (traffic split, nothing duplicated);
//  - the whole Capture pipeline with every built engine and with the kernel filter: every
//    matching frame delivered exactly once, no other one, counters reconciling exactly;
//  - loopback (`lo` of the namespace): N UDP datagrams sent through a UDP socket are captured
//    exactly N times with every engine, the kernel filter and fanout (the kernel shows each
//    packet twice on lo, outgoing and incoming; libpcap and we drop the outgoing copy).
#include <gtest/gtest.h>
#include <linux/filter.h>

#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>

#include "capture/capture.hpp"
#include "capture/source.hpp"
#include "jit/engine.hpp"
#include "verifier/verifier.hpp"
#include "netns.hpp"
#include "test_packets.hpp"

namespace bpf::capture {
namespace {

using namespace testing;

// tcpdump -dd 'udp dst port 7777' restricted to IPv4 (hand-checked against tcpdump's output).
std::vector<vm::Insn> udp_dst_7777() {
  return {
      {0x28, 0, 0, 12},   {0x15, 0, 8, 0x800}, {0x30, 0, 0, 23},   {0x15, 0, 6, 17},
      {0x28, 0, 0, 20},   {0x45, 4, 0, 0x1fff}, {0xb1, 0, 0, 14},  {0x48, 0, 0, 16},
      {0x15, 0, 1, 7777}, {0x6, 0, 0, 262144}, {0x6, 0, 0, 0},
  };
}

struct Sent {
  std::vector<std::vector<uint8_t>> frames;
  std::vector<uint32_t> matching_tags;  // tags of frames 'udp dst port 7777' accepts, in order
};

Sent make_sequence(size_t n) {
  Sent s;
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t tag = 0x5a000000u | i;
    switch (i % 5) {
      case 0: case 1:
        s.frames.push_back(ipv4_packet(17, 0x0a000001 + i % 7, 0x0a000002, uint16_t(1000 + i), 7777, 40 + i % 300, tag));
        s.matching_tags.push_back(tag);
        break;
      case 2: s.frames.push_back(ipv4_packet(17, 0x0a000001, 0x0a000002, 7777, 53, 40, tag)); break;
      case 3: s.frames.push_back(ipv4_packet(6, 0x0a000001, 0x0a000002, 1000, 7777, 40, tag)); break;
      default: s.frames.push_back(arp_request(0x0a000001, 0x0a000000 + i)); break;
    }
  }
  return s;
}

// The tag written by ipv4_packet at the start of the payload (after 14 + 20 + 8 bytes).
uint32_t tag_of(const Frame& f) {
  if (f.caplen < 46) return 0;
  const uint8_t* p = f.data + 42;
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

std::vector<Frame> collect(Source& src, std::vector<std::vector<uint8_t>>& copies, size_t want) {
  std::vector<Frame> got, frames;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    if (src.read(frames, 20) != Source::Status::kOk) break;
    for (const Frame& f : frames) {
      copies.emplace_back(f.data, f.data + f.caplen);
      Frame c = f;
      c.data = copies.back().data();
      got.push_back(c);
    }
  }
  // Anything extra that is still in flight.
  for (int i = 0; i < 5; ++i) {
    if (src.read(frames, 20) != Source::Status::kOk) break;
    for (const Frame& f : frames) {
      copies.emplace_back(f.data, f.data + f.caplen);
      Frame c = f;
      c.data = copies.back().data();
      got.push_back(c);
    }
  }
  return got;
}

TEST(LiveSource, EveryFrameOnceInOrderWithoutFilter) {
  VethNetns& ns = NetnsEnvironment::get();
  if (!ns.ok()) GTEST_SKIP() << ns.why();
  auto src = open_live("veth1", LiveOptions{});
  ASSERT_TRUE(src.ok()) << src.diagnostics().render("t");
  const Sent s = make_sequence(500);
  ASSERT_TRUE(ns.send(s.frames));
  std::vector<std::vector<uint8_t>> copies;
  copies.reserve(4096);
  const auto got = collect(**src, copies, s.frames.size());
  ASSERT_EQ(got.size(), s.frames.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(std::vector<uint8_t>(got[i].data, got[i].data + got[i].caplen), s.frames[i]) << i;
    EXPECT_EQ(got[i].wirelen, s.frames[i].size());
    EXPECT_TRUE(got[i].live);
  }
  const SourceCounters c = (*src)->counters();
  EXPECT_EQ(c.kernel_drops, 0u);
  EXPECT_EQ(c.kernel_packets, s.frames.size());
}

TEST(LiveSource, KernelFilterAttachedAndLockedBeforeBind) {
  VethNetns& ns = NetnsEnvironment::get();
  if (!ns.ok()) GTEST_SKIP() << ns.why();
  LiveOptions o;
  o.kernel_filter = udp_dst_7777();
  o.lock_filter = true;
  o.snaplen = 100;
  auto src = open_live("veth1", o);
  ASSERT_TRUE(src.ok()) << src.diagnostics().render("t");
  const Sent s = make_sequence(1000);
  ASSERT_TRUE(ns.send(s.frames));
  std::vector<std::vector<uint8_t>> copies;
  copies.reserve(4096);
  const auto got = collect(**src, copies, s.matching_tags.size());
  std::vector<uint32_t> tags;
  for (const Frame& f : got) {
    tags.push_back(tag_of(f));
    EXPECT_LE(f.caplen, 100u) << "snap length";
  }
  EXPECT_EQ(tags, s.matching_tags);
  EXPECT_EQ((*src)->counters().kernel_packets, s.matching_tags.size());
}

TEST(LiveSource, KernelRefusesAnInvalidProgram) {
  VethNetns& ns = NetnsEnvironment::get();
  if (!ns.ok()) GTEST_SKIP() << ns.why();
  LiveOptions o;
  o.kernel_filter = {{0x15, 5, 5, 0}};  // jumps out of the program, no return
  auto src = open_live("veth1", o);
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.diagnostics().render("t").find("SO_ATTACH_FILTER"), std::string::npos);
}

// A program verified for user space may be longer than the kernel takes (and than
// sock_fprog.len's 16 bits): refused with the kernel's limit, not truncated.
TEST(LiveSource, KernelFilterPastTheKernelLimit) {
  VethNetns& ns = NetnsEnvironment::get();
  if (!ns.ok()) GTEST_SKIP() << ns.why();
  LiveOptions o;
  o.kernel_filter.assign(65537, vm::Insn{0x06, 0, 0, 0});  // ret #0, 65537 times
  auto src = open_live("veth1", o);
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.diagnostics().render("t").find("65537 instructions; Linux accepts at most 4096"),
            std::string::npos)
      << src.diagnostics().render("t");
}

TEST(LiveSource, FanoutSplitsTrafficWithoutDuplicates) {
  VethNetns& ns = NetnsEnvironment::get();
  if (!ns.ok()) GTEST_SKIP() << ns.why();
  LiveOptions o;
  o.fanout_group = 0x4242;
  auto a = open_live("veth1", o);
  auto b = open_live("veth1", o);
  ASSERT_TRUE(a.ok() && b.ok());
  const Sent s = make_sequence(500);
  ASSERT_TRUE(ns.send(s.frames));
  std::vector<std::vector<uint8_t>> copies;
  copies.reserve(4096);
  std::vector<Frame> got = collect(**a, copies, 1);
  const auto more = collect(**b, copies, 1);
  EXPECT_GT(got.size(), 0u) << "the hash must spread these flows over both sockets";
  EXPECT_GT(more.size(), 0u);
  got.insert(got.end(), more.begin(), more.end());
  EXPECT_EQ(got.size(), s.frames.size());
  std::multiset<std::vector<uint8_t>> sent(s.frames.begin(), s.frames.end()), seen;
  for (const Frame& f : got) seen.emplace(f.data, f.data + f.caplen);
  EXPECT_EQ(seen, sent);
}

struct PipelineCase {
  std::string name;
  std::optional<jit::Engine> engine;  // nullopt: the kernel
  unsigned fanout = 1;
  bool ebpf = false;  // the kernel runs the eBPF translation (SO_ATTACH_BPF)
  bool long_program = false;  // past the classic attach limit of 4,096 instructions
};

void run_pipeline(const PipelineCase& pc) {
  VethNetns& ns = NetnsEnvironment::get();
  if (!ns.ok()) GTEST_SKIP() << ns.why();
  vm::Program prog;
  prog.insns = udp_dst_7777();
  if (pc.long_program)  // 6,000 loads of the EtherType in front: the same verdicts, 6,000 longer
    prog.insns.insert(prog.insns.begin(), 6000, vm::Insn{0x28, 0, 0, 12});
  if (pc.long_program) {  // a socket filter is charged to net.core.optmem_max (this namespace's)
    ASSERT_EQ(std::system(("ip netns exec " + ns.name() + " sysctl -qw net.core.optmem_max=4194304").c_str()), 0);
  }
  verifier::Options vo;
  vo.destination = verifier::Destination::kUserSpace;
  auto v = verifier::verify(prog, vo);
  ASSERT_TRUE(v.ok()) << v.diagnostics().render("udp_dst_7777");
  CaptureOptions o;
  o.fanout = pc.fanout;
  o.timeout_ns = 5'000'000;
  o.buffer_bytes = 2 << 20;  // holds the whole burst: losses are the ring test's subject
  auto cap = Capture::open_live("veth1", o);
  ASSERT_TRUE(cap.ok()) << cap.diagnostics().render("t");
  const Diagnostics d = pc.ebpf     ? (*cap)->set_ebpf_filter(*v)
                        : pc.engine ? (*cap)->set_filter(*v, *pc.engine)
                                    : (*cap)->set_kernel_filter(*v);
  ASSERT_FALSE(d.has_errors()) << d.render("t");
  const Diagnostics started = (*cap)->start();
  ASSERT_FALSE(started.has_errors()) << started.render("start");
  const Sent s = make_sequence(3000);
  ASSERT_TRUE(ns.send(s.frames));
  std::vector<uint32_t> tags;
  Batch b;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool stopping = false;
  for (;;) {
    const Ring::Wait w = (*cap)->next(b, 20);
    if (w == Ring::Wait::kEnd) break;
    if (w == Ring::Wait::kBatch) {
      for (const Packet& p : b) {
        Frame f;
        f.data = p.data;
        f.caplen = p.caplen;
        tags.push_back(tag_of(f));
      }
      (*cap)->release(b);
    }
    // Everything expected is in, or time is up: let in-flight frames land, then stop.
    if (!stopping && (tags.size() >= s.matching_tags.size() || std::chrono::steady_clock::now() > deadline)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      (*cap)->stop();
      stopping = true;
    }
  }
  const CaptureStats st = (*cap)->stats();
  if (pc.fanout > 1) std::sort(tags.begin(), tags.end());  // each socket keeps its own order
  EXPECT_EQ(tags, s.matching_tags) << "every matching frame exactly once, no other";
  EXPECT_EQ(st.received, st.accepted + st.rejected);
  EXPECT_EQ(st.accepted, st.delivered + st.dropped);
  EXPECT_EQ(st.delivered, s.matching_tags.size());
  EXPECT_EQ(st.dropped, 0u);
  EXPECT_EQ(st.kernel_drops, 0u);
  if (pc.engine) {
    EXPECT_EQ(st.received, s.frames.size()) << "user-space filter: every frame reaches the capture thread";
    EXPECT_EQ(st.rejected, s.frames.size() - s.matching_tags.size());
  } else {
    EXPECT_EQ(st.received, s.matching_tags.size()) << "kernel filter: rejected frames never reach user space";
    EXPECT_EQ(st.rejected, 0u);
  }
}

void PrintTo(const PipelineCase& pc, std::ostream* os) { *os << pc.name; }

class LivePipeline : public ::testing::TestWithParam<PipelineCase> {};

TEST_P(LivePipeline, EveryMatchingFrameOnceNoOtherCountersReconcile) {
  const PipelineCase& pc = GetParam();
  if (pc.engine && !jit::available(*pc.engine)) GTEST_SKIP() << "SKIPPED: engine not built";
  run_pipeline(pc);
}

INSTANTIATE_TEST_SUITE_P(
    Engines, LivePipeline,
    ::testing::Values(PipelineCase{"interp", jit::Engine::kInterp}, PipelineCase{"asmjit", jit::Engine::kAsmjit},
                      PipelineCase{"llvm", jit::Engine::kLlvm}, PipelineCase{"auto", jit::Engine::kAuto},
                      PipelineCase{"kernel", std::nullopt}, PipelineCase{"interp_fanout3", jit::Engine::kInterp, 3},
                      PipelineCase{"kernel_fanout2", std::nullopt, 2},
                      PipelineCase{"ebpf", std::nullopt, 1, true},
                      PipelineCase{"ebpf_fanout2", std::nullopt, 2, true},
                      PipelineCase{"ebpf_6000_insns", std::nullopt, 1, true, true}),
    [](const auto& info) { return info.param.name; });

// VLAN-tagged frames: the kernel strips the tag into the ring's metadata; the pipeline puts it
// back (as libpcap does), so the delivered bytes are the frames as sent.
TEST(LivePipeline, VlanTagsAreRestored) {
  VethNetns& ns = NetnsEnvironment::get();
  if (!ns.ok()) GTEST_SKIP() << ns.why();
  CaptureOptions o;
  o.timeout_ns = 5'000'000;
  auto cap = Capture::open_live("veth1", o);
  ASSERT_TRUE(cap.ok());
  ASSERT_FALSE((*cap)->start().has_errors());
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < 200; ++i)
    frames.push_back(ipv4_packet(17, 0x0a000001, 0x0a000002, 1000, 7777, 50 + i, 0x5b000000u | i, i % 2 ? int(100 + i) : -1));
  ASSERT_TRUE(ns.send(frames));
  std::vector<std::vector<uint8_t>> got;
  Batch b;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.size() < frames.size() && std::chrono::steady_clock::now() < deadline) {
    if ((*cap)->next(b, 20) != Ring::Wait::kBatch) continue;
    for (const Packet& p : b) got.emplace_back(p.data, p.data + p.caplen);
    (*cap)->release(b);
  }
  (*cap)->stop();
  EXPECT_EQ(got, frames);
}

// N UDP datagrams to 127.0.0.1:7777 (nobody listens: the ICMP port-unreachable replies do not
// match the filter), each carrying its tag first in the payload.
void send_udp_loopback(const std::vector<uint32_t>& tags) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(7777);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (uint32_t tag : tags) {
    const uint8_t payload[8] = {uint8_t(tag >> 24), uint8_t(tag >> 16), uint8_t(tag >> 8), uint8_t(tag)};
    ASSERT_EQ(sendto(fd, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              ssize_t(sizeof payload));
  }
  close(fd);
}

class LiveLoopback : public ::testing::TestWithParam<PipelineCase> {};

// Issue 18.8: 50 datagrams on lo were written 100 times (tcpdump writes 50).
TEST_P(LiveLoopback, EachDatagramOnce) {
  const PipelineCase& pc = GetParam();
  VethNetns& ns = NetnsEnvironment::get();
  if (!ns.ok()) GTEST_SKIP() << ns.why();
  if (pc.engine && !jit::available(*pc.engine)) GTEST_SKIP() << "SKIPPED: engine not built";
  vm::Program prog;
  prog.insns = udp_dst_7777();
  auto v = verifier::verify(prog, {});
  ASSERT_TRUE(v.ok());
  CaptureOptions o;
  o.fanout = pc.fanout;
  o.timeout_ns = 5'000'000;
  auto cap = Capture::open_live("lo", o);
  ASSERT_TRUE(cap.ok()) << cap.diagnostics().render("t");
  const Diagnostics d = pc.engine ? (*cap)->set_filter(*v, *pc.engine) : (*cap)->set_kernel_filter(*v);
  ASSERT_FALSE(d.has_errors()) << d.render("t");
  ASSERT_FALSE((*cap)->start().has_errors());
  std::vector<uint32_t> sent;
  for (uint32_t i = 0; i < 50; ++i) sent.push_back(0x5c000000u | i);
  send_udp_loopback(sent);
  std::vector<uint32_t> tags;
  Batch b;
  // Collect until a quiet 300 ms after the last packet (a second copy would come right after
  // the first), at most 5 s.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto quiet_since = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    const Ring::Wait w = (*cap)->next(b, 20);
    if (w == Ring::Wait::kEnd) break;
    if (w == Ring::Wait::kBatch) {
      for (const Packet& p : b) {
        Frame f;
        f.data = p.data;
        f.caplen = p.caplen;
        tags.push_back(tag_of(f));
      }
      (*cap)->release(b);
      quiet_since = std::chrono::steady_clock::now();
    } else if (tags.size() >= sent.size() &&
               std::chrono::steady_clock::now() - quiet_since > std::chrono::milliseconds(300)) {
      break;
    }
  }
  (*cap)->stop();
  while ((*cap)->next(b, 20) == Ring::Wait::kBatch) (*cap)->release(b);
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, sent) << "each datagram exactly once";
  EXPECT_EQ((*cap)->stats().delivered, sent.size());
}

INSTANTIATE_TEST_SUITE_P(
    Engines, LiveLoopback,
    ::testing::Values(PipelineCase{"interp", jit::Engine::kInterp}, PipelineCase{"asmjit", jit::Engine::kAsmjit},
                      PipelineCase{"llvm", jit::Engine::kLlvm}, PipelineCase{"auto", jit::Engine::kAuto},
                      PipelineCase{"kernel", std::nullopt}, PipelineCase{"interp_fanout3", jit::Engine::kInterp, 3},
                      PipelineCase{"kernel_fanout2", std::nullopt, 2}),
    [](const auto& info) { return info.param.name; });

#ifdef BPFDUMP_PATH
// bpfdump -i in the namespace: -c N with an expression-free program, every engine and the kernel,
// with --fanout 2; the output file must hold exactly the matching frames.
TEST(LiveBpfdump, CapturesTheMatchingFramesToAFile) {
  VethNetns& ns = NetnsEnvironment::get();
  if (!ns.ok()) GTEST_SKIP() << ns.why();
  const std::string prog = temp_path("live.ddd"), out = temp_path("live.pcap"), err = temp_path("live.err");
  {
    std::ofstream f(prog);
    f << udp_dst_7777().size() << "\n";
    for (const vm::Insn& i : udp_dst_7777()) f << i.code << ' ' << int(i.jt) << ' ' << int(i.jf) << ' ' << i.k << "\n";
  }
  std::vector<std::string> engines = {"kernel", "ebpf"};
  for (jit::Engine e : {jit::Engine::kInterp, jit::Engine::kAsmjit, jit::Engine::kLlvm})
    if (jit::available(e)) engines.emplace_back(jit::engine_name(e));
  for (const std::string& engine : engines) {
    for (const char* fanout : {"1", "2"}) {
      SCOPED_TRACE(engine + " fanout " + fanout);
      const Sent s = make_sequence(600);
      unlink(err.c_str());  // the "listening on" check below must see this run's output
      unlink(out.c_str());
      const std::string cmd = "ip netns exec " + ns.name() + " " + BPFDUMP_PATH + " -i veth1 -p --program " + prog +
                              " -x ddd --engine " + engine + " --fanout " + fanout + " -c " +
                              std::to_string(s.matching_tags.size()) + " -w " + out + " --stats 2>" + err;
      // Start bpfdump, give it time to bind, send, and wait for it to stop at -c N.
      FILE* p = popen(("timeout 20 " + cmd + "; echo exit status $? >>" + err).c_str(), "r");
      ASSERT_NE(p, nullptr);
      // bpfdump says "listening on" once its sockets are bound.
      for (int i = 0; i < 500; ++i) {
        std::ifstream f(err);
        const std::string text((std::istreambuf_iterator<char>(f)), {});
        if (text.find("listening on") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      ASSERT_TRUE(ns.send(s.frames));
      const int rc = pclose(p);
      const std::string log((std::istreambuf_iterator<char>(*std::make_unique<std::ifstream>(err))), {});
      EXPECT_NE(log.find("exit status 0"), std::string::npos) << log;
      (void)rc;
      std::string e;
      const auto got = read_with_libpcap(out, &e);
      EXPECT_EQ(e, "");
      {  // microsecond pcap by default, as tcpdump writes live captures
        std::ifstream f(out, std::ios::binary);
        uint32_t magic = 0;
        f.read(reinterpret_cast<char*>(&magic), 4);
        EXPECT_EQ(magic, 0xa1b2c3d4u);
      }
      std::vector<uint32_t> tags;
      for (const auto& t : got) {
        Frame f;
        f.data = t.bytes.data();
        f.caplen = uint32_t(t.bytes.size());
        tags.push_back(tag_of(f));
      }
      std::sort(tags.begin(), tags.end());
      EXPECT_EQ(tags, s.matching_tags);
    }
  }
  unlink(prog.c_str());
  unlink(out.c_str());
  unlink(err.c_str());
}
#endif

TEST(LivePipeline, NonexistentInterface) {
  auto cap = Capture::open_live("nosuchif0");
  ASSERT_FALSE(cap.ok());
  EXPECT_NE(cap.diagnostics().render("t").find("no such network interface"), std::string::npos);
}

}  // namespace
}  // namespace bpf::capture

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new bpf::capture::testing::NetnsEnvironment);
  return RUN_ALL_TESTS();
}
