// The LLVM engine: a VerifiedProgram compiled to native code through LLVM IR, the new pass
// manager's O1/O2/O3 pipeline and one process-wide ORC LLJIT.
//
// Promises: the compiled function returns exactly what vm::Interpreter::run returns for the same
// program, packet, lengths and context, on both targets (Linux, BSD), for every input (checked by
// tests/jit/llvm_diff_test.cpp over >= 1,000,000 random (program, packet) pairs, by the
// conformance suite and by the jit_diff fuzzer). One LLJIT instance, created lazily and
// thread-safely, serves every filter; each LlvmCode owns its code through an ORC ResourceTracker
// and removes it when destroyed, so thousands of compile/free cycles do not grow the process
// (tests/jit/llvm_engine_test.cpp). No LLVM header is included here: LLVM stays in jit/llvm/*.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "vm/diagnostic.hpp"
#include "vm/program.hpp"

namespace bpf::vm {
struct Context;
struct PacketRef;
}

namespace bpf::jit {

// The generated function: f(state, pkt, caplen, wirelen, ctx), i.e. uint32_t(pkt, caplen,
// wirelen, ctx) behind an unused first pointer so that it has exactly the type of jit/backend.hpp's
// RunFn and bpf::jit::Filter::run reaches the generated code in one indirect call.
using LlvmFilterFn = uint32_t (*)(const void* unused, const uint8_t* pkt, uint32_t caplen,
                                  uint32_t wirelen, const vm::Context& ctx);

// The same over many packets (backend.hpp's BatchFn): out[i] = f(pkts[i]) with the filter
// inlined into the loop and the context loads hoisted out of it.
using LlvmBatchFn = void (*)(const void* unused, const vm::PacketRef* pkts, size_t n,
                             uint32_t* out, const vm::Context& ctx);

// The level bpf::jit::Filter (engine llvm) compiles with, and `bpfc --emit-llvm` prints.
inline constexpr int kLlvmFilterOptLevel = 2;

// Native code for one program, owned (move-only). Destroying it frees the code in the shared JIT.
class LlvmCode {
 public:
  // opt_level: 0 (mem2reg only), 1, 2 or 3 (values above 3 act as 3). with_batch also builds
  // batch_function() (the filter inlined into a loop over packets; about 2-3x the compile time).
  static Result<LlvmCode> compile(const vm::VerifiedProgram& prog, int opt_level = 2,
                                  bool with_batch = false);

  LlvmCode(LlvmCode&&) noexcept;
  LlvmCode& operator=(LlvmCode&&) noexcept;
  ~LlvmCode();

  LlvmFilterFn function() const { return fn_; }
  LlvmBatchFn batch_function() const { return batch_; }  // null unless compiled with_batch
  uint32_t run(const uint8_t* pkt, uint32_t caplen, uint32_t wirelen,
               const vm::Context& ctx) const {
    return fn_(nullptr, pkt, caplen, wirelen, ctx);
  }

 private:
  struct Owner;  // the ORC ResourceTracker and the symbol's name slot (orc_jit.cpp)
  LlvmCode(LlvmFilterFn fn, LlvmBatchFn batch, Owner* owner)
      : fn_(fn), batch_(batch), owner_(owner) {}
  void release();

  LlvmFilterFn fn_ = nullptr;
  LlvmBatchFn batch_ = nullptr;
  Owner* owner_ = nullptr;
};

// The optimised IR of `prog` as text, for `bpfc --emit-llvm` and for inspection in tests.
// opt_level as above. The function is named `bpf_filter`.
std::string compile_llvm_ir(const vm::VerifiedProgram& prog, int opt_level = 2);

// Whether the native target could be initialised (false only on hosts LLVM cannot JIT for);
// the reason is in the diagnostics of LlvmCode::compile.
bool llvm_available();

// Filters currently holding code in the shared JIT (for tests and diagnostics).
size_t llvm_live_filters();

}  // namespace bpf::jit
