// The asmjit x86-64 engine: a VerifiedProgram becomes one native function
//
//   uint32_t fn(const uint8_t* pkt, uint32_t caplen, uint32_t wirelen, const vm::Context* ctx)
//
// that returns exactly what the interpreter returns (vm/semantics.hpp) for every input, for both
// targets (Linux socket filters with ancillary loads and negative offsets; BSD bpf_filter).
//
// Promises: A and X live in registers, M[] in the red zone below the stack pointer (the function
// is a leaf on its fast path: no frame, no calls). Absolute packet loads are bounds-checked once
// per basic block at most, and only when no block on every path before it checked as much (the
// verifier's VerifiedProgram::check_before(), shared with the LLVM engine); when
// the packet holds every byte any block can read, a second copy of the code runs with no
// absolute-load check at all (one compare on entry). Ancillary loads that need code (nla, nlan,
// poff, rand), negative offsets and failing [x + k] loads on Linux call C++ helpers that use the
// same semantics as the interpreter. Code memory is mapped read+write, filled, then switched to
// read+execute before it is ever called: never writable and executable at once. `NativeCode`
// owns it (RAII). Headers here stay light: asmjit is included only by the .cpp files.
//
// Tested by tests/jit/asmjit_*.cpp (conformance, differential vs the interpreter over >= 1M
// (program, packet) pairs, W^X and leak checks) and tests/fuzz/jit_diff.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "vm/diagnostic.hpp"
#include "vm/program.hpp"

namespace bpf::vm {
struct Context;
struct PacketRef;
}

namespace bpf::jit {

using NativeFilterFn = uint32_t (*)(const uint8_t* pkt, uint32_t caplen, uint32_t wirelen,
                                    const vm::Context* ctx);

using NativeBatchFn = void (*)(const void* state, const vm::PacketRef* pkts, size_t n,
                               uint32_t* out, const vm::Context& ctx);

// Executable code pages owned by one compiled filter (move-only; unmapped on destruction).
class NativeCode {
 public:
  NativeCode() = default;
  NativeCode(void* mem, size_t mapped, size_t code_size, size_t entry, size_t batch_entry)
      : mem_(mem), mapped_(mapped), code_size_(code_size), entry_(entry),
        batch_entry_(batch_entry) {}
  NativeCode(NativeCode&& o) noexcept { swap(o); }
  NativeCode& operator=(NativeCode&& o) noexcept {
    NativeCode tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  NativeCode(const NativeCode&) = delete;
  NativeCode& operator=(const NativeCode&) = delete;
  ~NativeCode();

  NativeFilterFn fn() const {
    return reinterpret_cast<NativeFilterFn>(static_cast<uint8_t*>(mem_) + entry_);
  }
  // The same code with the jit/backend.hpp RunFn signature (state pointer first, ignored).
  void* backend_entry() const { return mem_; }
  // The generated batch loop, jit/backend.hpp BatchFn signature (state pointer ignored): runs
  // the filter on pkts[0..n) into out[0..n), one direct call per packet, with prefetch.
  NativeBatchFn batch_fn() const {
    return reinterpret_cast<NativeBatchFn>(static_cast<uint8_t*>(mem_) + batch_entry_);
  }
  const void* address() const { return mem_; }
  size_t code_size() const { return code_size_; }
  size_t mapped_size() const { return mapped_; }
  explicit operator bool() const { return mem_ != nullptr; }

  // Number of NativeCode objects owning code in the process, and freed pages kept for reuse
  // (bounded): for leak tests.
  static size_t live_count();
  static size_t cached_pages();

 private:
  void swap(NativeCode& o) noexcept {
    std::swap(mem_, o.mem_);
    std::swap(mapped_, o.mapped_);
    std::swap(code_size_, o.code_size_);
    std::swap(entry_, o.entry_);
    std::swap(batch_entry_, o.batch_entry_);
  }
  void* mem_ = nullptr;
  size_t mapped_ = 0;
  size_t code_size_ = 0;
  size_t entry_ = 0;
  size_t batch_entry_ = 0;
};

struct AsmjitOptions {
  // Emit the second, check-free copy of the code for packets that hold every byte any absolute
  // load reads. Off for programs over kMaxDualInsns instructions (code size).
  bool dual_version = true;
  // Use movbe / BMI2 shlx,shrx when the host has them (off: bswap, shifts through cl).
  bool use_cpu_extensions = true;
  static constexpr size_t kMaxDualInsns = 1024;
};

// Compiles `prog` to native code. Errors (asmjit failures, out of memory) are Diagnostics.
Result<NativeCode> compile_asmjit(const vm::VerifiedProgram& prog, const AsmjitOptions& opts = {});

// The batch loop with the filter's code inlined (no call per packet): code whose batch_fn()
// runs `prog` over pkts[0..n), with prefetch, as the one in compile_asmjit's code does through a
// call. A second compile of the same size; the asmjit backend makes it on the first run_batch.
Result<NativeCode> compile_asmjit_batch(const vm::VerifiedProgram& prog,
                                        const AsmjitOptions& opts = {});

// Whether this build and host can run the engine (x86-64 host).
bool asmjit_available();

}  // namespace bpf::jit
