// The assembler: grammar/ AST -> vm::Program, driven by vm::kOpTable.
//
// Mnemonics are table rows; the only knowledge here is the list of aliases below, which map an
// assembler name to the table mnemonic it stands for (bpf_asm: `ldi`, `ldxi`, `jmp`, `jneq`/`jne`,
// `jlt`, `jle`; `ldx 4*([k]&0xf)` is the `ldxb` row), and the names of operands (ancillary loads
// from vm/ancillary.hpp plus the bpf_asm, netsniff-ng and libpcap spellings).
//
// Encodings follow bpf_exp.y exactly: `jeq #k, L` jumps to L when true and falls through (jf = 0)
// otherwise; `jneq/jne #k, L` is `jeq` with L as the false target; `jlt` is `jge` and `jle` is
// `jgt` with L as the false target; `ld len`/`#len` is BPF_LD|BPF_W|BPF_LEN; `ld #proto` is
// BPF_LD|BPF_W|BPF_ABS with k = SKF_AD_OFF + SKF_AD_PROTOCOL; `ret x` is BPF_RET|BPF_X (the
// verifier rejects it for Linux). Extensions: two labels on jneq/jlt/jle (true, false as written;
// swapped in the encoding), `[x - k]`, `[proto]`, 1-character labels, jump trampolines.
//
// Passes: (1) each instruction -> one table row + operands, with every error collected;
// (2) labels -> instruction indices (undefined, duplicate, backward, past-the-end are errors);
// (3) layout: a conditional jump whose jt or jf would exceed 255 gets a `ja` trampoline right
// after it (`ja` has a 32-bit offset). Jumps go forward only, so whether item i needs one depends
// only on the sizes of items i.. onwards: one backward pass decides every item from the sizes
// already decided after it, giving the least layout (the fewest trampolines) in linear time.
// There is no length limit: the kernels' (Linux 4096, BSD 512) are the verifier's, for programs
// that go to a kernel (verifier::Destination; ../shared/CLI.md "Long programs").
// Tested in tests/asm/ (golden encodings, error cases, trampolines) and by the asm_parser fuzzer.
#include "compiler/assembler.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "grammar/ast.hpp"
#include "vm/ancillary.hpp"
#include "vm/insn.hpp"

