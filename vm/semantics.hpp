// Runtime semantics of classic BPF, in one place, constexpr.
//
// The interpreter, the expression compiler's constant folder, the JIT slow paths and the tests all
// call these functions; the JITs are tested against them. `evaluate()` at the bottom is the
// executable specification: a plain loop over raw instructions, slow and obviously right, that
// the fast engines are compared with (tests/vm/semantics_test.cpp, tests/conformance/,
// tests/conformance/differential_test.cpp against libpcap's bpf_filter).
//
// Two rule sets (vm::Target):
//
// kLinux — what a socket filter does in the running kernel. Classic programs are converted to
//   eBPF by net/core/filter.c:bpf_convert_filter and run as 32-bit ALU ops:
//   * A, X and M[] start at 0 (the conversion's prologue XORs A and X; M[] lives on the zeroed
//     stack, and the classic checker rejects reads of slots not written on every path anyway).
//   * `div x` / `mod x` with X == 0 end the program returning 0 ("if (X == 0) { A = 0; exit }").
//   * Shifts by X use the low 5 bits of X: kernel/bpf/core.c `DST = (u32) DST << (SRC & 31)`,
//     as x86's shl/shr do; shifts by k >= 32 and div/mod by k == 0 are rejected by the checker.
//   * Packet loads go through convert_bpf_ld_abs / bpf_skb_load_helper_{8,16,32}: the offset is
//     the C `int` k (absolute) or `(int)(X + k)` (indirect: X + k computed in 64 bits, truncated
//     to int, so it wraps modulo 2^32 and can come out negative). A non-negative offset reads
//     [off, off + size) when it lies within the packet, else the program ends with 0. A negative
//     one goes to bpf_internal_load_pointer_neg_helper: off >= SKF_NET_OFF reads relative to the
//     network header, off >= SKF_LL_OFF relative to the link-layer header, anything below fails.
//     (An unknown SKF_AD_OFF + n thus lands 0xff000+ bytes past the network header: fails.)
//   * `ld{,h,b} [k]` whose k names an ancillary field (convert_bpf_extensions, any size) reads
//     the Context instead; `ldxb 4*([k]&0xf)` never does (it is converted as a plain ldb).
//   * nla / nlan search the packet for a netlink attribute (bpf_skb_get_nlattr{,_nest}).
// kBsd — what libpcap's bpf_filter (bpf_filter.c, 1.10) computes, so bpfdump can reproduce it:
//   * `[k]` fails unless k + size <= caplen, computed without wrapping (k > buflen ||
//     size > buflen - k); `[x + k]` fails unless X + k + size <= caplen without wrapping
//     (pc->k > buflen || X > buflen - pc->k || size > buflen - k). No ancillary loads, no
//     negative offsets: such k are ordinary out-of-range loads.
//   * Shifts by X >= 32 give 0 ("if (X < 32) A <<= X; else A = 0"); by k >= 32 likewise.
//   * Division and modulo by 0 (X or k) end the program with 0. `ret x` returns X.
// The return value is the number of bytes to keep; 0 drops the packet.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <optional>
#include <span>

#include "vm/ancillary.hpp"
#include "vm/context.hpp"
#include "vm/insn.hpp"
#include "vm/program.hpp"

