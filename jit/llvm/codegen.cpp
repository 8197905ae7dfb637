// VerifiedProgram -> LLVM IR.
//
// Scheme: one LLVM function per program, one LLVM basic block per BPF basic block (named b<first
// instruction>), plus one shared `ret0` block. A, X and each used M[k] are allocas stored to and
// loaded from freely; mem2reg/SROA turn them into SSA values, so the optimiser sees plain data
// flow. Every path that "ends the program with 0" (failed load, division by X == 0) branches to
// `ret0` with an unlikely branch weight.
//
// Packet loads are `load iN, align 1` + llvm.bswap. Bounds checks for absolute loads ([k] and
// 4*([k]&0xf)) are one `caplen >= n` test where the verifier's VerifiedProgram::check_before()
// puts one (at most one per block, or per segment of a block holding Linux ifindex/hatype, and
// none where every path in already tested as much; shared with the asmjit engine). BSD [k] loads
// whose end does not fit in 32 bits always fail (ret0). [x + k] loads
// are checked one by one; LLVM's constraint elimination and CVP merge the redundant ones.
//
// Linux offsets that are negative as int32 (SKF_NET_OFF, SKF_LL_OFF, unknown SKF_AD_OFF) and
// out-of-bounds [x + k] loads go to bpfc_rt_load_slow, which applies the interpreter's rule
// (vm::linux_load). Ancillary loads that are vm::Context fields (and alu_xor_x) are inline
// loads; nla/nlan call bpfc_rt_ancillary (vm::ancillary). Semantics of ALU ops and shifts follow vm/semantics.hpp (Linux
// masks shift counts to 5 bits; BSD gives 0 for counts >= 32; div/mod by zero returns 0).
// Tested differentially against the interpreter in tests/jit/llvm_diff_test.cpp.
#include "jit/llvm/codegen.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <llvm/IR/BasicBlock.h>
#include <llvm/IR/Function.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Passes/OptimizationLevel.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Transforms/Utils/Mem2Reg.h>

#include "jit/llvm/runtime.hpp"
#include "vm/ancillary.hpp"
#include "vm/context.hpp"
#include "vm/insn.hpp"

namespace bpf::jit::llvm_codegen {
namespace {

using vm::Op;


class Emitter {
 public:
  Emitter(llvm::Module& module, const vm::VerifiedProgram& prog)
      : c_(module.getContext()),
        m_(module),
        p_(prog),
        b_(c_),
        i8_(llvm::Type::getInt8Ty(c_)),
        i16_(llvm::Type::getInt16Ty(c_)),
        i32_(llvm::Type::getInt32Ty(c_)),
        i64_(llvm::Type::getInt64Ty(c_)),
        ptr_(llvm::PointerType::get(c_, 0)) {
    llvm::MDBuilder md(c_);
    likely_ = md.createBranchWeights(1 << 20, 1);
  }

  llvm::Function* emit(std::string_view name) {
    // (state, pkt, caplen, wirelen, ctx): jit/backend.hpp's RunFn, so bpf::jit::Filter calls
    // the generated code directly; `state` is unused.
    auto* fty = llvm::FunctionType::get(i32_, {ptr_, ptr_, i32_, i32_, ptr_}, false);
    f_ = llvm::Function::Create(fty, llvm::Function::ExternalLinkage, llvm::Twine(name), m_);
    f_->addFnAttr(llvm::Attribute::NoUnwind);
    f_->addFnAttr(llvm::Attribute::NoFree);
    f_->addFnAttr(llvm::Attribute::WillReturn);
    for (unsigned i : {1u, 4u}) {
      f_->addParamAttr(i, llvm::Attribute::NoAlias);
      f_->addParamAttr(i, llvm::Attribute::NoCapture);
      f_->addParamAttr(i, llvm::Attribute::ReadOnly);
    }
    f_->getArg(0)->setName("state");
    pkt_ = f_->getArg(1);
    caplen_ = f_->getArg(2);
    wirelen_ = f_->getArg(3);
    ctx_ = f_->getArg(4);
    pkt_->setName("pkt");
    caplen_->setName("caplen");
    wirelen_->setName("wirelen");
    ctx_->setName("ctx");

    auto* entry = llvm::BasicBlock::Create(c_, "entry", f_);
    b_.SetInsertPoint(entry);
    a_ = b_.CreateAlloca(i32_, nullptr, "A");
    x_ = b_.CreateAlloca(i32_, nullptr, "X");
    b_.CreateStore(b_.getInt32(0), a_);
    b_.CreateStore(b_.getInt32(0), x_);
    for (uint32_t i = 0; i < vm::kMemWords; ++i) {
      mem_[i] = b_.CreateAlloca(i32_, nullptr, "M" + std::to_string(i));
      b_.CreateStore(b_.getInt32(0), mem_[i]);
    }
    caplen64_ = b_.CreateZExt(caplen_, i64_, "caplen64");

    const auto blocks = p_.blocks();
    bbs_.resize(blocks.size());
    for (size_t i = 0; i < blocks.size(); ++i)
      bbs_[i] = llvm::BasicBlock::Create(c_, "b" + std::to_string(blocks[i].first), f_);
    ret0_ = llvm::BasicBlock::Create(c_, "ret0", f_);
    b_.CreateBr(bbs_[0]);

    for (size_t i = 0; i < blocks.size(); ++i) emit_block(i);

    b_.SetInsertPoint(ret0_);
    b_.CreateRet(b_.getInt32(0));
    return f_;
  }

