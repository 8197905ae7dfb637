// The Linux kernel accepts our expression programs: each is attached with SO_ATTACH_FILTER to a
// UDP socket (no privilege needed). Covers protochain, which libpcap compiles to a backward
// jump that the kernel rejects; ours is an unrolled, loop-free walk; and geneve, whose variable
// offsets live in M[] (written on every path that reads them, `geneve or ip` included: the slots
// are initialised at program start when a path where `geneve` failed reads them).
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "compiler/expr.hpp"

namespace {

bool kernel_accepts(const bpf::vm::Program& p, int* err) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    *err = errno;
    return false;
  }
  sock_fprog fp{static_cast<unsigned short>(p.insns.size()),
                reinterpret_cast<sock_filter*>(const_cast<bpf::vm::Insn*>(p.insns.data()))};
  int rc = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp);
  *err = rc == 0 ? 0 : errno;
  close(fd);
  return rc == 0;
}

TEST(ExprKernel, AcceptsProgramsIncludingProtochain) {
  const char* exprs[] = {"ip protochain 6", "ip6 protochain 17", "protochain 6",
                         "protochain 58 and host 10.0.0.1", "not protochain 44",
                         "tcp port 22", "vlan 10 and mpls 3 and ip",
                         "port 22 or port 53 or port 80 or port 443 or port 1000 or port 2000",
                         "ip[2:2] > 40 and tcp[tcpflags] & tcp-syn != 0", "inbound", "ifindex 2",
                         "geneve and ip host 10.0.0.1", "geneve 5 and tcp port 80",
                         "geneve and vlan and ether src 00:11:22:33:44:55",
                         "geneve and udp[udp[0] & 7] != 1", "geneve or ip", "not geneve and tcp port 22",
                         "geneve or vlan 10", "geneve and (geneve or ip6)", "not (geneve or udp)"};
  for (int lt : {1, 12, 113, 276}) {
    for (const char* e : exprs) {
      for (int level : {0, 1, 2}) {
        bpf::compiler::ExprOptions o;
        o.linktype = lt;
        o.opt_level = level;
        auto r = bpf::compiler::compile_expression(e, o);
        if (!r.ok()) {  // e.g. vlan on a link type without VLANs; every one compiles on EN10MB
          EXPECT_NE(lt, 1) << e << ": " << r.diagnostics().render("<expr>");
          continue;
        }
        int err = 0;
        EXPECT_TRUE(kernel_accepts(*r, &err)) << e << " linktype " << lt << " -O" << level
                                              << ": errno " << err;
      }
    }
  }
}

// The 802.11 link types (compiler/expr_gen_wlan.cpp): the radio and 802.11 header lengths are
// computed at program start into M[] (with forward jumps), every path writes what it reads.
TEST(ExprKernel, Accepts80211Programs) {
  const char* exprs[] = {"ip", "tcp port 22", "wlan host 00:11:22:33:44:55",
                         "type mgt subtype beacon", "dir tods and ip6", "ether multicast",
                         "radio[0] = 0 and ip", "vlan 5 and udp", "len > 100 and type data",
                         "wlan ta 00:11:22:33:44:55 or arp"};
  for (int lt : {105, 119, 127, 163, 192})
    for (const char* e : exprs)
      for (int level : {0, 2}) {
        bpf::compiler::ExprOptions o;
        o.linktype = lt;
        o.opt_level = level;
        auto r = bpf::compiler::compile_expression(e, o);
        if (!r.ok()) {  // radio[] on IEEE802_11 and PPI, vlan on PPI, type/dir on PPI: libpcap too
          EXPECT_TRUE(lt == 105 || lt == 192) << e << ": " << r.diagnostics().render("<expr>");
          continue;
        }
        int err = 0;
        EXPECT_TRUE(kernel_accepts(*r, &err)) << e << " linktype " << lt << " -O" << level
                                              << ": errno " << err;
      }
}

// Big filters (compiler/expr_gen_sets.cpp): a 1,000-host list compiles to a search that fits
// the kernel's 4,096 instructions (libpcap's program for it has 5,759 at -O1, 29,938 at -O0),
// and so do 1,000 nets and 500 ports with ranges; the kernel accepts them.
TEST(ExprKernel, AcceptsThousandHostLists) {
  uint32_t x = 12345;
  auto next = [&] { return x = x * 1103515245u + 12345u; };
  auto ip = [](uint32_t a) {
    return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
           std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
  };
  std::string hosts, nets, ports;
  for (int i = 0; i < 1000; ++i) {
    hosts += (i ? " or host " : "host ") + ip(0x0a000000u | (next() >> 8));
    nets += (i ? " or net " : "net ") + ip((0x0a000000u | (next() >> 8)) & 0xffffff00u) + "/24";
    if (i < 500) {
      const uint32_t p = 1 + (next() >> 8) % 60000;
      ports += (i ? " or " : "") + (i % 4 ? "port " + std::to_string(p)
                                          : "portrange " + std::to_string(p) + "-" + std::to_string(p + 40));
    }
  }
  for (const std::string& e : {hosts, nets, ports, "not (" + hosts + ")", "tcp and (" + hosts + ")"}) {
    auto r = bpf::compiler::compile_expression(e, {});
    ASSERT_TRUE(r.ok()) << r.diagnostics().render("<expr>").substr(0, 300);
    EXPECT_LE(r->insns.size(), 4096u) << e.substr(0, 40);
    int err = 0;
    EXPECT_TRUE(kernel_accepts(*r, &err)) << e.substr(0, 40) << ": errno " << err << ", "
                                          << r->insns.size() << " instructions";
  }
}

