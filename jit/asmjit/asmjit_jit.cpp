// Code generator of the asmjit x86-64 engine (see asmjit_jit.hpp for what it promises).
//
// Register assignment (System V AMD64; the generated function is a leaf on its fast path):
//   eax  A                         r8d  X
//   rdi  packet                    rsi  caplen, zero-extended to 64 bits
//   rcx  vm::Context*              r9d  wirelen (set only when the program reads it)
//   r10  Linux [x + k] limit: min(caplen, INT32_MAX), so a positive Linux offset is never >= 2^31
//   rdx, r11  temporaries (div/mul/shift/address arithmetic)
//   M[k] at [rsp - 64 + 4k], in the red zone (no frame needed; slow-path calls move rsp below it)
// Every write to A and X is a 32-bit operation, so rax and r8 always hold zero-extended values
// and can be used as 64-bit indexes.
//
// Bounds checks. Per block, `need` = the verifier's BasicBlock::pkt_bytes: the largest k + size
// of its absolute loads with a non-negative offset (Linux k < 2^31; BSD k + size < 2^32). If
// caplen < need, some load of the block fails and the program returns 0 before the block ends
// (nothing else in a block has a visible effect), so one compare per block is exact -- except
// after a Linux ifindex/hatype load, which ends the program returning A when there is no
// device: blocks holding one are checked in segments ending after each such load. The SAFE
// copy of the code checks a block only when its need exceeds what every path into it already
// checked (a forward must-analysis over the DAG of blocks: at least as strong as the verifier's
// pkt_bytes_dominated, since it also counts checks made on every path without dominating).
// The FAST copy, entered when
// caplen >= the largest need of the program, has no absolute-load checks at all. [x + k] loads
// are checked one by one (X is dynamic); on Linux a failing check calls the exact slow path
// (negative offsets reach the network/link-layer headers), on BSD it returns 0 as bpf_filter.c.
#include "jit/asmjit/asmjit_jit.hpp"

#include <asmjit/x86.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "jit/asmjit/code_memory.hpp"
#include "jit/asmjit/slow_paths.hpp"
#include "vm/ancillary.hpp"
#include "vm/context.hpp"
#include "vm/insn.hpp"

namespace bpf::jit {
namespace {

namespace x86 = asmjit::x86;
using asmjit::Imm;
using asmjit::Label;
using vm::Op;

constexpr int32_t kScratchBase = -64;       // M[0] at [rsp - 64]
constexpr int32_t kCallFrame = 136;         // rsp adjustment around helper calls (keeps 16B align)

class ErrorCollector final : public asmjit::ErrorHandler {
 public:
  void handleError(asmjit::Error err, const char* message, asmjit::BaseEmitter*) override {
    if (first_ == asmjit::kErrorOk) {
      first_ = err;
      message_ = message ? message : asmjit::DebugUtils::errorAsString(err);
    }
  }
  asmjit::Error first_ = asmjit::kErrorOk;
  std::string message_;
};

uint32_t load_size(Op op) { return vm::info(op).load_size; }

struct IndStub {
  Label entry;
  Label resume;
  uint32_t k;
  uint32_t size;
};

class Codegen {
 public:
  Codegen(const vm::VerifiedProgram& prog, const AsmjitOptions& opts, x86::Assembler& a,
          bool inline_batch = false)
      : prog_(prog), d_(prog.decoded()), blocks_(prog.blocks()), a_(a),
        linux_(prog.target() == vm::Target::kLinux), inline_batch_(inline_batch) {
    const auto& cpu = asmjit::CpuInfo::host().features().x86();
    movbe_ = opts.use_cpu_extensions && cpu.hasMOVBE();
    bmi2_ = opts.use_cpu_extensions && cpu.hasBMI2();
    analyse();
    // The check-free copy only pays when the SAFE copy has more than one check on some path;
    // with a single check at the very entry the two copies would be the same code.
    size_t checks = 0;
    for (uint32_t c : check_before_) checks += c != 0;
    const bool single_entry_check = checks <= 1 && (checks == 0 || check_before_[0] != 0);
    dual_ = opts.dual_version && max_need_ > 0 && !single_entry_check &&
            d_.size() <= AsmjitOptions::kMaxDualInsns;
  }

  Label native_entry() const { return native_entry_; }

  void emit() {
    fail_ = a_.newLabel();
    ret_a_ = a_.newLabel();
    ret_edx_ = a_.newLabel();
    // Block labels are created on first use (jump targets only); a block whose label exists
    // when it is emitted binds it. Jumps only go forward, so every use precedes the bind.
    for (auto& v : labels_) v.assign(blocks_.size(), Label());
    if (inline_batch_) {
      emit_inline_batch();
      return;
    }
    // Entry 1 (offset 0), the jit/backend.hpp RunFn signature
    //   (const void* state, const uint8_t* pkt, uint32_t caplen, uint32_t wirelen, const Context&)
    // so Filter::run makes exactly one indirect call: shift the arguments and fall through.
    a_.mov(x86::rdi, x86::rsi);
    a_.mov(x86::esi, x86::edx);
    a_.mov(x86::edx, x86::ecx);
    a_.mov(x86::rcx, x86::r8);
    // Entry 2: NativeFilterFn (pkt, caplen, wirelen, ctx).
    native_entry_ = a_.newLabel();
    a_.bind(native_entry_);
    emit_filter();
    a_.ret();
    a_.bind(ret_edx_);
    a_.mov(x86::eax, x86::edx);
    a_.ret();
    for (const IndStub& s : stubs_) emit_ind_stub(s);
    emit_batch_entry();
  }

