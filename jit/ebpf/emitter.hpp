// An eBPF instruction buffer with forward labels and long jumps.
//
// Jumps name a Label; finish() places them. eBPF jump offsets are 16-bit (off), so a program
// longer than 32,767 instructions may need longer ones: finish() starts with every jump short,
// widens the jumps whose offset does not fit (an unconditional one becomes `gotol` (BPF_JMP32 |
// BPF_JA, 32-bit imm, Linux 6.4); a conditional one becomes `if cond goto +1; goto +1;
// gotol L`), and repeats until nothing changes: jumps only widen, so it ends, after a few linear
// passes. Jumps go forward only (classic BPF has no loops; the kernel verifier rejects back
// edges anyway). Tested by tests/ebpf/ebpf_translate_test.cpp (long programs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "jit/ebpf/ebpf_insn.hpp"

namespace bpf::jit::ebpf {

struct Label {
  uint32_t id = 0xffffffffu;
  bool valid() const { return id != 0xffffffffu; }
};

class Emitter {
 public:
  Label new_label();
  void bind(Label l);
  bool bound(Label l) const { return label_item_[l.id] != kUnbound; }
  void emit(EbpfInsn insn) { items_.push_back({insn, kNoTarget, false}); }
  // A jump (BPF_JA or a conditional BPF_JMP/BPF_JMP32 instruction; its off is set later).
  void jump(EbpfInsn insn, Label target) {
    items_.push_back({insn, target.id, false});
    label_used_[target.id] = true;
  }
  bool used(Label l) const { return label_used_[l.id]; }  // some jump goes there
  void ja(Label target) { jump(make(op::kJmp | op::kJa, 0, 0, 0, 0), target); }
  size_t size() const { return items_.size(); }
  // The instructions with every jump placed. Every label used must be bound.
  std::vector<EbpfInsn> finish();

 private:
  static constexpr uint32_t kNoTarget = 0xffffffffu, kUnbound = 0xffffffffu;
  struct Item {
    EbpfInsn insn;
    uint32_t target;  // label id, or kNoTarget
    bool wide;
  };
  std::vector<Item> items_;
  std::vector<uint32_t> label_item_;  // label id -> index of the item it precedes
  std::vector<bool> label_used_;
};

}  // namespace bpf::jit::ebpf
