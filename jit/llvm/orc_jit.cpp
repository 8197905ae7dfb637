// The process-wide ORC LLJIT and the ownership of compiled filters.
//
// Invariants: one LLJIT, created on first use (function-local static: thread-safe), never
// destroyed (filters living in other static objects may outlive any destruction order we could
// pick). Every compiled module is added under its own ResourceTracker; LlvmCode's destructor
// removes it, which frees the code memory and the symbol. Function names come from a free list
// of slot numbers, so the JIT's symbol string pool holds at most as many names as there ever
// were live filters at once: compile/free cycles do not grow the process (tested in
// tests/jit/llvm_engine_test.cpp). One mutex serialises compilation and removal: LLJIT's default
// compiler shares one TargetMachine, and compiles are rare and take milliseconds anyway.
// llvm::Error values become Diagnostics here and go no further.
//
// Code memory: the RTDyld object layer with a SectionMemoryManager whose pages come from
// NearMapper, which asks the kernel for them 1 GiB above the main program (a hint; elsewhere
// when that range is taken) instead of wherever mmap puts them (next to the shared libraries,
// terabytes away from a PIE executable). Measured on AMD EPYC (Zen 4): an indirect call from a
// loop into code that far costs ~3 cycles more per call than into nearby code, for every call
// when the call site has one target (bench/asmjit_bench.cpp, llvm_mono_* counters). Pages are
// mapped read+write and switched to read+execute by SectionMemoryManager::finalizeMemory: never
// writable and executable at once.
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <string>
#include <vector>

#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/RTDyldObjectLinkingLayer.h>
#include <llvm/ExecutionEngine/SectionMemoryManager.h>
#include <llvm/Support/Memory.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>

#include "jit/llvm/codegen.hpp"
#include "jit/llvm/llvm_engine.hpp"
#include "jit/llvm/runtime.hpp"

namespace bpf::jit {
namespace {

struct JitState {
  std::mutex mu;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::unique_ptr<llvm::TargetMachine> tm;  // the optimiser's cost model (same host CPU)
  std::string error;                        // why jit is null
  std::vector<uint32_t> free_slots;
  uint32_t next_slot = 0;
  size_t live = 0;
};

std::string to_string(llvm::Error err) { return llvm::toString(std::move(err)); }

class NearMapper final : public llvm::SectionMemoryManager::MemoryMapper {
 public:
  llvm::sys::MemoryBlock allocateMappedMemory(llvm::SectionMemoryManager::AllocationPurpose,
                                              size_t bytes, const llvm::sys::MemoryBlock*,
                                              unsigned flags, std::error_code& ec) override {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    bytes = (bytes + page - 1) / page * page;
    void* p = mmap(next_hint(bytes), bytes, prot(flags), MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      ec = std::error_code(errno, std::generic_category());
      return llvm::sys::MemoryBlock();
    }
    ec = std::error_code();
    return llvm::sys::MemoryBlock(p, bytes);
  }
  std::error_code protectMappedMemory(const llvm::sys::MemoryBlock& block, unsigned flags) override {
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto start = reinterpret_cast<uintptr_t>(block.base()) & ~(page - 1);
    const uintptr_t end = (reinterpret_cast<uintptr_t>(block.base()) + block.allocatedSize() +
                           page - 1) & ~(page - 1);
    if (block.base() == nullptr || block.allocatedSize() == 0) return std::error_code();
    if (mprotect(reinterpret_cast<void*>(start), end - start, prot(flags)) != 0)
      return std::error_code(errno, std::generic_category());
    return std::error_code();
  }
  std::error_code releaseMappedMemory(llvm::sys::MemoryBlock& block) override {
    if (block.base() != nullptr && munmap(block.base(), block.allocatedSize()) != 0)
      return std::error_code(errno, std::generic_category());
    block = llvm::sys::MemoryBlock();
    return std::error_code();
  }

