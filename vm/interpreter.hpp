// The reference engine: a threaded-code interpreter over a VerifiedProgram.
//
// Construction translates the verified instructions once into "slots": one per instruction,
// each holding the address of its handler (GCC's labels-as-values, so dispatch is one indirect
// jump per instruction, no switch), its operand, and direct pointers to its successors. Opcodes
// are specialised by what the facts prove:
//   * Bounds checks are merged per basic block: the first counted absolute load of a block checks
//     `caplen >= BasicBlock::pkt_bytes` once and every counted absolute load of the block then
//     reads without a check. A block whose bytes are already guaranteed by every path into it
//     (forward data flow over the acyclic CFG: min over predecessors of what they checked) checks
//     nothing. When the check fails the program returns 0, which is exact because a failing load
//     ends the program with 0 and nothing earlier in the block is visible; the one exception
//     (Linux ifindex/hatype without a device return A) resumes the exact specification instead.
//   * Division by a constant is never by 0, constant shifts are < 32, scratch memory is zeroed
//     only when the program may read a slot before writing it.
//   * Ancillary loads, negative offsets and [x + k] that leaves the fast range call the
//     constexpr functions of vm/semantics.hpp, the single definition of the semantics.
// No allocation and no virtual call per packet; run_batch() runs many packets in one call
// without leaving the dispatch loop. Tested against vm::evaluate() and libpcap's bpf_filter in
// tests/conformance/ (conformance cases, differential test) and tests/vm/interpreter_test.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "vm/context.hpp"
#include "vm/insn.hpp"
#include "vm/program.hpp"

namespace bpf::vm {

// One packet of a batch (jit::PacketView is this type).
struct PacketRef {
  const uint8_t* data;
  uint32_t caplen;
  uint32_t wirelen;
};

class Interpreter {
 public:
  explicit Interpreter(const VerifiedProgram& prog);
  // Movable (the slots live in a vector whose buffer moves with it), not copyable.
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;
  Interpreter(Interpreter&&) noexcept = default;
  Interpreter& operator=(Interpreter&&) noexcept = default;

  // The program's return value for one packet: bytes to keep, 0 = drop.
  uint32_t run(const uint8_t* pkt, uint32_t caplen, uint32_t wirelen,
               const Context& ctx = {}) const;
  // The same as run(), as a plain function of the interpreter's address (jit::Filter calls it
  // through one indirect call, with nothing in between).
  static uint32_t run_thunk(const void* self, const uint8_t* pkt, uint32_t caplen,
                            uint32_t wirelen, const Context& ctx);
  // out[i] = run(pkts[i]...) for every packet.
  void run_batch(std::span<const PacketRef> pkts, uint32_t* out, const Context& ctx = {}) const;

  Target target() const { return target_; }
  // Statistics for tests: how many bounds checks remain after merging.
  size_t block_checks() const { return block_checks_; }
  size_t checked_loads() const { return checked_loads_; }
  size_t fused() const { return fused_; }

  // One pre-decoded instruction (48 bytes): handler address, operand, successors. A fused
  // slot (a load, optionally `and #mask`, then a conditional jump) carries the jump's constant
  // in k2 and the jump's successors; the fused-over instructions keep their own slots for
  // paths that jump straight to them.
  struct Slot {
    const void* handler;   // in exec() (batches)
    const void* handler1;  // in run_thunk() (one packet)
    const Slot* jt;   // conditional jumps and ja: taken / only successor
    const Slot* jf;   // conditional jumps: not taken
    uint32_t k;       // operand
    uint32_t n;       // loads: bytes to check (block check; 0 = none) or load size (slow paths)
    uint32_t k2;      // fused slots: the jump's k
    uint32_t mask;    // fused load-and-jump slots: the `and` constant
  };

 private:
  static void exec(const Interpreter* self, const PacketRef* pkts, size_t n, uint32_t* out,
                   const Context& ctx, const void* const** table_out);
  static uint32_t resume(const Interpreter* self, const Slot* at, uint32_t a, uint32_t x,
                         const uint32_t* mem, const PacketRef& p, const Context& ctx);

  Target target_;
  bool zero_mem_ = false;
  size_t block_checks_ = 0;
  size_t checked_loads_ = 0;
  size_t fused_ = 0;
  std::vector<Insn> insns_;   // for the exact slow path (vm::evaluate)
  std::vector<Slot> slots_;   // one per instruction, plus a final `ret #0` sentinel
};

}  // namespace bpf::vm