namespace bpf::vm {

// ---------------------------------------------------------------------------------------------
// ALU and jumps

enum class AluOp : uint8_t { kAdd, kSub, kMul, kDiv, kMod, kAnd, kOr, kXor, kLsh, kRsh, kNeg };
enum class CmpOp : uint8_t { kJeq, kJgt, kJge, kJset };

// The ALU operation an opcode performs, if it is an ALU opcode.
constexpr std::optional<AluOp> alu_op(Op op) {
  switch (op) {
    case Op::kAddK: case Op::kAddX: return AluOp::kAdd;
    case Op::kSubK: case Op::kSubX: return AluOp::kSub;
    case Op::kMulK: case Op::kMulX: return AluOp::kMul;
    case Op::kDivK: case Op::kDivX: return AluOp::kDiv;
    case Op::kModK: case Op::kModX: return AluOp::kMod;
    case Op::kAndK: case Op::kAndX: return AluOp::kAnd;
    case Op::kOrK: case Op::kOrX: return AluOp::kOr;
    case Op::kXorK: case Op::kXorX: return AluOp::kXor;
    case Op::kLshK: case Op::kLshX: return AluOp::kLsh;
    case Op::kRshK: case Op::kRshX: return AluOp::kRsh;
    case Op::kNeg: return AluOp::kNeg;
    case Op::kLdW: case Op::kLdH: case Op::kLdB: case Op::kLdWInd: case Op::kLdHInd:
    case Op::kLdBInd: case Op::kLdLen: case Op::kLdImm: case Op::kLdMem: case Op::kLdxLen:
    case Op::kLdxMsh: case Op::kLdxImm: case Op::kLdxMem: case Op::kSt: case Op::kStx:
    case Op::kJa: case Op::kJeqK: case Op::kJeqX: case Op::kJgtK: case Op::kJgtX: case Op::kJgeK:
    case Op::kJgeX: case Op::kJsetK: case Op::kJsetX: case Op::kRetK: case Op::kRetA:
    case Op::kRetX: case Op::kTax: case Op::kTxa:
      return std::nullopt;
  }
  return std::nullopt;
}

// The comparison a conditional jump performs, if it is one.
constexpr std::optional<CmpOp> cmp_op(Op op) {
  switch (op) {
    case Op::kJeqK: case Op::kJeqX: return CmpOp::kJeq;
    case Op::kJgtK: case Op::kJgtX: return CmpOp::kJgt;
    case Op::kJgeK: case Op::kJgeX: return CmpOp::kJge;
    case Op::kJsetK: case Op::kJsetX: return CmpOp::kJset;
    case Op::kLdW: case Op::kLdH: case Op::kLdB: case Op::kLdWInd: case Op::kLdHInd:
    case Op::kLdBInd: case Op::kLdLen: case Op::kLdImm: case Op::kLdMem: case Op::kLdxLen:
    case Op::kLdxMsh: case Op::kLdxImm: case Op::kLdxMem: case Op::kSt: case Op::kStx:
    case Op::kAddK: case Op::kAddX: case Op::kSubK: case Op::kSubX: case Op::kMulK:
    case Op::kMulX: case Op::kDivK: case Op::kDivX: case Op::kModK: case Op::kModX:
    case Op::kAndK: case Op::kAndX: case Op::kOrK: case Op::kOrX: case Op::kXorK: case Op::kXorX:
    case Op::kLshK: case Op::kLshX: case Op::kRshK: case Op::kRshX: case Op::kNeg: case Op::kJa:
    case Op::kRetK: case Op::kRetA: case Op::kRetX: case Op::kTax: case Op::kTxa:
      return std::nullopt;
  }
  return std::nullopt;
}

// One ALU step: the new A, or nullopt when the program ends with 0 (division or modulo by 0).
// `operand` is k or X; for kNeg it is ignored.
constexpr std::optional<uint32_t> alu(AluOp op, uint32_t a, uint32_t operand, Target t) {
  switch (op) {
    case AluOp::kAdd: return a + operand;
    case AluOp::kSub: return a - operand;
    case AluOp::kMul: return a * operand;
    case AluOp::kDiv:
      if (operand == 0) return std::nullopt;
      return a / operand;
    case AluOp::kMod:
      if (operand == 0) return std::nullopt;
      return a % operand;
    case AluOp::kAnd: return a & operand;
    case AluOp::kOr: return a | operand;
    case AluOp::kXor: return a ^ operand;
    case AluOp::kLsh:
      if (t == Target::kLinux) return a << (operand & 31);
      return operand < 32 ? a << operand : 0u;
    case AluOp::kRsh:
      if (t == Target::kLinux) return a >> (operand & 31);
      return operand < 32 ? a >> operand : 0u;
    case AluOp::kNeg: return 0u - a;
  }
  return std::nullopt;
}

// Same, from the opcode (an ALU opcode; others leave A unchanged).
constexpr std::optional<uint32_t> alu(Op op, uint32_t a, uint32_t operand, Target t) {
  if (auto o = alu_op(op)) return alu(*o, a, operand, t);
  return a;
}

constexpr bool compare(CmpOp op, uint32_t a, uint32_t operand) {
  switch (op) {
    case CmpOp::kJeq: return a == operand;
    case CmpOp::kJgt: return a > operand;
    case CmpOp::kJge: return a >= operand;
    case CmpOp::kJset: return (a & operand) != 0;
  }
  return false;
}

// Conditional jump outcome (kJa: always taken; other non-jumps: not taken).
constexpr bool jump_taken(Op op, uint32_t a, uint32_t operand) {
  if (op == Op::kJa) return true;
  if (auto c = cmp_op(op)) return compare(*c, a, operand);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Packet and context loads

// Big-endian packet reads; the caller has checked bounds.
constexpr uint32_t load_be(const uint8_t* p, uint32_t size) {
  switch (size) {
    case 4: return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
    case 2: return uint32_t(p[0]) << 8 | p[1];
    default: return p[0];
  }
}

// What a load (or an instruction that may end the program) produced: either the program goes
// on with `value` (the loaded word), or it ends and returns `value` (0 for a failed load; A for
// ifindex/hatype without a device, see context.hpp).
struct Outcome {
  bool cont;
  uint32_t value;
  static constexpr Outcome next(uint32_t v) { return {true, v}; }
  static constexpr Outcome end(uint32_t v) { return {false, v}; }
  friend constexpr bool operator==(const Outcome&, const Outcome&) = default;
};

// [off, off + size) within the captured bytes, computed in 64 bits.
constexpr std::optional<uint32_t> read_checked(const uint8_t* pkt, uint32_t caplen, uint64_t off,
                                               uint32_t size) {
  if (off + size > caplen) return std::nullopt;
  return load_be(pkt + off, size);
}

// Linux bpf_skb_load_helper_{8,16,32}: a load at the signed offset `off`.
constexpr std::optional<uint32_t> linux_load(int32_t off, uint32_t size, const uint8_t* pkt,
                                             uint32_t caplen, const Context& ctx) {
  if (off >= 0) return read_checked(pkt, caplen, static_cast<uint64_t>(off), size);
  // bpf_internal_load_pointer_neg_helper
  constexpr int32_t kNet = static_cast<int32_t>(kSkfNetOff);
  constexpr int32_t kLl = static_cast<int32_t>(kSkfLlOff);
  if (off >= kNet) {
    return read_checked(pkt, caplen, uint64_t{ctx.net_offset} + uint64_t(int64_t{off} - kNet),
                        size);
  }
  if (off >= kLl) {
    if (!ctx.has_link_header) return std::nullopt;
    return read_checked(pkt, caplen, uint64_t(int64_t{off} - kLl), size);
  }
  return std::nullopt;
}

// Host-order 16-bit read (struct nlattr fields are host order, as the kernel reads them).
constexpr uint16_t load_host16(const uint8_t* p) {
  if constexpr (std::endian::native == std::endian::little) return uint16_t(p[0] | p[1] << 8);
  return uint16_t(p[0] << 8 | p[1]);
}

inline constexpr uint32_t kNlaHdrLen = 4;                 // NLA_HDRLEN
inline constexpr uint16_t kNlaTypeMask = 0x3fff;          // ~(NLA_F_NESTED|NLA_F_NET_BYTEORDER)
constexpr uint32_t nla_align(uint32_t len) { return (len + 3u) & ~3u; }  // NLA_ALIGN

// lib/nlattr.c nla_find over [start, start + len) of the packet: the offset of the first
// attribute whose type is `type`, or 0. `len` is an int in the kernel (may be negative: none).
constexpr uint32_t nla_find(const uint8_t* pkt, uint32_t start, int64_t len, uint32_t type) {
  uint32_t pos = start;
  int64_t rem = len;
  // nla_ok: rem >= sizeof(*nla) && nla_len >= sizeof(*nla) && nla_len <= rem
  while (rem >= static_cast<int64_t>(kNlaHdrLen)) {
    uint16_t nla_len = load_host16(pkt + pos);
    if (nla_len < kNlaHdrLen || nla_len > rem) break;
    uint16_t nla_type = load_host16(pkt + pos + 2) & kNlaTypeMask;
    if (nla_type == type) return pos;
    uint32_t total = nla_align(nla_len);  // nla_next
    rem -= total;
    pos += total;
  }
  return 0;
}

// bpf_skb_get_nlattr(skb, a, x); skb->len is caplen (the bytes the filter sees).
constexpr uint32_t nlattr(const uint8_t* pkt, uint32_t caplen, uint32_t a, uint32_t x) {
  if (caplen < kNlaHdrLen) return 0;
  if (a > caplen - kNlaHdrLen) return 0;
  return nla_find(pkt, a, int64_t{caplen} - a, x);
}

// bpf_skb_get_nlattr_nest(skb, a, x): the attribute at A must fit; search inside it.
constexpr uint32_t nlattr_nest(const uint8_t* pkt, uint32_t caplen, uint32_t a, uint32_t x) {
  if (caplen < kNlaHdrLen) return 0;
  if (a > caplen - kNlaHdrLen) return 0;
  uint16_t nla_len = load_host16(pkt + a);
  if (nla_len > caplen - a) return 0;
  // nla_find_nested: nla_find(nla_data(nla), nla_len(nla) = nla_len - NLA_HDRLEN, x)
  return nla_find(pkt, a + kNlaHdrLen, int64_t{nla_len} - kNlaHdrLen, x);
}

// An ancillary load (Linux only): the new A, or the end of the program.
constexpr Outcome ancillary(Ancillary id, uint32_t a, uint32_t x, const uint8_t* pkt,
                            uint32_t caplen, const Context& ctx) {
  switch (id) {
    case Ancillary::kProtocol: return Outcome::next(ctx.protocol);
    case Ancillary::kPktType: return Outcome::next(ctx.pkttype & 7u);  // PKT_TYPE_MAX
    case Ancillary::kIfIndex:
      return ctx.has_device ? Outcome::next(ctx.ifindex) : Outcome::end(a);
    case Ancillary::kHaType:
      return ctx.has_device ? Outcome::next(ctx.hatype) : Outcome::end(a);
    case Ancillary::kNlAttr: return Outcome::next(nlattr(pkt, caplen, a, x));
    case Ancillary::kNlAttrNest: return Outcome::next(nlattr_nest(pkt, caplen, a, x));
    case Ancillary::kMark: return Outcome::next(ctx.mark);
    case Ancillary::kQueue: return Outcome::next(ctx.queue);
    case Ancillary::kRxHash: return Outcome::next(ctx.rxhash);
    case Ancillary::kCpu: return Outcome::next(ctx.cpu);
    case Ancillary::kAluXorX: return Outcome::next(a ^ x);
    case Ancillary::kVlanTag: return Outcome::next(ctx.vlan_tci);
    case Ancillary::kVlanTagPresent: return Outcome::next(ctx.vlan_present ? 1u : 0u);
    case Ancillary::kPayOffset: return Outcome::next(ctx.payload_offset);
    case Ancillary::kRandom: return Outcome::next(ctx.random);
    case Ancillary::kVlanTpid: return Outcome::next(ctx.vlan_tpid);
  }
  return Outcome::end(0);
}

// `ld{,h,b} [k]`: A's new value or the end of the program. `size` is 1, 2 or 4.
constexpr Outcome load_abs(Target t, uint32_t k, uint32_t size, uint32_t a, uint32_t x,
                           const uint8_t* pkt, uint32_t caplen, const Context& ctx) {
  if (t == Target::kLinux) {
    if (k >= kSkfAdOff) {
      if (auto id = ancillary_for(k)) return ancillary(*id, a, x, pkt, caplen, ctx);
    }
    auto v = linux_load(static_cast<int32_t>(k), size, pkt, caplen, ctx);
    return v ? Outcome::next(*v) : Outcome::end(0);
  }
  auto v = read_checked(pkt, caplen, k, size);
  return v ? Outcome::next(*v) : Outcome::end(0);
}

// `ld{,h,b} [x + k]`.
constexpr Outcome load_ind(Target t, uint32_t k, uint32_t size, uint32_t x, const uint8_t* pkt,
                           uint32_t caplen, const Context& ctx) {
  if (t == Target::kLinux) {
    auto v = linux_load(static_cast<int32_t>(x + k), size, pkt, caplen, ctx);
    return v ? Outcome::next(*v) : Outcome::end(0);
  }
  auto v = read_checked(pkt, caplen, uint64_t{x} + k, size);
  return v ? Outcome::next(*v) : Outcome::end(0);
}

// `ldxb 4*([k]&0xf)`: X's new value or the end of the program. Linux converts it as a plain
// byte load through convert_bpf_ld_abs (negative offsets work, ancillary k do not).
constexpr Outcome load_msh(Target t, uint32_t k, const uint8_t* pkt, uint32_t caplen,
                           const Context& ctx) {
  std::optional<uint32_t> v = t == Target::kLinux
                                  ? linux_load(static_cast<int32_t>(k), 1, pkt, caplen, ctx)
                                  : read_checked(pkt, caplen, k, 1);
  return v ? Outcome::next((*v & 0xfu) << 2) : Outcome::end(0);
}

// ---------------------------------------------------------------------------------------------
// The executable specification

struct MachineState {
  uint32_t a = 0;
  uint32_t x = 0;
  std::array<uint32_t, kMemWords> mem{};
};

// Runs `prog` from instruction `pc` with `st` on the packet [pkt, pkt + caplen) whose wire length
// is `wirelen`. Defined for every input: a program that runs off its end, an unknown opcode or a
// scratch index >= 16 end with 0 (the verifier never lets those through; this only keeps the
// specification total). Jumps are relative and unsigned, so it always terminates.
constexpr uint32_t evaluate(std::span<const Insn> prog, Target t, const uint8_t* pkt,
                            uint32_t caplen, uint32_t wirelen, const Context& ctx,
                            MachineState st = {}, size_t pc = 0) {
  uint32_t& a = st.a;
  uint32_t& x = st.x;
  while (pc < prog.size()) {
    const Insn& in = prog[pc];
    auto op = decode(in.code);
    if (!op) return 0;
    const OpInfo& oi = info(*op);
    size_t next = pc + 1;
    switch (*op) {
      case Op::kLdW: case Op::kLdH: case Op::kLdB: {
        Outcome o = load_abs(t, in.k, oi.load_size, a, x, pkt, caplen, ctx);
        if (!o.cont) return o.value;
        a = o.value;
        break;
      }
      case Op::kLdWInd: case Op::kLdHInd: case Op::kLdBInd: {
        Outcome o = load_ind(t, in.k, oi.load_size, x, pkt, caplen, ctx);
        if (!o.cont) return o.value;
        a = o.value;
        break;
      }
      case Op::kLdxMsh: {
        Outcome o = load_msh(t, in.k, pkt, caplen, ctx);
        if (!o.cont) return o.value;
        x = o.value;
        break;
      }
      case Op::kLdLen: a = wirelen; break;
      case Op::kLdxLen: x = wirelen; break;
      case Op::kLdImm: a = in.k; break;
      case Op::kLdxImm: x = in.k; break;
      case Op::kLdMem:
        if (in.k >= kMemWords) return 0;
        a = st.mem[in.k];
        break;
      case Op::kLdxMem:
        if (in.k >= kMemWords) return 0;
        x = st.mem[in.k];
        break;
      case Op::kSt:
        if (in.k >= kMemWords) return 0;
        st.mem[in.k] = a;
        break;
      case Op::kStx:
        if (in.k >= kMemWords) return 0;
        st.mem[in.k] = x;
        break;
      case Op::kAddK: case Op::kSubK: case Op::kMulK: case Op::kDivK: case Op::kModK:
      case Op::kAndK: case Op::kOrK: case Op::kXorK: case Op::kLshK: case Op::kRshK:
      case Op::kNeg: {
        auto r = alu(*alu_op(*op), a, in.k, t);
        if (!r) return 0;
        a = *r;
        break;
      }
      case Op::kAddX: case Op::kSubX: case Op::kMulX: case Op::kDivX: case Op::kModX:
      case Op::kAndX: case Op::kOrX: case Op::kXorX: case Op::kLshX: case Op::kRshX: {
        auto r = alu(*alu_op(*op), a, x, t);
        if (!r) return 0;
        a = *r;
        break;
      }
      case Op::kJa: {
        uint64_t target = uint64_t{pc} + 1 + in.k;
        if (target >= prog.size()) return 0;
        next = static_cast<size_t>(target);
        break;
      }
      case Op::kJeqK: case Op::kJgtK: case Op::kJgeK: case Op::kJsetK:
        next = pc + 1 + (compare(*cmp_op(*op), a, in.k) ? in.jt : in.jf);
        break;
      case Op::kJeqX: case Op::kJgtX: case Op::kJgeX: case Op::kJsetX:
        next = pc + 1 + (compare(*cmp_op(*op), a, x) ? in.jt : in.jf);
        break;
      case Op::kRetK: return in.k;
      case Op::kRetA: return a;
      case Op::kRetX: return x;
      case Op::kTax: x = a; break;
      case Op::kTxa: a = x; break;
    }
    pc = next;
  }
  return 0;
}

}  // namespace bpf::vm
