// Running the tools under test from the capture tests: a shell command with its stdout, stderr
// and exit status, and whole files as strings. Used by bpfdump_test.cpp and reader_test.cpp.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "test_packets.hpp"

namespace bpf::capture::testing {

struct Out {
  int status = -1;  // exit status, -1 when killed by a signal
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

// Runs `cmd` with `shell` (sh, or bash for process substitution and PIPESTATUS), capturing its
// stdout and stderr through files.
inline Out sh(const std::string& cmd, const char* shell = "sh") {
  const std::string o = temp_path("cmd.out"), e = temp_path("cmd.err"), c = temp_path("cmd.sh");
  std::ofstream(c) << "{ " << cmd << "\n} >" << o << " 2>" << e << "\n";
  Out r;
  const int rc = std::system((std::string(shell) + " " + c).c_str());
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(o);
  r.err = slurp(e);
  unlink(o.c_str());
  unlink(e.c_str());
  unlink(c.c_str());
  return r;
}

}  // namespace bpf::capture::testing
