// `vxlan [VNI]` as libpcap 1.11 defines it (gencode.c gen_vxlan, gen_vxlan_check,
// gen_vxlan4/6, gen_vxlan_offsets): a UDP datagram to port 4789 over IPv4 or IPv6 whose VXLAN
// header has the flags byte 0x08 and, when given, the VNI; the primitives after it then look at
// the inner Ethernet frame, whose offsets are computed at run time and kept in scratch memory
// exactly as for `geneve` (Gen::encap_iphdrlen and Gen::push_encap_ether in expr_gen_link.cpp,
// shared with it): M[hdr] = start of the inner frame, M[type] = M[hdr] + 12, M[pl] = M[hdr] + 14.
// libpcap 1.10.3 has no `vxlan` (the word is a host name there), so there is no reference to
// run against; where the meaning had to be decided (each checked by tests/expr/vxlan_test.cpp):
//  - the flags byte must be exactly 0x08 (I set, the reserved bits clear), as gen_vxlan_check
//    compares the byte; a VXLAN-GBP or VXLAN-GPE header (other bits set) does not match;
//  - the VNI is the top 24 bits of the second word (mask 0xffffff00); `vxlan 16777216` is an
//    error ("VXLAN VNI 16777216 greater than maximum 16777215", at the value);
//  - only the destination port is tested (RFC 7348 5: the source port is a flow hash), and only
//    4789 (not Linux's historical 8472);
//  - the inner frame is always Ethernet (RFC 7348 has no other payload), so the inner EtherType is
//    at +12 and the network layer at +14; an inner VLAN tag is walked by `vlan` as usual;
//  - like `geneve`, `vxlan` keeps libpcap's program unoptimised (its offsets are statements
//    inside a test), `protochain` after it is an error, and slots read on paths where `vxlan`
//    failed (`vxlan or ip`) start at 0 (see Gen::geneve);
//  - the OSI primitives read the inner NLPID after the 3-byte 802.2 header (`vxlan and clnp`
//    matches inner CLNP whatever the outer link type); libpcap 1.10.3's `geneve` keeps the
//    outer link type's offset instead (0 after RAW or LINUX_SLL), kept there, not here;
//  - an IPv4 outer packet that is a non-first fragment does not match (the UDP header is not
//    there; the port test has the usual fragment check).
// Tested by tests/expr/vxlan_test.cpp: `vxlan and X` on encapsulated frames (IPv4 and IPv6
// outer, options, VNIs, bad flags, other ports, snapped copies) has the verdict of libpcap's
// `X` on the inner frame.
#include <string>
#include <vector>

#include "compiler/expr_gen.hpp"

namespace bpf::compiler::detail {

namespace {
constexpr uint32_t kVxlanPort = 4789;  // IANA, RFC 7348 5
constexpr uint32_t kVxlanFlags = 0x08;  // I flag
}  // namespace

Cond Gen::vxlan(const Node& n) {
  f_.unoptimised_reference = true;
  const bool has_vni = n.has_num;
  const uint32_t vni = n.num;
  if (has_vni) assert_maxval("VXLAN VNI", vni, 0xffffff, n.value_column);
  auto check = [&](bool v6) {  // gen_vxlan_check
    Cond b0 = port_family(v6, kIpProtoUdp, QDir::kDst, false, kVxlanPort, kVxlanPort);
    const Rel rel = v6 ? Rel::kTranIpv6 : Rel::kTranIpv4;
    b0 = and_(b0, cmp(rel, 8, 1, kVxlanFlags));
    if (has_vni) b0 = and_(b0, mcmp(rel, 12, 4, vni << 8, 0xffffff00u));
    return b0;
  };
  Cond b4 = encap_iphdrlen(check(false), false);  // gen_vxlan4
  Cond b6 = encap_iphdrlen(check(true), true);    // gen_vxlan6
  Cond b0 = or_(b4, b6);
  // gen_vxlan_offsets: A = X = IP header length (+ the variable part of the payload offset).
  const uint32_t r_hdr = alloc_reg();
  const uint32_t r_type = alloc_reg();
  const uint32_t r_pl = alloc_reg();
  std::vector<Insn> s{ins(c::kAlu | c::kAdd | c::kK, off_linkpl_ + off_nl_ + 8 + 8),
                      ins(c::kSt, r_hdr),
                      ins(c::kAlu | c::kAdd | c::kK, 12),
                      ins(c::kSt, r_type),
                      ins(c::kAlu | c::kAdd | c::kK, 2),
                      ins(c::kSt, r_pl),
                      ins(c::kLd | c::kImm, 0)};
  // gen_true with the statements in front: a test that always holds, kept opaque so that no
  // pass moves or drops the stores.
  Cond off = test(std::move(s), c::kJeq | c::kK, 0);
  f_.blocks[static_cast<size_t>(off.entry)].opaque = true;
  Cond r = and_(b0, off);
  push_encap_ether(r_hdr, r_type, r_pl, 3);  // the NLPID after the inner 802.2 LLC header
  return r;
}

}  // namespace bpf::compiler::detail
