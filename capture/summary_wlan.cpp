// Summaries of 802.11 frames (capture/summary.hpp) for the link types IEEE802_11, PRISM_HEADER,
// IEEE802_11_RADIO (radiotap), IEEE802_11_RADIO_AVS and PPI: the radio header is skipped (its
// length read as libpcap's filters read it: radiotap and PPI little-endian u16 at 2, AVS
// big-endian u32 at 4, Prism 144 or the AVS length behind an AVS cookie), then one line:
//   802.11 Beacon DA ff:ff:ff:ff:ff:ff SA 00:11:22:33:44:55 BSSID 00:11:22:33:44:55, length 120
//   802.11 Acknowledgment RA 90:a4:de:c0:46:0a, length 14
//   802.11 QoS Data SA ... DA ... BSSID ..., IP 10.0.0.1.53 > 10.0.0.2.1234: UDP, length 20
// Frame names are tcpdump 4.99's (print-802_11.c); addresses are named by their role for the
// frame's type and DS bits. Data frames with LLC/SNAP go on to the network-layer summary; a
// frame cut short ends with "[|802.11]" (or the radio header's marker); nothing reads past
// caplen. Tested in tests/capture/summary_test.cpp (Summary.Wlan*).
#include <cstdint>
#include <cstdio>
#include <string>

#include "capture/summary_detail.hpp"

namespace bpf::capture::detail {
namespace {

const char* const kMgt[16] = {"Assoc Request", "Assoc Response", "ReAssoc Request",
                              "ReAssoc Response", "Probe Request", "Probe Response",
                              "Timing Advertisement", "Reserved", "Beacon", "ATIM",
                              "Disassociation", "Authentication", "DeAuthentication", "Action",
                              "Action No Ack", "Reserved"};
const char* const kCtl[16] = {"Reserved",         "Reserved",      "Trigger",         "TACK",
                              "BW Report",        "NDP Announcement", "Control Frame Extension",
                              "Control Wrapper",  "BAR",           "BA",              "Power Save-Poll",
                              "Request-To-Send",  "Clear-To-Send", "Acknowledgment",  "CF-End",
                              "CF-End+CF-Ack"};
const char* const kData[16] = {"Data",         "Data+CF-Ack",       "Data+CF-Poll",
                               "Data+CF-Ack+CF-Poll", "Null",        "CF-Ack",
                               "CF-Poll",      "CF-Ack+CF-Poll",    "QoS Data",
                               "QoS Data+CF-Ack", "QoS Data+CF-Poll", "QoS Data+CF-Ack+CF-Poll",
                               "QoS Null",     "Reserved",          "QoS CF-Poll",
                               "QoS CF-Ack+CF-Poll"};

std::string mac_at(const uint8_t* p, uint32_t off) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", p[off], p[off + 1], p[off + 2],
                p[off + 3], p[off + 4], p[off + 5]);
  return buf;
}

// Length of the radio header in front of the 802.11 frame; false (with a marker in `out`) when
// the packet is too short to tell.
bool radio_length(std::string& out, int linktype, const uint8_t* p, uint32_t n, uint32_t* len) {
  switch (linktype) {
    case 105: *len = 0; return true;
    case 127:
    case 192:
      if (n < 8) {
        out += linktype == 127 ? "[|radiotap]" : "[|ppi]";
        return false;
      }
      *len = uint32_t(p[2] | p[3] << 8);
      if (linktype == 192) {
        const uint32_t dlt = uint32_t(p[4] | p[5] << 8 | p[6] << 16) | uint32_t(p[7]) << 24;
        if (dlt != 105) {
          char buf[64];
          std::snprintf(buf, sizeof buf, "PPI, dlt %u, ", dlt);
          out += buf;
          return false;
        }
      }
      return true;
    case 163:
    case 119: {
      if (n < 8) {
        out += linktype == 163 ? "[|avs]" : "[|prism]";
        return false;
      }
      const uint32_t w0 = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
      const uint32_t w1 = uint32_t(p[4]) << 24 | uint32_t(p[5]) << 16 | uint32_t(p[6]) << 8 | p[7];
      *len = linktype == 163 || (w0 & 0xfffff000u) == 0x80211000u ? w1 : 144;
      return true;
    }
    default: return false;
  }
}

}  // namespace

