// The classic -> eBPF translator (see translate.hpp for what it promises).
//
// Register assignment:
//   r6  the context (struct __sk_buff * or struct xdp_md *), kept for helper calls and LD_ABS
//   r7  A        r8  X        (every write is a 32-bit operation: upper halves stay zero)
//   r9  packet start (xdp, tc: ctx->data, loaded once after the prologue)
//   r0-r5 temporaries;  M[k] at r10 - 64 + 4k
// Packet loads. Socket filters cannot read packet memory directly: they use LD_ABS / LD_IND,
// which the kernel implements with the very helpers its classic conversion uses
// (bpf_skb_load_helper_*: negative SKF_NET_OFF / SKF_LL_OFF offsets, non-linear skbs, and "the
// program returns 0" on failure), so Linux semantics hold by construction. xdp and tc read the
// packet directly: before classic instruction i the translation tests `data + need <= data_end`
// where the verifier's check_before()[i] says so (need = bytes the following loads read, merged
// per block as the asmjit and LLVM engines do); after that test the kernel's verifier knows the
// range of r9 and accepts plain loads at r9 + k. tc first makes the whole packet linear with
// bpf_skb_pull_data when it is not (direct access sees only the linear part). `ld [x + k]` is
// checked one by one. The verifier proves direct access only within the first 65,535 bytes
// (MAX_PACKET_OFF): a test for more checks those 65,535 (shorter packets fail in that stretch
// anyway), and loads past them go through bpf_skb_load_bytes (tc) / bpf_xdp_load_bytes (xdp),
// which fail as the classic load does on a short packet. bpf_xdp_load_bytes refuses an offset
// past 0xffff (net/core/filter.c, bpf_xdp_pointer), so under xdp a load starting past byte
// 65,535 rejects: such frames reach XDP only in generic mode (loopback's 64 KiB MTU, GRO).
// `SKF_NET_OFF + n` under tc reads from skb's network header with
// bpf_skb_load_bytes_relative(BPF_HDR_START_NET), as the socket filter's
// bpf_internal_load_pointer_neg_helper does (net/core/filter.c; the helper refuses n > 65,535
// where the classic one reads on while the linear data lasts: only packets with over 64 KiB
// after the network header differ). xdp has no network header (the frame is not parsed yet):
// an absolute SKF_NET_OFF load is a located translation error, an indexed one that lands there
// rejects at run time. A failed check, and div/mod by X == 0, return the hook's reject verdict
// (classic: 0). Shifts, division and loads follow vm/semantics.hpp for the program's target.
// Unreachable classic instructions are not translated (the kernel rejects unreachable code).
#include "jit/ebpf/translate.hpp"

#include <algorithm>
#include <string>

#include "jit/ebpf/emitter.hpp"
#include "vm/ancillary.hpp"
#include "vm/insn.hpp"

namespace bpf::jit::ebpf {
namespace {

using vm::Op;

constexpr uint8_t kA = kR7, kX = kR8, kCtx = kR6, kData = kR9;
constexpr int16_t kScratchBase = -64;
constexpr int16_t kHelperBuf = -72;  // bytes a load helper copies out (below M[])
constexpr uint32_t kMaxPacketOff = 0xffff;  // the kernel verifier's MAX_PACKET_OFF

int16_t slot(uint32_t k) { return static_cast<int16_t>(kScratchBase + 4 * static_cast<int32_t>(k)); }

uint8_t ld_size(uint32_t bytes) { return bytes == 4 ? op::kW : bytes == 2 ? op::kH : op::kB; }

class Translator {
 public:
  Translator(const vm::VerifiedProgram& p, Hook h)
      : prog_(p), d_(p.decoded()), hook_(h), linux_(p.target() == vm::Target::kLinux) {}

