// Random valid and invalid programs (see program_gen.hpp for the promises).
#include "tests/support/program_gen.hpp"

#include <algorithm>
#include <array>

#include "vm/ancillary.hpp"

namespace bpf::test {

namespace {

using vm::Insn;
namespace c = vm::code;

constexpr uint16_t kLdW = c::kLd | c::kW | c::kAbs, kLdH = c::kLd | c::kH | c::kAbs,
                   kLdB = c::kLd | c::kB | c::kAbs;
constexpr std::array<uint16_t, 3> kAbsCodes = {kLdW, kLdH, kLdB};
constexpr std::array<uint16_t, 3> kIndCodes = {c::kLd | c::kW | c::kInd, c::kLd | c::kH | c::kInd,
                                               c::kLd | c::kB | c::kInd};
constexpr std::array<uint16_t, 10> kAluOps = {c::kAdd, c::kSub, c::kMul, c::kDiv, c::kMod,
                                              c::kAnd, c::kOr,  c::kXor, c::kLsh, c::kRsh};
constexpr std::array<uint16_t, 4> kJmpOps = {c::kJeq, c::kJgt, c::kJge, c::kJset};

template <class T, size_t N>
T pick(Rng& rng, const std::array<T, N>& a) {
  return a[below(rng, N)];
}

class Generator {
 public:
  Generator(Rng& rng, const GenOptions& o) : rng_(rng), o_(o) {}

  std::vector<Insn> run() {
    uint32_t span = o_.max_len > o_.min_len ? o_.max_len - o_.min_len + 1 : 1;
    uint32_t n = std::max<uint32_t>(o_.min_len, o_.min_len + below(rng_, span));
    n = std::clamp<uint32_t>(n, 1, vm::kMaxInsns);
    out_.reserve(n);
    // Prologue: write the scratch slots that the body may read (every path passes here).
    if (n > 4 && chance(rng_, 60)) {
      uint32_t writes = 1 + below(rng_, std::min<uint32_t>(4, (n - 2) / 3 + 1));
      for (uint32_t i = 0; i < writes && out_.size() + 2 < n; ++i) {
        uint32_t slot = below(rng_, vm::kMemWords);
        if (chance(rng_, 50)) {
          out_.push_back(vm::stmt(c::kLd | c::kImm, constant()));
          out_.push_back(vm::stmt(c::kSt, slot));
        } else {
          out_.push_back(vm::stmt(c::kLdx | c::kImm, constant()));
          out_.push_back(vm::stmt(c::kStx, slot));
        }
        written_ |= uint16_t(1u << slot);
      }
    }
    while (out_.size() + 1 < n) body(n);
    out_.push_back(final_ret());
    return std::move(out_);
  }

 private:
  uint32_t constant() {
    switch (below(rng_, 8)) {
      case 0: return 0;
      case 1: return 1 + below(rng_, 4);
      case 2: return below(rng_, 64);
      case 3: return 0xffffffffu - below(rng_, 4);
      case 4: return 0x80000000u + below(rng_, 3) - 1;
      case 5: return below(rng_, 0x10000);
      case 6: return std::array<uint32_t, 8>{0x800, 0x86dd, 0x806, 6, 17, 22, 80, 0x8100}[below(rng_, 8)];
      default: return uint32_t(rng_());
    }
  }

  // Absolute packet offsets: header fields, both sides of the packet end, far away.
  uint32_t abs_offset() {
    uint32_t hint = o_.packet_hint;
    switch (below(rng_, 10)) {
      case 0: case 1: case 2: return below(rng_, 64);
      case 3: return std::array<uint32_t, 8>{12, 14, 20, 23, 26, 30, 34, 36}[below(rng_, 8)];
      case 4: case 5: return hint > 8 ? hint - 8 + below(rng_, 16) : below(rng_, 16);
      case 6: return below(rng_, 2 * hint + 2);
      case 7: {
        uint32_t k = 0xffffffffu - uint32_t(below(rng_, 8));
        // Linux rejects unknown SKF_AD_OFF + n: stay just below the ancillary range there.
        return o_.target == vm::Target::kLinux ? vm::kSkfAdOff - 1 - uint32_t(below(rng_, 8)) : k;
      }
      case 8: return 0x7ffffffcu + below(rng_, 8);
      default: return below(rng_, 1600);
    }
  }

  uint32_t jump_room(uint32_t n) const {  // max forward offset: target <= n - 1
    return n - 1 - uint32_t(out_.size()) - 1;
  }

