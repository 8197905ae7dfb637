// Threaded-code interpreter (see interpreter.hpp for the design and its invariants).
//
// Translation: every verified instruction becomes one Slot whose handler is chosen from the
// BPF_HANDLERS list below by opcode, target and the bounds facts. Execution: `exec` is one
// function holding every handler as a label; a handler ends with `goto *next->handler`.
// Tested in tests/vm/interpreter_test.cpp and tests/conformance/.
#include "vm/interpreter.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "vm/semantics.hpp"

namespace bpf::vm {

namespace {

// Every handler of exec(), in table order. Suffixes: _CHK checks caplen >= slot.n first and
// returns 0 when it fails; _CHKS resumes the exact specification instead (a block where an
// earlier-failing check could hide a non-zero early exit); _SLOW calls vm/semantics.hpp.
#define BPF_HANDLERS(X)                                                                          \
  X(LD_W) X(LD_H) X(LD_B) X(LD_W_CHK) X(LD_H_CHK) X(LD_B_CHK) X(LD_W_CHKS) X(LD_H_CHKS)          \
  X(LD_B_CHKS) X(LD_SLOW) X(MSH) X(MSH_CHK) X(MSH_CHKS) X(MSH_SLOW)                              \
  X(LDI_W_L) X(LDI_H_L) X(LDI_B_L) X(LDI_W_B) X(LDI_H_B) X(LDI_B_B)                              \
  X(LEN) X(LDX_LEN) X(IMM) X(LDX_IMM) X(MEM) X(LDX_MEM) X(ST) X(STX)                             \
  X(ADD_K) X(SUB_K) X(MUL_K) X(DIV_K) X(MOD_K) X(AND_K) X(OR_K) X(XOR_K) X(LSH_K) X(RSH_K)       \
  X(ADD_X) X(SUB_X) X(MUL_X) X(DIV_X) X(MOD_X) X(AND_X) X(OR_X) X(XOR_X)                         \
  X(LSH_X_L) X(RSH_X_L) X(LSH_X_B) X(RSH_X_B) X(NEG)                                             \
  X(JA) X(JEQ_K) X(JGT_K) X(JGE_K) X(JSET_K) X(JEQ_X) X(JGT_X) X(JGE_X) X(JSET_X)                \
  X(RET_K) X(RET_A) X(RET_X) X(TAX) X(TXA)                                                      \
  BPF_FUSED(X)

// Fused superinstructions: a packet load immediately followed by a conditional jump with a
// constant (`ldh [12]; jeq #0x800, ...`: most of what tcpdump emits). One dispatch instead of
// two. Absolute loads check `caplen >= n` (n = 0 when the facts already cover them).
#define BPF_FUSED_CMP(X, L) X(L##_JEQ) X(L##_JGT) X(L##_JGE) X(L##_JSET)
#define BPF_FUSED(X)                                                                             \
  BPF_FUSED_CMP(X, FA_W) BPF_FUSED_CMP(X, FA_H) BPF_FUSED_CMP(X, FA_B)                           \
  BPF_FUSED_CMP(X, FI_W_L) BPF_FUSED_CMP(X, FI_H_L) BPF_FUSED_CMP(X, FI_B_L)                     \
  BPF_FUSED_CMP(X, FI_W_B) BPF_FUSED_CMP(X, FI_H_B) BPF_FUSED_CMP(X, FI_B_B)                     \
  BPF_FUSED_CMP(X, FM_W) BPF_FUSED_CMP(X, FM_H) BPF_FUSED_CMP(X, FM_B)

enum class H : uint8_t {
#define BPF_H_ENUM(name) name,
  BPF_HANDLERS(BPF_H_ENUM)
#undef BPF_H_ENUM
};

H abs_handler(uint32_t size, int variant) {  // variant 0 plain, 1 _CHK, 2 _CHKS
  static constexpr H kTable[3][3] = {{H::LD_W, H::LD_H, H::LD_B},
                                     {H::LD_W_CHK, H::LD_H_CHK, H::LD_B_CHK},
                                     {H::LD_W_CHKS, H::LD_H_CHKS, H::LD_B_CHKS}};
  return kTable[variant][size == 4 ? 0 : size == 2 ? 1 : 2];
}

inline uint32_t rd32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline uint32_t rd16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return __builtin_bswap16(v);
}

}  // namespace

