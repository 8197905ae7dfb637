// check_equivalence(): the solver's answer (equiv_z3.cpp), each witness confirmed by the
// interpreter before anyone sees it; and the witness as text (see equiv.hpp).
#include "analysis/equiv.hpp"

#include <cstdio>

#include "vm/interpreter.hpp"

namespace bpf::analysis {

Result<EquivResult> check_equivalence(const vm::VerifiedProgram& a, const vm::VerifiedProgram& b,
                                      const EquivOptions& opts) {
  Diagnostics diags;
  if (a.target() != b.target()) {
    diags.error("the two programs were verified for different targets");
    return diags;
  }
  bool approximate = false;
  auto r = detail::solve(a, b, opts, &approximate);
  if (!r.ok()) return r.diagnostics();
  EquivResult out;
  if (!r->has_value()) {
    out.equivalent = true;
    return out;
  }
  Witness w = std::move(**r);
  const vm::Interpreter ia(a), ib(b);
  const auto caplen = static_cast<uint32_t>(w.bytes.size());
  w.a_returns = ia.run(w.bytes.data(), caplen, w.wirelen, w.ctx);
  w.b_returns = ib.run(w.bytes.data(), caplen, w.wirelen, w.ctx);
  const bool differ = opts.exact ? w.a_returns != w.b_returns
                                 : (w.a_returns != 0) != (w.b_returns != 0);
  if (!differ && approximate) {
    diags.error("the solver could not decide (the difference it found needs a netlink attribute "
                "chain longer than the " + std::to_string(detail::kNlaExactSteps) +
                " attributes --equiv walks exactly)");
    return diags;
  }
  if (!differ) {
    diags.error("internal error: the solver's witness (wirelen " + std::to_string(w.wirelen) +
                " caplen " + std::to_string(caplen) + ") is not confirmed by the interpreter (A " +
                "returns " + std::to_string(w.a_returns) + ", B returns " +
                std::to_string(w.b_returns) + "); please report this bug");
    return diags;
  }
  out.witness = std::move(w);
  return out;
}

std::string format_witness(const Witness& w) {
  std::string out = "wirelen " + std::to_string(w.wirelen) + " caplen " +
                    std::to_string(w.bytes.size()) + "\n";
  char buf[32];
  // tcpdump -xx (print-ascii.c hex_print_with_offset): "\n\t0x%04x: " then " %02x%02x" per pair.
  for (size_t i = 0; i < w.bytes.size(); i += 16) {
    std::snprintf(buf, sizeof buf, "\t0x%04zx: ", i);
    out += buf;
    for (size_t j = i; j < i + 16 && j < w.bytes.size(); j += 2) {
      if (j + 1 < w.bytes.size())
        std::snprintf(buf, sizeof buf, " %02x%02x", w.bytes[j], w.bytes[j + 1]);
      else
        std::snprintf(buf, sizeof buf, " %02x", w.bytes[j]);
      out += buf;
    }
    out += '\n';
  }
  const vm::Context d;
  const vm::Context& c = w.ctx;
  std::string ctx;
  auto field = [&](const char* name, uint64_t v, uint64_t dv) {
    if (v == dv) return;
    std::snprintf(buf, sizeof buf, " %s=0x%llx", name, static_cast<unsigned long long>(v));
    ctx += buf;
  };
  field("protocol", c.protocol, d.protocol);
  field("pkttype", c.pkttype, d.pkttype);
  field("has_device", c.has_device, d.has_device);
  field("ifindex", c.ifindex, d.ifindex);
  field("hatype", c.hatype, d.hatype);
  field("mark", c.mark, d.mark);
  field("queue", c.queue, d.queue);
  field("rxhash", c.rxhash, d.rxhash);
  field("cpu", c.cpu, d.cpu);
  field("vlan_tci", c.vlan_tci, d.vlan_tci);
  field("vlan_avail", c.vlan_present, d.vlan_present);
  field("vlan_tpid", c.vlan_tpid, d.vlan_tpid);
  field("rand", c.random, d.random);
  field("poff", c.payload_offset, d.payload_offset);
  field("net_offset", c.net_offset, d.net_offset);
  field("has_link_header", c.has_link_header, d.has_link_header);
  if (!ctx.empty()) out += "context" + ctx + "\n";
  return out;
}

}  // namespace bpf::analysis
