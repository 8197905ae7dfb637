// Summaries of the serial, ATM and 802.x link types (capture/summary_links.cpp): exact lines for
// crafted packets; for every generated packet of each link type (tests/expr/packets_links.hpp)
// and every truncation of it, a line with the link-level prefix (never the "linktype N" fallback)
// and, where the full packet carries IPv4 or IPv6, its IP summary; and the same on the
// ../shared/corpus captures of these link types when present (what `bpfdump -r` prints). Run
// under ASan in `make asan`: nothing may read past caplen.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "capture/summary.hpp"
#include "shell.hpp"
#include "tests/expr/packets_links.hpp"

#ifndef BPFDUMP_PATH
#error "BPFDUMP_PATH must name the bpfdump binary"
#endif

namespace bpf::capture {
namespace {

std::string line(int linktype, const std::vector<uint8_t>& p, uint32_t caplen = ~0u) {
  std::string out;
  const uint32_t n = std::min<uint32_t>(caplen, uint32_t(p.size()));
  format_summary(out, linktype, Timestamp{}, false, p.data(), n, uint32_t(p.size()));
  return out.substr(16);  // skip the local-time column
}

std::vector<uint8_t> udp4() {  // 10.0.0.1.53 > 10.0.0.2.1234, 4 bytes of data
  std::vector<uint8_t> u(8, 0);
  bpf::test::put16(u, 0, 53);
  bpf::test::put16(u, 2, 1234);
  bpf::test::put16(u, 4, 12);
  u.resize(12, 0x61);
  return bpf::test::ipv4(0x0a000001, 0x0a000002, 17, u, 0, 0);
}
std::vector<uint8_t> cat(std::vector<uint8_t> h, const std::vector<uint8_t>& p) {
  h.insert(h.end(), p.begin(), p.end());
  return h;
}

TEST(SummaryLinks, ExactLines) {
  const std::string ip = "IP 10.0.0.1.53 > 10.0.0.2.1234: UDP, length 4";
  EXPECT_EQ(line(9, cat({0xff, 0x03, 0x00, 0x21}, udp4())), "PPP " + ip);
  EXPECT_EQ(line(50, cat({0x00, 0x21}, udp4())), "PPP " + ip);
  EXPECT_EQ(line(9, {0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4}), "PPP LCP, length 4");
  EXPECT_EQ(line(51, cat({0x11, 0x00, 0x00, 0x05, 0x00, 0x22, 0x00, 0x21}, udp4())), "PPPoE [ses 0x5] " + ip);
  EXPECT_EQ(line(104, cat({0x0f, 0x00, 0x08, 0x00}, udp4())), "CHDLC " + ip);
  EXPECT_EQ(line(104, {0x0f, 0x00, 0xfe, 0xfe, 0x03, 0x83}), "CHDLC OSI, length 2");
  EXPECT_EQ(line(107, cat({0x18, 0x41, 0x03, 0xcc}, udp4())), "FR DLCI 100 " + ip);
  EXPECT_EQ(line(107, {0x18, 0x41, 0x03, 0x83, 0x1b}), "FR DLCI 100 IS-IS, length 2");
  std::vector<uint8_t> slip(16, 0);
  EXPECT_EQ(line(8, cat(slip, udp4())), "SLIP I " + ip);
  std::vector<uint8_t> ipnet(24, 0);
  ipnet[1] = 2;
  ipnet[3] = 1;
  EXPECT_EQ(line(226, cat(ipnet, udp4())), "ipnet out " + ip);
  EXPECT_EQ(line(7, cat({0x01, 0x02, 212, 0, 0, 0}, udp4())), "ARCNET 01 > 02 " + ip);
  EXPECT_EQ(line(129, cat({0x01, 0xff, 0, 0, 240}, udp4())), "ARCNET 01 > ff " + ip);
  EXPECT_EQ(line(123, cat({0x02, 0x01, 0x00, 0x20, 0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}, udp4())),
            "ATM vpi 1 vci 32 " + ip);
  EXPECT_EQ(line(123, {0x00, 0x00, 0x00, 0x05, 0x09, 0x03, 0, 0, 1, 0x05, 0x80, 0}),
            "ATM vpi 0 vci 5 Q.2931 message 0x05, length 8");
  std::vector<uint8_t> lane = {0x01, 0x00, 0x00, 0x20, 0x00, 0x00, 0, 0x11, 0x22, 0x33, 0x44, 0x55,
                               0x02, 0, 0, 0, 0, 1, 0x08, 0x00};
  EXPECT_EQ(line(123, cat(lane, udp4())), "ATM vpi 0 vci 32 LANE " + ip);
  std::vector<uint8_t> fddi = {0x50, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x02, 0, 0, 0, 0, 1,
                               0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00};
  EXPECT_EQ(line(10, cat(fddi, udp4())), "FDDI 02:00:00:00:00:01 > 00:11:22:33:44:55 " + ip);
  std::vector<uint8_t> tr = {0x10, 0x40, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x02, 0, 0, 0, 0, 1,
                             0x42, 0x42, 0x03};
  EXPECT_EQ(line(6, tr), "TR 02:00:00:00:00:01 > 00:11:22:33:44:55 LLC dsap 0x42 ssap 0x42 ctrl 0x03, length 3");
  EXPECT_EQ(line(9, {0xff}), "PPP [|ppp]");
  EXPECT_EQ(line(123, {0x02, 0x01}), "[|sunatm]");
}

void check(int lt, const std::vector<uint8_t>& d, uint32_t wirelen, bool want_ip, size_t* with_ip) {
  for (uint32_t n = 0; n <= d.size(); ++n) {
    std::string out;
    format_summary(out, lt, Timestamp{}, false, d.data(), n, wirelen);
    ASSERT_GT(out.size(), 16u);
    ASSERT_EQ(out.find("linktype"), std::string::npos) << out;
    if (n == d.size() && want_ip) {
      EXPECT_TRUE(out.find(" IP ") != std::string::npos || out.find(" IP6 ") != std::string::npos)
          << lt << ": " << out;
      ++*with_ip;
    }
  }
}

// Generated packets: a link-level line for each and every truncation, the IP line for IP.
TEST(SummaryLinks, EveryGeneratedPacketAndTruncation) {
  for (int lt : bpf::test::kLinkTypesMore) {
    std::mt19937 rng{uint32_t(lt)};
    size_t with_ip = 0, n = 0;
    for (const auto& np : bpf::test::make_net_packets(rng)) {
      auto d = bpf::test::link_frame(lt, np, rng);
      const bool ip = np.ethertype == 0x0800 || np.ethertype == 0x86dd;
      // The link header carries IP only where it says so (SLIP: always; SunATM: not on the
      // signalling circuits; PPP: not VJ-compressed or MPLS; SLIP/ARCnet ids as generated).
      std::string full;
      format_summary(full, lt, Timestamp{}, false, d.data(), uint32_t(d.size()), uint32_t(d.size()));
      const bool says_ip = full.find("Q.2931") == std::string::npos && full.find("proto 0x") == std::string::npos &&
                           full.find("MPLS") == std::string::npos && full.find("type ") == std::string::npos &&
                           full.find("LANE control") == std::string::npos && full.find("ethertype") == std::string::npos;
      check(lt, d, uint32_t(d.size()), ip && says_ip, &with_ip);
      ++n;
    }
    EXPECT_GT(with_ip, n / 4) << "link type " << lt;
  }
}

// bpfdump itself on a capture of each link type (generated packets, snapped copies included):
// one summary line per packet with the link's prefix; with an expression, exactly the packets
// libpcap's filter (pcap_offline_filter) keeps.
TEST(SummaryLinks, BpfdumpReadsEveryLinkType) {
  for (int lt : bpf::test::kLinkTypesMore) {
    SCOPED_TRACE(lt);
    std::mt19937 rng{uint32_t(lt) + 100};
    const auto pkts = bpf::test::make_link_packets(lt, rng);
    const std::string path = testing::temp_path("links_" + std::to_string(lt) + ".pcap");
    pcap_t* dead = pcap_open_dead(lt, 262144);
    pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
    ASSERT_NE(dumper, nullptr) << pcap_geterr(dead);
    for (size_t i = 0; i < pkts.size(); ++i) {
      pcap_pkthdr h{};
      h.ts.tv_sec = 1700000000 + long(i);
      h.caplen = uint32_t(pkts[i].data.size());
      h.len = pkts[i].wirelen;
      pcap_dump(reinterpret_cast<u_char*>(dumper), &h, pkts[i].data.data());
    }
    pcap_dump_close(dumper);
    const testing::Out all = testing::sh(std::string(BPFDUMP_PATH) + " -r " + path);
    ASSERT_EQ(all.status, 0) << all.err;
    size_t lines = 0, pos = 0;
    for (size_t nl; (nl = all.out.find('\n', pos)) != std::string::npos; pos = nl + 1, ++lines)
      EXPECT_EQ(all.out.substr(pos, nl - pos).find("linktype"), std::string::npos);
    EXPECT_EQ(lines, pkts.size());
    for (const char* e : {"ip", "ip6 or arp", "tcp port 80"}) {
      bpf_program bp{};
      if (pcap_compile(dead, &bp, e, 1, PCAP_NETMASK_UNKNOWN) != 0) continue;  // e.g. arp on SLIP
      size_t want = 0;
      for (const auto& p : pkts) {
        pcap_pkthdr h{};
        h.caplen = uint32_t(p.data.size());
        h.len = p.wirelen;
        want += pcap_offline_filter(&bp, &h, p.data.data()) != 0;
      }
      pcap_freecode(&bp);
      const testing::Out f = testing::sh(std::string(BPFDUMP_PATH) + " -r " + path + " '" + e + "' | wc -l");
      EXPECT_EQ(std::stoul(f.out), want) << e;
    }
    pcap_close(dead);
    unlink(path.c_str());
  }
}

// What `bpfdump -r` prints for the corpus captures of these link types.
TEST(SummaryLinks, CorpusCaptures) {
  const char* dir = std::getenv("BPFC_CORPUS_DIR");
  const std::string base = dir ? dir : BPFC_CORPUS_DIR;
  size_t files = 0, packets = 0, ip = 0;
  for (const char* f : {"ppp.pcap", "ppp_serial.pcap", "chdlc.pcap", "frelay.pcap", "slip.pcap",
                        "arcnet_linux.pcap", "ipnet.pcap", "sunatm.pcap"}) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline((base + "/" + f).c_str(), err);
    if (!p) continue;
    ++files;
    const int lt = pcap_datalink(p);
    pcap_pkthdr* h;
    const u_char* d;
    while (pcap_next_ex(p, &h, &d) == 1) {
      std::string out;
      format_summary(out, lt, Timestamp{}, false, d, h->caplen, h->len);
      ++packets;
      EXPECT_GT(out.size(), 16u);
      EXPECT_EQ(out.find("linktype"), std::string::npos) << f << ": " << out;
      ip += out.find(" IP ") != std::string::npos || out.find(" IP6 ") != std::string::npos;
    }
    pcap_close(p);
  }
  std::printf("corpus files: %zu, packets: %zu, with an IP/IP6 summary: %zu\n", files, packets, ip);
  if (files == 0) GTEST_SKIP() << "corpus absent";
  EXPECT_GT(ip, packets / 3);
}

}  // namespace
}  // namespace bpf::capture