  Result<EbpfProgram> run() {
    mark_reachable();
    labels_.resize(d_.size() + 1);
    fail_ = e_.new_label();
    ret_a_ = e_.new_label();
    prologue();
    for (uint32_t i = 0; i < d_.size(); ++i) {
      if (!reachable_[i]) continue;
      if (labels_[i].valid()) e_.bind(labels_[i]);
      if (hook_ != Hook::kSocket && prog_.check_before()[i] != 0) packet_check(prog_.check_before()[i]);
      insn(i);
    }
    // Shared exits, only when used (the kernel rejects unreachable instructions).
    if (e_.used(fail_)) {
      e_.bind(fail_);
      e_.emit(mov32_imm(kR0, hook_verdict(hook_, 0)));
      e_.emit(exit_insn());
    }
    if (e_.used(ret_a_)) {
      e_.bind(ret_a_);
      ret_reg(kA);
    }
    if (diags_.has_errors()) return diags_;
    return Result<EbpfProgram>(EbpfProgram{hook_, e_.finish()}, diags_);
  }

 private:
  void mark_reachable() {
    reachable_.assign(d_.size(), false);
    if (!d_.empty()) reachable_[0] = true;
    for (uint32_t i = 0; i < d_.size(); ++i) {
      if (!reachable_[i]) continue;
      const auto& di = d_[i];
      if (vm::info(di.op).has(vm::eff::kRet)) continue;
      if (di.jt < d_.size()) reachable_[di.jt] = true;
      if (di.jf < d_.size()) reachable_[di.jf] = true;
    }
  }
  uint32_t next_reachable(uint32_t i) const {
    for (uint32_t j = i + 1; j < d_.size(); ++j)
      if (reachable_[j]) return j;
    return static_cast<uint32_t>(d_.size());
  }
  Label label(uint32_t i) {
    if (!labels_[i].valid()) labels_[i] = e_.new_label();
    return labels_[i];
  }
  void error(uint32_t i, std::string msg) {
    diags_.error(std::move(msg) + " (hook " + std::string(hook_name(hook_)) + ")", {}, i);
  }

  void prologue() {
    e_.emit(mov64_reg(kCtx, kR1));
    e_.emit(mov32_imm(kA, 0));
    e_.emit(mov32_imm(kX, 0));
    for (uint32_t k = 0; k < vm::kMemWords; ++k)
      if (prog_.facts().scratch_uninit & (1u << k)) e_.emit(st_imm(op::kW, kR10, slot(k), 0));
    if (hook_ == Hook::kSocket) return;
    if (hook_ == Hook::kTc) {
      // Direct access sees the linear part only: pull the rest in when there is any.
      Label linear = e_.new_label();
      e_.emit(ldx(op::kW, kR1, kCtx, skb::kDataEnd));
      e_.emit(ldx(op::kW, kR2, kCtx, skb::kData));
      e_.emit(alu64_reg(op::kSub, kR1, kR2));
      e_.emit(ldx(op::kW, kR2, kCtx, skb::kLen));
      e_.jump(make(op::kJmp | op::kJge | op::kX, kR1, kR2, 0, 0), linear);
      e_.emit(mov64_reg(kR1, kCtx));
      e_.emit(call(kHelperSkbPullData));
      e_.bind(linear);
    }
    e_.emit(ldx(op::kW, kData, kCtx, hook_ == Hook::kXdp ? xdp::kData : skb::kData));
  }

  int16_t data_end_off() const { return hook_ == Hook::kXdp ? xdp::kDataEnd : skb::kDataEnd; }

  // An unconditional jump to fail_ that the kernel's CFG check still sees as conditional, so that
  // the code after it (dead once the verifier knows w1) is not "unreachable insn".
  void fail_always() {
    e_.emit(mov32_imm(kR1, 0));
    e_.jump(make(op::kJmp | op::kJeq | op::kK, kR1, 0, 0, 0), fail_);
  }

  // if data + need > data_end: reject. Past MAX_PACKET_OFF the direct loads' 65,535 bytes are
  // tested; the helper loads beyond check for themselves.
  void packet_check(uint32_t need) {
    need = std::min(need, kMaxPacketOff);
    e_.emit(mov64_reg(kR1, kData));
    e_.emit(alu64_imm(op::kAdd, kR1, static_cast<int32_t>(need)));
    e_.emit(ldx(op::kW, kR2, kCtx, data_end_off()));
    e_.jump(make(op::kJmp | op::kJgt | op::kX, kR1, kR2, 0, 0), fail_);
  }

