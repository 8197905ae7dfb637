// The classic BPF instruction set: one table, one row per opcode.
//
// Everything that knows about opcodes (assembler, disassembler, verifier allow-list, interpreter,
// both JITs) is driven by BPF_OPCODE_TABLE below or switches over the `Op` enum it defines, with
// -Werror=switch and no `default:`, so adding a row breaks the build wherever it must be handled.
// Unknown 16-bit codes are rejected once, by the verifier (`decode()` returns nullopt).
//
// Encodings follow the BPF paper (McCanne & Jacobson 1993) and Linux include/uapi/linux/filter.h
// and bpf_common.h; the Linux extensions (mod, xor, neg-as-ALU, the ancillary loads) follow
// Documentation/networking/filter.rst. The wire format is the kernel's `struct sock_filter`;
// tests/vm/insn_test.cpp checks the layout and every row against <linux/filter.h>.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace bpf::vm {

// struct sock_filter / struct bpf_insn, layout-compatible (static_asserts in insn_test.cpp).
struct Insn {
  uint16_t code = 0;
  uint8_t jt = 0;
  uint8_t jf = 0;
  uint32_t k = 0;

  friend constexpr bool operator==(const Insn&, const Insn&) = default;
};
static_assert(sizeof(Insn) == 8, "Insn must match struct sock_filter");

// Field encodings (bpf_common.h). Named kName so they never collide with <linux/filter.h> macros.
namespace code {
// classes
inline constexpr uint16_t kLd = 0x00, kLdx = 0x01, kSt = 0x02, kStx = 0x03, kAlu = 0x04,
                          kJmp = 0x05, kRet = 0x06, kMisc = 0x07;
// load sizes
inline constexpr uint16_t kW = 0x00, kH = 0x08, kB = 0x10;
// load modes
inline constexpr uint16_t kImm = 0x00, kAbs = 0x20, kInd = 0x40, kMem = 0x60, kLen = 0x80,
                          kMsh = 0xa0;
// ALU operations
inline constexpr uint16_t kAdd = 0x00, kSub = 0x10, kMul = 0x20, kDiv = 0x30, kOr = 0x40,
                          kAnd = 0x50, kLsh = 0x60, kRsh = 0x70, kNeg = 0x80, kMod = 0x90,
                          kXor = 0xa0;
// jump operations
inline constexpr uint16_t kJa = 0x00, kJeq = 0x10, kJgt = 0x20, kJge = 0x30, kJset = 0x40;
// operand source
inline constexpr uint16_t kK = 0x00, kX = 0x08;
// return value source (kK, kX above, and:)
inline constexpr uint16_t kA = 0x10;
// misc
inline constexpr uint16_t kTax = 0x00, kTxa = 0x80;

constexpr uint16_t cls(uint16_t c) { return c & 0x07; }
constexpr uint16_t size(uint16_t c) { return c & 0x18; }
constexpr uint16_t mode(uint16_t c) { return c & 0xe0; }
constexpr uint16_t op(uint16_t c) { return c & 0xf0; }
constexpr uint16_t src(uint16_t c) { return c & 0x08; }
constexpr uint16_t rval(uint16_t c) { return c & 0x18; }
constexpr uint16_t miscop(uint16_t c) { return c & 0xf8; }
}  // namespace code

// How the operand of an instruction is written and what `k` means.
enum class Operand : uint8_t {
  kNone,    // tax, txa, neg
  kImm,     // #k              (ld/ldx immediate)
  kLen,     // #len            (ld/ldx wire length)
  kMem,     // M[k]            (ld/ldx/st/stx scratch slot)
  kAbs,     // [k]             (packet, absolute; Linux: k >= SKF_AD_OFF is an ancillary load)
  kInd,     // [x + k]         (packet, X-relative)
  kMsh,     // 4*([k]&0xf)     (ldxb: IP header length)
  kAluK,    // #k              (ALU with constant)
  kAluX,    // x               (ALU with X)
  kJa,      // k = offset      (unconditional jump)
  kJmpK,    // #k, jt, jf
  kJmpX,    // x, jt, jf
  kRetK,    // #k
  kRetA,    // a
  kRetX,    // x               (BPF_RET|BPF_X: decoded for disassembly only; Linux and FreeBSD
            //                  verifiers both reject it, so no engine ever runs it)
};

