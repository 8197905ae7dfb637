// Reading the tools' inputs: whole files (or stdin) as error values, and the text of a
// tcpdump -F expression file. Nothing here throws: a directory, an unreadable file or a read
// error is a message for the caller to print (bpfc and bpfdump never let an exception out of
// main). Tested through the tools: tests/asm/cli_test.cpp (bpfc -F, directories) and
// tests/capture/bpfdump_test.cpp (bpfdump -F, --program DIR).
#pragma once

#include <string>

#include "vm/diagnostic.hpp"

namespace bpf::tools {

// Reads all of `path` ("-" is stdin) into `out`. On failure returns false and sets `error` to
// the reason (strerror text, e.g. "No such file or directory", "Is a directory").
bool read_input(const std::string& path, std::string& out, std::string& error);

// The expression in a tcpdump -F file: as tcpdump's read_infile(), `#` starts a comment that runs
// to the end of the line; comments become spaces, so the line and column of every diagnostic
// are the file's. Newlines need no rewriting: the expression lexer takes them as blanks. A NUL
// byte is an error at its line and column (tcpdump would silently stop reading there).
Result<std::string> expression_file_text(std::string text);

}  // namespace bpf::tools
