// bpfc: assembler, disassembler, verifier front end and (with -e) expression compiler.
//
// The command-line contract is ../shared/CLI.md: FILE or stdin, -f/--format, -d/-dd/-ddd,
// -x/--input-format (autodetected when absent), --disasm, --check, -V/--verbose, --target,
// -e EXPR or -F FILE (as tcpdump -F) and -O/-l/-s for expressions; --classify RULES (one
// expression per line, compiled into one program returning the first matching rule's number); exit status 0 success,
// 1 invalid input, 2 usage error. Output is built completely in memory and written only on
// success, so stdout stays empty on any error; diagnostics go to stderr in the
// `FILE:LINE:COL: error: ...` form with source line and caret. Everything that prints a program
// (--disasm too) goes through verify_program() (the single verification point) unless
// --no-verify. Printing verifies for user space (any length); a program the kernel would refuse
// (longer than BPF_MAXINSNS, ...) is printed with a warning, and --check verifies for the kernel
// (verifier::Destination). No exception leaves main. Tested by tests/asm/cli_test.cpp.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/assembler.hpp"
#include "compiler/classify/classify.hpp"
#include "compiler/expr.hpp"
#include "compiler/formats.hpp"
#include "verifier/verifier.hpp"
#include "vm/diagnostic.hpp"
#include "vm/program.hpp"

#include "analysis/graph.hpp"
#include "jit/ebpf/output.hpp"
#include "jit/ebpf/translate.hpp"
#include "jit/engine.hpp"
#include "tools/bpfc_equiv.hpp"
#include "tools/input.hpp"

namespace {

using bpf::Diagnostics;
using bpf::compiler::Format;

constexpr int kExitOk = 0, kExitInvalid = 1, kExitUsage = 2;

const char* const kUsage =
    "usage: bpfc [options] [FILE|-]          assemble bpf_asm / netsniff-ng syntax\n"
    "       bpfc [options] -e 'EXPR'         compile a pcap-filter(7) expression\n"
    "       bpfc [options] -F FILE           compile the pcap-filter(7) expression in FILE\n"
    "       bpfc --disasm [options] FILE|-   read bytecode, print it in another format\n"
    "       bpfc --check [options] FILE|-    verify only (exit 0 valid, 1 invalid)\n"
    "       bpfc --equiv [options] A B       decide whether two filters agree on every packet\n"
    "                                        (each -e EXPR, -F FILE or a program FILE)\n"
    "       bpfc --classify [options] RULES  compile a rule file (one expression a line) into\n"
    "                                        one program returning the first matching rule's\n"
    "                                        number (1, 2, ...), 0 for none\n"
    "\n"
    "options:\n"
    "  -f, --format F         output: c (default, tcpdump -dd), ddd (tcpdump -ddd),\n"
    "                         listing (tcpdump -d), xt_bpf (bpf_asm/iptables), bin, asm,\n"
    "                         dot (Graphviz drawing of the verified program);\n"
    "                         ebpf, ebpf-c, elf: the eBPF translation for --hook\n"
    "  -d, -dd, -ddd          shorthands for -f listing, -f c, -f ddd\n"
    "  -x, --input-format F   input: asm, c, ddd, xt_bpf, bin (autodetected when absent)\n"
    "  --disasm               read bytecode and print it (default output: asm)\n"
    "  --check                verify only; diagnostics on stderr\n"
    "  --no-verify            print the program (also with --disasm) even if the verifier\n"
    "                         rejects it\n"
    "  --emit-llvm            print the optimised LLVM IR of the verified program (the\n"
    "                         code --engine llvm runs) instead of the program\n"
    "  --target linux|bsd     verification rules (default linux)\n"
    "  --hook socket|xdp|tc   eBPF formats: program type, ELF section, return convention\n"
    "                         (default socket)\n"
    "  -V, --verbose          print the listing and the verifier's report on stderr\n"
    "  -e EXPR                compile a pcap-filter expression\n"
    "  -F FILE                compile the pcap-filter expression in FILE ('#' comments)\n"
    "  -O0, -O1, -O2          expression optimisation level (default -O2)\n"
    "  -l, --linktype NAME    expression link-layer type (default EN10MB)\n"
    "  -s, --snaplen N        value an accepting expression returns (default 262144)\n"
    "  --exact                --equiv: compare return values, not only accept/reject\n"
    "  --timeout MS           --equiv: give up after MS milliseconds (exit 2, no verdict)\n"
    "  --semantics linux|bsd  --equiv: runtime semantics (default linux)\n"
    "  -w FILE                --equiv: write the witness packet as a one-packet pcap\n"
    "  -h, --help             this text\n";

struct Options {
  std::optional<std::string> file;
  std::optional<std::string> expr;
  std::optional<std::string> expr_file;  // -F
  std::optional<std::string> rules_file;  // --classify
  std::optional<Format> out_format;
  std::optional<Format> in_format;
  bool disasm = false;
  bool check = false;
  bool verify = true;
  bool verbose = false;
  bool emit_llvm = false;
  bool dot = false;  // -f dot (analysis/graph.hpp)
  // -f ebpf|ebpf-c|elf (not compiler formats) and --hook
  enum class Ebpf : uint8_t { kText, kC, kElf };
  std::optional<Ebpf> ebpf;
  bpf::jit::ebpf::Hook hook = bpf::jit::ebpf::Hook::kSocket;
  bpf::vm::Target target = bpf::vm::Target::kLinux;
  int opt_level = 2;
  std::string linktype = "EN10MB";
  uint32_t snaplen = 262144;
};

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "bpfc: %s\n(bpfc --help for usage)\n", msg.c_str());
  return kExitUsage;
}

