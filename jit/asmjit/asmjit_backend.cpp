// The asmjit engine behind bpf::jit::Filter (jit/backend.hpp): compile_asmjit() wrapped as a
// Backend. Filter::run is one indirect call straight into the generated code (its first entry
// point takes the RunFn arguments). run_batch loops in C++ over the second entry point and
// prefetches the first two cache lines of the packet kPrefetchAhead positions on, so the header
// the filter reads next is in flight while the current one is filtered (bench/asmjit_bench.cpp
// measures the gain). Tested through tests/conformance/ (every engine) and tests/jit/asmjit_*.
#include <new>

#include "jit/asmjit/asmjit_jit.hpp"
#include "jit/backend.hpp"

namespace bpf::jit::detail {
namespace {

constexpr size_t kPrefetchAhead = 4;

void asmjit_destroy(void* state) { delete static_cast<NativeCode*>(state); }

void asmjit_batch(const void* state, const vm::PacketRef* pkts, size_t n, uint32_t* out,
                  const vm::Context& ctx) {
  const NativeFilterFn fn = static_cast<const NativeCode*>(state)->fn();
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) {
      const uint8_t* next = pkts[i + kPrefetchAhead].data;
      __builtin_prefetch(next);
      __builtin_prefetch(next + 64);
    }
    out[i] = fn(pkts[i].data, pkts[i].caplen, pkts[i].wirelen, &ctx);
  }
}

}  // namespace

Result<Backend> compile_asmjit(const vm::VerifiedProgram& prog) {
  Result<NativeCode> code = bpf::jit::compile_asmjit(prog);
  if (!code) return code.diagnostics();
  auto* owned = new (std::nothrow) NativeCode(code.take());
  if (owned == nullptr) {
    Diagnostics d;
    d.error("asmjit: out of memory");
    return d;
  }
  Backend b;
  b.state = owned;
  b.destroy = asmjit_destroy;
  b.run = reinterpret_cast<RunFn>(owned->backend_entry());
  b.batch = asmjit_batch;
  return Result<Backend>(b, code.diagnostics());
}

}  // namespace bpf::jit::detail
