// Packet builders and pcap helpers for the capture tests: Ethernet frames carrying IPv4/IPv6
// TCP/UDP/ICMP, ARP and VLAN-tagged variants, built byte by byte (no dependency on the code under
// test), and a writer/reader pair that goes through libpcap itself (the reference).
#pragma once

#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace bpf::capture::testing {

struct TestPacket {
  uint64_t ts_ns = 0;
  uint32_t wirelen = 0;
  std::vector<uint8_t> bytes;
  friend bool operator==(const TestPacket&, const TestPacket&) = default;
};

inline void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(uint8_t(x >> 8));
  v.push_back(uint8_t(x));
}
inline void put32(std::vector<uint8_t>& v, uint32_t x) {
  put16(v, uint16_t(x >> 16));
  put16(v, uint16_t(x));
}

inline void ether(std::vector<uint8_t>& v, uint16_t type, int vlan = -1) {
  const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x02}, src[6] = {0x02, 0, 0, 0, 0, 0x01};
  v.insert(v.end(), dst, dst + 6);
  v.insert(v.end(), src, src + 6);
  if (vlan >= 0) {
    put16(v, 0x8100);
    put16(v, uint16_t(vlan));
  }
  put16(v, type);
}

// IPv4 + UDP or TCP (proto 17 / 6) or ICMP echo (1) with `payload` bytes; `tag` is written at
// the start of the payload so each packet is recognisable.
inline std::vector<uint8_t> ipv4_packet(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport,
                                        uint16_t dport, uint32_t payload, uint32_t tag,
                                        int vlan = -1, uint8_t tcp_flags = 0x18) {
  std::vector<uint8_t> v;
  ether(v, 0x0800, vlan);
  const uint32_t l4 = proto == 6 ? 20 : 8;
  const uint32_t total = 20 + l4 + payload;
  v.push_back(0x45);
  v.push_back(0);
  put16(v, uint16_t(total));
  put16(v, uint16_t(tag));
  put16(v, 0x4000);
  v.push_back(64);
  v.push_back(proto);
  put16(v, 0);  // checksum (not checked by anything here)
  put32(v, src);
  put32(v, dst);
  if (proto == 6) {
    put16(v, sport);
    put16(v, dport);
    put32(v, 1000 + tag);
    put32(v, 2000);
    v.push_back(0x50);
    v.push_back(tcp_flags);
    put16(v, 512);
    put32(v, 0);
  } else if (proto == 17) {
    put16(v, sport);
    put16(v, dport);
    put16(v, uint16_t(8 + payload));
    put16(v, 0);
  } else {
    v.push_back(8);
    v.push_back(0);
    put16(v, 0);
    put16(v, sport);
    put16(v, dport);
  }
  for (uint32_t i = 0; i < payload; ++i) v.push_back(uint8_t(i < 4 ? tag >> (24 - 8 * i) : i * 7));
  return v;
}

inline std::vector<uint8_t> ipv6_udp(uint16_t dport, uint32_t payload) {
  std::vector<uint8_t> v;
  ether(v, 0x86dd);
  put32(v, 0x60000000);
  put16(v, uint16_t(8 + payload));
  v.push_back(17);
  v.push_back(64);
  for (int i = 0; i < 16; ++i) v.push_back(i == 0 ? 0xfe : i == 1 ? 0x80 : i == 15 ? 1 : 0);
  for (int i = 0; i < 16; ++i) v.push_back(i == 0 ? 0xfe : i == 1 ? 0x80 : i == 15 ? 2 : 0);
  put16(v, 5353);
  put16(v, dport);
  put16(v, uint16_t(8 + payload));
  put16(v, 0);
  for (uint32_t i = 0; i < payload; ++i) v.push_back(uint8_t(i));
  return v;
}

inline std::vector<uint8_t> arp_request(uint32_t spa, uint32_t tpa) {
  std::vector<uint8_t> v;
  ether(v, 0x0806);
  put16(v, 1);
  put16(v, 0x0800);
  v.push_back(6);
  v.push_back(4);
  put16(v, 1);
  const uint8_t sha[6] = {0x02, 0, 0, 0, 0, 0x01};
  v.insert(v.end(), sha, sha + 6);
  put32(v, spa);
  for (int i = 0; i < 6; ++i) v.push_back(0);
  put32(v, tpa);
  return v;
}