 private:
  llvm::Value* a() { return b_.CreateLoad(i32_, a_); }
  llvm::Value* x() { return b_.CreateLoad(i32_, x_); }
  void set_a(llvm::Value* v) { b_.CreateStore(v, a_); }
  void set_x(llvm::Value* v) { b_.CreateStore(v, x_); }

  // Ends the program with 0 when `fail` holds; continues in a fresh block otherwise.
  void fail_if(llvm::Value* fail) {
    auto* cont = llvm::BasicBlock::Create(c_, "", f_, ret0_);
    llvm::MDBuilder md(c_);
    b_.CreateCondBr(fail, ret0_, cont, md.createBranchWeights(1, 1 << 20));
    b_.SetInsertPoint(cont);
  }
  // Ends the program with 0 unconditionally; later instructions of the block become dead code.
  void fail_always() {
    b_.CreateBr(ret0_);
    b_.SetInsertPoint(llvm::BasicBlock::Create(c_, "dead", f_, ret0_));
  }

  // Big-endian load of `size` bytes at pkt + off (an i64 offset known to be in bounds).
  llvm::Value* load_be(llvm::Value* off64, uint32_t size) {
    llvm::Value* p = b_.CreateInBoundsGEP(i8_, pkt_, off64);
    switch (size) {
      case 4: {
        auto* v = b_.CreateAlignedLoad(i32_, p, llvm::MaybeAlign(1));
        return b_.CreateUnaryIntrinsic(llvm::Intrinsic::bswap, v);
      }
      case 2: {
        auto* v = b_.CreateAlignedLoad(i16_, p, llvm::MaybeAlign(1));
        return b_.CreateZExt(b_.CreateUnaryIntrinsic(llvm::Intrinsic::bswap, v), i32_);
      }
      default:
        return b_.CreateZExt(b_.CreateAlignedLoad(i8_, p, llvm::MaybeAlign(1)), i32_);
    }
  }

  llvm::FunctionCallee rt_load_slow() {
    // (off, pkt, caplen, wirelen, ctx, size): pkt..ctx sit in the registers the filter received
    // them in, so the cold call needs no moves.
    auto* fty = llvm::FunctionType::get(i64_, {i32_, ptr_, i32_, i32_, ptr_, i32_}, false);
    auto callee = m_.getOrInsertFunction("bpfc_rt_load_slow", fty);
    if (auto* fn = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
      fn->addFnAttr(llvm::Attribute::NoUnwind);
      fn->addFnAttr(llvm::Attribute::WillReturn);
      fn->setOnlyReadsMemory();
    }
    return callee;
  }
  llvm::FunctionCallee rt_ancillary() {
    // (k, pkt, caplen, wirelen, ctx, a, x)
    auto* fty = llvm::FunctionType::get(i64_, {i32_, ptr_, i32_, i32_, ptr_, i32_, i32_}, false);
    auto callee = m_.getOrInsertFunction("bpfc_rt_ancillary", fty);
    if (auto* fn = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
      fn->addFnAttr(llvm::Attribute::NoUnwind);
      fn->addFnAttr(llvm::Attribute::WillReturn);
      fn->setOnlyReadsMemory();  // nla/nlan only search the packet
    }
    return callee;
  }