namespace bpf::compiler {

namespace {

using grammar::Number;
using grammar::Operand;
using grammar::OperandShape;

struct Alias {
  std::string_view name;  // as written by the user (lower case)
  std::string_view row;   // vm::kOpTable mnemonic it stands for
  bool inverted = false;  // jneq/jlt/jle: the (first) label is the false target
  bool imm_only = false;  // ldi/ldxi: only the immediate form, `#` optional
};

constexpr std::array kAliases = {
    Alias{"ld", "ld"},          Alias{"ldi", "ld", false, true},
    Alias{"ldh", "ldh"},        Alias{"ldb", "ldb"},
    Alias{"ldx", "ldx"},        Alias{"ldxi", "ldx", false, true},
    Alias{"ldxb", "ldxb"},      Alias{"st", "st"},
    Alias{"stx", "stx"},        Alias{"ja", "ja"},
    Alias{"jmp", "ja"},         Alias{"jeq", "jeq"},
    Alias{"jneq", "jeq", true}, Alias{"jne", "jeq", true},
    Alias{"jlt", "jge", true},  Alias{"jle", "jgt", true},
    Alias{"jgt", "jgt"},        Alias{"jge", "jge"},
    Alias{"jset", "jset"},      Alias{"add", "add"},
    Alias{"sub", "sub"},        Alias{"mul", "mul"},
    Alias{"div", "div"},        Alias{"mod", "mod"},
    Alias{"neg", "neg"},        Alias{"and", "and"},
    Alias{"or", "or"},          Alias{"xor", "xor"},
    Alias{"lsh", "lsh"},        Alias{"rsh", "rsh"},
    Alias{"ret", "ret"},        Alias{"tax", "tax"},
    Alias{"txa", "txa"},
};

constexpr std::array<std::string_view, kAliases.size()> kMnemonicNames = [] {
  std::array<std::string_view, kAliases.size()> a{};
  for (size_t i = 0; i < kAliases.size(); ++i) a[i] = kAliases[i].name;
  return a;
}();

// Ancillary spellings beyond vm/ancillary.hpp's canonical names. Sources: bpf_exp.l (vlan_pr),
// netsniff-ng bpf_lexer.l (pto, ifx, que, q, hat, rxh, vlant, vlana, vlan_acc, vlanp), libpcap
// bpf_image.c as printed by tcpdump -d (xor_x, random, vlanp).
struct AncAlias {
  std::string_view name;
  vm::Ancillary id;
};
constexpr std::array kAncAliases = {
    AncAlias{"vlan_pr", vm::Ancillary::kVlanTagPresent},
    AncAlias{"vlanp", vm::Ancillary::kVlanTagPresent},
    AncAlias{"vlana", vm::Ancillary::kVlanTagPresent},
    AncAlias{"vlan_acc", vm::Ancillary::kVlanTagPresent},
    AncAlias{"vlant", vm::Ancillary::kVlanTag},
    AncAlias{"pto", vm::Ancillary::kProtocol},
    AncAlias{"ifx", vm::Ancillary::kIfIndex},
    AncAlias{"ifindex", vm::Ancillary::kIfIndex},
    AncAlias{"que", vm::Ancillary::kQueue},
    AncAlias{"q", vm::Ancillary::kQueue},
    AncAlias{"hat", vm::Ancillary::kHaType},
    AncAlias{"rxh", vm::Ancillary::kRxHash},
    AncAlias{"xor_x", vm::Ancillary::kAluXorX},
    AncAlias{"random", vm::Ancillary::kRandom},
};

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::optional<vm::Ancillary> ancillary_named(std::string_view name) {
  std::string l = lower(name);
  if (auto a = vm::ancillary_by_name(l)) return a;
  for (const auto& a : kAncAliases)
    if (a.name == l) return a.id;
  return std::nullopt;
}

bool is_len_name(std::string_view name) {
  std::string l = lower(name);
  return l == "len" || l == "pktlen";
}

const Alias* find_alias(std::string_view name) {
  std::string l = lower(name);
  for (const auto& a : kAliases)
    if (a.name == l) return &a;
  return nullptr;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1), prev2(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      // Optimal string alignment: a swap of two neighbours costs 1 (`lhd` -> `ldh`).
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    prev2 = prev;
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The closest candidate within a small edit distance, if any.
template <class Range>
std::optional<std::string> closest(std::string_view word, const Range& candidates) {
  size_t best = std::string_view::npos;
  std::string best_name;
  size_t limit = word.size() <= 3 ? 1 : 2;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d > limit) continue;
    // Prefer candidates of the same length on equal distance (a swap over a deletion).
    d = d * 2 + (std::string_view(c).size() != word.size());
    if (d < best) {
      best = d;
      best_name = std::string(c);
    }
  }
  if (best_name.empty()) return std::nullopt;
  return best_name;
}

std::vector<std::string> all_operand_names() {
  std::vector<std::string> v = {"len", "pktlen", "x", "a"};
  for (const auto& a : vm::kAncillaryTable) v.emplace_back(a.name);
  for (const auto& a : kAncAliases) v.emplace_back(a.name);
  return v;
}

// What a data operand denotes, independent of the mnemonic.
enum class Kind : uint8_t { kImm, kBare, kLen, kMem, kAbs, kInd, kMsh, kX, kA, kName, kBad };

struct Classified {
  Kind kind = Kind::kBad;
  uint32_t k = 0;
  std::string name;  // kName
};

const char* form_text(vm::Operand o) {
  switch (o) {
    case vm::Operand::kNone: return "no operand";
    case vm::Operand::kImm: return "#k";
    case vm::Operand::kLen: return "#len";
    case vm::Operand::kMem: return "M[k]";
    case vm::Operand::kAbs: return "[k]";
    case vm::Operand::kInd: return "[x + k]";
    case vm::Operand::kMsh: return "4*([k]&0xf)";
    case vm::Operand::kAluK: return "#k";
    case vm::Operand::kAluX: return "x";
    case vm::Operand::kJa: return "a label";
    case vm::Operand::kJmpK: return "#k, label[, label]";
    case vm::Operand::kJmpX: return "x, label[, label]";
    case vm::Operand::kRetK: return "#k";
    case vm::Operand::kRetA: return "a";
    case vm::Operand::kRetX: return "x";
  }
  return "?";
}

bool is_jump_operand(vm::Operand o) { return o == vm::Operand::kJmpK || o == vm::Operand::kJmpX; }

// One assembled instruction before layout: targets are indices of other items.
struct Item {
  vm::Insn insn;
  SourceLoc loc;
  bool cond = false;  // conditional jump: t and f are targets
  bool ja = false;    // unconditional jump: t is the target
  size_t t = 0, f = 0;
};

struct PendingTarget {
  size_t item;
  bool is_false;  // which field of the item it fills
  std::string label;
  SourceLoc loc;
};

class Assembler {
 public:
  explicit Assembler(Diagnostics& d) : diags_(d) {}

