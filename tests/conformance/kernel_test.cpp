// Linux semantics against the running kernel: random valid Linux programs are attached with
// SO_ATTACH_FILTER to an AF_PACKET socket on the loopback device of a private network namespace,
// frames are sent through lo, and the length the kernel delivers (min(return value, frame
// length), nothing when the program returns 0) must equal what every engine computes with
// the matching vm::Context (protocol = ethertype, pkttype from the destination MAC as
// eth_type_trans sets it, ifindex of lo, hatype ARPHRD_LOOPBACK, network header at 14).
//
// Frames use ethertypes no protocol handler claims (no IP/ARP replies, no VLAN untagging), and
// the programs use only ancillary fields that are defined for such frames (not cpu, random,
// rxhash, queue, poff, vlan_tpid). A witness socket without a filter tells when the kernel has
// processed each frame. Needs root (CAP_NET_ADMIN, CAP_NET_RAW) and unshare(CLONE_NEWNET):
// prints SKIPPED otherwise.
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>

#include "jit/engine.hpp"
#include "tests/support/packet_gen.hpp"
#include "tests/support/program_gen.hpp"
#include "verifier/verifier.hpp"
#include "vm/semantics.hpp"

namespace bpf::test {
namespace {

constexpr int kPacketIgnoreOutgoing = 23;  // PACKET_IGNORE_OUTGOING (Linux 4.20)
constexpr uint16_t kArphrdLoopback = 772;

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// Brings lo up in the current (private) namespace; returns its ifindex or 0.
unsigned lo_up() {
  Fd s(socket(AF_INET, SOCK_DGRAM, 0));
  if (s.fd < 0) return 0;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s.fd, SIOCGIFFLAGS, &ifr) < 0) return 0;
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s.fd, SIOCSIFFLAGS, &ifr) < 0) return 0;
  return if_nametoindex("lo");
}

int packet_socket(unsigned ifindex, bool bind_now) {
  int fd = socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: no packets until bound
  if (fd < 0) return -1;
  int one = 1;
  if (setsockopt(fd, SOL_PACKET, kPacketIgnoreOutgoing, &one, sizeof one) < 0) {
    close(fd);
    return -1;
  }
  if (bind_now) {
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = int(ifindex);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) {
      close(fd);
      return -1;
    }
  }
  return fd;
}

bool bind_all(int fd, unsigned ifindex) {
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = int(ifindex);
  return bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) == 0;
}

void drain(int fd) {
  uint8_t buf[70000];
  while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0) {
  }
}

// eth_type_trans on a device whose address is 00:00:00:00:00:00 (lo).
uint8_t pkttype_for(const std::vector<uint8_t>& f) {
  if (f[0] & 1) {
    bool bcast = true;
    for (int i = 0; i < 6; ++i) bcast &= f[i] == 0xff;
    return bcast ? 1 : 2;  // PACKET_BROADCAST : PACKET_MULTICAST
  }
  for (int i = 0; i < 6; ++i)
    if (f[i]) return 3;  // PACKET_OTHERHOST
  return 0;              // PACKET_HOST
}

// A frame with an unclaimed ethertype (>= 0x600, not IP/ARP/IPv6/VLAN/...).
std::vector<uint8_t> frame(Rng& rng, uint32_t seq) {
  Packet p = chance(rng, 50) ? ethernet_frame(rng) : random_bytes(rng, 200);
  std::vector<uint8_t> f = std::move(p.data);
  if (f.size() < 18) f.resize(18 + below(rng, 8));
  switch (below(rng, 5)) {  // destination: other host, lo's own, broadcast, multicast
    case 0: std::memset(f.data(), 0, 6); break;
    case 1: std::memset(f.data(), 0xff, 6); break;
    case 2: f[0] |= 1; break;
    default: f[0] &= 0xfe; if (!f[1]) f[1] = 1; break;
  }
  f[6] = 0x02;  // source: locally administered, carries the sequence number
  f[7] = uint8_t(seq >> 24); f[8] = uint8_t(seq >> 16); f[9] = uint8_t(seq >> 8);
  f[10] = uint8_t(seq); f[11] = 0x5a;
  static constexpr uint16_t kTypes[] = {0x88b5, 0x88b6, 0x9000, 0x0800 + 0x7000, 0x1234, 0xfffe};
  uint16_t type = kTypes[below(rng, std::size(kTypes))];
  f[12] = uint8_t(type >> 8);
  f[13] = uint8_t(type);
  return f;
}