  // Unpacks a helper's packed result (runtime.hpp): the value, or the program's end.
  llvm::Value* unpack(llvm::Value* packed) {
    llvm::Value* value = b_.CreateTrunc(packed, i32_);
    end_if(b_.CreateICmpNE(b_.CreateAnd(packed, b_.getInt64(llvm_rt::kEnd)), b_.getInt64(0)),
           value);
    return value;
  }
  // Ends the program returning `value` when `end` holds.
  void end_if(llvm::Value* end, llvm::Value* value) {
    auto* ret = llvm::BasicBlock::Create(c_, "", f_, ret0_);
    auto* cont = llvm::BasicBlock::Create(c_, "", f_, ret0_);
    llvm::MDBuilder md(c_);
    b_.CreateCondBr(end, ret, cont, md.createBranchWeights(1, 1 << 20));
    b_.SetInsertPoint(ret);
    b_.CreateRet(value);
    b_.SetInsertPoint(cont);
  }

  // A field of vm::Context, zero-extended to i32.
  llvm::Value* ctx_field(size_t offset, llvm::Type* type) {
    llvm::Value* p = b_.CreateInBoundsGEP(i8_, ctx_, b_.getInt64(offset));
    llvm::Value* v = b_.CreateLoad(type, p);
    return type == i32_ ? v : b_.CreateZExt(v, i32_);
  }
  llvm::Value* ctx_bool(size_t offset) {
    llvm::Value* p = b_.CreateInBoundsGEP(i8_, ctx_, b_.getInt64(offset));
    return b_.CreateICmpNE(b_.CreateLoad(i8_, p), b_.getInt8(0));
  }

  // `ld [SKF_AD_OFF + n]`: vm::ancillary (semantics.hpp), field reads inline.
  llvm::Value* ancillary(vm::Ancillary id, uint32_t k) {
    using vm::Ancillary;
    using vm::Context;
    static_assert(sizeof(Context::protocol) == 2 && sizeof(Context::pkttype) == 1 &&
                  sizeof(Context::ifindex) == 4 && sizeof(Context::hatype) == 2 &&
                  sizeof(Context::mark) == 4 && sizeof(Context::queue) == 2 &&
                  sizeof(Context::rxhash) == 4 && sizeof(Context::cpu) == 4 &&
                  sizeof(Context::vlan_tci) == 2 && sizeof(Context::vlan_present) == 1 &&
                  sizeof(Context::vlan_tpid) == 2 && sizeof(Context::random) == 4 &&
                  sizeof(Context::payload_offset) == 4 && sizeof(Context::has_device) == 1,
                  "codegen.cpp reads vm::Context fields with these widths");
    switch (id) {
      case Ancillary::kProtocol: return ctx_field(offsetof(Context, protocol), i16_);
      case Ancillary::kPktType:
        return b_.CreateAnd(ctx_field(offsetof(Context, pkttype), i8_), b_.getInt32(7));
      case Ancillary::kIfIndex:
      case Ancillary::kHaType: {
        // No device: the program ends returning A (bpf_convert_filter's "exit" with R0 == A).
        end_if(b_.CreateNot(ctx_bool(offsetof(Context, has_device))), a());
        return id == Ancillary::kIfIndex ? ctx_field(offsetof(Context, ifindex), i32_)
                                         : ctx_field(offsetof(Context, hatype), i16_);
      }
      case Ancillary::kMark: return ctx_field(offsetof(Context, mark), i32_);
      case Ancillary::kQueue: return ctx_field(offsetof(Context, queue), i16_);
      case Ancillary::kRxHash: return ctx_field(offsetof(Context, rxhash), i32_);
      case Ancillary::kCpu: return ctx_field(offsetof(Context, cpu), i32_);
      case Ancillary::kAluXorX: return b_.CreateXor(a(), x());
      case Ancillary::kVlanTag: return ctx_field(offsetof(Context, vlan_tci), i16_);
      case Ancillary::kVlanTagPresent:
        return b_.CreateZExt(ctx_bool(offsetof(Context, vlan_present)), i32_);
      case Ancillary::kPayOffset: return ctx_field(offsetof(Context, payload_offset), i32_);
      case Ancillary::kRandom: return ctx_field(offsetof(Context, random), i32_);
      case Ancillary::kVlanTpid: return ctx_field(offsetof(Context, vlan_tpid), i16_);
      case Ancillary::kNlAttr:
      case Ancillary::kNlAttrNest:
        break;
    }
    return unpack(b_.CreateCall(rt_ancillary(), {b_.getInt32(k), pkt_, caplen_, wirelen_, ctx_,
                                                 a(), x()}));
  }

