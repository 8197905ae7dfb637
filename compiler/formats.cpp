// Printing, reading and disassembling bytecode (see formats.hpp for the formats and sources).
//
// The listing reproduces libpcap 1.10's bpf_image() exactly, including what it does not know:
// BPF_LDX|BPF_W|BPF_LEN (0x81) and BPF_RET|BPF_X (0x0e) print as `unimp 0x81`, ancillary loads
// print libpcap's names (`[proto]`, `[xor_x]`, `[vlanp]`, `[random]`), `ja` prints its absolute
// target, and signed `%d` is used where libpcap uses it. tests/asm/formats_test.cpp compares
// every one of the 65536 codes against the real bpf_image().
// Invariant: read_bytecode(format_program(p, f), f) == p for f in c, ddd, xt_bpf, bin, and
// assemble(disassemble(p)) == p, for every p (tests/asm/roundtrip_test.cpp).
#include "compiler/formats.hpp"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <vector>

#include "compiler/assembler.hpp"
#include "vm/ancillary.hpp"

namespace bpf::compiler {

namespace {

template <class... Args>
std::string fmt(const char* f, Args... args) {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, f, args...);
  if (n < 0) return {};
  return std::string(buf,
                     static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1);
}

// libpcap bpf_image.c's names for SKF_AD_OFF + n.
const char* libpcap_ancillary_name(vm::Ancillary a) {
  switch (a) {
    case vm::Ancillary::kProtocol: return "proto";
    case vm::Ancillary::kPktType: return "type";
    case vm::Ancillary::kIfIndex: return "ifidx";
    case vm::Ancillary::kNlAttr: return "nla";
    case vm::Ancillary::kNlAttrNest: return "nlan";
    case vm::Ancillary::kMark: return "mark";
    case vm::Ancillary::kQueue: return "queue";
    case vm::Ancillary::kHaType: return "hatype";
    case vm::Ancillary::kRxHash: return "rxhash";
    case vm::Ancillary::kCpu: return "cpu";
    case vm::Ancillary::kAluXorX: return "xor_x";
    case vm::Ancillary::kVlanTag: return "vlan_tci";
    case vm::Ancillary::kVlanTagPresent: return "vlanp";
    case vm::Ancillary::kPayOffset: return "poff";
    case vm::Ancillary::kRandom: return "random";
    case vm::Ancillary::kVlanTpid: return "vlan_tpid";
  }
  return "?";
}

int sgn(uint32_t k) { return static_cast<int>(k); }

}  // namespace

std::optional<Format> parse_format_name(std::string_view s) {
  if (s == "asm") return Format::kAsm;
  if (s == "c") return Format::kC;
  if (s == "ddd") return Format::kDdd;
  if (s == "listing") return Format::kListing;
  if (s == "xt_bpf" || s == "xt-bpf") return Format::kXtBpf;
  if (s == "bin") return Format::kBin;
  return std::nullopt;
}

std::string_view format_name(Format f) {
  switch (f) {
    case Format::kAsm: return "asm";
    case Format::kC: return "c";
    case Format::kDdd: return "ddd";
    case Format::kListing: return "listing";
    case Format::kXtBpf: return "xt_bpf";
    case Format::kBin: return "bin";
  }
  return "?";
}

