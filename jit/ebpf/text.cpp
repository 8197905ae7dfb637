// Text forms of an eBPF program: bpftool's xlated syntax and a C initialiser (see output.hpp).
// The syntax follows the kernel's kernel/bpf/disasm.c (print_bpf_insn), which bpftool uses.
#include <cstdio>
#include <string>

#include "jit/ebpf/output.hpp"

namespace bpf::jit::ebpf {
namespace {

const char* alu_sym(uint8_t o) {
  switch (o >> 4) {
    case 0x0: return "+="; case 0x1: return "-="; case 0x2: return "*="; case 0x3: return "/=";
    case 0x4: return "|="; case 0x5: return "&="; case 0x6: return "<<="; case 0x7: return ">>=";
    case 0x8: return "neg"; case 0x9: return "%="; case 0xa: return "^="; case 0xb: return "=";
    case 0xc: return "s>>="; case 0xd: return "endian";
  }
  return "?";
}
const char* jmp_sym(uint8_t o) {
  switch (o >> 4) {
    case 0x1: return "=="; case 0x2: return ">"; case 0x3: return ">="; case 0x4: return "&";
    case 0x5: return "!="; case 0x6: return "s>"; case 0x7: return "s>="; case 0xa: return "<";
    case 0xb: return "<="; case 0xc: return "s<"; case 0xd: return "s<=";
  }
  return "?";
}
const char* size_name(uint8_t c) {
  switch (op::size(c)) {
    case op::kW: return "u32"; case op::kH: return "u16"; case op::kB: return "u8";
    default: return "u64";
  }
}
const char* helper_name(int32_t id) {
  switch (id) {
    case kHelperGetPrandomU32: return "bpf_get_prandom_u32";
    case kHelperGetSmpProcessorId: return "bpf_get_smp_processor_id";
    case kHelperSkbPullData: return "bpf_skb_pull_data";
    case kHelperSkbLoadBytes: return "bpf_skb_load_bytes";
    case kHelperSkbLoadBytesRelative: return "bpf_skb_load_bytes_relative";
    case kHelperXdpLoadBytes: return "bpf_xdp_load_bytes";
  }
  return "unknown";
}

std::string line(const EbpfInsn& i) {
  char b[160];
  const uint8_t c = i.code, cls = op::cls(c), o = op::code_op(c);
  const char r = cls == op::kAlu || cls == op::kJmp32 ? 'w' : 'r';
  const int dst = i.dst(), src = i.src();
  if (cls == op::kAlu || cls == op::kAlu64) {
    if (o == op::kEnd)
      std::snprintf(b, sizeof b, "(%02x) r%d = %s%d r%d", c, dst, op::src(c) ? "be" : "le", i.imm, dst);
    else if (o == op::kNeg)
      std::snprintf(b, sizeof b, "(%02x) %c%d = -%c%d", c, r, dst, r, dst);
    else if (op::src(c) == op::kX)
      std::snprintf(b, sizeof b, "(%02x) %c%d %s %c%d", c, r, dst, alu_sym(o), r, src);
    else
      std::snprintf(b, sizeof b, "(%02x) %c%d %s %d", c, r, dst, alu_sym(o), i.imm);
  } else if (cls == op::kStx) {
    std::snprintf(b, sizeof b, "(%02x) *(%s *)(r%d %+d) = r%d", c, size_name(c), dst, i.off, src);
  } else if (cls == op::kSt) {
    std::snprintf(b, sizeof b, "(%02x) *(%s *)(r%d %+d) = %d", c, size_name(c), dst, i.off, i.imm);
  } else if (cls == op::kLdx) {
    std::snprintf(b, sizeof b, "(%02x) r%d = *(%s *)(r%d %+d)", c, dst, size_name(c), src, i.off);
  } else if (cls == op::kLd && op::mode(c) == op::kAbs) {
    std::snprintf(b, sizeof b, "(%02x) r0 = *(%s *)skb[%d]", c, size_name(c), i.imm);
  } else if (cls == op::kLd && op::mode(c) == op::kInd) {
    std::snprintf(b, sizeof b, "(%02x) r0 = *(%s *)skb[r%d + %d]", c, size_name(c), src, i.imm);
  } else if (cls == op::kJmp || cls == op::kJmp32) {
    if (o == op::kCall)
      std::snprintf(b, sizeof b, "(%02x) call %s#%d", c, helper_name(i.imm), i.imm);
    else if (o == op::kExit)
      std::snprintf(b, sizeof b, "(%02x) exit", c);
    else if (o == op::kJa && cls == op::kJmp32)
      std::snprintf(b, sizeof b, "(%02x) gotol pc%+d", c, i.imm);
    else if (o == op::kJa)
      std::snprintf(b, sizeof b, "(%02x) goto pc%+d", c, i.off);
    else if (op::src(c) == op::kX)
      std::snprintf(b, sizeof b, "(%02x) if %c%d %s %c%d goto pc%+d", c, r, dst, jmp_sym(o), r, src, i.off);
    else
      std::snprintf(b, sizeof b, "(%02x) if %c%d %s 0x%x goto pc%+d", c, r, dst, jmp_sym(o),
                    static_cast<uint32_t>(i.imm), i.off);
  } else {
    std::snprintf(b, sizeof b, "(%02x) unknown", c);
  }
  return b;
}

}  // namespace

std::string format_text(const EbpfProgram& p) {
  std::string out;
  char idx[32];
  for (size_t n = 0; n < p.insns.size(); ++n) {
    std::snprintf(idx, sizeof idx, "%4zu: ", n);
    out += idx;
    out += line(p.insns[n]);
    out += '\n';
  }
  return out;
}

std::string format_c(const EbpfProgram& p) {
  std::string out;
  char b[128];
  for (const EbpfInsn& i : p.insns) {
    std::snprintf(b, sizeof b, "{ .code = 0x%02x, .dst_reg = %d, .src_reg = %d, .off = %d, .imm = %d },\n",
                  i.code, i.dst(), i.src(), i.off, i.imm);
    out += b;
  }
  return out;
}

}  // namespace bpf::jit::ebpf