  llvm::Value* slow_load(llvm::Value* off32, uint32_t size) {
    return unpack(b_.CreateCall(rt_load_slow(), {off32, pkt_, caplen_, wirelen_, ctx_,
                                                 b_.getInt32(size)}));
  }

  // ld[h|b] [k] and ldxb 4*([k]&0xf): the block's entry check covers the fast path.
  llvm::Value* load_abs(uint32_t k, uint32_t size, bool allow_ancillary) {
    if (vm::counted_load(p_.target(), k, size)) return load_be(b_.getInt64(k), size);
    if (p_.target() == vm::Target::kLinux) {  // negative: ancillary, SKF_NET_OFF/SKF_LL_OFF
      if (allow_ancillary && k >= vm::kSkfAdOff) {
        if (auto anc = vm::ancillary_for(k)) return ancillary(*anc, k);
      }
      return slow_load(b_.getInt32(k), size);
    }
    fail_always();  // BSD: k + size > 2^32 - 1 can never be in bounds (libpcap bpf_filter.c)
    return b_.getInt32(0);
  }

  // ld[h|b] [x + k]. Linux: the offset is X + k mod 2^32 as int32 (bpf_convert_filter's
  // 32-bit add); BSD: X + k + size <= caplen without wrap-around (libpcap bpf_filter.c).
  llvm::Value* load_ind(uint32_t k, uint32_t size) {
    llvm::Value* xv = x();
    if (p_.target() == vm::Target::kLinux) {
      llvm::Value* off32 = b_.CreateAdd(xv, b_.getInt32(k), "off");
      llvm::Value* off64 = b_.CreateZExt(off32, i64_);
      // Fast path: a non-negative offset with offset + size <= caplen; everything else takes the
      // exact slow path. LLVM drops the sign test when it knows X's range (after ldxb msh).
      llvm::Value* ok = b_.CreateAnd(
          b_.CreateICmpULE(b_.CreateAdd(off64, b_.getInt64(size), "", true, true), caplen64_),
          b_.CreateICmpSGE(off32, b_.getInt32(0)));
      auto* fast = llvm::BasicBlock::Create(c_, "", f_, ret0_);
      auto* slow = llvm::BasicBlock::Create(c_, "", f_, ret0_);
      auto* join = llvm::BasicBlock::Create(c_, "", f_, ret0_);
      b_.CreateCondBr(ok, fast, slow, likely_);
      b_.SetInsertPoint(fast);
      llvm::Value* vf = load_be(off64, size);
      b_.CreateBr(join);
      b_.SetInsertPoint(slow);
      llvm::Value* vs = slow_load(off32, size);
      llvm::BasicBlock* slow_end = b_.GetInsertBlock();
      b_.CreateBr(join);
      b_.SetInsertPoint(join);
      auto* phi = b_.CreatePHI(i32_, 2);
      phi->addIncoming(vf, fast);
      phi->addIncoming(vs, slow_end);
      return phi;
    }
    llvm::Value* end = b_.CreateAdd(b_.CreateZExt(xv, i64_), b_.getInt64(uint64_t{k} + size), "",
                                    true, true);
    fail_if(b_.CreateICmpUGT(end, caplen64_));
    return load_be(b_.CreateZExt(b_.CreateAdd(xv, b_.getInt32(k)), i64_), size);
  }

