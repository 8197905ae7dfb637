// Live capture: AF_PACKET socket with a TPACKET_V3 mmap ring (Documentation/networking/packet_mmap.rst).
//
// Set-up order matters, and follows libpcap's pcap-linux.c: the socket is created with protocol
// 0 (it receives nothing yet), the ring is configured and mapped, the kernel filter (if any) is
// attached and optionally locked, and only then is the socket bound to the interface with
// ETH_P_ALL, so no packet enters the ring unfiltered. Fanout (PACKET_FANOUT_HASH) is joined after
// bind, as the kernel requires a running socket.
//
// Each read() hands back the previous block to the kernel (block_status = TP_STATUS_KERNEL, a
// release store) and returns the packets of the next user-owned block in place; a block is never
// held longer than it takes the capture thread to filter and store its packets.
//
// The metadata a Linux filter reads through ancillary loads comes from tpacket3_hdr and the
// sockaddr_ll after it. Like the kernel, the VLAN tag is not in the packet bytes (it was stripped
// into the skb) but in vlan_tci/vlan_tpid.
//
// On a loopback interface every packet passes the socket twice, once leaving (PACKET_OUTGOING)
// and once arriving: like libpcap (pcap-linux.c, "If this is an outgoing loopback packet, skip
// it"), the outgoing copy is dropped here, before any filter runs, so every engine, the kernel
// filter and every socket of a fanout group see each packet once. (The kernel filter still runs
// on the outgoing copy; what it accepts is dropped here, so only the count it drops is off.)
// Tested in tests/capture/live_test.cpp (veth pair in a network namespace, root only).
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "capture/source.hpp"

namespace bpf::capture {
namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

class LiveSource final : public Source {
 public:
  ~LiveSource() override {
    if (map_ != nullptr) munmap(map_, map_len_);
    if (fd_ >= 0) ::close(fd_);
  }

