// Ports and port ranges, after libpcap 1.10.3's gencode.c: gen_portatom, gen_portrangeatom,
// gen_portop, gen_port, gen_portop6, gen_port6 and their range twins (gen_portrangeop...), for
// TCP, UDP and SCTP over IPv4 (after the "not a fragment" check) and IPv6 (no extension-header
// walk). `port N` without a protocol is (IPv6 or IPv4) of (SCTP or (TCP or UDP)), in
// libpcap's order. Port names are resolved in expr_gen_names.cpp.
// Tested by tests/expr/expr_diff_test.cpp (port and portrange primitives on every link type).
#include <cstdint>
#include <utility>

#include "compiler/expr_gen.hpp"

namespace bpf::compiler::detail {

// ---- ports ----------------------------------------------------------------------------------------
Cond Gen::portatom(bool v6, uint32_t off, uint32_t v) {
  return member_test(v6 ? Rel::kTranIpv6 : Rel::kTranIpv4, off, 2, v, 0xffffffffu);
}
Cond Gen::portrangeatom(bool v6, uint32_t off, uint32_t lo, uint32_t hi) {
  if (set_) return portatom(v6, off, lo);  // a set search (expr_gen_sets.cpp)
  if (lo > hi) std::swap(lo, hi);
  Rel r = v6 ? Rel::kTranIpv6 : Rel::kTranIpv4;
  Cond b1 = cmp(r, off, 2, lo, c::kJge);
  Cond b2 = not_(cmp(r, off, 2, hi, c::kJgt));
  return and_(b1, b2);
}
Cond Gen::port_dir(bool v6, QDir dir, bool range, uint32_t lo, uint32_t hi) {
  auto atom = [&](uint32_t off) {
    return range ? portrangeatom(v6, off, lo, hi) : portatom(v6, off, lo);
  };
  switch (dir) {
    case QDir::kSrc: return atom(0);
    case QDir::kDst: return atom(2);
    case QDir::kAnd: {
      Cond b0 = atom(0);
      return and_(b0, atom(2));
    }
    case QDir::kDefault:
    case QDir::kOr: {
      if (set_first_) return guarded_port_pair(v6);  // a port set with ranges
      Cond b0 = atom(0);
      return or_(b0, atom(2));
    }
    default: fail("'addr1', 'addr2', 'ra' and 'ta' are only supported on 802.11");
  }
}
Cond Gen::portop(bool v6, uint32_t proto, QDir dir, bool range, uint32_t lo, uint32_t hi) {
  if (v6) {
    Cond tmp = cmp(Rel::kLinkPl, 6, 1, proto);
    return and_(tmp, port_dir(true, dir, range, lo, hi));
  }
  Cond tmp = cmp(Rel::kLinkPl, 9, 1, proto);
  Cond b0 = and_(tmp, ipfrag());
  return and_(b0, port_dir(false, dir, range, lo, hi));
}
Cond Gen::port_family(bool v6, int ip_proto, QDir dir, bool range, uint32_t lo, uint32_t hi) {
  Cond b0 = linktype(v6 ? kEtIpv6 : kEtIp);
  Cond b1;
  if (ip_proto < 0) {
    Cond t = portop(v6, kIpProtoTcp, dir, range, lo, hi);
    Cond u = portop(v6, kIpProtoUdp, dir, range, lo, hi);
    Cond tu = or_(t, u);
    Cond s = portop(v6, kIpProtoSctp, dir, range, lo, hi);
    b1 = or_(s, tu);
  } else {
    b1 = portop(v6, static_cast<uint32_t>(ip_proto), dir, range, lo, hi);
  }
  return and_(b0, b1);
}
Cond Gen::port(int ip_proto, QDir dir, bool range, uint32_t lo, uint32_t hi) {
  // gen_ncode: gen_or(gen_port6(...), gen_port(...)): IPv6 first.
  Cond b6 = port_family(true, ip_proto, dir, range, lo, hi);
  Cond b4 = port_family(false, ip_proto, dir, range, lo, hi);
  return or_(b6, b4);
}
int Gen::port_proto(QProto p) {
  switch (p) {
    case QProto::kUdp: return kIpProtoUdp;
    case QProto::kTcp: return kIpProtoTcp;
    case QProto::kSctp: return kIpProtoSctp;
    case QProto::kDefault: return -1;
    default: fail("illegal qualifier of 'port'");
  }
}
int Gen::portrange_proto(QProto p) {
  switch (p) {
    case QProto::kUdp: return kIpProtoUdp;
    case QProto::kTcp: return kIpProtoTcp;
    case QProto::kSctp: return kIpProtoSctp;
    case QProto::kDefault: return -1;
    default: fail("illegal qualifier of 'portrange'");
  }
}

}  // namespace bpf::compiler::detail
