// The contract between bpf::jit::Filter and an engine (internal to jit/; header-only so that
// engine libraries under jit/<engine>/ need not link bpf_jit).
//
// An engine compiles a VerifiedProgram into a Backend: an opaque state it owns, a function that
// frees it, and the per-packet entry points. Filter::run is one indirect call through `run`;
// run_batch uses `batch` when the engine has one (the interpreter stays inside its dispatch loop
// for the whole batch) and otherwise loops over `run`. Engines must give exactly the results of
// vm/semantics.hpp (tests/conformance/ runs every case on every engine).
//
// Adding an engine: implement `Result<Backend> compile_<engine>(const vm::VerifiedProgram&)` in
// jit/<engine>/, declare it below, and add its case to jit/engine.cpp (compile() and
// available()); jit/CMakeLists.txt links the library and defines BPFC_JIT_HAS_<ENGINE> when its
// target exists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "vm/context.hpp"
#include "vm/diagnostic.hpp"
#include "vm/interpreter.hpp"
#include "vm/program.hpp"

namespace bpf::jit::detail {

using RunFn = uint32_t (*)(const void* state, const uint8_t* pkt, uint32_t caplen,
                           uint32_t wirelen, const vm::Context& ctx);
using BatchFn = void (*)(const void* state, const vm::PacketRef* pkts, size_t n, uint32_t* out,
                         const vm::Context& ctx);
using DestroyFn = void (*)(void* state);

struct Backend {
  void* state = nullptr;
  DestroyFn destroy = nullptr;  // frees `state` (and any executable memory it holds)
  RunFn run = nullptr;          // required
  BatchFn batch = nullptr;      // optional
};

Result<Backend> compile_interp(const vm::VerifiedProgram& prog);
Result<Backend> compile_asmjit(const vm::VerifiedProgram& prog);  // jit/asmjit/
Result<Backend> compile_llvm(const vm::VerifiedProgram& prog);    // jit/llvm/

// The LLVM engine reaches Filter through a loadable module, libbpfc_llvm.so (jit/llvm/plugin.cpp),
// so that only processes that use it load libLLVM: its ~420,000 relocations cost ~15 ms at every
// start of a binary linked with it, more than bpfdump needs to filter a 50 MB file. The module
// is built with the binaries; llvm_plugin() (jit/engine.cpp) finds it (BPFC_LLVM_PLUGIN, then
// the directory of libbpfc.so when this code is in it, then
// <executable>/../lib, then the build tree) and checks `abi`.
struct LlvmPlugin {
  uint64_t abi;
  Result<Backend> (*compile)(const vm::VerifiedProgram& prog);
  std::string (*ir)(const vm::VerifiedProgram& prog);  // the optimised IR compile() runs
  bool (*available)();                                 // the native target initialises
};
// Changes whenever a type crossing the module boundary may have changed layout.
inline constexpr uint64_t kLlvmPluginAbi =
    (uint64_t{1} << 48) | (uint64_t{sizeof(vm::VerifiedProgram)} << 32) |
    (uint64_t{sizeof(Diagnostics)} << 16) | uint64_t{sizeof(Backend)};
inline constexpr const char* kLlvmPluginSymbol = "bpfc_llvm_plugin_v1";
// Loads the module once (thread-safe); nullptr, with the reason in *why, when it cannot.
const LlvmPlugin* llvm_plugin(std::string* why = nullptr);

}  // namespace bpf::jit::detail