// Effect flags: what an instruction reads and writes, and how it transfers control.
namespace eff {
inline constexpr uint16_t kReadA = 1u << 0, kWriteA = 1u << 1, kReadX = 1u << 2,
                          kWriteX = 1u << 3, kReadMem = 1u << 4, kWriteMem = 1u << 5,
                          kReadPkt = 1u << 6, kJump = 1u << 7, kCond = 1u << 8, kRet = 1u << 9,
                          kMayFail = 1u << 10,  // may end the program with 0 (bounds, div by X)
                          kLinuxOnly = 1u << 11,  // Linux extension, absent from BSD bpf(4)
                          kBsdOnly = 1u << 12;    // outside the Linux set (ret x: FreeBSD rejects it too)
}  // namespace eff

// X(Name, code, mnemonic, operand, effects, load size in bytes (0 if not a packet load))
// Mnemonics are the canonical ones of tcpdump -d / bpf_asm; assembler aliases live in compiler/.
#define BPF_OPCODE_TABLE(X)                                                                      \
  X(LdW, 0x20, "ld", kAbs, eff::kWriteA | eff::kReadPkt | eff::kMayFail, 4)                      \
  X(LdH, 0x28, "ldh", kAbs, eff::kWriteA | eff::kReadPkt | eff::kMayFail, 2)                     \
  X(LdB, 0x30, "ldb", kAbs, eff::kWriteA | eff::kReadPkt | eff::kMayFail, 1)                     \
  X(LdWInd, 0x40, "ld", kInd, eff::kWriteA | eff::kReadX | eff::kReadPkt | eff::kMayFail, 4)     \
  X(LdHInd, 0x48, "ldh", kInd, eff::kWriteA | eff::kReadX | eff::kReadPkt | eff::kMayFail, 2)    \
  X(LdBInd, 0x50, "ldb", kInd, eff::kWriteA | eff::kReadX | eff::kReadPkt | eff::kMayFail, 1)    \
  X(LdLen, 0x80, "ld", kLen, eff::kWriteA, 0)                                                    \
  X(LdImm, 0x00, "ld", kImm, eff::kWriteA, 0)                                                    \
  X(LdMem, 0x60, "ld", kMem, eff::kWriteA | eff::kReadMem, 0)                                    \
  X(LdxLen, 0x81, "ldx", kLen, eff::kWriteX, 0)                                                  \
  X(LdxMsh, 0xb1, "ldxb", kMsh, eff::kWriteX | eff::kReadPkt | eff::kMayFail, 1)                 \
  X(LdxImm, 0x01, "ldx", kImm, eff::kWriteX, 0)                                                  \
  X(LdxMem, 0x61, "ldx", kMem, eff::kWriteX | eff::kReadMem, 0)                                  \
  X(St, 0x02, "st", kMem, eff::kReadA | eff::kWriteMem, 0)                                       \
  X(Stx, 0x03, "stx", kMem, eff::kReadX | eff::kWriteMem, 0)                                     \
  X(AddK, 0x04, "add", kAluK, eff::kReadA | eff::kWriteA, 0)                                     \
  X(AddX, 0x0c, "add", kAluX, eff::kReadA | eff::kWriteA | eff::kReadX, 0)                       \
  X(SubK, 0x14, "sub", kAluK, eff::kReadA | eff::kWriteA, 0)                                     \
  X(SubX, 0x1c, "sub", kAluX, eff::kReadA | eff::kWriteA | eff::kReadX, 0)                       \
  X(MulK, 0x24, "mul", kAluK, eff::kReadA | eff::kWriteA, 0)                                     \
  X(MulX, 0x2c, "mul", kAluX, eff::kReadA | eff::kWriteA | eff::kReadX, 0)                       \
  X(DivK, 0x34, "div", kAluK, eff::kReadA | eff::kWriteA, 0)                                     \
  X(DivX, 0x3c, "div", kAluX, eff::kReadA | eff::kWriteA | eff::kReadX | eff::kMayFail, 0)       \
  X(ModK, 0x94, "mod", kAluK, eff::kReadA | eff::kWriteA, 0)                                     \
  X(ModX, 0x9c, "mod", kAluX, eff::kReadA | eff::kWriteA | eff::kReadX | eff::kMayFail, 0)       \
  X(AndK, 0x54, "and", kAluK, eff::kReadA | eff::kWriteA, 0)                                     \
  X(AndX, 0x5c, "and", kAluX, eff::kReadA | eff::kWriteA | eff::kReadX, 0)                       \
  X(OrK, 0x44, "or", kAluK, eff::kReadA | eff::kWriteA, 0)                                       \
  X(OrX, 0x4c, "or", kAluX, eff::kReadA | eff::kWriteA | eff::kReadX, 0)                         \
  X(XorK, 0xa4, "xor", kAluK, eff::kReadA | eff::kWriteA, 0)                                     \
  X(XorX, 0xac, "xor", kAluX, eff::kReadA | eff::kWriteA | eff::kReadX, 0)                       \
  X(LshK, 0x64, "lsh", kAluK, eff::kReadA | eff::kWriteA, 0)                                     \
  X(LshX, 0x6c, "lsh", kAluX, eff::kReadA | eff::kWriteA | eff::kReadX, 0)                       \
  X(RshK, 0x74, "rsh", kAluK, eff::kReadA | eff::kWriteA, 0)                                     \
  X(RshX, 0x7c, "rsh", kAluX, eff::kReadA | eff::kWriteA | eff::kReadX, 0)                       \
  X(Neg, 0x84, "neg", kNone, eff::kReadA | eff::kWriteA, 0)                                      \
  X(Ja, 0x05, "ja", kJa, eff::kJump, 0)                                                          \
  X(JeqK, 0x15, "jeq", kJmpK, eff::kJump | eff::kCond | eff::kReadA, 0)                          \
  X(JeqX, 0x1d, "jeq", kJmpX, eff::kJump | eff::kCond | eff::kReadA | eff::kReadX, 0)            \
  X(JgtK, 0x25, "jgt", kJmpK, eff::kJump | eff::kCond | eff::kReadA, 0)                          \
  X(JgtX, 0x2d, "jgt", kJmpX, eff::kJump | eff::kCond | eff::kReadA | eff::kReadX, 0)            \
  X(JgeK, 0x35, "jge", kJmpK, eff::kJump | eff::kCond | eff::kReadA, 0)                          \
  X(JgeX, 0x3d, "jge", kJmpX, eff::kJump | eff::kCond | eff::kReadA | eff::kReadX, 0)            \
  X(JsetK, 0x45, "jset", kJmpK, eff::kJump | eff::kCond | eff::kReadA, 0)                        \
  X(JsetX, 0x4d, "jset", kJmpX, eff::kJump | eff::kCond | eff::kReadA | eff::kReadX, 0)          \
  X(RetK, 0x06, "ret", kRetK, eff::kRet, 0)                                                      \
  X(RetA, 0x16, "ret", kRetA, eff::kRet | eff::kReadA, 0)                                        \
  X(RetX, 0x0e, "ret", kRetX, eff::kRet | eff::kReadX | eff::kBsdOnly, 0)                        \
  X(Tax, 0x07, "tax", kNone, eff::kReadA | eff::kWriteX, 0)                                      \
  X(Txa, 0x87, "txa", kNone, eff::kReadX | eff::kWriteA, 0)