Interpreter::Interpreter(const VerifiedProgram& prog)
    : target_(prog.target()), insns_(prog.insns().begin(), prog.insns().end()) {
  const auto dec = prog.decoded();
  const auto blocks = prog.blocks();
  const size_t n = dec.size();
  const void* const* table = nullptr;
  exec(nullptr, nullptr, 0, nullptr, Context{}, &table);
  const void* const* table1 = nullptr;
  run_thunk(nullptr, reinterpret_cast<const uint8_t*>(&table1), 0, 0, Context{});

  std::vector<H> kind(n + 1, H::RET_K);
  slots_.assign(n + 1, Slot{});
  for (size_t i = 0; i <= n; ++i) {
    slots_[i].jt = slots_[i].jf = &slots_[n];
    if (i < n) slots_[i].k = dec[i].k;
  }

  // Bytes guaranteed on entry to each block: forward data flow over the acyclic CFG (blocks are
  // in topological order). Scratch slots certainly written on entry, likewise (AND over preds).
  const size_t nb = blocks.size();
  constexpr uint32_t kUnset = std::numeric_limits<uint32_t>::max();
  std::vector<uint32_t> in_bytes(nb, kUnset);
  std::vector<uint32_t> in_written(nb, 0xffffu);
  std::vector<bool> reached(nb, false);
  if (nb) {
    in_bytes[0] = 0;
    in_written[0] = 0;
    reached[0] = true;
  }
  bool uninit_read = false;

  for (size_t b = 0; b < nb; ++b) {
    const BasicBlock& bb = blocks[b];
    const uint32_t have = in_bytes[b] == kUnset ? 0 : in_bytes[b];
    const bool check = bb.pkt_bytes > have;
    const uint32_t ensured = std::max(have, bb.pkt_bytes);
    bool quirk = false;
    for (uint32_t i = bb.first; i <= bb.last && i < n; ++i) quirk |= may_exit_nonzero(target_, dec[i]);
    bool check_placed = !check;  // becomes true where the block's check is emitted
    uint16_t written = in_written[b];

    for (uint32_t i = bb.first; i <= bb.last && i < n; ++i) {
      const DecodedInsn& d = dec[i];
      Slot& s = slots_[i];
      const uint32_t k = d.k;
      H h = H::RET_K;
      // Absolute loads and msh: plain, block check, own check, or slow.
      auto place = [&](uint32_t size, bool msh) -> H {
        if (!counted_load(target_, k, size)) {
          s.n = size;
          return msh ? H::MSH_SLOW : H::LD_SLOW;
        }
        const uint64_t end = uint64_t{k} + size;
        int variant = 0;
        if (!check_placed && end <= bb.pkt_bytes) {
          check_placed = true;
          variant = quirk ? 2 : 1;
          s.n = bb.pkt_bytes;
          ++block_checks_;
        } else if (end > ensured) {  // not covered by the facts: check this load alone
          variant = 1;
          s.n = uint32_t(end);
          ++checked_loads_;
        }
        if (msh) return variant == 0 ? H::MSH : variant == 1 ? H::MSH_CHK : H::MSH_CHKS;
        return abs_handler(size, variant);
      };
      const bool linux = target_ == Target::kLinux;
      switch (d.op) {
        case Op::kLdW: case Op::kLdH: case Op::kLdB: h = place(info(d.op).load_size, false); break;
        case Op::kLdxMsh: h = place(1, true); break;
        case Op::kLdWInd: h = linux ? H::LDI_W_L : H::LDI_W_B; ++checked_loads_; break;
        case Op::kLdHInd: h = linux ? H::LDI_H_L : H::LDI_H_B; ++checked_loads_; break;
        case Op::kLdBInd: h = linux ? H::LDI_B_L : H::LDI_B_B; ++checked_loads_; break;
        case Op::kLdLen: h = H::LEN; break;
        case Op::kLdxLen: h = H::LDX_LEN; break;
        case Op::kLdImm: h = H::IMM; break;
        case Op::kLdxImm: h = H::LDX_IMM; break;
        case Op::kLdMem: case Op::kLdxMem:
          if (k >= kMemWords) { h = H::RET_K; s.k = 0; break; }  // never verified; stay total
          if (!(written & (1u << k))) uninit_read = true;
          h = d.op == Op::kLdMem ? H::MEM : H::LDX_MEM;
          break;
        case Op::kSt: case Op::kStx:
          if (k >= kMemWords) { h = H::RET_K; s.k = 0; break; }
          written |= uint16_t(1u << k);
          h = d.op == Op::kSt ? H::ST : H::STX;
          break;
        case Op::kAddK: h = H::ADD_K; break;
        case Op::kSubK: h = H::SUB_K; break;
        case Op::kMulK: h = H::MUL_K; break;
        case Op::kDivK: case Op::kModK:
          if (k == 0) { h = H::RET_K; break; }  // rejected by every verifier; ends with 0
          h = d.op == Op::kDivK ? H::DIV_K : H::MOD_K;
          break;
        case Op::kAndK: h = H::AND_K; break;
        case Op::kOrK: h = H::OR_K; break;
        case Op::kXorK: h = H::XOR_K; break;
        case Op::kLshK: case Op::kRshK:
          if (k >= 32 && !linux) { h = H::IMM; s.k = 0; break; }  // BSD: A = 0
          s.k = k & 31;
          h = d.op == Op::kLshK ? H::LSH_K : H::RSH_K;
          break;
        case Op::kAddX: h = H::ADD_X; break;
        case Op::kSubX: h = H::SUB_X; break;
        case Op::kMulX: h = H::MUL_X; break;
        case Op::kDivX: h = H::DIV_X; break;
        case Op::kModX: h = H::MOD_X; break;
        case Op::kAndX: h = H::AND_X; break;
        case Op::kOrX: h = H::OR_X; break;
        case Op::kXorX: h = H::XOR_X; break;
        case Op::kLshX: h = linux ? H::LSH_X_L : H::LSH_X_B; break;
        case Op::kRshX: h = linux ? H::RSH_X_L : H::RSH_X_B; break;
        case Op::kNeg: h = H::NEG; break;
        case Op::kJa: h = H::JA; break;
        case Op::kJeqK: h = H::JEQ_K; break;
        case Op::kJgtK: h = H::JGT_K; break;
        case Op::kJgeK: h = H::JGE_K; break;
        case Op::kJsetK: h = H::JSET_K; break;
        case Op::kJeqX: h = H::JEQ_X; break;
        case Op::kJgtX: h = H::JGT_X; break;
        case Op::kJgeX: h = H::JGE_X; break;
        case Op::kJsetX: h = H::JSET_X; break;
        case Op::kRetK: h = H::RET_K; break;
        case Op::kRetA: h = H::RET_A; break;
        case Op::kRetX: h = H::RET_X; break;
        case Op::kTax: h = H::TAX; break;
        case Op::kTxa: h = H::TXA; break;
      }
      kind[i] = h;
      if (info(d.op).has(eff::kJump)) {
        if (d.jt < n) s.jt = &slots_[d.jt];
        if (d.jf < n) s.jf = &slots_[d.jf];
        if (d.op == Op::kJa) s.jf = s.jt;
      }
    }
    // Propagate to successors what this block really guaranteed: if the facts announced bytes
    // but no load of the block could carry the check (facts and engine disagreeing on which
    // loads count), only what held on entry.
    const uint32_t out_bytes = check_placed ? ensured : have;
    for (uint32_t succ : bb.succ) {
      if (succ == kNoBlock || succ >= nb) continue;
      in_bytes[succ] = in_bytes[succ] == kUnset ? out_bytes : std::min(in_bytes[succ], out_bytes);
      in_written[succ] = reached[succ] ? uint16_t(in_written[succ] & written) : written;
      reached[succ] = true;
    }
  }
  // Fuse "load; conditional jump with k" pairs (the jump's own slot stays for other entries).
  for (size_t i = 0; i + 1 < n; ++i) {
    const Op next = dec[i + 1].op;
    const int cmp = next == Op::kJeqK ? 0 : next == Op::kJgtK ? 1 : next == Op::kJgeK ? 2
                  : next == Op::kJsetK ? 3 : -1;
    // `ld [k]; and #m; jxx #v` (address and flag tests): three instructions in one slot.
    if (cmp < 0 && i + 2 < n && dec[i + 1].op == Op::kAndK) {
      const Op j = dec[i + 2].op;
      const int c3 = j == Op::kJeqK ? 0 : j == Op::kJgtK ? 1 : j == Op::kJgeK ? 2
                   : j == Op::kJsetK ? 3 : -1;
      int base3 = -1;
      switch (kind[i]) {
        case H::LD_W_CHK: case H::LD_W: base3 = int(H::FM_W_JEQ); break;
        case H::LD_H_CHK: case H::LD_H: base3 = int(H::FM_H_JEQ); break;
        case H::LD_B_CHK: case H::LD_B: base3 = int(H::FM_B_JEQ); break;
        default: break;
      }
      if (c3 >= 0 && base3 >= 0) {
        if (kind[i] == H::LD_W || kind[i] == H::LD_H || kind[i] == H::LD_B) slots_[i].n = 0;
        kind[i] = H(base3 + c3);
        slots_[i].mask = dec[i + 1].k;
        slots_[i].k2 = dec[i + 2].k;
        slots_[i].jt = slots_[i + 2].jt;
        slots_[i].jf = slots_[i + 2].jf;
        ++fused_;
      }
      continue;
    }
    if (cmp < 0) continue;
    int base = -1;  // index of the first fused handler of the family
    switch (kind[i]) {
      case H::LD_W_CHK: case H::LD_W: base = int(H::FA_W_JEQ); break;
      case H::LD_H_CHK: case H::LD_H: base = int(H::FA_H_JEQ); break;
      case H::LD_B_CHK: case H::LD_B: base = int(H::FA_B_JEQ); break;
      case H::LDI_W_L: base = int(H::FI_W_L_JEQ); break;
      case H::LDI_H_L: base = int(H::FI_H_L_JEQ); break;
      case H::LDI_B_L: base = int(H::FI_B_L_JEQ); break;
      case H::LDI_W_B: base = int(H::FI_W_B_JEQ); break;
      case H::LDI_H_B: base = int(H::FI_H_B_JEQ); break;
      case H::LDI_B_B: base = int(H::FI_B_B_JEQ); break;
      default: break;
    }
    if (base < 0) continue;
    if (kind[i] == H::LD_W || kind[i] == H::LD_H || kind[i] == H::LD_B) slots_[i].n = 0;
    kind[i] = H(base + cmp);
    slots_[i].k2 = dec[i + 1].k;
    slots_[i].jt = slots_[i + 1].jt;
    slots_[i].jf = slots_[i + 1].jf;
    ++fused_;
  }
  // A non-jump slot falls through to the next slot; the sentinel (index n) is `ret #0`.
  slots_[n].k = 0;
  for (size_t i = 0; i <= n; ++i) {
    slots_[i].handler = table[static_cast<size_t>(kind[i])];
    slots_[i].handler1 = table1[static_cast<size_t>(kind[i])];
  }
  // The slow path copies M[]: give it defined contents whenever a _CHKS slot exists.
  const bool has_slow = std::find_if(kind.begin(), kind.end(), [](H h) {
                          return h == H::LD_W_CHKS || h == H::LD_H_CHKS || h == H::LD_B_CHKS ||
                                 h == H::MSH_CHKS;
                        }) != kind.end();
  zero_mem_ = uninit_read || has_slow;
}

