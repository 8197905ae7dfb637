// Bison grammar for classic BPF assembly: the union of Linux tools/bpf/bpf_exp.y (bpf_asm) and
// netsniff-ng bpf_parser.y (bpfc).
//
// The grammar is line-oriented and generic: `[label:]... [mnemonic [operand {, operand}]] EOL`,
// where an operand is one of the shapes of grammar/ast.hpp. Actions only build AST nodes into the
// ParseState passed in (no global state, no exit()); meaning is given by compiler/assembler.cpp.
// A syntax error skips to the end of its line (`error NEWLINE`), so every line's errors are
// reported. Differences from bpf_asm (which ignores newlines): one instruction per line; a comma
// may be followed by a line break. Tested by tests/asm/.
%require "3.8"
%language "c++"
%skeleton "lalr1.cc"
%define api.namespace {bpf::grammar::detail}
%define api.parser.class {Parser}
%define api.value.type variant
%define api.token.constructor
%define api.token.prefix {TOK_}
%define api.location.type {bpf::grammar::Span}
%define parse.error custom
// No default reductions in states that could also shift: a bad token is reported before an
// incomplete instruction is reduced (and handed to the assembler as if it were complete).
%define lr.default-reduction consistent
%locations
%param {Lexer& lexer}
%parse-param {ParseState& state}

%code requires {
#include <string>
#include <utility>
#include <vector>

#include "grammar/ast.hpp"

namespace bpf::grammar::detail {
class Lexer;

// Everything the actions build. Labels are recorded as soon as they are seen, so that a syntax
// error later on the same line does not make them look undefined.
struct ParseState {
  Unit unit;
  Diagnostics* diags = nullptr;
  std::vector<Label> pending_labels;

  void add_instruction(std::string mnemonic, const Span& mspan, std::vector<Operand> ops,
                       const Span& span) {
    Instruction insn;
    insn.labels = std::move(pending_labels);
    pending_labels.clear();
    insn.mnemonic = std::move(mnemonic);
    insn.mnemonic_span = mspan;
    insn.operands = std::move(ops);
    insn.span = span;
    unit.instructions.push_back(std::move(insn));
  }
};
}  // namespace bpf::grammar::detail
}

%code {
#include "grammar/asm_lexer.hpp"

#define YYLLOC_DEFAULT(Cur, Rhs, N)                               \
  do {                                                            \
    if (N) {                                                      \
      (Cur).line = YYRHSLOC(Rhs, 1).line;                         \
      (Cur).column = YYRHSLOC(Rhs, 1).column;                     \
      (Cur).end_line = YYRHSLOC(Rhs, N).end_line;                 \
      (Cur).end_column = YYRHSLOC(Rhs, N).end_column;             \
    } else {                                                      \
      (Cur).line = (Cur).end_line = YYRHSLOC(Rhs, 0).end_line;    \
      (Cur).column = (Cur).end_column = YYRHSLOC(Rhs, 0).end_column; \
    }                                                             \
  } while (0)

namespace bpf::grammar::detail {
static Parser::symbol_type yylex(Lexer& lexer) { return lexer.next(); }

static Operand make_operand(OperandShape shape, const Span& span) {
  Operand op;
  op.shape = shape;
  op.span = span;
  return op;
}

static Number negate(Number n, const Span& span) {
  n.negative = !n.negative && n.magnitude != 0;
  n.text = "-" + n.text;
  n.span = span;
  return n;
}
}  // namespace bpf::grammar::detail
}

%token <std::string> IDENT "identifier"
%token <Number> NUMBER "number"
%token NEWLINE "end of line"
%token COLON "':'" COMMA "','" HASH "'#'" PERCENT "'%'" LBRACKET "'['" RBRACKET "']'"
%token LPAREN "'('" RPAREN "')'" PLUS "'+'" MINUS "'-'" STAR "'*'" AMP "'&'"
%token BAD "invalid token"
%token END 0 "end of file"

%type <Number> number
%type <Operand> operand
%type <std::vector<Operand>> operands

%%

program
  : %empty
  | program line
  ;

line
  : labels NEWLINE
  | labels instruction NEWLINE
  | error NEWLINE { yyerrok; }
  ;

