// bpfdump: capture, filter and replay, tcpdump-like (../shared/CLI.md is the contract).
//
// A thin main over the libraries: the filter comes from an expression (compiler::
// compile_expression, link type taken from the input) or from --program (compiler::assemble or
// read_bytecode), is verified for the chosen --semantics (verifier::verify, Target kLinux or
// kBsd), and runs on the chosen --engine (jit::Filter) or in the kernel (--engine kernel, live
// only). Packets flow through capture::Capture (file or AF_PACKET ring -> filter -> hold/store
// ring) to a pcap writer (-w), or to one tcpdump-style line each.
//
// --verdicts and --bench bypass the ring: they need every input packet's verdict, not only the
// accepted ones. Every mode opens its input once, so pipes, FIFOs and /dev/stdin work. Ctrl-C
// (SIGINT/SIGTERM) stops the capture threads, also while a pipe is idle; whatever they stored is
// still written, the output file is closed complete and the statistics are printed. A write
// error (full disk, /dev/full) stops the run with a message; a closed pipe (`| head`) stops it
// at once, quietly. Both exit 1. When reading a file, -s is ignored, as tcpdump ignores it; the
// file's link type (with its FCS bits) and timestamps go to -w as tcpdump writes them, and a link
// type libpcap does not know is refused, as tcpdump refuses it (unless --program is given).
//
// Exit status: 0 success, 1 invalid program/expression or an input/output error (e.g. truncated
// file: the packets before it are processed and counted), 2 usage error.
// Tests: tests/capture/bpfdump_test.cpp (against tcpdump), tests/capture/reader_test.cpp
// (changing files, pipes, signals, output errors), tests/capture/live_test.cpp.
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "capture/capture.hpp"
#include "capture/context.hpp"
#include "capture/summary.hpp"
#include "compiler/classify/classify.hpp"
#include "tools/bpfdump_classify.hpp"
#include "compiler/assembler.hpp"
#if BPFC_HAVE_EXPR
#include "compiler/expr.hpp"
#endif
#include "compiler/formats.hpp"
#include "jit/engine.hpp"
#include "tools/bpfdump_trace.hpp"
#include "tools/input.hpp"
#include "verifier/verifier.hpp"

