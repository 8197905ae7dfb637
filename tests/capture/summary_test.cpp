// tcpdump-style summaries (capture/summary.hpp): the TCP, ICMP and ARP lines are exactly what
// `tcpdump -nn -S -r` (4.99) prints for the same packets; tcpdump also decodes application
// protocols on well-known ports (DNS, HTTP) and hides VLAN tags without -e, which we do not. Every
// truncation of every packet must print something without reading past caplen (run under
// ASan in `make asan`).
#include <gtest/gtest.h>

#include "capture/summary.hpp"
#include "test_packets.hpp"

namespace bpf::capture {
namespace {

using namespace testing;

std::string line(const std::vector<uint8_t>& p, int linktype = 1) {
  std::string out;
  format_summary(out, linktype, Timestamp{}, false, p.data(), uint32_t(p.size()), uint32_t(p.size()));
  return out.substr(16);  // skip the local-time column
}

TEST(Summary, TcpUdpIcmpArpIpv6Vlan) {
  EXPECT_EQ(line(ipv4_packet(6, 0x0a000001, 0x0a000002, 41000, 80, 10, 5, -1, 0x18)),
            "IP 10.0.0.1.41000 > 10.0.0.2.80: Flags [P.], seq 1005:1015, ack 2000, win 512, length 10");
  EXPECT_EQ(line(ipv4_packet(6, 0x0a000001, 0x0a000002, 41000, 80, 0, 5, -1, 0x02)),
            "IP 10.0.0.1.41000 > 10.0.0.2.80: Flags [S], seq 1005, win 512, length 0");
  EXPECT_EQ(line(ipv4_packet(17, 0x0a000001, 0x0a000002, 53, 1234, 20, 5)),
            "IP 10.0.0.1.53 > 10.0.0.2.1234: UDP, length 20");
  EXPECT_EQ(line(ipv4_packet(1, 0x0a000001, 0x0a000002, 7, 9, 56, 5)),
            "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 9, length 64");
  EXPECT_EQ(line(arp_request(0x0a000001, 0x0a000002)),
            "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28");
  EXPECT_EQ(line(ipv6_udp(5353, 12)), "IP6 fe80::1.5353 > fe80::2.5353: UDP, length 12");
  EXPECT_EQ(line(ipv4_packet(17, 0x0a000001, 0x0a000002, 53, 1234, 20, 5, 100)),
            "vlan 100, p 0, IP 10.0.0.1.53 > 10.0.0.2.1234: UDP, length 20");
}

TEST(Summary, RawAndSllLinkTypes) {
  auto p = ipv4_packet(17, 0x0a000001, 0x0a000002, 53, 1234, 20, 5);
  const std::vector<uint8_t> raw(p.begin() + 14, p.end());
  EXPECT_EQ(line(raw, 12), "IP 10.0.0.1.53 > 10.0.0.2.1234: UDP, length 20");
  std::vector<uint8_t> sll = {0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00};
  sll.insert(sll.end(), raw.begin(), raw.end());
  EXPECT_EQ(line(sll, 113), "IP 10.0.0.1.53 > 10.0.0.2.1234: UDP, length 20");
}

TEST(Summary, EveryTruncationIsSafe) {
  for (const TestPacket& t : traffic_mix(200, 11)) {
    for (size_t cut = 0; cut <= t.bytes.size(); cut += (cut < 80 ? 1 : 97)) {
      // A heap copy of exactly `cut` bytes: ASan catches any read past it.
      std::vector<uint8_t> p(t.bytes.begin(), t.bytes.begin() + long(cut));
      std::string out;
      format_summary(out, 1, Timestamp{uint32_t(t.ts_ns / 1'000'000'000u), 0}, false, p.data(), uint32_t(p.size()), t.wirelen);
      EXPECT_FALSE(out.empty());
      if (cut < 14) {
        EXPECT_NE(out.find("[|ether]"), std::string::npos);
      }
    }
  }
}

}  // namespace
}  // namespace bpf::capture
