// Entry point of grammar/: runs the re2c lexer and the Bison parser over a source text and
// returns the AST with every lexical and syntax error. No global state: each call owns its lexer
// and parser. Tested by tests/asm/ and tests/fuzz/asm_parser.cpp.
#include "grammar/asm_lexer.hpp"
#include "grammar/ast.hpp"

namespace bpf::grammar {

ParseOutput parse(std::string_view source) {
  ParseOutput out;
  detail::ParseState state;
  state.diags = &out.diags;
  detail::Lexer lexer(source, out.diags);
  detail::Parser parser(lexer, state);
  parser.parse();
  out.unit = std::move(state.unit);
  out.unit.trailing_labels = std::move(state.pending_labels);
  out.diags.attach_source(source);
  return out;
}

}  // namespace bpf::grammar