  llvm::Value* alu(Op op, llvm::Value* lhs, llvm::Value* rhs, bool rhs_is_x, uint32_t k) {
    const bool is_linux = p_.target() == vm::Target::kLinux;
    switch (op) {
      case Op::kAddK: case Op::kAddX: return b_.CreateAdd(lhs, rhs);
      case Op::kSubK: case Op::kSubX: return b_.CreateSub(lhs, rhs);
      case Op::kMulK: case Op::kMulX: return b_.CreateMul(lhs, rhs);
      case Op::kDivK: case Op::kDivX:
      case Op::kModK: case Op::kModX: {
        const bool div = op == Op::kDivK || op == Op::kDivX;
        if (!rhs_is_x && k == 0) {  // the verifiers reject it; semantics say "return 0"
          fail_always();
          return b_.getInt32(0);
        }
        if (rhs_is_x) fail_if(b_.CreateICmpEQ(rhs, b_.getInt32(0)));
        return div ? b_.CreateUDiv(lhs, rhs) : b_.CreateURem(lhs, rhs);
      }
      case Op::kAndK: case Op::kAndX: return b_.CreateAnd(lhs, rhs);
      case Op::kOrK: case Op::kOrX: return b_.CreateOr(lhs, rhs);
      case Op::kXorK: case Op::kXorX: return b_.CreateXor(lhs, rhs);
      case Op::kLshK: case Op::kLshX:
      case Op::kRshK: case Op::kRshX: {
        const bool left = op == Op::kLshK || op == Op::kLshX;
        llvm::Value* count = b_.CreateAnd(rhs, b_.getInt32(31));
        llvm::Value* r = left ? b_.CreateShl(lhs, count) : b_.CreateLShr(lhs, count);
        if (is_linux) return r;  // kernel: 32-bit eBPF ALU, count masked to 5 bits
        // BSD (libpcap): counts >= 32 give 0.
        return b_.CreateSelect(b_.CreateICmpULT(rhs, b_.getInt32(32)), r, b_.getInt32(0));
      }
      case Op::kNeg: return b_.CreateNeg(lhs);
      case Op::kLdW: case Op::kLdH: case Op::kLdB: case Op::kLdWInd: case Op::kLdHInd:
      case Op::kLdBInd: case Op::kLdLen: case Op::kLdImm: case Op::kLdMem: case Op::kLdxLen:
      case Op::kLdxMsh: case Op::kLdxImm: case Op::kLdxMem: case Op::kSt: case Op::kStx:
      case Op::kJa: case Op::kJeqK: case Op::kJeqX: case Op::kJgtK: case Op::kJgtX:
      case Op::kJgeK: case Op::kJgeX: case Op::kJsetK: case Op::kJsetX: case Op::kRetK:
      case Op::kRetA: case Op::kRetX: case Op::kTax: case Op::kTxa:
        break;
    }
    return lhs;  // not an ALU op; emit_insn never passes one
  }

  void emit_block(size_t bi) {
    const auto blk = p_.blocks()[bi];
    b_.SetInsertPoint(bbs_[bi]);
    for (uint32_t i = blk.first; i <= blk.last; ++i) {
      if (const uint32_t need = p_.check_before()[i]) {
        auto* body = llvm::BasicBlock::Create(c_, "", f_, ret0_);
        b_.CreateCondBr(b_.CreateICmpUGE(caplen_, b_.getInt32(need)), body, ret0_, likely_);
        b_.SetInsertPoint(body);
      }
      emit_insn(i);
    }
    if (!b_.GetInsertBlock()->getTerminator()) {
      // Fall through into the next block.
      b_.CreateBr(bbs_[p_.block_of(blk.last + 1)]);
    }
  }

  llvm::BasicBlock* target_bb(uint32_t insn) { return bbs_[p_.block_of(insn)]; }

