// Engine choice and the Filter wrapper (see engine.hpp), the interpreter backend, and the loader
// of the LLVM engine's module (jit/backend.hpp, LlvmPlugin): dlopen()ed once, on first use, from
// BPFC_LLVM_PLUGIN when it is set (and then only from there: a module named there that cannot be
// read is an error naming it, never a silent fall-back to another copy), else from the
// directory of the library holding this code (libbpfc.so's lib/), <executable>/../lib,
// <executable>/ or the build tree; its table must carry this build's kLlvmPluginAbi. Tested by
// tests/jit/llvm_engine_test.cpp (tools' dependencies,
// --emit-llvm, a broken module) and every Engine::kLlvm test.
#include "jit/engine.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#if defined(BPFC_JIT_LLVM_LINKED)
// BPFC_LLVM_MODULE=OFF: the engine's entry table is linked in (jit/llvm/plugin.cpp).
extern "C" const bpf::jit::detail::LlvmPlugin* bpfc_llvm_plugin_v1();
#endif

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

#if defined(BPFC_JIT_LLVM_LINKED)
const LlvmPlugin* llvm_plugin(std::string*) { return bpfc_llvm_plugin_v1(); }
#elif defined(BPFC_JIT_HAS_LLVM)
const LlvmPlugin* llvm_plugin(std::string* why) {
  static std::once_flag once;
  static const LlvmPlugin* plugin = nullptr;
  static std::string error;
  std::call_once(once, [] {
    std::vector<std::string> paths;
    if (const char* env = std::getenv("BPFC_LLVM_PLUGIN"); env != nullptr && *env != 0) {
      if (access(env, R_OK) != 0) {
        error = std::string("BPFC_LLVM_PLUGIN=") + env + ": " + std::strerror(errno);
        return;
      }
      paths.push_back(env);
    }
    if (paths.empty()) {
      // Beside the library holding this code (libbpfc.so, installed with the module in the
      // same lib/), so that an application linked with it finds the module of its own install.
      Dl_info self{};
      if (dladdr(reinterpret_cast<const void*>(&llvm_plugin), &self) != 0 &&
          self.dli_fname != nullptr && self.dli_fname[0] == '/') {
        std::string dir(self.dli_fname);
        dir.erase(dir.find_last_of('/') + 1);
        paths.push_back(dir + "libbpfc_llvm.so");
      }
      char exe[PATH_MAX];
      const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
      if (n > 0) {
        std::string dir(exe, size_t(n));
        dir.erase(dir.find_last_of('/') + 1);
        paths.push_back(dir + "../lib/libbpfc_llvm.so");
        paths.push_back(dir + "libbpfc_llvm.so");
      }
      paths.push_back(BPFC_LLVM_PLUGIN_BUILD_PATH);
    }
    for (const std::string& path : paths) {
      if (access(path.c_str(), R_OK) != 0) continue;
      void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (h == nullptr) {
        error = "cannot load the LLVM engine " + path + ": " + dlerror();
        return;
      }
      using Entry = const LlvmPlugin* (*)();
      auto entry = reinterpret_cast<Entry>(dlsym(h, kLlvmPluginSymbol));
      const LlvmPlugin* p = entry != nullptr ? entry() : nullptr;
      if (p == nullptr || p->abi != kLlvmPluginAbi) {
        error = path + " is not the LLVM engine of this build (rebuild it)";
        return;  // keep it loaded: unloading LLVM is not supported
      }
      plugin = p;
      return;
    }
    error = "the LLVM engine module libbpfc_llvm.so was not found (set BPFC_LLVM_PLUGIN)";
  });
  if (plugin == nullptr && why != nullptr) *why = error;
  return plugin;
}
#else
const LlvmPlugin* llvm_plugin(std::string* why) {
  if (why != nullptr) *why = "this build has no LLVM engine";
  return nullptr;
}
#endif

}  // namespace detail

Result<std::string> emit_llvm_ir(const vm::VerifiedProgram& prog) {
  std::string why;
  const detail::LlvmPlugin* p = detail::llvm_plugin(&why);
  if (p == nullptr || !p->available()) {
    Diagnostics d;
    d.error(p == nullptr ? why : "LLVM cannot generate code for this host");
    return d;
  }
  return p->ir(prog);
}

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
    case Engine::kLlvm: {
      const detail::LlvmPlugin* p = detail::llvm_plugin();
      return p != nullptr && p->available();
    }
  }
  return false;
}

std::string unavailable_reason(Engine e) {
  if (available(e)) return {};
  if (e == Engine::kLlvm) {
    std::string why;
    if (const detail::LlvmPlugin* p = detail::llvm_plugin(&why); p != nullptr)
      return "LLVM cannot generate code for this host";
    return why;
  }
  return "engine " + std::string(engine_name(e)) + " is not built into this binary";
}

Engine choose_auto(uint64_t expected_packets, size_t program_insns) {
  const bool asmjit = available(Engine::kAsmjit);
  // The length tests first: asking whether LLVM is available loads it.
  if (expected_packets >= (asmjit ? kLlvmAutoPackets : kLlvmAutoPacketsNoAsmjit) &&
      program_insns <= kLlvmAutoMaxInsns && available(Engine::kLlvm))
    return Engine::kLlvm;
  return asmjit ? Engine::kAsmjit : Engine::kInterp;
}

Result<Filter> Filter::compile(const vm::VerifiedProgram& prog, Engine engine,
                               uint64_t expected_packets) {
  // kAuto: see choose_auto (engine.hpp) for the compile-time vs run-time trade.
  Engine chosen = engine == Engine::kAuto ? choose_auto(expected_packets, prog.size()) : engine;
  if (!available(chosen)) {
    Diagnostics d;
    d.error(unavailable_reason(chosen));
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
        if (const detail::LlvmPlugin* p = detail::llvm_plugin()) return p->compile(prog);
        break;
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
