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

using Run = Outcome;

// Runs a shell command line, capturing stdout and stderr (tests/asm/tool_run.hpp).
inline Run shell(const std::string& cmd) { return run_tool(cmd, ""); }

}  // namespace bpf::test