namespace {

using namespace bpf;

std::atomic<bool> g_interrupted{false};
void on_signal(int) { g_interrupted.store(true); }

// Summaries and verdicts on stdout. The first failed write is kept (its errno); after it nothing
// more is written and the run stops. A closed pipe (EPIPE: SIGPIPE is ignored) is not worth a
// message, anything else is one.
struct Stdout {
  int error = 0;
  bool write(const std::string& s) {
    if (error == 0 && !s.empty() && std::fwrite(s.data(), 1, s.size(), stdout) != s.size()) error = errno ? errno : EIO;
    return error == 0;
  }
  bool flush() {
    if (error == 0 && std::fflush(stdout) != 0) error = errno ? errno : EIO;
    return error == 0;
  }
  // Exit status contribution: 0, or 1 after a failed write (with a message unless EPIPE).
  int report() const {
    if (error == 0) return 0;
    if (error != EPIPE) std::fprintf(stderr, "bpfdump: standard output: %s\n", std::strerror(error));
    return 1;
  }
};

struct Args {
  std::string read_file, iface, write_file, program_file, input_format, expr_file;
  std::string classify_file;  // --classify RULES (tools/bpfdump_classify.cpp)
  mutable size_t rules = 0;   // ... how many rules it holds (set when it is compiled)
  std::string engine = "auto", semantics = "linux";
  std::optional<uint64_t> count;
  std::optional<uint32_t> snaplen;
  bool nano = false;
  bool verdicts = false, stats = false, promiscuous = true, immediate = false, lock_filter = false;
  std::optional<uint64_t> bench;
  std::optional<std::pair<uint64_t, uint64_t>> trace;  // --trace N[-M]
  unsigned fanout = 1;
  size_t buffer_kib = 4096;
  std::string expr;
};

constexpr const char* kUsage =
    "usage: bpfdump [options] [EXPR]\n"
    "  -r FILE          read a pcap or pcapng file (- for stdin)\n"
    "  -i IFACE         live capture through the AF_PACKET TPACKET_V3 ring\n"
    "  -w FILE          write accepted packets as pcap (- for stdout)\n"
    "  -c N             stop after N accepted packets (--verdicts: after N verdict lines)\n"
    "  -s N             snap length (default 262144; ignored when reading a file, as by tcpdump)\n"
    "  -F FILE          read the expression from FILE (as tcpdump -F; '#' comments)\n"
    "  --program FILE   use a program (assembly or bytecode) instead of an expression\n"
    "  -x F             input format of --program: asm, c, ddd, xt_bpf, bin (default: detected)\n"
    "  --engine E       interp, asmjit, llvm, kernel (live only), ebpf (live only:\n"
    "                   the eBPF translation, SO_ATTACH_BPF, any length), auto (default)\n"
    "  --semantics S    linux (default) or bsd (libpcap's bpf_filter)\n"
    "  --verdicts       print 'INDEX VALUE' for every input packet\n"
    "  --classify RULES classify by a rule file (one expression a line): summary lines\n"
    "                   start with [N], -w PREFIX writes PREFIX.N.pcap per rule, --verdicts\n"
    "                   prints rule numbers, --stats counts per rule\n"
    "  --trace N[-M]    print every instruction packets N to M execute (0-based)\n"
    "  --bench N        run the filter N times over the whole input in memory, print ns/packet\n"
    "  --stats          print counters at the end (on stderr)\n"
    "  --fanout N       live: N capture threads in one PACKET_FANOUT group\n"
    "  -p               live: do not put the interface in promiscuous mode\n"
    "  --immediate      hand every packet over at once (no buffering)\n"
    "  --time-stamp-precision micro|nano  timestamp resolution captured, read and written (micro)\n"
    "  --lock-filter    kernel filter: SO_LOCK_FILTER\n"
    "  -B KIB           size of each hold/store buffer in KiB (default 4096)\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "bpfdump: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

bool parse_u64(const char* s, uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-') return false;
  out = v;
  return true;
}

// Returns -1 when parsing succeeded, else the exit status.
int parse_args(int argc, char** argv, Args& a) {
  std::vector<std::string> expr_words;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) return nullptr;
      (void)name;
      return argv[++i];
    };
    auto need = [&](const char* v) { return v != nullptr; };
    uint64_t n = 0;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "-r") {
      const char* v = value("-r");
      if (!need(v)) return usage_error("-r needs a file");
      a.read_file = v;
    } else if (arg == "-i") {
      const char* v = value("-i");
      if (!need(v)) return usage_error("-i needs an interface");
      a.iface = v;
    } else if (arg == "-w") {
      const char* v = value("-w");
      if (!need(v)) return usage_error("-w needs a file");
      a.write_file = v;
    } else if (arg == "-c") {
      const char* v = value("-c");
      if (!need(v) || !parse_u64(v, n) || n == 0) return usage_error("-c needs a positive count");
      a.count = n;
    } else if (arg == "-s") {
      const char* v = value("-s");
      if (!need(v) || !parse_u64(v, n) || n > 262144) return usage_error("-s needs a length from 0 to 262144");
      a.snaplen = n == 0 ? 262144u : uint32_t(n);  // tcpdump: -s 0 means the default
    } else if (arg == "-F") {
      const char* v = value("-F");
      if (!need(v)) return usage_error("-F needs a file");
      if (!a.expr_file.empty()) return usage_error("give one expression file (-F) only");
      a.expr_file = v;
    } else if (arg == "--program") {
      const char* v = value("--program");
      if (!need(v)) return usage_error("--program needs a file");
      a.program_file = v;
    } else if (arg == "-x") {
      const char* v = value("-x");
      if (!need(v)) return usage_error("-x needs a format");
      a.input_format = v;
    } else if (arg == "--engine") {
      const char* v = value("--engine");
      if (!need(v)) return usage_error("--engine needs a name");
      a.engine = v;
    } else if (arg == "--semantics") {
      const char* v = value("--semantics");
      if (!need(v)) return usage_error("--semantics needs linux or bsd");
      a.semantics = v;
      if (a.semantics != "linux" && a.semantics != "bsd") return usage_error("--semantics is linux or bsd");
    } else if (arg == "--classify") {
      const char* v = value("--classify");
      if (!need(v)) return usage_error("--classify needs a rules file");
      a.classify_file = v;
    } else if (arg == "--verdicts") {
      a.verdicts = true;
    } else if (arg == "--bench") {
      const char* v = value("--bench");
      if (!need(v) || !parse_u64(v, n) || n == 0) return usage_error("--bench needs a positive count");
      a.bench = n;
    } else if (arg == "--trace") {
      const char* v = value("--trace");
      uint64_t m = 0;
      const std::string r = v ? v : "";
      const size_t dash = r.find('-');
      if (!need(v) || !parse_u64(r.substr(0, dash).c_str(), n) ||
          (dash != std::string::npos && (!parse_u64(r.substr(dash + 1).c_str(), m) || m < n)))
        return usage_error("--trace needs N or N-M (packet indices from 0, N <= M)");
      a.trace = {n, dash == std::string::npos ? n : m};
    } else if (arg == "--stats") {
      a.stats = true;
    } else if (arg == "--fanout") {
      const char* v = value("--fanout");
      if (!need(v) || !parse_u64(v, n) || n == 0 || n > 64) return usage_error("--fanout needs 1..64");
      a.fanout = unsigned(n);
    } else if (arg == "-p") {
      a.promiscuous = false;
    } else if (arg == "--time-stamp-precision" || arg.rfind("--time-stamp-precision=", 0) == 0) {
      const char* v = arg.size() > 22 ? argv[i] + 23 : value("--time-stamp-precision");
      if (!need(v) || (std::strcmp(v, "micro") != 0 && std::strcmp(v, "nano") != 0))
        return usage_error("--time-stamp-precision is micro or nano");
      a.nano = std::strcmp(v, "nano") == 0;
    } else if (arg == "--immediate") {
      a.immediate = true;
    } else if (arg == "--lock-filter") {
      a.lock_filter = true;
    } else if (arg == "-B") {
      const char* v = value("-B");
      if (!need(v) || !parse_u64(v, n) || n < 4 || n > (1u << 20)) return usage_error("-B needs 4..1048576 KiB");
      a.buffer_kib = size_t(n);
    } else if (arg == "--") {
      for (++i; i < argc; ++i) expr_words.emplace_back(argv[i]);
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usage_error("unknown option " + arg);
    } else {
      expr_words.push_back(arg);
    }
  }
  for (size_t i = 0; i < expr_words.size(); ++i) a.expr += (i ? " " : "") + expr_words[i];
  if (a.read_file.empty() == a.iface.empty()) return usage_error("give exactly one of -r FILE and -i IFACE");
  if (!a.program_file.empty() && !a.expr.empty()) return usage_error("give either --program or an expression, not both");
  // As tcpdump: with -F the expression comes from the file only.
  if (!a.expr_file.empty() && !a.expr.empty()) return usage_error("give either -F FILE or an expression on the command line, not both");
  if (!a.expr_file.empty() && !a.program_file.empty()) return usage_error("give either -F FILE or --program, not both");
  if (!a.input_format.empty() && a.program_file.empty()) return usage_error("-x applies to --program");
  if (!a.classify_file.empty() && (!a.expr.empty() || !a.expr_file.empty() || !a.program_file.empty()))
    return usage_error("--classify RULES excludes an expression, -F and --program");
  if (!a.classify_file.empty() && (a.engine == "kernel" || a.engine == "ebpf" || a.trace))
    return usage_error("--classify runs in user space: it excludes --engine kernel|ebpf and --trace");
  if ((a.verdicts || a.bench) && a.read_file.empty()) return usage_error("--verdicts and --bench need -r FILE");
  if (a.verdicts && a.bench) return usage_error("--verdicts and --bench exclude each other");
  if (a.trace && (a.read_file.empty() || a.verdicts || a.bench || !a.write_file.empty()))
    return usage_error("--trace needs -r FILE and excludes --verdicts, --bench and -w");
  if (a.trace && a.expr.empty() && a.expr_file.empty() && a.program_file.empty())
    return usage_error("--trace needs a filter (an expression, -F FILE or --program)");
  for (const char* k : {"kernel", "ebpf"}) {
    if (a.engine == k && a.iface.empty()) return usage_error(std::string("--engine ") + k + " needs a live capture (-i)");
    if (a.engine == k && a.semantics == "bsd") return usage_error(std::string("--engine ") + k + " runs Linux semantics only");
  }
  if (a.fanout > 1 && a.iface.empty()) return usage_error("--fanout needs a live capture (-i)");
  return -1;
}

