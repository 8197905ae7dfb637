// Pieces of the packet summaries (capture/summary.hpp) shared between summary.cpp and the
// per-link-type files (summary_wlan.cpp). Private to capture/.
#pragma once

#include <cstdint>
#include <string>

namespace bpf::capture::detail {

// The network-layer summary of a payload of EtherType `type` (IPv4, IPv6, ARP, or the type):
// `data` holds `caplen` captured bytes of a payload `len` bytes long (summary.cpp).
void print_ethertype_summary(std::string& out, uint16_t type, const uint8_t* data, uint32_t caplen,
                             uint32_t len);
// The 802.11 link types (summary_wlan.cpp); false when `linktype` is not one of them.
bool format_wlan(std::string& out, int linktype, const uint8_t* data, uint32_t caplen,
                 uint32_t wirelen);

}  // namespace bpf::capture::detail