  // The filter for one packet (pkt in rdi, caplen esi, wirelen edx, ctx rcx): prologue, the
  // check-free copy when there is one, the checked copy; it ends with the verdict in eax at its
  // end (failures and `ret a` arrive there too) or leaves through ret() and ret_edx_.
  void emit_filter() {
    emit_prologue();
    if (dual_) {
      cmp_len(x86::rsi, max_need_);
      a_.jb(block_label(kSafe, 0));
      emit_version(kFast);
    }
    emit_version(kSafe);
    a_.bind(fail_);
    a_.xor_(x86::eax, x86::eax);
    a_.bind(ret_a_);
  }

  Label batch_entry() const { return batch_entry_; }

 private:
  enum Version { kSafe = 0, kFast = 1 };

  // The loop of both batch forms, with the jit/backend.hpp BatchFn signature
  //   (const void* state, const vm::PacketRef* pkts, size_t n, uint32_t* out, const Context&):
  // for each packet it prefetches the first two cache lines of the packet kPrefetchAhead
  // positions on, loads pkt/caplen/wirelen/ctx into the registers the per-packet function takes
  // them in (rdi, esi, edx, rcx), runs `body` (which leaves the verdict in eax and falls through
  // or jumps to `next`) and stores the verdict. The filter's code uses only caller-saved
  // registers and the red zone, so rbx and r12-r15 carry the loop state. Five pushes leave rsp
  // 16-byte aligned for a call into the per-packet function; `inline_frame` (the body is the
  // filter's code itself) subtracts 8 more, so that rsp is where that function has it (8 mod 16)
  // and its helper calls and red-zone scratch slots work unchanged.
  static constexpr int32_t kPrefetchAhead = 4;
  template <class Body>
  void emit_batch_loop(Label entry, bool inline_frame, Label next, Body body) {
    Label loop = a_.newLabel(), no_prefetch = a_.newLabel(), done = a_.newLabel();
    a_.align(asmjit::AlignMode::kCode, 16);
    a_.bind(entry);
    for (const x86::Gp& r : {x86::rbx, x86::r12, x86::r13, x86::r14, x86::r15}) a_.push(r);
    if (inline_frame) a_.sub(x86::rsp, 8);
    a_.mov(x86::rbx, x86::rsi);                                          // current PacketRef
    a_.shl(x86::rdx, 4);
    a_.lea(x86::r12, x86::ptr(x86::rsi, x86::rdx));                      // end
    a_.lea(x86::r15, x86::ptr(x86::r12, -16 * kPrefetchAhead));          // last to prefetch for
    a_.mov(x86::r13, x86::rcx);                                          // out
    a_.mov(x86::r14, x86::r8);                                           // ctx
    a_.cmp(x86::rbx, x86::r12);
    a_.jae(done);
    a_.align(asmjit::AlignMode::kCode, 16);
    a_.bind(loop);
    a_.cmp(x86::rbx, x86::r15);
    a_.jae(no_prefetch);
    a_.mov(x86::rax, x86::qword_ptr(x86::rbx, 16 * kPrefetchAhead));
    a_.prefetcht0(x86::ptr(x86::rax));
    a_.prefetcht0(x86::ptr(x86::rax, 64));
    a_.bind(no_prefetch);
    a_.mov(x86::rdi, x86::qword_ptr(x86::rbx));
    a_.mov(x86::esi, x86::dword_ptr(x86::rbx, 8));
    a_.mov(x86::edx, x86::dword_ptr(x86::rbx, 12));
    a_.mov(x86::rcx, x86::r14);
    body();
    a_.bind(next);
    a_.mov(x86::dword_ptr(x86::r13), x86::eax);
    a_.add(x86::r13, 4);
    a_.add(x86::rbx, 16);
    a_.cmp(x86::rbx, x86::r12);
    a_.jb(loop);
    a_.bind(done);
    if (inline_frame) a_.add(x86::rsp, 8);
    for (const x86::Gp& r : {x86::r15, x86::r14, x86::r13, x86::r12, x86::rbx}) a_.pop(r);
    a_.ret();
  }

  // Entry 3 of compile_asmjit's code: the loop calls entry 2 with a direct call per packet, so
  // every filter has its own call site with one target, which the branch predictor handles best
  // (measured on Zen 4: an indirect call site that has seen more than one target costs ~3
  // cycles more per call, whatever the callee; bench/asmjit_bench.cpp). The asmjit backend uses
  // it until (or unless) compile_asmjit_batch's code exists.
  void emit_batch_entry() {
    batch_entry_ = a_.newLabel();
    emit_batch_loop(batch_entry_, false, a_.newLabel(), [&] { a_.call(native_entry_); });
  }

