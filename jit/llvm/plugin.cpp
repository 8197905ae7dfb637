// The entry point of libbpfc_llvm.so, the loadable module that carries the LLVM engine (see
// jit/backend.hpp, LlvmPlugin): bpf::jit::Filter reaches compile_llvm() and the IR printer
// through the table returned here, found by name with dlsym. Tested through every Filter with
// Engine::kLlvm (tests/conformance/, tests/jit/llvm_*) and `bpfc --emit-llvm` (tests/asm CLI).
#include "jit/backend.hpp"
#include "jit/llvm/llvm_engine.hpp"

namespace {

std::string plugin_ir(const bpf::vm::VerifiedProgram& prog) {
  return bpf::jit::compile_llvm_ir(prog, bpf::jit::kLlvmFilterOptLevel);
}

bool plugin_available() { return bpf::jit::llvm_available(); }

}  // namespace

extern "C" __attribute__((visibility("default"))) const bpf::jit::detail::LlvmPlugin*
bpfc_llvm_plugin_v1() {
  static const bpf::jit::detail::LlvmPlugin kPlugin{bpf::jit::detail::kLlvmPluginAbi,
                                                    &bpf::jit::detail::compile_llvm, &plugin_ir,
                                                    &plugin_available};
  return &kPlugin;
}
