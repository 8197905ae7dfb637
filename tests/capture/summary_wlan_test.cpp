// 802.11 summaries (capture/summary_wlan.cpp): exact lines for a radiotap beacon, an ACK and a
// QoS data frame carrying IPv4/UDP over LLC/SNAP; every truncation of the generated frames of
// the five 802.11 link types (tests/expr/packets_wlan.hpp) prints a line without reading past
// caplen (ASan in `make asan`); and `bpfdump -r` on pcap files of each link type (generated, and
// ../shared/corpus/radiotap.pcap and ieee802_11.pcap when present) prints one 802.11 line per
// packet, with a filter too.
#include <gtest/gtest.h>

#include <unistd.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "capture/summary.hpp"
#include "shell.hpp"
#include "test_packets.hpp"
#include "tests/expr/packets_wlan.hpp"

namespace bpf::capture {
namespace {

std::string line(const std::vector<uint8_t>& p, int linktype) {
  std::string out;
  format_summary(out, linktype, Timestamp{}, false, p.data(), uint32_t(p.size()), uint32_t(p.size()));
  return out.substr(16);  // skip the local-time column
}

const uint8_t kA[4][6] = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x00, 0x11, 0x22, 0x33, 0x44, 0x55},
                          {0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, {0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};

TEST(Summary, WlanFrames) {
  bool pad = false;
  std::vector<uint8_t> rt = bpf::test::radio_header(127, 0, &pad);  // 8-byte radiotap
  std::vector<uint8_t> beacon = rt;
  auto f = bpf::test::wlan_frame(0x80, 0x00, kA, {0, 0, 0, 0, 0, 0, 0, 0, 0x64, 0, 0x11, 0x04}, false);
  beacon.insert(beacon.end(), f.begin(), f.end());
  EXPECT_EQ(line(beacon, 127),
            "802.11 Beacon DA ff:ff:ff:ff:ff:ff SA 00:11:22:33:44:55 BSSID 02:00:00:00:00:01, length 36");
  auto ack = bpf::test::wlan_frame(0xd4, 0x00, kA + 1, {}, false);
  EXPECT_EQ(line(ack, 105), "802.11 Acknowledgment RA 00:11:22:33:44:55, length 10");
  // QoS data to the DS, LLC/SNAP, IPv4/UDP (the Ethernet test packet without its header).
  auto ip = testing::ipv4_packet(17, 0x0a000001, 0x0a000002, 53, 1234, 20, 5);
  std::vector<uint8_t> body{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00};
  body.insert(body.end(), ip.begin() + 14, ip.end());
  auto data = bpf::test::wlan_frame(0x88, 0x01, kA + 1, body, false);
  std::vector<uint8_t> avs = bpf::test::radio_header(163, 0, &pad);
  avs.insert(avs.end(), data.begin(), data.end());
  EXPECT_EQ(line(avs, 163),
            "802.11 QoS Data BSSID 00:11:22:33:44:55 SA 02:00:00:00:00:01 DA 02:00:00:00:00:02, "
            "IP 10.0.0.1.53 > 10.0.0.2.1234: UDP, length 20");
  std::vector<uint8_t> cut(avs.begin(), avs.begin() + 32 + 12);
  EXPECT_EQ(line(cut, 163), "802.11 QoS Data BSSID 00:11:22:33:44:55 [|802.11]");
  EXPECT_EQ(line({0, 0, 8}, 127), "[|radiotap]length 3");
}

TEST(Summary, WlanEveryTruncationIsSafe) {
  for (int lt : {105, 119, 127, 163, 192}) {
    std::mt19937 rng{uint32_t(lt)};
    for (const auto& t : bpf::test::make_wlan_packets(lt, rng)) {
      for (size_t c = 0; c <= t.data.size(); c += (c < 90 ? 1 : 37)) {
        std::vector<uint8_t> p(t.data.begin(), t.data.begin() + long(c));  // ASan sees overreads
        std::string out;
        format_summary(out, lt, Timestamp{}, false, p.data(), uint32_t(p.size()), t.wirelen);
        EXPECT_GT(out.size(), 16u);
      }
    }
  }
}

#ifdef BPFDUMP_PATH
size_t count_lines(const std::string& s, const char* must_contain, size_t* with) {
  std::istringstream in(s);
  std::string l;
  size_t n = 0;
  *with = 0;
  while (std::getline(in, l)) {
    ++n;
    *with += l.find(must_contain) != std::string::npos;
  }
  return n;
}

TEST(Summary, BpfdumpReadsWlanFiles) {
  std::vector<std::pair<std::string, size_t>> files;  // path, packets
  std::vector<std::string> generated;
  for (int lt : {105, 119, 127, 163, 192}) {
    std::mt19937 rng(uint32_t(lt) + 1);
    std::vector<testing::TestPacket> pkts;
    for (auto& t : bpf::test::make_wlan_packets(lt, rng)) {
      if (t.data.size() != t.wirelen) continue;
      testing::TestPacket p;
      p.bytes = t.data;
      p.wirelen = t.wirelen;
      pkts.push_back(std::move(p));
    }
    const std::string path = testing::temp_path("wlan" + std::to_string(lt) + ".pcap");
    ASSERT_TRUE(testing::write_with_libpcap(path, pkts, lt));
    files.emplace_back(path, pkts.size());
    generated.push_back(path);
  }
  for (const char* f : {"radiotap.pcap", "ieee802_11.pcap"}) {
    const std::string p = std::string(BPFC_CORPUS_DIR) + "/" + f;
    if (access(p.c_str(), R_OK) == 0) files.emplace_back(p, testing::read_with_libpcap(p).size());
  }
  for (const auto& [path, n] : files) {
    const auto r = testing::sh(std::string(BPFDUMP_PATH) + " -r " + path);
    ASSERT_EQ(r.status, 0) << path << ": " << r.err;
    size_t with = 0, other = 0;
    EXPECT_EQ(count_lines(r.out, "802.11", &with), n) << path;
    count_lines(r.out, "PPI, dlt 127", &other);  // PPI frames whose DLT is not 802.11
    EXPECT_EQ(with + other, n) << path << "\n" << r.out;
    EXPECT_GT(with, n / 2) << path;
  }
  // A filter on an 802.11 file: beacons of the radiotap file only.
  const auto r = testing::sh(std::string(BPFDUMP_PATH) + " -r " + files[2].first +
                             " 'type mgt subtype beacon'");
  ASSERT_EQ(r.status, 0) << r.err;
  size_t with = 0;
  const size_t n = count_lines(r.out, "Beacon", &with);
  EXPECT_GT(n, 0u);
  EXPECT_EQ(with, n) << r.out;
  for (const auto& g : generated) unlink(g.c_str());
}
#endif

}  // namespace
}  // namespace bpf::capture
