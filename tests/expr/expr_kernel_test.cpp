// The Linux kernel accepts our expression programs: each is attached with SO_ATTACH_FILTER to a
// UDP socket (no privilege needed). Covers protochain, which libpcap compiles to a backward
// jump that the kernel rejects; ours is an unrolled, loop-free walk; and geneve, whose variable
// offsets live in M[] (written on every path that reads them, `geneve or ip` included: the slots
// are initialised at program start when a path where `geneve` failed reads them).
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <sys/socket.h>
#include <unistd.h>

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

}  // namespace
