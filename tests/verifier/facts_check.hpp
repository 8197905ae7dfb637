// Independent re-check of what vm/program.hpp promises about a VerifiedProgram's facts, written
// without the verifier's code paths: decoded targets, the block partition, successors, the packet
// byte counts and their dominance bound, scratch liveness, and the register flags. Returns an
// empty string when everything holds, else the first broken promise. Used on every accepted
// program of kernel_diff_test.cpp and by the fuzz_verifier target (tests/fuzz/verifier.cpp).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "vm/ancillary.hpp"
#include "vm/program.hpp"

namespace bpf::verifier::testing {

inline std::string check_facts(const vm::VerifiedProgram& p) {
  using vm::Op;
  const uint32_t n = static_cast<uint32_t>(p.size());
  auto fail = [](const std::string& s) { return s; };
  if (n == 0) return fail("empty verified program");
  if (p.decoded().size() != n) return fail("decoded size");
  // Successors per instruction, computed from the raw encoding.
  std::vector<std::vector<uint32_t>> succ(n);
  for (uint32_t i = 0; i < n; ++i) {
    const vm::Insn& in = p.insns()[i];
    const vm::DecodedInsn& d = p.decoded()[i];
    auto op = vm::decode(in.code);
    if (!op || *op != d.op || d.code != in.code || d.k != in.k) return fail("decode " + std::to_string(i));
    const vm::OpInfo& oi = vm::info(*op);
    if (oi.has(vm::eff::kRet)) {
      if (d.jt != i + 1 || d.jf != i + 1) return fail("ret targets");
    } else if (*op == Op::kJa) {
      const uint64_t t = uint64_t(i) + 1 + in.k;
      if (t >= n || d.jt != t || d.jf != t) return fail("ja target " + std::to_string(i));
      succ[i] = {d.jt};
    } else if (oi.has(vm::eff::kJump)) {
      if (d.jt != i + 1 + in.jt || d.jf != i + 1 + in.jf || d.jt >= n || d.jf >= n)
        return fail("jump targets " + std::to_string(i));
      succ[i] = {d.jt, d.jf};
    } else {
      if (i + 1 >= n || d.jt != i + 1 || d.jf != i + 1) return fail("fallthrough " + std::to_string(i));
      succ[i] = {i + 1};
    }
  }
  if (!vm::info(p.decoded()[n - 1].op).has(vm::eff::kRet)) return fail("last is not ret");
  // Block partition.
  const auto blocks = p.blocks();
  if (blocks.empty() || blocks[0].first != 0 || blocks.back().last != n - 1) return fail("partition");
  for (size_t b = 0; b < blocks.size(); ++b) {
    if (b > 0 && blocks[b].first != blocks[b - 1].last + 1) return fail("partition gap");
    if (blocks[b].first > blocks[b].last) return fail("empty block");
    for (uint32_t i = blocks[b].first; i <= blocks[b].last; ++i) {
      if (p.block_of(i) != b) return fail("block_of");
      if ((p.decoded()[i].block_end != 0) != (i == blocks[b].last)) return fail("block_end");
      // Inside a block only fall-through; no jump lands in the middle.
      if (i < blocks[b].last && (succ[i].size() != 1 || succ[i][0] != i + 1 ||
                                 vm::info(p.decoded()[i].op).has(vm::eff::kJump)))
        return fail("control transfer inside block " + std::to_string(b));
    }
  }
  for (uint32_t i = 0; i < n; ++i) {
    const bool transfer = vm::info(p.decoded()[i].op).has(vm::eff::kJump);
    for (uint32_t s : succ[i])
      if (transfer && blocks[p.block_of(s)].first != s) return fail("jump target not a leader");
  }
  // Successor blocks.
  std::vector<std::vector<uint32_t>> preds(blocks.size());
  for (size_t b = 0; b < blocks.size(); ++b) {
    const std::vector<uint32_t>& s = succ[blocks[b].last];
    for (size_t j = 0; j < 2; ++j) {
      const uint32_t want = j < s.size() ? p.block_of(s[j]) : vm::kNoBlock;
      if (blocks[b].succ[j] != want) return fail("succ of block " + std::to_string(b));
      if (want != vm::kNoBlock) {
        if (want <= b) return fail("backward successor");
        preds[want].push_back(static_cast<uint32_t>(b));
      }
    }
  }
  // Reachability.
  std::vector<char> reach(blocks.size(), 0);
  reach[0] = 1;
  for (size_t b = 0; b < blocks.size(); ++b)
    if (reach[b])
      for (uint32_t s : blocks[b].succ)
        if (s != vm::kNoBlock) reach[s] = 1;
  // Packet bytes: recomputed; dominance bound is sound (<= max(own, min over reachable preds)).
  const bool is_linux = p.target() == vm::Target::kLinux;
  uint32_t maxb = 0;
  for (size_t b = 0; b < blocks.size(); ++b) {
    uint32_t want = 0;
    for (uint32_t i = blocks[b].first; i <= blocks[b].last; ++i) {
      const Op op = p.decoded()[i].op;
      const uint32_t k = p.decoded()[i].k;
      const bool abs = op == Op::kLdW || op == Op::kLdH || op == Op::kLdB || op == Op::kLdxMsh;
      if (!abs) continue;
      const uint32_t size = vm::info(op).load_size;
      const bool counted = is_linux ? k < 0x80000000u : uint64_t(k) + size <= 0xffffffffull;
      if (counted) want = std::max<uint32_t>(want, k + size);
    }
    if (blocks[b].pkt_bytes != want) return fail("pkt_bytes of block " + std::to_string(b));
    maxb = std::max(maxb, want);
    if (blocks[b].pkt_bytes_dominated < blocks[b].pkt_bytes) return fail("dominated < own");
    if (reach[b] && b > 0) {
      uint32_t m = 0xffffffffu;
      for (uint32_t q : preds[b])
        if (reach[q]) m = std::min(m, blocks[q].pkt_bytes_dominated);
      if (blocks[b].pkt_bytes_dominated > std::max(blocks[b].pkt_bytes, m))
        return fail("pkt_bytes_dominated unsound at block " + std::to_string(b));
    }
    if (b == 0 && blocks[0].pkt_bytes_dominated != blocks[0].pkt_bytes) return fail("entry dominated");
  }
  if (p.facts().max_pkt_bytes != maxb) return fail("max_pkt_bytes");
  // Scratch liveness: live_in(b) must contain every slot read on some path from b's entry
  // before being written (computed per instruction, backwards).
  std::vector<uint16_t> live(n + 1, 0);
  for (uint32_t i = n; i-- > 0;) {
    uint16_t out = 0;
    for (uint32_t s : succ[i]) out |= live[s];
    const vm::OpInfo& oi = vm::info(p.decoded()[i].op);
    const uint16_t bit = static_cast<uint16_t>(1u << (p.decoded()[i].k & 15));
    if (oi.has(vm::eff::kWriteMem)) out &= static_cast<uint16_t>(~bit);
    if (oi.has(vm::eff::kReadMem)) out |= bit;
    live[i] = out;
  }
  for (size_t b = 0; b < blocks.size(); ++b)
    if (blocks[b].scratch_live_in != live[blocks[b].first]) return fail("scratch_live_in");
  if (is_linux && p.facts().scratch_uninit != 0) return fail("linux program with uninit scratch");
  if (is_linux && (live[0] != 0)) return fail("linux program reads scratch before writing");
  return {};
}

}  // namespace bpf::verifier::testing
