// Reading the tools' inputs (see input.hpp).
#include "tools/input.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace bpf::tools {

bool read_input(const std::string& path, std::string& out, std::string& error) {
  out.clear();
  const bool is_stdin = path == "-";
  FILE* f = is_stdin ? stdin : std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    error = std::strerror(errno);
    return false;
  }
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const bool ok = !std::ferror(f);
  if (!ok) error = std::strerror(errno != 0 ? errno : EIO);  // a directory: EISDIR
  if (!is_stdin) std::fclose(f);
  return ok;
}

Result<std::string> expression_file_text(std::string text) {
  Diagnostics d;
  uint32_t line = 1, col = 1;
  bool comment = false;
  for (char& c : text) {
    if (c == '\0') {
      d.error("NUL byte in the expression file (it must be text)", SourceLoc{line, col, 1});
      break;
    }
    if (c == '\n') {
      comment = false;
      ++line;
      col = 1;
      continue;
    }
    if (c == '#') comment = true;
    if (comment) c = ' ';
    ++col;
  }
  if (d.has_errors()) {
    for (char& c : text)
      if (c == '\0') c = ' ';  // the source line shown under the message
    d.attach_source(text);
    return d;
  }
  return text;
}

}  // namespace bpf::tools
