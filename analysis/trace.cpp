// The tracing evaluator (see trace.hpp). Every semantic step is a call into vm/semantics.hpp.
#include "analysis/trace.hpp"

#include <cinttypes>
#include <cstdio>

#include "vm/disasm_line.hpp"
#include "vm/semantics.hpp"

namespace bpf::analysis {

Trace trace(const vm::VerifiedProgram& prog, const uint8_t* pkt, uint32_t caplen,
            uint32_t wirelen, const vm::Context& ctx) {
  using vm::Op;
  const vm::Target t = prog.target();
  const auto dec = prog.decoded();
  Trace tr;
  vm::MachineState st;
  uint32_t& a = st.a;
  uint32_t& x = st.x;
  uint32_t pc = 0;
  // Ends the run after a load that failed at `off` (Outcome::end: 0, or A without a device).
  auto fail = [&](const vm::Outcome& o, int64_t off, uint32_t size, bool ancillary) {
    tr.value = o.value;
    if (ancillary) {
      tr.end = TraceEnd::kReturn;
      tr.fail_no_device = true;
    } else {
      tr.end = TraceEnd::kLoadFailed;
      tr.fail_offset = off;
      tr.fail_size = size;
    }
  };
  for (;;) {
    const vm::DecodedInsn& d = dec[pc];
    const vm::OpInfo& oi = vm::info(d.op);
    TraceStep step;
    step.index = pc;
    uint32_t next = d.jt;
    bool ended = false;
    switch (d.op) {
      case Op::kLdW: case Op::kLdH: case Op::kLdB: {
        const vm::Outcome o = vm::load_abs(t, d.k, oi.load_size, a, x, pkt, caplen, ctx);
        if (!o.cont) {
          const bool anc = t == vm::Target::kLinux && d.k >= vm::kSkfAdOff &&
                           vm::ancillary_for(d.k).has_value();
          const int64_t off = t == vm::Target::kLinux ? int64_t{static_cast<int32_t>(d.k)}
                                                      : int64_t{d.k};
          fail(o, off, oi.load_size, anc);
          ended = true;
        } else {
          a = o.value;
        }
        break;
      }
      case Op::kLdWInd: case Op::kLdHInd: case Op::kLdBInd: {
        const vm::Outcome o = vm::load_ind(t, d.k, oi.load_size, x, pkt, caplen, ctx);
        if (!o.cont) {
          const int64_t off = t == vm::Target::kLinux
                                  ? int64_t{static_cast<int32_t>(x + d.k)}
                                  : static_cast<int64_t>(uint64_t{x} + d.k);
          fail(o, off, oi.load_size, false);
          ended = true;
        } else {
          a = o.value;
        }
        break;
      }
      case Op::kLdxMsh: {
        const vm::Outcome o = vm::load_msh(t, d.k, pkt, caplen, ctx);
        if (!o.cont) {
          const int64_t off = t == vm::Target::kLinux ? int64_t{static_cast<int32_t>(d.k)}
                                                      : int64_t{d.k};
          fail(o, off, 1, false);
          ended = true;
        } else {
          x = o.value;
        }
        break;
      }
      case Op::kLdLen: a = wirelen; break;
      case Op::kLdxLen: x = wirelen; break;
      case Op::kLdImm: a = d.k; break;
      case Op::kLdxImm: x = d.k; break;
      case Op::kLdMem: a = st.mem[d.k]; break;
      case Op::kLdxMem: x = st.mem[d.k]; break;
      case Op::kSt:
        st.mem[d.k] = a;
        step.slot = d.k;
        step.slot_value = a;
        break;
      case Op::kStx:
        st.mem[d.k] = x;
        step.slot = d.k;
        step.slot_value = x;
        break;
      case Op::kAddK: case Op::kSubK: case Op::kMulK: case Op::kDivK: case Op::kModK:
      case Op::kAndK: case Op::kOrK: case Op::kXorK: case Op::kLshK: case Op::kRshK:
      case Op::kNeg: case Op::kAddX: case Op::kSubX: case Op::kMulX: case Op::kDivX:
      case Op::kModX: case Op::kAndX: case Op::kOrX: case Op::kXorX: case Op::kLshX:
      case Op::kRshX: {
        const uint32_t operand = oi.operand == vm::Operand::kAluX ? x : d.k;
        const auto r = vm::alu(d.op, a, operand, t);
        if (!r) {
          tr.end = TraceEnd::kDivByZero;
          tr.value = 0;
          ended = true;
        } else {
          a = *r;
        }
        break;
      }
      case Op::kJa: break;
      case Op::kJeqK: case Op::kJgtK: case Op::kJgeK: case Op::kJsetK:
        next = vm::jump_taken(d.op, a, d.k) ? d.jt : d.jf;
        break;
      case Op::kJeqX: case Op::kJgtX: case Op::kJgeX: case Op::kJsetX:
        next = vm::jump_taken(d.op, a, x) ? d.jt : d.jf;
        break;
      case Op::kRetK: tr.value = d.k; ended = true; break;
      case Op::kRetA: tr.value = a; ended = true; break;
      case Op::kRetX: tr.value = x; ended = true; break;
      case Op::kTax: x = a; break;
      case Op::kTxa: a = x; break;
    }
    step.a = a;
    step.x = x;
    tr.steps.push_back(step);
    if (ended) return tr;
    if (next >= prog.size()) {  // the verifier never lets this happen; stay total
      tr.value = 0;
      return tr;
    }
    pc = next;
  }
}

std::string format_trace(const vm::VerifiedProgram& prog, const Trace& t, uint32_t caplen) {
  std::string out;
  char buf[160];
  for (const TraceStep& s : t.steps) {
    std::string insn = vm::disasm_line(prog.insns()[s.index], s.index);
    if (insn.size() < 28) insn.resize(28, ' ');
    std::snprintf(buf, sizeof buf, "(%03u) %s A=0x%08x X=0x%08x", s.index, insn.c_str(), s.a, s.x);
    out += buf;
    if (s.slot) {
      std::snprintf(buf, sizeof buf, " M[%u]=0x%08x", *s.slot, s.slot_value);
      out += buf;
    }
    out += '\n';
  }
  switch (t.end) {
    case TraceEnd::kReturn:
      if (t.fail_no_device)
        out += "no device: the program ends returning A\n";
      break;
    case TraceEnd::kLoadFailed:
      std::snprintf(buf, sizeof buf,
                    "load failed: offset %" PRId64 ", size %u, captured length %u\n",
                    t.fail_offset, t.fail_size, caplen);
      out += buf;
      break;
    case TraceEnd::kDivByZero:
      out += "division by zero: the program ends\n";
      break;
  }
  std::snprintf(buf, sizeof buf, "returns %u (%s)\n", t.value, t.value ? "accept" : "reject");
  out += buf;
  return out;
}

}  // namespace bpf::analysis
