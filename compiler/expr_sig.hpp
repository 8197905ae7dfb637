// Block signatures for merging identical blocks (test value, test, successors, or the return
// value) and an open-addressing table of them that allocates nothing per insert. Shared by the
// optimiser's intern_blocks (expr_opt.cpp) and the merge after redundant load elimination
// (expr_emit.cpp). Private to compiler/.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bpf::compiler::detail {

// A block's identity for merging: its test value, test, successors (or its return value).
struct Sig {
  bool is_ret;
  uint32_t ret_k;
  int key;
  uint16_t jcode;
  uint32_t k;
  int t, f;
  bool operator==(const Sig&) const = default;
};
struct SigHash {
  size_t operator()(const Sig& s) const {
    uint64_t h = (uint64_t(s.ret_k) << 32) ^ uint64_t(uint32_t(s.key)) * 0x9e3779b97f4a7c15ull;
    h ^= (uint64_t(s.jcode) << 48) ^ (uint64_t(s.k) * 0x100000001b3ull);
    h ^= (uint64_t(uint32_t(s.t)) << 20) ^ uint64_t(uint32_t(s.f)) * 31 ^ uint64_t(s.is_ret);
    return static_cast<size_t>(h ^ (h >> 31));
  }
};

// Open-addressing table Sig -> block, reused across passes and compiles (no allocation per
// insert, no clearing per reset: a slot is live only with the current stamp).
class SigTable {
 public:
  void reset(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n + 2) cap <<= 1;
    // a table much larger than needed (after a big program) is not kept for small ones
    if (slots_.size() < cap || (slots_.size() > 8 * cap && slots_.size() > 4096)) {
      slots_.assign(cap, Slot{});
      stamp_ = 1;
    } else if (++stamp_ == 0) {
      std::fill(slots_.begin(), slots_.end(), Slot{});
      stamp_ = 1;
    }
    mask_ = slots_.size() - 1;
  }
  // Returns the block already stored for `s`, or stores `b` and returns it.
  int find_or_insert(const Sig& s, int b) {
    for (size_t i = SigHash{}(s) & mask_;; i = (i + 1) & mask_) {
      Slot& sl = slots_[i];
      if (sl.stamp != stamp_) {
        sl.sig = s;
        sl.block = b;
        sl.stamp = stamp_;
        return b;
      }
      if (sl.sig == s) return sl.block;
    }
  }

 private:
  struct Slot {
    Sig sig{};
    int block = -1;
    uint32_t stamp = 0;
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  uint32_t stamp_ = 1;
};

}  // namespace bpf::compiler::detail