  // compile_asmjit_batch: the whole code is the loop, with the filter's code inside it (no call
  // per packet): every `ret` of the filter becomes a jump to `next_` (ret()), which stores eax
  // and moves on; failures and `ret a` reach it the same way.
  void emit_inline_batch() {
    next_ = a_.newLabel();
    native_entry_ = a_.newLabel();
    batch_entry_ = native_entry_;
    emit_batch_loop(native_entry_, true, next_, [&] { emit_filter(); });  // falls into next_
    a_.bind(ret_edx_);
    a_.mov(x86::eax, x86::edx);
    a_.jmp(next_);
    for (const IndStub& s : stubs_) emit_ind_stub(s);
  }

  // The end of the filter: return eax, or in the inlined batch loop go on to the next packet.
  void ret() {
    if (inline_batch_)
      a_.jmp(next_);
    else
      a_.ret();
  }

  // --- analysis --------------------------------------------------------------------------
  void analyse() {
    check_before_ = prog_.check_before();  // the verifier's packet-length tests
    max_need_ = prog_.facts().max_pkt_bytes;
    // Registers and scratch slots that may be read before written on some path from the entry
    // get their initial value 0 in the prologue (the interpreter starts with A = X = M[] = 0).
    // Backward may-liveness over instructions (jumps only go forward): bits 0-15 M[], 16 A,
    // 17 X. Ancillary loads count as reading A and X (alu_xor_x, nla, and the no-device exit
    // returning A).
    constexpr uint32_t kA = 1u << 16, kX = 1u << 17;
    std::vector<uint32_t> live(d_.size() + 1, 0);
    for (size_t i = d_.size(); i-- > 0;) {
      const vm::DecodedInsn& d = d_[i];
      const vm::OpInfo& inf = vm::info(d.op);
      uint32_t out = 0;
      if (inf.has(vm::eff::kRet)) {
        out = 0;
      } else if (inf.has(vm::eff::kJump)) {
        out = (d.jt < live.size() ? live[d.jt] : 0) | (d.jf < live.size() ? live[d.jf] : 0);
      } else {
        out = live[i + 1];
      }
      const uint32_t bit = d.k < vm::kMemWords ? 1u << d.k : 0;
      if (inf.has(vm::eff::kWriteMem)) out &= ~bit;
      if (inf.has(vm::eff::kWriteA)) out &= ~kA;
      if (inf.has(vm::eff::kWriteX)) out &= ~kX;
      if (inf.has(vm::eff::kReadMem)) out |= bit;
      if (inf.has(vm::eff::kReadA)) out |= kA;
      if (inf.has(vm::eff::kReadX)) out |= kX;
      if (linux_ && (d.op == Op::kLdW || d.op == Op::kLdH || d.op == Op::kLdB) &&
          vm::ancillary_for(d.k))
        out |= kA | kX;
      live[i] = out;
      if (d.op == Op::kLdLen || d.op == Op::kLdxLen) uses_len_ = true;
      if (d.op == Op::kLdWInd || d.op == Op::kLdHInd || d.op == Op::kLdBInd) uses_ind_ = true;
    }
    const uint32_t entry = d_.empty() ? 0 : live[0];
    entry_live_scratch_ = uint16_t(entry & 0xffff);
    zero_a_ = (entry & kA) != 0;
    zero_x_ = (entry & kX) != 0;
  }

  // --- helpers -----------------------------------------------------------------------------
  static x86::Mem slot(uint32_t k) { return x86::dword_ptr(x86::rsp, kScratchBase + 4 * int32_t(k)); }

  // cmp reg64, v for any 64-bit v (imm32 when it fits sign-extended).
  void cmp_len(const x86::Gp& reg, uint64_t v) {
    if (v <= 0x7fffffffu) {
      a_.cmp(reg, Imm(int64_t(v)));
    } else {
      a_.mov(x86::rdx, Imm(v));
      a_.cmp(reg, x86::rdx);
    }
  }

  // Big-endian load of `size` bytes from `m` into the 32-bit register `dst`.
  void load_be(const x86::Gp& dst, x86::Mem m, uint32_t size) {
    switch (size) {
      case 4:
        m.setSize(4);
        if (movbe_) {
          a_.movbe(dst, m);
        } else {
          a_.mov(dst, m);
          a_.bswap(dst);
        }
        break;
      case 2:
        m.setSize(2);
        a_.movzx(dst, m);
        a_.rol(dst.r16(), 8);
        break;
      default:
        m.setSize(1);
        a_.movzx(dst, m);
        break;
    }
  }

  // Memory operand for packet offset k (absolute, non-negative).
  x86::Mem abs_mem(uint64_t k) {
    if (k <= 0x7fffffffu) return x86::ptr(x86::rdi, int32_t(k));
    a_.mov(x86::edx, Imm(uint32_t(k)));
    return x86::ptr(x86::rdi, x86::rdx);
  }

  Label block_label(Version v, uint32_t b) {
    Label& l = labels_[v][b];
    if (!l.isValid()) l = a_.newLabel();
    return l;
  }
  Label target(Version v, uint32_t insn) { return block_label(v, prog_.block_of(insn)); }

