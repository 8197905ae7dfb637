// Deterministic packet generators for differential tests, fuzzers and benchmarks.
//
// Frames look like real traffic so that tcpdump-style filters take both branches: Ethernet with
// IPv4 (with and without options, fragments), IPv6, TCP, UDP, ICMP, ARP, 802.1Q VLAN, addresses
// and ports drawn from small sets (10.0.0.1, 192.168.1.x, ports 22/53/80/443...). Some packets
// are snapped (caplen < wirelen) and some are raw random bytes of any length, including 0.
// Tested in tests/support/support_test.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "tests/support/program_gen.hpp"
#include "vm/context.hpp"

namespace bpf::test {

struct Packet {
  std::vector<uint8_t> data;  // the captured bytes: caplen == data.size()
  uint32_t wirelen = 0;       // >= data.size()
  uint32_t caplen() const { return uint32_t(data.size()); }
};

// Random bytes, length in [0, max_len].
Packet random_bytes(Rng& rng, uint32_t max_len = 128);
// A well-formed Ethernet frame of a random kind (see above), not snapped.
Packet ethernet_frame(Rng& rng);
// `p` cut to `caplen` bytes, wirelen kept.
Packet snap(Packet p, uint32_t caplen);
// A mix: ~75% Ethernet frames, 20% of those snapped to a random caplen, ~25% random bytes.
Packet random_packet(Rng& rng);
std::vector<Packet> packet_mix(Rng& rng, size_t count);

// A random Linux context (every ancillary field random, net_offset 14 or random small).
vm::Context random_context(Rng& rng);

}  // namespace bpf::test
