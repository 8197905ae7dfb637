// The kernel as the reference for jit/ebpf/: a classic program is verified, translated for each
// hook (socket, xdp, tc), loaded with BPF_PROG_LOAD (the kernel's verifier must accept every
// translation translate() returns) and run with BPF_PROG_TEST_RUN (repeat 1) on every packet
// the test run can represent; the kernel's result must equal hook_verdict(hook, v) where v is
// our interpreter's verdict on the same bytes with the same context. Used by
// ebpf_kernel_test.cpp (conformance cases, big filter, SKF_NET_OFF, far loads) and
// ebpf_expr_kernel_test.cpp (the expression differential list).
//
// What the test run gives a program, and so what the interpreter is given (net/bpf/test_run.c):
//  - socket: bpf_prog_test_run_skb runs eth_type_trans, which pulls the Ethernet header, so
//    data_in is the frame's Ethernet header followed by the whole frame: the program sees the
//    frame from its first byte, as a packet socket does, skb->protocol and pkt_type come from
//    the frame's own header, the network header is at 0 (SKF_NET_OFF: Context::net_offset 0)
//    and the link header (SKF_LL_OFF) is the copy: byte n of it is the frame's byte n for
//    n < 14, as in our model (link header at offset 0), but past 14 it is the frame again from
//    byte 0. So under the socket hook a program with a constant SKF_LL_OFF load reaching past
//    14 bytes is loaded but not run, and a run on which an indexed load does (traced with
//    analysis::trace) is skipped.
//  - tc: the same skb with the Ethernet header pushed back: the whole frame, network header at
//    14 (Context::net_offset 14).
//  - xdp: the whole frame, no network header (Context::net_offset past any packet: fails).
//  - socket and tc get a struct __sk_buff through ctx_in: mark (what SKF_AD_MARK reads) and
//    priority vary per packet. The fields the kernel computes itself (protocol, pkt_type,
//    queue_mapping, hash, vlan_*, ifindex) are read back for every packet by a probe program
//    that copies them into cb[] (ctx_out), and become the interpreter's Context; xdp's
//    ingress_ifindex and rx_queue_index likewise. The thread is pinned to one CPU, which is
//    SKF_AD_CPU. Programs that load SKF_AD_RANDOM are loaded, not run (the kernel draws a fresh
//    prandom_u32 each time).
// A program that reads no packet byte, no length and no context field returns the same on every
// frame: it runs on a spread of 256 frames instead of all. Packets a test run cannot take are
// skipped and counted, never silently:
//  - snapped packets (caplen < wire length: a test run has no wire length) and frames under 14
//    bytes (eth_type_trans needs a header; the kernel returns EINVAL);
//  - socket and tc: data_in over 3,712 bytes (one page less NET_SKB_PAD and skb_shared_info:
//    bpf_test_init returns EINVAL; socket frames over 3,698 with the copied header); xdp: over
//    3,520 bytes (page less XDP_PACKET_HEADROOM and skb_shared_info: the rest goes into fragments,
//    which a program loaded without BPF_F_XDP_HAS_FRAGS, as ours are, never meets on a real
//    device);
//  - socket and tc: frames whose EtherType is IPv4 with fewer than 20 bytes after the Ethernet
//    header, or IPv6 with fewer than 40 (socket: the copied header, so the frame itself is short):
//    since upstream commit 12bec2bd4b76 ("bpf: reject short IPv4/IPv6 inputs in
//    bpf_prog_test_run_skb", syzbot; in 6.18 and the stable trees) bpf_prog_test_run_skb returns
//    EINVAL for them before running the program. The harness predicts exactly these and fails on
//    any other EINVAL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vm/program.hpp"

namespace bpf::test {

using Frame = std::vector<uint8_t>;

struct KernelStats {
  size_t programs = 0, translations = 0, refused = 0, loaded = 0, runs = 0, mismatches = 0;
  size_t ancillary_runs = 0;     // runs of programs with ancillary loads (ctx_in, probe)
  size_t not_run_random = 0;     // translations loaded, not run: SKF_AD_RANDOM
  size_t not_run_socket_ll = 0;  // socket translations with a constant SKF_LL_OFF load
  size_t skip_short_ip = 0;      // frames the kernel refuses (commit 12bec2bd4b76)
  size_t skip_oversize = 0;      // frames past the test run's page
  size_t skip_ll_packet = 0;     // socket: an indexed load landed in SKF_LL_OFF
  size_t frame_independent = 0;  // translations run on a spread of frames only: the
                                 // program reads no packet byte, length or context
  void add(const KernelStats& o);
};
void print_stats(const char* what, const KernelStats& st);

// Full-length frames of at least 14 bytes, duplicates removed: generated frames
// (tests/expr/expr_packets.hpp, Ethernet), examples/sample.pcap, and every packet of
// ../shared/corpus/*.pcap when present (all link types: under xdp and tc any bytes are a frame).
std::vector<Frame> kernel_frames(const std::string& source_dir);

// Whether this process may load eBPF programs; prints "SKIPPED: ..." and returns false if not.
bool kernel_available();

class KernelHarness {
 public:
  // `frames`: the packets every program runs on (kept by reference; probed once per hook).
  explicit KernelHarness(const std::vector<Frame>& frames);
  ~KernelHarness();
  // Verifies `prog` for `target` (user-space rules), translates it for each hook, loads and runs
  // it on the frames and on `extra` (not cached). Disagreements and refusals are test failures
  // (gtest ADD_FAILURE), the first 10 reported in full.
  void check(const vm::Program& prog, vm::Target target, const std::string& name, KernelStats& st,
             std::span<const Frame> extra = {});

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace bpf::test