  // dst = big-endian `size` bytes at r9 + off (the range is already checked).
  void load_direct(uint8_t dst, uint32_t off, uint32_t size) {
    uint8_t base = kData;
    if (off > 0x7fff - 4) {
      e_.emit(mov64_reg(kR3, kData));
      e_.emit(alu64_imm(op::kAdd, kR3, static_cast<int32_t>(off)));
      base = kR3;
      off = 0;
    }
    e_.emit(ldx(ld_size(size), dst, base, static_cast<int16_t>(off)));
    if (size > 1) e_.emit(to_be(dst, static_cast<int32_t>(size * 8)));
  }

  // dst = `size` big-endian bytes at packet offset r2 (xdp, tc: bpf_xdp_load_bytes /
  // bpf_skb_load_bytes) or network-header offset r2 (tc: bpf_skb_load_bytes_relative); a
  // failed copy rejects.
  void load_helper(uint8_t dst, uint32_t size, bool from_net) {
    e_.emit(mov64_reg(kR1, kCtx));
    e_.emit(mov64_reg(kR3, kR10));
    e_.emit(alu64_imm(op::kAdd, kR3, kHelperBuf));
    e_.emit(mov32_imm(kR4, size));
    if (from_net) e_.emit(mov32_imm(kR5, kHdrStartNet));
    e_.emit(call(from_net ? kHelperSkbLoadBytesRelative
                          : hook_ == Hook::kXdp ? kHelperXdpLoadBytes : kHelperSkbLoadBytes));
    e_.jump(make(op::kJmp | op::kJne | op::kK, kR0, 0, 0, 0), fail_);
    e_.emit(ldx(ld_size(size), dst, kR10, kHelperBuf));
    if (size > 1) e_.emit(to_be(dst, static_cast<int32_t>(size * 8)));
  }

  // dst = the packet bytes at the byte offset in r1 (a 64-bit value < 2^33), checked here:
  // directly within the first 65,535 bytes, through the hook's helper past them.
  void load_at_r1(uint8_t dst, uint32_t size) {
    Label far = e_.new_label(), done = e_.new_label();
    const auto last_direct = static_cast<int32_t>(kMaxPacketOff - size);
    e_.jump(make(op::kJmp | op::kJgt | op::kK, kR1, 0, 0, last_direct), far);
    e_.emit(mov64_reg(kR2, kData));
    e_.emit(alu64_reg(op::kAdd, kR2, kR1));
    e_.emit(mov64_reg(kR3, kR2));
    e_.emit(alu64_imm(op::kAdd, kR3, static_cast<int32_t>(size)));
    e_.emit(ldx(op::kW, kR4, kCtx, data_end_off()));
    e_.jump(make(op::kJmp | op::kJgt | op::kX, kR3, kR4, 0, 0), fail_);
    e_.emit(ldx(ld_size(size), dst, kR2, 0));
    if (size > 1) e_.emit(to_be(dst, static_cast<int32_t>(size * 8)));
    e_.ja(done);
    e_.bind(far);  // the helpers refuse an offset past INT_MAX (skb), past 0xffff (xdp)
    e_.jump(make(op::kJmp | op::kJgt | op::kK, kR1, 0, 0,
                 hook_ == Hook::kXdp ? int32_t{kMaxPacketOff} : 0x7fffffff),
            fail_);
    e_.emit(mov64_reg(kR2, kR1));
    load_helper(dst, size, false);
    e_.bind(done);
  }

