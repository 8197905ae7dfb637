// The asmjit engine behind bpf::jit::Filter (jit/backend.hpp): compile_asmjit() wrapped as a
// Backend. Filter::run is one indirect call straight into the generated code (its first entry
// point takes the RunFn arguments). run_batch is the third entry point: a loop in the generated
// code that calls the filter directly and prefetches the packets ahead (jit/asmjit/asmjit_jit.cpp,
// emit_batch_entry; bench/asmjit_bench.cpp measures the gain). Tested through
// tests/conformance/ (every engine) and tests/jit/asmjit_*.
#include <new>

#include "jit/asmjit/asmjit_jit.hpp"
#include "jit/backend.hpp"

namespace bpf::jit::detail {
namespace {

void asmjit_destroy(void* state) { delete static_cast<NativeCode*>(state); }

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
  b.batch = owned->batch_fn();  // the loop in the generated code (NativeBatchFn == BatchFn)
  return Result<Backend>(b, code.diagnostics());
}

}  // namespace bpf::jit::detail
