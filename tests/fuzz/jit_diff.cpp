// Differential fuzzer: every built JIT engine against the interpreter and vm::evaluate.
//
// Input layout (any bytes are a valid input; short inputs are padded with zeros):
//   [0]      flags: bit 0 target (0 Linux, 1 BSD), bits 1-2 asmjit options, bit 3 use the
//            structured generator (seeded from the rest) instead of the bytes as instructions
//   [1]      instruction count - 1 (1..64)
//   n * 8    instructions: byte 0 picks a row of the opcode table (so most inputs decode),
//            jt, jf, then k (4 bytes, little endian); byte 1's high bits may remap k into the
//            interesting ranges (packet offsets, SKF_AD_OFF + n, SKF_NET_OFF, SKF_LL_OFF, M[])
//   16       context fields
//   rest     the packet; wirelen = caplen + the last byte of the context block
// A program the verifier rejects is skipped (the verifier has its own tests). Otherwise the
// outputs of the interpreter, vm::evaluate and each JIT (asmjit with the chosen code-generator
// options, and bpf::jit::Filter for every available native engine; LLVM on one input in 16)
// must be equal: abort() if not.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <algorithm>
#include <string>
#include <vector>

#include "jit/engine.hpp"
#include "tests/support/program_gen.hpp"
#include "verifier/verifier.hpp"
#include "vm/ancillary.hpp"
#include "vm/context.hpp"
#include "vm/interpreter.hpp"
#include "vm/semantics.hpp"
#if defined(BPFC_HAVE_ASMJIT) && __has_include("jit/asmjit/asmjit_jit.hpp")
#include "jit/asmjit/asmjit_jit.hpp"
#define JIT_DIFF_ASMJIT 1
#endif

namespace {

using namespace bpf;

struct Reader {
  const uint8_t* p;
  size_t n;
  uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(byte()) << (8 * i);
    return v;
  }
};

uint32_t remap_k(uint8_t sel, uint32_t k) {
  switch (sel & 7) {
    case 0: return k;
    case 1: return k % 80;  // packet offsets
    case 2: return vm::kSkfAdOff + 4 * (k % 17);
    case 3: return vm::kSkfNetOff + k % 64;
    case 4: return vm::kSkfLlOff + k % 64;
    case 5: return k % 16;  // scratch index, small constants, shift counts
    case 6: return 0xffffffffu - k % 64;  // X + k wrap-around
    default: return k % 40;
  }
}

// The packet is copied so that it ends exactly where an inaccessible page begins (and another
// one precedes the buffer): a native engine reading past caplen, or before the packet, faults
// even though its code is not instrumented by ASan.
class GuardedPacket {
 public:
  static constexpr size_t kMax = 8192;
  GuardedPacket() {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    total_ = kMax + 2 * page_;
    void* m = mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) std::abort();
    base_ = static_cast<uint8_t*>(m);
    mprotect(base_, page_, PROT_NONE);
    mprotect(base_ + page_ + kMax, page_, PROT_NONE);
  }
  const uint8_t* place(const uint8_t* data, size_t n) {
    uint8_t* dst = base_ + page_ + kMax - n;
    std::memcpy(dst, data, n);
    return dst;
  }

 private:
  uint8_t* base_ = nullptr;
  size_t page_ = 0, total_ = 0;
};

