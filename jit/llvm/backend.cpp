// The LLVM engine behind bpf::jit::Filter (jit/backend.hpp). The generated functions already have
// the Backend's RunFn/BatchFn types, so Filter::run is one indirect call straight into JIT code
// and Filter::run_batch runs the loop the filter was inlined into. Filters compiled this way are
// the long-lived ones (capture, bpfdump), so the batch entry is always built (about 2-3x the
// compile time of the single-packet function alone; see bench/llvm_bench.cpp).
// Tested by tests/conformance/ (every engine) and tests/jit/llvm_*.
#include <cstddef>
#include <new>

#include "jit/backend.hpp"
#include "jit/llvm/llvm_engine.hpp"

namespace bpf::jit::detail {

static_assert(sizeof(vm::PacketRef) == 16 && offsetof(vm::PacketRef, data) == 0 &&
                  offsetof(vm::PacketRef, caplen) == 8 && offsetof(vm::PacketRef, wirelen) == 12,
              "jit/llvm/codegen.cpp's batch loop reads PacketRef as {ptr, i32, i32}");

namespace {
void llvm_destroy(void* state) { delete static_cast<LlvmCode*>(state); }
}  // namespace

Result<Backend> compile_llvm(const vm::VerifiedProgram& prog) {
  auto code = LlvmCode::compile(prog, kLlvmFilterOptLevel, /*with_batch=*/true);
  if (!code) return code.diagnostics();
  auto* owned = new (std::nothrow) LlvmCode(code.take());
  if (!owned) {
    Diagnostics d;
    d.error("out of memory while compiling with LLVM");
    return d;
  }
  return Backend{owned, llvm_destroy, owned->function(), owned->batch_function()};
}

}  // namespace bpf::jit::detail
