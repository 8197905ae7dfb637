// Round-trip property tests over randomly generated programs (fixed seeds, so failures repeat):
//  - valid programs built from vm::kOpTable rows with in-range jumps: every bytecode format reads
//    back to the same instructions, and assemble(disassemble(p)) == p;
//  - arbitrary instructions (any 16-bit code, any fields): the same, through `.insn` escapes;
//  - random assembly text using every alias and operand spelling: assembling, disassembling and
//    assembling again gives the same bytes.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "compiler/assembler.hpp"
#include "compiler/formats.hpp"
#include "vm/ancillary.hpp"
#include "vm/insn.hpp"

namespace bpf::compiler {
namespace {

const Format kReadable[] = {Format::kC, Format::kDdd, Format::kXtBpf, Format::kBin};

std::vector<vm::Insn> random_valid(std::mt19937& rng, size_t n) {
  std::vector<vm::Insn> p;
  for (size_t i = 0; i + 1 < n; ++i) {
    const vm::OpInfo& row = vm::kOpTable[rng() % vm::kNumOps];
    vm::Insn in{row.code, 0, 0, 0};
    uint32_t left = static_cast<uint32_t>(n - i - 2);  // instructions after the next one
    switch (row.operand) {
      case vm::Operand::kNone:
      case vm::Operand::kLen:
      case vm::Operand::kAluX:
      case vm::Operand::kRetA:
      case vm::Operand::kRetX: break;
      case vm::Operand::kMem: in.k = rng() % 16; break;
      case vm::Operand::kAbs:
        in.k = rng() % 3 == 0 ? vm::kAncillaryTable[rng() % vm::kAncillaryTable.size()].k()
                              : static_cast<uint32_t>(rng());
        break;
      case vm::Operand::kJa: in.k = left ? rng() % (left + 1) : 0; break;
      case vm::Operand::kJmpK: in.k = static_cast<uint32_t>(rng()); [[fallthrough]];
      case vm::Operand::kJmpX:
        in.jt = static_cast<uint8_t>(rng() % (std::min<uint32_t>(left, 255) + 1));
        in.jf = static_cast<uint8_t>(rng() % (std::min<uint32_t>(left, 255) + 1));
        break;
      case vm::Operand::kImm:
      case vm::Operand::kInd:
      case vm::Operand::kMsh:
      case vm::Operand::kAluK:
      case vm::Operand::kRetK: in.k = rng() % 2 ? static_cast<uint32_t>(rng()) : rng() % 64; break;
    }
    p.push_back(in);
  }
  p.push_back({0x06, 0, 0, static_cast<uint32_t>(rng())});
  return p;
}

void expect_round_trips(const std::vector<vm::Insn>& p) {
  for (Format f : kReadable) {
    auto r = read_bytecode(format_program(p, f), f);
    ASSERT_TRUE(r.ok()) << format_name(f) << ": " << r.diagnostics().render("t");
    ASSERT_EQ(r->insns, p) << format_name(f);
    // and detection finds the format again
    ASSERT_EQ(detect_format(format_program(p, f)), f);
  }
  std::string text = disassemble(p);
  auto r = assemble(text);
  ASSERT_TRUE(r.ok()) << text << r.diagnostics().render("t");
  ASSERT_EQ(r->insns, p) << text;
}

TEST(RoundTrip, RandomValidPrograms) {
  std::mt19937 rng(1);
  for (int i = 0; i < 400; ++i) {
    size_t n = 1 + rng() % (i % 10 == 0 ? 600 : 40);
    SCOPED_TRACE("program " + std::to_string(i));
    expect_round_trips(random_valid(rng, n));
  }
}

TEST(RoundTrip, ArbitraryInstructions) {
  std::mt19937 rng(2);
  for (int i = 0; i < 300; ++i) {
    size_t n = 1 + rng() % 30;
    std::vector<vm::Insn> p(n);
    for (auto& in : p) {
      // Half real opcodes with noise in unused fields, half any 16-bit code.
      in.code = rng() % 2 ? vm::kOpTable[rng() % vm::kNumOps].code : static_cast<uint16_t>(rng());
      in.jt = rng() % 3 ? 0 : static_cast<uint8_t>(rng());
      in.jf = rng() % 3 ? 0 : static_cast<uint8_t>(rng());
      in.k = rng() % 2 ? rng() % 20 : static_cast<uint32_t>(rng());
    }
    SCOPED_TRACE("program " + std::to_string(i));
    expect_round_trips(p);
  }
}

// Random assembly text in every spelling the assembler accepts.
std::string random_source(std::mt19937& rng, int n) {
  auto pick = [&](std::initializer_list<const char*> l) {
    return std::string(*(l.begin() + rng() % l.size()));
  };
  auto num = [&]() -> std::string {
    uint32_t v = rng() % 3 ? rng() % 300 : static_cast<uint32_t>(rng());
    switch (rng() % 4) {
      case 0:
        return "0x" + [&] {
          char b[16];
          snprintf(b, sizeof b, "%x", v);
          return std::string(b);
        }();
      case 1:
        return v == 0 ? "0" : "0" + [&] {
          char b[16];
          snprintf(b, sizeof b, "%o", v);
          return std::string(b);
        }();
      case 2: return v < 0x80000000u && rng() % 2 ? "-" + std::to_string(v) : std::to_string(v);
      default: return std::to_string(v);
    }
  };
  std::string s;
  for (int i = 0; i < n; ++i) {
    std::string lab = "l" + std::to_string(i);
    std::string target =
        "l" + std::to_string(i + 1 + rng() % std::max(1, std::min(n - i - 1, 300)));
    if (i + 1 >= n) target = "end";
    std::string target2 = i + 1 >= n ? "end" : "l" + std::to_string(i + 1);
    std::string insn;
    switch (rng() % 14) {
      case 0: insn = pick({"ld", "ldh", "ldb", "LD", "Ldh"}) + " [" + num() + "]"; break;
      case 1:
        insn = pick({"ld", "ldh", "ldb"}) + pick({" [x + ", " [%x + ", " [X+"}) + num() + "]";
        break;
      case 2: insn = pick({"ld #", "ldi ", "ldi #", "ldx #", "ldxi ", "ldxi #"}) + num(); break;
      case 3:
        insn = pick({"ld", "ldx"}) + pick({" #len", " len", " #pktlen", " M[3]", " m[15]"});
        break;
      case 4:
        insn =
            pick({"ld", "ldh", "ldb"}) + " " +
            pick({"#proto", "type",      "#ifidx", "nla",       "#nlan",    "mark",        "#queue",
                  "hatype", "#rxhash",   "cpu",    "#vlan_tci", "vlan_pr",  "#vlan_avail", "poff",
                  "#rand",  "vlan_tpid", "#q",     "rxh",       "vlant",    "vlanp",       "pto",
                  "ifx",    "hat",       "que",    "[proto]",   "[random]", "[xor_x]"});
        break;
      case 5: insn = pick({"ldxb", "ldx"}) + " 4*([" + num() + "]&0xf)"; break;
      case 6: insn = pick({"st", "stx"}) + " M[" + std::to_string(rng() % 16) + "]"; break;
      case 7:
        insn = pick({"add", "sub", "mul", "div", "mod", "and", "or", "xor", "lsh", "rsh"}) +
               pick({" #", " x", " %x"});
        if (insn.back() == '#') insn += num();
        break;
      case 8: insn = pick({"neg", "tax", "txa", "NEG", "Tax"}); break;
      case 9: insn = pick({"ja ", "jmp ", "JA "}) + target; break;
      case 10:
        insn = pick({"jeq", "jgt", "jge", "jset", "jneq", "jne", "jlt", "jle"}) +
               pick({" #", " x", " %x"});
        if (insn.back() == '#') insn += num();
        insn += ", " + target;
        break;
      case 11:
        insn = pick({"jeq", "jgt", "jge", "jset", "jne", "jlt", "jle"}) + pick({" #", " x", " %X"});
        if (insn.back() == '#') insn += num();
        insn += ", " + target + ", " + target2;
        break;
      case 12:
        insn = "ret " + pick({"a", "%a", "x", "%x", "#"});
        if (insn.back() == '#') insn += num();
        break;
      default: insn = "ret #" + num(); break;
    }
    s += lab + ":" + pick({" ", "\t", "\n  "}) + insn + pick({"\n", " ; c\n", " /* c */\n"});
  }
  s += "end: ret #0\n";
  return s;
}

TEST(RoundTrip, RandomAssemblyText) {
  std::mt19937 rng(3);
  for (int i = 0; i < 300; ++i) {
    std::string src = random_source(rng, 1 + static_cast<int>(rng() % 60));
    SCOPED_TRACE(src);
    auto r = assemble(src);
    ASSERT_TRUE(r.ok()) << r.diagnostics().render("t");
    expect_round_trips(r->insns);
  }
}

}  // namespace
}  // namespace bpf::compiler
