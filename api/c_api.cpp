// The C API (bpfc.h) over the C++ libraries: a thin layer that converts Result<T> diagnostics
// into errbuf messages and C++ failures (std::bad_alloc, anything else thrown by the standard
// library) into error returns, so that nothing prints, throws or exits across it.
//
// Invariants: on failure an output program is {0, NULL}; errbuf (when not NULL) always holds a
// NUL-terminated message of at most BPFC_ERRBUF_SIZE bytes, every error diagnostic on its own
// line, cut at a line boundary (with a "(N more)" line when it can) when they do not all fit;
// program instructions are malloc()ed, so pcap_freecode() may free them. A bpfc_filter is
// immutable after bpfc_filter_new, and every engine's run is const and reentrant, so it may be
// run from several threads. Tested by tests/api/c_api_test.cpp.
#include "api/bpfc.h"

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/assembler.hpp"
#include "compiler/classify/classify.hpp"
#include "compiler/expr.hpp"
#include "jit/engine.hpp"
#include "verifier/verifier.hpp"
#include "vm/diagnostic.hpp"
#include "vm/insn.hpp"
#include "vm/program.hpp"

static_assert(sizeof(bpfc_insn) == sizeof(bpf::vm::Insn), "bpfc_insn must be vm::Insn");
static_assert(offsetof(bpfc_insn, code) == offsetof(bpf::vm::Insn, code));
static_assert(offsetof(bpfc_insn, jt) == offsetof(bpf::vm::Insn, jt));
static_assert(offsetof(bpfc_insn, jf) == offsetof(bpf::vm::Insn, jf));
static_assert(offsetof(bpfc_insn, k) == offsetof(bpf::vm::Insn, k));

struct bpfc_filter {
  bpf::vm::VerifiedProgram program;  // kept for the filter's lifetime (engines may refer to it)
  bpf::jit::Filter filter;
};

namespace {

constexpr uint32_t kDefaultSnaplen = 262144;

// Copies `msg` into errbuf: whole lines while they fit, then "(N more)" if that fits; a first
// line longer than the buffer is cut before a UTF-8 continuation byte.
void set_error(char* errbuf, std::string_view msg) noexcept {
  if (errbuf == nullptr) return;
  constexpr size_t kCap = BPFC_ERRBUF_SIZE - 1;
  while (!msg.empty() && msg.back() == '\n') msg.remove_suffix(1);
  if (msg.size() <= kCap) {
    std::memcpy(errbuf, msg.data(), msg.size());
    errbuf[msg.size()] = '\0';
    return;
  }
  size_t used = 0;  // bytes of msg kept (whole lines)
  size_t lines = 0, total = 1;
  for (char c : msg) total += c == '\n';
  for (size_t pos = 0; pos < msg.size();) {
    size_t end = msg.find('\n', pos);
    if (end == std::string_view::npos) end = msg.size();
    if (end > kCap) break;
    used = end;
    ++lines;
    pos = end + 1;
  }
  if (lines == 0) {  // the first line alone is too long: cut it at a character boundary
    used = kCap;
    while (used > 0 && (static_cast<unsigned char>(msg[used]) & 0xc0) == 0x80) --used;
    std::memcpy(errbuf, msg.data(), used);
    errbuf[used] = '\0';
    return;
  }
  char more[32];
  const int n = std::snprintf(more, sizeof more, "\n(%zu more)", total - lines);
  while (lines > 0 && used + size_t(n) > kCap) {  // make room for the "(N more)" line
    const size_t prev = msg.rfind('\n', used - 1);
    if (prev == std::string_view::npos) break;
    used = prev;
    --lines;
    std::snprintf(more, sizeof more, "\n(%zu more)", total - lines);
  }
  std::memcpy(errbuf, msg.data(), used);
  size_t len = used;
  if (len + std::strlen(more) <= kCap) {
    std::memcpy(errbuf + len, more, std::strlen(more));
    len += std::strlen(more);
  }
  errbuf[len] = '\0';
}

// Every error, one per line: "LINE:COL: message" for text, "insn N: message" for programs.
std::string render_errors(const bpf::Diagnostics& diags, std::string_view what) {
  std::string out;
  for (const bpf::Diagnostic& d : diags.items()) {
    if (d.severity != bpf::Severity::kError) continue;
    if (!out.empty()) out += '\n';
    if (d.loc.known()) {
      out += std::to_string(d.loc.line);
      if (d.loc.column != 0) out += ':' + std::to_string(d.loc.column);
      out += ": ";
    } else if (d.insn_index) {
      out += "insn " + std::to_string(*d.insn_index) + ": ";
    }
    // Multi-line messages stay readable as one diagnostic per line.
    for (char c : d.message) out += c == '\n' ? ' ' : c;
  }
  if (out.empty()) out = std::string(what) + " failed";
  return out;
}

// Runs `body` (which returns the C result) and turns anything thrown into `fail` + a message.
template <class R, class F>
R guarded(char* errbuf, R fail, F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    set_error(errbuf, "out of memory");
  } catch (const std::exception& e) {
    set_error(errbuf, std::string("internal error: ") + e.what());
  } catch (...) {
    set_error(errbuf, "internal error");
  }
  return fail;
}

