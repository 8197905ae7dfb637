// Programs, before and after verification.
//
// `Program` is what the assembler, the expression compiler and the bytecode readers produce: raw
// instructions in the kernel's wire format, with the source position of each instruction when it
// came from text. `VerifiedProgram` is a proof: only the verifier (verifier/) can construct one,
// through a passkey it alone holds, and it carries the facts the engines rely on instead of
// re-checking (absolute jump targets, basic blocks, the packet bytes each block needs, where to
// test the packet length, scratch liveness). Engines (vm/ interpreter, jit/) accept nothing else.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "vm/ancillary.hpp"
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
// Guarantees (verifier/verifier.cpp): `op` is the decoded `code` and is allowed by the target's
// rule set; jt/jf < size() for jumps (always forward: jt, jf > own index), so every execution
// terminates; for non-jumps jt == jf == index + 1 (== size() only for the last instruction,
// which is always a return); for `ja` jt == jf.
struct DecodedInsn {
  Op op;
  uint8_t block_end;  // 1 if this instruction ends its basic block
  uint16_t code;
  uint32_t k;
  uint32_t jt;  // absolute index of the true/only successor (jumps), else i + 1
  uint32_t jf;  // absolute index of the false successor (conditional jumps), else jt
};

// Whether an absolute load ([k], or `ldxb 4*([k]&0xf)`) of `size` bytes at k is a plain packet
// offset counted in BasicBlock::pkt_bytes. Linux treats k >= 2^31 as negative (ancillary,
// SKF_NET_OFF/SKF_LL_OFF, or always failing: the engines' exact slow path); BSD counts every
// offset whose end fits in 32 bits (larger ones can never be in bounds: libpcap bpf_filter.c).
inline bool counted_load(Target t, uint32_t k, uint32_t size) {
  if (t == Target::kLinux) return k < 0x80000000u;
  return uint64_t{k} + size <= 0xffffffffu;
}

// Linux `ld #ifidx` / `ld #hatype` end the program returning A when the packet has no device
// (bpf_convert_filter emits `if (skb->dev == NULL) exit`): the one way a program can end
// mid-block with a value that need not be 0.
inline bool may_exit_nonzero(Target t, const DecodedInsn& d) {
  if (t != Target::kLinux || (d.op != Op::kLdW && d.op != Op::kLdH && d.op != Op::kLdB))
    return false;
  const auto a = ancillary_for(d.k);
  return a && (*a == Ancillary::kIfIndex || *a == Ancillary::kHaType);
}

inline constexpr uint32_t kNoBlock = 0xffffffffu;

// Basic blocks partition ALL instructions (unreachable ones too) in index order: blocks()[b]
// covers [first, last], block_of(i) names the block of i, blocks()[0] starts at 0. A block
// starts at 0, at every jump target and after every jump or return; it ends with a jump, a
// return, or the instruction before a leader (fall-through). Successor blocks have larger
// indices (the CFG is acyclic, index order is a topological order).
struct BasicBlock {
  uint32_t first = 0;  // index of the first instruction
  uint32_t last = 0;   // index of the last instruction (inclusive): a jump, a ret, or a fallthrough
  // Bytes of packet, counted from offset 0, that the absolute loads ([k], 4*([k]&0xf)) of this
  // block read: if caplen < pkt_bytes, one of them fails and the program returns 0 before the
  // block ends. 0 when the block has no absolute packet load. Ancillary and negative offsets are
  // not counted (they take the exact slow path).
  // Exactly which loads are counted: Linux: absolute loads and ldxb msh with k < 2^31 (larger k
  // are ancillary, SKF_NET_OFF/SKF_LL_OFF, or always-failing negative offsets); BSD: those with
  // k + size <= 2^32 - 1. For every counted load, k + size <= pkt_bytes without overflow, so
  // after one check `caplen >= pkt_bytes` an engine may read every counted load of the block
  // without its own bounds check; if `caplen < pkt_bytes` it may return 0 on entry to the block
  // (every way a program can fail returns 0, and nothing a block does before failing is visible)
  // -- with one Linux exception: `ld #ifidx` / `ld #hatype` end the program returning A when the
  // packet has no device (bpf_convert_filter emits `if (skb->dev == NULL) exit`), so in a block
  // holding one of those before the failing load, the early "return 0" is only right when a
  // device is present.
  uint32_t pkt_bytes = 0;
  // Same, for the whole path from the entry to this block: the maximum of pkt_bytes over all
  // blocks that dominate it (including itself). An engine may check this once on entry when no
  // block before it checked a larger value.
  // Guarantee: every execution reaching this block has fully executed all its dominators, so
  // caplen >= pkt_bytes of each strict dominator already holds there. Unreachable blocks:
  // pkt_bytes_dominated == pkt_bytes.
  uint32_t pkt_bytes_dominated = 0;
  // successor blocks (true, false). Fall-through and `ja`: succ[1] == kNoBlock; ret: both
  // kNoBlock; a conditional jump with jt == jf has succ[0] == succ[1].
  std::array<uint32_t, 2> succ = {kNoBlock, kNoBlock};
  // M[] slots whose value may be read later, on entry (backward may-liveness over the CFG):
  // a slot not in scratch_live_in of a block is never read before being overwritten from there.
  uint16_t scratch_live_in = 0;
};

