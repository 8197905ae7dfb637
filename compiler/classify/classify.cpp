// The classifier compiler (compiler/classify/classify.hpp): rules text -> rules -> one IR graph
// -> the expression optimiser and emission. Each rule is first compiled alone by
// compile_expression (its syntax and meaning errors, "rejects all packets", its warnings), then
// lowered again to IR (detail::lower_expression) and spliced into the shared graph:
//   rule i's accepting leaf -> `ret #i+1`; its rejecting leaf and its failed load guards ->
//   rule i+1's entry (the last rule's -> `ret #0`).
// Each rule's graph is first optimised alone (libpcap's structure: it decides which loads a
// short packet meets, so its verdict). The optimiser then works on the whole graph: an edge that leaves rule i having learnt
// "EtherType != 0x800" skips every test of rule i+1 that this decides, and so on down the
// chain; blocks equal in two rules are merged; loads of values a register holds are removed.
// Runs of consecutive rules of one shape (`tcp port 22`, `tcp port 80`, ...) are evaluated
// together, with searches over their constants (groups.cpp).
// Tested by tests/expr/classify_diff_test.cpp.
#include "compiler/classify/classify.hpp"

#include <string>
#include <utility>
#include <vector>

#include "compiler/classify/groups.hpp"
#include "compiler/classify/guards.hpp"
#include "compiler/expr_gen.hpp"
#include "compiler/expr_ir.hpp"
#include "grammar/expr_ast.hpp"

namespace bpf::compiler {

namespace {

// Moves diagnostics located in the rule's own text (line 1, column = offset in the rule) to the
// rule's place in the rules text.
void relocate(Diagnostics& d, const Rule& r) {
  for (Diagnostic& x : d.items()) {
    if (!x.loc.known()) x.loc = SourceLoc{1, 1, static_cast<uint32_t>(r.expr.size() ? r.expr.size() : 1)};
    x.loc.line = r.line;
    x.loc.column += r.column - 1;
    x.source_line = r.line_text.empty() ? r.expr : r.line_text;
  }
}

// What the classifier cannot keep exact (classify.hpp): the first such node of the rule.
const char* unsupported(const grammar::ExprAst& ast, uint32_t* column) {
  for (const grammar::Node& n : ast.nodes) {
    *column = n.column;
    if (n.kind == grammar::NodeKind::kOther && n.other == grammar::OtherKind::kGeneve)
      return "'geneve' is not supported in classifier rules";
    if (n.kind == grammar::NodeKind::kId && n.qual.addr == grammar::QAddr::kProtochain)
      return "'protochain' is not supported in classifier rules";
    if (n.kind == grammar::NodeKind::kOther && n.other == grammar::OtherKind::kByte &&
        (n.op == '&' || n.op == '|'))
      return "'byte N & V' and 'byte N | V' are not supported in classifier rules (libpcap "
             "tests whatever value the previous test left, not the packet)";
  }
  return nullptr;
}

}  // namespace

std::vector<Rule> parse_rules(std::string_view text) {
  std::vector<Rule> out;
  uint32_t line = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view l = text.substr(pos, nl - pos);
    ++line;
    const bool last = nl >= text.size();
    pos = nl + 1;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    size_t b = 0;
    while (b < l.size() && (l[b] == ' ' || l[b] == '\t')) ++b;
    size_t e = l.size();
    while (e > b && (l[e - 1] == ' ' || l[e - 1] == '\t')) --e;
    if (b < e && l[b] != '#')
      out.push_back(Rule{std::string(l.substr(b, e - b)), line, static_cast<uint32_t>(b + 1), std::string(l)});
    if (last) break;
  }
  return out;
}

Result<vm::Program> compile_classifier(std::string_view rules_text, const ExprOptions& opts) {
  std::vector<Rule> rules = parse_rules(rules_text);
  if (rules.empty()) {
    Diagnostics d;
    d.error("no rules: every line is blank or a comment");
    return d;
  }
  return compile_classifier(rules, opts);
}