  // `ld [k]` / `ldxb 4*([k]&0xf)` into dst (a packet load, not ancillary).
  void load_abs(uint32_t i, uint8_t dst, uint32_t k, uint32_t size) {
    if (hook_ == Hook::kSocket) {
      if (!linux_ && k >= 0x80000000u) {  // BSD: never in bounds (LD_ABS would read negative)
        fail_always();
        return;
      }
      e_.emit(ld_abs(ld_size(size), static_cast<int32_t>(k)));
      e_.emit(mov32_reg(dst, kR0));
      return;
    }
    if (vm::counted_load(prog_.target(), k, size)) {  // covered by check_before()
      if (uint64_t{k} + size > kMaxPacketOff) {  // past the verifier's direct-access range
        // BSD offsets the helpers cannot take; xdp: bpf_xdp_pointer's limit
        if (k > (hook_ == Hook::kXdp ? kMaxPacketOff : 0x7fffffffu)) return fail_always();
        e_.emit(mov32_imm(kR2, k));
        load_helper(dst, size, false);
        return;
      }
      load_direct(dst, k, size);
      return;
    }
    if (linux_ && k >= vm::kSkfLlOff && k < vm::kSkfNetOff) {  // link layer = packet start
      e_.emit(mov32_imm(kR1, k - vm::kSkfLlOff));
      load_at_r1(dst, size);
      return;
    }
    if (linux_ && k >= vm::kSkfNetOff && k < vm::kSkfAdOff) {
      if (hook_ == Hook::kXdp) {
        error(i, "a load relative to the network header (SKF_NET_OFF) has no equivalent here: "
                 "XDP runs before the frame's headers are parsed");
        return;
      }
      e_.emit(mov32_imm(kR2, k - vm::kSkfNetOff));
      load_helper(dst, size, true);
      return;
    }
    fail_always();  // negative offsets below SKF_LL_OFF, BSD offsets past 2^32: always fail
  }

  // `ld [x + k]`.
  void load_ind(uint32_t k, uint32_t size) {
    if (hook_ == Hook::kSocket) {
      if (linux_) {  // LD_IND: (int)(X + k), the kernel's own helper
        e_.emit(ld_ind(ld_size(size), kX, static_cast<int32_t>(k)));
      } else {  // BSD: X + k without wrapping, and never negative
        e_.emit(mov32_imm(kR1, k));
        e_.emit(alu64_reg(op::kAdd, kR1, kX));
        e_.jump(make(op::kJmp | op::kJgt | op::kK, kR1, 0, 0, 0x7fffffff), fail_);
        e_.emit(ld_ind(ld_size(size), kR1, 0));
      }
      e_.emit(mov32_reg(kA, kR0));
      return;
    }
    if (!linux_) {  // BSD: X + k without wrapping
      e_.emit(mov32_imm(kR1, k));
      e_.emit(alu64_reg(op::kAdd, kR1, kX));
      load_at_r1(kA, size);
      return;
    }
    // off = (int)(X + k); negative (bpf_internal_load_pointer_neg_helper): SKF_NET_OFF + n
    // reads the network header's byte n (tc; xdp has none: reject), SKF_LL_OFF + n packet byte
    // n, lower offsets fail.
    Label positive = e_.new_label(), net = e_.new_label();
    e_.emit(mov32_reg(kR1, kX));
    e_.emit(alu32_imm(op::kAdd, kR1, static_cast<int32_t>(k)));
    e_.jump(make(op::kJmp32 | op::kJsge | op::kK, kR1, 0, 0, 0), positive);
    e_.jump(make(op::kJmp32 | op::kJslt | op::kK, kR1, 0, 0, static_cast<int32_t>(vm::kSkfLlOff)),
            fail_);
    e_.jump(make(op::kJmp32 | op::kJsge | op::kK, kR1, 0, 0, static_cast<int32_t>(vm::kSkfNetOff)),
            hook_ == Hook::kTc ? net : fail_);
    e_.emit(alu32_imm(op::kSub, kR1, static_cast<int32_t>(vm::kSkfLlOff)));
    e_.bind(positive);
    load_at_r1(kA, size);
    if (e_.used(net)) {
      Label done = e_.new_label();
      e_.ja(done);
      e_.bind(net);
      e_.emit(mov32_reg(kR2, kR1));
      e_.emit(alu32_imm(op::kSub, kR2, static_cast<int32_t>(vm::kSkfNetOff)));
      load_helper(kA, size, true);
      e_.bind(done);
    }
  }