  void emit_insn(uint32_t i) {
    const auto& d = p_.decoded()[i];
    const uint32_t k = d.k;
    switch (d.op) {
      case Op::kLdW: set_a(load_abs(k, 4, true)); return;
      case Op::kLdH: set_a(load_abs(k, 2, true)); return;
      case Op::kLdB: set_a(load_abs(k, 1, true)); return;
      case Op::kLdWInd: set_a(load_ind(k, 4)); return;
      case Op::kLdHInd: set_a(load_ind(k, 2)); return;
      case Op::kLdBInd: set_a(load_ind(k, 1)); return;
      case Op::kLdLen: set_a(wirelen_); return;
      case Op::kLdImm: set_a(b_.getInt32(k)); return;
      case Op::kLdMem: set_a(b_.CreateLoad(i32_, mem_[k % vm::kMemWords])); return;
      case Op::kLdxLen: set_x(wirelen_); return;
      case Op::kLdxMsh: {
        llvm::Value* v = load_abs(k, 1, false);
        set_x(b_.CreateShl(b_.CreateAnd(v, b_.getInt32(0xf)), b_.getInt32(2)));
        return;
      }
      case Op::kLdxImm: set_x(b_.getInt32(k)); return;
      case Op::kLdxMem: set_x(b_.CreateLoad(i32_, mem_[k % vm::kMemWords])); return;
      case Op::kSt: b_.CreateStore(a(), mem_[k % vm::kMemWords]); return;
      case Op::kStx: b_.CreateStore(x(), mem_[k % vm::kMemWords]); return;
      case Op::kAddK: case Op::kSubK: case Op::kMulK: case Op::kDivK: case Op::kModK:
      case Op::kAndK: case Op::kOrK: case Op::kXorK: case Op::kLshK: case Op::kRshK:
        set_a(alu(d.op, a(), b_.getInt32(k), false, k));
        return;
      case Op::kAddX: case Op::kSubX: case Op::kMulX: case Op::kDivX: case Op::kModX:
      case Op::kAndX: case Op::kOrX: case Op::kXorX: case Op::kLshX: case Op::kRshX:
        set_a(alu(d.op, a(), x(), true, 0));
        return;
      case Op::kNeg: set_a(b_.CreateNeg(a())); return;
      case Op::kJa: b_.CreateBr(target_bb(d.jt)); return;
      case Op::kJeqK: case Op::kJgtK: case Op::kJgeK: case Op::kJsetK:
        cond_jump(d, b_.getInt32(k));
        return;
      case Op::kJeqX: case Op::kJgtX: case Op::kJgeX: case Op::kJsetX:
        cond_jump(d, x());
        return;
      case Op::kRetK: b_.CreateRet(b_.getInt32(k)); return;
      case Op::kRetA: b_.CreateRet(a()); return;
      case Op::kRetX: b_.CreateRet(x()); return;
      case Op::kTax: set_x(a()); return;
      case Op::kTxa: set_a(x()); return;
    }
  }

  void cond_jump(const vm::DecodedInsn& d, llvm::Value* rhs) {
    llvm::Value* lhs = a();
    llvm::Value* c = nullptr;
    switch (d.op) {
      case Op::kJeqK: case Op::kJeqX: c = b_.CreateICmpEQ(lhs, rhs); break;
      case Op::kJgtK: case Op::kJgtX: c = b_.CreateICmpUGT(lhs, rhs); break;
      case Op::kJgeK: case Op::kJgeX: c = b_.CreateICmpUGE(lhs, rhs); break;
      case Op::kJsetK: case Op::kJsetX:
        c = b_.CreateICmpNE(b_.CreateAnd(lhs, rhs), b_.getInt32(0));
        break;
      case Op::kLdW: case Op::kLdH: case Op::kLdB: case Op::kLdWInd: case Op::kLdHInd:
      case Op::kLdBInd: case Op::kLdLen: case Op::kLdImm: case Op::kLdMem: case Op::kLdxLen:
      case Op::kLdxMsh: case Op::kLdxImm: case Op::kLdxMem: case Op::kSt: case Op::kStx:
      case Op::kAddK: case Op::kAddX: case Op::kSubK: case Op::kSubX: case Op::kMulK:
      case Op::kMulX: case Op::kDivK: case Op::kDivX: case Op::kModK: case Op::kModX:
      case Op::kAndK: case Op::kAndX: case Op::kOrK: case Op::kOrX: case Op::kXorK:
      case Op::kXorX: case Op::kLshK: case Op::kLshX: case Op::kRshK: case Op::kRshX:
      case Op::kNeg: case Op::kJa: case Op::kRetK: case Op::kRetA: case Op::kRetX:
      case Op::kTax: case Op::kTxa:
        c = b_.getFalse();  // not a conditional jump; emit_insn never passes one
        break;
    }
    // Both successors only return (tcpdump's closing `jeq #v, accept, drop`): return a select,
    // which becomes setcc/cmov instead of a branch that real traffic mispredicts. LLVM cannot
    // do it itself once it has merged every return into one block.
    llvm::Value* vt = ret_only_value(d.jt);
    llvm::Value* vf = vt ? ret_only_value(d.jf) : nullptr;
    if (vt && vf) {
      b_.CreateRet(b_.CreateSelect(c, vt, vf));
      return;
    }
    b_.CreateCondBr(c, target_bb(d.jt), target_bb(d.jf));
  }

