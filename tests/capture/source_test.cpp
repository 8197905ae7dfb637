// pcap/pcapng sources and the pcap writer, against libpcap as the reference:
//  - our writer's files read back by libpcap give the same records (round trip), and files
//    written by libpcap's pcap_dump read by our source give the same records;
//  - pcapng (hand-built blocks, nanosecond resolution) reads with full timestamps;
//  - truncated files end with libpcap's "truncated" error after exactly the complete packets;
//    corrupt headers are clear errors; random byte corruption never crashes or hangs;
//  - a nonexistent interface is a clear error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "capture/source.hpp"
#include "test_packets.hpp"

namespace bpf::capture {
namespace {

using testing::TestPacket;

std::vector<TestPacket> read_with_source(const std::string& path, std::string* err, Source::Status* last) {
  std::vector<TestPacket> out;
  auto src = open_file(path, /*nano=*/true);
  if (!src.ok()) {
    *err = src.diagnostics().render("test");
    *last = Source::Status::kError;
    return out;
  }
  std::vector<Frame> frames;
  for (;;) {
    const Source::Status st = (*src)->read(frames, 0);
    for (const Frame& f : frames)
      out.push_back(TestPacket{f.ts.sec * 1'000'000'000ull + f.ts.frac, f.wirelen, {f.data, f.data + f.caplen}});
    if (st != Source::Status::kOk) {
      *last = st;
      *err = (*src)->error();
      return out;
    }
  }
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}
void spit(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), std::streamsize(data.size()));
}

TEST(PcapFile, LibpcapWrittenFileReadsIdentically) {
  const auto pkts = testing::traffic_mix(2000, 1);
  const std::string path = testing::temp_path("ref.pcap");
  ASSERT_TRUE(testing::write_with_libpcap(path, pkts));
  std::string err;
  Source::Status st;
  const auto got = read_with_source(path, &err, &st);
  EXPECT_EQ(st, Source::Status::kEnd) << err;
  ASSERT_EQ(got.size(), pkts.size());
  for (size_t i = 0; i < pkts.size(); ++i) ASSERT_EQ(got[i], pkts[i]) << "packet " << i;
  unlink(path.c_str());
}

TEST(PcapFile, WriterRoundTripThroughLibpcap) {
  auto pkts = testing::traffic_mix(2000, 2);
  const std::string path = testing::temp_path("ours.pcap");
  {
    auto w = PcapWriter::open(path, 1, 262144);
    ASSERT_TRUE(w.ok());
    // Truncate some packets below their wire length, as a snap length would.
    for (size_t i = 0; i < pkts.size(); ++i) {
      if (i % 5 == 0 && pkts[i].bytes.size() > 60) pkts[i].bytes.resize(60);
      (*w)->write(Timestamp{uint32_t(pkts[i].ts_ns / 1'000'000'000u), uint32_t(pkts[i].ts_ns % 1'000'000'000u / 1000u)},
                  pkts[i].bytes.data(), uint32_t(pkts[i].bytes.size()), pkts[i].wirelen);
    }
    ASSERT_TRUE((*w)->close()) << (*w)->error();
  }
  std::string err;
  int linktype = -1;
  const auto got = testing::read_with_libpcap(path, &err, &linktype);
  EXPECT_EQ(err, "");
  EXPECT_EQ(linktype, 1);
  ASSERT_EQ(got.size(), pkts.size());
  for (size_t i = 0; i < pkts.size(); ++i) ASSERT_EQ(got[i], pkts[i]) << "packet " << i;
  unlink(path.c_str());
}

TEST(PcapFile, WriterReportsUnwritablePath) {
  auto w = PcapWriter::open("/nonexistent-dir/x.pcap", 1, 65535);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.diagnostics().render("t").find("No such file"), std::string::npos);
}

// Minimal pcapng: SHB, IDB with if_tsresol = 9 (ns), one EPB per packet.
std::string make_pcapng(const std::vector<TestPacket>& pkts) {
  std::string out;
  auto u32 = [&](uint32_t x) { out.append(reinterpret_cast<const char*>(&x), 4); };
  auto u16 = [&](uint16_t x) { out.append(reinterpret_cast<const char*>(&x), 2); };
  u32(0x0A0D0D0A); u32(28); u32(0x1A2B3C4D); u16(1); u16(0); u32(0xffffffff); u32(0xffffffff); u32(28);
  u32(1); u32(32); u16(1); u16(0); u32(262144);
  u16(9); u16(1); out.push_back(9); out.append(3, '\0'); u16(0); u16(0);
  u32(32);
  for (const TestPacket& p : pkts) {
    const uint32_t cap = uint32_t(p.bytes.size());
    const uint32_t padded = (cap + 3) & ~3u;
    const uint32_t len = 32 + padded;
    u32(6); u32(len); u32(0); u32(uint32_t(p.ts_ns >> 32)); u32(uint32_t(p.ts_ns)); u32(cap); u32(p.wirelen);
    out.append(reinterpret_cast<const char*>(p.bytes.data()), cap);
    out.append(padded - cap, '\0');
    u32(len);
  }
  return out;
}

TEST(PcapFile, PcapngWithNanosecondTimestamps) {
  auto pkts = testing::traffic_mix(500, 3);
  for (size_t i = 0; i < pkts.size(); ++i) pkts[i].ts_ns += i * 7;  // not microsecond-aligned
  const std::string path = testing::temp_path("x.pcapng");
  spit(path, make_pcapng(pkts));
  std::string err;
  Source::Status st;
  const auto got = read_with_source(path, &err, &st);
  EXPECT_EQ(st, Source::Status::kEnd) << err;
  ASSERT_EQ(got.size(), pkts.size());
  for (size_t i = 0; i < pkts.size(); ++i) ASSERT_EQ(got[i], pkts[i]) << "packet " << i;
  unlink(path.c_str());
}

TEST(PcapFile, TruncatedFileCountsCompletePacketsThenErrors) {
  const auto pkts = testing::traffic_mix(100, 4);
  const std::string path = testing::temp_path("trunc.pcap");
  ASSERT_TRUE(testing::write_with_libpcap(path, pkts));
  const std::string whole = slurp(path);
  // Cut inside the data of packet 50, then inside the header of packet 70.
  size_t off = 24;
  std::vector<size_t> starts;
  for (const auto& p : pkts) {
    starts.push_back(off);
    off += 16 + p.bytes.size();
  }
  for (const auto& [cut, complete] : {std::pair{starts[50] + 16 + 3, 50}, std::pair{starts[70] + 5, 70}}) {
    spit(path, whole.substr(0, cut));
    std::string err;
    Source::Status st;
    const auto got = read_with_source(path, &err, &st);
    EXPECT_EQ(st, Source::Status::kError);
    EXPECT_EQ(got.size(), size_t(complete));
    EXPECT_NE(err.find("truncated"), std::string::npos) << err;
  }
  unlink(path.c_str());
}

TEST(PcapFile, CorruptHeaderAndMissingFileAreClearErrors) {
  const std::string path = testing::temp_path("bad.pcap");
  spit(path, std::string("this is not a capture file at all, not even close"));
  auto s = open_file(path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.diagnostics().render("t").find(path), std::string::npos);
  spit(path, "");
  EXPECT_FALSE(open_file(path).ok());
  unlink(path.c_str());
  auto m = open_file("/nonexistent/file.pcap");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.diagnostics().render("t").find("No such file"), std::string::npos);
}

TEST(PcapFile, RandomCorruptionNeverCrashes) {
  const auto pkts = testing::traffic_mix(60, 5);
  const std::string path = testing::temp_path("fuzz.pcap");
  ASSERT_TRUE(testing::write_with_libpcap(path, pkts));
  const std::string whole = slurp(path);
  const std::string ng = make_pcapng(pkts);
  std::mt19937 rng(9);
  for (int iter = 0; iter < 300; ++iter) {
    std::string data = iter % 2 ? whole : ng;
    const int flips = 1 + int(rng() % 8);
    for (int i = 0; i < flips; ++i) data[rng() % data.size()] = char(rng());
    if (iter % 3 == 0) data.resize(rng() % data.size());
    spit(path, data);
    std::string err;
    Source::Status st;
    const auto got = read_with_source(path, &err, &st);
    EXPECT_LE(got.size(), pkts.size() + 1);
    if (st == Source::Status::kError) {
      EXPECT_FALSE(err.empty());
    }
  }
  unlink(path.c_str());
}

TEST(Live, NonexistentInterfaceIsAClearError) {
  auto s = open_live("nosuchif0", {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.diagnostics().render("t").find("nosuchif0: no such network interface"), std::string::npos);
}

}  // namespace
}  // namespace bpf::capture