  void jump_to(Version v, uint32_t from, uint32_t to) {
    if (to != from + 1) a_.jmp(target(v, to));
  }

  // Saves the caller-saved registers we use, below the red zone (scratch slots stay intact).
  void save_regs() {
    a_.sub(x86::rsp, kCallFrame);
    a_.mov(x86::qword_ptr(x86::rsp, 0), x86::rax);
    a_.mov(x86::qword_ptr(x86::rsp, 8), x86::r8);
    a_.mov(x86::qword_ptr(x86::rsp, 16), x86::rdi);
    a_.mov(x86::qword_ptr(x86::rsp, 24), x86::rsi);
    a_.mov(x86::qword_ptr(x86::rsp, 32), x86::rcx);
    a_.mov(x86::qword_ptr(x86::rsp, 40), x86::r9);
    a_.mov(x86::qword_ptr(x86::rsp, 48), x86::r10);
  }
  // Restores them (rax too); the helper's result must have been moved to rdx first.
  void restore_regs() {
    a_.mov(x86::rax, x86::qword_ptr(x86::rsp, 0));
    a_.mov(x86::r8, x86::qword_ptr(x86::rsp, 8));
    a_.mov(x86::rdi, x86::qword_ptr(x86::rsp, 16));
    a_.mov(x86::rsi, x86::qword_ptr(x86::rsp, 24));
    a_.mov(x86::rcx, x86::qword_ptr(x86::rsp, 32));
    a_.mov(x86::r9, x86::qword_ptr(x86::rsp, 40));
    a_.mov(x86::r10, x86::qword_ptr(x86::rsp, 48));
    a_.add(x86::rsp, kCallFrame);
  }

  // Calls slow_load_linux(ctx, pkt, caplen, wirelen, offset, size). The offset is the
  // immediate `k` or, when `offset_in_edx`, the value in edx. The result is left in rdx
  // (bit 32 = failed) with every other register restored.
  void call_slow_load(bool offset_in_edx, uint32_t k, uint32_t size) {
    save_regs();
    if (offset_in_edx) {
      a_.mov(x86::r8d, x86::edx);
    } else {
      a_.mov(x86::r8d, Imm(int32_t(k)));
    }
    a_.mov(x86::edx, x86::esi);
    a_.mov(x86::rsi, x86::rdi);
    a_.mov(x86::rdi, x86::rcx);
    a_.mov(x86::ecx, x86::r9d);
    a_.mov(x86::r9d, Imm(int32_t(size)));
    a_.mov(x86::rax, Imm(reinterpret_cast<uint64_t>(&detail::slow_load_linux)));
    a_.call(x86::rax);
    a_.mov(x86::rdx, x86::rax);
    restore_regs();
  }

  // After a helper call: if bit 32 of rdx is set the program ends, returning edx.
  void check_slow_result() {
    a_.mov(x86::r11, x86::rdx);
    a_.shr(x86::r11, 32);
    a_.jnz(ret_edx_);
  }

  void call_ancillary(uint32_t which) {
    save_regs();
    a_.mov(x86::r11, x86::r8);
    a_.shl(x86::r11, 32);
    a_.mov(x86::edx, x86::eax);
    a_.or_(x86::r11, x86::rdx);
    a_.mov(x86::edx, x86::esi);
    a_.mov(x86::rsi, x86::rdi);
    a_.mov(x86::rdi, x86::rcx);
    a_.mov(x86::ecx, x86::r9d);
    a_.mov(x86::r8, x86::r11);
    a_.mov(x86::r9d, Imm(int32_t(which)));
    a_.mov(x86::rax, Imm(reinterpret_cast<uint64_t>(&detail::slow_ancillary)));
    a_.call(x86::rax);
    a_.mov(x86::rdx, x86::rax);
    restore_regs();
    check_slow_result();
    a_.mov(x86::eax, x86::edx);
  }

  // --- prologue and blocks -------------------------------------------------------------------
  void emit_prologue() {
    a_.mov(x86::esi, x86::esi);  // caplen: the upper half of rsi is undefined on entry
    if (uses_len_) a_.mov(x86::r9d, x86::edx);
    if (linux_ && uses_ind_) {
      a_.mov(x86::r10d, Imm(0x7fffffff));
      a_.cmp(x86::r10, x86::rsi);
      a_.cmova(x86::r10, x86::rsi);
    }
    if (zero_a_) a_.xor_(x86::eax, x86::eax);
    if (zero_x_) a_.xor_(x86::r8d, x86::r8d);
    for (uint32_t s = 0; s < vm::kMemWords; ++s)
      if (entry_live_scratch_ & (1u << s)) a_.mov(slot(s), Imm(0));
  }

  void emit_version(Version v) {
    for (size_t b = 0; b < blocks_.size(); ++b) {
      if (labels_[v][b].isValid()) a_.bind(labels_[v][b]);
      for (uint32_t i = blocks_[b].first; i <= blocks_[b].last; ++i) {
        if (v == kSafe && check_before_[i] != 0) {
          cmp_len(x86::rsi, check_before_[i]);
          a_.jb(fail_);
        }
        emit_insn(v, i);
      }
    }
  }

