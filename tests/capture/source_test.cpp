// pcap/pcapng sources and the pcap writer, against libpcap as the reference:
//  - our writer's files read back by libpcap give the same records (round trip), and files
//    written by libpcap's pcap_dump read by our source give the same records;
//  - pcapng (hand-built blocks, nanosecond resolution) reads with full timestamps;
//  - truncated files end with libpcap's "truncated" error after exactly the complete packets;
//    corrupt headers are clear errors; random byte corruption never crashes or hangs;
//  - a nonexistent interface is a clear error.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
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

// Classic pcap by hand: either byte order, micro or nano magic; `oversize` stores one record with
// caplen above the header's snap length (libpcap's own handling must then take over).
std::string make_pcap(const std::vector<TestPacket>& pkts, bool swapped, bool nano, uint32_t snaplen,
                      int oversize_at = -1) {
  std::string out;
  auto u32 = [&](uint32_t x) {
    if (swapped) x = __builtin_bswap32(x);
    out.append(reinterpret_cast<const char*>(&x), 4);
  };
  auto u16 = [&](uint16_t x) {
    if (swapped) x = __builtin_bswap16(x);
    out.append(reinterpret_cast<const char*>(&x), 2);
  };
  u32(nano ? 0xa1b23c4d : 0xa1b2c3d4); u16(2); u16(4); u32(0); u32(0); u32(snaplen); u32(1);
  for (size_t i = 0; i < pkts.size(); ++i) {
    const TestPacket& p = pkts[i];
    const uint32_t cap = int(i) == oversize_at ? uint32_t(p.bytes.size()) : std::min<uint32_t>(uint32_t(p.bytes.size()), snaplen);
    u32(uint32_t(p.ts_ns / 1'000'000'000u));
    u32(uint32_t(p.ts_ns % 1'000'000'000u / (nano ? 1u : 1000u)));
    u32(cap);
    u32(p.wirelen);
    out.append(reinterpret_cast<const char*>(p.bytes.data()), cap);
  }
  return out;
}

TEST(PcapFile, OwnReaderAgreesWithLibpcapOnEveryVariant) {
  auto pkts = testing::traffic_mix(3000, 21);
  for (size_t i = 0; i < pkts.size(); ++i) pkts[i].ts_ns += (i % 1000) * 1;  // some ns digits
  const std::string path = testing::temp_path("variant.pcap");
  int variants = 0;
  for (bool swapped : {false, true})
    for (bool nano : {false, true})
      for (uint32_t snaplen : {262144u, 200u})
        for (int oversize : {-1, 1500}) {
          spit(path, make_pcap(pkts, swapped, nano, snaplen, snaplen == 200 ? oversize : -1));
          for (bool want_nano : {false, true}) {
            SCOPED_TRACE(::testing::Message() << "swapped " << swapped << " nano " << nano << " snaplen "
                                              << snaplen << " oversize " << oversize << " want_nano " << want_nano);
            std::string ref_err;
            std::vector<TestPacket> ref;
            {
              char ebuf[PCAP_ERRBUF_SIZE];
              pcap_t* p = pcap_open_offline_with_tstamp_precision(
                  path.c_str(), want_nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO, ebuf);
              ASSERT_NE(p, nullptr) << ebuf;
              pcap_pkthdr* h;
              const u_char* d;
              int rc;
              while ((rc = pcap_next_ex(p, &h, &d)) == 1)
                ref.push_back(TestPacket{uint64_t(h->ts.tv_sec) << 32 | uint32_t(h->ts.tv_usec), h->len, {d, d + h->caplen}});
              if (rc == PCAP_ERROR) ref_err = pcap_geterr(p);
              pcap_close(p);
            }
            auto src = open_file(path, want_nano);
            ASSERT_TRUE(src.ok());
            std::vector<TestPacket> got;
            std::vector<Frame> frames;
            Source::Status st;
            while ((st = (*src)->read(frames, 0)) == Source::Status::kOk)
              for (const Frame& f : frames) got.push_back(TestPacket{uint64_t(f.ts.sec) << 32 | f.ts.frac, f.wirelen, {f.data, f.data + f.caplen}});
            EXPECT_EQ((*src)->error(), ref_err);
            EXPECT_EQ((*src)->snaplen(), snaplen);
            ASSERT_EQ(got.size(), ref.size());
            for (size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(got[i], ref[i]) << i;
            ++variants;
          }
        }
  EXPECT_EQ(variants, 32);
  unlink(path.c_str());
}

TEST(Live, NonexistentInterfaceIsAClearError) {
  auto s = open_live("nosuchif0", {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.diagnostics().render("t").find("nosuchif0: no such network interface"), std::string::npos);
}

}  // namespace
}  // namespace bpf::capture