  // The value returned by the instruction at `insn` if it is a whole basic block made of one
  // `ret` (its block needs no bounds test: a ret loads nothing), else null.
  llvm::Value* ret_only_value(uint32_t insn) {
    const auto blk = p_.blocks()[p_.block_of(insn)];
    if (blk.first != insn || blk.last != insn) return nullptr;
    const auto& d = p_.decoded()[insn];
    switch (d.op) {
      case Op::kRetK: return b_.getInt32(d.k);
      case Op::kRetA: return a();
      case Op::kRetX: return x();
      case Op::kLdW: case Op::kLdH: case Op::kLdB: case Op::kLdWInd: case Op::kLdHInd:
      case Op::kLdBInd: case Op::kLdLen: case Op::kLdImm: case Op::kLdMem: case Op::kLdxLen:
      case Op::kLdxMsh: case Op::kLdxImm: case Op::kLdxMem: case Op::kSt: case Op::kStx:
      case Op::kAddK: case Op::kAddX: case Op::kSubK: case Op::kSubX: case Op::kMulK:
      case Op::kMulX: case Op::kDivK: case Op::kDivX: case Op::kModK: case Op::kModX:
      case Op::kAndK: case Op::kAndX: case Op::kOrK: case Op::kOrX: case Op::kXorK:
      case Op::kXorX: case Op::kLshK: case Op::kLshX: case Op::kRshK: case Op::kRshX:
      case Op::kNeg: case Op::kJa: case Op::kJeqK: case Op::kJeqX: case Op::kJgtK:
      case Op::kJgtX: case Op::kJgeK: case Op::kJgeX: case Op::kJsetK: case Op::kJsetX:
      case Op::kTax: case Op::kTxa:
        return nullptr;
    }
    return nullptr;
  }