// Link type of a live interface, from /sys/class/net/IFACE/type (ARPHRD_*), as libpcap maps it.
// An estimate of how many packets the filter will see, for --engine auto (0 = unknown).
uint64_t expected_packets(const Args& a) {
  if (!a.iface.empty()) return UINT64_MAX;  // milliseconds of compiling are nothing live
  std::error_code ec;
  if (a.read_file == "-") return 0;
  const uintmax_t size = std::filesystem::file_size(a.read_file, ec);
  if (ec) return 0;
  uint64_t n = size / 64;
  if (a.bench) n = (*a.bench > UINT64_MAX / (n ? n : 1)) ? UINT64_MAX : n * *a.bench;
  return n;
}

int live_linktype(const std::string& iface) {
  std::ifstream f("/sys/class/net/" + iface + "/type");
  int hatype = 1;
  if (f >> hatype) {
    if (hatype == 65534) return 12;  // ARPHRD_NONE -> DLT_RAW
  }
  return 1;
}

// Builds the program: --program, an expression, or accept-all (nullopt).
int load_program(const Args& a, int linktype, uint32_t snaplen, std::optional<vm::Program>& out) {
  if (!a.program_file.empty()) {
    std::string text, why;
    if (!tools::read_input(a.program_file, text, why)) {
      std::fprintf(stderr, "bpfdump: %s: %s\n", a.program_file.c_str(), why.c_str());
      return 1;
    }
    std::optional<compiler::Format> fmt;
    if (!a.input_format.empty()) {
      fmt = compiler::parse_format_name(a.input_format);
      if (!fmt || *fmt == compiler::Format::kListing) return usage_error("unknown input format " + a.input_format);
    } else {
      fmt = compiler::detect_format(text);
      if (!fmt) fmt = compiler::Format::kAsm;
    }
    Result<vm::Program> r = compiler::read_bytecode(text, *fmt);
    const std::string shown = a.program_file == "-" ? "<stdin>" : a.program_file;
    if (!r.ok()) {
      r.diagnostics().attach_source(text);
      std::fputs(r.diagnostics().render(shown).c_str(), stderr);
      return 1;
    }
    out = r.take();
    return -1;
  }
  if (!a.classify_file.empty()) {
    std::string text, why;
    if (!tools::read_input(a.classify_file, text, why)) {
      std::fprintf(stderr, "bpfdump: cannot read the rules file %s: %s\n", a.classify_file.c_str(), why.c_str());
      return 1;
    }
    compiler::ExprOptions eo;
    eo.linktype = linktype;
    eo.target = a.semantics == "bsd" ? vm::Target::kBsd : vm::Target::kLinux;
    auto r = compiler::compile_classifier(text, eo);
    if (!r.ok()) {
      std::fputs(r.diagnostics().render(a.classify_file == "-" ? "<stdin>" : a.classify_file, false).c_str(), stderr);
      return 1;
    }
    out = r.take();
    a.rules = compiler::parse_rules(text).size();
    return -1;
  }
  std::string expr = a.expr, shown = "<expr>", file_text;
  if (!a.expr_file.empty()) {  // -F
    std::string why;
    if (!tools::read_input(a.expr_file, file_text, why)) {
      std::fprintf(stderr, "bpfdump: cannot read the expression file %s: %s\n", a.expr_file.c_str(), why.c_str());
      return 1;
    }
    shown = a.expr_file == "-" ? "<stdin>" : a.expr_file;
    auto t = tools::expression_file_text(file_text);
    if (!t.ok()) {
      std::fputs(t.diagnostics().render(shown).c_str(), stderr);
      return 1;
    }
    expr = t.take();
  }
  if (!expr.empty()) {
#if !BPFC_HAVE_EXPR
    (void)linktype;
    (void)snaplen;
    std::fprintf(stderr, "bpfdump: this build has no expression compiler; use --program\n");
    return 1;
#else
    compiler::ExprOptions eo;
    eo.linktype = linktype;
    eo.snaplen = snaplen;
    eo.target = a.semantics == "bsd" ? vm::Target::kBsd : vm::Target::kLinux;
    auto r = compiler::compile_expression(expr, eo);
    if (!r.ok()) {
      for (Diagnostic& d : r.diagnostics().items()) d.source_line.clear();
      r.diagnostics().attach_source(a.expr_file.empty() ? expr : file_text);
      std::fputs(r.diagnostics().render(shown).c_str(), stderr);
      return 1;
    }
    out = r.take();
#endif
  }
  return -1;
}

