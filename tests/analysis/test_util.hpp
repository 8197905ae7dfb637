// Helpers shared by the analysis tests: compile or assemble, verify, run a tool.
#pragma once

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

struct Run {
  int status = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Runs a shell command line, capturing stdout and stderr.
inline Run shell(const std::string& cmd) {
  static int counter = 0;
  const std::string base = ::testing::TempDir() + "analysis_" + std::to_string(getpid()) + "_" +
                           std::to_string(counter++);
  const int rc = std::system((cmd + " >" + base + ".out 2>" + base + ".err").c_str());
  Run r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return r;
}

inline std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace bpf::test