 private:
  static int prot(unsigned flags) {
    int p = PROT_NONE;
    if (flags & llvm::sys::Memory::MF_READ) p |= PROT_READ;
    if (flags & llvm::sys::Memory::MF_WRITE) p |= PROT_WRITE;
    if (flags & llvm::sys::Memory::MF_EXEC) p |= PROT_EXEC;
    return p;
  }
  // 1 GiB above the main program's entry point (getauxval: this code may live in a module
  // loaded far away), moving up as pages are taken and starting over after 1 GiB.
  void* next_hint(size_t bytes) {
    const uintptr_t base = (getauxval(AT_ENTRY) & ~((uintptr_t{1} << 21) - 1)) + (uintptr_t{1} << 30);
    uintptr_t off = offset_.fetch_add(bytes, std::memory_order_relaxed);
    if (off + bytes > (uintptr_t{1} << 30)) {
      offset_.store(bytes, std::memory_order_relaxed);
      off = 0;
    }
    return getauxval(AT_ENTRY) == 0 ? nullptr : reinterpret_cast<void*>(base + off);
  }
  std::atomic<uintptr_t> offset_{0};
};

NearMapper& near_mapper() {
  static NearMapper* m = new NearMapper();  // never destroyed: code may outlive static dtors
  return *m;
}

void init(JitState& s) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) {
    s.error = "LLVM cannot target this host: " + to_string(jtmb.takeError());
    return;
  }
  jtmb->setCodeGenOptLevel(llvm::CodeGenOpt::Aggressive);
  auto tm = jtmb->createTargetMachine();
  if (!tm) {
    s.error = "LLVM target machine: " + to_string(tm.takeError());
    return;
  }
  auto jit =
      llvm::orc::LLJITBuilder()
          .setJITTargetMachineBuilder(*jtmb)
          .setObjectLinkingLayerCreator(
              [](llvm::orc::ExecutionSession& es, const llvm::Triple&)
                  -> llvm::Expected<std::unique_ptr<llvm::orc::ObjectLayer>> {
                return std::make_unique<llvm::orc::RTDyldObjectLinkingLayer>(es, [] {
                  return std::make_unique<llvm::SectionMemoryManager>(&near_mapper());
                });
              })
          .create();
  if (!jit) {
    s.error = "LLVM ORC LLJIT: " + to_string(jit.takeError());
    return;
  }
  // The runtime helpers are bound by name to their addresses in this process.
  llvm::orc::SymbolMap helpers;
  helpers[(*jit)->mangleAndIntern("bpfc_rt_load_slow")] = llvm::JITEvaluatedSymbol::fromPointer(
      &llvm_rt::bpfc_rt_load_slow, llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable);
  helpers[(*jit)->mangleAndIntern("bpfc_rt_ancillary")] = llvm::JITEvaluatedSymbol::fromPointer(
      &llvm_rt::bpfc_rt_ancillary, llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable);
  if (auto err = (*jit)->getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(helpers)))) {
    s.error = "LLVM ORC: cannot define runtime helpers: " + to_string(std::move(err));
    return;
  }
  // The optimiser may turn stores into calls to memset/memcpy: resolve those (and only those)
  // from this process.
  auto& dl = (*jit)->getDataLayout();
  auto libc = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      dl.getGlobalPrefix(), [allowed = std::vector<llvm::orc::SymbolStringPtr>{
                                 (*jit)->mangleAndIntern("memset"),
                                 (*jit)->mangleAndIntern("memcpy"),
                                 (*jit)->mangleAndIntern("memmove"),
                                 (*jit)->mangleAndIntern("memcmp"),
                                 (*jit)->mangleAndIntern("bcmp")}](
                                 const llvm::orc::SymbolStringPtr& name) {
        for (const auto& a : allowed)
          if (name == a) return true;
        return false;
      });
  if (!libc) {
    s.error = "LLVM ORC: cannot search this process: " + to_string(libc.takeError());
    return;
  }
  (*jit)->getMainJITDylib().addGenerator(std::move(*libc));
  // Failures surface as llvm::Error from lookup(); the session's own stderr report is noise.
  (*jit)->getExecutionSession().setErrorReporter([](llvm::Error err) {
    llvm::consumeError(std::move(err));
  });
  s.tm = std::move(*tm);
  s.jit = std::move(*jit);
}

JitState& state() {
  static JitState* s = [] {
    auto* st = new JitState;  // never destroyed, see the file comment
    init(*st);
    return st;
  }();
  return *s;
}

// Builds and optimises the module for `prog`, with the JIT's data layout and triple.
std::unique_ptr<llvm::Module> make_module(JitState& s, llvm::LLVMContext& context,
                                          const vm::VerifiedProgram& prog, const std::string& name,
                                          int opt_level, bool with_batch) {
  auto module = llvm_codegen::build_module(context, prog, name, with_batch);
  if (s.jit) {
    module->setDataLayout(s.jit->getDataLayout());
    module->setTargetTriple(s.jit->getTargetTriple().str());
  }
  llvm_codegen::optimize(*module, s.tm.get(), opt_level);
  return module;
}