labels
  : %empty
  | labels IDENT "':'" { state.pending_labels.push_back(Label{std::move($2), @2}); }
  ;

instruction
  : IDENT { state.add_instruction(std::move($1), @1, {}, @$); }
  | IDENT operands { state.add_instruction(std::move($1), @1, std::move($2), @$); }
  ;

operands
  : operand { $$.push_back(std::move($1)); }
  | operands "','" newlines operand { $$ = std::move($1); $$.push_back(std::move($4)); }
  ;

newlines
  : %empty
  | newlines NEWLINE
  ;

operand
  : "'#'" number {
      $$ = make_operand(OperandShape::kHashNumber, @$); $$.value = std::move($2); }
  | "'#'" IDENT {
      $$ = make_operand(OperandShape::kHashName, @$); $$.name = std::move($2); }
  | number {
      $$ = make_operand(OperandShape::kNumber, @$); $$.value = std::move($1); }
  | number "'*'" "'('" "'['" number "']'" "'&'" number "')'" {
      $$ = make_operand(OperandShape::kMsh, @$);
      $$.scale = std::move($1); $$.value = std::move($5); $$.mask = std::move($8); }
  | IDENT {
      $$ = make_operand(OperandShape::kName, @$); $$.name = std::move($1); }
  | "'%'" IDENT {
      $$ = make_operand(OperandShape::kPercentName, @$); $$.name = std::move($2); }
  | IDENT "'['" number "']'" {
      $$ = make_operand(OperandShape::kIndexed, @$); $$.name = std::move($1);
      $$.value = std::move($3); }
  | "'['" number "']'" {
      $$ = make_operand(OperandShape::kBracket, @$); $$.value = std::move($2); }
  | "'['" IDENT "']'" {
      $$ = make_operand(OperandShape::kBracketName, @$); $$.name = std::move($2); }
  | "'['" IDENT "'+'" number "']'" {
      $$ = make_operand(OperandShape::kBracketSum, @$); $$.name = std::move($2);
      $$.value = std::move($4); }
  | "'['" IDENT "'-'" NUMBER "']'" {
      $$ = make_operand(OperandShape::kBracketSum, @$); $$.name = std::move($2);
      $$.value = negate(std::move($4), Span{@3.line, @3.column, @4.end_line, @4.end_column}); }
  | "'['" "'%'" IDENT "'+'" number "']'" {
      $$ = make_operand(OperandShape::kBracketSum, @$); $$.name = std::move($3);
      $$.percent = true; $$.value = std::move($5); }
  ;

number
  : NUMBER { $$ = std::move($1); $$.span = @1; }
  | "'-'" NUMBER { $$ = negate(std::move($2), @$); }
  | "'+'" NUMBER { $$ = std::move($2); $$.text = "'+'" + $$.text; $$.span = @$; }
  ;

%%

namespace bpf::grammar::detail {

namespace {
std::string describe(const Parser::symbol_type& sym) {
  using K = Parser::symbol_kind;
  switch (sym.kind()) {
    case K::S_IDENT: return "identifier '" + sym.value.as<std::string>() + "'";
    case K::S_NUMBER: return "number '" + sym.value.as<Number>().text + "'";
    default: return Parser::symbol_name(sym.kind());
  }
}
}  // namespace

void Parser::report_syntax_error(const context& ctx) const {
  // The lexer already reported the character or literal it could not read.
  if (ctx.token() == symbol_kind::S_BAD) return;
  std::string msg = "unexpected " + describe(ctx.lookahead());
  symbol_kind_type all[8], expected[8];
  int m = ctx.expected_tokens(all, 8), n = 0;
  for (int i = 0; i < m; ++i)  // "expected end of file" never helps anyone
    if (all[i] != symbol_kind::S_YYEOF) expected[n++] = all[i];
  if (n > 0) {
    msg += "; expected ";
    for (int i = 0; i < n; ++i) {
      if (i) msg += (i + 1 == n) ? " or " : ", ";
      msg += symbol_name(expected[i]);
    }
  }
  state.diags->error(std::move(msg), ctx.location().loc());
}

void Parser::error(const location_type& loc, const std::string& msg) {
  state.diags->error(msg, loc.loc());
}

}  // namespace bpf::grammar::detail
