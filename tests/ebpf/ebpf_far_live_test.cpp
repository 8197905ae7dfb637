// Loads past the first 65,535 bytes, where the translation leaves direct packet access for
// bpf_skb_load_bytes (tc) and bpf_xdp_load_bytes (xdp), checked live: BPF_PROG_TEST_RUN takes
// at most a page, but the loopback device's MTU (65,536) carries a 65,507-byte UDP datagram as
// one 65,549-byte frame. In a child process in a fresh network namespace (the host's devices are
// untouched) each translation is attached to lo (tc: clsact ingress, direct action; xdp: generic
// mode; socket: SO_ATTACH_BPF on an AF_PACKET socket), two datagrams are sent to a UDP socket on
// 127.0.0.1 whose payloads differ only in the bytes the program reads, and what arrives must be
// what the interpreter says on the same frame (every program reads payload bytes only, so the
// frame is rebuilt exactly from the payload). Under xdp a load starting past byte 65,535
// rejects (bpf_xdp_load_bytes refuses such offsets, translate.hpp): there the interpreter runs on
// the frame captured to 65,536 bytes (loads here start past 65,535 or end by 65,536). Needs
// root: prints SKIPPED otherwise.
#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "compiler/assembler.hpp"
#include "jit/ebpf/translate.hpp"
#include "tests/ebpf/bpf_syscall.hpp"
#include "verifier/verifier.hpp"
#include "vm/interpreter.hpp"