  void body(uint32_t n) {
    const bool linux = o_.target == vm::Target::kLinux;
    uint32_t r = below(rng_, 100);
    if (r < 13) {  // ld [k]
      out_.push_back(vm::stmt(pick(rng_, kAbsCodes), abs_offset()));
    } else if (r < 19) {  // ld [x + k]
      if (chance(rng_, 30)) {  // set X first: small, near the end, or near 2^32 (wrap)
        uint32_t xv = chance(rng_, 50) ? below(rng_, 64) : (chance(rng_, 50) ? 0xffffffffu - below(rng_, 16) : constant());
        out_.push_back(vm::stmt(c::kLdx | c::kImm, xv));
        if (out_.size() + 1 >= n) return;
      }
      uint32_t k = chance(rng_, 70) ? below(rng_, 64) : abs_offset();
      out_.push_back(vm::stmt(pick(rng_, kIndCodes), k));
    } else if (r < 23) {  // ldxb 4*([k]&0xf)
      out_.push_back(vm::stmt(c::kLdx | c::kB | c::kMsh, chance(rng_, 70) ? 14 : abs_offset()));
    } else if (r < 29) {  // immediates and lengths
      switch (below(rng_, 4)) {
        case 0: out_.push_back(vm::stmt(c::kLd | c::kImm, constant())); break;
        case 1: out_.push_back(vm::stmt(c::kLdx | c::kImm, constant())); break;
        case 2: out_.push_back(vm::stmt(c::kLd | c::kW | c::kLen, 0)); break;
        default: out_.push_back(vm::stmt(c::kLdx | c::kW | c::kLen, 0)); break;
      }
    } else if (r < 36) {  // scratch memory
      uint32_t slot = below(rng_, vm::kMemWords);
      switch (below(rng_, 4)) {
        case 0: out_.push_back(vm::stmt(c::kSt, slot)); break;
        case 1: out_.push_back(vm::stmt(c::kStx, slot)); break;
        case 2: case 3: {
          if (written_ == 0) {
            out_.push_back(vm::stmt(c::kSt, slot));
            break;
          }
          uint32_t s;
          do s = below(rng_, vm::kMemWords); while (!(written_ & (1u << s)));
          out_.push_back(vm::stmt(chance(rng_, 50) ? (c::kLd | c::kMem) : (c::kLdx | c::kMem), s));
          break;
        }
      }
    } else if (r < 52) {  // ALU with k
      uint16_t op = pick(rng_, kAluOps);
      uint32_t k = constant();
      if (op == c::kDiv || op == c::kMod) k = k == 0 ? 1 + below(rng_, 7) : k;
      if (op == c::kLsh || op == c::kRsh) k = below(rng_, 32);
      out_.push_back(vm::stmt(c::kAlu | op | c::kK, k));
    } else if (r < 61) {  // ALU with x
      out_.push_back(vm::stmt(c::kAlu | pick(rng_, kAluOps) | c::kX, 0));
    } else if (r < 63) {
      out_.push_back(vm::stmt(c::kAlu | c::kNeg, 0));
    } else if (r < 67) {
      out_.push_back(vm::stmt(c::kMisc | (chance(rng_, 50) ? c::kTax : c::kTxa), 0));
    } else if (r < 82) {  // conditional jumps
      uint32_t room = jump_room(n);
      uint32_t lim = std::min<uint32_t>(room, 255) + 1;
      uint8_t jt = uint8_t(chance(rng_, 30) ? 0 : below(rng_, lim));
      uint8_t jf = uint8_t(chance(rng_, 30) ? 0 : below(rng_, lim));
      bool x = chance(rng_, 30);
      out_.push_back(vm::jump(c::kJmp | pick(rng_, kJmpOps) | (x ? c::kX : c::kK),
                              x ? 0 : constant(), jt, jf));
    } else if (r < 84) {  // ja
      uint32_t room = jump_room(n);
      out_.push_back(vm::stmt(c::kJmp | c::kJa, uint32_t(below(rng_, uint64_t{room} + 1))));
    } else if (r < 87) {  // ret in the middle
      out_.push_back(final_ret());
    } else if (r < 95 && linux && o_.ancillary && (o_.ancillary_mask & 0xffff)) {
      const vm::AncillaryInfo* anc;
      do anc = &vm::kAncillaryTable[below(rng_, vm::kAncillaryTable.size())];
      while (!(o_.ancillary_mask & (1u << static_cast<unsigned>(anc->id))));
      out_.push_back(vm::stmt(pick(rng_, kAbsCodes), anc->k()));
    } else if (linux && o_.negative_offsets) {
      uint32_t base = chance(rng_, 50) ? vm::kSkfNetOff : vm::kSkfLlOff;
      uint32_t off = chance(rng_, 80) ? below(rng_, 48) : abs_offset() & 0x7ffff;  // < SKF_AD_OFF
      if (chance(rng_, 80)) {
        out_.push_back(vm::stmt(pick(rng_, kAbsCodes), base + off));
      } else {
        out_.push_back(vm::stmt(c::kLdx | c::kB | c::kMsh, base + off));
      }
    } else {
      out_.push_back(vm::stmt(pick(rng_, kAbsCodes), abs_offset()));
    }
  }

