// Private interface between grammar/expr_lexer.re and grammar/expr_parser.y (not installed).
// The lexer state is a plain struct passed by pointer: no globals, reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "grammar/expr_ast.hpp"

namespace bpf::grammar::detail {

// Semantic value of every token and nonterminal: one plain struct (not a union), so that the
// grammar's `$<blk>0` look-backs (libpcap's qualifier inheritance) always read defined data.
struct ExprValue {
  Qual q{};
  int32_t node = -1;
  uint32_t num = 0;
  int32_t str = -1;   // index into ExprLexer::strings
  int i = 0;
};

struct ExprLexer {
  const char* base = nullptr;  // start of the text (NUL-terminated copy)
  const char* cur = nullptr;
  const char* tok = nullptr;
  ExprAst* ast = nullptr;
  std::vector<std::string> strings;
  int32_t add_string(std::string s) {
    strings.push_back(std::move(s));
    return static_cast<int32_t>(strings.size() - 1);
  }
};

}  // namespace bpf::grammar::detail
