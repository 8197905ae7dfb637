// capture/pcapng_direction: the direction of each packet of a pcapng file (epb_flags), scanned
// beside libpcap. Files built here: both byte orders, EPBs with and without flags (and with
// other options before them), SPBs, obsolete PBs, unknown blocks, a second section; the scanner
// yields one direction per packet libpcap returns, in order; a corrupt block ends the scan
// with "not known", never a crash; a source that must know the direction stops with an error at
// the first packet that does not state it.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "capture/pcapng_direction.hpp"
#include "capture/source.hpp"

namespace {

using bpf::capture::Direction;

struct Builder {
  bool swapped = false;
  std::string out;
  void u32(uint32_t x) {
    if (swapped) x = __builtin_bswap32(x);
    out.append(reinterpret_cast<const char*>(&x), 4);
  }
  void u16(uint16_t x) {
    if (swapped) x = __builtin_bswap16(x);
    out.append(reinterpret_cast<const char*>(&x), 2);
  }
  void block(uint32_t type, const std::string& body) {
    u32(type);
    u32(uint32_t(12 + body.size()));
    out += body;
    u32(uint32_t(12 + body.size()));
  }
  std::string opts(const std::vector<std::pair<uint16_t, std::string>>& os) {
    Builder b{swapped, {}};
    for (const auto& [code, v] : os) {
      b.u16(code);
      b.u16(uint16_t(v.size()));
      b.out += v;
      b.out.append((4 - v.size() % 4) % 4, '\0');
    }
    if (!os.empty()) b.u32(0);  // opt_endofopt
    return b.out;
  }
  std::string flags(uint32_t f) {
    Builder b{swapped, {}};
    b.u32(f);
    return b.out;
  }
  void shb() {
    Builder b{swapped, {}};
    b.u32(0x1A2B3C4D);
    b.u16(1);
    b.u16(0);
    b.u32(0xffffffff);
    b.u32(0xffffffff);
    block(0x0A0D0D0A, b.out);
  }
  void idb() {
    Builder b{swapped, {}};
    b.u16(1);
    b.u16(0);
    b.u32(65535);
    block(1, b.out);
  }
  // An EPB whose options are `os` (flags among them or not).
  void epb(size_t caplen, const std::vector<std::pair<uint16_t, std::string>>& os) {
    Builder b{swapped, {}};
    b.u32(0);
    b.u32(0);
    b.u32(1000);
    b.u32(uint32_t(caplen));
    b.u32(uint32_t(caplen));
    b.out.append(caplen, '\x11');
    b.out.append((4 - caplen % 4) % 4, '\0');
    b.out += opts(os);
    block(6, b.out);
  }
  void pb(size_t caplen, uint32_t f) {
    Builder b{swapped, {}};
    b.u16(0);
    b.u16(0);
    b.u32(0);
    b.u32(1000);
    b.u32(uint32_t(caplen));
    b.u32(uint32_t(caplen));
    b.out.append(caplen, '\x22');
    b.out.append((4 - caplen % 4) % 4, '\0');
    b.out += opts({{2, flags(f)}});
    block(2, b.out);
  }
  void spb(size_t len) {
    Builder b{swapped, {}};
    b.u32(uint32_t(len));
    b.out.append(len, '\x33');
    b.out.append((4 - len % 4) % 4, '\0');
    block(3, b.out);
  }
};

std::string temp_file(const std::string& name, const std::string& data) {
  const std::string path = ::testing::TempDir() + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(data.data(), 1, data.size(), f);
  std::fclose(f);
  return path;
}

size_t libpcap_count(const std::string& path, bool* error) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  *error = p == nullptr;
  if (!p) return 0;
  size_t n = 0;
  pcap_pkthdr* h;
  const u_char* d;
  int rc;
  while ((rc = pcap_next_ex(p, &h, &d)) == 1) ++n;
  *error = rc != PCAP_ERROR_BREAK;
  pcap_close(p);
  return n;
}

std::vector<Direction> via_source(const std::string& path, bool require, std::string* err) {
  auto s = bpf::capture::open_file(path);
  std::vector<Direction> got;
  if (!s.ok()) {
    *err = s.diagnostics().items().front().message;
    return got;
  }
  auto src = s.take();
  if (require) {
    EXPECT_TRUE(src->require_direction());
  }
  std::vector<bpf::capture::Frame> frames;
  for (;;) {
    const auto st = src->read(frames, 100);
    for (const auto& f : frames) got.push_back(f.direction);
    if (st == bpf::capture::Source::Status::kEnd) break;
    if (st == bpf::capture::Source::Status::kError) {
      *err = src->error();
      break;
    }
  }
  return got;
}

