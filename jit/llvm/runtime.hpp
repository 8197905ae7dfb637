// Out-of-line helpers that LLVM-compiled filters call for the rare, exact slow paths: Linux
// negative-offset loads (SKF_NET_OFF, SKF_LL_OFF) and the ancillary loads that are not a plain
// field of vm::Context. They forward to the interpreter's own semantics, so the JIT cannot drift
// from it. Results are packed as uint64_t: the low 32 bits are the value; bit 32 set means "the
// program ends now and returns the low 32 bits" (0 for a failed load; A for ifindex/hatype
// without a device, vm/context.hpp). Internal to jit/llvm (the JIT binds them by name).
#pragma once

#include <cstdint>

namespace bpf::vm {
struct Context;
}

namespace bpf::jit::llvm_rt {

inline constexpr uint64_t kEnd = uint64_t{1} << 32;

// A packet load at a Linux offset that is negative as int32 (absolute [k] or [x + k]); `size` is
// 1, 2 or 4. Also used for any out-of-bounds Linux load so the one rule lives in one place.
extern "C" uint64_t bpfc_rt_load_slow(uint32_t off, const uint8_t* pkt, uint32_t caplen,
                                      uint32_t wirelen, const vm::Context* ctx, uint32_t size);

// `ld [SKF_AD_OFF + n]` (any size) for the ancillary loads that need code (nla, nlan), not a
// field read.
extern "C" uint64_t bpfc_rt_ancillary(uint32_t k, const uint8_t* pkt, uint32_t caplen,
                                      uint32_t wirelen, const vm::Context* ctx, uint32_t a,
                                      uint32_t x);

}  // namespace bpf::jit::llvm_rt