std::string listing_line(const vm::Insn& p, uint32_t n) {
  const char* op = "unimp";
  std::string operand;
  std::optional<vm::Op> d = vm::decode(p.code);
  if (!d) {
    operand = fmt("0x%x", p.code);
  } else {
    const vm::OpInfo& info = vm::info(*d);
    op = info.mnemonic.data();  // table mnemonics are string literals
    switch (*d) {
      case vm::Op::kLdW:
      case vm::Op::kLdH:
      case vm::Op::kLdB:
        if (auto a = vm::ancillary_for(p.k))
          operand = fmt("[%s]", libpcap_ancillary_name(*a));
        else
          operand = fmt("[%d]", sgn(p.k));
        break;
      case vm::Op::kLdWInd:
      case vm::Op::kLdHInd:
      case vm::Op::kLdBInd: operand = fmt("[x + %d]", sgn(p.k)); break;
      case vm::Op::kLdLen: operand = "#pktlen"; break;
      case vm::Op::kLdImm:
      case vm::Op::kLdxImm: operand = fmt("#0x%x", p.k); break;
      case vm::Op::kLdMem:
      case vm::Op::kLdxMem:
      case vm::Op::kSt:
      case vm::Op::kStx: operand = fmt("M[%d]", sgn(p.k)); break;
      case vm::Op::kLdxMsh: operand = fmt("4*([%d]&0xf)", sgn(p.k)); break;
      // libpcap 1.10 bpf_image() has no case for these two.
      case vm::Op::kLdxLen:
      case vm::Op::kRetX:
        op = "unimp";
        operand = fmt("0x%x", p.code);
        break;
      case vm::Op::kAddK:
      case vm::Op::kSubK:
      case vm::Op::kMulK:
      case vm::Op::kDivK:
      case vm::Op::kModK:
      case vm::Op::kLshK:
      case vm::Op::kRshK: operand = fmt("#%d", sgn(p.k)); break;
      case vm::Op::kAndK:
      case vm::Op::kOrK:
      case vm::Op::kXorK: operand = fmt("#0x%x", p.k); break;
      case vm::Op::kAddX:
      case vm::Op::kSubX:
      case vm::Op::kMulX:
      case vm::Op::kDivX:
      case vm::Op::kModX:
      case vm::Op::kAndX:
      case vm::Op::kOrX:
      case vm::Op::kXorX:
      case vm::Op::kLshX:
      case vm::Op::kRshX:
      case vm::Op::kJeqX:
      case vm::Op::kJgtX:
      case vm::Op::kJgeX:
      case vm::Op::kJsetX: operand = "x"; break;
      case vm::Op::kNeg:
      case vm::Op::kRetA:
      case vm::Op::kTax:
      case vm::Op::kTxa: break;
      case vm::Op::kJa: operand = fmt("%d", sgn(n + 1 + p.k)); break;
      case vm::Op::kJeqK:
      case vm::Op::kJgtK:
      case vm::Op::kJgeK:
      case vm::Op::kJsetK: operand = fmt("#0x%x", p.k); break;
      case vm::Op::kRetK: operand = fmt("#%d", sgn(p.k)); break;
    }
  }
  bool cond = vm::code::cls(p.code) == vm::code::kJmp && vm::code::op(p.code) != vm::code::kJa;
  if (cond)
    return fmt("(%03d) %-8s %-16s jt %d\tjf %d", sgn(n), op, operand.c_str(), sgn(n + 1 + p.jt),
               sgn(n + 1 + p.jf));
  return fmt("(%03d) %-8s %s", sgn(n), op, operand.c_str());
}

