// The verifier (see verifier.hpp for the rule sets and ../vm/program.hpp for what the facts
// guarantee). Structure:
//   1. per-instruction checks, in bpf_check_classic()'s order (Linux) or bpf_validate()'s (BSD);
//   2. the last instruction must be a return;
//   3. scratch memory: Linux replays check_load_and_stores() exactly, including its quirk that a
//      `ret` does not end the flow of "written" slots into the next instruction; BSD only warns;
//   4. Linux only, when 1-3 passed: the bpf_convert_filter() jump-offset limit
//      (kernel_conversion.hpp); it and the length limit only for Destination::kKernel;
//   5. facts (CFG, blocks, dominators, liveness, constants) and warnings, then the passkey.
// Every error is collected; the kernel stops at the first, which gives the same verdict.
// Tested by tests/verifier/verifier_test.cpp, bsd_regression_test.cpp, kernel_diff_test.cpp.
#include "verifier/verifier.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "verifier/kernel_conversion.hpp"
#include "vm/ancillary.hpp"
#include "vm/disasm_line.hpp"
#include "vm/semantics.hpp"

namespace bpf::verifier::detail {

// The only holder of VerifiedProgram's passkey.
struct Mint {
  static vm::VerifiedProgram make(vm::Target target, std::vector<vm::Insn> insns,
                                  std::vector<vm::DecodedInsn> decoded,
                                  std::vector<vm::BasicBlock> blocks,
                                  std::vector<uint32_t> block_of,
                                  std::vector<uint32_t> check_before, vm::ProgramFacts facts) {
    return vm::VerifiedProgram(vm::VerifiedProgram::Key{}, target, std::move(insns),
                               std::move(decoded), std::move(blocks), std::move(block_of),
                               std::move(check_before), facts);
  }
};

}  // namespace bpf::verifier::detail

namespace bpf::verifier {

namespace {

using vm::Insn;
using vm::Op;
using vm::Target;

constexpr uint32_t kLinuxMaxInsns = 4096;  // include/uapi/linux/bpf_common.h BPF_MAXINSNS
constexpr uint32_t kBsdMaxInsns = 512;     // FreeBSD sys/net/bpf.h BPF_MAXINSNS (bpf_setf)

// FreeBSD sys/net/bpf_filter.c bpf_code_map: one bit per allowed code, 16 codes per word.
constexpr std::array<uint16_t, 16> kFreeBsdCodeMap = {
    0x10ff, 0x3070, 0x3131, 0x3031, 0x3131, 0x1011, 0x1013, 0x1010,
    0x0093, 0x1010, 0x1010, 0x0002, 0x0000, 0x0000, 0x0000, 0x0000};

constexpr bool freebsd_code_allowed(uint16_t c) {
  return c <= 0xff && (kFreeBsdCodeMap[c >> 4] & (1u << (c & 0xf))) != 0;
}

// Linux chk_code_allowed(): the table's rows minus the BSD-only ones.
std::optional<Op> linux_decode(uint16_t c) {
  std::optional<Op> op = vm::decode(c);
  if (op && vm::info(*op).has(vm::eff::kBsdOnly)) return std::nullopt;
  return op;
}

std::optional<Op> bsd_decode(uint16_t c) {
  if (!freebsd_code_allowed(c)) return std::nullopt;
  return vm::decode(c);
}

bool is_cond_jump(Op op) {
  return vm::info(op).has(vm::eff::kJump) && op != Op::kJa;
}
bool is_abs_load(Op op) { return op == Op::kLdW || op == Op::kLdH || op == Op::kLdB; }

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

std::string explain_unknown(uint16_t c, Target t) {
  std::string s = "unknown or disallowed opcode " + hex(c);
  if (c > 0xff) return s + " (codes are 8 bits wide; the high byte must be 0)";
  if (vm::code::cls(c) == vm::code::kRet && vm::code::rval(c) == vm::code::kX)
    return s + " (`ret x`, BPF_RET|BPF_X, is accepted neither by Linux chk_code_allowed() nor "
               "by FreeBSD bpf_validate())";
  if (auto op = vm::decode(c)) {
    (void)op;
    return s + (t == Target::kBsd ? " (not in FreeBSD's bpf_code_map)"
                                  : " (not in Linux chk_code_allowed())");
  }
  // Name the nearest valid encoding of the same class when unused bits are set.
  for (const vm::OpInfo& oi : vm::kOpTable) {
    if (vm::code::cls(oi.code) != vm::code::cls(c)) continue;
    if ((c & oi.code) == oi.code && (c & ~oi.code) != 0 && vm::code::op(c) == vm::code::op(oi.code)) {
      return s + " (looks like `" + std::string(oi.mnemonic) + "` (" + hex(oi.code) +
             ") with unused bits " + hex(c & ~oi.code) + " set)";
    }
  }
  return s + (t == Target::kBsd ? " (not in FreeBSD's bpf_code_map)"
                                : " (not in Linux chk_code_allowed())");
}

class Checker {
 public:
  Checker(const vm::Program& prog, const Options& opts)
      : prog_(prog), opts_(opts), n_(static_cast<uint32_t>(prog.insns.size())) {}

