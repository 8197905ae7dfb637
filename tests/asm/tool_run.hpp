// Running the tools from the tests: a command line with stdin from a string, its exit status,
// stdout and stderr (through temporary files), and files written for the tools to read. Shared
// by cli_test.cpp (bpfc) and tool_input_test.cpp (bpfdump).
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace bpf::test {

struct Outcome {
  int status = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Runs `tool args` (args shell-quoted by the caller) with `input` on stdin.
inline Outcome run_tool(const std::string& tool, const std::string& args, const std::string& input = "") {
  static int counter = 0;
  const std::string base = ::testing::TempDir() + "tool_run_" + std::to_string(getpid()) + "_" +
                           std::to_string(counter++);
  std::ofstream(base + ".in", std::ios::binary) << input;
  const std::string cmd = tool + " " + args + " <" + base + ".in >" + base + ".out 2>" + base + ".err";
  const int rc = std::system(cmd.c_str());
  Outcome r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  for (const char* ext : {".in", ".out", ".err"}) std::remove((base + ext).c_str());
  return r;
}

inline std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace bpf::test
