// Engine choice and the Filter wrapper (see engine.hpp), plus the interpreter backend.
#include "jit/engine.hpp"

#include <new>
#include <utility>

namespace bpf::jit {

namespace detail {

namespace {
void interp_batch(const void* s, const vm::PacketRef* pkts, size_t n, uint32_t* out,
                  const vm::Context& ctx) {
  static_cast<const vm::Interpreter*>(s)->run_batch({pkts, n}, out, ctx);
}
void interp_destroy(void* s) { delete static_cast<vm::Interpreter*>(s); }
}  // namespace

Result<Backend> compile_interp(const vm::VerifiedProgram& prog) {
  auto* interp = new (std::nothrow) vm::Interpreter(prog);
  if (!interp) {
    Diagnostics d;
    d.error("out of memory while preparing the interpreter");
    return d;
  }
  return Backend{interp, interp_destroy, &vm::Interpreter::run_thunk, interp_batch};
}

}  // namespace detail

std::optional<Engine> parse_engine(std::string_view name) {
  for (Engine e : kAllEngines)
    if (engine_name(e) == name) return e;
  return std::nullopt;
}

std::string_view engine_name(Engine e) {
  switch (e) {
    case Engine::kAuto: return "auto";
    case Engine::kInterp: return "interp";
    case Engine::kAsmjit: return "asmjit";
    case Engine::kLlvm: return "llvm";
  }
  return "?";
}

bool available(Engine e) {
  switch (e) {
    case Engine::kAuto:
    case Engine::kInterp:
      return true;
    case Engine::kAsmjit:
#ifdef BPFC_JIT_HAS_ASMJIT
      return true;
#else
      return false;
#endif
    case Engine::kLlvm:
#ifdef BPFC_JIT_HAS_LLVM
      return true;
#else
      return false;
#endif
  }
  return false;
}

Engine choose_auto(uint64_t expected_packets) {
  const bool asmjit = available(Engine::kAsmjit);
  if (available(Engine::kLlvm) &&
      expected_packets >= (asmjit ? kLlvmAutoPackets : kLlvmAutoPacketsNoAsmjit))
    return Engine::kLlvm;
  return asmjit ? Engine::kAsmjit : Engine::kInterp;
}

Result<Filter> Filter::compile(const vm::VerifiedProgram& prog, Engine engine,
                               uint64_t expected_packets) {
  // kAuto: see choose_auto (engine.hpp) for the compile-time vs run-time trade.
  Engine chosen = engine == Engine::kAuto ? choose_auto(expected_packets) : engine;
  if (!available(chosen)) {
    Diagnostics d;
    d.error("engine '" + std::string(engine_name(chosen)) + "' is not built into this binary");
    return d;
  }
  Result<detail::Backend> b = [&]() -> Result<detail::Backend> {
    switch (chosen) {
      case Engine::kAuto:
      case Engine::kInterp:
        return detail::compile_interp(prog);
      case Engine::kAsmjit:
#ifdef BPFC_JIT_HAS_ASMJIT
        return detail::compile_asmjit(prog);
#else
        break;
#endif
      case Engine::kLlvm:
#ifdef BPFC_JIT_HAS_LLVM
        return detail::compile_llvm(prog);
#else
        break;
#endif
    }
    Diagnostics d;
    d.error("engine not built");
    return d;
  }();
  if (!b) return b.diagnostics();
  return Result<Filter>(Filter(chosen, b.value()), b.diagnostics());
}

Filter::Filter(Filter&& other) noexcept
    : engine_(other.engine_), backend_(std::exchange(other.backend_, detail::Backend{})) {}

Filter& Filter::operator=(Filter&& other) noexcept {
  if (this != &other) {
    if (backend_.destroy) backend_.destroy(backend_.state);
    engine_ = other.engine_;
    backend_ = std::exchange(other.backend_, detail::Backend{});
  }
  return *this;
}

Filter::~Filter() {
  if (backend_.destroy) backend_.destroy(backend_.state);
}

void Filter::run_batch(std::span<const PacketView> pkts, uint32_t* out,
                       const vm::Context& ctx) const {
  if (backend_.batch) {
    backend_.batch(backend_.state, pkts.data(), pkts.size(), out, ctx);
    return;
  }
  for (size_t i = 0; i < pkts.size(); ++i)
    out[i] = backend_.run(backend_.state, pkts[i].data, pkts[i].caplen, pkts[i].wirelen, ctx);
}

}  // namespace bpf::jit