std::string mixed_file(bool swapped, std::vector<Direction>* want) {
  Builder b{swapped, {}};
  b.shb();
  b.idb();
  b.epb(60, {{2, b.flags(1)}});  // inbound
  want->push_back(Direction::kInbound);
  b.epb(61, {{1, "a comment"}, {2, b.flags(2 | 0x10)}});  // outbound, after a comment
  want->push_back(Direction::kOutbound);
  b.epb(62, {});  // no options
  want->push_back(Direction::kUnknown);
  b.block(0x0BAD, std::string(16, 'x'));  // an unknown block, skipped by both
  b.epb(63, {{2, b.flags(0)}});  // flags, direction not known
  want->push_back(Direction::kUnknown);
  b.spb(40);
  want->push_back(Direction::kUnknown);
  b.pb(64, 2);
  want->push_back(Direction::kOutbound);
  b.epb(65, {{2, b.flags(3)}});  // invalid direction bits
  want->push_back(Direction::kUnknown);
  b.shb();  // a second section
  b.idb();
  b.epb(66, {{2, b.flags(1)}});
  want->push_back(Direction::kInbound);
  return b.out;
}

TEST(PcapngDirection, OneDirectionPerPacketLibpcapReturns) {
  for (bool swapped : {false, true}) {
    std::vector<Direction> want;
    const std::string path = temp_file(swapped ? "dir_be.pcapng" : "dir_le.pcapng", mixed_file(swapped, &want));
    bool lerr = false;
    EXPECT_EQ(libpcap_count(path, &lerr), want.size());
    EXPECT_FALSE(lerr);
    std::string err;
    EXPECT_EQ(via_source(path, false, &err), want) << err;
    EXPECT_EQ(err, "");
    // Required: the third packet states no direction.
    err.clear();
    const auto got = via_source(path, true, &err);
    EXPECT_EQ(got.size(), 2u);
    EXPECT_NE(err.find("packet 2 of the file does not record its direction"), std::string::npos) << err;
    unlink(path.c_str());
  }
}

// The scanner reads through a 256 KiB read-ahead window: blocks that straddle window
// boundaries, and a block bigger than the window (six 60,000-byte comments), keep their
// directions in order, in both byte orders.
TEST(PcapngDirection, BlocksAcrossAndBeyondTheReadAheadWindow) {
  for (bool swapped : {false, true}) {
    Builder b{swapped, {}};
    std::vector<Direction> want;
    b.shb();
    b.idb();
    std::mt19937 rng(5);
    for (int i = 0; i < 3000; ++i) {
      const uint32_t f = rng() % 4;
      const size_t caplen = 40 + rng() % 1400;
      if (i == 1500) {
        std::vector<std::pair<uint16_t, std::string>> os(6, {1, std::string(60000, 'c')});
        os.push_back({2, b.flags(2)});  // after 360,000 bytes of comments
        b.epb(caplen, os);
        want.push_back(Direction::kOutbound);
        continue;
      }
      b.epb(caplen, {{2, b.flags(f)}});
      want.push_back(f == 1 ? Direction::kInbound : f == 2 ? Direction::kOutbound : Direction::kUnknown);
    }
    ASSERT_GT(b.out.size(), size_t(2) << 20);
    const std::string path = temp_file("dir_window.pcapng", b.out);
    bool lerr = false;
    EXPECT_EQ(libpcap_count(path, &lerr), want.size());
    EXPECT_FALSE(lerr);
    std::string err;
    EXPECT_EQ(via_source(path, false, &err), want) << err;
    unlink(path.c_str());
  }
}

TEST(PcapngDirection, ClassicPcapAndPipesCannotKnow) {
  std::string pcap(24, '\0');
  const uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
  std::memcpy(pcap.data(), hdr, 24);
  const std::string path = temp_file("dir.pcap", pcap);
  auto s = bpf::capture::open_file(path);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s.take()->require_direction());
  unlink(path.c_str());
}

// Corruption: the scanner and libpcap may stop at different places, but the scanner never
// yields more directions than libpcap packets it was asked for, and never crashes.
TEST(PcapngDirection, CorruptFilesNeverCrash) {
  std::vector<Direction> want;
  const std::string whole = mixed_file(false, &want);
  std::mt19937 rng(77);
  for (int i = 0; i < 400; ++i) {
    std::string data = whole;
    for (int f = 0, n = 1 + int(rng() % 6); f < n; ++f) data[rng() % data.size()] = char(rng());
    if (i % 4 == 0) data.resize(rng() % data.size());
    const std::string path = temp_file("dir_fuzz.pcapng", data);
    const int fd = open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    if (auto sc = bpf::capture::PcapngDirections::open(fd, data.size())) {
      for (int k = 0; k < 20; ++k) {
        const Direction d = sc->next();
        EXPECT_TRUE(d == Direction::kUnknown || d == Direction::kInbound || d == Direction::kOutbound);
      }
    }
    close(fd);
    std::string err;
    via_source(path, i % 2 == 0, &err);
    unlink(path.c_str());
  }
}

}  // namespace
