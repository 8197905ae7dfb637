// The asmjit engine behind bpf::jit::Filter (jit/backend.hpp): compile_asmjit() wrapped as a
// Backend. Filter::run is one indirect call straight into the generated code (its first entry
// point takes the RunFn arguments). run_batch runs a loop with the filter's code inlined
// (compile_asmjit_batch), compiled on the first run_batch call so that Filter::compile costs one
// compile, not two; until then, or if that compile fails, the call loop of the first code's
// third entry point (emit_batch_entry) does the same work with one direct call per packet.
// bench/asmjit_bench.cpp measures both loops. Tested through tests/conformance/ (every engine)
// and tests/jit/asmjit_* (incl. batches shorter than the prefetch distance).
#include <atomic>
#include <mutex>
#include <new>
#include <optional>

#include "jit/asmjit/asmjit_jit.hpp"
#include "jit/backend.hpp"

namespace bpf::jit::detail {
namespace {

struct AsmjitState {
  AsmjitState(NativeCode c, const vm::VerifiedProgram& p) : code(std::move(c)), prog(p) {}
  NativeCode code;                         // run(), and the call loop
  std::optional<vm::VerifiedProgram> prog;  // for the batch compile; dropped after it
  std::once_flag once;
  NativeCode batch;                        // the inlined loop, once compiled
  std::atomic<NativeBatchFn> batch_fn{nullptr};
};

void asmjit_destroy(void* state) { delete static_cast<AsmjitState*>(state); }

void asmjit_batch(const void* state, const vm::PacketRef* pkts, size_t n, uint32_t* out,
                  const vm::Context& ctx) {
  auto* st = const_cast<AsmjitState*>(static_cast<const AsmjitState*>(state));
  NativeBatchFn fn = st->batch_fn.load(std::memory_order_acquire);
  if (fn == nullptr) {
    std::call_once(st->once, [st] {
      Result<NativeCode> b = compile_asmjit_batch(*st->prog);
      if (b) {
        st->batch = b.take();
        st->batch_fn.store(st->batch.batch_fn(), std::memory_order_release);
      } else {
        st->batch_fn.store(st->code.batch_fn(), std::memory_order_release);
      }
      st->prog.reset();
    });
    fn = st->batch_fn.load(std::memory_order_acquire);
  }
  fn(nullptr, pkts, n, out, ctx);
}

}  // namespace

Result<Backend> compile_asmjit(const vm::VerifiedProgram& prog) {
  Result<NativeCode> code = bpf::jit::compile_asmjit(prog);
  if (!code) return code.diagnostics();
  auto* owned = new (std::nothrow) AsmjitState(code.take(), prog);
  if (owned == nullptr) {
    Diagnostics d;
    d.error("asmjit: out of memory");
    return d;
  }
  Backend b;
  b.state = owned;
  b.destroy = asmjit_destroy;
  b.run = reinterpret_cast<RunFn>(owned->code.backend_entry());
  b.batch = asmjit_batch;
  return Result<Backend>(b, code.diagnostics());
}

}  // namespace bpf::jit::detail
