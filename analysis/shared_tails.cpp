// shared_tails(): see shared_tails.hpp.
#include "analysis/shared_tails.hpp"

#include <algorithm>
#include <unordered_map>

#include "vm/ancillary.hpp"
#include "vm/insn.hpp"

namespace bpf::analysis {
namespace {

constexpr uint32_t kA = 1u, kX = 2u;
constexpr uint32_t mem_bit(uint32_t j) { return 4u << j; }

struct Key {
  uint8_t op;
  uint32_t k;
  int32_t t, f;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  size_t operator()(const Key& key) const {
    uint64_t h = key.op;
    h = h * 0x9E3779B97F4A7C15ull ^ key.k;
    h = h * 0x9E3779B97F4A7C15ull ^ static_cast<uint32_t>(key.t);
    h = h * 0x9E3779B97F4A7C15ull ^ static_cast<uint32_t>(key.f);
    return static_cast<size_t>(h ^ (h >> 29));
  }
};

}  // namespace

void register_effects(const vm::DecodedInsn& d, vm::Target target, uint32_t& reads, uint32_t& writes) {
  const vm::OpInfo& oi = vm::info(d.op);
  reads = writes = 0;
  if (oi.has(vm::eff::kReadA)) reads |= kA;
  if (oi.has(vm::eff::kReadX)) reads |= kX;
  if (oi.has(vm::eff::kWriteA)) writes |= kA;
  if (oi.has(vm::eff::kWriteX)) writes |= kX;
  if (oi.has(vm::eff::kReadMem) && d.k < vm::kMemWords) reads |= mem_bit(d.k);
  if (oi.has(vm::eff::kWriteMem) && d.k < vm::kMemWords) writes |= mem_bit(d.k);
  const bool abs_load = d.op == vm::Op::kLdW || d.op == vm::Op::kLdH || d.op == vm::Op::kLdB;
  if (abs_load && target == vm::Target::kLinux && d.k >= vm::kSkfAdOff) reads |= kA | kX;
}

namespace {

class Classifier {
 public:
  explicit Classifier(vm::Target t) : target_(t) {}

  // Classes of every instruction of `p`.
  std::vector<int32_t> classify(std::span<const vm::DecodedInsn> p) {
    std::vector<int32_t> cls(p.size(), -1);
    for (size_t i = p.size(); i-- > 0;) {
      const vm::DecodedInsn& d = p[i];
      const vm::OpInfo& oi = vm::info(d.op);
      auto succ = [&](uint32_t j) { return j < p.size() ? cls[j] : -2; };
      if (d.op == vm::Op::kJa) {
        cls[i] = succ(d.jt);
        continue;
      }
      Key key{static_cast<uint8_t>(d.op), d.k, -1, -1};
      switch (oi.operand) {  // operands without k: any k is the same instruction
        case vm::Operand::kNone: case vm::Operand::kLen: case vm::Operand::kAluX:
        case vm::Operand::kJmpX: case vm::Operand::kRetA: case vm::Operand::kRetX:
          key.k = 0;
          break;
        default:
          break;
      }
      if (oi.has(vm::eff::kCond)) {
        key.t = succ(d.jt);
        key.f = succ(d.jf);
      } else if (!oi.has(vm::eff::kRet)) {
        key.t = succ(d.jt);
      }
      auto [it, added] = table_.try_emplace(key, static_cast<int32_t>(size_.size()));
      if (added) {
        uint32_t reads = 0, writes = 0;
        register_effects(d, target_, reads, writes);
        uint64_t size = 1;
        uint32_t live_after = 0;
        for (int32_t s : {key.t, key.f}) {
          if (s < 0) continue;
          size += size_[size_t(s)];
          live_after |= live_[size_t(s)];
        }
        size_.push_back(std::min<uint64_t>(size, 1u << 30));
        live_.push_back(reads | (live_after & ~writes));
      }
      cls[i] = it->second;
    }
    return cls;
  }

  uint64_t size(int32_t c) const { return size_[size_t(c)]; }
  const std::vector<uint32_t>& live() const { return live_; }

 private:
  vm::Target target_;
  std::unordered_map<Key, int32_t, KeyHash> table_;
  std::vector<uint64_t> size_;   // instructions in the class's code, shared parts counted again
  std::vector<uint32_t> live_;
};

}  // namespace

bool SharedTails::any() const {
  return std::any_of(a.begin(), a.end(), [](int32_t c) { return c >= 0; });
}

SharedTails shared_tails(std::span<const vm::DecodedInsn> a, std::span<const vm::DecodedInsn> b,
                         vm::Target target, uint32_t min_size) {
  Classifier cl(target);
  SharedTails out;
  out.a = cl.classify(a);
  out.b = cl.classify(b);
  std::vector<uint8_t> in(cl.live().size(), 0);  // bit 0: in a, bit 1: in b
  for (int32_t c : out.a)
    if (c >= 0) in[size_t(c)] |= 1;
  for (int32_t c : out.b)
    if (c >= 0) in[size_t(c)] |= 2;
  auto keep = [&](int32_t& c) {
    if (c < 0 || in[size_t(c)] != 3 || cl.size(c) < min_size) c = -1;
  };
  std::for_each(out.a.begin(), out.a.end(), keep);
  std::for_each(out.b.begin(), out.b.end(), keep);
  out.live_in = cl.live();
  return out;
}

}  // namespace bpf::analysis
