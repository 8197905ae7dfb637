// `vxlan [VNI]` (compiler/expr_gen_vxlan.cpp, libpcap 1.11's meaning; libpcap 1.10.3 here has
// no `vxlan`, so the reference is libpcap's own verdict on the inner frame): every Ethernet
// packet the expression tests generate (snapped copies included) is wrapped in VXLAN over UDP
// over IPv4 (with and without options) or IPv6, in an outer Ethernet frame (some VLAN-tagged),
// with VNIs 5/100/0/16777215; then for each expression X of the differential list that libpcap
// accepts on Ethernet, ours `vxlan and X` (and `vxlan 100 and X`, `vlan and vxlan and X`) on the
// outer frame must give libpcap's unoptimised `X` on the inner frame (libpcap does not optimise
// a program with `vxlan`, as with `geneve`), and reject when the wrapping is not VXLAN: another
// UDP port, flags other than 0x08, a non-first IPv4 fragment, another VNI, or a capture that ends
// before the inner frame. `tcp port 80` is the example of the brief: counted apart and printed.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "compiler/expr.hpp"
#include "tests/expr/expr_list.hpp"
#include "tests/expr/expr_packets.hpp"
#include "tests/expr/libpcap_ref.hpp"

namespace {

using bpf::test::TestPacket;

struct Wrapped {
  TestPacket outer;
  TestPacket inner;  // what libpcap's `X` runs on (possibly snapped, possibly empty)
  size_t hdr = 0;  // outer headers' length: the VXLAN flags byte is at hdr - 8, the VNI ends at hdr
  bool vxlan = false;  // a VXLAN packet (port 4789, flags 0x08, not a fragment)
  uint32_t vni = 0;
  bool outer_vlan = false;
};

// Outer Ethernet [+ VLAN] + IPv4/IPv6 + UDP + VXLAN header + inner frame, with its variations.
Wrapped wrap(const TestPacket& in, std::mt19937& g) {
  Wrapped w;
  const uint32_t vnis[] = {5, 100, 0, 0xffffff};
  w.vni = vnis[g() % 4];
  int variant = int(g() % 12);
  const uint16_t dport = variant == 0 ? 4790 : variant == 1 ? 8472 : 4789;
  const uint8_t flags = variant == 2 ? 0x0c : variant == 3 ? 0x00 : variant == 4 ? 0x88 : 0x08;
  const bool v6 = g() % 3 == 0;
  const bool frag = !v6 && variant == 5;
  w.vxlan = dport == 4789 && flags == 0x08 && !frag;
  std::vector<uint8_t> vx = {flags, 0, 0, 0, uint8_t(w.vni >> 16), uint8_t(w.vni >> 8),
                             uint8_t(w.vni), 0};
  std::vector<uint8_t> udp(8, 0);
  bpf::test::put16(udp, 0, uint16_t(49152 + g() % 1000));
  bpf::test::put16(udp, 2, dport);
  bpf::test::put16(udp, 4, uint16_t(16 + in.wirelen));
  udp.insert(udp.end(), vx.begin(), vx.end());
  udp.insert(udp.end(), in.data.begin(), in.data.end());
  bpf::test::NetPacket np;
  if (v6) {
    const uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
    np = {0x86dd, bpf::test::ipv6(a, a, 17, udp)};
  } else {
    np = {0x0800, bpf::test::ipv4(0x0a000001, 0x0a000002, 17, udp, frag ? 0x00b9 : 0,
                                  g() % 3 == 0 ? 2 : 0)};
  }
  const uint8_t m1[6] = {0x02, 0, 0, 0, 0, 0x01}, m2[6] = {0x02, 0, 0, 0, 0, 0x02};
  w.outer_vlan = g() % 5 == 0;
  std::vector<uint16_t> vl;
  if (w.outer_vlan) vl.push_back(7);
  w.outer.data = bpf::test::ether(m1, m2, vl, {}, np);
  const size_t hdr = w.outer.data.size() - in.data.size();
  w.hdr = hdr;
  w.outer.wirelen = uint32_t(hdr + in.wirelen);
  w.inner = in;
  // snapped: in the outer headers, or inside the inner frame
  if (g() % 4 == 0) {
    const size_t cut = g() % 2 ? size_t(g() % (hdr + 1)) : hdr + size_t(g() % (in.data.size() + 1));
    if (cut < w.outer.data.size()) {
      w.outer.data.resize(cut);
      w.inner.data.resize(cut > hdr ? cut - hdr : 0);
    }
  }
  return w;
}

bool excluded(const std::string& e) {
  // `len`, `less`, `greater` see the outer length; nested encapsulations and protochain (an
  // error after variable offsets) are not `X on the inner frame`; inbound/ifindex read no bytes.
  for (const char* w : {"len", "less", "greater", "geneve", "vxlan", "protochain", "inbound",
                        "outbound", "ifindex", "broadcast"})
    if (e.find(w) != std::string::npos) return true;
  return e.empty();
}

TEST(Vxlan, InnerVerdictIsLibpcapsOnTheInnerFrame) {
  std::mt19937 rng(4789), g(7348);
  std::vector<TestPacket> inner = bpf::test::make_packets(1, rng);
  auto corpus = bpf::test::load_corpus("ether.pcap", 600);
  inner.insert(inner.end(), corpus.begin(), corpus.end());
  // and TCP to or from port 80 (IPv4, IPv4 with options, IPv6, VLAN-tagged), the brief's example
  const uint8_t mac[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
  const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  for (int i = 0; i < 40; ++i) {
    auto t = bpf::test::transport(6, i % 2 ? 80 : 40000, i % 2 ? 40000 : 80, rng, 0x12);
    bpf::test::NetPacket np = i % 3 == 0 ? bpf::test::NetPacket{0x86dd, bpf::test::ipv6(a6, a6, 6, t)}
                                         : bpf::test::NetPacket{0x0800, bpf::test::ipv4(0x0a000001, 0xc0a80101, 6, t, 0, i % 4 == 1 ? 1 : 0)};
    TestPacket p;
    p.data = bpf::test::ether(mac, mac, i % 5 == 0 ? std::vector<uint16_t>{10} : std::vector<uint16_t>{}, {}, np);
    p.wirelen = uint32_t(p.data.size());
    inner.push_back(p);
  }
  std::vector<Wrapped> pkts;
  for (const TestPacket& p : inner) pkts.push_back(wrap(p, g));
  size_t exprs = 0, runs = 0, diffs = 0, accepted = 0, tcp80 = 0, tcp80_vx = 0;
  std::vector<const char*> xs(std::begin(bpf::test::kExprs), std::end(bpf::test::kExprs));
  xs.push_back("tcp port 80");  // the brief's example
  for (const char* x : xs) {
    const std::string e = x;
    if (excluded(e)) continue;
    auto ref = bpf::test::libpcap_program(e, 1, 0);
    if (!ref) continue;
    ++exprs;
    for (const char* form : {"vxlan and (%s)", "vxlan 100 and (%s)", "vlan and vxlan and (%s)"}) {
      char buf[512];
      std::snprintf(buf, sizeof buf, form, x);
      for (int level : {2, 0}) {
        bpf::compiler::ExprOptions o;
        o.opt_level = level;
        auto ours = bpf::compiler::compile_expression(buf, o);
        ASSERT_TRUE(ours.ok()) << buf << ": " << ours.diagnostics().render("<expr>");
        const bool want_vni = std::strstr(form, "100") != nullptr;
        const bool want_vlan = form[1] == 'l';
        size_t bad = 0;
        for (const Wrapped& w : pkts) {
          uint32_t want = 0;
          const bool outer_ok = w.vxlan && (!want_vni || w.vni == 100) && want_vlan == w.outer_vlan;
          // a capture that ends before the last VXLAN byte tested (flags, or the VNI when given)
          // rejects; after it, the verdict is libpcap's X on the captured part of the inner frame
          const size_t needed = want_vni ? w.hdr : w.hdr - 7;
          if (outer_ok && w.outer.data.size() >= needed) want = bpf::test::run_libpcap(*ref, w.inner);
          const uint32_t got = bpf::test::run_libpcap(ours->insns, w.outer);
          ++runs;
          accepted += got != 0;
          if (e == "tcp port 80" && level == 2 && form[0] == 'v' && form[6] == 'a') {
            tcp80 += got != 0;
            tcp80_vx += w.vxlan;
          }
          if ((want != 0) != (got != 0) && bad++ == 0)
            ADD_FAILURE() << "'" << buf << "' -O" << level << ": expected " << want << " (libpcap's '"
                          << e << "' on the inner frame, vxlan=" << w.vxlan << " vni=" << w.vni
                          << "), ours " << got << " (caplen " << w.outer.data.size() << " of "
                          << w.outer.wirelen << ")\nours:\n" << bpf::test::dump(ours->insns);
        }
        diffs += bad;
      }
    }
  }
  std::printf("vxlan: %zu expressions x 3 forms x 2 levels on %zu wrapped packets: %zu runs, %zu "
              "accepted, %zu differences; `vxlan and tcp port 80` accepted %zu of %zu VXLAN packets\n",
              exprs, pkts.size(), runs, accepted, diffs, tcp80, tcp80_vx);
  EXPECT_EQ(diffs, 0u);
  EXPECT_GT(exprs, 300u);
  EXPECT_GT(tcp80, 5u);
}

// The VXLAN header itself: a hand-built frame, every field that decides the verdict.
TEST(Vxlan, HeaderFieldsDecide) {
  std::mt19937 rng(1);
  std::vector<uint8_t> tcp = bpf::test::transport(6, 1234, 80, rng, 0x02);
  bpf::test::NetPacket in_ip{0x0800, bpf::test::ipv4(0xc0a80001, 0xc0a80002, 6, tcp, 0, 0)};
  const uint8_t m[6] = {0x02, 0, 0, 0, 0, 0x09};
  const std::vector<uint8_t> inner = bpf::test::ether(m, m, {}, {}, in_ip);
  auto frame = [&](uint16_t port, uint8_t flags, uint32_t vni) {
    std::vector<uint8_t> u(16, 0);
    bpf::test::put16(u, 0, 5555);
    bpf::test::put16(u, 2, port);
    bpf::test::put16(u, 4, uint16_t(16 + inner.size()));
    u[8] = flags;
    u[12] = uint8_t(vni >> 16); u[13] = uint8_t(vni >> 8); u[14] = uint8_t(vni);
    u.insert(u.end(), inner.begin(), inner.end());
    TestPacket p;
    p.data = bpf::test::ether(m, m, {}, {}, {0x0800, bpf::test::ipv4(0x0a000001, 0x0a000002, 17, u, 0, 0)});
    p.wirelen = uint32_t(p.data.size());
    return p;
  };
  struct Case { const char* e; uint16_t port; uint8_t flags; uint32_t vni; bool match; };
  const Case cases[] = {
      {"vxlan", 4789, 0x08, 42, true},          {"vxlan", 4790, 0x08, 42, false},
      {"vxlan", 4789, 0x0c, 42, false},         {"vxlan", 4789, 0x00, 42, false},
      {"vxlan 42", 4789, 0x08, 42, true},       {"vxlan 43", 4789, 0x08, 42, false},
      {"vxlan 16777215", 4789, 0x08, 0xffffff, true},
      {"vxlan and tcp port 80", 4789, 0x08, 1, true}, {"vxlan and udp", 4789, 0x08, 1, false},
      {"vxlan and ip host 192.168.0.2", 4789, 0x08, 1, true},
      {"vxlan and ip host 10.0.0.2", 4789, 0x08, 1, false},
      {"vxlan and ether host 02:00:00:00:00:09", 4789, 0x08, 1, true},
      {"udp port 4789 and not vxlan", 4789, 0x0c, 1, true},
  };
  for (const Case& c : cases) {
    for (int level : {2, 1, 0}) {
      bpf::compiler::ExprOptions o;
      o.opt_level = level;
      auto ours = bpf::compiler::compile_expression(c.e, o);
      ASSERT_TRUE(ours.ok()) << c.e;
      const uint32_t got = bpf::test::run_libpcap(ours->insns, frame(c.port, c.flags, c.vni));
      EXPECT_EQ(got != 0, c.match) << c.e << " port " << c.port << " flags " << int(c.flags)
                                   << " vni " << c.vni << " -O" << level;
    }
  }
}

}  // namespace