struct Progress {
  bool enabled = false;
  std::chrono::steady_clock::time_point last{};
  int shown = -1;
  void update(double frac) {
    if (!enabled || frac < 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::milliseconds(200)) return;
    last = now;
    const int pct = int(frac * 100);
    if (pct == shown) return;
    shown = pct;
    constexpr int kWidth = 40;
    char bar[kWidth + 1];
    const int fill = std::min(kWidth, int(frac * kWidth));
    for (int i = 0; i < kWidth; ++i) bar[i] = i < fill ? '#' : '.';
    bar[kWidth] = 0;
    std::fprintf(stderr, "\r[%s] %3d%%", bar, pct);
  }
  void done() {
    if (enabled && shown >= 0) std::fputs("\r\033[K", stderr);
  }
};

void print_stats(const capture::CaptureStats& s, double secs) {
  std::fprintf(stderr,
               "received: %" PRIu64 "\naccepted: %" PRIu64 "\nrejected: %" PRIu64 "\ndelivered: %" PRIu64
               "\ndropped: %" PRIu64 "\nkernel dropped: %" PRIu64 "\nbytes: %" PRIu64
               "\nelapsed: %.6f s\npackets/s: %.0f\n",
               s.received, s.accepted, s.rejected, s.delivered, s.dropped, s.kernel_drops, s.bytes,
               secs, secs > 0 ? double(s.received) / secs : 0.0);
}

