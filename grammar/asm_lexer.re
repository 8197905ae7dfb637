// re2c lexer for classic BPF assembly (see asm_lexer.hpp for what it accepts and why).
// Compiled by re2c into the build tree (re2c_target in the top CMakeLists.txt).
// Tested through the assembler: tests/asm/assembler_test.cpp, errors_test.cpp, the fuzzer.
#include "grammar/asm_lexer.hpp"

#include <string_view>

namespace bpf::grammar::detail {

namespace {

using P = Parser;

std::string printable(unsigned char c) {
  if (c >= 0x20 && c < 0x7f) return std::string(1, static_cast<char>(c));
  static const char* hex = "0123456789abcdef";
  return std::string("\\x") + hex[c >> 4] + hex[c & 15];
}

int digit_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

Number make_number(const unsigned char* digits, const unsigned char* end, unsigned base,
                   std::string text) {
  Number n;
  n.text = std::move(text);
  for (const unsigned char* p = digits; p < end; ++p) {
    uint64_t d = static_cast<uint64_t>(digit_value(*p));
    if (n.magnitude > (UINT64_MAX - d) / base) n.overflow = true;
    n.magnitude = n.magnitude * base + d;
  }
  return n;
}

}  // namespace

Lexer::Lexer(std::string_view source, Diagnostics& diags) : buf_(source), diags_(diags) {
  cur_ = reinterpret_cast<const unsigned char*>(buf_.c_str());
  limit_ = cur_ + buf_.size();
  line_start_ = cur_;
}

Span Lexer::span_of(const unsigned char* begin, const unsigned char* end) const {
  Span s;
  s.line = s.end_line = line_;
  s.column = static_cast<uint32_t>(begin - line_start_) + 1;
  s.end_column = static_cast<uint32_t>(end - line_start_) + 1;
  return s;
}

void Lexer::newline_at(const unsigned char* after) {
  ++line_;
  line_start_ = after;
  line_has_tokens_ = false;
}

Parser::symbol_type Lexer::next() {
  if (done_) {
    Span s = span_of(cur_, cur_);
    return P::make_END(s);
  }
  P::symbol_type t = scan();
  if (t.kind() == P::symbol_kind::S_YYEOF) {
    // Every line ends with NEWLINE, also the last one without '\n'.
    if (line_has_tokens_) {
      line_has_tokens_ = false;
      return P::make_NEWLINE(t.location);
    }
    done_ = true;
  } else if (t.kind() == P::symbol_kind::S_NEWLINE) {
    line_has_tokens_ = false;
  } else {
    line_has_tokens_ = true;
  }
  return t;
}

Parser::symbol_type Lexer::scan() {
  const unsigned char* marker = nullptr;
  (void)marker;
  for (;;) {
    const unsigned char* tok = cur_;
    /*!re2c
      re2c:api:style = free-form;
      re2c:define:YYCTYPE = "unsigned char";
      re2c:define:YYCURSOR = cur_;
      re2c:define:YYMARKER = marker;
      re2c:yyfill:enable = 0;

      ident = [a-zA-Z_.][a-zA-Z0-9_.]*;

      "\x00" {
        if (tok == limit_) { cur_ = tok; return P::make_END(span_of(tok, tok)); }
        diags_.error("unexpected character '\\x00'", span_of(tok, cur_).loc());
        return P::make_BAD(span_of(tok, cur_));
      }
      "\r"? "\n" {
        Span s = span_of(tok, tok);
        newline_at(cur_);
        return P::make_NEWLINE(s);
      }
      [ \t\r\v\f]+ { continue; }
      ";" [^\n\x00]* { continue; }
      "//" [^\n\x00]* { continue; }
      "/*" {
        // Searched in the whole remaining source (a NUL byte inside a comment is just a byte).
        std::string_view rest(reinterpret_cast<const char*>(cur_),
                              static_cast<size_t>(limit_ - cur_));
        size_t at = rest.find("*/");
        const char* close = at == std::string_view::npos ? nullptr : rest.data() + at;
        if (close == nullptr) {
          diags_.error("unterminated comment", span_of(tok, tok + 2).loc());
          cur_ = limit_;
          return P::make_BAD(span_of(tok, tok + 2));
        }
        // A comment that spans lines ends the line it started on.
        bool had_newline = false;
        Span nl_span = span_of(tok, tok);
        for (const unsigned char* p = cur_; p < reinterpret_cast<const unsigned char*>(close); ++p)
          if (*p == '\n') { had_newline = true; newline_at(p + 1); }
        cur_ = reinterpret_cast<const unsigned char*>(close) + 2;
        if (had_newline && line_has_tokens_) return P::make_NEWLINE(nl_span);
        continue;
      }
      "#" {
        // bpf_asm: `^#.*` is a comment line (cpp leftovers); here also after leading blanks.
        if (!line_has_tokens_) {
          while (*cur_ != '\n' && cur_ < limit_) ++cur_;
          continue;
        }
        return P::make_HASH(span_of(tok, cur_));
      }
      ident {
        return P::make_IDENT(std::string(reinterpret_cast<const char*>(tok), cur_ - tok),
                             span_of(tok, cur_));
      }
      "0" [xX] [0-9a-fA-F]+ {
        return P::make_NUMBER(make_number(tok + 2, cur_, 16,
            std::string(reinterpret_cast<const char*>(tok), cur_ - tok)), span_of(tok, cur_));
      }
      "0" [bB] [01]+ {
        return P::make_NUMBER(make_number(tok + 2, cur_, 2,
            std::string(reinterpret_cast<const char*>(tok), cur_ - tok)), span_of(tok, cur_));
      }
      "0" [0-7]+ {
        return P::make_NUMBER(make_number(tok + 1, cur_, 8,
            std::string(reinterpret_cast<const char*>(tok), cur_ - tok)), span_of(tok, cur_));
      }
      "0" | [1-9][0-9]* {
        return P::make_NUMBER(make_number(tok, cur_, 10,
            std::string(reinterpret_cast<const char*>(tok), cur_ - tok)), span_of(tok, cur_));
      }
      [0-9][0-9a-zA-Z_]* {
        std::string text(reinterpret_cast<const char*>(tok), cur_ - tok);
        std::string why = "invalid number '" + text + "'";
        if (text.size() > 1 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
          why += " (hexadecimal digits are 0-9, a-f)";
        else if (text.size() > 1 && text[0] == '0' && (text[1] == 'b' || text[1] == 'B'))
          why += " (binary digits are 0 and 1)";
        else if (text.size() > 1 && text[0] == '0')
          why += " (a leading 0 means octal: digits 0-7)";
        diags_.error(std::move(why), span_of(tok, cur_).loc());
        return P::make_BAD(span_of(tok, cur_));
      }
      ":" { return P::make_COLON(span_of(tok, cur_)); }
      "," { return P::make_COMMA(span_of(tok, cur_)); }
      "%" { return P::make_PERCENT(span_of(tok, cur_)); }
      "[" { return P::make_LBRACKET(span_of(tok, cur_)); }
      "]" { return P::make_RBRACKET(span_of(tok, cur_)); }
      "(" { return P::make_LPAREN(span_of(tok, cur_)); }
      ")" { return P::make_RPAREN(span_of(tok, cur_)); }
      "+" { return P::make_PLUS(span_of(tok, cur_)); }
      "-" { return P::make_MINUS(span_of(tok, cur_)); }
      "*" { return P::make_STAR(span_of(tok, cur_)); }
      "&" { return P::make_AMP(span_of(tok, cur_)); }
      * {
        diags_.error("unexpected character '" + printable(*tok) + "'",
                     span_of(tok, cur_).loc());
        return P::make_BAD(span_of(tok, cur_));
      }
    */
  }
}

}  // namespace bpf::grammar::detail
