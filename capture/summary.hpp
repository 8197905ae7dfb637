// One-line packet summaries in tcpdump's style (`bpfdump` without -w):
//   14:03:07.123456 IP 10.0.0.1.41000 > 10.0.0.2.80: Flags [S], seq 1000, win 512, length 0
// Link types: EN10MB (with 802.1Q/802.1ad tags: "vlan 100, "), RAW, LINUX_SLL, LINUX_SLL2, NULL;
// PPP, PPP_SERIAL, PPP_ETHER, C_HDLC, FRELAY, SLIP, ARCNET, ARCNET_LINUX, SUNATM, FDDI, IEEE802
// and IPNET get a link-level prefix first (capture/summary_links.cpp).
// the 802.11 ones (IEEE802_11, PRISM_HEADER, IEEE802_11_RADIO, IEEE802_11_RADIO_AVS, PPI) in
// summary_wlan.cpp: "802.11 Beacon DA .. SA .. BSSID .., length N", data frames with LLC/SNAP
// followed by the network-layer summary.
// Network: IPv4, IPv6 (extension headers skipped), ARP; transport: TCP (flags as tcpdump prints
// them: S F P R U E W and '.' for ACK), UDP, ICMP, ICMPv6. A packet cut short by the snap length
// ends with tcpdump's "[|proto]" marker; nothing reads past caplen.
// Tested in tests/capture/summary_test.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "capture/ring.hpp"

namespace bpf::capture {

// Appends the summary (no newline) to `out`. Time is local time, microseconds, as tcpdump.
void format_summary(std::string& out, int linktype, Timestamp ts, bool nano, const uint8_t* data,
                    uint32_t caplen, uint32_t wirelen);


}  // namespace bpf::capture