enum class Op : uint8_t {
#define BPF_X_ENUM(name, c, mn, opnd, fx, sz) k##name,
  BPF_OPCODE_TABLE(BPF_X_ENUM)
#undef BPF_X_ENUM
};

struct OpInfo {
  Op op;
  uint16_t code;
  std::string_view mnemonic;
  Operand operand;
  uint16_t effects;
  uint8_t load_size;  // bytes read from the packet by [k]/[x+k]/msh forms, else 0

  constexpr bool has(uint16_t flag) const { return (effects & flag) != 0; }
};

inline constexpr std::array kOpTable = {
#define BPF_X_INFO(name, c, mn, opnd, fx, sz) \
  OpInfo{Op::k##name, c, mn, Operand::opnd, static_cast<uint16_t>(fx), sz},
    BPF_OPCODE_TABLE(BPF_X_INFO)
#undef BPF_X_INFO
};
inline constexpr size_t kNumOps = kOpTable.size();

constexpr const OpInfo& info(Op op) { return kOpTable[static_cast<size_t>(op)]; }

// Exact decode of a 16-bit code. Every code has exactly one meaning here: the kernel's codes,
// plus BPF_RET|BPF_X (BSD). Codes with unused bits set are not decoded (the verifier rejects
// them); Linux's own bpf_check_classic() also rejects them.
constexpr std::optional<Op> decode(uint16_t c) {
  for (const OpInfo& i : kOpTable)
    if (i.code == c) return i.op;
  return std::nullopt;
}

// A 64K lookup would be faster; decode() is only used at load time, not per packet.

// Hard limits (Linux BPF_MAXINSNS, BPF_MEMWORDS).
inline constexpr uint32_t kMaxInsns = 4096;
inline constexpr uint32_t kMemWords = 16;

constexpr Insn stmt(uint16_t c, uint32_t k) { return Insn{c, 0, 0, k}; }
constexpr Insn jump(uint16_t c, uint32_t k, uint8_t jt, uint8_t jf) { return Insn{c, jt, jf, k}; }

}  // namespace bpf::vm
