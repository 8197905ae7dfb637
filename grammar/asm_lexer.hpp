// The re2c lexer of the assembly grammar (internal to grammar/; see asm_lexer.re).
//
// Tokens follow Linux tools/bpf/bpf_exp.l and netsniff-ng bpf_lexer.l: case-insensitive names,
// numbers in hex (0x), binary (0b), octal (leading 0) and decimal, comments `;` to end of line,
// `/* */`, and `#` as the first non-blank character of a line. Signs are separate tokens (so
// `[x+4]` reads as it looks; bpf_asm lexes `+4` as one number there and rejects it). Lexical
// errors are reported to the Diagnostics and returned as the BAD token, which the parser's error
// recovery swallows. The lexer owns a NUL-terminated copy of the source.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "asm_parser.hpp"  // generated into the build tree
#include "vm/diagnostic.hpp"

namespace bpf::grammar::detail {

class Lexer {
 public:
  Lexer(std::string_view source, Diagnostics& diags);
  Parser::symbol_type next();

 private:
  Parser::symbol_type scan();
  Span span_of(const unsigned char* begin, const unsigned char* end) const;
  void newline_at(const unsigned char* after);

  std::string buf_;
  const unsigned char* cur_ = nullptr;
  const unsigned char* limit_ = nullptr;  // points at the terminating NUL
  const unsigned char* line_start_ = nullptr;
  uint32_t line_ = 1;
  bool line_has_tokens_ = false;  // a token other than NEWLINE was returned on this line
  bool done_ = false;
  Diagnostics& diags_;
};

}  // namespace bpf::grammar::detail
