// Jump trampolines: conditional jumps farther than 255 instructions get `ja` trampolines.
// The check is semantic: from every conditional jump, the true and the false successor, after
// following any trampolines (a `ja` that carries the jump's own source position), must be the
// instruction the label in the source names (identified by its source line, Program::locs).
// Fixed cases (one far side, both sides, same target, cascades where a trampoline pushes an
// earlier jump out of range, programs past the kernel's 4096 limit, which the assembler does not
// enforce) and random programs with many long jumps, up to 100,000 instructions.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "compiler/assembler.hpp"
#include "vm/insn.hpp"

namespace bpf::compiler {
namespace {

// Source builder that remembers the line of every label and of every jump.
struct Src {
  std::string text;
  uint32_t line = 0;
  std::map<std::string, uint32_t> label_line;
  struct Jump {
    uint32_t line;
    std::string t, f;  // labels; empty = falls through to the next source line's instruction
  };
  std::vector<Jump> jumps;

  void add(const std::string& s) {
    text += s + "\n";
    ++line;
  }
  void label(const std::string& l, const std::string& insn) {
    add(l + ": " + insn);
    label_line[l] = line;
  }
  // Records the *encoded* targets: jneq/jne/jlt/jle are jeq/jge/jgt with the written true
  // label as the encoded false target (and the written false label as the encoded true one).
  void jump(const std::string& cond, const std::string& t, const std::string& f,
            const std::string& own_label = "") {
    add((own_label.empty() ? "" : own_label + ": ") + cond + ", " + t +
        (f.empty() ? "" : ", " + f));
    if (!own_label.empty()) label_line[own_label] = line;
    bool inverted =
        cond.rfind("jne", 0) == 0 || cond.rfind("jlt", 0) == 0 || cond.rfind("jle", 0) == 0;
    if (inverted)
      jumps.push_back({line, f, t});
    else
      jumps.push_back({line, t, f});
  }
};

// Follows trampolines inserted for the jump at `from` (same source line, `ja`).
size_t follow(const vm::Program& p, size_t pos, uint32_t jump_line) {
  while (pos < p.size() && p.insns[pos].code == vm::info(vm::Op::kJa).code &&
         p.locs[pos].line == jump_line)
    pos = pos + 1 + p.insns[pos].k;
  return pos;
}

void check_targets(const Src& s, const vm::Program& p) {
  ASSERT_EQ(p.locs.size(), p.insns.size());
  // Position of the instruction of each source line.
  std::map<uint32_t, size_t> pos_of_line;
  for (size_t i = 0; i < p.size(); ++i) pos_of_line.try_emplace(p.locs[i].line, i);
  for (const auto& j : s.jumps) {
    SCOPED_TRACE("jump on line " + std::to_string(j.line));
    size_t at = pos_of_line.at(j.line);
    const vm::Insn& insn = p.insns[at];
    ASSERT_TRUE(vm::info(*vm::decode(insn.code)).has(vm::eff::kCond));
    size_t t = follow(p, at + 1 + insn.jt, j.line);
    size_t f = follow(p, at + 1 + insn.jf, j.line);
    ASSERT_LT(t, p.size());
    ASSERT_LT(f, p.size());
    uint32_t want_t = j.t.empty() ? j.line + 1 : s.label_line.at(j.t);
    EXPECT_EQ(p.locs[t].line, want_t);
    uint32_t want_f = j.f.empty() ? j.line + 1 : s.label_line.at(j.f);
    EXPECT_EQ(p.locs[f].line, want_f);
  }
  // Every jump offset lands inside the program.
  for (size_t i = 0; i < p.size(); ++i) {
    const vm::Insn& in = p.insns[i];
    auto op = vm::decode(in.code);
    ASSERT_TRUE(op);
    if (*op == vm::Op::kJa)
      EXPECT_LT(i + 1 + in.k, p.size());
    else if (vm::info(*op).has(vm::eff::kCond)) {
      EXPECT_LT(i + 1 + in.jt, p.size());
      EXPECT_LT(i + 1 + in.jf, p.size());
    }
  }
}

void filler(Src& s, int n) {
  for (int i = 0; i < n; ++i) s.add("ld #" + std::to_string(i));
}

TEST(Trampoline, NoneWhenInRange) {
  Src s;
  s.jump("jeq #1", "t", "f");
  filler(s, 254);
  s.label("f", "ret #0");
  s.label("t", "ret #1");
  auto r = assemble(s.text);
  ASSERT_TRUE(r.ok()) << r.diagnostics().render("t");
  EXPECT_EQ(r->size(), 257u);  // no trampoline: jt = 255 exactly
  EXPECT_EQ(r->insns[0].jt, 255);
  EXPECT_EQ(r->insns[0].jf, 254);
  check_targets(s, *r);
}

TEST(Trampoline, TrueSideFar) {
  Src s;
  s.jump("jeq #1", "t", "");
  filler(s, 300);
  s.label("t", "ret #1");
  auto r = assemble(s.text);
  ASSERT_TRUE(r.ok()) << r.diagnostics().render("t");
  EXPECT_EQ(r->size(), 303u);
  EXPECT_EQ(r->insns[0], (vm::Insn{0x15, 0, 1, 1}));
  EXPECT_EQ(r->insns[1], (vm::Insn{0x05, 0, 0, 300}));
  check_targets(s, *r);
}

TEST(Trampoline, FalseSideFarAndBothSides) {
  Src s;
  s.jump("jneq #1", "far", "");  // label is the false target
  s.jump("jgt x", "far", "far2");
  s.jump("jset #4", "far", "far");  // both to the same place: one shared trampoline
  filler(s, 400);
  s.label("far", "ret #1");
  filler(s, 10);
  s.label("far2", "ret #2");
  auto r = assemble(s.text);
  ASSERT_TRUE(r.ok()) << r.diagnostics().render("t");
  EXPECT_EQ(r->size(), 3u + 1 + 2 + 1 + 400 + 1 + 10 + 1);
  check_targets(s, *r);
}

TEST(Trampoline, CascadeIntoEarlierJump) {
  // `a` reaches `t` with exactly 255 until trampolines of the far jumps after it are inserted
  // between them; then `a` needs one too.
  Src s;
  s.jump("jeq #0", "t", "");
  s.jump("jeq #1", "far", "");
  s.jump("jeq #2", "far", "");
  filler(s, 252);
  s.label("t", "ret #0");
  filler(s, 300);
  s.label("far", "ret #1");
  auto r = assemble(s.text);
  ASSERT_TRUE(r.ok()) << r.diagnostics().render("t");
  EXPECT_EQ(r->insns[0].jt, 0);  // went through a trampoline
  check_targets(s, *r);
}

TEST(Trampoline, PastTheKernelLimit) {
  // 4091 written instructions and 10 trampolines: longer than Linux takes, which is the
  // verifier's business (Destination::kKernel), not the assembler's.
  Src s;
  for (int i = 0; i < 10; ++i) s.jump("jeq #" + std::to_string(i), "end", "");
  filler(s, 4080);
  s.label("end", "ret #0");
  auto r = assemble(s.text);
  ASSERT_TRUE(r.ok()) << r.diagnostics().render("t");
  EXPECT_EQ(r->insns.size(), 4101u);
  check_targets(s, *r);
}

TEST(Trampoline, HundredThousandInstructions) {
  // The issue-12 shape: `ldh [12]; jeq #X, accept` 50,000 times, every jump to the end (each
  // needs its trampoline), plus jumps of every length over blocks of filler.
  Src s;
  s.add("ldh [12]");
  for (int i = 0; i < 50000; ++i) {
    s.jump("jeq #" + std::to_string(i + 1), "accept", "");
    if (i % 1000 == 999) {
      s.jump("jgt #" + std::to_string(i), "mid" + std::to_string(i), "");
      filler(s, i % 300);
      s.label("mid" + std::to_string(i), "ldh [12]");
    }
  }
  s.add("ret #0");
  s.label("accept", "ret #65535");
  auto r = assemble(s.text);
  ASSERT_TRUE(r.ok()) << r.diagnostics().render("t");
  EXPECT_GT(r->insns.size(), 100000u);
  check_targets(s, *r);
}

TEST(Trampoline, RandomLongJumps) {
  std::mt19937 rng(20240601);
  const char* conds[] = {"jeq #1", "jneq #2", "jlt #3", "jle x", "jgt #4", "jge %x", "jset #8"};
  for (int round = 0; round < 25; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Src s;
    int n = 600 + static_cast<int>(rng() % 2400);
    // Decide label positions first: every 37..120 instructions.
    std::vector<int> label_at;
    for (int i = 50; i < n; i += 37 + static_cast<int>(rng() % 84)) label_at.push_back(i);
    size_t next_label = 0;
    for (int i = 0; i < n; ++i) {
      std::string lab;
      if (next_label < label_at.size() && label_at[next_label] == i)
        lab = "L" + std::to_string(next_label++);
      std::string insn;
      if (rng() % 4 == 0 && next_label < label_at.size()) {
        // a jump to a random later label (possibly very far), one or two labels
        size_t span = label_at.size() - next_label;
        size_t a = next_label + rng() % span, b = next_label + rng() % span;
        std::string cond = conds[rng() % 7];
        bool two = rng() % 2;
        std::string la = "L" + std::to_string(a), lb = "L" + std::to_string(b);
        s.jump(cond, la, two ? lb : "", lab);
        continue;
      }
      insn = "ld #" + std::to_string(i);
      if (!lab.empty())
        s.label(lab, insn);
      else
        s.add(insn);
    }
    s.label("__end", "ret #0");
    auto r = assemble(s.text);
    ASSERT_TRUE(r.ok()) << r.diagnostics().render("t");  // no length limit stops it
    check_targets(s, *r);
  }
}

}  // namespace
}  // namespace bpf::compiler