// Whole-program facts. "Path" means a path of the CFG from instruction 0 over reachable code.
struct ProgramFacts {
  uint16_t scratch_read = 0;      // slots read anywhere (reachable or not)
  uint16_t scratch_written = 0;   // slots written anywhere (reachable or not)
  bool reads_a_before_write = false;  // some path reads A before writing it (A starts at 0)
  bool reads_x_before_write = false;  // same for X
  bool uses_ancillary = false;        // any load from SKF_AD_OFF + n (Linux)
  bool uses_negative_offsets = false; // any absolute load in the SKF_NET_OFF/SKF_LL_OFF ranges
  bool uses_ind = false;              // any [x + k] load
  bool uses_div_x = false;            // div/mod by X (may end with 0)
  uint32_t max_pkt_bytes = 0;         // max of BasicBlock::pkt_bytes
  // Slots that some path may read before writing them. Always 0 for Linux (the kernel's
  // check_load_and_stores() rejects such programs); BSD bpf_validate() does not check it, so
  // an engine must give these slots a defined value (0, as libpcap's callers expect).
  uint16_t scratch_uninit = 0;
};

class VerifiedProgram {
 public:
  class Key {
    friend struct bpf::verifier::detail::Mint;
    Key() = default;
  };

  VerifiedProgram(Key, Target target, std::vector<Insn> insns, std::vector<DecodedInsn> decoded,
                  std::vector<BasicBlock> blocks, std::vector<uint32_t> block_of,
                  std::vector<uint32_t> check_before, ProgramFacts facts)
      : target_(target),
        insns_(std::move(insns)),
        decoded_(std::move(decoded)),
        blocks_(std::move(blocks)),
        block_of_(std::move(block_of)),
        check_before_(std::move(check_before)),
        facts_(facts) {}

  Target target() const { return target_; }
  std::span<const Insn> insns() const { return insns_; }
  std::span<const DecodedInsn> decoded() const { return decoded_; }
  std::span<const BasicBlock> blocks() const { return blocks_; }
  uint32_t block_of(uint32_t insn) const { return block_of_[insn]; }
  // Where to test the packet length, one entry per instruction: before instruction i, an engine
  // that finds caplen < check_before()[i] may return 0 at once (0: no test there). Every
  // counted absolute load (counted_load) of a block is covered by a test at or before it in its
  // block or by tests on every path into the block, so after the tests an engine reads counted
  // loads without any check of its own. Placed by a forward must-analysis over pkt_bytes
  // (bytes already tested on every path into a block: no test where every predecessor path
  // tested as much); a block holding a may_exit_nonzero load is tested in segments that end
  // after each such load, so a failed test never turns its "return A" into "return 0".
  std::span<const uint32_t> check_before() const { return check_before_; }
  const ProgramFacts& facts() const { return facts_; }
  size_t size() const { return insns_.size(); }

 private:
  Target target_;
  std::vector<Insn> insns_;
  std::vector<DecodedInsn> decoded_;
  std::vector<BasicBlock> blocks_;
  std::vector<uint32_t> block_of_;
  std::vector<uint32_t> check_before_;
  ProgramFacts facts_;
};

}  // namespace bpf::vm