std::string format_program(std::span<const vm::Insn> insns, Format f) {
  std::string out;
  switch (f) {
    case Format::kAsm: return disassemble(insns);
    case Format::kC:
      for (const auto& i : insns)
        out += fmt("{ 0x%x, %d, %d, 0x%08x },\n", i.code, i.jt, i.jf, i.k);
      return out;
    case Format::kDdd:
      out = fmt("%d\n", static_cast<int>(insns.size()));
      for (const auto& i : insns) out += fmt("%u %u %u %u\n", i.code, i.jt, i.jf, i.k);
      return out;
    case Format::kListing:
      for (size_t n = 0; n < insns.size(); ++n) {
        out += listing_line(insns[n], static_cast<uint32_t>(n));
        out += '\n';
      }
      return out;
    case Format::kXtBpf:
      out = fmt("%u,", static_cast<unsigned>(insns.size()));
      for (const auto& i : insns) out += fmt("%u %u %u %u,", i.code, i.jt, i.jf, i.k);
      out += '\n';
      return out;
    case Format::kBin:
      out.resize(insns.size() * sizeof(vm::Insn));
      if (!insns.empty()) std::memcpy(out.data(), insns.data(), out.size());
      return out;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Disassembly

namespace {

std::string signed_dec(uint32_t k) {
  if (k >= 0x80000000u) return fmt("-%u", 0u - k);
  return fmt("%u", k);
}

// Names bpf_asm itself accepts (bpf_exp.l); the others are printed as numbers.
std::optional<std::string> bpf_asm_ancillary(uint32_t k) {
  auto a = vm::ancillary_for(k);
  if (!a || *a == vm::Ancillary::kAluXorX) return std::nullopt;
  return std::string(vm::info(*a).name);
}

// The assembly text of an instruction, or nullopt if assembly cannot express it exactly.
std::optional<std::string> asm_text(const vm::Insn& p, size_t i, size_t n) {
  std::optional<vm::Op> d = vm::decode(p.code);
  if (!d) return std::nullopt;
  const vm::OpInfo& info = vm::info(*d);
  std::string m(info.mnemonic);
  auto label = [](size_t t) { return "L" + std::to_string(t); };
  bool jumps = info.has(vm::eff::kJump);
  if (!jumps && (p.jt || p.jf)) return std::nullopt;
  uint64_t t = i + 1 + uint64_t{p.jt}, f = i + 1 + uint64_t{p.jf};
  switch (*d) {
    case vm::Op::kLdW:
    case vm::Op::kLdH:
    case vm::Op::kLdB:
      if (auto a = bpf_asm_ancillary(p.k)) return m + " #" + *a;
      return m + " [" + signed_dec(p.k) + "]";
    case vm::Op::kLdWInd:
    case vm::Op::kLdHInd:
    case vm::Op::kLdBInd: return m + " [x + " + fmt("%u", p.k) + "]";
    case vm::Op::kLdLen:
    case vm::Op::kLdxLen:
      if (p.k) return std::nullopt;
      return m + " #len";
    case vm::Op::kLdImm:
    case vm::Op::kLdxImm: return m + fmt(" #0x%x", p.k);
    case vm::Op::kLdMem:
    case vm::Op::kLdxMem:
    case vm::Op::kSt:
    case vm::Op::kStx:
      if (p.k >= vm::kMemWords) return std::nullopt;
      return m + fmt(" M[%u]", p.k);
    case vm::Op::kLdxMsh: return m + " 4*([" + signed_dec(p.k) + "]&0xf)";
    case vm::Op::kAddK:
    case vm::Op::kSubK:
    case vm::Op::kMulK:
    case vm::Op::kDivK:
    case vm::Op::kModK:
    case vm::Op::kLshK:
    case vm::Op::kRshK: return m + fmt(" #%u", p.k);
    case vm::Op::kAndK:
    case vm::Op::kOrK:
    case vm::Op::kXorK: return m + fmt(" #0x%x", p.k);
    case vm::Op::kAddX:
    case vm::Op::kSubX:
    case vm::Op::kMulX:
    case vm::Op::kDivX:
    case vm::Op::kModX:
    case vm::Op::kAndX:
    case vm::Op::kOrX:
    case vm::Op::kXorX:
    case vm::Op::kLshX:
    case vm::Op::kRshX:
      if (p.k) return std::nullopt;
      return m + " x";
    case vm::Op::kNeg:
    case vm::Op::kTax:
    case vm::Op::kTxa:
      if (p.k) return std::nullopt;
      return m;
    case vm::Op::kJa: {
      uint64_t target = i + 1 + uint64_t{p.k};
      if (target >= n || p.jt || p.jf) return std::nullopt;
      return m + " " + label(target);
    }
    case vm::Op::kJeqK:
    case vm::Op::kJgtK:
    case vm::Op::kJgeK:
    case vm::Op::kJsetK:
      if (t >= n || f >= n) return std::nullopt;
      return m + fmt(" #0x%x, ", p.k) + label(t) + ", " + label(f);
    case vm::Op::kJeqX:
    case vm::Op::kJgtX:
    case vm::Op::kJgeX:
    case vm::Op::kJsetX:
      if (t >= n || f >= n || p.k) return std::nullopt;
      return m + " x, " + label(t) + ", " + label(f);
    case vm::Op::kRetK: return m + fmt(" #%u", p.k);
    case vm::Op::kRetA:
      if (p.k) return std::nullopt;
      return m + " a";
    case vm::Op::kRetX:
      if (p.k) return std::nullopt;
      return m + " x";
  }
  return std::nullopt;
}

}  // namespace

std::string disassemble(std::span<const vm::Insn> insns) {
  const size_t n = insns.size();
  std::vector<std::optional<std::string>> text(n);
  std::vector<bool> target(n, false);
  for (size_t i = 0; i < n; ++i) {
    const vm::Insn& p = insns[i];
    text[i] = asm_text(p, i, n);
    if (!text[i]) continue;
    std::optional<vm::Op> d = vm::decode(p.code);
    if (*d == vm::Op::kJa) {
      target[i + 1 + p.k] = true;
    } else if (vm::info(*d).has(vm::eff::kCond)) {
      target[i + 1 + p.jt] = true;
      target[i + 1 + p.jf] = true;
    }
  }
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    std::string lab;
    if (target[i]) lab = "L" + std::to_string(i) + ":";
    if (lab.size() < 8)
      lab.resize(8, ' ');
    else
      lab += ' ';
    out += lab;
    if (text[i]) {
      out += *text[i];
    } else {
      const vm::Insn& p = insns[i];
      out += fmt(".insn 0x%x, %u, %u, 0x%x", p.code, p.jt, p.jf, p.k);
    }
    out += '\n';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading

namespace {

// A tiny scanner over text bytecode that tracks line and column for diagnostics.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  bool eof() const { return i_ >= s_.size(); }
  char peek() const { return eof() ? '\0' : s_[i_]; }
  SourceLoc loc(uint32_t len = 1) const { return SourceLoc{line_, col_, len}; }
  void advance() {
    if (eof()) return;
    if (s_[i_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++i_;
  }
  // Skips blanks (not newlines when `stop_at_newline`) and C comments.
  void skip_space(bool stop_at_newline = false) {
    for (;;) {
      char c = peek();
      if (c == '\n' && stop_at_newline) return;
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f') {
        advance();
      } else if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '*') {
        advance();
        advance();
        while (!eof() && !(peek() == '*' && i_ + 1 < s_.size() && s_[i_ + 1] == '/')) advance();
        advance();
        advance();
      } else if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '/') {
        while (!eof() && peek() != '\n') advance();
      } else {
        return;
      }
    }
  }
  // An unsigned integer: decimal, or C syntax (0x.., leading-0 octal) when `c_syntax`.
  std::optional<uint64_t> number(bool c_syntax, std::string* text = nullptr) {
    size_t start = i_;
    unsigned base = 10;
    if (c_syntax && peek() == '0' && i_ + 1 < s_.size() &&
        (s_[i_ + 1] == 'x' || s_[i_ + 1] == 'X')) {
      base = 16;
      advance();
      advance();
    } else if (c_syntax && peek() == '0') {
      base = 8;
    }
    uint64_t v = 0;
    size_t digits = 0;
    for (;;) {
      char c = peek();
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : 99;
      if (d >= static_cast<int>(base)) break;
      // Saturate: anything this large is out of range for every field (make_insn says so).
      v = v > (UINT64_C(1) << 40) ? UINT64_MAX : v * base + static_cast<uint64_t>(d);
      ++digits;
      advance();
    }
    if (text) *text = std::string(s_.substr(start, i_ - start));
    if (digits == 0) return std::nullopt;
    // Reject a number glued to letters, e.g. `12abc`.
    if (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_') return std::nullopt;
    return v;
  }
  size_t pos() const { return i_; }

 private:
  std::string_view s_;
  size_t i_ = 0;
  uint32_t line_ = 1, col_ = 1;
};

std::string describe_char(char c) {
  if (c == '\0') return "end of input";
  if (c == '\n') return "end of line";
  if (static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f)
    return std::string("'") + c + "'";
  return fmt("byte 0x%02x", static_cast<unsigned char>(c));
}

// Builds an instruction from four fields, reporting fields out of range with the index.
std::optional<vm::Insn> make_insn(const uint64_t f[4], uint32_t index, Diagnostics& d) {
  static constexpr uint64_t kMax[4] = {0xffff, 0xff, 0xff, 0xffffffff};
  static constexpr const char* kName[4] = {"code", "jt", "jf", "k"};
  bool ok = true;
  for (int i = 0; i < 4; ++i)
    if (f[i] > kMax[i]) {
      if (f[i] == UINT64_MAX)
        d.error(fmt("%s is out of range (maximum %llu)", kName[i],
                    static_cast<unsigned long long>(kMax[i])),
                {}, index);
      else
        d.error(
            fmt("%s = %llu is out of range (maximum %llu)", kName[i],
                static_cast<unsigned long long>(f[i]), static_cast<unsigned long long>(kMax[i])),
            {}, index);
      ok = false;
    }
  if (!ok) return std::nullopt;
  return vm::Insn{static_cast<uint16_t>(f[0]), static_cast<uint8_t>(f[1]),
                  static_cast<uint8_t>(f[2]), static_cast<uint32_t>(f[3])};
}

// Appends the instruction the four numbers make (a zero placeholder when they are out of range,
// so later diagnostics keep their indices); the readers below share it.
void append_insn(const uint64_t f[4], vm::Program& prog, Diagnostics& d) {
  auto insn = make_insn(f, static_cast<uint32_t>(prog.insns.size()), d);
  prog.insns.push_back(insn ? *insn : vm::Insn{});
}

// The leading instruction count of the ddd and xt_bpf formats must match what follows.
void check_count(uint64_t count, const vm::Program& prog, SourceLoc count_loc, Diagnostics& d) {
  if (count != prog.insns.size())
    d.error(fmt("the count says %llu instructions but %zu follow",
                static_cast<unsigned long long>(count), prog.insns.size()),
            count_loc);
}

Result<vm::Program> finish(vm::Program prog, Diagnostics d, std::string_view source) {
  // No length limit here: the kernels' are the verifier's (verifier::Destination).
  if (!d.has_errors() && prog.insns.empty()) d.error("no instructions in the input");
  d.attach_source(source);
  if (d.has_errors()) return Result<vm::Program>(std::move(d));
  return Result<vm::Program>(std::move(prog), std::move(d));
}

Result<vm::Program> read_ddd(std::string_view s) {
  Diagnostics d;
  vm::Program prog;
  Scanner sc(s);
  sc.skip_space();
  SourceLoc count_loc = sc.loc();
  auto count = sc.number(false);
  if (!count) {
    d.error("expected the instruction count (tcpdump -ddd format)", sc.loc());
    return finish({}, std::move(d), s);
  }
  for (;;) {
    sc.skip_space();
    if (sc.eof()) break;
    uint64_t f[4];
    for (int i = 0; i < 4; ++i) {
      sc.skip_space(i > 0);
      SourceLoc at = sc.loc();
      auto v = sc.number(false);
      if (!v) {
        d.error("expected " + std::string(i == 0 ? "an instruction" : "a number") +
                    " (code jt jf k), found " + describe_char(sc.peek()),
                at);
        return finish({}, std::move(d), s);
      }
      f[i] = *v;
    }
    sc.skip_space(true);
    if (!sc.eof() && sc.peek() != '\n') {
      d.error("expected end of line after four numbers, found " + describe_char(sc.peek()),
              sc.loc());
      return finish({}, std::move(d), s);
    }
    append_insn(f, prog, d);
  }
  check_count(*count, prog, count_loc, d);
  return finish(std::move(prog), std::move(d), s);
}

Result<vm::Program> read_xt_bpf(std::string_view s) {
  Diagnostics d;
  vm::Program prog;
  // Tolerate the quotes of a copied iptables command line.
  std::string_view body = s;
  Scanner sc(body);
  sc.skip_space();
  bool quoted = sc.peek() == '\'' || sc.peek() == '"';
  char quote = sc.peek();
  if (quoted) sc.advance();
  SourceLoc count_loc = sc.loc();
  auto count = sc.number(false);
  if (!count) {
    d.error("expected the instruction count (xt_bpf format: N,code jt jf k,...)", sc.loc());
    return finish({}, std::move(d), s);
  }
  for (;;) {
    sc.skip_space();
    if (quoted && sc.peek() == quote) {
      sc.advance();
      sc.skip_space();
      if (!sc.eof()) d.error("unexpected text after the closing quote", sc.loc());
      break;
    }
    if (sc.eof()) break;
    if (sc.peek() != ',') {
      d.error("expected ',' between instructions, found " + describe_char(sc.peek()), sc.loc());
      return finish({}, std::move(d), s);
    }
    sc.advance();
    sc.skip_space();
    if (sc.eof() || (quoted && sc.peek() == quote)) continue;  // trailing comma (bpf_asm)
    uint64_t f[4];
    for (int i = 0; i < 4; ++i) {
      if (i) {
        sc.skip_space(true);
      }
      SourceLoc at = sc.loc();
      auto v = sc.number(false);
      if (!v) {
        d.error("expected a number (code jt jf k), found " + describe_char(sc.peek()), at);
        return finish({}, std::move(d), s);
      }
      f[i] = *v;
    }
    append_insn(f, prog, d);
  }
  check_count(*count, prog, count_loc, d);
  return finish(std::move(prog), std::move(d), s);
}

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// The C format: what tcpdump -dd, bpf_asm -c, netsniff-ng bpfc and `bpfc -f c` print, a list of
// `{ code, jt, jf, k },` tuples (trailing comma optional), optionally inside the declaration
// netsniff-ng and hand-written programs use, `[static] [const] struct sock_filter NAME[N] = {
// ... };`, with C comments anywhere. Anything else (`int main() {}`, prose) is an error at its
// line and column: the reader does not pick tuples out of arbitrary text.
Result<vm::Program> read_c(std::string_view s) {
  Diagnostics d;
  vm::Program prog;
  Scanner sc(s);
  auto fail = [&](const std::string& msg) {
    d.error(msg, sc.loc());
    return finish({}, std::move(d), s);
  };
  sc.skip_space();
  bool wrapped = false;  // inside `... NAME[] = {`
  if (ident_start(sc.peek())) {
    SourceLoc last_word;
    while (ident_start(sc.peek())) {
      last_word = sc.loc();
      const size_t from = sc.pos();
      while (ident_char(sc.peek())) sc.advance();
      last_word.length = static_cast<uint32_t>(sc.pos() - from);
      sc.skip_space();
    }
    if (sc.eof()) {
      d.error("expected '{ code, jt, jf, k },' lines (tcpdump -dd) or a declaration "
              "`struct sock_filter NAME[] = { ... };`, found only words",
              last_word);
      return finish({}, std::move(d), s);
    }
    if (sc.peek() == '[') {
      sc.advance();
      sc.skip_space();
      if (std::isdigit(static_cast<unsigned char>(sc.peek()))) {
        if (!sc.number(true)) return fail("expected the array length in '[N]'");
        sc.skip_space();
      }
      if (sc.peek() != ']') return fail("expected ']', found " + describe_char(sc.peek()));
      sc.advance();
      sc.skip_space();
    }
    if (sc.peek() != '=')
      return fail("expected '{ code, jt, jf, k },' lines (tcpdump -dd) or a declaration "
                  "`struct sock_filter NAME[] = { ... };`, found " + describe_char(sc.peek()));
    sc.advance();
    sc.skip_space();
    if (sc.peek() != '{')
      return fail("expected '{' after '=' (struct sock_filter NAME[] = { ... };), found " +
                  describe_char(sc.peek()));
    sc.advance();
    wrapped = true;
  }
  for (;;) {
    sc.skip_space();
    if (sc.eof()) {
      if (wrapped) return fail("expected '};' to close the declaration, found end of input");
      break;
    }
    if (wrapped && sc.peek() == '}') {
      sc.advance();
      sc.skip_space();
      if (sc.peek() == ';') sc.advance();
      sc.skip_space();
      if (!sc.eof()) return fail("unexpected " + describe_char(sc.peek()) + " after '};'");
      break;
    }
    if (sc.peek() != '{')
      return fail("expected '{ code, jt, jf, k }' (tcpdump -dd format), found " +
                  describe_char(sc.peek()));
    sc.advance();
    uint64_t f[4];
    for (int i = 0; i < 4; ++i) {
      sc.skip_space();
      if (i) {
        if (sc.peek() != ',')
          return fail("expected ',' between the fields of { code, jt, jf, k }, found " +
                      describe_char(sc.peek()));
        sc.advance();
        sc.skip_space();
      }
      SourceLoc at = sc.loc();
      auto v = sc.number(true);
      if (!v) {
        d.error("expected a number in { code, jt, jf, k }, found " + describe_char(sc.peek()), at);
        return finish({}, std::move(d), s);
      }
      f[i] = *v;
    }
    sc.skip_space();
    if (sc.peek() != '}')
      return fail("expected '}' after { code, jt, jf, k }, found " + describe_char(sc.peek()));
    sc.advance();
    append_insn(f, prog, d);
    sc.skip_space();
    if (sc.peek() == ',') {
      sc.advance();
      continue;
    }
    if (!sc.eof() && !(wrapped && sc.peek() == '}'))
      return fail("expected ',' after '}', found " + describe_char(sc.peek()));
  }
  return finish(std::move(prog), std::move(d), s);
}

Result<vm::Program> read_bin(std::string_view s) {
  Diagnostics d;
  vm::Program prog;
  if (s.size() % sizeof(vm::Insn) != 0) {
    d.error(fmt("binary input is %zu bytes, not a multiple of 8 (struct sock_filter)", s.size()));
    return finish({}, std::move(d), {});
  }
  prog.insns.resize(s.size() / sizeof(vm::Insn));
  if (!s.empty()) std::memcpy(prog.insns.data(), s.data(), s.size());
  return finish(std::move(prog), std::move(d), {});
}

}  // namespace

std::optional<Format> detect_format(std::string_view data) {
  if (data.empty()) return std::nullopt;
  // Binary is a whole number of struct sock_filter with NUL or control bytes: every valid
  // instruction has at least one NUL (the high byte of `code`), and jt, jf and the high bytes of
  // k add more. Text may hold bytes >= 0x80 (UTF-8 in comments). Anything else is taken as text,
  // whose reader reports a stray NUL or control byte at its line and column.
  size_t nuls = 0;
  bool control = false;
  for (unsigned char c : data) {
    if (c == 0)
      ++nuls;
    else if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\v' && c != '\f') ||
             c == 0x7f)
      control = true;
  }
  if ((nuls || control) && data.size() % sizeof(vm::Insn) == 0 &&
      (control || nuls * sizeof(vm::Insn) >= data.size()))
    return Format::kBin;
  Scanner sc(data);
  sc.skip_space();
  char c = sc.peek();
  if (c == '\'' || c == '"') {
    sc.advance();
    c = sc.peek();
  }
  if (std::isdigit(static_cast<unsigned char>(c))) {
    if (!sc.number(false)) return Format::kAsm;
    sc.skip_space(true);
    if (sc.peek() == ',') return Format::kXtBpf;
    if (sc.peek() == '\n' || sc.eof()) return Format::kDdd;
    return Format::kAsm;
  }
  // C: a `{` first (tcpdump -dd), or a `struct sock_filter` declaration.
  if (c == '{' || data.find("sock_filter") != std::string_view::npos) return Format::kC;
  return Format::kAsm;
}

Result<vm::Program> read_bytecode(std::string_view data, Format f) {
  if (f != Format::kBin) {
    if (const size_t nul = data.find('\0'); nul != std::string_view::npos) {
      Scanner sc(data);
      while (sc.pos() < nul) sc.advance();
      Diagnostics d;
      d.error(data.size() % sizeof(vm::Insn) == 0
                  ? "NUL byte in text input (for binary struct sock_filter input use -x bin)"
                  : "NUL byte in text input (nor is it binary bytecode: " +
                        std::to_string(data.size()) + " bytes is not a multiple of 8)",
              sc.loc());
      std::string shown(data);
      for (char& ch : shown)
        if (ch == '\0') ch = ' ';
      d.attach_source(shown);
      return Result<vm::Program>(std::move(d));
    }
  }
  switch (f) {
    case Format::kAsm: return assemble(data);
    case Format::kC: return read_c(data);
    case Format::kDdd: return read_ddd(data);
    case Format::kXtBpf: return read_xt_bpf(data);
    case Format::kBin: return read_bin(data);
    case Format::kListing: {
      Diagnostics d;
      d.error(
          "the listing format (tcpdump -d) is for reading by people; use c, ddd, xt_bpf or "
          "bin");
      return Result<vm::Program>(std::move(d));
    }
  }
  return Result<vm::Program>(Diagnostics{});
}

}  // namespace bpf::compiler