Result<vm::Program> compile_classifier(std::span<const Rule> rules, const ExprOptions& opts) {
  Diagnostics diags;
  if (rules.empty()) {
    diags.error("no rules");
    return diags;
  }
  ExprOptions lower_opts = opts;
  lower_opts.snaplen = 1;  // the accepting leaf is the only nonzero ret (lower_expression)
  std::vector<detail::IrFunc> funcs(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    auto alone = compile_expression(r.expr, opts);
    Diagnostics d = alone.diagnostics();
    if (alone) {
      grammar::ExprAst ast = grammar::parse_expression(r.expr);
      uint32_t col = 1;
      if (const char* why = unsupported(ast, &col)) {
        d.error(why, SourceLoc{1, col ? col : 1, 1});
      } else if (!detail::lower_expression(ast, lower_opts, &funcs[i], &d)) {
        // compile_expression accepted it: cannot happen, but stays an error, not a crash
      }
    }
    relocate(d, r);
    diags.append(d);
  }
  if (diags.has_errors()) return diags;

  // libpcap's optimiser on each rule alone decides which tests, so which loads, a packet
  // meets (a short packet's verdict depends on it: `port 53 or port 80` accepts a packet
  // whose source port is 80 and whose destination port lies past its end)
  if (opts.opt_level > 0)
    for (detail::IrFunc& fn : funcs) detail::optimise(fn);
  // rules of one shape, searched together where the first of them stands (groups.cpp)
  const detail::Grouping groups = opts.opt_level > 0 ? detail::find_groups(funcs) : detail::Grouping{};

  // Splice, last rule first, so that each rule's failure target exists when it is placed.
  detail::IrFunc all;
  auto add_ret = [&](uint32_t k) {
    detail::IrBlock b;
    b.is_ret = true;
    b.ret_k = k;
    all.blocks.push_back(std::move(b));
    return static_cast<int>(all.blocks.size() - 1);
  };
  int next_entry = add_ret(0);
  std::vector<int> accept_of(rules.size(), -1);
  for (size_t i = rules.size(); i-- > 0;) {
    detail::IrFunc& fn = funcs[i];
    const int accept = add_ret(static_cast<uint32_t>(i + 1));
    for (detail::IrBlock& b : fn.blocks)
      if (b.loc.known()) {
        b.loc.line = rules[i].line;
        b.loc.column += rules[i].column - 1;
      }
    accept_of[i] = accept;
    const int g = groups.group_of.empty() ? -1 : groups.group_of[i];
    if (g >= 0) {  // a run of rules, evaluated together where the first of them stands
      if (groups.members[static_cast<size_t>(g)].front() == i)
        next_entry = detail::emit_group_eval(all, fn, groups, static_cast<size_t>(g), accept_of,
                                             next_entry, opts.target);
      continue;
    }
    const int base = static_cast<int>(all.blocks.size());
    auto map = [&](int t) {
      // Blocks nothing reaches may keep an unset successor (-1: the right operand's checks that
      // libpcap's gen_arth drops are built, then left unlinked); any target will do for them.
      if (t < 0 || static_cast<size_t>(t) >= fn.blocks.size()) return next_entry;
      const detail::IrBlock& tb = fn.blocks[static_cast<size_t>(t)];
      if (tb.is_ret) return tb.ret_k ? accept : next_entry;
      return base + t;
    };
    for (detail::IrBlock& b : fn.blocks) {
      if (!b.is_ret)
        for (int& s : b.succ) s = map(s);
    }
    const int entry = map(fn.entry);
    for (detail::IrBlock& b : fn.blocks) all.blocks.push_back(std::move(b));
    detail::guard_loads(all, static_cast<size_t>(base), all.blocks.size(), entry, next_entry, opts.target);
    next_entry = entry;
  }
  all.entry = next_entry;
  // The rules are now pure tests (every failure is a guarded edge): across them only the
  // steps that keep every verdict run (jumps threaded over decided tests, identical blocks
  // merged, at -O2 redundant loads removed), none that reorders a rule's tests.
  all.unoptimised_reference = true;
  detail::thread_length_guards(all, opts.target);

  vm::Program prog;
  if (!detail::emit_program(all, opts.opt_level, &prog.insns, &prog.locs, &diags)) return diags;
  return Result<vm::Program>(std::move(prog), std::move(diags));
}

}  // namespace bpf::compiler
