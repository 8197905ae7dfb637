// The ancillary context (vm::Context) of a captured packet, for filters that use Linux ancillary
// loads or SKF_NET_OFF/SKF_LL_OFF offsets. Live packets carry the kernel's values (tpacket3_hdr
// and sockaddr_ll: protocol, pkttype, ifindex, hatype, rxhash, VLAN tag stripped by the kernel,
// network-header offset). For packets read from a file, the kernel's skb fields are derived from
// the link-layer header as packet_rcv would have seen them: protocol from the ethertype (EN10MB,
// LINUX_SLL, LINUX_SLL2) or the IP version (RAW), net_offset after the link header, pkttype
// PACKET_HOST unless a pcapng record states the direction (epb_flags: inbound PACKET_HOST,
// outbound PACKET_OUTGOING), no VLAN offload (the tag stays in the bytes).
// Tested through tests/capture/capture_test.cpp (ancillary filters on files).
#pragma once

#include <string>
#include <vector>

#include "capture/source.hpp"
#include "vm/ancillary.hpp"
#include "vm/context.hpp"
#include "vm/insn.hpp"

namespace bpf::capture {

inline vm::Context make_context(const Frame& f, int linktype) {
  vm::Context c;
  if (f.live) {
    c.protocol = f.protocol;
    c.pkttype = f.pkttype;
    c.ifindex = f.ifindex;
    c.hatype = f.hatype;
    c.rxhash = f.rxhash;
    c.vlan_present = f.vlan_present != 0;
    c.vlan_tci = f.vlan_tci;
    c.vlan_tpid = f.vlan_tpid;
    c.net_offset = f.net_offset;
    return c;
  }
  auto be16 = [&](uint32_t off) -> uint16_t {
    return off + 2 <= f.caplen ? uint16_t(f.data[off] << 8 | f.data[off + 1]) : 0;
  };
  switch (linktype) {
    case 1:  // DLT_EN10MB
      c.protocol = be16(12);
      c.net_offset = 14;
      break;
    case 113:  // DLT_LINUX_SLL
      c.protocol = be16(14);
      c.net_offset = 16;
      c.pkttype = static_cast<uint8_t>(be16(0));
      c.hatype = be16(2);
      break;
    case 276:  // DLT_LINUX_SLL2: protocol, reserved, ifindex, hatype, pkttype, addr length
      c.protocol = be16(0);
      c.net_offset = 20;
      c.ifindex = f.caplen >= 8 ? uint32_t(be16(4)) << 16 | be16(6) : 0;
      c.hatype = be16(8);
      c.pkttype = f.caplen > 10 ? f.data[10] : 0;
      break;
    case 12: case 14: case 101:  // DLT_RAW
      c.protocol = (f.caplen > 0 && (f.data[0] >> 4) == 6) ? 0x86dd : 0x0800;
      c.net_offset = 0;
      c.has_link_header = false;
      c.hatype = 65534;  // ARPHRD_NONE
      break;
    default:
      break;
  }
  // pcapng epb_flags where the link header does not say it (LINUX_SLL and SLL2 do).
  if (linktype != 113 && linktype != 276) {
    if (f.direction == Direction::kInbound) c.pkttype = 0;        // PACKET_HOST
    else if (f.direction == Direction::kOutbound) c.pkttype = 4;  // PACKET_OUTGOING
  }
  return c;
}

// The Linux ancillary fields a file of `linktype` does not record in its link header: the
// packet's direction (SKF_AD_PKTTYPE: `inbound`, `outbound`) everywhere but LINUX_SLL and
// LINUX_SLL2, its interface (SKF_AD_IFINDEX: `ifindex`) everywhere but LINUX_SLL2. A program
// that reads one would run on a made-up value, so bpfdump refuses it on such files ("" when none
// is read) -- except the direction in a pcapng file whose records state it (epb_flags):
// `direction_per_record` says the source checks each record (Source::require_direction).
inline std::string unrecorded_ancillary(const std::vector<vm::Insn>& prog, int linktype,
                                        bool direction_per_record = false) {
  for (const vm::Insn& i : prog) {
    if (vm::code::cls(i.code) != vm::code::kLd || vm::code::mode(i.code) != vm::code::kAbs) continue;
    if (i.k == vm::kSkfAdOff + 4 && linktype != 113 && linktype != 276 && !direction_per_record)
      return "the packet's direction (`inbound`, `outbound`, SKF_AD_PKTTYPE)";
    if (i.k == vm::kSkfAdOff + 8 && linktype != 276)
      return "the packet's interface (`ifindex`, SKF_AD_IFINDEX)";
  }
  return "";
}

// Whether `prog` reads the packet's direction (SKF_AD_PKTTYPE).
inline bool reads_direction(const std::vector<vm::Insn>& prog) {
  for (const vm::Insn& i : prog)
    if (vm::code::cls(i.code) == vm::code::kLd && vm::code::mode(i.code) == vm::code::kAbs &&
        i.k == vm::kSkfAdOff + 4)
      return true;
  return false;
}

}  // namespace bpf::capture