  // Ancillary load `ld [SKF_AD_OFF + n]` (Linux): A's new value from the hook's context.
  void ancillary(uint32_t i, vm::Ancillary id) {
    const bool skb = hook_ != Hook::kXdp;
    auto field = [&](int16_t off) { e_.emit(ldx(op::kW, kA, kCtx, off)); };
    auto missing = [&]() {
      error(i, "ancillary load '" + std::string(vm::info(id).name) +
                   "' cannot be translated: the hook's context has no such field");
    };
    switch (id) {
      case vm::Ancillary::kProtocol:
        if (!skb) return missing();
        field(skb::kProtocol);
        e_.emit(to_be(kA, 16));  // skb->protocol is big-endian; classic returns it host-order
        return;
      case vm::Ancillary::kPktType:
        if (!skb) return missing();
        return field(skb::kPktType);
      case vm::Ancillary::kIfIndex:
        if (!skb) return field(xdp::kIngressIfIndex);
        // __sk_buff.ifindex is 0 when skb->dev is NULL: classic then ends returning A.
        e_.emit(ldx(op::kW, kR1, kCtx, skb::kIfIndex));
        e_.jump(make(op::kJmp32 | op::kJeq | op::kK, kR1, 0, 0, 0), ret_a_);
        e_.emit(mov32_reg(kA, kR1));
        return;
      case vm::Ancillary::kMark:
        if (!skb) return missing();
        return field(skb::kMark);
      case vm::Ancillary::kQueue: return field(skb ? skb::kQueueMapping : xdp::kRxQueueIndex);
      case vm::Ancillary::kRxHash:
        if (!skb) return missing();
        return field(skb::kHash);
      case vm::Ancillary::kCpu:
        e_.emit(call(kHelperGetSmpProcessorId));
        e_.emit(mov32_reg(kA, kR0));
        return;
      case vm::Ancillary::kRandom:
        e_.emit(call(kHelperGetPrandomU32));
        e_.emit(mov32_reg(kA, kR0));
        return;
      case vm::Ancillary::kAluXorX: e_.emit(alu32_reg(op::kXor, kA, kX)); return;
      case vm::Ancillary::kVlanTag:
        if (!skb) return missing();
        return field(skb::kVlanTci);
      case vm::Ancillary::kVlanTagPresent:
        if (!skb) return missing();
        return field(skb::kVlanPresent);
      case vm::Ancillary::kVlanTpid:
        if (!skb) return missing();
        field(skb::kVlanProto);
        e_.emit(to_be(kA, 16));
        return;
      case vm::Ancillary::kHaType:
      case vm::Ancillary::kNlAttr:
      case vm::Ancillary::kNlAttrNest:
      case vm::Ancillary::kPayOffset:
        return missing();
    }
  }

  void ld_len(uint8_t dst) {
    if (hook_ == Hook::kXdp) {  // data_end - data (pointer subtraction: allowed to root)
      e_.emit(ldx(op::kW, kR1, kCtx, xdp::kDataEnd));
      e_.emit(alu64_reg(op::kSub, kR1, kData));
      e_.emit(mov32_reg(dst, kR1));
    } else {
      e_.emit(ldx(op::kW, dst, kCtx, skb::kLen));
    }
  }

  // Returns the classic value in `reg` with the hook's convention.
  void ret_reg(uint8_t reg) {
    if (hook_ == Hook::kSocket) {
      e_.emit(mov32_reg(kR0, reg));
      e_.emit(exit_insn());
      return;
    }
    Label done = e_.new_label();
    e_.emit(mov32_imm(kR0, hook_verdict(hook_, 1)));
    e_.jump(make(op::kJmp32 | op::kJne | op::kK, reg, 0, 0, 0), done);
    e_.emit(mov32_imm(kR0, hook_verdict(hook_, 0)));
    e_.bind(done);
    e_.emit(exit_insn());
  }