  Result<vm::VerifiedProgram> run();
  Diagnostics kernel_limits();

 private:
  const Insn& insn(uint32_t i) const { return prog_.insns[i]; }
  std::string where(uint32_t i) const {
    return "insn " + std::to_string(i) + " `" + vm::disasm_line(insn(i), i) + "`: ";
  }
  void error(uint32_t i, const std::string& reason) {
    diags_.error(where(i) + reason, prog_.loc(i), i);
  }
  void warning(uint32_t i, const std::string& reason) {
    diags_.warning(where(i) + reason, prog_.loc(i), i);
  }
  bool is_linux() const { return opts_.target == Target::kLinux; }

  void check_length();
  void check_instructions();
  void check_last();
  void check_scratch_linux();
  void check_conversion();
  std::vector<uint32_t> real_succ(uint32_t i) const;
  std::string format_path(const std::vector<uint32_t>& path, bool kernel_graph) const;
  vm::VerifiedProgram build();

  const vm::Program& prog_;
  Options opts_;
  uint32_t n_;
  Diagnostics diags_;
  std::vector<std::optional<Op>> ops_;
  bool jumps_ok_ = true;
};

void Checker::check_instructions() {
  ops_.resize(n_);
  for (uint32_t i = 0; i < n_; ++i) {
    const Insn& in = insn(i);
    ops_[i] = is_linux() ? linux_decode(in.code) : bsd_decode(in.code);
    if (!ops_[i]) {
      error(i, explain_unknown(in.code, opts_.target));
      continue;
    }
    const Op op = *ops_[i];
    switch (op) {
      case Op::kDivK:
      case Op::kModK:
        if (in.k == 0)
          error(i, std::string(op == Op::kDivK ? "division" : "modulo") + " by constant 0");
        break;
      case Op::kLshK:
      case Op::kRshK:
        if (is_linux() && in.k >= 32)
          error(i, "shift by constant " + std::to_string(in.k) +
                       " >= 32 (Linux bpf_check_classic() rejects it)");
        break;
      case Op::kLdMem:
      case Op::kLdxMem:
      case Op::kSt:
      case Op::kStx:
        if (in.k >= vm::kMemWords)
          error(i, "scratch slot M[" + std::to_string(in.k) +
                       "] out of range (M[0]..M[15], BPF_MEMWORDS = 16)");
        break;
      case Op::kJa:
        // Linux: k >= flen - pc - 1 (unsigned); FreeBSD: the same comparison.
        if (in.k >= n_ - i - 1) {
          jumps_ok_ = false;
          error(i, "jump target " + std::to_string(uint64_t(i) + 1 + in.k) +
                       " is past the last instruction (" + std::to_string(n_ - 1) + ")");
        }
        break;
      case Op::kJeqK: case Op::kJeqX: case Op::kJgtK: case Op::kJgtX:
      case Op::kJgeK: case Op::kJgeX: case Op::kJsetK: case Op::kJsetX: {
        const uint64_t t = uint64_t(i) + 1 + in.jt, f = uint64_t(i) + 1 + in.jf;
        if (t >= n_) {
          jumps_ok_ = false;
          error(i, "true target " + std::to_string(t) + " is past the last instruction (" +
                       std::to_string(n_ - 1) + ")");
        }
        if (f >= n_) {
          jumps_ok_ = false;
          error(i, "false target " + std::to_string(f) + " is past the last instruction (" +
                       std::to_string(n_ - 1) + ")");
        }
        break;
      }
      case Op::kLdW:
      case Op::kLdH:
      case Op::kLdB:
        if (is_linux() && in.k >= vm::kSkfAdOff && !vm::ancillary_for(in.k))
          error(i, "unknown ancillary load SKF_AD_OFF+" + std::to_string(in.k - vm::kSkfAdOff) +
                       " (the kernel knows offsets 0..60 in steps of 4; see vm/ancillary.hpp)");
        break;
      case Op::kLdWInd: case Op::kLdHInd: case Op::kLdBInd: case Op::kLdLen: case Op::kLdImm:
      case Op::kLdxLen: case Op::kLdxMsh: case Op::kLdxImm: case Op::kAddK: case Op::kAddX:
      case Op::kSubK: case Op::kSubX: case Op::kMulK: case Op::kMulX: case Op::kDivX:
      case Op::kModX: case Op::kAndK: case Op::kAndX: case Op::kOrK: case Op::kOrX:
      case Op::kXorK: case Op::kXorX: case Op::kLshX: case Op::kRshX: case Op::kNeg:
      case Op::kRetK: case Op::kRetA: case Op::kRetX: case Op::kTax: case Op::kTxa:
        break;
    }
  }
}

void Checker::check_last() {
  const uint32_t last = n_ - 1;
  const uint16_t c = insn(last).code;
  const bool ok = is_linux() ? (c == (vm::code::kRet | vm::code::kK) ||
                             c == (vm::code::kRet | vm::code::kA))
                          : vm::code::cls(c) == vm::code::kRet;
  if (!ok)
    error(last, "the last instruction must be `ret #k` or `ret a`: execution could run off the "
                "end of the program");
}

// Successors in the real control-flow graph (valid only when jumps_ok_ and ops_ known).
std::vector<uint32_t> Checker::real_succ(uint32_t i) const {
  const Insn& in = insn(i);
  if (!ops_[i]) return {};
  const vm::OpInfo& oi = vm::info(*ops_[i]);
  if (oi.has(vm::eff::kRet)) return {};
  if (*ops_[i] == Op::kJa) return {i + 1 + in.k};
  if (oi.has(vm::eff::kJump)) return {i + 1 + in.jt, i + 1 + in.jf};
  if (i + 1 < n_) return {i + 1};
  return {};
}

std::string Checker::format_path(const std::vector<uint32_t>& path, bool kernel_graph) const {
  std::string s;
  const size_t m = path.size();
  for (size_t j = 0; j < m; ++j) {
    if (m > 24 && j == 10) {
      s += " -> ... (" + std::to_string(m - 20) + " more)";
      j = m - 10;
    }
    if (!s.empty()) s += " -> ";
    s += std::to_string(path[j]);
    if (kernel_graph && j + 1 < m && ops_[path[j]] &&
        vm::info(*ops_[path[j]]).has(vm::eff::kRet) && path[j + 1] == path[j] + 1)
      s += " (ret; the kernel's check_load_and_stores() still flows past it)";
  }
  return s;
}

// check_load_and_stores(), replayed exactly: memvalid flows linearly from each instruction into
// the next one unless the instruction is a jump (then the next starts from ~0), and a jump ANDs
// its memvalid into its targets' masks. A `ret` does not reset memvalid, so code after a `ret`
// sees the slots written before it, and nothing else from the fall-through.
void Checker::check_scratch_linux() {
  std::vector<uint16_t> masks(n_, 0xffff);
  uint16_t memvalid = 0;
  auto is_jump = [&](uint32_t i) { return ops_[i] && vm::info(*ops_[i]).has(vm::eff::kJump); };
  std::vector<uint32_t> bad;  // reads of a slot not in memvalid
  for (uint32_t pc = 0; pc < n_; ++pc) {
    memvalid &= masks[pc];
    if (!ops_[pc]) continue;
    const Insn& in = insn(pc);
    const Op op = *ops_[pc];
    if ((op == Op::kSt || op == Op::kStx) && in.k < 16) {
      memvalid |= uint16_t(1u << in.k);
    } else if ((op == Op::kLdMem || op == Op::kLdxMem) && in.k < 16) {
      if (!(memvalid & (1u << in.k))) bad.push_back(pc);
    } else if (op == Op::kJa) {
      masks[pc + 1 + in.k] &= memvalid;
      memvalid = 0xffff;
    } else if (is_cond_jump(op)) {
      masks[pc + 1 + in.jt] &= memvalid;
      masks[pc + 1 + in.jf] &= memvalid;
      memvalid = 0xffff;
    }
  }
  if (bad.empty()) return;
  // Predecessors in the kernel's graph: the previous instruction unless it is a jump (a `ret`
  // counts as falling through), and every jump that targets the instruction.
  std::vector<std::vector<uint32_t>> jump_preds(n_);
  for (uint32_t p = 0; p < n_; ++p) {
    if (!is_jump(p)) continue;
    const Insn& pj = insn(p);
    if (*ops_[p] == Op::kJa) {
      jump_preds[p + 1 + pj.k].push_back(p);
    } else {
      jump_preds[p + 1 + pj.jt].push_back(p);
      if (pj.jf != pj.jt) jump_preds[p + 1 + pj.jf].push_back(p);
    }
  }
  std::vector<int64_t> next(n_);
  std::vector<uint32_t> seen(n_, 0);  // generation stamp per search
  uint32_t gen = 0;
  // Each witness is a search over the whole program: the first kWitnessBudget reads get one,
  // the rest only the error, so a long program full of bad reads stays linear.
  constexpr uint32_t kWitnessBudget = 32;
  for (uint32_t pc : bad) {
    const uint32_t slot = insn(pc).k;
    if (gen == kWitnessBudget) {
      error(pc, "reads M[" + std::to_string(slot) + "] before it is written on some path");
      continue;
    }
    ++gen;
    // Witness: a path from 0 to pc in the kernel's graph that never writes M[slot] (one exists
    // because memvalid at pc lacks the slot). Breadth-first backwards from pc.
    auto writes = [&](uint32_t i) {
      return ops_[i] && (*ops_[i] == Op::kSt || *ops_[i] == Op::kStx) && insn(i).k == slot;
    };
    std::deque<uint32_t> q{pc};
    seen[pc] = gen;
    next[pc] = -1;
    bool found = pc == 0;
    while (!found && !q.empty()) {
      const uint32_t j = q.front();
      q.pop_front();
      auto visit = [&](uint32_t p) {
        if (found || seen[p] == gen || writes(p)) return;
        seen[p] = gen;
        next[p] = j;
        if (p == 0) found = true;
        q.push_back(p);
      };
      if (j > 0 && !is_jump(j - 1)) visit(j - 1);
      for (uint32_t p : jump_preds[j]) visit(p);
    }
    std::string why = "reads M[" + std::to_string(slot) + "] before it is written on some path";
    if (found) {
      std::vector<uint32_t> path;
      for (int64_t v = 0; v != -1; v = next[v]) path.push_back(static_cast<uint32_t>(v));
      why += ": " + format_path(path, true);
    }
    error(pc, why);
  }
}

void Checker::check_conversion() {
  KernelConversion conv = model_kernel_conversion(prog_.insns);
  for (const ConversionJumpError& e : conv.errors) {
    if (e.first_pass) {
      error(e.insn, "the kernel cannot convert this jump to eBPF: it lands at eBPF instruction " +
                        std::to_string(conv.addrs[e.insn]) +
                        " and bpf_convert_filter()'s first pass computes offset " +
                        std::to_string(e.offset) + ", below -32768 (jumps must sit within the " +
                        "first 32768 converted instructions)");
    } else {
      error(e.insn, "the kernel cannot convert this jump to eBPF: the jump to insn " +
                        std::to_string(e.target) + " spans " + std::to_string(e.offset) +
                        " eBPF instructions, more than 32767 (bpf_convert_filter())");
    }
  }
  // bpf_prog_size(len) is charged against net.core.optmem_max (default 131072 on 6.x).
  const uint64_t approx = uint64_t(conv.ebpf_len) * 8;
  if (approx > 131072 - 1024)
    diags_.warning("the kernel converts this program to " + std::to_string(conv.ebpf_len) +
                   " eBPF instructions (about " + std::to_string(approx) +
                   " bytes): SO_ATTACH_FILTER fails with ENOMEM unless net.core.optmem_max is "
                   "larger than that");
}

void Checker::check_length() {
  if (n_ > max_insns(opts_.target))
    diags_.error("program has " + std::to_string(n_) + " instructions; " +
                 (is_linux() ? "Linux accepts at most 4096 (BPF_MAXINSNS)"
                             : "BSD accepts at most 512 (BPF_MAXINSNS in bpf_setf())"));
}

Result<vm::VerifiedProgram> Checker::run() {
  const bool kernel = opts_.destination == Destination::kKernel;
  if (n_ == 0) {
    diags_.error(is_linux() ? "empty program: Linux requires 1 to 4096 instructions"
                         : "empty program: BSD bpf_setf() treats it as 'no filter' (accept all); "
                           "write `ret #-1` to say that explicitly");
    return Result<vm::VerifiedProgram>(std::move(diags_));
  }
  if (kernel) check_length();
  check_instructions();
  check_last();
  if (is_linux()) {
    if (jumps_ok_)
      check_scratch_linux();
    else
      diags_.note("scratch memory (M[]) initialisation not checked: some jump targets are "
                  "outside the program");
  }
  if (diags_.has_errors()) return Result<vm::VerifiedProgram>(std::move(diags_));
  if (is_linux() && kernel) {
    check_conversion();
    if (diags_.has_errors()) return Result<vm::VerifiedProgram>(std::move(diags_));
  }
  vm::VerifiedProgram vp = build();
  return Result<vm::VerifiedProgram>(std::move(vp), std::move(diags_));
}

// The kernel's limits alone (kernel_limits()): the length, then (Linux, a length the kernel
// takes) the conversion; run() has checked the rest, so jump targets are inside the program.
Diagnostics Checker::kernel_limits() {
  check_length();
  if (n_ > 0 && !diags_.has_errors() && is_linux()) check_conversion();
  return std::move(diags_);
}

// Abstract value of a register for the constant-condition warnings.
struct Val {
  enum Kind : uint8_t { kUndef, kConst, kUnknown } kind = kUndef;
  uint32_t c = 0;
  static Val constant(uint32_t v) { return {kConst, v}; }
  static Val unknown() { return {kUnknown, 0}; }
  Val meet(Val o) const {
    if (kind == kUndef) return o;
    if (o.kind == kUndef) return *this;
    if (kind == kConst && o.kind == kConst && c == o.c) return *this;
    return unknown();
  }
};

vm::VerifiedProgram Checker::build() {
  const Target t = opts_.target;
  // ---- reachability (edges only go forward, so index order is a topological order)
  std::vector<char> reach(n_, 0);
  reach[0] = 1;
  for (uint32_t i = 0; i < n_; ++i)
    if (reach[i])
      for (uint32_t s : real_succ(i)) reach[s] = 1;

  // ---- decoded instructions and basic blocks
  std::vector<char> leader(n_, 0);
  leader[0] = 1;
  for (uint32_t i = 0; i < n_; ++i) {
    const vm::OpInfo& oi = vm::info(*ops_[i]);
    if (oi.has(vm::eff::kJump) || oi.has(vm::eff::kRet)) {
      if (i + 1 < n_) leader[i + 1] = 1;
      for (uint32_t s : real_succ(i)) leader[s] = 1;
    }
  }
  std::vector<vm::BasicBlock> blocks;
  std::vector<uint32_t> block_of(n_);
  for (uint32_t i = 0; i < n_; ++i) {
    if (leader[i]) {
      vm::BasicBlock b;
      b.first = i;
      blocks.push_back(b);
    }
    blocks.back().last = i;
    block_of[i] = static_cast<uint32_t>(blocks.size() - 1);
  }
  std::vector<vm::DecodedInsn> decoded(n_);
  for (uint32_t i = 0; i < n_; ++i) {
    const Insn& in = insn(i);
    vm::DecodedInsn& d = decoded[i];
    d.op = *ops_[i];
    d.code = in.code;
    d.k = in.k;
    d.block_end = blocks[block_of[i]].last == i ? 1 : 0;
    if (d.op == Op::kJa) {
      d.jt = d.jf = i + 1 + in.k;
    } else if (is_cond_jump(d.op)) {
      d.jt = i + 1 + in.jt;
      d.jf = i + 1 + in.jf;
    } else {
      d.jt = d.jf = i + 1;
    }
  }
  const uint32_t nb = static_cast<uint32_t>(blocks.size());
  std::vector<std::vector<uint32_t>> preds(nb);
  for (uint32_t b = 0; b < nb; ++b) {
    vm::BasicBlock& bb = blocks[b];
    std::vector<uint32_t> s = real_succ(bb.last);
    for (size_t j = 0; j < s.size() && j < 2; ++j) bb.succ[j] = block_of[s[j]];
    for (uint32_t sb : bb.succ)
      if (sb != vm::kNoBlock && (preds[sb].empty() || preds[sb].back() != b)) preds[sb].push_back(b);
  }

  // ---- facts
  vm::ProgramFacts facts;
  for (uint32_t i = 0; i < n_; ++i) {
    const Insn& in = insn(i);
    const Op op = *ops_[i];
    const vm::OpInfo& oi = vm::info(op);
    if (oi.has(vm::eff::kReadMem)) facts.scratch_read |= uint16_t(1u << in.k);
    if (oi.has(vm::eff::kWriteMem)) facts.scratch_written |= uint16_t(1u << in.k);
    if (op == Op::kLdWInd || op == Op::kLdHInd || op == Op::kLdBInd) facts.uses_ind = true;
    if (op == Op::kDivX || op == Op::kModX) facts.uses_div_x = true;
    if (t == Target::kLinux && (is_abs_load(op) || op == Op::kLdxMsh)) {
      if (is_abs_load(op) && vm::ancillary_for(in.k)) facts.uses_ancillary = true;
      if (in.k >= vm::kSkfLlOff && in.k < vm::kSkfAdOff) facts.uses_negative_offsets = true;
    }
    if ((is_abs_load(op) && !(t == Target::kLinux && in.k >= vm::kSkfAdOff)) ||
        op == Op::kLdxMsh) {
      if (vm::counted_load(t, in.k, oi.load_size)) {
        vm::BasicBlock& bb = blocks[block_of[i]];
        bb.pkt_bytes = std::max<uint32_t>(bb.pkt_bytes, in.k + oi.load_size);
      }
    }
  }
  for (const vm::BasicBlock& bb : blocks) facts.max_pkt_bytes = std::max(facts.max_pkt_bytes, bb.pkt_bytes);

  // Dominators over reachable blocks: block index order is topological, so a block's immediate
  // dominator is the nearest common ancestor, in the dominator tree built so far, of its
  // reachable predecessors (Cooper-Harvey-Kennedy's intersect). Walking idom chains one step at
  // a time is quadratic on a chain of `jeq #k, accept, next` (every block is a predecessor of
  // `accept`, each walk goes back to the root), so each tree node also keeps a jump pointer
  // (skew-binary ancestor links): an ancestor query is O(log n) and the whole pass n log n.
  std::vector<uint32_t> idom(nb, vm::kNoBlock), depth(nb, 0), jump(nb, 0);
  idom[0] = 0;
  auto nca = [&](uint32_t x, uint32_t y) {
    if (depth[x] < depth[y]) std::swap(x, y);
    while (depth[x] > depth[y]) x = depth[jump[x]] >= depth[y] ? jump[x] : idom[x];
    while (x != y) {
      if (jump[x] != jump[y]) {
        x = jump[x];
        y = jump[y];
      } else {
        x = idom[x];
        y = idom[y];
      }
    }
    return x;
  };
  for (uint32_t b = 1; b < nb; ++b) {
    uint32_t d = vm::kNoBlock;
    for (uint32_t p : preds[b]) {
      if (idom[p] == vm::kNoBlock) continue;  // unreachable predecessor
      d = d == vm::kNoBlock ? p : nca(p, d);
    }
    idom[b] = d;
    if (d == vm::kNoBlock) continue;
    depth[b] = depth[d] + 1;
    const uint32_t j = jump[d];
    jump[b] = depth[d] - depth[j] == depth[j] - depth[jump[j]] ? jump[j] : d;
  }
  for (uint32_t b = 0; b < nb; ++b) {
    vm::BasicBlock& bb = blocks[b];
    bb.pkt_bytes_dominated = bb.pkt_bytes;
    if (b != 0 && idom[b] != vm::kNoBlock)
      bb.pkt_bytes_dominated =
          std::max(bb.pkt_bytes, blocks[idom[b]].pkt_bytes_dominated);
  }

  // Where engines test the packet length (VerifiedProgram::check_before): forward must-analysis
  // of the bytes tested on every path into each block (blocks are in topological order).
  std::vector<uint32_t> check_before(n_, 0);
  {
    constexpr uint32_t kUnset = 0xffffffffu;
    std::vector<uint32_t> tested_in(nb, kUnset);
    tested_in[0] = 0;
    for (uint32_t b = 0; b < nb; ++b) {
      const vm::BasicBlock& bb = blocks[b];
      uint32_t have = tested_in[b] == kUnset ? 0 : tested_in[b];  // unset: unreachable
      bool quirk = false;
      for (uint32_t i = bb.first; i <= bb.last; ++i) quirk |= vm::may_exit_nonzero(t, decoded[i]);
      if (!quirk) {
        if (bb.pkt_bytes > have) check_before[bb.first] = bb.pkt_bytes;
      } else {
        for (uint32_t seg = bb.first; seg <= bb.last;) {
          uint32_t end = seg, need = 0;
          for (;; ++end) {
            const vm::DecodedInsn& d = decoded[end];
            const bool abs = is_abs_load(d.op) || d.op == Op::kLdxMsh;
            const uint32_t size = d.op == Op::kLdxMsh ? 1 : vm::info(d.op).load_size;
            if (abs && !(t == Target::kLinux && d.k >= vm::kSkfAdOff) &&
                vm::counted_load(t, d.k, size))
              need = std::max(need, d.k + size);
            if (end == bb.last || vm::may_exit_nonzero(t, d)) break;
          }
          if (need > have) {
            check_before[seg] = need;
            have = need;
          }
          seg = end + 1;
        }
      }
      const uint32_t out = std::max(have, bb.pkt_bytes);
      for (uint32_t sb : bb.succ)
        if (sb != vm::kNoBlock && sb > b) tested_in[sb] = std::min(tested_in[sb], out);
    }
  }

  // Scratch liveness (backward, reverse topological order).
  for (uint32_t b = nb; b-- > 0;) {
    vm::BasicBlock& bb = blocks[b];
    uint16_t live = 0;
    for (uint32_t s : bb.succ)
      if (s != vm::kNoBlock) live |= blocks[s].scratch_live_in;
    for (uint32_t i = bb.last + 1; i-- > bb.first;) {
      const vm::OpInfo& oi = vm::info(*ops_[i]);
      if (oi.has(vm::eff::kWriteMem)) live &= uint16_t(~(1u << insn(i).k));
      if (oi.has(vm::eff::kReadMem)) live |= uint16_t(1u << insn(i).k);
    }
    bb.scratch_live_in = live;
  }

  // Forward facts over reachable instructions: A/X possibly unwritten, M[] must-written, constants.
  struct State {
    bool reached = false;
    bool a_unwritten = true, x_unwritten = true;
    uint16_t written = 0xffff;  // must-written slots (meet = AND)
    Val a, x;
  };
  std::vector<State> st(n_);
  st[0].reached = true;
  st[0].written = 0;
  st[0].a = Val::constant(0);
  st[0].x = Val::constant(0);
  auto merge = [](State& into, const State& from) {
    if (!into.reached) {
      into = from;
      into.reached = true;
      return;
    }
    into.a_unwritten = into.a_unwritten || from.a_unwritten;
    into.x_unwritten = into.x_unwritten || from.x_unwritten;
    into.written &= from.written;
    into.a = into.a.meet(from.a);
    into.x = into.x.meet(from.x);
  };
  std::vector<std::pair<uint32_t, uint16_t>> uninit_reads;
  for (uint32_t i = 0; i < n_; ++i) {
    if (!st[i].reached) continue;
    State s = st[i];
    const Insn& in = insn(i);
    const Op op = *ops_[i];
    const vm::OpInfo& oi = vm::info(op);
    if (oi.has(vm::eff::kReadA) && s.a_unwritten) facts.reads_a_before_write = true;
    if (oi.has(vm::eff::kReadX) && s.x_unwritten) facts.reads_x_before_write = true;
    if (oi.has(vm::eff::kReadMem) && !(s.written & (1u << in.k))) {
      facts.scratch_uninit |= uint16_t(1u << in.k);
      uninit_reads.push_back({i, static_cast<uint16_t>(in.k)});
    }
    // Constant conditions.
    if (is_cond_jump(op)) {
      const Val operand = vm::code::src(in.code) == vm::code::kX ? s.x : Val::constant(in.k);
      if (in.jt == in.jf) {
        warning(i, "both branches go to insn " + std::to_string(i + 1 + in.jt) +
                       ": the condition has no effect");
      } else if (s.a.kind == Val::kConst && operand.kind == Val::kConst) {
        const bool taken = vm::jump_taken(op, s.a.c, operand.c);
        warning(i, std::string("condition is always ") + (taken ? "true" : "false") +
                       " (A = " + hex(s.a.c) + (vm::code::src(in.code) == vm::code::kX
                                                    ? ", X = " + hex(operand.c)
                                                    : std::string()) + ")");
      }
    }
    // Transfer.
    if (oi.has(vm::eff::kWriteA)) s.a_unwritten = false;
    if (oi.has(vm::eff::kWriteX)) s.x_unwritten = false;
    if (oi.has(vm::eff::kWriteMem)) s.written |= uint16_t(1u << in.k);
    switch (op) {
      case Op::kLdImm: s.a = Val::constant(in.k); break;
      case Op::kLdxImm: s.x = Val::constant(in.k); break;
      case Op::kTax: s.x = s.a; break;
      case Op::kTxa: s.a = s.x; break;
      case Op::kAddK: case Op::kSubK: case Op::kMulK: case Op::kDivK: case Op::kModK:
      case Op::kAndK: case Op::kOrK: case Op::kXorK: case Op::kLshK: case Op::kRshK:
      case Op::kNeg:
        if (s.a.kind == Val::kConst) {
          auto r = vm::alu(op, s.a.c, in.k, t);
          s.a = r ? Val::constant(*r) : Val::unknown();
        } else {
          s.a = Val::unknown();
        }
        break;
      case Op::kAddX: case Op::kSubX: case Op::kMulX: case Op::kDivX: case Op::kModX:
      case Op::kAndX: case Op::kOrX: case Op::kXorX: case Op::kLshX: case Op::kRshX:
        if (s.a.kind == Val::kConst && s.x.kind == Val::kConst) {
          auto r = vm::alu(op, s.a.c, s.x.c, t);
          s.a = r ? Val::constant(*r) : Val::unknown();
        } else {
          s.a = Val::unknown();
        }
        break;
      case Op::kLdW: case Op::kLdH: case Op::kLdB: case Op::kLdWInd: case Op::kLdHInd:
      case Op::kLdBInd: case Op::kLdLen: case Op::kLdMem:
        s.a = Val::unknown();
        break;
      case Op::kLdxLen: case Op::kLdxMsh: case Op::kLdxMem:
        s.x = Val::unknown();
        break;
      case Op::kSt: case Op::kStx: case Op::kJa: case Op::kJeqK: case Op::kJeqX:
      case Op::kJgtK: case Op::kJgtX: case Op::kJgeK: case Op::kJgeX: case Op::kJsetK:
      case Op::kJsetX: case Op::kRetK: case Op::kRetA: case Op::kRetX:
        break;
    }
    for (uint32_t succ : real_succ(i)) merge(st[succ], s);
  }

  // ---- warnings
  for (uint32_t i = 0; i < n_;) {
    if (reach[i]) {
      ++i;
      continue;
    }
    uint32_t j = i;
    while (j + 1 < n_ && !reach[j + 1]) ++j;
    if (j == i)
      warning(i, "unreachable instruction");
    else
      warning(i, "unreachable instructions " + std::to_string(i) + ".." + std::to_string(j));
    i = j + 1;
  }
  for (auto [i, slot] : uninit_reads)
    warning(i, "reads M[" + std::to_string(slot) +
                   "], which is not written on every path before it (BSD bpf_validate() does "
                   "not check this; the value is undefined there)");
  for (uint32_t i = 0; i < n_; ++i) {
    if (!reach[i]) continue;
    const Insn& in = insn(i);
    const Op op = *ops_[i];
    const uint32_t size = vm::info(op).load_size;
    if (is_abs_load(op) || op == Op::kLdxMsh) {
      const bool special = t == Target::kLinux && in.k >= 0x80000000u;
      if (special) {
        if (in.k < vm::kSkfLlOff)
          warning(i, "offset " + hex(in.k) + " is negative for the kernel and outside the "
                     "SKF_LL_OFF/SKF_NET_OFF ranges: the load always fails and the program "
                     "returns 0");
      } else if (uint64_t(in.k) + size > opts_.snaplen) {
        warning(i, "reads packet bytes " + std::to_string(in.k) + ".." +
                       std::to_string(uint64_t(in.k) + size - 1) + ", beyond the snap length " +
                       std::to_string(opts_.snaplen) + ": the load always fails (returns 0)");
      }
    }
    if (op == Op::kRetK && in.k > opts_.snaplen)
      warning(i, "returns " + std::to_string(in.k) + ", more than the snap length " +
                     std::to_string(opts_.snaplen));
  }

  return detail::Mint::make(t, prog_.insns, std::move(decoded), std::move(blocks),
                            std::move(block_of), std::move(check_before), facts);
}

}  // namespace

uint32_t max_insns(Target target) {
  return target == Target::kLinux ? kLinuxMaxInsns : kBsdMaxInsns;
}

namespace {
// Report in program order (program-wide messages first), errors before warnings per insn.
void sort_diagnostics(Diagnostics& d) {
  std::vector<Diagnostic>& items = d.items();
  std::stable_sort(items.begin(), items.end(), [](const Diagnostic& a, const Diagnostic& b) {
    const int64_t ia = a.insn_index ? int64_t(*a.insn_index) : -1;
    const int64_t ib = b.insn_index ? int64_t(*b.insn_index) : -1;
    if (ia != ib) return ia < ib;
    return a.severity < b.severity;
  });
}
}  // namespace

Result<vm::VerifiedProgram> verify(const vm::Program& prog, const Options& opts) {
  Checker c(prog, opts);
  Result<vm::VerifiedProgram> r = c.run();
  sort_diagnostics(r.diagnostics());
  return r;
}

Diagnostics kernel_limits(const vm::Program& prog, Target target) {
  Checker c(prog, Options{target, 262144, Destination::kKernel});
  Diagnostics d = c.kernel_limits();
  sort_diagnostics(d);
  return d;
}

std::string describe(const vm::VerifiedProgram& p) {
  std::string out;
  const vm::ProgramFacts& f = p.facts();
  auto mask = [](uint16_t m) {
    std::string s;
    for (int i = 0; i < 16; ++i)
      if (m & (1u << i)) s += (s.empty() ? "M[" : ",") + std::to_string(i);
    return s.empty() ? std::string("none") : s + "]";
  };
  out += "verified for " + std::string(p.target() == Target::kLinux ? "linux" : "bsd") + ": " +
         std::to_string(p.size()) + " instructions, " + std::to_string(p.blocks().size()) +
         " basic blocks\n";
  out += "  scratch read " + mask(f.scratch_read) + ", written " + mask(f.scratch_written) +
         ", possibly uninitialised " + mask(f.scratch_uninit) + "\n";
  out += std::string("  A read before written: ") + (f.reads_a_before_write ? "yes" : "no") +
         ", X read before written: " + (f.reads_x_before_write ? "yes" : "no") + "\n";
  out += "  packet bytes needed (max): " + std::to_string(f.max_pkt_bytes) +
         (f.uses_ind ? ", [x+k] loads" : "") + (f.uses_ancillary ? ", ancillary loads" : "") +
         (f.uses_negative_offsets ? ", negative offsets" : "") +
         (f.uses_div_x ? ", div/mod by x" : "") + "\n";
  for (size_t b = 0; b < p.blocks().size(); ++b) {
    const vm::BasicBlock& bb = p.blocks()[b];
    out += "  block " + std::to_string(b) + ": insns " + std::to_string(bb.first) + ".." +
           std::to_string(bb.last) + ", succ";
    bool any = false;
    for (uint32_t s : bb.succ)
      if (s != vm::kNoBlock) {
        out += " " + std::to_string(s);
        any = true;
      }
    if (!any) out += " none";
    out += ", pkt_bytes " + std::to_string(bb.pkt_bytes) + " (dominated " +
           std::to_string(bb.pkt_bytes_dominated) + "), live-in " + mask(bb.scratch_live_in) +
           "\n";
  }
  return out;
}

}  // namespace bpf::verifier
