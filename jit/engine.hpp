// bpf::jit::Filter: compile a verified program once with the chosen engine, run it per packet
// or per batch. The embedding API of bpfc (bpfdump, capture/ and users' programs use it).
//
//   auto f = bpf::jit::Filter::compile(verified, bpf::jit::Engine::kAuto);
//   if (!f) { /* f.diagnostics() says why (e.g. engine not built) */ }
//   uint32_t keep = f->run(pkt, caplen, wirelen);        // bytes to keep, 0 = drop
//
// Engines: kInterp (vm::Interpreter, always built), kAsmjit and kLlvm (when built in);
// kAuto picks by the expected length of the run (choose_auto below). Filter owns the compiled
// code (RAII), is move-only, and does not allocate or make a virtual call per packet (one
// indirect call into the engine).
// Tested by tests/conformance/ (every case on every available engine) and tests/jit/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <span>
#include <string_view>

#include "jit/backend.hpp"
#include "vm/context.hpp"
#include "vm/diagnostic.hpp"
#include "vm/interpreter.hpp"
#include "vm/program.hpp"

namespace bpf::jit {

enum class Engine : uint8_t { kAuto, kInterp, kAsmjit, kLlvm };
inline constexpr Engine kAllEngines[] = {Engine::kAuto, Engine::kInterp, Engine::kAsmjit,
                                         Engine::kLlvm};

std::optional<Engine> parse_engine(std::string_view name);  // "auto" "interp" "asmjit" "llvm"
std::string_view engine_name(Engine e);
bool available(Engine e);
// Why available(e) is false, in a sentence (empty when it is true): not built into this binary,
// or the LLVM engine's module missing or broken (the loader's message).
std::string unavailable_reason(Engine e);

// What kAuto compiles with, for a run of about `expected_packets` packets (0 = unknown/short).
// Measured (bench/: AsmjitCompile, LlvmCompile, AsmjitSummary; 2-core shared x86-64, thread CPU
// time): asmjit compiles an 18-50 instruction filter in ~5-10 us, LLVM in ~4-11 ms (with the
// batch entry). LLVM's batch loop then saves ~1.5 ns/packet over asmjit's, its per-packet entry
// ~0.2 ns, and ~4 ns/packet over the interpreter. Break-even is therefore millions of packets:
// asmjit (or, where it is not built, the interpreter) for short or unknown runs, LLVM from
// kLlvmAutoPackets on (from kLlvmAutoPacketsNoAsmjit when asmjit is not built).
inline constexpr uint64_t kLlvmAutoPackets = uint64_t{1} << 24;          // ~16.8M packets
inline constexpr uint64_t kLlvmAutoPacketsNoAsmjit = uint64_t{1} << 21;  // ~2.1M packets
// LLVM's compile time grows faster than the program (its O2 pipeline and code generation are
// superlinear on long compare chains: `bpfdump --engine llvm --verdicts` on `ldh [12];
// jeq #k, accept` chains, trampolines included, takes 0.25 s at 3,750 instructions, 0.43 s at
// 7,750, 0.96 s at 15,750, 2.8 s at 31,750, 8.9 s at 59,750 and 25-39 s at 199,748, where asmjit
// and the interpreter take 0.5 s, linear). kAuto never picks LLVM for programs longer than this;
// an explicit Engine::kLlvm still compiles them.
inline constexpr size_t kLlvmAutoMaxInsns = 4096;
// program_insns: the program's length (0 = unknown, taken as short).
Engine choose_auto(uint64_t expected_packets = 0, size_t program_insns = 0);  // built in

// The optimised LLVM IR of what Engine::kLlvm runs for `prog` (`bpfc --emit-llvm`); an error
// when the LLVM engine is not available.
Result<std::string> emit_llvm_ir(const vm::VerifiedProgram& prog);

using PacketView = vm::PacketRef;  // { data, caplen, wirelen }

class Filter {
 public:
  // expected_packets: how many packets the filter will see (0 = unknown, taken as a short
  // run); only kAuto looks at it.
  static Result<Filter> compile(const vm::VerifiedProgram& prog, Engine engine = Engine::kAuto,
                                uint64_t expected_packets = 0);

  Filter(Filter&& other) noexcept;
  Filter& operator=(Filter&& other) noexcept;
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;
  ~Filter();

  uint32_t run(const uint8_t* pkt, uint32_t caplen, uint32_t wirelen,
               const vm::Context& ctx = {}) const {
    return backend_.run(backend_.state, pkt, caplen, wirelen, ctx);
  }
  void run_batch(std::span<const PacketView> pkts, uint32_t* out,
                 const vm::Context& ctx = {}) const;
  Engine engine() const { return engine_; }

 private:
  Filter(Engine e, detail::Backend b) : engine_(e), backend_(b) {}
  Engine engine_;
  detail::Backend backend_;
};

}  // namespace bpf::jit
