// The three places an eBPF translation can run (../shared/CLI.md, "eBPF"): its program type, ELF
// section, return convention and the context fields the translation reads. Offsets are those of
// struct __sk_buff and struct xdp_md (include/uapi/linux/bpf.h); tests/ebpf/kernel_abi_check.cpp
// static_asserts every one against the kernel header.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace bpf::jit::ebpf {

enum class Hook : uint8_t { kSocket, kXdp, kTc };

std::optional<Hook> parse_hook(std::string_view name);  // "socket" "xdp" "tc"
std::string_view hook_name(Hook h);                     // also the ELF section name
uint32_t prog_type(Hook h);  // BPF_PROG_TYPE_SOCKET_FILTER (1), _SCHED_CLS (3), _XDP (6)

// What the program returns when the classic program returns `v`: socket filters return v (bytes
// to keep); XDP returns XDP_PASS (2) for v != 0 and XDP_DROP (1) for 0; tc (direct action)
// TC_ACT_OK (0) and TC_ACT_SHOT (2).
inline constexpr uint32_t kXdpDrop = 1, kXdpPass = 2, kTcActOk = 0, kTcActShot = 2;
constexpr uint32_t hook_verdict(Hook h, uint32_t v) {
  switch (h) {
    case Hook::kSocket: return v;
    case Hook::kXdp: return v != 0 ? kXdpPass : kXdpDrop;
    case Hook::kTc: return v != 0 ? kTcActOk : kTcActShot;
  }
  return v;
}

// struct __sk_buff (socket filters, tc)
namespace skb {
inline constexpr int16_t kLen = 0, kPktType = 4, kMark = 8, kQueueMapping = 12, kProtocol = 16,
                         kVlanPresent = 20, kVlanTci = 24, kVlanProto = 28, kIfIndex = 40,
                         kHash = 68, kData = 76, kDataEnd = 80;
}
// struct xdp_md
namespace xdp {
inline constexpr int16_t kData = 0, kDataEnd = 4, kIngressIfIndex = 12, kRxQueueIndex = 16;
}

}  // namespace bpf::jit::ebpf