namespace bpf::test {
namespace {

using jit::ebpf::Hook;
constexpr size_t kPayload = 65507, kHeaders = 14 + 20 + 8, kFrame = kHeaders + kPayload;  // 65,549
constexpr uint16_t kPort = 40999;

// Each reads bytes past 65,535 (or straddles it) and accepts on the first payload, rejects on
// the second (the interpreter decides; the test checks both verdicts occur).
const char* const kPrograms[] = {
    "ldb [65540]\njeq #0x5a, a, r\na: ret #0xffffffff\nr: ret #0\n",
    "ldh [65534]\njeq #0x5a5b, a, r\na: ret #0xffffffff\nr: ret #0\n",
    "ld [65544]\njeq #0x01020304, a, r\na: ret #0xffffffff\nr: ret #0\n",
    "ldx #65530\nld [x + 10]\njeq #0x01020304, a, r\na: ret #0xffffffff\nr: ret #0\n",
    "ldb [100]\njeq #0x77, b, r\nb: ldb [65548]\njeq #0x66, a, r\na: ret #0xffffffff\nr: ret #0\n",
    "ldb [65549]\nret #0xffffffff\n",  // one past the frame: rejects both
    "ld len\njeq #65549, a, r\na: ret #0xffffffff\nr: ret #0\n",
    "ldb [65000]\nldh [65534]\nret #0xffffffff\n",
};

std::vector<uint8_t> payload(bool accept) {
  std::vector<uint8_t> p(kPayload, 0x11);
  auto at = [&](size_t frame_off) -> uint8_t& { return p[frame_off - kHeaders]; };
  at(100) = 0x77;
  if (!accept) return p;
  at(65534) = 0x5a;
  at(65535) = 0x5b;
  at(65540) = 0x5a;
  at(65544) = 1;
  at(65545) = 2;
  at(65546) = 3;
  at(65547) = 4;
  at(65548) = 0x66;
  return p;
}

// The frame lo carries (Ethernet header of zeros and type IPv4, IPv4, UDP): the programs read
// only the payload, so the header bytes the stack picks (IP id, checksums) do not matter.
std::vector<uint8_t> frame(const std::vector<uint8_t>& pl) {
  std::vector<uint8_t> f(kHeaders, 0);
  f[12] = 0x08;
  f[14] = 0x45;
  f.insert(f.end(), pl.begin(), pl.end());
  return f;
}

bool lo_up() {
  const int s = socket(AF_INET, SOCK_DGRAM, 0);
  ifreq r{};
  std::strcpy(r.ifr_name, "lo");
  bool ok = ioctl(s, SIOCGIFFLAGS, &r) == 0;
  r.ifr_flags |= IFF_UP;
  ok = ok && ioctl(s, SIOCSIFFLAGS, &r) == 0;
  close(s);
  return ok;
}

// In the child: attach, send both datagrams, report which arrived (bit 0: first, bit 1: second)
// as the exit status; 100+ on a setup failure.
int child(const jit::ebpf::EbpfProgram& e) {
  if (unshare(CLONE_NEWNET) != 0 || !lo_up()) return 100;
  LoadedProg l = load_ebpf(e);
  if (!l.ok()) return 101;
  int pkt = -1;
  if (e.hook == Hook::kTc) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 1, .attach_point = BPF_TC_INGRESS);
    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = l.fd);
    if (bpf_tc_hook_create(&hook) != 0 || bpf_tc_attach(&hook, &opts) != 0) return 102;
  } else if (e.hook == Hook::kXdp) {
    if (bpf_xdp_attach(1, l.fd, XDP_FLAGS_SKB_MODE, nullptr) != 0) return 103;
  } else {
    pkt = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    int big = 1 << 22;
    setsockopt(pkt, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (pkt < 0 || setsockopt(pkt, SOL_SOCKET, SO_ATTACH_BPF, &l.fd, sizeof l.fd) != 0) return 104;
  }
  const int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
  int big = 1 << 22;
  setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(tx, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kPort);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(rx, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 105;
  timeval tv{0, 100000};  // lo delivers before sendto returns
  setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(pkt, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int got = 0;
  std::vector<uint8_t> buf(kFrame + 16);
  for (int which = 0; which < 2; ++which) {
    const auto pl = payload(which == 0);
    if (sendto(tx, pl.data(), pl.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) !=
        static_cast<ssize_t>(pl.size()))
      return 106;
    if (e.hook == Hook::kSocket) {  // what the filtered packet socket passes (lo: twice)
      for (int tries = 0; tries < 4; ++tries) {
        const ssize_t n = recv(pkt, buf.data(), buf.size(), 0);
        if (n < 0) break;
        if (static_cast<size_t>(n) == kFrame &&
            std::memcmp(buf.data() + kHeaders, pl.data(), kPayload) == 0) {
          got |= 1 << which;
          break;
        }
      }
      if (recv(rx, buf.data(), buf.size(), 0) != static_cast<ssize_t>(kPayload)) return 107;
    } else if (recv(rx, buf.data(), buf.size(), 0) == static_cast<ssize_t>(kPayload) &&
               std::memcmp(buf.data(), pl.data(), kPayload) == 0) {
      got |= 1 << which;
    }
  }
  return got;
}

TEST(EbpfFarLive, LoadsPast64KiBOnLoopback) {
  std::string why;
  if (!can_load_bpf(&why)) {
    std::printf("SKIPPED: cannot load eBPF programs: %s\n", why.c_str());
    GTEST_SKIP() << why;
  }
  size_t checked = 0, accepted = 0, rejected = 0;
  for (const char* src : kPrograms) {
    auto prog = compiler::assemble(src);
    ASSERT_TRUE(prog.ok()) << src;
    verifier::Options vo;
    vo.destination = verifier::Destination::kUserSpace;
    auto v = verifier::verify(*prog, vo);
    ASSERT_TRUE(v.ok()) << src;
    vm::Interpreter interp(*v);
    int want = 0, want_xdp = 0;
    for (int which = 0; which < 2; ++which) {
      const auto f = frame(payload(which == 0));
      if (interp.run(f.data(), uint32_t(f.size()), uint32_t(f.size()), vm::Context{}) != 0)
        want |= 1 << which;
      if (interp.run(f.data(), 65536, uint32_t(f.size()), vm::Context{}) != 0)
        want_xdp |= 1 << which;
    }
    for (Hook h : {Hook::kSocket, Hook::kTc, Hook::kXdp}) {
      auto e = jit::ebpf::translate(*v, h);
      ASSERT_TRUE(e.ok()) << src;
      const pid_t pid = fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) _exit(child(*e));
      int status = 0;
      waitpid(pid, &status, 0);
      ASSERT_TRUE(WIFEXITED(status));
      const int got = WEXITSTATUS(status);
      ASSERT_LT(got, 100) << "setup failed (" << got << ") for hook " << jit::ebpf::hook_name(h);
      EXPECT_EQ(got, h == Hook::kXdp ? want_xdp : want)
          << src << " (hook " << jit::ebpf::hook_name(h)
          << "): bit 0 = first datagram delivered, bit 1 = second";
      ++checked;
    }
    accepted += (want & 1) + (want >> 1 & 1);
    rejected += 2 - ((want & 1) + (want >> 1 & 1));
  }
  std::printf(
      "%zu translations attached to lo, 2 frames of %zu bytes each: %zu accepted, %zu "
      "rejected by the interpreter, the kernel agreeing on all\n",
      checked, kFrame, accepted, rejected);
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(rejected, 0u);
}

}  // namespace
}  // namespace bpf::test