// The serial, ATM and 802.x link types (compiler/expr_gen_serial.cpp, expr_gen_atm.cpp,
// expr_gen_lan.cpp): their keywords' programs at every level.
TEST(ExprKernel, AcceptsProgramsOfMoreLinkTypes) {
  const char* exprs[] = {"ip and tcp port 80", "ip6 or arp", "lane and ip host 10.0.0.1",
                         "vpi 0 and vci 5", "connectmsg or metaconnect", "oam or ilmic",
                         "fddi host 00:11:22:33:44:55", "tr broadcast", "link host $12",
                         "inbound", "outbound and udp", "iso or stp or ipx", "pppoes and ip",
                         "mpls and tcp", "llc and ip6", "lane and vlan and ether multicast"};
  size_t accepted = 0;
  for (int lt : {9, 50, 51, 104, 107, 8, 7, 129, 123, 10, 6, 226}) {
    for (const char* e : exprs) {
      for (int level : {0, 1, 2}) {
        bpf::compiler::ExprOptions o;
        o.linktype = lt;
        o.opt_level = level;
        auto r = bpf::compiler::compile_expression(e, o);
        if (!r.ok()) continue;  // a keyword of another link type
        int err = 0;
        EXPECT_TRUE(kernel_accepts(*r, &err)) << e << " linktype " << lt << " -O" << level
                                              << ": errno " << err;
        ++accepted;
      }
    }
  }
  EXPECT_GT(accepted, 200u);
}

}  // namespace

// IPv6 lists (compiler/expr_gen_sets_ip6.cpp): 1,000 hosts of one /96 as a `host` list
// (3,578 instructions; libpcap -O1: 17,973) and as a `src host` list fit and the kernel accepts
// them. Under 4,096 is not always enough: 1,000 hosts of one /64 as a `src host` list (3,295
// instructions, about 1,300 of them loads) is refused with ENOMEM, as the kernel turns each
// absolute load into several eBPF instructions and charges the result against optmem_max.
// 1,000 random IPv6 hosts do not fit (about 17.7 instructions per member for `host`, 7.3 for
// `src host`: each member's four words are constants of each field's search).
TEST(ExprKernel, Ipv6HostLists) {
  uint32_t x = 4242;
  auto next = [&] { return x = x * 1103515245u + 12345u; };
  auto hex = [](uint32_t v) {
    char b[8];
    std::snprintf(b, sizeof b, "%x", v & 0xffff);
    return std::string(b);
  };
  std::string s96, s96src, rnd;
  for (int i = 0; i < 1000; ++i) {
    s96 += (i ? " or host 2001:db8::" : "host 2001:db8::") + hex(next() >> 8) + ":" + hex(next() >> 8);
    s96src += (i ? " or src host 2001:db8::" : "src host 2001:db8::") + hex(next() >> 8) + ":" + hex(next() >> 8);
    std::string a;
    for (int k = 0; k < 8; ++k) a += (k ? ":" : "") + hex(next() >> 8);
    rnd += (i ? " or host " : "host ") + a;
  }
  for (const std::string& e : {s96, s96src, "not (" + s96 + ")", "tcp and (" + s96src + ")"}) {
    auto r = bpf::compiler::compile_expression(e, {});
    ASSERT_TRUE(r.ok()) << r.diagnostics().render("<expr>").substr(0, 300);
    EXPECT_LE(r->insns.size(), 4096u) << e.substr(0, 40);
    int err = 0;
    EXPECT_TRUE(kernel_accepts(*r, &err)) << e.substr(0, 40) << ": errno " << err << ", "
                                          << r->insns.size() << " instructions";
  }
  auto r = bpf::compiler::compile_expression(rnd, {});
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->insns.size(), 4096u);
  int err = 0;
  EXPECT_FALSE(kernel_accepts(*r, &err));
  std::printf("1,000 IPv6 hosts: one /96 %s; random: %zu instructions (over 4,096)\n",
              "fits", r->insns.size());
}