Diagnostics error_diag(std::string msg) {
  Diagnostics d;
  d.error(std::move(msg));
  return d;
}

}  // namespace

struct LlvmCode::Owner {
  llvm::orc::ResourceTrackerSP tracker;
  uint32_t slot;
};

Result<LlvmCode> LlvmCode::compile(const vm::VerifiedProgram& prog, int opt_level,
                                   bool with_batch) {
  JitState& s = state();
  if (!s.jit) return error_diag(s.error);
  if (prog.size() == 0 || prog.blocks().empty()) return error_diag("llvm: empty program");
  std::lock_guard<std::mutex> lock(s.mu);
  uint32_t slot;
  if (!s.free_slots.empty()) {
    slot = s.free_slots.back();
    s.free_slots.pop_back();
  } else {
    slot = s.next_slot++;
  }
  const std::string name = "bpf_filter_" + std::to_string(slot);
  auto context = std::make_unique<llvm::LLVMContext>();
  auto module = make_module(s, *context, prog, name, opt_level, with_batch);
  std::string broken;
  llvm::raw_string_ostream broken_os(broken);
  if (llvm::verifyModule(*module, &broken_os)) {
    s.free_slots.push_back(slot);
    return error_diag("llvm: internal error, invalid IR generated: " + broken_os.str());
  }
  auto tracker = s.jit->getMainJITDylib().createResourceTracker();
  if (auto err = s.jit->addIRModule(tracker,
                                    llvm::orc::ThreadSafeModule(std::move(module),
                                                                std::move(context)))) {
    s.free_slots.push_back(slot);
    return error_diag("llvm: cannot add module: " + to_string(std::move(err)));
  }
  auto addr = s.jit->lookup(name);
  if (!addr) {
    std::string msg = "llvm: code generation failed: " + to_string(addr.takeError());
    llvm::consumeError(tracker->remove());
    s.free_slots.push_back(slot);
    return error_diag(std::move(msg));
  }
  LlvmBatchFn batch_fn = nullptr;
  if (with_batch) {
    auto batch = s.jit->lookup(name + "_batch");
    if (!batch) {
      std::string msg = "llvm: code generation failed: " + to_string(batch.takeError());
      llvm::consumeError(tracker->remove());
      s.free_slots.push_back(slot);
      return error_diag(std::move(msg));
    }
    batch_fn = batch->toPtr<LlvmBatchFn>();
  }
  ++s.live;
  return LlvmCode(addr->toPtr<LlvmFilterFn>(), batch_fn,
                  new Owner{std::move(tracker), slot});
}

void LlvmCode::release() {
  if (!owner_) return;
  JitState& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    // Removal only fails if the session is already torn down; nothing useful to report then.
    llvm::consumeError(owner_->tracker->remove());
    owner_->tracker.reset();
    s.free_slots.push_back(owner_->slot);
    --s.live;
  }
  delete owner_;
  owner_ = nullptr;
  fn_ = nullptr;
  batch_ = nullptr;
}

LlvmCode::LlvmCode(LlvmCode&& o) noexcept : fn_(o.fn_), batch_(o.batch_), owner_(o.owner_) {
  o.fn_ = nullptr;
  o.batch_ = nullptr;
  o.owner_ = nullptr;
}

LlvmCode& LlvmCode::operator=(LlvmCode&& o) noexcept {
  if (this != &o) {
    release();
    fn_ = o.fn_;
    batch_ = o.batch_;
    owner_ = o.owner_;
    o.fn_ = nullptr;
    o.batch_ = nullptr;
    o.owner_ = nullptr;
  }
  return *this;
}

LlvmCode::~LlvmCode() { release(); }

std::string compile_llvm_ir(const vm::VerifiedProgram& prog, int opt_level) {
  JitState& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  llvm::LLVMContext context;
  auto module = make_module(s, context, prog, "bpf_filter", opt_level, /*with_batch=*/false);
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os, nullptr);
  return os.str();
}

bool llvm_available() { return state().jit != nullptr; }

size_t llvm_live_filters() {
  JitState& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.live;
}

}  // namespace bpf::jit
