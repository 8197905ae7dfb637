// Pieces of the packet summaries (capture/summary.hpp) shared between summary.cpp and the
// per-link-type files (summary_links.cpp, summary_wlan.cpp). Private to capture/.
#pragma once

#include <cstdint>
#include <string>

namespace bpf::capture::detail {

// The network-layer summary of a payload of EtherType `type` (IPv4, IPv6, ARP, or the type):
// `data` holds `caplen` captured bytes of a payload `len` bytes long (summary.cpp).
void print_ethertype_summary(std::string& out, uint16_t type, const uint8_t* data, uint32_t caplen,
                             uint32_t len);
// The Ethernet frame's summary (summary.cpp), for links that carry Ethernet frames (LANE).
void summary_ether(std::string& out, const uint8_t* data, uint32_t caplen, uint32_t wirelen);
// printf into `out`, cut at 255 characters (summary.cpp).
void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// The link types of summary_links.cpp (PPP, HDLC, Frame Relay, ATM, ...); false when
// `linktype` is not one of them.
bool summary_link_more(std::string& out, int linktype, const uint8_t* data, uint32_t caplen,
                       uint32_t wirelen);
// The 802.11 link types (summary_wlan.cpp); false when `linktype` is not one of them.
bool format_wlan(std::string& out, int linktype, const uint8_t* data, uint32_t caplen,
                 uint32_t wirelen);

}  // namespace bpf::capture::detail