  llvm::LLVMContext& c_;
  llvm::Module& m_;
  const vm::VerifiedProgram& p_;
  llvm::IRBuilder<> b_;
  llvm::Type* i8_;
  llvm::Type* i16_;
  llvm::Type* i32_;
  llvm::Type* i64_;
  llvm::PointerType* ptr_;
  llvm::MDNode* likely_ = nullptr;
  llvm::Function* f_ = nullptr;
  llvm::Value* pkt_ = nullptr;
  llvm::Value* caplen_ = nullptr;
  llvm::Value* wirelen_ = nullptr;
  llvm::Value* ctx_ = nullptr;
  llvm::Value* caplen64_ = nullptr;
  llvm::AllocaInst* a_ = nullptr;
  llvm::AllocaInst* x_ = nullptr;
  std::array<llvm::AllocaInst*, vm::kMemWords> mem_{};
  std::vector<llvm::BasicBlock*> bbs_;
  llvm::BasicBlock* ret0_ = nullptr;
};

// void name_batch(ptr state, const PacketRef* views, i64 n, i32* out, ptr ctx) (jit/backend.hpp's
// BatchFn): out[i] = filter(views[i]). vm::PacketRef is {const uint8_t* data; uint32_t caplen;
// uint32_t wirelen;} (16 bytes; jit/llvm/backend.cpp static_asserts the layout). The inliner folds the filter into the loop
// and LICM hoists the context loads, which is what a hand-written loop over packets gets.
void emit_batch(llvm::Module& m, llvm::Function* filter, const std::string& name) {
  llvm::LLVMContext& c = m.getContext();
  llvm::IRBuilder<> b(c);
  auto* ptr = llvm::PointerType::get(c, 0);
  auto* i32 = b.getInt32Ty();
  auto* i64 = b.getInt64Ty();
  auto* view = llvm::StructType::get(c, {ptr, i32, i32});
  auto* fty = llvm::FunctionType::get(b.getVoidTy(), {ptr, ptr, i64, ptr, ptr}, false);
  auto* f = llvm::Function::Create(fty, llvm::Function::ExternalLinkage, name, m);
  f->addFnAttr(llvm::Attribute::NoUnwind);
  for (unsigned i : {1u, 3u, 4u}) {
    f->addParamAttr(i, llvm::Attribute::NoAlias);
    f->addParamAttr(i, llvm::Attribute::NoCapture);
  }
  f->addParamAttr(1, llvm::Attribute::ReadOnly);
  f->addParamAttr(4, llvm::Attribute::ReadOnly);
  filter->addFnAttr(llvm::Attribute::InlineHint);
  llvm::Value* state = f->getArg(0);
  llvm::Value* views = f->getArg(1);
  llvm::Value* n = f->getArg(2);
  llvm::Value* out = f->getArg(3);
  llvm::Value* ctx = f->getArg(4);
  auto* entry = llvm::BasicBlock::Create(c, "entry", f);
  auto* loop = llvm::BasicBlock::Create(c, "loop", f);
  auto* done = llvm::BasicBlock::Create(c, "done", f);
  b.SetInsertPoint(entry);
  b.CreateCondBr(b.CreateICmpEQ(n, b.getInt64(0)), done, loop);
  b.SetInsertPoint(loop);
  auto* i = b.CreatePHI(i64, 2, "i");
  i->addIncoming(b.getInt64(0), entry);
  llvm::Value* data = b.CreateLoad(ptr, b.CreateInBoundsGEP(view, views, {i, b.getInt32(0)}));
  llvm::Value* cap = b.CreateLoad(i32, b.CreateInBoundsGEP(view, views, {i, b.getInt32(1)}));
  llvm::Value* wire = b.CreateLoad(i32, b.CreateInBoundsGEP(view, views, {i, b.getInt32(2)}));
  llvm::Value* r = b.CreateCall(filter, {state, data, cap, wire, ctx});
  b.CreateStore(r, b.CreateInBoundsGEP(i32, out, i));
  llvm::Value* next = b.CreateAdd(i, b.getInt64(1), "", true, true);
  i->addIncoming(next, loop);
  auto* latch = b.CreateCondBr(b.CreateICmpEQ(next, n), done, loop);
  // Packets differ in length and content: unrolling or vectorising the loop only costs compile
  // time (measured: 4x) for no run-time gain.
  llvm::LLVMContext& ctx_ref = c;
  llvm::Metadata* no_unroll =
      llvm::MDNode::get(ctx_ref, llvm::MDString::get(ctx_ref, "llvm.loop.unroll.disable"));
  llvm::Metadata* no_vec = llvm::MDNode::get(
      ctx_ref, {llvm::MDString::get(ctx_ref, "llvm.loop.vectorize.enable"),
                llvm::ConstantAsMetadata::get(b.getFalse())});
  llvm::Metadata* no_unswitch =
      llvm::MDNode::get(ctx_ref, llvm::MDString::get(ctx_ref, "llvm.loop.unswitch.partial.disable"));
  auto* loop_id = llvm::MDNode::getDistinct(ctx_ref, {nullptr, no_unroll, no_vec, no_unswitch});
  loop_id->replaceOperandWith(0, loop_id);
  latch->setMetadata(llvm::LLVMContext::MD_loop, loop_id);
  b.SetInsertPoint(done);
  b.CreateRetVoid();
}

}  // namespace

std::unique_ptr<llvm::Module> build_module(llvm::LLVMContext& context,
                                           const vm::VerifiedProgram& prog,
                                           std::string_view function_name, bool with_batch) {
  auto module = std::make_unique<llvm::Module>("bpfc", context);
  llvm::Function* filter = Emitter(*module, prog).emit(function_name);
  if (with_batch) {
    emit_batch(*module, filter, std::string(function_name) + "_batch");
    // Emit the per-packet entry after the batch loop, not at the start of a fresh code page:
    // a tiny function called once per packet is sensitive to where it lands (branch-predictor
    // aliasing with the caller; see bench/asmjit_bench.cpp's placements), and page offset 0
    // measured worst: AsmjitSummary llvm_vs_asmjit 0.91 there, 1.06 after the loop.
    filter->removeFromParent();
    module->getFunctionList().push_back(filter);
  }
  return module;
}

void optimize(llvm::Module& module, llvm::TargetMachine* tm, int opt_level) {
  // Declaration order matters: the managers refer to each other and are destroyed in reverse.
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm;
  if (opt_level <= 0) {
    mpm.addPass(llvm::createModuleToFunctionPassAdaptor(llvm::PromotePass()));
  } else {
    const llvm::OptimizationLevel level = opt_level == 1   ? llvm::OptimizationLevel::O1
                                          : opt_level == 2 ? llvm::OptimizationLevel::O2
                                                           : llvm::OptimizationLevel::O3;
    mpm = pb.buildPerModuleDefaultPipeline(level);
  }
  mpm.run(module, mam);
}

}  // namespace bpf::jit::llvm_codegen
