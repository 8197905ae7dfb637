// The TPACKET_V3 live source alone, on a veth pair in a network namespace (root only): a known
// sequence of frames sent on veth0 is read on veth1, without a filter and with a kernel filter
// attached (and locked) before bind. Every frame arrives exactly once, in order, byte for byte;
// with the kernel filter no non-matching frame reaches user space. The whole pipeline with every
// engine is tested in live_test.cpp.
#include <gtest/gtest.h>
#include <linux/filter.h>

#include <set>

#include "capture/source.hpp"
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

}  // namespace
}  // namespace bpf::capture

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new bpf::capture::testing::NetnsEnvironment);
  return RUN_ALL_TESTS();
}
