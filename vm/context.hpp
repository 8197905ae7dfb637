// The per-packet context of a Linux socket filter: the socket-buffer metadata that the ancillary
// loads (`ld [SKF_AD_OFF + n]`, Documentation/networking/filter.rst) read instead of packet bytes,
// and where the network header starts (for `SKF_NET_OFF + n` loads).
//
// A Context is plain data, cheap to copy, and every field has the value a freshly received
// Ethernet frame on an unconfigured host would show, except the ones that depend on the packet
// (protocol, network-header offset, payload offset), which default to 0. Callers that replay
// captures fill what they know (capture/ does, from the link type and the packet).
//
// Decisions (documented here, tested in tests/vm/semantics_test.cpp and tests/conformance/):
// - `poff` (SKF_AD_PAY_OFFSET) is a context value, `payload_offset`. The kernel computes it with
//   its flow dissector (skb_get_poff); reproducing the dissector is out of scope for the VM, so a
//   caller that wants it supplies it. 0 is what the kernel returns when dissection fails.
// - `rand` (SKF_AD_RANDOM) returns `random` on every load (the kernel draws a new
//   prandom_u32 each time). Deterministic, so engines can be compared.
// - `cpu` returns `cpu`; `ifindex` and `hatype` return their fields, and when `has_device` is
//   false they end the program returning the current A, exactly as bpf_convert_filter's
//   "if (skb->dev == NULL) exit" (the exit returns R0 == A, not 0).
// - `nla` / `nlan` are not context values: they search the packet itself for a netlink attribute,
//   as the kernel's bpf_skb_get_nlattr{,_nest} do (see semantics.hpp).
// - The link-layer header starts at offset 0 of the packet (a SOCK_RAW packet socket);
//   `SKF_LL_OFF + n` reads packet byte n when `has_link_header`, else fails (kernel:
//   skb_mac_header_was_set). `SKF_NET_OFF + n` reads byte `net_offset + n`.
#pragma once

#include <cstdint>

namespace bpf::vm {

struct Context {
  uint16_t protocol = 0;      // SKF_AD_PROTOCOL: skb->protocol in host order (0x0800 for IPv4)
  uint8_t pkttype = 0;        // SKF_AD_PKTTYPE: PACKET_HOST (0), BROADCAST (1), ... (3 bits)
  bool has_device = true;     // skb->dev != NULL (see ifindex/hatype above)
  uint32_t ifindex = 1;       // SKF_AD_IFINDEX: skb->dev->ifindex
  uint16_t hatype = 1;        // SKF_AD_HATYPE: skb->dev->type (ARPHRD_ETHER = 1)
  uint32_t mark = 0;          // SKF_AD_MARK: skb->mark
  uint16_t queue = 0;         // SKF_AD_QUEUE: skb->queue_mapping
  uint32_t rxhash = 0;        // SKF_AD_RXHASH: skb->hash
  uint32_t cpu = 0;           // SKF_AD_CPU: raw_smp_processor_id()
  uint16_t vlan_tci = 0;      // SKF_AD_VLAN_TAG: skb->vlan_tci
  bool vlan_present = false;  // SKF_AD_VLAN_TAG_PRESENT: 0 or 1
  uint16_t vlan_tpid = 0;     // SKF_AD_VLAN_TPID: skb->vlan_proto in host order (0x8100)
  uint32_t random = 0;        // SKF_AD_RANDOM: the value every `rand` load returns
  uint32_t payload_offset = 0;  // SKF_AD_PAY_OFFSET: what skb_get_poff would return
  uint32_t net_offset = 0;      // offset of the network header in the packet (SKF_NET_OFF)
  bool has_link_header = true;  // SKF_LL_OFF loads possible (link header at offset 0)
};

}  // namespace bpf::vm