  void alu(uint32_t i, uint8_t o, bool by_x, uint32_t k, Op opc) {
    (void)i;
    const bool divmod = o == op::kDiv || o == op::kMod;
    const bool shift = o == op::kLsh || o == op::kRsh;
    if (!by_x) {
      if (divmod && k == 0) return fail_always();  // BSD only (Linux rejects it)
      if (shift && k >= 32) {
        if (linux_) k &= 31;  // vm::alu: a << (k & 31)
        else return e_.emit(mov32_imm(kA, 0));
      }
      e_.emit(alu32_imm(o, kA, static_cast<int32_t>(k)));
      return;
    }
    (void)opc;
    if (divmod) {
      e_.jump(make(op::kJmp32 | op::kJeq | op::kK, kX, 0, 0, 0), fail_);
      e_.emit(alu32_reg(o, kA, kX));
      return;
    }
    if (shift) {
      if (linux_) {  // the low 5 bits of X
        e_.emit(mov32_reg(kR1, kX));
        e_.emit(alu32_imm(op::kAnd, kR1, 31));
        e_.emit(alu32_reg(o, kA, kR1));
      } else {  // X >= 32 gives 0
        Label big = e_.new_label(), done = e_.new_label();
        e_.jump(make(op::kJmp32 | op::kJgt | op::kK, kX, 0, 0, 31), big);
        e_.emit(alu32_reg(o, kA, kX));
        e_.ja(done);
        e_.bind(big);
        e_.emit(mov32_imm(kA, 0));
        e_.bind(done);
      }
      return;
    }
    e_.emit(alu32_reg(o, kA, kX));
  }

  // A conditional jump on `cmp` (a BPF_JMP32 jump op) to jt, else jf.
  void branch(uint32_t i, uint8_t cmp, bool by_x, uint32_t k) {
    const auto& di = d_[i];
    const uint32_t next = next_reachable(i);
    const EbpfInsn j = by_x ? make(op::kJmp32 | cmp | op::kX, kA, kX, 0, 0)
                            : make(op::kJmp32 | cmp | op::kK, kA, 0, 0, static_cast<int32_t>(k));
    if (di.jt == di.jf) {
      if (di.jt != next) e_.ja(label(di.jt));
      return;
    }
    if (di.jt == next && cmp != op::kJset) {
      const uint8_t inv = cmp == op::kJeq ? op::kJne : cmp == op::kJgt ? op::kJle : op::kJlt;
      EbpfInsn n = j;
      n.code = static_cast<uint8_t>((j.code & ~0xf0) | inv);
      e_.jump(n, label(di.jf));
      return;
    }
    e_.jump(j, label(di.jt));
    if (di.jf != next) e_.ja(label(di.jf));
  }

