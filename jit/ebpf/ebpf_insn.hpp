// eBPF instructions: the kernel's `struct bpf_insn` wire format and its encodings
// (include/uapi/linux/bpf.h, bpf_common.h; Documentation/bpf/standardization/instruction-set.rst),
// as constexpr values that never collide with the kernel's macros (this header does not include
// <linux/bpf.h>; tests/ebpf/kernel_abi_check.cpp static_asserts the layout and constants against
// it). Builders below make one instruction each; jit/ebpf/translate.cpp uses them.
#pragma once

#include <cstdint>

namespace bpf::jit::ebpf {

// struct bpf_insn: code, dst_reg:4 (low nibble), src_reg:4 (high nibble), off, imm.
struct EbpfInsn {
  uint8_t code = 0;
  uint8_t regs = 0;  // dst | src << 4
  int16_t off = 0;
  int32_t imm = 0;

  constexpr uint8_t dst() const { return regs & 0x0f; }
  constexpr uint8_t src() const { return regs >> 4; }
  friend constexpr bool operator==(const EbpfInsn&, const EbpfInsn&) = default;
};
static_assert(sizeof(EbpfInsn) == 8, "EbpfInsn must match struct bpf_insn");

namespace op {
// classes
inline constexpr uint8_t kLd = 0x00, kLdx = 0x01, kSt = 0x02, kStx = 0x03, kAlu = 0x04,
                         kJmp = 0x05, kJmp32 = 0x06, kAlu64 = 0x07;
// sizes and modes
inline constexpr uint8_t kW = 0x00, kH = 0x08, kB = 0x10, kDw = 0x18;
inline constexpr uint8_t kImm = 0x00, kAbs = 0x20, kInd = 0x40, kMem = 0x60;
// ALU operations
inline constexpr uint8_t kAdd = 0x00, kSub = 0x10, kMul = 0x20, kDiv = 0x30, kOr = 0x40,
                         kAnd = 0x50, kLsh = 0x60, kRsh = 0x70, kNeg = 0x80, kMod = 0x90,
                         kXor = 0xa0, kMov = 0xb0, kArsh = 0xc0, kEnd = 0xd0;
// jump operations
inline constexpr uint8_t kJa = 0x00, kJeq = 0x10, kJgt = 0x20, kJge = 0x30, kJset = 0x40,
                         kJne = 0x50, kJsgt = 0x60, kJsge = 0x70, kCall = 0x80, kExit = 0x90,
                         kJlt = 0xa0, kJle = 0xb0, kJslt = 0xc0, kJsle = 0xd0;
// operand source; byte-order conversion direction (kEnd)
inline constexpr uint8_t kK = 0x00, kX = 0x08;
inline constexpr uint8_t kToLe = 0x00, kToBe = 0x08;

constexpr uint8_t cls(uint8_t c) { return c & 0x07; }
constexpr uint8_t size(uint8_t c) { return c & 0x18; }
constexpr uint8_t mode(uint8_t c) { return c & 0xe0; }
constexpr uint8_t code_op(uint8_t c) { return c & 0xf0; }
constexpr uint8_t src(uint8_t c) { return c & 0x08; }
}  // namespace op

// Registers: r0 return value, r1-r5 arguments (clobbered by calls), r6-r9 callee-saved,
// r10 read-only frame pointer.
enum Reg : uint8_t { kR0, kR1, kR2, kR3, kR4, kR5, kR6, kR7, kR8, kR9, kR10 };

// Helper function ids (enum bpf_func_id).
inline constexpr int32_t kHelperGetPrandomU32 = 7;
inline constexpr int32_t kHelperGetSmpProcessorId = 8;
inline constexpr int32_t kHelperSkbLoadBytes = 26;
inline constexpr int32_t kHelperSkbPullData = 39;
inline constexpr int32_t kHelperSkbLoadBytesRelative = 68;
inline constexpr int32_t kHelperXdpLoadBytes = 189;
inline constexpr int32_t kHdrStartNet = 1;  // BPF_HDR_START_NET (bpf_skb_load_bytes_relative)

constexpr EbpfInsn make(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  return EbpfInsn{code, static_cast<uint8_t>((dst & 0x0f) | (src & 0x0f) << 4), off, imm};
}
// 32-bit ALU (zero-extends the destination), 64-bit ALU.
constexpr EbpfInsn alu32_imm(uint8_t o, uint8_t dst, int32_t imm) {
  return make(op::kAlu | o | op::kK, dst, 0, 0, imm);
}
constexpr EbpfInsn alu32_reg(uint8_t o, uint8_t dst, uint8_t src) {
  return make(op::kAlu | o | op::kX, dst, src, 0, 0);
}
constexpr EbpfInsn alu64_imm(uint8_t o, uint8_t dst, int32_t imm) {
  return make(op::kAlu64 | o | op::kK, dst, 0, 0, imm);
}
constexpr EbpfInsn alu64_reg(uint8_t o, uint8_t dst, uint8_t src) {
  return make(op::kAlu64 | o | op::kX, dst, src, 0, 0);
}
constexpr EbpfInsn mov32_imm(uint8_t dst, uint32_t v) {
  return alu32_imm(op::kMov, dst, static_cast<int32_t>(v));
}
constexpr EbpfInsn mov32_reg(uint8_t dst, uint8_t src) { return alu32_reg(op::kMov, dst, src); }
constexpr EbpfInsn mov64_reg(uint8_t dst, uint8_t src) { return alu64_reg(op::kMov, dst, src); }
// dst = big-endian `bits` of dst (a byte swap on little-endian hosts), zero-extended.
constexpr EbpfInsn to_be(uint8_t dst, int32_t bits) {
  return make(op::kAlu | op::kEnd | op::kToBe, dst, 0, 0, bits);
}
constexpr EbpfInsn ldx(uint8_t sz, uint8_t dst, uint8_t src, int16_t off) {
  return make(op::kLdx | op::kMem | sz, dst, src, off, 0);
}
constexpr EbpfInsn stx(uint8_t sz, uint8_t dst, uint8_t src, int16_t off) {
  return make(op::kStx | op::kMem | sz, dst, src, off, 0);
}
constexpr EbpfInsn st_imm(uint8_t sz, uint8_t dst, int16_t off, int32_t imm) {
  return make(op::kSt | op::kMem | sz, dst, 0, off, imm);
}
// Legacy packet loads (socket filters and tc): r0 = ntoh(packet[imm]) / packet[src + imm];
// the program ends returning 0 when the bytes are not there (the classic semantics).
constexpr EbpfInsn ld_abs(uint8_t sz, int32_t imm) { return make(op::kLd | op::kAbs | sz, 0, 0, 0, imm); }
constexpr EbpfInsn ld_ind(uint8_t sz, uint8_t src, int32_t imm) {
  return make(op::kLd | op::kInd | sz, 0, src, 0, imm);
}
constexpr EbpfInsn call(int32_t helper) { return make(op::kJmp | op::kCall, 0, 0, 0, helper); }
constexpr EbpfInsn exit_insn() { return make(op::kJmp | op::kExit, 0, 0, 0, 0); }

}  // namespace bpf::jit::ebpf