void clear(bpfc_program* out) {
  if (out == nullptr) return;
  out->len = 0;
  out->insns = nullptr;
}

int store(bpfc_program* out, const bpf::vm::Program& prog, char* errbuf) {
  const size_t n = prog.insns.size();
  if (n > 0xffffffffu) {
    set_error(errbuf, "program too long");
    return -1;
  }
  auto* insns = static_cast<bpfc_insn*>(std::malloc(n == 0 ? 1 : n * sizeof(bpfc_insn)));
  if (insns == nullptr) {
    set_error(errbuf, "out of memory");
    return -1;
  }
  if (n != 0) std::memcpy(insns, prog.insns.data(), n * sizeof(bpfc_insn));
  out->len = static_cast<unsigned int>(n);
  out->insns = insns;
  return 0;
}

std::optional<bpf::vm::Target> to_target(int target) {
  switch (target) {
    case BPFC_TARGET_LINUX: return bpf::vm::Target::kLinux;
    case BPFC_TARGET_BSD: return bpf::vm::Target::kBsd;
    default: return std::nullopt;
  }
}

std::string bad_target(int target) {
  return "unknown target " + std::to_string(target) +
         " (BPFC_TARGET_LINUX = 0, BPFC_TARGET_BSD = 1)";
}

bpf::vm::Program to_program(const bpfc_program* prog) {
  bpf::vm::Program p;
  p.insns.resize(prog->len);
  for (unsigned int i = 0; i < prog->len; ++i)
    p.insns[i] = {prog->insns[i].code, prog->insns[i].jt, prog->insns[i].jf, prog->insns[i].k};
  return p;
}

// Checks the pointers of a program argument; false with a message when they are unusable.
bool valid_program(const bpfc_program* prog, char* errbuf) {
  if (prog == nullptr) {
    set_error(errbuf, "no program (NULL)");
    return false;
  }
  if (prog->len != 0 && prog->insns == nullptr) {
    set_error(errbuf, "program has " + std::to_string(prog->len) + " instructions but insns is NULL");
    return false;
  }
  return true;
}

}  // namespace

