// The classifier in the kernel (root only; prints SKIPPED otherwise): a PACKET_FANOUT_CBPF group
// of N+1 AF_PACKET sockets on a veth in a fresh network namespace (tests/capture/netns.hpp), the
// program of compile_classifier (compiler/classify/) attached to the group with
// PACKET_FANOUT_DATA, must deliver every frame of rule i to socket i (the kernel picks member
// `value % members`, members in join order) and every frame of no rule to socket 0. Frames of
// each rule and of none (ARP, IPv4 UDP/TCP/ICMP, a truncated IPv4 header) are sent on the
// peer; each carries a tag so that stray traffic is ignored. The kernel runs fanout programs
// from the network header: the rules are compiled for DLT_RAW.
// Also `bpfdump -i veth1 --classify RULES -w PREFIX -c N` in the namespace: each PREFIX.N.pcap
// holds exactly rule N's frames.
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <poll.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "compiler/classify/classify.hpp"
#include "tests/capture/netns.hpp"
#include "tests/capture/test_packets.hpp"

namespace {

using bpf::capture::testing::VethNetns;

constexpr int kFanoutCbpf = PACKET_FANOUT_CBPF;  // linux/if_packet.h, 4.3+

std::vector<uint8_t> frame(uint16_t ethertype, const std::vector<uint8_t>& payload, bool vlan = false) {
  std::vector<uint8_t> f = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
  if (vlan) f.insert(f.end(), {0x81, 0x00, 0x00, 0x0a});
  f.push_back(uint8_t(ethertype >> 8));
  f.push_back(uint8_t(ethertype));
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

// IPv4 + UDP/TCP header with the given ports, then a 4-byte tag.
std::vector<uint8_t> ip4(uint8_t proto, uint16_t sport, uint16_t dport, uint32_t tag) {
  const size_t l4 = proto == 6 ? 20 : 8;
  std::vector<uint8_t> p(20 + l4 + 4, 0);
  p[0] = 0x45;
  p[2] = uint8_t(p.size() >> 8);
  p[3] = uint8_t(p.size());
  p[8] = 64;
  p[9] = proto;
  p[12] = 10, p[15] = 1, p[16] = 10, p[19] = 2;
  p[20] = uint8_t(sport >> 8), p[21] = uint8_t(sport);
  p[22] = uint8_t(dport >> 8), p[23] = uint8_t(dport);
  if (proto == 6) p[32] = 0x50;
  std::memcpy(&p[p.size() - 4], &tag, 4);
  return p;
}

TEST(LiveClassify, FanoutCbpfSendsRuleIToSocketI) {
  VethNetns ns;
  if (!ns.ok()) {
    std::printf("%s\n", ns.why().c_str());
    GTEST_SKIP() << ns.why();
  }
  const char* rules =
      "# rules for the fanout test\n"
      "udp dst port 1001\n"
      "udp dst port 1002 or udp dst port 1003\n"
      "tcp[tcpflags] & tcp-syn != 0\n"
      "icmp\n"
      "ip[8] = 7 and udp\n";
  const size_t n = 5;
  // The kernel runs a fanout program on the packet from its network header on (af_packet.c:
  // packet_rcv_fanout runs fanout_demux_bpf before packet_rcv pushes the link-layer header
  // back), so the rules are compiled for DLT_RAW, as `bpfc --classify -l RAW`.
  bpf::compiler::ExprOptions opts;
  opts.linktype = 12;
  auto prog = bpf::compiler::compile_classifier(std::string_view(rules), opts);
  ASSERT_TRUE(prog.ok()) << prog.diagnostics().render("rules");

  const int ifindex = int(if_nametoindex("veth1"));
  std::vector<int> socks;
  for (size_t i = 0; i <= n; ++i) {
    const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
    ASSERT_GE(fd, 0) << strerror(errno);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll), 0) << strerror(errno);
    const int arg = 0x5151 | (kFanoutCbpf << 16);
    ASSERT_EQ(setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg), 0) << strerror(errno);
    socks.push_back(fd);
  }
  sock_fprog fp{static_cast<unsigned short>(prog->insns.size()),
                reinterpret_cast<sock_filter*>(const_cast<bpf::vm::Insn*>(prog->insns.data()))};
  ASSERT_EQ(setsockopt(socks[0], SOL_PACKET, PACKET_FANOUT_DATA, &fp, sizeof fp), 0) << strerror(errno);

  // tag -> expected socket
  std::map<uint32_t, size_t> want;
  std::vector<std::vector<uint8_t>> frames;
  uint32_t tag = 0xc1a55000;
  auto add = [&](std::vector<uint8_t> f, size_t rule) {
    want[tag] = rule;
    frames.push_back(std::move(f));
  };
  for (int rep = 0; rep < 20; ++rep) {
    add(frame(0x0800, ip4(17, 5000, 1001, ++tag)), 1);
    add(frame(0x0800, ip4(17, 5000, 1002, ++tag)), 2);
    add(frame(0x0800, ip4(17, 1001, 1003, ++tag)), 2);  // rule 1 is `dst` only
    add(frame(0x0800, ip4(17, 5000, 1004, ++tag)), 0);
    auto syn = ip4(6, 5000, 80, ++tag);
    syn[33] = 0x02;
    add(frame(0x0800, syn), 3);
    add(frame(0x0800, ip4(6, 5000, 80, ++tag)), 0);  // TCP, no SYN
    std::vector<uint8_t> arp(28 + 4, 0);
    arp[1] = 1, arp[2] = 8, arp[4] = 6, arp[5] = 4, arp[7] = 1;
    std::memcpy(&arp[28], &(++tag), 4);
    add(frame(0x0806, arp), 0);  // not IP: no rule (RAW reads the version nibble, here 0)
    add(frame(0x0800, ip4(1, 0, 0, ++tag)), 4);  // ICMP
    auto ttl7 = ip4(17, 5000, 1001, ++tag);
    ttl7[8] = 7;
    add(frame(0x0800, ttl7), 1);  // rule 1 first
    ttl7 = ip4(17, 5000, 9, ++tag);
    ttl7[8] = 7;
    add(frame(0x0800, ttl7), 5);
    // a UDP packet cut inside its IPv4 header: rule 1's port load would fail, so rule 1 is
    // false (its `len` guard), not the end of the program, and rule 5 matches
    std::vector<uint8_t> cut = {0x45, 0, 0, 20, 0, 0, 0, 0, 7, 17, 0, 0, 0, 0};
    std::memcpy(&cut[10], &(++tag), 4);
    add(frame(0x0800, cut), 5);
  }
  ASSERT_TRUE(ns.send(frames));

  std::map<uint32_t, size_t> got;
  size_t stray = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (got.size() < want.size() && std::chrono::steady_clock::now() < deadline) {
    std::vector<pollfd> pfds;
    for (int fd : socks) pfds.push_back({fd, POLLIN, 0});
    poll(pfds.data(), pfds.size(), 100);
    for (size_t s = 0; s < socks.size(); ++s) {
      uint8_t buf[2048];
      ssize_t r;
      while ((r = recv(socks[s], buf, sizeof buf, 0)) > 0) {
        uint32_t t = 0;
        if (r >= 4) std::memcpy(&t, buf + r - 4, 4);
        if (!want.count(t)) {
          ++stray;
          continue;
        }
        EXPECT_FALSE(got.count(t)) << "frame delivered twice";
        got[t] = s;
      }
    }
  }
  for (int fd : socks) close(fd);
  EXPECT_EQ(got.size(), want.size()) << "frames lost";
  std::vector<size_t> per(n + 1, 0);
  for (const auto& [t, s] : got) {
    EXPECT_EQ(s, want[t]) << "tag " << std::hex << t;
    ++per[s];
  }
  std::printf("%zu frames, per socket:", got.size());
  for (size_t s = 0; s <= n; ++s) std::printf(" %zu", per[s]);
  std::printf(" (%zu stray frames ignored)\n", stray);
}