  bool open(const std::string& iface, const LiveOptions& o, Diagnostics& d) {
    snaplen_ = std::max<uint32_t>(o.snaplen, 1);
    nano_ = o.nano;
    ifindex_ = if_nametoindex(iface.c_str());
    if (ifindex_ == 0) {
      d.error(iface + ": no such network interface");
      return false;
    }
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      d.error(errno_text("socket(AF_PACKET)") + (errno == EPERM ? " (needs root or CAP_NET_RAW)" : ""));
      return false;
    }
    int version = TPACKET_V3;
    if (setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0) {
      d.error(errno_text("setsockopt(PACKET_VERSION, TPACKET_V3)"));
      return false;
    }
    tpacket_req3 req{};
    req.tp_block_size = o.block_bytes;
    req.tp_block_nr = o.blocks;
    req.tp_frame_size = 2048;  // only used by the kernel to size the ring (V3 packs frames)
    req.tp_frame_nr = req.tp_block_size / req.tp_frame_size * req.tp_block_nr;
    req.tp_retire_blk_tov = o.block_timeout_ms;
    req.tp_feature_req_word = TP_FT_REQ_FILL_RXHASH;
    if (setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) {
      d.error(errno_text("setsockopt(PACKET_RX_RING)"));
      return false;
    }
    map_len_ = size_t(req.tp_block_size) * req.tp_block_nr;
    map_ = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, fd_, 0);
    if (map_ == MAP_FAILED) {
      map_ = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
      if (map_ == MAP_FAILED) {
        map_ = nullptr;
        d.error(errno_text("mmap(packet ring)"));
        return false;
      }
    }
    block_bytes_ = req.tp_block_size;
    blocks_ = req.tp_block_nr;
    if (!o.kernel_filter.empty()) {
      // Programs verified for user space may be longer than the kernel takes (and than
      // sock_fprog's 16-bit length can say): the kernel's own refusal, in its words.
      if (o.kernel_filter.size() > BPF_MAXINSNS) {
        d.error("the kernel filter has " + std::to_string(o.kernel_filter.size()) +
                " instructions; Linux accepts at most " + std::to_string(BPF_MAXINSNS) +
                " (BPF_MAXINSNS)");
        return false;
      }
      sock_fprog prog{};
      prog.len = static_cast<unsigned short>(o.kernel_filter.size());
      static_assert(sizeof(sock_filter) == sizeof(vm::Insn));
      prog.filter = reinterpret_cast<sock_filter*>(const_cast<vm::Insn*>(o.kernel_filter.data()));
      if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) {
        d.error(errno_text("setsockopt(SO_ATTACH_FILTER): the kernel refused the program"));
        return false;
      }
    }
    if (o.bpf_prog_fd >= 0) {
      // The eBPF translation (capture/ebpf_attach.hpp), attached before bind like the classic one.
      if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_BPF, &o.bpf_prog_fd, sizeof o.bpf_prog_fd) != 0) {
        // A socket filter is charged to the socket's option memory: net.core.optmem_max
        // (per network namespace, 128 KiB by default) bounds it, about 16,000 eBPF instructions.
        d.error(errno == ENOMEM
                    ? errno_text("setsockopt(SO_ATTACH_BPF): the eBPF filter is larger than the "
                                 "socket option memory allows (raise net.core.optmem_max, e.g. "
                                 "sysctl -w net.core.optmem_max=4194304)")
                    : errno_text("setsockopt(SO_ATTACH_BPF): the kernel refused the eBPF filter"));
        return false;
      }
    }
    if (o.lock_filter && (!o.kernel_filter.empty() || o.bpf_prog_fd >= 0)) {
      int one = 1;
      if (setsockopt(fd_, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof one) != 0) {
        d.error(errno_text("setsockopt(SO_LOCK_FILTER)"));
        return false;
      }
    }
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(ifindex_);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
      d.error(errno_text(("bind(" + iface + ")").c_str()));
      return false;
    }
    if (o.promiscuous) {
      packet_mreq mr{};
      mr.mr_ifindex = static_cast<int>(ifindex_);
      mr.mr_type = PACKET_MR_PROMISC;
      if (setsockopt(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0) {
        d.error(errno_text("setsockopt(PACKET_ADD_MEMBERSHIP, promiscuous)"));
        return false;
      }
    }
    if (o.fanout_group != 0) {
      int arg = o.fanout_group | (PACKET_FANOUT_HASH << 16);
      if (setsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0) {
        d.error(errno_text("setsockopt(PACKET_FANOUT)"));
        return false;
      }
    }
    // Link type from the hardware type, as libpcap maps it for the common cases.
    sockaddr_ll got{};
    socklen_t len = sizeof got;
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&got), &len) == 0) hatype_ = got.sll_hatype;
    return true;
  }

  Status read(std::vector<Frame>& out, int timeout_ms) override {
    out.clear();
    if (held_) {
      block(cur_)->hdr.bh1.block_status = TP_STATUS_KERNEL;
      __atomic_thread_fence(__ATOMIC_RELEASE);
      held_ = false;
      cur_ = (cur_ + 1) % blocks_;
    }
    tpacket_block_desc* bd = block(cur_);
    if ((__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) {
      pollfd pfd{fd_, POLLIN | POLLERR, 0};
      const int rc = poll(&pfd, 1, timeout_ms);
      if (rc < 0 && errno != EINTR) {
        error_ = errno_text("poll");
        return Status::kError;
      }
      if ((__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0)
        return Status::kOk;
    }
    held_ = true;
    const uint32_t n = bd->hdr.bh1.num_pkts;
    auto* p = reinterpret_cast<uint8_t*>(bd) + bd->hdr.bh1.offset_to_first_pkt;
    out.reserve(n);
    for (uint32_t i = 0; i < n; ++i, p += reinterpret_cast<tpacket3_hdr*>(p)->tp_next_offset) {
      auto* h = reinterpret_cast<tpacket3_hdr*>(p);
      auto* sll = reinterpret_cast<sockaddr_ll*>(p + TPACKET_ALIGN(sizeof(tpacket3_hdr)));
      if (sll->sll_pkttype == PACKET_OUTGOING && sll->sll_hatype == ARPHRD_LOOPBACK) continue;
      Frame f;
      f.data = p + h->tp_mac;
      f.caplen = std::min(h->tp_snaplen, snaplen_);
      f.wirelen = h->tp_len;
      f.ts = Timestamp{h->tp_sec, nano_ ? h->tp_nsec : h->tp_nsec / 1000u};
      f.protocol = ntohs(sll->sll_protocol);
      f.pkttype = sll->sll_pkttype;
      f.ifindex = static_cast<uint32_t>(sll->sll_ifindex);
      f.hatype = sll->sll_hatype;
      f.rxhash = h->hv1.tp_rxhash;
      f.net_offset = h->tp_net >= h->tp_mac ? uint32_t(h->tp_net - h->tp_mac) : 0;
      f.live = true;
      if (h->tp_status & TP_STATUS_VLAN_VALID) {
        f.vlan_present = 1;
        f.vlan_tci = h->hv1.tp_vlan_tci;
        f.vlan_tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : ETH_P_8021Q;
      }
      out.push_back(f);
    }
    return Status::kOk;
  }

  int linktype() const override {
    switch (hatype_) {
      case 1: return 1;        // ARPHRD_ETHER -> DLT_EN10MB
      case 772: return 1;      // ARPHRD_LOOPBACK: Ethernet-framed on Linux
      case 65534: return 12;   // ARPHRD_NONE (tun) -> DLT_RAW
      default: return 1;
    }
  }
  uint32_t snaplen() const override { return snaplen_; }
  bool nano() const override { return nano_; }

  SourceCounters counters() override {
    tpacket_stats_v3 st{};
    socklen_t len = sizeof st;
    // The kernel resets its counters on every read (and adds drops into tp_packets): accumulate.
    if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
      counters_.kernel_packets += st.tp_packets;
      counters_.kernel_drops += st.tp_drops;
    }
    return counters_;
  }

 private:
  tpacket_block_desc* block(uint32_t i) const {
    return reinterpret_cast<tpacket_block_desc*>(static_cast<uint8_t*>(map_) + size_t(i) * block_bytes_);
  }

  int fd_ = -1;
  void* map_ = nullptr;
  size_t map_len_ = 0;
  uint32_t block_bytes_ = 0, blocks_ = 0, cur_ = 0;
  bool held_ = false;
  uint32_t snaplen_ = 262144;
  bool nano_ = false;
  unsigned ifindex_ = 0;
  uint16_t hatype_ = 1;
  SourceCounters counters_;
};

}  // namespace

Result<std::unique_ptr<Source>> open_live(const std::string& iface, const LiveOptions& opts) {
  Diagnostics d;
  auto s = std::make_unique<LiveSource>();
  if (!s->open(iface, opts, d)) return d;
  return std::unique_ptr<Source>(std::move(s));
}

}  // namespace bpf::capture