// A source error (e.g. a truncated file) ends the read: reported, unless Ctrl-C ended it.
int report_source_error(const Args& a, const capture::Source& s) {
  if (g_interrupted.load()) return 0;
  std::fprintf(stderr, "bpfdump: %s: %s\n", a.read_file.c_str(), s.error().c_str());
  return 1;
}

// --verdicts and --bench: every input packet, straight from the source run() opened (once: it
// may be a pipe). -c N with --verdicts prints N verdict lines (the first N input packets).
int run_offline_direct(const Args& a, capture::Source& s, const jit::Filter* filter, bool uses_context) {
  const int linktype = s.linktype();
  const uint32_t snaplen = 262144;  // reading a file: -s is ignored, as tcpdump ignores it
  std::vector<capture::Frame> frames;
  int status = 0;
  const auto t0 = std::chrono::steady_clock::now();
  if (a.verdicts) {
    Stdout so;
    std::string out;
    uint64_t index = 0, accepted = 0, rejected = 0;
    std::vector<uint64_t> per_rule(a.classify_file.empty() ? 0 : a.rules + 1, 0);  // --classify
    bool done = false;
    while (!done && !g_interrupted.load()) {
      const auto st = s.read(frames, 100);
      for (const capture::Frame& f : frames) {
        if (a.count && index >= *a.count) break;
        const uint32_t v = filter ? filter->run(f.data, f.caplen, f.wirelen, capture::make_context(f, linktype)) : snaplen;
        (v ? accepted : rejected) += 1;
        if (v < per_rule.size()) ++per_rule[v];
        out += std::to_string(index++);
        out += ' ';
        out += std::to_string(v);
        out += '\n';
      }
      // Lines go out in 64 KiB pieces, and all of them whenever the input is idle (a pipe fed
      // slowly shows its verdicts as they come).
      const bool idle = frames.empty() && !out.empty();
      if (out.size() > (1u << 16) || idle) {
        if (!so.write(out) || (idle && !so.flush())) break;
        out.clear();
      }
      if (st == capture::Source::Status::kError) status = report_source_error(a, s);
      done = st != capture::Source::Status::kOk || (a.count && index >= *a.count);
    }
    so.write(out);
    so.flush();
    status = std::max(status, so.report());
    if (a.stats && !per_rule.empty()) {  // as tools/bpfdump_classify.cpp prints them
      std::fprintf(stderr, "received: %" PRIu64 "\n", index);
      for (size_t r = 1; r < per_rule.size(); ++r)
        std::fprintf(stderr, "rule %zu: %" PRIu64 "\n", r, per_rule[r]);
      std::fprintf(stderr, "no rule: %" PRIu64 "\n", per_rule[0]);
    } else if (a.stats) {
      capture::CaptureStats cs;
      cs.received = index;
      cs.accepted = cs.delivered = accepted;
      cs.rejected = rejected;
      print_stats(cs, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return status;
  }
  // --bench: the packets back to back in memory, as a capture buffer holds them.
  std::vector<uint8_t> arena;
  struct Rec { size_t off; uint32_t caplen, wirelen; capture::Frame frame; };
  std::vector<Rec> recs;
  while (!g_interrupted.load()) {
    const auto st = s.read(frames, 100);
    for (const capture::Frame& f : frames) {
      recs.push_back({arena.size(), f.caplen, f.wirelen, f});
      arena.insert(arena.end(), f.data, f.data + f.caplen);
    }
    if (st == capture::Source::Status::kError) status = report_source_error(a, s);
    if (st != capture::Source::Status::kOk) break;
  }
  if (recs.empty()) {
    std::fprintf(stderr, "bpfdump: no packets to benchmark\n");
    return 1;
  }
  std::vector<jit::PacketView> views;
  std::vector<vm::Context> ctxs;
  for (Rec& r : recs) {
    views.push_back({arena.data() + r.off, r.caplen, r.wirelen});
    r.frame.data = arena.data() + r.off;
    if (uses_context) ctxs.push_back(capture::make_context(r.frame, linktype));
  }
  std::vector<uint32_t> verdicts(views.size());
  uint64_t accepted = 0;
  const auto b0 = std::chrono::steady_clock::now();
  for (uint64_t rep = 0; rep < *a.bench; ++rep) {
    if (!filter) {
      std::fill(verdicts.begin(), verdicts.end(), snaplen);
    } else if (uses_context) {
      for (size_t i = 0; i < views.size(); ++i)
        verdicts[i] = filter->run(views[i].data, views[i].caplen, views[i].wirelen, ctxs[i]);
    } else {
      filter->run_batch(views, verdicts.data());
    }
    accepted += size_t(std::count_if(verdicts.begin(), verdicts.end(), [](uint32_t v) { return v != 0; }));
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - b0).count();
  char line[64];
  std::snprintf(line, sizeof line, "ns/packet: %.3f\n", ns / double(views.size() * *a.bench));
  Stdout so;
  so.write(line);
  so.flush();
  std::fprintf(stderr, "packets: %zu, runs: %" PRIu64 ", accepted per run: %" PRIu64 ", engine: %s\n",
               views.size(), *a.bench, accepted / *a.bench,
               filter ? std::string(jit::engine_name(filter->engine())).c_str() : "none");
  return std::max(status, so.report());
}

// -w naming the file -r reads (or stdout, with -w -, being it): tcpdump truncates its own input
// and ends with "truncated dump file" and a clobbered file; refuse instead, before anything is
// written.
bool writes_over_input(const Args& a) {
  struct stat in{}, out{};
  if (a.read_file.empty() || a.write_file.empty() || a.read_file == "-") return false;
  if (stat(a.read_file.c_str(), &in) != 0 || !S_ISREG(in.st_mode)) return false;
  const int rc = a.write_file == "-" ? fstat(STDOUT_FILENO, &out) : stat(a.write_file.c_str(), &out);
  return rc == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino;
}

int run(const Args& a) {
  // Reading a file, -s is ignored, as tcpdump ignores it (no packet is cut, -w declares the
  // file's snap length, expressions return the default).
  const uint32_t snaplen = a.read_file.empty() ? a.snaplen.value_or(262144) : 262144;
  if (writes_over_input(a)) {
    std::fprintf(stderr, "bpfdump: %s: -w would overwrite the file being read (-r); write to another file\n",
                 a.write_file.c_str());
    return 1;
  }
  // Ctrl-C and a closed pipe, from here on (reading a pipe may wait for input in every mode).
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  capture::CaptureOptions co;
  co.snaplen = snaplen;
  co.promiscuous = a.promiscuous;
  co.fanout = a.fanout;
  co.buffer_bytes = a.buffer_kib * 1024;
  co.immediate = a.immediate;
  co.lock_filter = a.lock_filter;
  co.nano = a.nano;
  co.packed = !a.write_file.empty();  // -w: each hold buffer goes to the file in one write

  // The link type is needed to compile an expression: from the file header, or the interface.
  // The input is opened once, here, whatever the mode (it may be a pipe or a FIFO).
  int linktype = 1;
  std::unique_ptr<capture::Capture> cap;
  std::unique_ptr<capture::Source> direct;  // --verdicts, --bench
  if (!a.read_file.empty() && !a.verdicts && !a.bench && !a.trace) {
    auto c = capture::Capture::open_file(a.read_file, co);
    if (!c.ok()) {
      std::fprintf(stderr, "bpfdump: %s\n", c.diagnostics().items().front().message.c_str());
      return 1;
    }
    cap = c.take();
    linktype = cap->linktype();
  } else if (!a.read_file.empty()) {
    auto s = capture::open_file(a.read_file);
    if (!s.ok()) {
      std::fprintf(stderr, "bpfdump: %s\n", s.diagnostics().items().front().message.c_str());
      return 1;
    }
    direct = s.take();
    linktype = direct->linktype();
  } else {
    auto c = capture::Capture::open_live(a.iface, co);
    if (!c.ok()) {
      std::fprintf(stderr, "bpfdump: %s\n", c.diagnostics().items().front().message.c_str());
      return 1;
    }
    cap = c.take();
    linktype = live_linktype(a.iface);
  }

  // tcpdump compiles a filter (if only the empty one) for every file, and libpcap refuses link
  // types it does not know; so do we, unless the filter is a program, which needs no link type.
  if (!a.read_file.empty() && a.program_file.empty()) {
    if (const std::string why = capture::unknown_linktype(linktype); !why.empty()) {
      std::fprintf(stderr, "bpfdump: %s\n", why.c_str());
      return 1;
    }
  }
  std::optional<vm::Program> prog;
  if (const int rc = load_program(a, linktype, snaplen, prog); rc >= 0) return rc;

  std::optional<jit::Filter> filter;
  std::optional<vm::VerifiedProgram> verified;
  if (prog) {
    verifier::Options vo;
    vo.target = a.semantics == "bsd" ? vm::Target::kBsd : vm::Target::kLinux;
    vo.snaplen = snaplen;
    // The kernel's limits (length, ...) only where the program goes to the kernel.
    vo.destination = a.engine == "kernel" ? verifier::Destination::kKernel : verifier::Destination::kUserSpace;
    auto v = verifier::verify(*prog, vo);
    if (!v.ok()) {
      std::fputs(v.diagnostics().render(!a.program_file.empty() ? a.program_file : !a.expr_file.empty() ? a.expr_file : "<expr>").c_str(), stderr);
      return 1;
    }
    verified.emplace(v.take());
    if (a.iface.empty()) {
      // A pcapng file may state each packet's direction (epb_flags): then each record is checked.
      const bool per_record = capture::reads_direction(prog->insns) && linktype != 113 &&
                              linktype != 276 &&
                              (cap ? cap->require_direction() : direct->require_direction());
      if (const std::string what = capture::unrecorded_ancillary(prog->insns, linktype, per_record); !what.empty()) {
        std::fprintf(stderr,
                     "bpfdump: the filter reads %s, which a capture file of link type %d does not "
                     "record (LINUX_SLL and LINUX_SLL2 files record the direction, LINUX_SLL2 the "
                     "interface, pcapng files may state the direction of each packet; live "
                     "captures have both)\n", what.c_str(), linktype);
        return 1;
      }
    }
  }
  if (a.trace) return verified ? tools::run_trace(*direct, *verified, a.trace->first, a.trace->second) : 1;
  if (a.engine == "ebpf") {
    if (verified) {
      const Diagnostics d = cap->set_ebpf_filter(*verified);
      if (d.has_errors()) {
        std::fputs(d.render("<filter>").c_str(), stderr);
        return 1;
      }
    }
  } else if (a.engine != "kernel") {
    auto e = jit::parse_engine(a.engine);
    if (!e) return usage_error("unknown engine " + a.engine + " (interp, asmjit, llvm, kernel, ebpf, auto)");
    if (!jit::available(*e)) {
      std::fprintf(stderr, "bpfdump: %s\n", jit::unavailable_reason(*e).c_str());
      return 1;
    }
    // --engine auto: tell the choice how long the run will be (jit::choose_auto): a live
    // capture is open-ended; a file is estimated from its size (>= 64 bytes per record),
    // times the --bench repetitions.
    if (*e == jit::Engine::kAuto) *e = jit::choose_auto(expected_packets(a), verified ? verified->size() : 0);
    if (verified) {
      if (a.verdicts || a.bench || !a.classify_file.empty()) {
        auto f = jit::Filter::compile(*verified, *e);
        if (!f.ok()) {
          std::fputs(f.diagnostics().render("<filter>").c_str(), stderr);
          return 1;
        }
        filter.emplace(f.take());
      } else {
        const Diagnostics d = cap->set_filter(*verified, *e);
        if (d.has_errors()) {
          std::fputs(d.render("<filter>").c_str(), stderr);
          return 1;
        }
      }
    }
  } else if (verified) {
    const Diagnostics d = cap->set_kernel_filter(*verified);
    if (d.has_errors()) {
      std::fputs(d.render("<filter>").c_str(), stderr);
      return 1;
    }
  }
  if (a.verdicts || a.bench) {
    const bool ctx = verified && (verified->facts().uses_ancillary || verified->facts().uses_negative_offsets);
    return run_offline_direct(a, *direct, filter ? &*filter : nullptr, ctx);
  }

  if (!a.classify_file.empty()) {
    if (verified->facts().uses_ancillary || verified->facts().uses_negative_offsets) {
      std::fprintf(stderr, "bpfdump: --classify: rules that read ancillary data (inbound, ifindex, ...) are not supported\n");
      return 1;
    }
    tools::ClassifyOutput co2;
    co2.write_prefix = a.write_file;
    co2.count = a.count;
    co2.stats = a.stats;
    co2.rules = a.rules;
    co2.file_snaplen = a.read_file.empty() ? snaplen : cap->source_snaplen();
    co2.iface = a.iface;
    co2.snaplen = snaplen;
    return tools::run_classify(*cap, *filter, co2, g_interrupted);
  }
  std::unique_ptr<capture::PcapWriter> writer;

  const auto t0 = std::chrono::steady_clock::now();
  if (const Diagnostics d = cap->start(); d.has_errors()) {
    std::fprintf(stderr, "bpfdump: %s\n", d.items().front().message.c_str());
    return 1;
  }
  // Signals go to the capture threads (they inherited an unblocked mask): a handler without
  // SA_RESTART interrupts a read blocked on a pipe (EINTR), as it does for tcpdump. The main
  // thread only polls the flag.
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, nullptr);
  if (!a.write_file.empty()) {
    const uint32_t file_snap = a.read_file.empty() ? snaplen : cap->source_snaplen();
    auto w = capture::PcapWriter::open(a.write_file, cap->linktype(), file_snap, cap->nano(), cap->linktype_ext());
    if (!w.ok()) {
      std::fprintf(stderr, "bpfdump: %s\n", w.diagnostics().items().front().message.c_str());
      cap->stop();
      return 1;
    }
    writer = w.take();
  }
  if (!a.iface.empty()) {  // as tcpdump, also with -w: the sockets are bound from here on
    std::fprintf(stderr, "bpfdump: listening on %s, link-type %d, snapshot length %u bytes, filter engine %s\n",
                 a.iface.c_str(), cap->linktype(), snaplen, cap->filter_engine_name());
  }

  Progress progress;
  progress.enabled = !a.read_file.empty() && isatty(STDERR_FILENO) && a.write_file != "-";
  uint64_t written = 0;
  bool stopping = false;
  int status = 0;
  Stdout so;
  std::string line;
  capture::Batch b;
  for (;;) {
    if (!stopping && (g_interrupted.load() || so.error != 0 || (writer && !writer->error().empty()))) {
      stopping = true;  // Ctrl-C, or the output failed: what is stored is written (or dropped)
      cap->stop();
    }
    const capture::Ring::Wait w = cap->next(b, 100);
    if (w == capture::Ring::Wait::kEnd) break;
    if (w == capture::Ring::Wait::kTimeout) {
      progress.update(cap->progress());
      continue;
    }
    if (writer) {
      if (writer->error().empty()) written += writer->write_batch(b, a.count ? *a.count - written : SIZE_MAX);
    } else {
      for (const capture::Packet& p : b) {
        if ((a.count && written >= *a.count) || so.error != 0) break;
        ++written;
        line.clear();
        capture::format_summary(line, cap->linktype(), p.ts, cap->nano(), p.data, p.caplen, p.wirelen);
        line += '\n';
        so.write(line);
      }
    }
    cap->release(b);
    if (!writer) so.flush();
    progress.update(cap->progress());
    if (a.count && written >= *a.count && !stopping) {
      stopping = true;
      cap->stop();
    }
  }
  progress.done();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (writer && !writer->close()) {
    if (writer->error_number() != EPIPE)
      std::fprintf(stderr, "bpfdump: %s: %s\n", a.write_file.c_str(), writer->error().c_str());
    status = 1;
  }
  status = std::max(status, so.report());
  if (const std::string err = cap->error(); !err.empty() && !g_interrupted.load()) {
    std::fprintf(stderr, "bpfdump: %s: %s\n", a.read_file.empty() ? a.iface.c_str() : a.read_file.c_str(), err.c_str());
    status = 1;
  }
  if (a.stats) print_stats(cap->stats(), secs);
  return status;
}

}  // namespace

// No exception leaves main: errors are values; what the standard library may still throw ends
// in a message and status 1.
int main(int argc, char** argv) {
  try {
    Args a;
    if (const int rc = parse_args(argc, argv, a); rc >= 0) return rc;
    return run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bpfdump: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "bpfdump: unexpected error\n");
  }
  return 1;
}