[[noreturn]] void report(const std::vector<vm::Insn>& insns, const char* engine, uint32_t want,
                         uint32_t got, uint32_t caplen) {
  std::fprintf(stderr, "jit_diff: %s returned %u, interpreter %u (caplen %u)\n", engine, got,
               want, caplen);
  for (const vm::Insn& in : insns)
    std::fprintf(stderr, "  { 0x%02x, %u, %u, 0x%08x },\n", in.code, in.jt, in.jf, in.k);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader r{data, size};
  const uint8_t flags = r.byte();
  const vm::Target target = (flags & 1) ? vm::Target::kBsd : vm::Target::kLinux;
  std::vector<vm::Insn> insns;
  if (flags & 8) {
    test::Rng rng(r.u32() | uint64_t{r.u32()} << 32);
    test::GenOptions gen;
    gen.target = target;
    gen.ret_x = target == vm::Target::kBsd;
    insns = test::random_program(rng, gen);
  } else {
    const size_t n = 1 + r.byte() % 64;
    for (size_t i = 0; i < n; ++i) {
      const uint8_t row = r.byte();
      const uint8_t sel = r.byte();
      vm::Insn in;
      in.code = vm::kOpTable[row % vm::kNumOps].code;
      in.jt = r.byte();
      in.jf = r.byte();
      in.k = remap_k(sel >> 5, r.u32());
      if (sel & 1) in.jt %= uint8_t(n - i);  // keep jumps in range more often
      if (sel & 2) in.jf %= uint8_t(n - i);
      insns.push_back(in);
    }
  }
  vm::Context ctx;
  ctx.protocol = uint16_t(r.u32());
  ctx.pkttype = r.byte();
  ctx.has_device = r.byte() & 1;
  ctx.ifindex = r.byte();
  ctx.mark = r.byte();
  ctx.net_offset = r.byte() % 48;
  ctx.has_link_header = r.byte() & 1;
  ctx.vlan_tci = r.byte();
  ctx.vlan_present = r.byte() & 1;
  ctx.random = r.byte();
  ctx.payload_offset = r.byte();
  ctx.hatype = r.byte();
  const uint32_t extra = r.byte();
  static GuardedPacket guard;
  const size_t n = std::min(r.n, GuardedPacket::kMax);
  const uint8_t* pkt = guard.place(r.p, n);
  const auto caplen = static_cast<uint32_t>(n);
  const uint32_t wirelen = caplen + extra;

  vm::Program prog;
  prog.insns = insns;
  verifier::Options vo;
  vo.target = target;
  auto verified = verifier::verify(prog, vo);
  if (!verified) return 0;

  const vm::Interpreter interp(*verified);
  const uint32_t want = interp.run(pkt, caplen, wirelen, ctx);
  const uint32_t spec = vm::evaluate(insns, target, pkt, caplen, wirelen, ctx);
  if (spec != want) report(insns, "vm::evaluate", want, spec, caplen);

#ifdef JIT_DIFF_ASMJIT
  jit::AsmjitOptions opts;
  opts.dual_version = (flags >> 1) & 1;
  opts.use_cpu_extensions = (flags >> 2) & 1;
  auto code = jit::compile_asmjit(*verified, opts);
  if (!code) report(insns, "asmjit (compile failed)", want, ~0u, caplen);
  const uint32_t got = code->fn()(pkt, caplen, wirelen, &ctx);
  if (got != want) report(insns, "asmjit", want, got, caplen);
#endif
  for (jit::Engine e : {jit::Engine::kAsmjit, jit::Engine::kLlvm}) {
    if (!jit::available(e)) continue;
    // LLVM takes milliseconds per compile (asmjit microseconds): it is compiled for one input in
    // sixteen (by a checksum of the input, so seeds and their mutations all take turns) and
    // then checked on every tail of the packet too, through Filter::run and Filter::run_batch
    // (the loop the filter is inlined into).
    const bool llvm = e == jit::Engine::kLlvm;
    if (llvm) {
      uint32_t sum = 0;
      for (size_t i = 0; i < size; ++i) sum = sum * 31 + data[i];
      if ((sum >> 7) % 16 != 0) continue;
    }
    auto f = jit::Filter::compile(*verified, e);
    if (!f) report(insns, "Filter::compile failed", want, ~0u, caplen);
    const uint32_t v = f->run(pkt, caplen, wirelen, ctx);
    if (v != want) report(insns, std::string(jit::engine_name(e)).c_str(), want, v, caplen);
    if (!llvm) continue;
    // Every tail of the packet (its last `len` bytes) also ends at the guard page.
    std::vector<jit::PacketView> views;
    for (uint32_t len = 0; len <= caplen && len <= 256; ++len)
      views.push_back({pkt + caplen - len, len, wirelen});
    std::vector<uint32_t> got(views.size());
    f->run_batch(views, got.data(), ctx);
    for (size_t i = 0; i < views.size(); ++i) {
      const uint32_t ref = interp.run(views[i].data, views[i].caplen, wirelen, ctx);
      if (got[i] != ref) report(insns, "llvm run_batch", ref, got[i], views[i].caplen);
      const uint32_t one = f->run(views[i].data, views[i].caplen, wirelen, ctx);
      if (one != ref) report(insns, "llvm (packet tail)", ref, one, views[i].caplen);
    }
  }
  return 0;
}
