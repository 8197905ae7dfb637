// VerifiedProgram -> LLVM IR, and the optimisation pipeline. Internal to jit/llvm (includes LLVM
// headers); the public face is llvm_engine.hpp. See codegen.cpp for the translation scheme.
#pragma once

#include <memory>
#include <string_view>

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

#include "vm/program.hpp"

namespace bpf::jit::llvm_codegen {

// One module holding `uint32_t name(ptr pkt, i32 caplen, i32 wirelen, ptr ctx)` and, if
// with_batch, `void name_batch(ptr views, i64 n, ptr out, ptr ctx)` (see llvm_engine.hpp).
// The caller sets the data layout and triple before optimising.
std::unique_ptr<llvm::Module> build_module(llvm::LLVMContext& context,
                                           const vm::VerifiedProgram& prog,
                                           std::string_view function_name, bool with_batch);

// The new pass manager's default pipeline: level 0 = mem2reg only, 1..3 = O1..O3.
// `tm` (may be null) supplies the target's cost model to the vectorisers and the inliner.
void optimize(llvm::Module& module, llvm::TargetMachine* tm, int opt_level);

}  // namespace bpf::jit::llvm_codegen
