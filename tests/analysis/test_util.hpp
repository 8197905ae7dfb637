// Helpers shared by the analysis tests: compile or assemble, verify, run a tool.
#pragma once

#include "tests/asm/tool_run.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "compiler/assembler.hpp"
#include "compiler/expr.hpp"
#include "tests/support/packet_gen.hpp"
#include "verifier/verifier.hpp"
#include "vm/program.hpp"

namespace bpf::test {

inline std::optional<vm::VerifiedProgram> verified(const vm::Program& p, vm::Target t) {
  verifier::Options vo;
  vo.target = t;
  vo.destination = verifier::Destination::kUserSpace;
  auto v = verifier::verify(p, vo);
  if (!v.ok()) return std::nullopt;
  return v.take();
}

inline std::optional<vm::VerifiedProgram> from_expr(const std::string& e, int linktype = 1,
                                                    int opt = 2,
                                                    vm::Target t = vm::Target::kLinux) {
  compiler::ExprOptions o;
  o.linktype = linktype;
  o.opt_level = opt;
  o.target = t;
  o.resolve_hosts = false;
  auto p = compiler::compile_expression(e, o);
  if (!p.ok()) return std::nullopt;
  return verified(*p, t);
}

inline std::optional<vm::VerifiedProgram> from_asm(const std::string& text,
                                                   vm::Target t = vm::Target::kLinux) {
  auto p = compiler::assemble(text);
  if (!p.ok()) return std::nullopt;
  return verified(*p, t);
}

// A random program of at most 24 instructions (no nla / nlan) and a mutant of it (one k
// changed), both verified for `t`; nullopt when the verifier refuses either. The random pairs
// of equiv_test.cpp and equiv_paths_test.cpp.
inline std::optional<std::pair<vm::VerifiedProgram, vm::VerifiedProgram>> random_mutant_pair(
    Rng& rng, vm::Target t) {
  GenOptions go;
  go.target = t;
  go.max_len = 24;
  go.ancillary_mask = 0xffff & ~(1u << 3) & ~(1u << 4);  // no nla / nlan
  std::vector<vm::Insn> pa = random_program(rng, go);
  std::vector<vm::Insn> pb = pa;
  vm::Insn& m = pb[below(rng, pb.size())];
  if (chance(rng, 50)) m.k ^= 1u << below(rng, 32);
  else m.k = static_cast<uint32_t>(below(rng, 64));
  auto va = verified({pa, {}}, t), vb = verified({pb, {}}, t);
  if (!va || !vb) return std::nullopt;
  return std::make_pair(std::move(*va), std::move(*vb));
}

using Run = Outcome;

// Runs a shell command line, capturing stdout and stderr (tests/asm/tool_run.hpp).
inline Run shell(const std::string& cmd) { return run_tool(cmd, ""); }

}  // namespace bpf::test
