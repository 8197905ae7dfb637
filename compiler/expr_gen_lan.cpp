// FDDI and token ring (and SunATM's LLC payload), after libpcap 1.10.3's gencode.c: the 802.2
// LLC link-layer type test (gen_llc_linktype), their MAC addresses (gen_fhostop, gen_thostop),
// link-layer broadcast and multicast (gen_broadcast, gen_multicast: ARCnet too) and `llc` on
// these links (gen_llc_internal). Offsets are in expr_gen_serial.cpp's init_link_more.
//  - FDDI: frame control byte at 0, destination at 1, source at 7, LLC at 13; token ring:
//    access/frame control at 0-1, destination at 2, source at 8, LLC at 14 (libpcap assumes no
//    source routing);
//  - an EtherType is looked for only where a SNAP header with OUI 0 would put it (LLC + 6),
//    without checking the SNAP header; AppleTalk checks the whole SNAP header (OUI 08:00:07);
//    the SAPs of OSI, IP and NetBEUI check DSAP and SSAP, IPX and other SAPs the DSAP only;
//  - `llc` is always true on FDDI and token ring (libpcap: "XXX - check for LLC frames").
// Tested by tests/expr/linktypes_test.cpp against pcap_compile + bpf_filter.
#include <string>

#include "compiler/expr_gen.hpp"

namespace bpf::compiler::detail {

// libpcap's message for an 802.11 address qualifier on another link's MAC addresses.
std::string wlan_qualifier_error(QDir dir) {
  switch (dir) {
    case QDir::kAddr1: return "'addr1' and 'address1' are only supported on 802.11";
    case QDir::kAddr2: return "'addr2' and 'address2' are only supported on 802.11";
    case QDir::kAddr3: return "'addr3' and 'address3' are only supported on 802.11";
    case QDir::kAddr4: return "'addr4' and 'address4' are only supported on 802.11";
    case QDir::kRa: return "'ra' is only supported on 802.11";
    default: return "'ta' is only supported on 802.11";
  }
}

Cond Gen::llc_linktype(uint32_t proto) {
  switch (proto) {
    case kLlcSapIp:
    case kLlcSapIsons:
    case kLlcSapNetbeui:
      return cmp(Rel::kLlc, 0, 2, (proto << 8) | proto);
    case kLlcSapIpx:
      return cmp(Rel::kLlc, 0, 1, kLlcSapIpx);
    case kEtAtalk:
      return snap(0x080007, kEtAtalk);
    default:
      if (proto <= kEtherMtu) return cmp(Rel::kLlc, 0, 1, proto);
      return cmp(Rel::kLlc, 6, 2, proto);
  }
}

Cond Gen::lan_hostop(const uint8_t* ea, QDir dir) {
  const uint32_t dst = dlt_ == kDltFddi ? 1 : 2, src = dlt_ == kDltFddi ? 7 : 8;
  switch (dir) {
    case QDir::kSrc: return bcmp(Rel::kLinkHdr, src, ea, 6);
    case QDir::kDst: return bcmp(Rel::kLinkHdr, dst, ea, 6);
    case QDir::kAnd: {
      Cond b0 = lan_hostop(ea, QDir::kSrc);
      return and_(b0, lan_hostop(ea, QDir::kDst));
    }
    case QDir::kDefault:
    case QDir::kOr: {
      Cond b0 = lan_hostop(ea, QDir::kSrc);
      return or_(b0, lan_hostop(ea, QDir::kDst));
    }
    default: fail(wlan_qualifier_error(dir));
  }
}

// Link-layer broadcast (the all-ones destination; ARCnet: destination 0) and multicast (the
// group bit of the destination; ARCnet: as broadcast).
std::optional<Cond> Gen::lan_cast(bool multicast) {
  static const uint8_t kBcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  switch (dlt_) {
    case kDltArcnet:
    case kDltArcnetLinux:
      return ahostop(0, QDir::kDst);
    case kDltFddi:
    case kDltIeee802: {
      const uint32_t dst = dlt_ == kDltFddi ? 1 : 2;
      if (multicast) return test(load(Rel::kLinkHdr, dst, 1), c::kJset, 1);
      return bcmp(Rel::kLinkHdr, dst, kBcast, 6);
    }
  }
  return std::nullopt;
}

Cond Gen::llc_base() {
  switch (dlt_) {
    case kDltSunatm: {
      // gen_atmtype_abbrev(A_LLC): LLC-encapsulated, and the link type goes back to what it
      // was before the last pushed header.
      Cond b = atm_field(/*A_PROTOTYPE*/ 2, /*PT_LLC*/ 2, c::kJeq, false);
      dlt_ = prev_dlt_;
      return b;
    }
    case kDltFddi:
    case kDltIeee802:
      return uncond(true);
  }
  fail(std::string("'llc' not supported for ") + link_name());
}

}  // namespace bpf::compiler::detail