// A varied traffic mix: TCP/UDP/ICMP over IPv4 (some VLAN-tagged), IPv6 UDP, ARP.
inline std::vector<TestPacket> traffic_mix(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<TestPacket> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    TestPacket p;
    p.ts_ns = 1'700'000'000'000'000'000ull + i * 1'001'000ull;  // microsecond-exact
    const uint32_t kind = rng() % 10;
    const uint32_t payload = rng() % 1200;
    const uint16_t ports[] = {22, 53, 80, 443, 8080, 1234};
    const uint16_t sport = ports[rng() % 6], dport = ports[rng() % 6];
    const uint32_t src = 0x0a000001 + rng() % 4, dst = 0x0a000001 + rng() % 4;
    switch (kind) {
      case 0: case 1: case 2: p.bytes = ipv4_packet(6, src, dst, sport, dport, payload, uint32_t(i)); break;
      case 3: case 4: p.bytes = ipv4_packet(17, src, dst, sport, dport, payload, uint32_t(i)); break;
      case 5: p.bytes = ipv4_packet(1, src, dst, 1, uint16_t(i), payload % 64, uint32_t(i)); break;
      case 6: p.bytes = ipv4_packet(6, src, dst, sport, dport, payload, uint32_t(i), 100 + int(rng() % 3)); break;
      case 7: p.bytes = ipv6_udp(dport, payload); break;
      case 8: p.bytes = arp_request(src, dst); break;
      default: p.bytes = ipv4_packet(17, src, dst, sport, dport, payload, uint32_t(i), 7); break;
    }
    p.wirelen = uint32_t(p.bytes.size());
    out.push_back(std::move(p));
  }
  return out;
}

// Writes `pkts` with libpcap's own pcap_dump (microsecond pcap). Packets longer than snaplen are
// stored truncated, with their wire length kept.
inline bool write_with_libpcap(const std::string& path, const std::vector<TestPacket>& pkts,
                               int linktype = 1, uint32_t snaplen = 262144) {
  pcap_t* p = pcap_open_dead(linktype, int(snaplen));
  if (p == nullptr) return false;
  pcap_dumper_t* d = pcap_dump_open(p, path.c_str());
  if (d == nullptr) {
    pcap_close(p);
    return false;
  }
  for (const TestPacket& t : pkts) {
    pcap_pkthdr h{};
    h.ts.tv_sec = time_t(t.ts_ns / 1'000'000'000u);
    h.ts.tv_usec = suseconds_t(t.ts_ns % 1'000'000'000u / 1000u);
    h.caplen = std::min<uint32_t>(uint32_t(t.bytes.size()), snaplen);
    h.len = t.wirelen;
    pcap_dump(reinterpret_cast<u_char*>(d), &h, t.bytes.data());
  }
  pcap_dump_close(d);
  pcap_close(p);
  return true;
}

// Reads every packet with libpcap itself (nanosecond timestamps); error text in `err`.
inline std::vector<TestPacket> read_with_libpcap(const std::string& path, std::string* err = nullptr,
                                                 int* linktype = nullptr) {
  std::vector<TestPacket> out;
  char ebuf[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, ebuf);
  if (p == nullptr) {
    if (err) *err = ebuf;
    return out;
  }
  if (linktype) *linktype = pcap_datalink(p);
  pcap_pkthdr* h;
  const u_char* d;
  int rc;
  while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
    TestPacket t;
    t.ts_ns = uint64_t(h->ts.tv_sec) * 1'000'000'000u + uint64_t(h->ts.tv_usec);
    t.wirelen = h->len;
    t.bytes.assign(d, d + h->caplen);
    out.push_back(std::move(t));
  }
  if (rc == PCAP_ERROR && err) *err = pcap_geterr(p);
  pcap_close(p);
  return out;
}

inline std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/bpfc_capture_" + std::to_string(getpid()) + "_" + name;
}

}  // namespace bpf::capture::testing