  Insn final_ret() {
    uint32_t r = below(rng_, 10);
    if (o_.target == vm::Target::kBsd && o_.ret_x && r == 0) return vm::stmt(c::kRet | c::kX, 0);
    if (r < 5) return vm::stmt(c::kRet | c::kA, 0);
    return vm::stmt(c::kRet | c::kK, chance(rng_, 30) ? 0 : constant());
  }

  Rng& rng_;
  const GenOptions& o_;
  std::vector<Insn> out_;
  uint16_t written_ = 0;
};

uint16_t undefined_code(Rng& rng) {
  for (;;) {
    uint16_t code = uint16_t(below(rng, 0x10000));
    if (!vm::decode(code)) return code;
  }
}

}  // namespace

std::vector<vm::Insn> random_program(Rng& rng, const GenOptions& opts) {
  return Generator(rng, opts).run();
}

InvalidProgram mutate_invalid(Rng& rng, std::span<const vm::Insn> valid, vm::Target target) {
  std::vector<Insn> p(valid.begin(), valid.end());
  if (p.empty()) p.push_back(vm::stmt(c::kRet | c::kK, 0));
  const size_t n = p.size();
  size_t at = below(rng, n);
  const size_t near_end = std::max<size_t>(at, n > 256 ? n - 256 : 0);  // jt/jf can reach past n
  switch (below(rng, target == vm::Target::kLinux ? 11 : 10)) {
    case 0:
      p[at].code = undefined_code(rng);
      return {std::move(p), "undefined opcode at " + std::to_string(at)};
    case 1:
      p[near_end] = vm::jump(c::kJmp | c::kJeq | c::kK, 0, uint8_t(n - near_end - 1), 0);
      return {std::move(p), "jt out of range at " + std::to_string(near_end)};
    case 2:
      p[near_end] = vm::jump(c::kJmp | c::kJgt | c::kX, 0, 0, uint8_t(n - near_end - 1));
      return {std::move(p), "jf out of range at " + std::to_string(near_end)};
    case 3:
      p[at] = vm::stmt(c::kJmp | c::kJa, uint32_t(n - at - 1 + below(rng, 1000)));
      return {std::move(p), "ja out of range at " + std::to_string(at)};
    case 4:
      p.back() = vm::stmt(c::kLd | c::kImm, 1);
      return {std::move(p), "last instruction is not a return"};
    case 5:
      p[at] = vm::stmt(c::kAlu | (chance(rng, 50) ? c::kDiv : c::kMod) | c::kK, 0);
      return {std::move(p), "division by constant 0 at " + std::to_string(at)};
    case 6:
      p[at] = vm::stmt(c::kAlu | (chance(rng, 50) ? c::kLsh : c::kRsh) | c::kK,
                       32 + uint32_t(below(rng, 1000)));
      return {std::move(p), "constant shift >= 32 at " + std::to_string(at)};
    case 7: {
      static constexpr std::array<uint16_t, 4> kMem = {c::kLd | c::kMem, c::kLdx | c::kMem, c::kSt,
                                                       c::kStx};
      p[at] = vm::stmt(pick(rng, kMem), vm::kMemWords + uint32_t(below(rng, 100)));
      return {std::move(p), "scratch slot out of range at " + std::to_string(at)};
    }
    case 8:
      return {{}, "empty program"};
    case 9: {
      std::vector<Insn> big(vm::kMaxInsns + 1 + below(rng, 10), vm::stmt(c::kLd | c::kImm, 0));
      big.back() = vm::stmt(c::kRet | c::kA, 0);
      return {std::move(big), "too many instructions"};
    }
    default: {  // Linux only: a scratch read before any write (bpf_check_classic rejects it)
      std::vector<Insn> q;
      q.push_back(vm::stmt(c::kLdx | c::kMem, uint32_t(below(rng, vm::kMemWords))));
      q.push_back(vm::stmt(c::kRet | c::kK, 0));
      return {std::move(q), "scratch read before write"};
    }
  }
}

}  // namespace bpf::test
