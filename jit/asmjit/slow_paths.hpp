// Internal to jit/asmjit: the C++ functions that native code calls on its slow paths (Linux
// negative-offset and failing [x + k] loads, nla/nlan). They compute exactly what the
// interpreter computes by calling the same vm/semantics.hpp functions.
#pragma once

#include <cstdint>

namespace bpf::vm {
struct Context;
}

namespace bpf::jit::detail {

// Result bit set when the program ends here, returning the low 32 bits (0 for a failed load).
inline constexpr uint64_t kProgramEnds = uint64_t{1} << 32;

// vm::linux_load at the signed 32-bit offset `offset`: the value, or kProgramEnds | 0.
uint64_t slow_load_linux(const vm::Context* ctx, const uint8_t* pkt, uint32_t caplen,
                         uint32_t wirelen, uint32_t offset, uint32_t size);

// vm::ancillary for `which` (a vm::Ancillary) with the current A and X (ax = A | X << 32):
// the new A, or kProgramEnds | return value.
uint64_t slow_ancillary(const vm::Context* ctx, const uint8_t* pkt, uint32_t caplen,
                        uint32_t wirelen, uint64_t ax, uint32_t which);

}  // namespace bpf::jit::detail