TEST(LiveClassify, BpfdumpSplitsALiveCaptureByRule) {
  VethNetns ns;
  if (!ns.ok()) {
    std::printf("%s\n", ns.why().c_str());
    GTEST_SKIP() << ns.why();
  }
  const std::string dir = ::testing::TempDir();
  const std::string rules = dir + "live_classify.rules", prefix = dir + "live_split", err = dir + "live_classify.err";
  std::ofstream(rules) << "udp dst port 1001\narp\ntcp\n";
  for (int r = 1; r <= 3; ++r) unlink((prefix + "." + std::to_string(r) + ".pcap").c_str());
  unlink(err.c_str());
  std::map<uint32_t, int> want;
  std::vector<std::vector<uint8_t>> frames;
  uint32_t tag = 0x5e1f0000;
  for (int rep = 0; rep < 10; ++rep) {
    want[++tag] = 1;
    frames.push_back(frame(0x0800, ip4(17, 5000, 1001, tag)));
    want[++tag] = 3;
    frames.push_back(frame(0x0800, ip4(6, 5000, 80, tag)));
    std::vector<uint8_t> arp(28 + 4, 0);
    arp[1] = 1, arp[2] = 8, arp[4] = 6, arp[5] = 4, arp[7] = 1;
    want[++tag] = 2;
    std::memcpy(&arp[28], &tag, 4);
    frames.push_back(frame(0x0806, arp));
    want[++tag] = 0;
    frames.push_back(frame(0x0800, ip4(1, 0, 0, tag)));
  }
  const std::string cmd = "ip netns exec " + ns.name() + " " + BPFDUMP_PATH + " -i veth1 -p --classify " + rules +
                          " -c 30 -w " + prefix + " --stats 2>" + err;
  FILE* p = popen(("timeout 20 " + cmd + "; echo exit status $? >>" + err).c_str(), "r");
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 500; ++i) {  // bound once it says so
    std::ifstream f(err);
    const std::string text((std::istreambuf_iterator<char>(f)), {});
    if (text.find("listening on") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(ns.send(frames));
  pclose(p);
  std::ifstream ef(err);
  const std::string log((std::istreambuf_iterator<char>(ef)), {});
  EXPECT_NE(log.find("exit status 0"), std::string::npos) << log;
  EXPECT_NE(log.find("rule 2: 10\n"), std::string::npos) << log;
  size_t total = 0;
  for (int r = 1; r <= 3; ++r) {
    const std::string path = prefix + "." + std::to_string(r) + ".pcap";
    std::string e;
    const auto got = bpf::capture::testing::read_with_libpcap(path, &e);
    EXPECT_EQ(e, "") << path;
    size_t mine = 0;
    for (const auto& pk : got) {
      uint32_t t = 0;
      if (pk.bytes.size() >= 4) std::memcpy(&t, pk.bytes.data() + pk.bytes.size() - 4, 4);
      if (!want.count(t)) continue;  // stray traffic
      EXPECT_EQ(want[t], r) << path << " tag " << std::hex << t;
      ++mine;
    }
    EXPECT_EQ(mine, 10u) << path;
    total += mine;
    unlink(path.c_str());
  }
  std::printf("bpfdump -i --classify: %zu frames split into 3 files\n", total);
  unlink(rules.c_str());
  unlink(err.c_str());
}

}  // namespace
