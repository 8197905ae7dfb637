// Slow-path helpers for LLVM-compiled filters (see runtime.hpp). They call vm/semantics.hpp, the
// same functions the interpreter uses, so the rare paths are right by construction; the fast
// paths generated in codegen.cpp are checked against them by tests/jit/llvm_diff_test.cpp.
#include "jit/llvm/runtime.hpp"

#include "vm/context.hpp"
#include "vm/semantics.hpp"

namespace bpf::jit::llvm_rt {

namespace {
uint64_t pack(const vm::Outcome& o) { return o.cont ? uint64_t{o.value} : kEnd | o.value; }
}  // namespace

extern "C" uint64_t bpfc_rt_load_slow(uint32_t off, const uint8_t* pkt, uint32_t caplen,
                                      uint32_t /*wirelen*/, const vm::Context* ctx, uint32_t size) {
  auto v = vm::linux_load(static_cast<int32_t>(off), size, pkt, caplen, *ctx);
  return v ? uint64_t{*v} : kEnd;
}

extern "C" uint64_t bpfc_rt_ancillary(uint32_t k, const uint8_t* pkt, uint32_t caplen,
                                      uint32_t /*wirelen*/, const vm::Context* ctx, uint32_t a,
                                      uint32_t x) {
  if (auto id = vm::ancillary_for(k)) return pack(vm::ancillary(*id, a, x, pkt, caplen, *ctx));
  // Not an ancillary offset: codegen only calls this for known ones; stay exact anyway.
  return pack(vm::load_abs(vm::Target::kLinux, k, 4, a, x, pkt, caplen, *ctx));
}

}  // namespace bpf::jit::llvm_rt