  void emit_abs_load(uint32_t k, uint32_t size, bool msh) {
    const x86::Gp dst = msh ? x86::r8d : x86::eax;
    if (vm::counted_load(prog_.target(), k, size)) {
      load_be(dst, abs_mem(k), size);  // covered by the block's (or the entry's) check
    } else if (!linux_) {
      a_.jmp(fail_);  // BSD: k + size > 2^32 - 1 > caplen, always out of range
      return;
    } else {
      if (!msh) {
        if (auto anc = vm::ancillary_for(k)) {
          emit_ancillary(*anc);
          return;
        }
      }
      call_slow_load(false, k, size);  // negative offset (SKF_NET_OFF, SKF_LL_OFF, or fails)
      check_slow_result();
      a_.mov(dst, x86::edx);
    }
    if (msh) {
      a_.and_(x86::r8d, 0xf);
      a_.shl(x86::r8d, 2);
    }
  }

  // Context fields are read inline (offsetof into vm::Context); nla/nlan call vm::ancillary.
  // Each case mirrors vm::ancillary in vm/semantics.hpp.
  template <class T>
  void load_ctx_field(size_t offset) {
    if constexpr (sizeof(T) == 4) {
      a_.mov(x86::eax, x86::dword_ptr(x86::rcx, int32_t(offset)));
    } else if constexpr (sizeof(T) == 2) {
      a_.movzx(x86::eax, x86::word_ptr(x86::rcx, int32_t(offset)));
    } else {
      static_assert(sizeof(T) == 1);
      a_.movzx(x86::eax, x86::byte_ptr(x86::rcx, int32_t(offset)));
    }
  }
#define BPF_CTX_LOAD(field) load_ctx_field<decltype(vm::Context::field)>(offsetof(vm::Context, field))

  void emit_ancillary(vm::Ancillary anc) {
    switch (anc) {
      case vm::Ancillary::kAluXorX: a_.xor_(x86::eax, x86::r8d); return;
      case vm::Ancillary::kProtocol: BPF_CTX_LOAD(protocol); return;
      case vm::Ancillary::kPktType:
        BPF_CTX_LOAD(pkttype);
        a_.and_(x86::eax, 7);
        return;
      case vm::Ancillary::kIfIndex:
      case vm::Ancillary::kHaType:
        // No device: the program ends returning A (bpf_convert_filter's "exit").
        static_assert(sizeof(vm::Context::has_device) == 1);
        a_.cmp(x86::byte_ptr(x86::rcx, int32_t(offsetof(vm::Context, has_device))), 0);
        a_.je(ret_a_);
        if (anc == vm::Ancillary::kIfIndex) {
          BPF_CTX_LOAD(ifindex);
        } else {
          BPF_CTX_LOAD(hatype);
        }
        return;
      case vm::Ancillary::kMark: BPF_CTX_LOAD(mark); return;
      case vm::Ancillary::kQueue: BPF_CTX_LOAD(queue); return;
      case vm::Ancillary::kRxHash: BPF_CTX_LOAD(rxhash); return;
      case vm::Ancillary::kCpu: BPF_CTX_LOAD(cpu); return;
      case vm::Ancillary::kVlanTag: BPF_CTX_LOAD(vlan_tci); return;
      case vm::Ancillary::kVlanTagPresent:
        static_assert(sizeof(vm::Context::vlan_present) == 1);
        BPF_CTX_LOAD(vlan_present);
        return;
      case vm::Ancillary::kPayOffset: BPF_CTX_LOAD(payload_offset); return;
      case vm::Ancillary::kRandom: BPF_CTX_LOAD(random); return;
      case vm::Ancillary::kVlanTpid: BPF_CTX_LOAD(vlan_tpid); return;
      case vm::Ancillary::kNlAttr:
      case vm::Ancillary::kNlAttrNest:
        call_ancillary(static_cast<uint32_t>(anc));
        return;
    }
  }
#undef BPF_CTX_LOAD

  void emit_ind_load(uint32_t k, uint32_t size) {
    const uint64_t end = uint64_t{k} + size;
    if (!linux_) {
      // BSD bpf_filter: X + k computed without wrap-around; out of range returns 0.
      if (end <= 0x7fffffffu) {
        a_.lea(x86::rdx, x86::ptr(x86::r8, int32_t(end)));
        a_.cmp(x86::rdx, x86::rsi);
        a_.ja(fail_);
        load_be(x86::eax, x86::ptr(x86::rdi, x86::r8, 0, int32_t(k)), size);
      } else {
        a_.mov(x86::edx, Imm(k));
        a_.add(x86::rdx, x86::r8);
        a_.lea(x86::r11, x86::ptr(x86::rdx, int32_t(size)));
        a_.cmp(x86::r11, x86::rsi);
        a_.ja(fail_);
        load_be(x86::eax, x86::ptr(x86::rdi, x86::rdx), size);
      }
      return;
    }
    // Linux: offset = (int32)(X + k) (net/core/filter.c adds in 64 bits, passes an int).
    IndStub stub{a_.newLabel(), a_.newLabel(), k, size};
    if (end <= 0x7fffffffu) {
      a_.lea(x86::rdx, x86::ptr(x86::r8, int32_t(end)));
      a_.cmp(x86::rdx, x86::r10);
      a_.ja(stub.entry);
      load_be(x86::eax, x86::ptr(x86::rdi, x86::r8, 0, int32_t(k)), size);
    } else {
      a_.mov(x86::edx, x86::r8d);
      a_.add(x86::edx, Imm(int32_t(k)));
      a_.lea(x86::r11, x86::ptr(x86::rdx, int32_t(size)));
      a_.cmp(x86::r11, x86::r10);
      a_.ja(stub.entry);
      load_be(x86::eax, x86::ptr(x86::rdi, x86::rdx), size);
    }
    a_.bind(stub.resume);
    stubs_.push_back(stub);
  }