bool format_wlan(std::string& out, int linktype, const uint8_t* data, uint32_t caplen,
                 uint32_t wirelen) {
  if (linktype != 105 && linktype != 119 && linktype != 127 && linktype != 163 && linktype != 192)
    return false;
  uint32_t rl = 0;
  if (!radio_length(out, linktype, data, caplen, &rl)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "length %u", wirelen);
    out += buf;
    return true;
  }
  out += "802.11 ";
  if (rl >= caplen || caplen - rl < 2) {
    out += "[|802.11]";
    return true;
  }
  const uint8_t* p = data + rl;
  const uint32_t n = caplen - rl;
  const uint32_t len = wirelen > rl ? wirelen - rl : 0;
  const uint8_t fc0 = p[0], fc1 = p[1];
  const uint32_t type = (fc0 >> 2) & 3, sub = fc0 >> 4;
  bool cut = false;  // an address field past caplen
  auto addr = [&](const char* role, uint32_t off) {
    cut |= off + 6 > n;
    if (cut) return;
    out += ' ';
    out += role;
    out += ' ';
    out += mac_at(p, off);
  };
  char buf[64];
  switch (type) {
    case 0:  // management: DA, SA, BSSID
      out += kMgt[sub];
      addr("DA", 4);
      addr("SA", 10);
      addr("BSSID", 16);
      break;
    case 1:  // control
      out += kCtl[sub];
      if (sub == 10) {  // PS-Poll
        addr("BSSID", 4);
        addr("TA", 10);
      } else if (sub == 12 || sub == 13) {  // CTS, ACK
        addr("RA", 4);
      } else if (sub == 14 || sub == 15) {  // CF-End
        addr("RA", 4);
        addr("BSSID", 10);
      } else {
        addr("RA", 4);
        addr("TA", 10);
      }
      break;
    case 2: {  // data: the addresses' roles depend on To DS / From DS
      out += kData[sub];
      switch (fc1 & 3) {
        case 0: addr("DA", 4); addr("SA", 10); addr("BSSID", 16); break;
        case 1: addr("BSSID", 4); addr("SA", 10); addr("DA", 16); break;
        case 2: addr("DA", 4); addr("BSSID", 10); addr("SA", 16); break;
        default: addr("RA", 4); addr("TA", 10); addr("DA", 16); addr("SA", 24); break;
      }
      uint32_t hl = (fc1 & 3) == 3 ? 30 : 24;
      if (fc0 & 0x80) hl += 2;  // QoS control
      if (sub & 4) break;       // no payload (Null, CF-Ack, ...)
      if (hl > n || cut) {
        out += " [|802.11]";
        return true;
      }
      const uint8_t* l = p + hl;
      const uint32_t ln = n - hl;
      if (ln >= 8 && l[0] == 0xaa && l[1] == 0xaa && l[2] == 0x03) {
        out += ", ";
        const uint32_t plen = len > hl + 8 ? len - hl - 8 : 0;
        print_ethertype_summary(out, uint16_t(l[6] << 8 | l[7]), l + 8, ln - 8, plen);
        return true;
      }
      if (ln >= 3) {
        std::snprintf(buf, sizeof buf, ", LLC dsap 0x%02x ssap 0x%02x", l[0], l[1]);
        out += buf;
      } else {
        out += " [|llc]";
        return true;
      }
      break;
    }
    default:
      out += "Reserved type";
      break;
  }
  if (cut) {
    out += " [|802.11]";
    return true;
  }
  std::snprintf(buf, sizeof buf, ", length %u", len);
  out += buf;
  return true;
}

}  // namespace bpf::capture::detail
