// Programs, before and after verification.
//
// `Program` is what the assembler, the expression compiler and the bytecode readers produce: raw
// instructions in the kernel's wire format, with the source position of each instruction when it
// came from text. `VerifiedProgram` is a proof: only the verifier (verifier/) can construct one,
// through a passkey it alone holds, and it carries the facts the engines rely on instead of
// re-checking (absolute jump targets, basic blocks, the packet bytes each block needs, scratch
// liveness). Engines (vm/ interpreter, jit/) accept nothing else.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "vm/diagnostic.hpp"
#include "vm/insn.hpp"

namespace bpf::verifier::detail {
struct Mint;  // the only holder of VerifiedProgram's passkey (defined in verifier/)
}

namespace bpf::vm {

// Which rule set verified a program and which runtime semantics it runs with:
// kLinux: Linux socket filters (ancillary loads, negative offsets, masked shifts).
// kBsd:   FreeBSD/NetBSD bpf_validate + libpcap's bpf_filter (no extensions).
enum class Target : uint8_t { kLinux, kBsd };

struct Program {
  std::vector<Insn> insns;
  // Source position of each instruction (same length as insns) when it came from text;
  // empty for bytecode input. Used for diagnostics only.
  std::vector<SourceLoc> locs;

  size_t size() const { return insns.size(); }
  SourceLoc loc(size_t i) const { return i < locs.size() ? locs[i] : SourceLoc{}; }
  friend bool operator==(const Program& a, const Program& b) { return a.insns == b.insns; }
};

// One instruction after verification: decoded opcode, absolute jump targets.
struct DecodedInsn {
  Op op;
  uint8_t block_end;  // 1 if this instruction ends its basic block
  uint16_t code;
  uint32_t k;
  uint32_t jt;  // absolute index of the true/only successor (jumps), else i + 1
  uint32_t jf;  // absolute index of the false successor (conditional jumps), else jt
};

inline constexpr uint32_t kNoBlock = 0xffffffffu;

struct BasicBlock {
  uint32_t first = 0;  // index of the first instruction
  uint32_t last = 0;   // index of the last instruction (inclusive): a jump, a ret, or a fallthrough
  // Bytes of packet, counted from offset 0, that the absolute loads ([k], 4*([k]&0xf)) of this
  // block read: if caplen < pkt_bytes, one of them fails and the program returns 0 before the
  // block ends. 0 when the block has no absolute packet load. Ancillary and negative offsets are
  // not counted (they take the exact slow path).
  uint32_t pkt_bytes = 0;
  // Same, for the whole path from the entry to this block: the maximum of pkt_bytes over all
  // blocks that dominate it (including itself). An engine may check this once on entry when no
  // block before it checked a larger value.
  uint32_t pkt_bytes_dominated = 0;
  std::array<uint32_t, 2> succ = {kNoBlock, kNoBlock};  // successor blocks (true, false)
  uint16_t scratch_live_in = 0;  // M[] slots whose value may be read later, on entry
};

struct ProgramFacts {
  uint16_t scratch_read = 0;      // slots read anywhere
  uint16_t scratch_written = 0;   // slots written anywhere
  bool reads_a_before_write = false;  // some path reads A before writing it (A starts at 0)
  bool reads_x_before_write = false;  // same for X
  bool uses_ancillary = false;        // any load from SKF_AD_OFF + n
  bool uses_negative_offsets = false; // any absolute load in the SKF_NET_OFF/SKF_LL_OFF ranges
  bool uses_ind = false;              // any [x + k] load
  bool uses_div_x = false;            // div/mod by X (may end with 0)
  uint32_t max_pkt_bytes = 0;         // max of BasicBlock::pkt_bytes
};

class VerifiedProgram {
 public:
  class Key {
    friend struct bpf::verifier::detail::Mint;
    Key() = default;
  };

  VerifiedProgram(Key, Target target, std::vector<Insn> insns, std::vector<DecodedInsn> decoded,
                  std::vector<BasicBlock> blocks, std::vector<uint32_t> block_of,
                  ProgramFacts facts)
      : target_(target),
        insns_(std::move(insns)),
        decoded_(std::move(decoded)),
        blocks_(std::move(blocks)),
        block_of_(std::move(block_of)),
        facts_(facts) {}

  Target target() const { return target_; }
  std::span<const Insn> insns() const { return insns_; }
  std::span<const DecodedInsn> decoded() const { return decoded_; }
  std::span<const BasicBlock> blocks() const { return blocks_; }
  uint32_t block_of(uint32_t insn) const { return block_of_[insn]; }
  const ProgramFacts& facts() const { return facts_; }
  size_t size() const { return insns_.size(); }

 private:
  Target target_;
  std::vector<Insn> insns_;
  std::vector<DecodedInsn> decoded_;
  std::vector<BasicBlock> blocks_;
  std::vector<uint32_t> block_of_;
  ProgramFacts facts_;
};

}  // namespace bpf::vm
