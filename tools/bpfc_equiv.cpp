// `bpfc --equiv A B` (../shared/CLI.md "--equiv"): reads two filters -- each `-e EXPR`, `-F FILE`
// or a program FILE (assembly or bytecode, -x) -- verifies both for the chosen --semantics and
// asks analysis::check_equivalence() whether they agree on every packet. Output as diff(1):
// `equivalent` (exit 0), or `different`, the interpreter-confirmed witness and what each filter
// returns (exit 1); every error (usage, unreadable or invalid filter, solver) exits 2. `-w FILE`
// writes the witness as a one-packet pcap of the link type (-l). Tested by
// tests/analysis/equiv_cli_test.cpp.
#include "tools/bpfc_equiv.hpp"

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/equiv.hpp"
#include "compiler/expr.hpp"
#include "compiler/formats.hpp"
#include "tools/input.hpp"
#include "verifier/verifier.hpp"

namespace bpf::tools {
namespace {

constexpr int kEquivalent = 0, kDifferent = 1, kError = 2;

struct FilterArg {
  enum Kind { kExpr, kExprFile, kProgram } kind;
  std::string text;  // the expression, or the file
};

struct EquivArgs {
  std::vector<FilterArg> filters;
  bool exact = false;
  unsigned timeout_ms = 0;  // --timeout: 0 = none; running out is an error (exit 2), not a verdict
  vm::Target target = vm::Target::kLinux;
  std::string linktype = "EN10MB";
  std::string witness_file;
  int opt_level = 2;
  uint32_t snaplen = 262144;
  std::optional<compiler::Format> in_format;
};

int fail(const std::string& msg) {
  std::fprintf(stderr, "bpfc: %s\n", msg.c_str());
  return kError;
}

// The filter as a verified program, or nullopt after printing its diagnostics.
std::optional<vm::VerifiedProgram> load(const FilterArg& f, const EquivArgs& a, int linktype,
                                        const char* which) {
  std::string source, display;
  Result<vm::Program> prog{Diagnostics{}};
  if (f.kind == FilterArg::kProgram) {
    display = f.text;
    std::string why;
    if (!read_input(f.text, source, why)) {
      fail("cannot read '" + f.text + "': " + why);
      return std::nullopt;
    }
    std::optional<compiler::Format> in = a.in_format;
    if (!in) in = compiler::detect_format(source);
    prog = compiler::read_bytecode(source, in.value_or(compiler::Format::kAsm));
  } else {
    display = "<expr>";
    source = f.text;
    if (f.kind == FilterArg::kExprFile) {
      display = f.text;
      std::string why;
      if (!read_input(f.text, source, why)) {
        fail("cannot read the expression file '" + f.text + "': " + why);
        return std::nullopt;
      }
      auto text = expression_file_text(source);
      if (!text.ok()) {
        std::fputs(text.diagnostics().render(display).c_str(), stderr);
        return std::nullopt;
      }
      source = text.take();
    }
    compiler::ExprOptions eo;
    eo.linktype = linktype;
    eo.snaplen = a.snaplen;
    eo.opt_level = a.opt_level;
    eo.target = a.target;
    prog = compiler::compile_expression(source, eo);
    auto& items = prog.diagnostics().items();
    std::erase_if(items, [](const Diagnostic& d) { return d.severity != Severity::kError; });
  }
  if (!prog.ok()) {
    std::fprintf(stderr, "bpfc: filter %s is invalid:\n", which);
    prog.diagnostics().attach_source(source);
    std::fputs(prog.diagnostics().render(display).c_str(), stderr);
    return std::nullopt;
  }
  verifier::Options vo;
  vo.target = a.target;
  vo.snaplen = a.snaplen;
  vo.destination = verifier::Destination::kUserSpace;
  auto v = verifier::verify(*prog, vo);
  if (!v.ok()) {
    std::fprintf(stderr, "bpfc: filter %s is rejected by the verifier:\n", which);
    Diagnostics errors;
    for (const Diagnostic& d : v.diagnostics().items())
      if (d.severity == Severity::kError) errors.add(d);
    errors.attach_source(source);
    std::fputs(errors.render(display).c_str(), stderr);
    return std::nullopt;
  }
  return v.take();
}

void put_le32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_le16(std::string& s, uint16_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>(v >> 8);
}

// A one-packet pcap (libpcap's file format, little-endian, microseconds) of the link type.
bool write_pcap(const std::string& path, int linktype, const analysis::Witness& w) {
  std::string f;
  put_le32(f, 0xa1b2c3d4u);
  put_le16(f, 2);
  put_le16(f, 4);
  put_le32(f, 0);
  put_le32(f, 0);
  put_le32(f, 262144);
  put_le32(f, static_cast<uint32_t>(linktype));
  put_le32(f, 0);
  put_le32(f, 0);
  put_le32(f, static_cast<uint32_t>(w.bytes.size()));
  put_le32(f, w.wirelen);
  f.append(reinterpret_cast<const char*>(w.bytes.data()), w.bytes.size());
  FILE* out = path == "-" ? stdout : std::fopen(path.c_str(), "wb");
  if (out == nullptr) return false;
  bool ok = std::fwrite(f.data(), 1, f.size(), out) == f.size();
  ok = (out == stdout ? std::fflush(out) : std::fclose(out)) == 0 && ok;
  return ok;
}

}  // namespace

int run_equiv(int argc, char** argv) {
  EquivArgs a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](const char* what) -> std::optional<std::string> {
      if (i + 1 >= argc) {
        fail(std::string("option ") + std::string(arg) + " needs " + what);
        return std::nullopt;
      }
      return std::string(argv[++i]);
    };
    if (arg == "--equiv") {
      continue;
    } else if (arg == "--exact") {
      a.exact = true;
    } else if (arg == "--timeout") {
      auto v = value("milliseconds");
      if (!v) return kError;
      char* end = nullptr;
      const unsigned long n = std::strtoul(v->c_str(), &end, 10);
      if (v->empty() || *end != '\0' || n > 0xffffffffUL) return fail("invalid timeout '" + *v + "' (milliseconds)");
      a.timeout_ms = static_cast<unsigned>(n);
    } else if (arg == "-e") {
      auto v = value("an expression");
      if (!v) return kError;
      a.filters.push_back({FilterArg::kExpr, *v});
    } else if (arg == "-F") {
      auto v = value("a file");
      if (!v) return kError;
      a.filters.push_back({FilterArg::kExprFile, *v});
    } else if (arg == "--semantics" || arg == "--target") {
      auto v = value("linux or bsd");
      if (!v) return kError;
      if (*v == "linux") a.target = vm::Target::kLinux;
      else if (*v == "bsd") a.target = vm::Target::kBsd;
      else return fail("unknown semantics '" + *v + "' (linux or bsd)");
    } else if (arg == "-l" || arg == "--linktype") {
      auto v = value("a link-layer type name");
      if (!v) return kError;
      a.linktype = *v;
    } else if (arg == "-w") {
      auto v = value("a file");
      if (!v) return kError;
      a.witness_file = *v;
    } else if (arg == "-s" || arg == "--snaplen") {
      auto v = value("a number");
      if (!v) return kError;
      char* end = nullptr;
      const unsigned long n = std::strtoul(v->c_str(), &end, 10);
      if (v->empty() || *end != '\0' || n > 0xffffffffUL) return fail("invalid snap length '" + *v + "'");
      a.snaplen = static_cast<uint32_t>(n);
    } else if (arg == "-x" || arg == "--input-format") {
      auto v = value("a format name");
      if (!v) return kError;
      a.in_format = compiler::parse_format_name(*v);
      if (!a.in_format || *a.in_format == compiler::Format::kListing)
        return fail("unknown input format '" + *v + "' (asm, c, ddd, xt_bpf, bin)");
    } else if (arg == "-O0" || arg == "-O1" || arg == "-O2") {
      a.opt_level = arg[2] - '0';
    } else if (arg == "-" || arg.empty() || arg[0] != '-') {
      a.filters.push_back({FilterArg::kProgram, std::string(arg)});
    } else {
      return fail("--equiv: unknown or inapplicable option '" + std::string(arg) +
                  "'\n(bpfc --help for usage)");
    }
  }
  if (a.filters.size() != 2)
    return fail("--equiv needs exactly two filters (each -e EXPR, -F FILE or a program FILE); got " +
                std::to_string(a.filters.size()));
  const std::optional<int> lt = compiler::linktype_from_name(a.linktype);
  if (!lt || !compiler::linktype_supported(*lt))
    return fail("unknown or unsupported link type '" + a.linktype + "'");
  auto pa = load(a.filters[0], a, *lt, "A");
  if (!pa) return kError;
  auto pb = load(a.filters[1], a, *lt, "B");
  if (!pb) return kError;
  analysis::EquivOptions eo;
  eo.exact = a.exact;
  eo.timeout_ms = a.timeout_ms;
  auto r = analysis::check_equivalence(*pa, *pb, eo);
  if (!r.ok()) {
    for (const Diagnostic& d : r.diagnostics().items()) fail(d.message);
    return kError;
  }
  if (r->equivalent) {
    std::fputs("equivalent\n", stdout);
    return std::fflush(stdout) == 0 ? kEquivalent : kError;
  }
  const analysis::Witness& w = r->witness;
  if (!a.witness_file.empty() && !write_pcap(a.witness_file, *lt, w))
    return fail("cannot write the witness to '" + a.witness_file + "': " + std::strerror(errno));
  std::string out = "different\n" + analysis::format_witness(w) + "A returns " +
                    std::to_string(w.a_returns) + ", B returns " + std::to_string(w.b_returns) + "\n";
  if (a.witness_file == "-") return kDifferent;  // stdout holds the pcap
  std::fputs(out.c_str(), stdout);
  return std::fflush(stdout) == 0 ? kDifferent : kError;
}

}  // namespace bpf::tools