uint32_t Interpreter::run(const uint8_t* pkt, uint32_t caplen, uint32_t wirelen,
                          const Context& ctx) const {
  return run_thunk(this, pkt, caplen, wirelen, ctx);
}

void Interpreter::run_batch(std::span<const PacketRef> pkts, uint32_t* out,
                            const Context& ctx) const {
  if (!pkts.empty()) exec(this, pkts.data(), pkts.size(), out, ctx, nullptr);
}

__attribute__((noinline)) uint32_t Interpreter::resume(const Interpreter* self, const Slot* at,
                                                       uint32_t a, uint32_t x,
                                                       const uint32_t* mem, const PacketRef& p,
                                                       const Context& ctx) {
  MachineState st;
  st.a = a;
  st.x = x;
  std::copy(mem, mem + kMemWords, st.mem.begin());
  return evaluate(self->insns_, self->target_, p.data, p.caplen, p.wirelen, ctx, st,
                  size_t(at - self->slots_.data()));
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wpedantic"

void Interpreter::exec(const Interpreter* self, const PacketRef* pkts, size_t n, uint32_t* out,
                       const Context& ctx, const void* const** table_out) {
  static const void* const kTable[] = {
#define BPF_H_LABEL(name) &&h_##name,
      BPF_HANDLERS(BPF_H_LABEL)
#undef BPF_H_LABEL
  };
  if (table_out) {
    *table_out = kTable;
    return;
  }

  const Slot* const code = self->slots_.data();
  const bool zero_mem = self->zero_mem_;
  const Target target = self->target_;
  const Slot* pc;
  const uint8_t* pkt;
  uint32_t caplen, wirelen;
  uint32_t A, X, ret;
  uint32_t mem[kMemWords];
  size_t i = 0;

#define NEXT() do { ++pc; goto *pc->handler; } while (0)
#define RETURN(v) do { ret = (v); goto done; } while (0)
#define JUMP(cond) do { pc = (cond) ? pc->jt : pc->jf; goto *pc->handler; } while (0)
#define OUTCOME_A(expr) do { Outcome o_ = (expr); if (!o_.cont) RETURN(o_.value); A = o_.value; NEXT(); } while (0)

start:
  pkt = pkts[i].data;
  caplen = pkts[i].caplen;
  wirelen = pkts[i].wirelen;
  A = 0;
  X = 0;
  if (zero_mem) std::memset(mem, 0, sizeof mem);
  pc = code;
  goto *pc->handler;

done:
  out[i] = ret;
  if (++i < n) goto start;
  return;

#define BPF_HANDLER_FIELD handler
#include "vm/interpreter_handlers.inc"
#undef BPF_HANDLER_FIELD

slow:
  RETURN(resume(self, pc, A, X, mem, pkts[i], ctx));

#undef NEXT
#undef RETURN
#undef JUMP
#undef OUTCOME_A
}


// The single-packet entry: the same handlers as exec(), without the batch loop, reached by one
// indirect call from jit::Filter::run. Called with self == nullptr (construction only), it
// stores its handler table through `pkt`.
uint32_t Interpreter::run_thunk(const void* self_v, const uint8_t* pkt, uint32_t caplen,
                                uint32_t wirelen, const Context& ctx) {
  static const void* const kTable[] = {
#define BPF_H_LABEL(name) &&h_##name,
      BPF_HANDLERS(BPF_H_LABEL)
#undef BPF_H_LABEL
  };
  if (__builtin_expect(self_v == nullptr, 0)) {
    *reinterpret_cast<const void* const**>(const_cast<uint8_t*>(pkt)) = kTable;
    return 0;
  }
  const Interpreter* self = static_cast<const Interpreter*>(self_v);
  const Slot* const code = self->slots_.data();
  const Target target = self->target_;
  const Slot* pc = code;
  uint32_t A = 0, X = 0;
  uint32_t mem[kMemWords];
  if (self->zero_mem_) std::memset(mem, 0, sizeof mem);

#define NEXT() do { ++pc; goto *pc->handler1; } while (0)
#define RETURN(v) return (v)
#define JUMP(cond) do { pc = (cond) ? pc->jt : pc->jf; goto *pc->handler1; } while (0)
#define OUTCOME_A(expr) do { Outcome o_ = (expr); if (!o_.cont) RETURN(o_.value); A = o_.value; NEXT(); } while (0)
  goto *pc->handler1;

#define BPF_HANDLER_FIELD handler1
#include "vm/interpreter_handlers.inc"
#undef BPF_HANDLER_FIELD

slow:
  return resume(self, pc, A, X, mem, PacketRef{pkt, caplen, wirelen}, ctx);
#undef NEXT
#undef RETURN
#undef JUMP
#undef OUTCOME_A
}

#pragma GCC diagnostic pop

}  // namespace bpf::vm