  void insn(uint32_t i) {
    const vm::DecodedInsn& di = d_[i];
    const uint32_t k = di.k;
    switch (di.op) {
      case Op::kLdW: case Op::kLdH: case Op::kLdB: {
        const uint32_t size = vm::info(di.op).load_size;
        if (linux_ && k >= vm::kSkfAdOff) {
          if (auto id = vm::ancillary_for(k)) return ancillary(i, *id);
        }
        return load_abs(i, kA, k, size);
      }
      case Op::kLdWInd: case Op::kLdHInd: case Op::kLdBInd:
        return load_ind(k, vm::info(di.op).load_size);
      case Op::kLdxMsh:
        load_abs(i, kX, k, 1);
        e_.emit(alu32_imm(op::kAnd, kX, 0xf));
        e_.emit(alu32_imm(op::kLsh, kX, 2));
        return;
      case Op::kLdLen: return ld_len(kA);
      case Op::kLdxLen: return ld_len(kX);
      case Op::kLdImm: return e_.emit(mov32_imm(kA, k));
      case Op::kLdxImm: return e_.emit(mov32_imm(kX, k));
      case Op::kLdMem: return e_.emit(ldx(op::kW, kA, kR10, slot(k)));
      case Op::kLdxMem: return e_.emit(ldx(op::kW, kX, kR10, slot(k)));
      case Op::kSt: return e_.emit(stx(op::kW, kR10, kA, slot(k)));
      case Op::kStx: return e_.emit(stx(op::kW, kR10, kX, slot(k)));
      case Op::kAddK: return alu(i, op::kAdd, false, k, di.op);
      case Op::kAddX: return alu(i, op::kAdd, true, k, di.op);
      case Op::kSubK: return alu(i, op::kSub, false, k, di.op);
      case Op::kSubX: return alu(i, op::kSub, true, k, di.op);
      case Op::kMulK: return alu(i, op::kMul, false, k, di.op);
      case Op::kMulX: return alu(i, op::kMul, true, k, di.op);
      case Op::kDivK: return alu(i, op::kDiv, false, k, di.op);
      case Op::kDivX: return alu(i, op::kDiv, true, k, di.op);
      case Op::kModK: return alu(i, op::kMod, false, k, di.op);
      case Op::kModX: return alu(i, op::kMod, true, k, di.op);
      case Op::kAndK: return alu(i, op::kAnd, false, k, di.op);
      case Op::kAndX: return alu(i, op::kAnd, true, k, di.op);
      case Op::kOrK: return alu(i, op::kOr, false, k, di.op);
      case Op::kOrX: return alu(i, op::kOr, true, k, di.op);
      case Op::kXorK: return alu(i, op::kXor, false, k, di.op);
      case Op::kXorX: return alu(i, op::kXor, true, k, di.op);
      case Op::kLshK: return alu(i, op::kLsh, false, k, di.op);
      case Op::kLshX: return alu(i, op::kLsh, true, k, di.op);
      case Op::kRshK: return alu(i, op::kRsh, false, k, di.op);
      case Op::kRshX: return alu(i, op::kRsh, true, k, di.op);
      case Op::kNeg: return e_.emit(alu32_imm(op::kNeg, kA, 0));
      case Op::kJa:
        if (di.jt != next_reachable(i)) e_.ja(label(di.jt));
        return;
      case Op::kJeqK: return branch(i, op::kJeq, false, k);
      case Op::kJeqX: return branch(i, op::kJeq, true, k);
      case Op::kJgtK: return branch(i, op::kJgt, false, k);
      case Op::kJgtX: return branch(i, op::kJgt, true, k);
      case Op::kJgeK: return branch(i, op::kJge, false, k);
      case Op::kJgeX: return branch(i, op::kJge, true, k);
      case Op::kJsetK: return branch(i, op::kJset, false, k);
      case Op::kJsetX: return branch(i, op::kJset, true, k);
      case Op::kRetK:
        e_.emit(mov32_imm(kR0, hook_verdict(hook_, k)));
        e_.emit(exit_insn());
        return;
      case Op::kRetA: return ret_reg(kA);
      case Op::kRetX: return ret_reg(kX);
      case Op::kTax: return e_.emit(mov32_reg(kX, kA));
      case Op::kTxa: return e_.emit(mov32_reg(kA, kX));
    }
  }

  const vm::VerifiedProgram& prog_;
  std::span<const vm::DecodedInsn> d_;
  Hook hook_;
  bool linux_;
  Emitter e_;
  Diagnostics diags_;
  std::vector<bool> reachable_;
  std::vector<Label> labels_;
  Label fail_, ret_a_;
};

}  // namespace

Result<EbpfProgram> translate(const vm::VerifiedProgram& prog, Hook hook) {
  return Translator(prog, hook).run();
}

std::optional<Hook> parse_hook(std::string_view name) {
  if (name == "socket") return Hook::kSocket;
  if (name == "xdp") return Hook::kXdp;
  if (name == "tc") return Hook::kTc;
  return std::nullopt;
}

std::string_view hook_name(Hook h) {
  switch (h) {
    case Hook::kSocket: return "socket";
    case Hook::kXdp: return "xdp";
    case Hook::kTc: return "tc";
  }
  return "socket";
}

uint32_t prog_type(Hook h) {
  switch (h) {
    case Hook::kSocket: return 1;  // BPF_PROG_TYPE_SOCKET_FILTER
    case Hook::kXdp: return 6;     // BPF_PROG_TYPE_XDP
    case Hook::kTc: return 3;      // BPF_PROG_TYPE_SCHED_CLS
  }
  return 1;
}

}  // namespace bpf::jit::ebpf