  void emit_ind_stub(const IndStub& s) {
    a_.bind(s.entry);
    a_.mov(x86::edx, x86::r8d);
    a_.add(x86::edx, Imm(int32_t(s.k)));
    call_slow_load(true, 0, s.size);
    check_slow_result();
    a_.mov(x86::eax, x86::edx);
    a_.jmp(s.resume);
  }

  void emit_div_k(uint32_t k, bool mod) {
    if (k == 0) {
      a_.jmp(fail_);
      return;
    }
    if ((k & (k - 1)) == 0) {
      if (mod) {
        a_.and_(x86::eax, Imm(int32_t(k - 1)));
      } else if (k > 1) {
        a_.shr(x86::eax, asmjit::Support::ctz(k));
      }
      return;
    }
    // Lemire, Kaser, Kurz, "Faster remainder by direct computation" (2019): for 32-bit a and
    // d >= 2, a / d == (a * M) >> 64 with M = floor((2^64 - 1) / d) + 1.
    const uint64_t m = ~uint64_t{0} / k + 1;
    if (mod) a_.mov(x86::r11d, x86::eax);
    a_.mov(x86::rdx, Imm(m));
    a_.mul(x86::rdx);
    if (mod) {
      a_.imul(x86::edx, x86::edx, Imm(int32_t(k)));
      a_.mov(x86::eax, x86::r11d);
      a_.sub(x86::eax, x86::edx);
    } else {
      a_.mov(x86::eax, x86::edx);
    }
  }

  void emit_shift_k(bool left, uint32_t k) {
    if (!linux_ && k >= 32) {
      a_.xor_(x86::eax, x86::eax);
      return;
    }
    k &= 31;
    if (k == 0) return;
    if (left) {
      a_.shl(x86::eax, k);
    } else {
      a_.shr(x86::eax, k);
    }
  }

  void emit_shift_x(bool left) {
    if (bmi2_) {
      if (left) {
        a_.shlx(x86::eax, x86::eax, x86::r8d);
      } else {
        a_.shrx(x86::eax, x86::eax, x86::r8d);
      }
    } else {
      a_.mov(x86::r11, x86::rcx);
      a_.mov(x86::ecx, x86::r8d);
      if (left) {
        a_.shl(x86::eax, x86::cl);
      } else {
        a_.shr(x86::eax, x86::cl);
      }
      a_.mov(x86::rcx, x86::r11);
    }
    if (!linux_) {  // libpcap bpf_filter.c: shifts by X >= 32 give 0
      a_.xor_(x86::edx, x86::edx);
      a_.cmp(x86::r8d, 32);
      a_.cmovae(x86::eax, x86::edx);
    }
  }

  // Conditional jump: `cc_true` is emitted as a jcc taken when the condition holds.
  template <class JTrue, class JFalse>
  void emit_cond(Version v, uint32_t i, JTrue jtrue, JFalse jfalse, x86::CondCode cc) {
    const vm::DecodedInsn& d = d_[i];
    if (d.jt == d.jf) {
      jump_to(v, i, d.jt);
      return;
    }
    if (emit_select(d, cc)) return;
    if (d.jf == i + 1) {
      jtrue(target(v, d.jt));
    } else if (d.jt == i + 1) {
      jfalse(target(v, d.jf));
    } else {
      jtrue(target(v, d.jt));
      a_.jmp(target(v, d.jf));
    }
  }

  // `ret` operand of instruction i if it is a one-instruction block `ret #k` or `ret a`.
  enum class RetKind { kNone, kK, kA };
  RetKind ret_kind(uint32_t i) const {
    if (blocks_[prog_.block_of(i)].first != i) return RetKind::kNone;
    if (d_[i].op == Op::kRetK) return RetKind::kK;
    if (d_[i].op == Op::kRetA) return RetKind::kA;
    return RetKind::kNone;
  }

