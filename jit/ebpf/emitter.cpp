// Label placement and jump widening for jit/ebpf (see emitter.hpp for what it promises).
#include "jit/ebpf/emitter.hpp"

#include <limits>

namespace bpf::jit::ebpf {

Label Emitter::new_label() {
  label_item_.push_back(kUnbound);
  label_used_.push_back(false);
  return Label{static_cast<uint32_t>(label_item_.size() - 1)};
}

void Emitter::bind(Label l) { label_item_[l.id] = static_cast<uint32_t>(items_.size()); }

namespace {
bool is_ja(const EbpfInsn& i) { return i.code == (op::kJmp | op::kJa); }
uint32_t width(bool wide, const EbpfInsn& i) { return !wide ? 1 : is_ja(i) ? 1 : 3; }
}  // namespace

std::vector<EbpfInsn> Emitter::finish() {
  // pos[i]: position of item i; pos[n]: the end (labels bound after the last item).
  std::vector<int64_t> pos(items_.size() + 1);
  for (bool changed = true; changed;) {
    changed = false;
    int64_t p = 0;
    for (size_t i = 0; i < items_.size(); ++i) {
      pos[i] = p;
      p += width(items_[i].wide, items_[i].insn);
    }
    pos[items_.size()] = p;
    for (size_t i = 0; i < items_.size(); ++i) {
      Item& it = items_[i];
      if (it.target == kNoTarget || it.wide) continue;
      const int64_t off = pos[label_item_[it.target]] - (pos[i] + 1);
      if (off > std::numeric_limits<int16_t>::max() || off < std::numeric_limits<int16_t>::min()) {
        it.wide = true;
        changed = true;
      }
    }
  }
  std::vector<EbpfInsn> out;
  out.reserve(static_cast<size_t>(pos[items_.size()]));
  for (size_t i = 0; i < items_.size(); ++i) {
    const Item& it = items_[i];
    if (it.target == kNoTarget) {
      out.push_back(it.insn);
      continue;
    }
    const int64_t target = pos[label_item_[it.target]];
    if (!it.wide) {
      EbpfInsn j = it.insn;
      j.off = static_cast<int16_t>(target - (pos[i] + 1));
      out.push_back(j);
      continue;
    }
    if (!is_ja(it.insn)) {
      EbpfInsn j = it.insn;  // if cond goto +1 (to the gotol); else goto +1 (past it)
      j.off = 1;
      out.push_back(j);
      out.push_back(make(op::kJmp | op::kJa, 0, 0, 1, 0));
    }
    const int64_t at = static_cast<int64_t>(out.size());
    out.push_back(make(op::kJmp32 | op::kJa, 0, 0, 0, static_cast<int32_t>(target - (at + 1))));
  }
  return out;
}

}  // namespace bpf::jit::ebpf