  std::optional<vm::Program> run(const grammar::Unit& unit);

 private:
  std::optional<uint32_t> value32(const Number& n);
  Classified classify(const Operand& op);
  void instruction(const grammar::Instruction& in);
  void raw_insn(const grammar::Instruction& in, size_t index);
  void resolve(const grammar::Unit& unit);
  std::optional<vm::Program> layout();

  Diagnostics& diags_;
  std::vector<Item> items_;
  std::vector<PendingTarget> targets_;
  std::map<std::string, std::pair<size_t, SourceLoc>> labels_;  // name -> (item index, where)
};

std::optional<uint32_t> Assembler::value32(const Number& n) {
  SourceLoc loc = n.span.loc();
  if (n.overflow || (!n.negative && n.magnitude > 0xffffffffull)) {
    diags_.error("value " + n.text + " does not fit in 32 bits (maximum 0xffffffff)", loc);
    return std::nullopt;
  }
  if (n.negative && n.magnitude > 0x80000000ull) {
    diags_.error("value " + n.text + " does not fit in 32 bits (minimum -2147483648)", loc);
    return std::nullopt;
  }
  uint32_t v = static_cast<uint32_t>(n.magnitude);
  return n.negative ? 0u - v : v;
}

Classified Assembler::classify(const Operand& op) {
  Classified c;
  SourceLoc loc = op.span.loc();
  switch (op.shape) {
    case OperandShape::kHashNumber:
    case OperandShape::kNumber:
      if (auto v = value32(op.value)) {
        c.kind = op.shape == OperandShape::kHashNumber ? Kind::kImm : Kind::kBare;
        c.k = *v;
      }
      return c;
    case OperandShape::kHashName:
    case OperandShape::kName:
    case OperandShape::kBracketName: {
      if (is_len_name(op.name) && op.shape != OperandShape::kBracketName) {
        c.kind = Kind::kLen;
        return c;
      }
      if (auto a = ancillary_named(op.name)) {
        c.kind = Kind::kAbs;
        c.k = vm::info(*a).k();
        return c;
      }
      std::string l = lower(op.name);
      if (op.shape == OperandShape::kName && (l == "x" || l == "a")) {
        c.kind = l == "x" ? Kind::kX : Kind::kA;
        return c;
      }
      if (op.shape == OperandShape::kName) {
        c.kind = Kind::kName;
        c.name = op.name;
        return c;
      }
      std::string msg = "unknown name '" + op.name + "'";
      if (auto s = closest(l, all_operand_names()))
        msg += "; did you mean '" + *s + "'?";
      else
        msg += " (not #len or an ancillary load such as #proto, #vlan_tci, #rxhash)";
      diags_.error(std::move(msg), loc);
      return c;
    }
    case OperandShape::kPercentName: {
      std::string l = lower(op.name);
      if (l == "x" || l == "a") {
        c.kind = l == "x" ? Kind::kX : Kind::kA;
        return c;
      }
      diags_.error("unknown register '%" + op.name + "'; the registers are %a and %x", loc);
      return c;
    }
    case OperandShape::kIndexed: {
      if (lower(op.name) != "m") {
        diags_.error("unknown operand '" + op.name + "[...]'; scratch memory is written M[k]", loc);
        return c;
      }
      auto v = value32(op.value);
      if (!v) return c;
      if (op.value.negative || *v >= vm::kMemWords) {
        diags_.error("scratch memory index " + op.value.text + " is out of range: M[0] to M[15]",
                     op.value.span.loc());
        return c;
      }
      c.kind = Kind::kMem;
      c.k = *v;
      return c;
    }
    case OperandShape::kBracket:
      if (auto v = value32(op.value)) {
        c.kind = Kind::kAbs;
        c.k = *v;
      }
      return c;
    case OperandShape::kBracketSum: {
      if (lower(op.name) != "x") {
        diags_.error("indexed loads are written [x + k]; '" + op.name + "' is not x", loc);
        return c;
      }
      if (auto v = value32(op.value)) {
        c.kind = Kind::kInd;
        c.k = *v;
      }
      return c;
    }
    case OperandShape::kMsh: {
      bool ok = true;
      if (op.scale.negative || op.scale.magnitude != 4) {
        diags_.error("only 4*([k]&0xf) exists (the IP header length load): the factor must be 4",
                     op.scale.span.loc());
        ok = false;
      }
      if (op.mask.negative || op.mask.magnitude != 0xf) {
        diags_.error("only 4*([k]&0xf) exists (the IP header length load): the mask must be 0xf",
                     op.mask.span.loc());
        ok = false;
      }
      auto v = value32(op.value);
      if (ok && v) {
        c.kind = Kind::kMsh;
        c.k = *v;
      }
      return c;
    }
  }
  return c;
}

// Whether an operand of kind `k` can be the (first) operand of a row with operand form `o`.
bool fits(Kind k, vm::Operand o, bool imm_only) {
  switch (o) {
    case vm::Operand::kNone: return false;
    case vm::Operand::kImm: return k == Kind::kImm || (imm_only && k == Kind::kBare);
    case vm::Operand::kLen: return k == Kind::kLen;
    case vm::Operand::kMem: return k == Kind::kMem;
    case vm::Operand::kAbs: return k == Kind::kAbs;
    case vm::Operand::kInd: return k == Kind::kInd;
    case vm::Operand::kMsh: return k == Kind::kMsh;
    case vm::Operand::kAluK: return k == Kind::kImm;
    case vm::Operand::kAluX: return k == Kind::kX;
    case vm::Operand::kJa: return false;  // handled as a jump target
    case vm::Operand::kJmpK: return k == Kind::kImm;
    case vm::Operand::kJmpX: return k == Kind::kX;
    case vm::Operand::kRetK: return k == Kind::kImm;
    case vm::Operand::kRetA: return k == Kind::kA;
    case vm::Operand::kRetX: return k == Kind::kX;
  }
  return false;
}

void Assembler::instruction(const grammar::Instruction& in) {
  SourceLoc loc = in.span.loc();
  SourceLoc mloc = in.mnemonic_span.loc();
  size_t index = items_.size();
  // Labels first, so that an error in the instruction does not make them undefined.
  for (const auto& l : in.labels) {
    auto [it, inserted] = labels_.try_emplace(l.name, index, l.span.loc());
    if (!inserted) {
      diags_.error("duplicate label '" + l.name + "' (first defined on line " +
                       std::to_string(it->second.second.line) + ")",
                   l.span.loc());
    }
  }
  // Always push an item so that label indices stay right even when this one is wrong.
  items_.push_back(Item{vm::Insn{}, loc});

  if (lower(in.mnemonic) == ".insn") {
    raw_insn(in, index);
    return;
  }
  const Alias* alias = find_alias(in.mnemonic);
  if (!alias) {
    std::string msg = "unknown instruction '" + in.mnemonic + "'";
    std::string l = lower(in.mnemonic);
    // A size suffix from other assemblers: `ldw`/`ldxw` load a word, which is plain ld/ldx here.
    if (l.size() > 2 && l.back() == 'w' && find_alias(l.substr(0, l.size() - 1)))
      msg += "; did you mean '" + l.substr(0, l.size() - 1) + "'?";
    else if (auto s = closest(l, kMnemonicNames))
      msg += "; did you mean '" + *s + "'?";
    diags_.error(std::move(msg), mloc);
    return;
  }
  std::string shown = lower(in.mnemonic);

  // Candidate rows: the alias's table mnemonic (and, for `ldx`, the msh row named ldxb).
  std::vector<const vm::OpInfo*> rows;
  for (const auto& r : vm::kOpTable) {
    bool match =
        r.mnemonic == alias->row || (alias->name == "ldx" && r.operand == vm::Operand::kMsh);
    if (alias->imm_only) match = match && r.operand == vm::Operand::kImm;
    if (match) rows.push_back(&r);
  }
  auto expected_forms = [&] {
    std::vector<std::string> forms;
    bool anc = false;
    for (const auto* r : rows) {
      forms.emplace_back(form_text(r->operand));
      anc = anc || r->operand == vm::Operand::kAbs;
    }
    if (anc) forms.emplace_back("an ancillary name (#proto, #vlan_tci, ...)");
    std::string s;
    for (size_t i = 0; i < forms.size(); ++i) {
      if (i) s += (i + 1 == forms.size()) ? " or " : ", ";
      s += forms[i];
    }
    return s;
  };

  const auto& ops = in.operands;
  bool is_ja = rows.size() == 1 && rows[0]->operand == vm::Operand::kJa;
  bool is_cond = std::any_of(rows.begin(), rows.end(),
                             [](const vm::OpInfo* r) { return is_jump_operand(r->operand); });
  bool no_operand = rows.size() == 1 && rows[0]->operand == vm::Operand::kNone;

  if (no_operand) {
    if (!ops.empty()) {
      diags_.error("'" + shown + "' takes no operand", ops[0].span.loc());
      return;
    }
    items_[index].insn = vm::stmt(rows[0]->code, 0);
    return;
  }
  if (ops.empty()) {
    diags_.error("'" + shown + "' needs an operand: " + expected_forms(), mloc);
    return;
  }

  auto target_label = [&](const Operand& op, bool is_false) -> bool {
    if (op.shape == OperandShape::kName) {
      targets_.push_back(PendingTarget{index, is_false, op.name, op.span.loc()});
      return true;
    }
    diags_.error("jump targets are labels; '" + shown + "' expects " + expected_forms(),
                 op.span.loc());
    return false;
  };

  if (is_ja) {
    if (ops.size() != 1) {
      diags_.error("'" + shown + "' takes one operand, a label", ops[1].span.loc());
      return;
    }
    if (!target_label(ops[0], false)) return;
    items_[index].insn = vm::stmt(rows[0]->code, 0);
    items_[index].ja = true;
    return;
  }

  Classified c = classify(ops[0]);
  if (c.kind == Kind::kBad) return;  // classify() reported it
  const vm::OpInfo* row = nullptr;
  for (const auto* r : rows)
    if (fits(c.kind, r->operand, alias->imm_only)) row = r;
  if (!row) {
    std::string msg = "invalid operand for '" + shown + "': expected " + expected_forms();
    if (c.kind == Kind::kBare) {
      msg += "; did you mean '#" + ops[0].value.text + "'?";
    } else if (c.kind == Kind::kName) {
      msg = "invalid operand '" + c.name + "' for '" + shown + "': expected " + expected_forms();
      if (auto s = closest(lower(c.name), all_operand_names()))
        msg += "; did you mean '" + *s + "'?";
    } else if (c.kind == Kind::kImm && (alias->row == "ldh" || alias->row == "ldb")) {
      msg += "; immediates are loaded with 'ld #k'";
    }
    diags_.error(std::move(msg), ops[0].span.loc());
    return;
  }

  if (!is_cond) {
    if (ops.size() > 1) {
      diags_.error("too many operands for '" + shown + "': expected " + expected_forms(),
                   ops[1].span.loc());
      return;
    }
    items_[index].insn = vm::stmt(row->code, c.k);
    return;
  }

  // Conditional jump: one label (the other way falls through) or two.
  if (ops.size() < 2) {
    diags_.error("'" + shown + "' needs a jump target: " + expected_forms(), ops[0].span.loc());
    return;
  }
  if (ops.size() > 3) {
    diags_.error("too many operands for '" + shown + "': expected " + expected_forms(),
                 ops[3].span.loc());
    return;
  }
  bool inv = alias->inverted;
  bool ok = target_label(ops[1], inv);
  if (ops.size() == 3) ok = target_label(ops[2], !inv) && ok;
  if (!ok) return;
  Item& item = items_[index];
  item.insn = vm::jump(row->code, c.k, 0, 0);
  item.cond = true;
  item.t = item.f = index + 1;  // fall through unless a label says otherwise
}

// `.insn code, jt, jf, k`: the four fields verbatim (what disassemble() writes for instructions
// that have no assembly form). No label or trampoline adjustment is made to its jt/jf/k.
void Assembler::raw_insn(const grammar::Instruction& in, size_t index) {
  const auto& ops = in.operands;
  if (ops.size() != 4) {
    diags_.error("'.insn' takes four numbers: code, jt, jf, k", in.mnemonic_span.loc());
    return;
  }
  static constexpr uint64_t kMax[4] = {0xffff, 0xff, 0xff, 0xffffffff};
  static constexpr const char* kField[4] = {"code", "jt", "jf", "k"};
  uint32_t v[4] = {};
  bool ok = true;
  for (size_t i = 0; i < 4; ++i) {
    const Operand& op = ops[i];
    if (op.shape != OperandShape::kNumber && op.shape != OperandShape::kHashNumber) {
      diags_.error(std::string("'.insn' field ") + kField[i] + " must be a number", op.span.loc());
      ok = false;
      continue;
    }
    auto x = value32(op.value);
    if (!x) {
      ok = false;
      continue;
    }
    if (i < 3 && (op.value.negative || *x > kMax[i])) {
      diags_.error(std::string("'.insn' field ") + kField[i] + " = " + op.value.text +
                       " is out of range (0 to " + std::to_string(kMax[i]) + ")",
                   op.value.span.loc());
      ok = false;
      continue;
    }
    v[i] = *x;
  }
  if (ok)
    items_[index].insn = vm::Insn{static_cast<uint16_t>(v[0]), static_cast<uint8_t>(v[1]),
                                  static_cast<uint8_t>(v[2]), v[3]};
}

void Assembler::resolve(const grammar::Unit& unit) {
  size_t end = items_.size();
  for (const auto& l : unit.trailing_labels) {
    auto [it, inserted] = labels_.try_emplace(l.name, end, l.span.loc());
    if (!inserted) {
      diags_.error("duplicate label '" + l.name + "' (first defined on line " +
                       std::to_string(it->second.second.line) + ")",
                   l.span.loc());
    }
  }
  std::vector<std::string> names;
  for (const auto& [n, _] : labels_) names.push_back(n);
  // A suggestion scans every label: only the first kSuggestBudget undefined labels get one, so a
  // long program full of undefined labels stays linear.
  constexpr size_t kSuggestBudget = 64;
  size_t suggested = 0;

  for (const auto& pt : targets_) {
    auto it = labels_.find(pt.label);
    if (it == labels_.end()) {
      std::string msg = "undefined label '" + pt.label + "'";
      if (suggested++ < kSuggestBudget)
        if (auto s = closest(pt.label, names)) msg += "; did you mean '" + *s + "'?";
      diags_.error(std::move(msg), pt.loc);
      continue;
    }
    size_t target = it->second.first;
    if (target <= pt.item) {
      diags_.error("label '" + pt.label +
                       "' is not after this jump; classic BPF jumps only "
                       "forward",
                   pt.loc);
      continue;
    }
    if (target >= end) {
      diags_.error("label '" + pt.label + "' is past the last instruction", pt.loc);
      continue;
    }
    Item& item = items_[pt.item];
    if (item.ja || !pt.is_false)
      item.t = target;
    else
      item.f = target;
  }
  for (size_t i = 0; i < end; ++i) {
    const Item& it = items_[i];
    if (it.cond && (it.t >= end || it.f >= end))
      diags_.error(
          "the last instruction is a conditional jump that falls through past the end "
          "of the program",
          it.loc);
  }
  for (const auto& l : unit.trailing_labels)
    diags_.warning("label '" + l.name + "' is not followed by an instruction", l.span.loc());
}

std::optional<vm::Program> Assembler::layout() {
  const size_t n = items_.size();
  // Trampolines needed after item i: for jt, for jf (one shared when both go to the same place).
  std::vector<uint8_t> need_t(n, 0), need_f(n, 0);
  auto extra = [&](size_t i) -> size_t {
    if (need_t[i] && need_f[i] && items_[i].t == items_[i].f) return 1;
    return need_t[i] + need_f[i];
  };
  // from_end[i]: instructions from item i to the end, trampolines included.
  std::vector<size_t> from_end(n + 1, 0);
  for (size_t i = n; i-- > 0;) {
    const Item& it = items_[i];
    if (it.cond) {
      // The offset of a target counts this item's own trampolines, which a new one can grow:
      // at most two rounds.
      for (;;) {
        const size_t here = from_end[i + 1] + 1 + extra(i);  // from_end[i] as it stands
        bool changed = false;
        if (!need_t[i] && here - from_end[it.t] - 1 > 255) need_t[i] = 1, changed = true;
        if (!need_f[i] && here - from_end[it.f] - 1 > 255) need_f[i] = 1, changed = true;
        if (!changed) break;
      }
    }
    from_end[i] = from_end[i + 1] + 1 + extra(i);
  }
  const size_t total = from_end[0];
  if (total > UINT32_MAX) {  // a `ja` offset would not fit its 32 bits
    diags_.error("program has " + std::to_string(total) + " instructions; more than 2^32 - 1");
    return std::nullopt;
  }
  std::vector<size_t> pos(n + 1);
  for (size_t i = 0; i <= n; ++i) pos[i] = total - from_end[i];

  vm::Program prog;
  prog.insns.reserve(pos[n]);
  prog.locs.reserve(pos[n]);
  auto ja_to = [&](size_t from_pos, size_t target, SourceLoc loc) {
    prog.insns.push_back(
        vm::stmt(vm::info(vm::Op::kJa).code, static_cast<uint32_t>(pos[target] - from_pos - 1)));
    prog.locs.push_back(loc);
  };
  for (size_t i = 0; i < n; ++i) {
    const Item& it = items_[i];
    vm::Insn insn = it.insn;
    if (it.ja) insn.k = static_cast<uint32_t>(pos[it.t] - pos[i] - 1);
    if (it.cond) {
      bool shared = need_t[i] && need_f[i] && it.t == it.f;
      insn.jt = need_t[i] ? 0 : static_cast<uint8_t>(pos[it.t] - pos[i] - 1);
      insn.jf =
          need_f[i] ? (need_t[i] && !shared ? 1 : 0) : static_cast<uint8_t>(pos[it.f] - pos[i] - 1);
    }
    prog.insns.push_back(insn);
    prog.locs.push_back(it.loc);
    if (it.cond) {
      size_t p = pos[i] + 1;
      if (need_t[i]) ja_to(p++, it.t, it.loc);
      if (need_f[i] && !(need_t[i] && it.t == it.f)) ja_to(p++, it.f, it.loc);
    }
  }
  return prog;
}

std::optional<vm::Program> Assembler::run(const grammar::Unit& unit) {
  for (const auto& in : unit.instructions) instruction(in);
  resolve(unit);
  if (items_.empty() && !diags_.has_errors()) diags_.error("no instructions in the program");
  if (diags_.has_errors()) return std::nullopt;
  return layout();
}

}  // namespace

std::span<const std::string_view> assembler_mnemonics() { return kMnemonicNames; }

Result<vm::Program> assemble(std::string_view source) {
  grammar::ParseOutput parsed = grammar::parse(source);
  Diagnostics diags = std::move(parsed.diags);
  Assembler as(diags);
  std::optional<vm::Program> prog = as.run(parsed.unit);
  diags.attach_source(source);
  // Keep diagnostics in source order (syntax and semantic errors interleaved by line).
  std::stable_sort(diags.items().begin(), diags.items().end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     auto key = [](const Diagnostic& d) {
                       return d.loc.known() ? std::pair{d.loc.line, d.loc.column}
                                            : std::pair{UINT32_MAX, UINT32_MAX};
                     };
                     return key(a) < key(b);
                   });
  if (!prog || diags.has_errors()) return Result<vm::Program>(std::move(diags));
  return Result<vm::Program>(std::move(*prog), std::move(diags));
}

}  // namespace bpf::compiler