  // A conditional jump to two returns (tcpdump's final `jeq #k, accept, drop`) becomes a
  // branch-free select: cmov, no misprediction on mixed traffic. Flags are set by the compare.
  bool emit_select(const vm::DecodedInsn& d, x86::CondCode cc) {
    const RetKind t = ret_kind(d.jt), f = ret_kind(d.jf);
    if (t == RetKind::kNone || f == RetKind::kNone) return false;
    if (t == RetKind::kA && f == RetKind::kA) {
      ret();
      return true;
    }
    if (t == RetKind::kK && f == RetKind::kK) {
      a_.mov(x86::eax, Imm(int32_t(d_[d.jf].k)));  // mov leaves the flags alone
      a_.mov(x86::edx, Imm(int32_t(d_[d.jt].k)));
      a_.cmov(cc, x86::eax, x86::edx);
    } else if (t == RetKind::kK) {  // true: ret #k, false: ret a
      a_.mov(x86::edx, Imm(int32_t(d_[d.jt].k)));
      a_.cmov(cc, x86::eax, x86::edx);
    } else {  // true: ret a, false: ret #k
      a_.mov(x86::edx, Imm(int32_t(d_[d.jf].k)));
      a_.cmov(x86::negateCond(cc), x86::eax, x86::edx);
    }
    ret();
    return true;
  }

  void cmp_a(const vm::DecodedInsn& d, bool with_x) {
    if (with_x) {
      a_.cmp(x86::eax, x86::r8d);
    } else if (d.k == 0) {
      a_.test(x86::eax, x86::eax);
    } else {
      a_.cmp(x86::eax, Imm(int32_t(d.k)));
    }
  }

  void emit_insn(Version v, uint32_t i) {
    const vm::DecodedInsn& d = d_[i];
    const int32_t k = int32_t(d.k);
    switch (d.op) {
      case Op::kLdW: case Op::kLdH: case Op::kLdB:
        emit_abs_load(d.k, load_size(d.op), false);
        return;
      case Op::kLdxMsh:
        emit_abs_load(d.k, 1, true);
        return;
      case Op::kLdWInd: case Op::kLdHInd: case Op::kLdBInd:
        emit_ind_load(d.k, load_size(d.op));
        return;
      case Op::kLdLen: a_.mov(x86::eax, x86::r9d); return;
      case Op::kLdxLen: a_.mov(x86::r8d, x86::r9d); return;
      case Op::kLdImm:
        if (d.k == 0) a_.xor_(x86::eax, x86::eax); else a_.mov(x86::eax, Imm(k));
        return;
      case Op::kLdxImm:
        if (d.k == 0) a_.xor_(x86::r8d, x86::r8d); else a_.mov(x86::r8d, Imm(k));
        return;
      case Op::kLdMem: a_.mov(x86::eax, slot(d.k)); return;
      case Op::kLdxMem: a_.mov(x86::r8d, slot(d.k)); return;
      case Op::kSt: a_.mov(slot(d.k), x86::eax); return;
      case Op::kStx: a_.mov(slot(d.k), x86::r8d); return;
      case Op::kAddK: a_.add(x86::eax, Imm(k)); return;
      case Op::kAddX: a_.add(x86::eax, x86::r8d); return;
      case Op::kSubK: a_.sub(x86::eax, Imm(k)); return;
      case Op::kSubX: a_.sub(x86::eax, x86::r8d); return;
      case Op::kMulK: a_.imul(x86::eax, x86::eax, Imm(k)); return;
      case Op::kMulX: a_.imul(x86::eax, x86::r8d); return;
      case Op::kDivK: emit_div_k(d.k, false); return;
      case Op::kModK: emit_div_k(d.k, true); return;
      case Op::kDivX: case Op::kModX:
        a_.test(x86::r8d, x86::r8d);
        a_.jz(fail_);
        a_.xor_(x86::edx, x86::edx);
        a_.div(x86::r8d);
        if (d.op == Op::kModX) a_.mov(x86::eax, x86::edx);
        return;
      case Op::kAndK: a_.and_(x86::eax, Imm(k)); return;
      case Op::kAndX: a_.and_(x86::eax, x86::r8d); return;
      case Op::kOrK: a_.or_(x86::eax, Imm(k)); return;
      case Op::kOrX: a_.or_(x86::eax, x86::r8d); return;
      case Op::kXorK: a_.xor_(x86::eax, Imm(k)); return;
      case Op::kXorX: a_.xor_(x86::eax, x86::r8d); return;
      case Op::kLshK: emit_shift_k(true, d.k); return;
      case Op::kRshK: emit_shift_k(false, d.k); return;
      case Op::kLshX: emit_shift_x(true); return;
      case Op::kRshX: emit_shift_x(false); return;
      case Op::kNeg: a_.neg(x86::eax); return;
      case Op::kJa: jump_to(v, i, d.jt); return;
      case Op::kJeqK: case Op::kJeqX:
        cmp_a(d, d.op == Op::kJeqX);
        emit_cond(v, i, [&](Label l) { a_.je(l); }, [&](Label l) { a_.jne(l); },
                  x86::CondCode::kE);
        return;
      case Op::kJgtK: case Op::kJgtX:
        cmp_a(d, d.op == Op::kJgtX);
        emit_cond(v, i, [&](Label l) { a_.ja(l); }, [&](Label l) { a_.jbe(l); },
                  x86::CondCode::kA);
        return;
      case Op::kJgeK: case Op::kJgeX:
        cmp_a(d, d.op == Op::kJgeX);
        emit_cond(v, i, [&](Label l) { a_.jae(l); }, [&](Label l) { a_.jb(l); },
                  x86::CondCode::kAE);
        return;
      case Op::kJsetK: case Op::kJsetX:
        if (d.op == Op::kJsetX) {
          a_.test(x86::eax, x86::r8d);
        } else {
          a_.test(x86::eax, Imm(k));
        }
        emit_cond(v, i, [&](Label l) { a_.jnz(l); }, [&](Label l) { a_.jz(l); },
                  x86::CondCode::kNZ);
        return;
      case Op::kRetK:
        if (d.k == 0) a_.xor_(x86::eax, x86::eax); else a_.mov(x86::eax, Imm(k));
        ret();
        return;
      case Op::kRetA: ret(); return;
      case Op::kRetX:
        a_.mov(x86::eax, x86::r8d);
        ret();
        return;
      case Op::kTax: a_.mov(x86::r8d, x86::eax); return;
      case Op::kTxa: a_.mov(x86::eax, x86::r8d); return;
    }
  }