extern "C" {

int bpfc_compile(bpfc_program* out, const char* expr, int dlt, unsigned int snaplen,
                 int optimize, char* errbuf) {
  clear(out);
  if (out == nullptr || expr == nullptr) {
    set_error(errbuf, out == nullptr ? "no output program (NULL)" : "no expression (NULL)");
    return -1;
  }
  return guarded(errbuf, -1, [&] {
    if (!bpf::compiler::linktype_supported(dlt)) {
      set_error(errbuf, "link type " + std::to_string(dlt) + " is not supported");
      return -1;
    }
    bpf::compiler::ExprOptions opts;
    opts.linktype = dlt;
    opts.snaplen = snaplen == 0 ? kDefaultSnaplen : snaplen;
    opts.opt_level = optimize < 0 ? 0 : optimize > 2 ? 2 : optimize;
    auto r = bpf::compiler::compile_expression(expr, opts);
    if (!r) {
      r.diagnostics().resolve_offsets(expr);
      set_error(errbuf, render_errors(r.diagnostics(), "compiling the expression"));
      return -1;
    }
    return store(out, *r, errbuf);
  });
}

int bpfc_compile_rules(bpfc_program* out, const char* rules, int dlt, int optimize, char* errbuf) {
  clear(out);
  if (out == nullptr || rules == nullptr) {
    set_error(errbuf, out == nullptr ? "no output program (NULL)" : "no rules (NULL)");
    return -1;
  }
  return guarded(errbuf, -1, [&] {
    if (!bpf::compiler::linktype_supported(dlt)) {
      set_error(errbuf, "link type " + std::to_string(dlt) + " is not supported");
      return -1;
    }
    bpf::compiler::ExprOptions opts;
    opts.linktype = dlt;
    opts.opt_level = optimize < 0 ? 0 : optimize > 2 ? 2 : optimize;
    auto r = bpf::compiler::compile_classifier(std::string_view(rules), opts);
    if (!r) {
      set_error(errbuf, render_errors(r.diagnostics(), "compiling the rules"));
      return -1;
    }
    return store(out, *r, errbuf);
  });
}

int bpfc_assemble(bpfc_program* out, const char* source, char* errbuf) {
  clear(out);
  if (out == nullptr || source == nullptr) {
    set_error(errbuf, out == nullptr ? "no output program (NULL)" : "no source (NULL)");
    return -1;
  }
  return guarded(errbuf, -1, [&] {
    auto r = bpf::compiler::assemble(source);
    if (!r) {
      set_error(errbuf, render_errors(r.diagnostics(), "assembling"));
      return -1;
    }
    return store(out, *r, errbuf);
  });
}

int bpfc_verify(const bpfc_program* prog, int target, char* errbuf) {
  if (!valid_program(prog, errbuf)) return -1;
  const auto t = to_target(target);
  if (!t) {
    set_error(errbuf, bad_target(target));
    return -1;
  }
  return guarded(errbuf, -1, [&] {
    bpf::verifier::Options opts;
    opts.target = *t;
    auto r = bpf::verifier::verify(to_program(prog), opts);
    if (!r) {
      set_error(errbuf, render_errors(r.diagnostics(), "verification"));
      return -1;
    }
    return 0;
  });
}

void bpfc_program_free(bpfc_program* prog) {
  if (prog == nullptr) return;
  std::free(prog->insns);
  clear(prog);
}

bpfc_filter* bpfc_filter_new(const bpfc_program* prog, const char* engine, int target,
                             char* errbuf) {
  if (!valid_program(prog, errbuf)) return nullptr;
  const auto t = to_target(target);
  if (!t) {
    set_error(errbuf, bad_target(target));
    return nullptr;
  }
  return guarded(errbuf, static_cast<bpfc_filter*>(nullptr), [&]() -> bpfc_filter* {
    const std::string_view name = engine == nullptr ? "auto" : engine;
    const auto e = bpf::jit::parse_engine(name);
    if (!e) {
      set_error(errbuf, "unknown engine \"" + std::string(name) +
                            "\" (auto, interp, asmjit, llvm)");
      return nullptr;
    }
    bpf::verifier::Options opts;
    opts.target = *t;
    auto v = bpf::verifier::verify(to_program(prog), opts);
    if (!v) {
      set_error(errbuf, render_errors(v.diagnostics(), "verification"));
      return nullptr;
    }
    auto f = bpf::jit::Filter::compile(*v, *e);
    if (!f) {
      set_error(errbuf, render_errors(f.diagnostics(), "compiling the filter"));
      return nullptr;
    }
    return new bpfc_filter{v.take(), f.take()};
  });
}

unsigned int bpfc_filter_run(const bpfc_filter* f, const unsigned char* pkt, unsigned int caplen,
                             unsigned int wirelen) {
  if (f == nullptr || (pkt == nullptr && caplen != 0)) return 0;
  return f->filter.run(pkt, caplen, wirelen);
}

void bpfc_filter_run_batch(const bpfc_filter* f, const unsigned char* const* pkts,
                           const unsigned int* caplens, const unsigned int* wirelens,
                           unsigned int n, unsigned int* verdicts) {
  if (verdicts == nullptr) return;
  if (f == nullptr || pkts == nullptr || caplens == nullptr || wirelens == nullptr) {
    for (unsigned int i = 0; i < n; ++i) verdicts[i] = 0;
    return;
  }
  // In chunks on the stack: no allocation, so nothing can fail here.
  constexpr unsigned int kChunk = 256;
  bpf::jit::PacketView views[kChunk];
  for (unsigned int done = 0; done < n;) {
    const unsigned int m = n - done < kChunk ? n - done : kChunk;
    for (unsigned int i = 0; i < m; ++i)
      views[i] = {pkts[done + i], caplens[done + i], wirelens[done + i]};
    static_assert(sizeof(unsigned int) == sizeof(uint32_t));
    f->filter.run_batch({views, m}, reinterpret_cast<uint32_t*>(verdicts + done));
    done += m;
  }
}

const char* bpfc_filter_engine(const bpfc_filter* f) {
  if (f == nullptr) return "";
  return bpf::jit::engine_name(f->filter.engine()).data();  // names are string literals
}

void bpfc_filter_free(bpfc_filter* f) { delete f; }

const char* bpfc_version(void) { return "bpfc " BPFC_VERSION_STRING; }

}  // extern "C"
