// Model of Linux bpf_convert_filter(); see kernel_conversion.hpp for the sources and the rules.
// Tested by tests/verifier/kernel_diff_test.cpp against the running kernel.
#include "verifier/kernel_conversion.hpp"

#include "vm/ancillary.hpp"

namespace bpf::verifier {

namespace {

constexpr int64_t kS16Min = -32768, kS16Max = 32767;

// convert_bpf_ld_abs(): optional fast path for non-negative absolute offsets, then the helper
// call (slow path) that every packet load has.
uint32_t ld_abs_len(uint32_t size, uint32_t k, bool indirect) {
  const int32_t offset = static_cast<int32_t>(k);
  uint32_t n = 0;
  if (!indirect && offset >= 0) {
    const bool ldx_off_ok = offset <= 32767;
    n += 1;                       // mov tmp, headlen
    n += offset != 0 ? 1 : 0;     // sub tmp, offset
    n += 1;                       // jslt tmp, size
    n += ldx_off_ok ? 1 : 3;      // ldx (or mov/add/ldx)
    n += size != 1 ? 1 : 0;       // endian
    n += 1;                       // ja +8
  }
  n += 3;                                      // arg1..arg3
  n += indirect ? (1 + (k != 0 ? 1 : 0)) : 1;  // arg4
  n += 1;                                      // call
  n += 3;                                      // jsge, xor, exit
  return n;
}

uint32_t ancillary_len(vm::Ancillary a) {
  switch (a) {
    case vm::Ancillary::kProtocol: return 2;        // ldx, endian
    case vm::Ancillary::kPktType: return 2;         // ldx, and (little-endian bitfield)
    case vm::Ancillary::kIfIndex: return 4;         // ldx dev, jne, exit, ldx
    case vm::Ancillary::kHaType: return 4;
    case vm::Ancillary::kMark: return 1;
    case vm::Ancillary::kRxHash: return 1;
    case vm::Ancillary::kQueue: return 1;
    case vm::Ancillary::kVlanTag: return 1;
    case vm::Ancillary::kVlanTagPresent: return 3;  // ldx, jeq, mov
    case vm::Ancillary::kVlanTpid: return 2;        // ldx, endian
    case vm::Ancillary::kPayOffset: return 4;       // 3 movs + call
    case vm::Ancillary::kNlAttr: return 4;
    case vm::Ancillary::kNlAttrNest: return 4;
    case vm::Ancillary::kCpu: return 4;
    case vm::Ancillary::kRandom: return 4;
    case vm::Ancillary::kAluXorX: return 1;
  }
  return 1;
}

// Jumps emitted for a classic jump: (position inside the expansion, classic target).
struct Emitted {
  uint32_t idx;
  uint32_t target;
};

}  // namespace

uint32_t kernel_expansion_len(const vm::Insn& insn, bool* seen_ld_abs) {
  using vm::Op;
  std::optional<Op> op = vm::decode(insn.code);
  if (!op) return 1;
  const uint32_t size = vm::info(*op).load_size;
  switch (*op) {
    case Op::kLdW: case Op::kLdH: case Op::kLdB:
      if (auto a = vm::ancillary_for(insn.k)) return ancillary_len(*a);
      *seen_ld_abs = true;
      return ld_abs_len(size, insn.k, false);
    case Op::kLdWInd: case Op::kLdHInd: case Op::kLdBInd:
      *seen_ld_abs = true;
      return ld_abs_len(size, insn.k, true);
    case Op::kLdxMsh:
      *seen_ld_abs = true;
      return 1 + ld_abs_len(1, insn.k, false) + 5;
    case Op::kDivX: case Op::kModX: return 5;  // mov32 x,x; jne; xor; exit; div
    case Op::kRetK: return 2;
    case Op::kRetA: return 1;
    case Op::kJeqK: case Op::kJgtK: case Op::kJgeK: case Op::kJsetK:
    case Op::kJeqX: case Op::kJgtX: case Op::kJgeX: case Op::kJsetX: {
      const bool k_form = vm::code::src(insn.code) == vm::code::kK;
      uint32_t n = (k_form && static_cast<int32_t>(insn.k) < 0) ? 1 : 0;
      if (insn.jf == 0) return n + 1;
      if (insn.jt == 0 && *op != Op::kJsetK && *op != Op::kJsetX) return n + 1;
      return n + 2;
    }
    case Op::kLdLen: case Op::kLdImm: case Op::kLdMem: case Op::kLdxLen: case Op::kLdxImm:
    case Op::kLdxMem: case Op::kSt: case Op::kStx: case Op::kAddK: case Op::kAddX:
    case Op::kSubK: case Op::kSubX: case Op::kMulK: case Op::kMulX: case Op::kDivK:
    case Op::kModK: case Op::kAndK: case Op::kAndX: case Op::kOrK: case Op::kOrX:
    case Op::kXorK: case Op::kXorX: case Op::kLshK: case Op::kLshX: case Op::kRshK:
    case Op::kRshX: case Op::kNeg: case Op::kJa: case Op::kTax: case Op::kTxa:
      return 1;
    case Op::kRetX: return 1;  // not convertible; excluded by the precondition
  }
  return 1;
}

KernelConversion model_kernel_conversion(std::span<const vm::Insn> insns) {
  KernelConversion out;
  const uint32_t n = static_cast<uint32_t>(insns.size());
  std::vector<uint32_t> lens(n);
  bool seen_ld_abs = false;
  for (uint32_t i = 0; i < n; ++i) lens[i] = kernel_expansion_len(insns[i], &seen_ld_abs);
  const uint32_t prologue = 3 + (seen_ld_abs ? 4 : 0);
  out.addrs.resize(n);
  uint64_t pos = prologue;
  for (uint32_t i = 0; i < n; ++i) {
    out.addrs[i] = static_cast<uint32_t>(pos);
    pos += lens[i];
  }
  out.ebpf_len = static_cast<uint32_t>(pos);

  for (uint32_t i = 0; i < n; ++i) {
    const vm::Insn& in = insns[i];
    std::optional<vm::Op> op = vm::decode(in.code);
    if (!op || !vm::info(*op).has(vm::eff::kJump)) continue;
    Emitted em[2];
    int count = 0;
    if (*op == vm::Op::kJa) {
      em[count++] = {0, i + 1 + in.k};
    } else {
      const bool k_form = vm::code::src(in.code) == vm::code::kK;
      const uint32_t pre = (k_form && static_cast<int32_t>(in.k) < 0) ? 1 : 0;
      const bool is_jset = *op == vm::Op::kJsetK || *op == vm::Op::kJsetX;
      if (in.jf == 0) {
        em[count++] = {pre, i + 1 + in.jt};
      } else if (in.jt == 0 && !is_jset) {
        em[count++] = {pre, i + 1 + in.jf};
      } else {
        em[count++] = {pre, i + 1 + in.jt};
        em[count++] = {pre + 1, i + 1 + in.jf};
      }
    }
    for (int e = 0; e < count; ++e) {
      if (em[e].target >= n) continue;  // bpf_check_classic already rejected it
      // Pass 1: addrs[target] is still 0 (kcalloc).
      const int64_t off0 = -int64_t(out.addrs[i]) - 1 - em[e].idx;
      if (off0 < kS16Min) {
        out.errors.push_back({i, em[e].target, off0, true});
        break;  // the kernel stops at the first failure; one report per instruction
      }
      const int64_t off1 = int64_t(out.addrs[em[e].target]) - out.addrs[i] - 1 - em[e].idx;
      if (off1 > kS16Max || off1 < kS16Min) {
        out.errors.push_back({i, em[e].target, off1, false});
        break;
      }
    }
  }
  return out;
}

}  // namespace bpf::verifier