std::optional<uint32_t> parse_u32(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 0xffffffffull) return std::nullopt;
  return static_cast<uint32_t>(v);
}

// Returns an exit code when parsing must stop (help: 0, usage error: 2).
std::optional<int> parse_args(int argc, char** argv, Options& o) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  bool only_files = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    // Splits `--opt=value`; otherwise takes the next argument as the value.
    auto value = [&](std::string_view name, std::string_view& out) -> bool {
      std::string_view rest = a.substr(name.size());
      if (!rest.empty() && rest[0] == '=') {
        out = rest.substr(1);
        return true;
      }
      if (!rest.empty()) {  // -fc, -xbin, -O2 style glued values
        out = rest;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    auto is_opt = [&](std::string_view name) {
      return a == name ||
             (a.substr(0, name.size()) == name && (name.size() == 2 || a[name.size()] == '='));
    };
    std::string_view v;
    if (only_files || a == "-" || a.empty() || a[0] != '-') {
      if (o.file)
        return usage_error("more than one input file ('" + *o.file + "' and '" + std::string(a) +
                           "')");
      o.file = std::string(a);
    } else if (a == "--") {
      only_files = true;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else if (a == "-d" || a == "-dd" || a == "-ddd") {  // the last format named wins
      o.out_format = a == "-d" ? Format::kListing : a == "-dd" ? Format::kC : Format::kDdd;
      o.dot = false;
      o.ebpf.reset();
    } else if (a == "--disasm") {
      o.disasm = true;
    } else if (a == "--check") {
      o.check = true;
    } else if (a == "--no-verify") {
      o.verify = false;
    } else if (a == "--emit-llvm") {
      o.emit_llvm = true;
    } else if (a == "-V" || a == "--verbose") {
      o.verbose = true;
    } else if (a == "-O0" || a == "-O1" || a == "-O2") {
      o.opt_level = a[2] - '0';
    } else if (a.substr(0, 2) == "-O") {
      return usage_error("unknown optimisation level '" + std::string(a) + "' (use -O0, -O1, -O2)");
    } else if (is_opt("--format") || is_opt("-f")) {
      if (!value(a.substr(0, 2) == "--" ? "--format" : "-f", v))
        return usage_error("option " + std::string(a) + " needs a format name");
      o.dot = v == "dot";
      o.ebpf.reset();
      if (v == "ebpf" || v == "ebpf-c" || v == "elf") {
        o.ebpf = v == "ebpf" ? Options::Ebpf::kText : v == "elf" ? Options::Ebpf::kElf : Options::Ebpf::kC;
        o.out_format = Format::kC;
        continue;
      }
      auto f = o.dot ? std::optional<Format>(Format::kC) : bpf::compiler::parse_format_name(v);
      if (!f)
        return usage_error("unknown output format '" + std::string(v) +
                           "' (c, ddd, listing, xt_bpf, bin, asm, dot, ebpf, ebpf-c, elf)");
      o.out_format = f;
    } else if (is_opt("--input-format") || is_opt("-x")) {
      if (!value(a.substr(0, 2) == "--" ? "--input-format" : "-x", v))
        return usage_error("option " + std::string(a) + " needs a format name");
      auto f = bpf::compiler::parse_format_name(v);
      if (!f || *f == Format::kListing)
        return usage_error("unknown input format '" + std::string(v) +
                           "' (asm, c, ddd, xt_bpf, bin)");
      o.in_format = f;
    } else if (is_opt("--target")) {
      if (!value("--target", v)) return usage_error("option --target needs linux or bsd");
      if (v == "linux")
        o.target = bpf::vm::Target::kLinux;
      else if (v == "bsd")
        o.target = bpf::vm::Target::kBsd;
      else
        return usage_error("unknown target '" + std::string(v) + "' (linux or bsd)");
    } else if (is_opt("--hook")) {
      if (!value("--hook", v)) return usage_error("option --hook needs socket, xdp or tc");
      auto h = bpf::jit::ebpf::parse_hook(v);
      if (!h) return usage_error("unknown hook '" + std::string(v) + "' (socket, xdp or tc)");
      o.hook = *h;
    } else if (is_opt("-e")) {
      if (!value("-e", v)) return usage_error("option -e needs an expression");
      if (o.expr) return usage_error("give one expression (-e) only");
      o.expr = std::string(v);
    } else if (is_opt("--classify")) {
      if (!value("--classify", v)) return usage_error("option --classify needs a rules file");
      if (o.rules_file) return usage_error("give one rules file (--classify) only");
      o.rules_file = std::string(v);
    } else if (is_opt("-F")) {
      if (!value("-F", v)) return usage_error("option -F needs a file");
      if (o.expr_file) return usage_error("give one expression file (-F) only");
      o.expr_file = std::string(v);
    } else if (is_opt("--linktype") || is_opt("-l")) {
      if (!value(a.substr(0, 2) == "--" ? "--linktype" : "-l", v))
        return usage_error("option " + std::string(a) + " needs a link-layer type name");
      o.linktype = std::string(v);
    } else if (is_opt("--snaplen") || is_opt("-s")) {
      if (!value(a.substr(0, 2) == "--" ? "--snaplen" : "-s", v))
        return usage_error("option " + std::string(a) + " needs a number");
      auto n = parse_u32(v);
      if (!n) return usage_error("invalid snap length '" + std::string(v) + "'");
      o.snaplen = *n;
    } else {
      return usage_error("unknown option '" + std::string(a) + "'");
    }
  }
  // As tcpdump: -F takes the expression from a file, and then none may follow on the line.
  if (o.expr && o.expr_file) return usage_error("give either -e EXPR or -F FILE, not both");
  if (o.expr_file && o.file)
    return usage_error("-F FILE gives the expression; an input file ('" + *o.file +
                       "') cannot be given too");
  if (o.expr && o.file) return usage_error("give either -e EXPR or an input file, not both");
  if (o.disasm && o.check) return usage_error("--disasm and --check exclude each other");
  if (o.emit_llvm && (o.check || o.disasm || !o.verify || o.out_format))
    return usage_error("--emit-llvm excludes --check, --disasm, --no-verify and -f");
  if (o.dot && (!o.verify || o.check))
    return usage_error("-f dot draws the verified program: it excludes --no-verify and --check");
  if (o.ebpf && !o.verify) return usage_error("the eBPF formats translate verified programs only (no --no-verify)");
  if (o.rules_file && (o.expr || o.expr_file || o.file))
    return usage_error("--classify RULES excludes -e, -F and an input file");
  const bool expression = o.expr || o.expr_file || o.rules_file;
  if (expression && o.disasm) return usage_error("--disasm reads bytecode, not an expression");
  if (expression && o.in_format) return usage_error("-x does not apply to expressions");
  return std::nullopt;
}

// The single verification point: every program that bpfc prints or checks passes here.
// Appends the verifier's errors (and, with -V, its warnings); `report` gets the verifier's
// description of a valid program (for -V). Returns whether the program is valid.
// --check verifies for the kernel (its length and conversion limits are errors); printing
// verifies for user space and turns the kernel's limits into warnings printed without -V: the
// program is printed, and the user learns that the kernel will refuse it.
std::optional<bpf::vm::VerifiedProgram> verify_program(const bpf::vm::Program& prog,
                                                       const Options& o, Diagnostics& diags,
                                                       std::string& report) {
  bpf::verifier::Options vo;
  vo.target = o.target;
  vo.snaplen = o.snaplen;
  vo.destination =
      o.check ? bpf::verifier::Destination::kKernel : bpf::verifier::Destination::kUserSpace;
  auto r = bpf::verifier::verify(prog, vo);
  // Verifier warnings (unreachable code, constant conditions, snap length) only with -V.
  for (const bpf::Diagnostic& d : r.diagnostics().items())
    if (d.severity == bpf::Severity::kError || o.verbose) diags.add(d);
  if (r.ok() && !o.check) {
    const char* kernel = o.target == bpf::vm::Target::kLinux ? "the Linux kernel" : "a BSD kernel";
    const Diagnostics limits = bpf::verifier::kernel_limits(prog, o.target);
    for (bpf::Diagnostic d : limits.items()) {
      if (d.severity == bpf::Severity::kError) {
        d.severity = bpf::Severity::kWarning;
        d.message = std::string(kernel) + " will refuse this program: " + d.message;
      } else if (!o.verbose) {
        continue;
      }
      diags.add(std::move(d));
    }
  }
  if (!r.ok()) {
    report = "invalid program (" + std::to_string(r.diagnostics().error_count()) + " error" +
             (r.diagnostics().error_count() == 1 ? "" : "s") + ")\n";
    return std::nullopt;
  }
  report = "valid program; " + bpf::verifier::describe(*r);
  if (!report.empty() && report.back() != '\n') report += '\n';
  return r.take();
}

// The link types the expression compiler knows (libpcap's names; numbers work too).
const std::string kLinkTypeNames =
    "EN10MB, RAW, IPV4, IPV6, LINUX_SLL, LINUX_SLL2, NULL, LOOP, PPP, PPP_SERIAL, PPP_ETHER, "
    "C_HDLC, FRELAY, SLIP, ARCNET, ARCNET_LINUX, SUNATM, FDDI, IEEE802, IPNET, IEEE802_11, "
    "IEEE802_11_RADIO, PRISM_HEADER, IEEE802_11_RADIO_AVS, PPI";

std::string listing_for_stderr(const bpf::vm::Program& p) {
  return bpf::compiler::format_program(p.insns, Format::kListing);
}

int run(int argc, char** argv) {
  Options o;
  if (auto rc = parse_args(argc, argv, o)) return *rc;

  std::string display = "<stdin>";
  std::string source;
  bpf::Result<bpf::vm::Program> prog{Diagnostics{}};

  std::string file_text;  // -F: the file as written, for the source lines under diagnostics
  if (o.expr_file) {
    std::string why;
    if (!bpf::tools::read_input(*o.expr_file, file_text, why)) {
      std::fprintf(stderr, "bpfc: cannot read the expression file '%s': %s\n",
                   o.expr_file->c_str(), why.c_str());
      return kExitInvalid;
    }
    display = *o.expr_file == "-" ? "<stdin>" : *o.expr_file;
    auto text = bpf::tools::expression_file_text(file_text);
    if (!text.ok()) {
      std::fputs(text.diagnostics().render(display).c_str(), stderr);
      return kExitInvalid;
    }
    o.expr = text.take();
  }
  if (o.rules_file) {
    std::optional<int> lt = bpf::compiler::linktype_from_name(o.linktype);
    if (!lt || !bpf::compiler::linktype_supported(*lt))
      return usage_error("unknown or unsupported link type '" + o.linktype +
                         "' (" + kLinkTypeNames + ")");
    std::string why;
    if (!bpf::tools::read_input(*o.rules_file, source, why)) {
      std::fprintf(stderr, "bpfc: cannot read the rules file '%s': %s\n", o.rules_file->c_str(),
                   why.c_str());
      return kExitInvalid;
    }
    display = *o.rules_file == "-" ? "<stdin>" : *o.rules_file;
    bpf::compiler::ExprOptions eo;
    eo.linktype = *lt;
    eo.opt_level = o.opt_level;
    eo.target = o.target;
    prog = bpf::compiler::compile_classifier(source, eo);
    if (!o.verbose) {
      auto& items = prog.diagnostics().items();
      std::erase_if(items, [](const bpf::Diagnostic& d) { return d.severity == bpf::Severity::kWarning; });
    }
  } else if (o.expr) {
    std::optional<int> lt = bpf::compiler::linktype_from_name(o.linktype);
    if (!lt || !bpf::compiler::linktype_supported(*lt))
      return usage_error("unknown or unsupported link type '" + o.linktype +
                         "' (" + kLinkTypeNames + ")");
    bpf::compiler::ExprOptions eo;
    eo.linktype = *lt;
    eo.snaplen = o.snaplen;
    eo.opt_level = o.opt_level;
    eo.target = o.target;
    if (!o.expr_file) display = "<expr>";
    source = *o.expr;
    prog = bpf::compiler::compile_expression(source, eo);
    if (!o.verbose) {  // the compiler's warnings (where tcpdump's verdict surprises) with -V
      auto& items = prog.diagnostics().items();
      std::erase_if(items, [](const bpf::Diagnostic& d) { return d.severity == bpf::Severity::kWarning; });
    }
    if (o.expr_file) {  // show the lines with their comments, as the user wrote them
      source = std::move(file_text);
      for (bpf::Diagnostic& d : prog.diagnostics().items()) d.source_line.clear();
      prog.diagnostics().attach_source(source);
    }
  } else {
    std::string path = o.file.value_or("-");
    if (path != "-") display = path;
    std::string why;
    if (!bpf::tools::read_input(path, source, why)) {
      std::fprintf(stderr, "bpfc: cannot read '%s': %s\n", path.c_str(), why.c_str());
      return kExitInvalid;
    }
    std::optional<Format> in = o.in_format;
    if (!in) in = bpf::compiler::detect_format(source);
    if (!in) in = Format::kAsm;  // empty input: the assembler says "no instructions"
    prog = bpf::compiler::read_bytecode(source, *in);
  }

  Diagnostics& diags = prog.diagnostics();
  if (!prog.ok()) {
    std::fputs(diags.render(display).c_str(), stderr);
    return kExitInvalid;
  }

  // Verification with its output: diagnostics (warnings only with -V), listing and report.
  auto verify_and_report = [&]() -> std::optional<bpf::vm::VerifiedProgram> {
    std::string report;
    auto verified = verify_program(*prog, o, diags, report);
    diags.attach_source(source);
    if (o.verbose) std::fputs(listing_for_stderr(*prog).c_str(), stderr);
    std::fputs(diags.render(display).c_str(), stderr);
    if (o.verbose) std::fputs(report.c_str(), stderr);
    return verified;
  };
  if (o.check) return verify_and_report() ? kExitOk : kExitInvalid;

  Format out = o.out_format.value_or(o.disasm ? Format::kAsm : Format::kC);
  std::optional<bpf::vm::VerifiedProgram> verified;
  if (o.verify) {
    verified = verify_and_report();
    if (!verified) return kExitInvalid;
  } else {
    if (o.verbose) std::fputs(listing_for_stderr(*prog).c_str(), stderr);
    std::fputs(diags.render(display).c_str(), stderr);  // warnings
    if (o.verbose) std::fputs("not verified\n", stderr);
  }

  std::string text;
  if (o.emit_llvm) {  // excludes --no-verify and --disasm: verified above
    if (!verified) return kExitInvalid;
    auto ir = bpf::jit::emit_llvm_ir(*verified);
    if (!ir.ok()) return usage_error("--emit-llvm: " + ir.diagnostics().items().front().message);
    text = ir.take();
  } else if (o.dot) {
    text = bpf::analysis::to_dot(*verified);
  } else if (o.ebpf) {  // excludes --no-verify: verified above
    auto e = bpf::jit::ebpf::translate(*verified, o.hook);
    if (!e.ok()) {
      bpf::Diagnostics d = e.diagnostics();
      for (bpf::Diagnostic& x : d.items())  // the instruction's line in the source, when known
        if (x.insn_index) x.loc = prog->loc(*x.insn_index);
      d.attach_source(source);
      std::fputs(d.render(display).c_str(), stderr);
      return kExitInvalid;
    }
    text = *o.ebpf == Options::Ebpf::kText ? bpf::jit::ebpf::format_text(*e)
           : *o.ebpf == Options::Ebpf::kC  ? bpf::jit::ebpf::format_c(*e)
                                           : bpf::jit::ebpf::write_elf(*e);
  } else {
    text = bpf::compiler::format_program(prog->insns, out);
  }
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    std::fprintf(stderr, "bpfc: cannot write the output\n");
    return kExitInvalid;
  }
  return kExitOk;
}

}  // namespace

// No exception leaves the tool: the libraries return errors as values, and what the standard
// library may still throw (bad_alloc on a huge input) ends in a message and status 1.
int main(int argc, char** argv) {
  try {
    for (int i = 1; i < argc; ++i)
      if (std::string_view(argv[i]) == "--equiv") return bpf::tools::run_equiv(argc, argv);
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bpfc: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "bpfc: unexpected error\n");
  }
  return kExitInvalid;
}