TEST(Kernel, LinuxSemanticsMatchSoAttachFilter) {
  if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: needs root for AF_PACKET and a network namespace";
  if (unshare(CLONE_NEWNET) != 0) GTEST_SKIP() << "SKIPPED: unshare(CLONE_NEWNET) failed: " << strerror(errno);
  unsigned lo = lo_up();
  if (!lo) GTEST_SKIP() << "SKIPPED: cannot bring lo up in the new namespace";
  Fd tx(socket(AF_PACKET, SOCK_RAW, 0));
  Fd witness(packet_socket(lo, true));
  if (tx.fd < 0 || witness.fd < 0)
    GTEST_SKIP() << "SKIPPED: AF_PACKET sockets or PACKET_IGNORE_OUTGOING unavailable";

  std::vector<jit::Engine> engines;
  for (jit::Engine e : jit::kAllEngines)
    if (e != jit::Engine::kAuto && jit::available(e)) engines.push_back(e);

  Rng rng(777);
  GenOptions o;
  o.target = vm::Target::kLinux;
  o.max_len = 32;
  using A = vm::Ancillary;
  o.ancillary_mask = 0;
  for (A a : {A::kProtocol, A::kPktType, A::kIfIndex, A::kHaType, A::kMark, A::kVlanTag,
              A::kVlanTagPresent, A::kAluXorX, A::kNlAttr, A::kNlAttrNest})
    o.ancillary_mask |= 1u << static_cast<unsigned>(a);

  size_t pairs = 0, accepted = 0, rejected_by_kernel = 0, failures = 0;
  uint32_t seq = 0;
  uint8_t buf[70000];
  for (int prog_i = 0; prog_i < 150 && failures < 5; ++prog_i) {
    auto insns = random_program(rng, o);
    vm::Program prog;
    prog.insns = insns;
    auto vp = verifier::verify(prog, verifier::Options{});
    ASSERT_TRUE(vp) << vp.diagnostics().render("<gen>");
    std::vector<jit::Filter> filters;
    for (jit::Engine e : engines) {
      auto f = jit::Filter::compile(*vp, e);
      ASSERT_TRUE(f);
      filters.push_back(f.take());
    }
    Fd rx(packet_socket(lo, false));
    ASSERT_GE(rx.fd, 0);
    sock_fprog fp{uint16_t(insns.size()), reinterpret_cast<sock_filter*>(insns.data())};
    if (setsockopt(rx.fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp) != 0) {
      ++rejected_by_kernel;
      ADD_FAILURE() << "kernel rejected a program our Linux verifier accepted: " << strerror(errno);
      continue;
    }
    ASSERT_TRUE(bind_all(rx.fd, lo));
    drain(witness.fd);
    for (int k = 0; k < 40; ++k) {
      std::vector<uint8_t> f = frame(rng, ++seq);
      sockaddr_ll to{};
      to.sll_family = AF_PACKET;
      to.sll_ifindex = int(lo);
      to.sll_halen = 6;
      std::memcpy(to.sll_addr, f.data(), 6);
      to.sll_protocol = htons(uint16_t(f[12] << 8 | f[13]));
      ASSERT_EQ(sendto(tx.fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
                ssize_t(f.size()))
          << strerror(errno);
      // Wait until the witness has seen this frame: the filtered socket has run its program.
      bool seen = false;
      for (int tries = 0; tries < 100 && !seen; ++tries) {
        pollfd pfd{witness.fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0) continue;
        ssize_t n = recv(witness.fd, buf, sizeof buf, 0);
        seen = n == ssize_t(f.size()) && std::memcmp(buf, f.data(), f.size()) == 0;
      }
      ASSERT_TRUE(seen) << "frame " << seq << " never came back through lo";
      ssize_t got = recv(rx.fd, buf, sizeof buf, MSG_DONTWAIT);
      uint32_t kernel_len = got < 0 ? 0 : uint32_t(got);
      if (got >= 0) {
        ASSERT_EQ(std::memcmp(buf, f.data(), size_t(got)), 0) << "unexpected frame on the filtered socket";
      }
      vm::Context ctx;
      ctx.protocol = uint16_t(f[12] << 8 | f[13]);
      ctx.pkttype = pkttype_for(f);
      ctx.ifindex = lo;
      ctx.hatype = kArphrdLoopback;
      ctx.net_offset = 14;
      const uint32_t len = uint32_t(f.size());
      uint32_t spec = vm::evaluate(insns, vm::Target::kLinux, f.data(), len, len, ctx);
      uint32_t spec_len = std::min(spec, len);
      ++pairs;
      accepted += kernel_len != 0;
      if (spec_len != kernel_len && failures++ < 5) {
        std::string dump;
        for (const auto& in : insns)
          dump += "  { " + std::to_string(in.code) + ", " + std::to_string(in.jt) + ", " +
                  std::to_string(in.jf) + ", " + std::to_string(in.k) + " }\n";
        ADD_FAILURE() << "kernel delivered " << kernel_len << " bytes, vm::evaluate says "
                      << spec << " (frame " << len << " bytes)\n" << dump;
      }
      for (const jit::Filter& flt : filters)
        EXPECT_EQ(std::min(flt.run(f.data(), len, len, ctx), len), kernel_len)
            << "engine " << jit::engine_name(flt.engine());
    }
  }
  std::printf("kernel: %zu (program, frame) pairs, %zu delivered, %zu programs rejected\n", pairs,
              accepted, rejected_by_kernel);
  EXPECT_GT(accepted, pairs / 20);
  EXPECT_LT(accepted, pairs);
}

}  // namespace
}  // namespace bpf::test