  const vm::VerifiedProgram& prog_;
  std::span<const vm::DecodedInsn> d_;
  std::span<const vm::BasicBlock> blocks_;
  x86::Assembler& a_;
  bool linux_;
  bool movbe_ = false;
  bool bmi2_ = false;
  bool dual_ = false;
  std::span<const uint32_t> check_before_;  // VerifiedProgram::check_before()
  uint64_t max_need_ = 0;
  uint16_t entry_live_scratch_ = 0;
  bool zero_a_ = false;
  bool zero_x_ = false;
  bool uses_len_ = false;
  bool uses_ind_ = false;
  bool inline_batch_ = false;
  Label next_;  // inline batch: store eax, next packet
  Label native_entry_;
  Label batch_entry_;
  Label fail_;     // return 0
  Label ret_a_;    // return A
  Label ret_edx_;  // return edx
  std::vector<Label> labels_[2];
  std::vector<IndStub> stubs_;
};

}  // namespace

bool asmjit_available() {
#if defined(__x86_64__)
  return true;
#else
  return false;
#endif
}

namespace {

Result<NativeCode> compile(const vm::VerifiedProgram& prog, const AsmjitOptions& opts,
                           bool inline_batch) {
  Diagnostics diags;
  if (prog.size() == 0 || prog.blocks().empty()) {
    diags.error("asmjit: empty program");
    return diags;
  }
  // One CodeHolder per thread, soft-reset between compiles: its zone memory is reused, which
  // halves the user time of a compile (bench/asmjit_bench.cpp measures compile latency).
  static thread_local asmjit::CodeHolder code;
  code.reset(asmjit::ResetPolicy::kSoft);
  ErrorCollector errors;
  if (asmjit::Error e = code.init(asmjit::Environment::host()); e != asmjit::kErrorOk) {
    diags.error(std::string("asmjit: ") + asmjit::DebugUtils::errorAsString(e));
    return diags;
  }
  code.setErrorHandler(&errors);
  x86::Assembler a(&code);
  Codegen gen(prog, opts, a, inline_batch);
  gen.emit();
  if (errors.first_ == asmjit::kErrorOk) code.flatten();
  if (errors.first_ == asmjit::kErrorOk) code.resolveUnresolvedLinks();
  code.resetErrorHandler();
  if (errors.first_ != asmjit::kErrorOk) {
    diags.error("asmjit: code generation failed: " + errors.message_);
    return diags;
  }
  const size_t size = code.codeSize();
  size_t mapped = 0;
  void* mem = detail::map_writable(size, &mapped);
  if (mem == nullptr) {
    diags.error("asmjit: cannot map " + std::to_string(size) + " bytes of code memory");
    return diags;
  }
  const size_t entry = static_cast<size_t>(code.labelOffsetFromBase(gen.native_entry()));
  const size_t batch = static_cast<size_t>(code.labelOffsetFromBase(gen.batch_entry()));
  NativeCode native(mem, mapped, size, entry, batch);  // released on every error path below
  asmjit::Error e = code.relocateToBase(reinterpret_cast<uint64_t>(mem));
  if (e == asmjit::kErrorOk)
    e = code.copyFlattenedData(mem, mapped, asmjit::CopySectionFlags::kPadTargetBuffer);
  if (e != asmjit::kErrorOk) {
    diags.error(std::string("asmjit: relocation failed: ") + asmjit::DebugUtils::errorAsString(e));
    return diags;
  }
  if (!detail::make_executable(mem, mapped)) {
    diags.error("asmjit: mprotect(PROT_READ|PROT_EXEC) failed");
    return diags;
  }
  return Result<NativeCode>(std::move(native), std::move(diags));
}

}  // namespace

Result<NativeCode> compile_asmjit(const vm::VerifiedProgram& prog, const AsmjitOptions& opts) {
  return compile(prog, opts, false);
}

Result<NativeCode> compile_asmjit_batch(const vm::VerifiedProgram& prog,
                                        const AsmjitOptions& opts) {
  return compile(prog, opts, true);
}

}  // namespace bpf::jit
