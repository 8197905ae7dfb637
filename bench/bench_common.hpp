// Shared by the filter benchmarks (bench/*_bench.cpp): the filters, the packets laid back to
// back as a capture buffer holds them, and the results table printed at exit with the ratio of
// every engine to libpcap's bpf_filter on the same programs and packets, in the same run.
//
// To add a row (a JIT engine is picked up automatically through bpf::jit::Filter; a hand-written
// C++ filter or another engine can call record()): run the filter over workload().views inside
// the benchmark loop, then record(engine_name, filter_name, ns_per_packet).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "jit/engine.hpp"
#include "vm/insn.hpp"

namespace bpf::bench {

struct FilterSpec {
  const char* name;  // short row name
  const char* expr;  // pcap-filter(7) expression, compiled by libpcap (DLT_EN10MB, snaplen 262144)
};

// From `ip` to long tcpdump expressions.
inline constexpr FilterSpec kFilters[] = {
    {"ip", "ip"},
    {"tcp", "tcp"},
    {"tcp_port_22", "tcp port 22"},
    {"udp_port_53", "udp port 53"},
    {"host", "host 192.168.1.1"},
    {"web", "tcp port 80 or tcp port 443"},
    {"net_not_ssh", "net 10.0.0.0/8 and not port 22"},
    {"syn_fin", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0"},
    {"ip6_tcp", "ip6 and tcp"},
    {"long",
     "(tcp port 80 or tcp port 443 or udp port 53 or tcp port 22) and "
     "(net 10.0.0.0/8 or net 192.168.0.0/16) and not host 10.0.0.138"},
    {"payload", "tcp port 22 and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)"},
};
inline constexpr size_t kNumFilters = sizeof(kFilters) / sizeof(kFilters[0]);

// Typical tcpdump expressions, for compile-time benchmarks (expr_bench.cpp, equiv_bench.cpp).
inline constexpr const char* kTypicalExprs[] = {
    "tcp port 22",
    "host 10.0.0.1 and (port 22 or port 53 or port 80)",
    "ip and tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and not src net 10.0.0.0/8",
    "vlan 10 and ip6 and udp portrange 1000-2000",
    "ether host 00:11:22:33:44:55 or arp or icmp6",
    "(tcp or udp) and (port 53 or port 80) and not host 10.0.0.1",
    "ip[2:2] > 40 and ip[2:2] < 100 and ip[6:2] & 0x1fff = 0",
    "mpls 3 and ip and port 443",
};

struct Workload {
  std::vector<uint8_t> buffer;            // every packet's bytes, back to back
  std::vector<jit::PacketView> views;     // into buffer
  std::string source;                     // "corpus ether.pcap" or "generated"
};

// The packets: ../shared/corpus/ether.pcap when present, else generated Ethernet traffic.
const Workload& workload();
// libpcap's compiled program for kFilters[i] (aborts if libpcap cannot compile it).
const std::vector<vm::Insn>& program(size_t i);
// Adds a row to the table printed at exit.
void record(const std::string& engine, const std::string& filter, double ns_per_packet);

}  // namespace bpf::bench
