// Slow paths called from native code (see slow_paths.hpp). Plain functions with the System V
// calling convention; the generated code saves its live registers around the call. Each one is
// a thin wrapper over vm/semantics.hpp, so the JIT's slow paths cannot drift from the
// interpreter.
#include "jit/asmjit/slow_paths.hpp"

#include "vm/ancillary.hpp"
#include "vm/context.hpp"
#include "vm/semantics.hpp"

namespace bpf::jit::detail {

uint64_t slow_load_linux(const vm::Context* ctx, const uint8_t* pkt, uint32_t caplen,
                         uint32_t /*wirelen*/, uint32_t offset, uint32_t size) {
  auto v = vm::linux_load(static_cast<int32_t>(offset), size, pkt, caplen, *ctx);
  return v ? uint64_t{*v} : kProgramEnds;
}

uint64_t slow_ancillary(const vm::Context* ctx, const uint8_t* pkt, uint32_t caplen,
                        uint32_t /*wirelen*/, uint64_t ax, uint32_t which) {
  const auto a = static_cast<uint32_t>(ax);
  const auto x = static_cast<uint32_t>(ax >> 32);
  vm::Outcome o = vm::ancillary(static_cast<vm::Ancillary>(which), a, x, pkt, caplen, *ctx);
  return o.cont ? uint64_t{o.value} : (kProgramEnds | o.value);
}

}  // namespace bpf::jit::detail
