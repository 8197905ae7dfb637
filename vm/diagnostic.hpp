// Errors are values. Every stage returns Result<T>: a value when it succeeded, and all the
// diagnostics it collected (errors, warnings, notes) either way. No exception crosses a library
// boundary; Bison, LLVM and asmjit errors are converted into Diagnostics where they are caught.
//
// Rendering follows ../shared/CLI.md: `FILE:LINE:COL: error: MESSAGE`, then the source line and a
// caret; for bytecode, `FILE:INDEX: error: MESSAGE` with the instruction index.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

namespace bpf {

struct SourceLoc {
  uint32_t line = 0;    // 1-based; 0 = unknown
  uint32_t column = 0;  // 1-based; 0 = unknown
  uint32_t length = 1;  // characters to underline

  bool known() const { return line != 0; }
};

// Maps 1-based byte offsets in a text to lines and columns (see Diagnostics::resolve_offsets).
class LineMap {
 public:
  explicit LineMap(std::string_view text);
  SourceLoc at(uint32_t offset, uint32_t length) const;  // offset 1-based; 0 = unknown

 private:
  std::vector<uint32_t> starts_;  // 0-based offset of each line's first character
};

enum class Severity : uint8_t { kError, kWarning, kNote };

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string message;
  SourceLoc loc;                         // position in the source text, if any
  std::optional<uint32_t> insn_index;    // instruction index, for bytecode and verifier reports
  std::string source_line;               // the text of loc.line, for the caret display
};

class Diagnostics {
 public:
  void error(std::string msg, SourceLoc loc = {}, std::optional<uint32_t> insn = std::nullopt) {
    add(Severity::kError, std::move(msg), loc, insn);
  }
  void warning(std::string msg, SourceLoc loc = {}, std::optional<uint32_t> insn = std::nullopt) {
    add(Severity::kWarning, std::move(msg), loc, insn);
  }
  void note(std::string msg, SourceLoc loc = {}, std::optional<uint32_t> insn = std::nullopt) {
    add(Severity::kNote, std::move(msg), loc, insn);
  }
  void add(Severity s, std::string msg, SourceLoc loc, std::optional<uint32_t> insn) {
    items_.push_back(Diagnostic{s, std::move(msg), loc, insn, {}});
  }
  void add(Diagnostic d) { items_.push_back(std::move(d)); }
  void append(const Diagnostics& other) {
    items_.insert(items_.end(), other.items_.begin(), other.items_.end());
  }

  bool has_errors() const {
    for (const auto& d : items_)
      if (d.severity == Severity::kError) return true;
    return false;
  }
  size_t error_count() const {
    size_t n = 0;
    for (const auto& d : items_) n += d.severity == Severity::kError;
    return n;
  }
  bool empty() const { return items_.empty(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  std::vector<Diagnostic>& items() { return items_; }

  // Fills Diagnostic::source_line from `source` for every item with a known line.
  void attach_source(std::string_view source);

  // For front ends that record positions as byte offsets into one text (the expression
  // grammar: line 1, column = 1-based offset): gives every known location its real line and
  // column in `source`, so that a multi-line text (`-F FILE`, `-e $'a\nb'`) is located right.
  void resolve_offsets(std::string_view source);

  // Renders every diagnostic; `file` is the name shown (e.g. "prog.bpf", "<stdin>", "<expr>").
  // Warnings and notes are included only when `include_warnings`.
  std::string render(std::string_view file, bool include_warnings = true) const;

 private:
  std::vector<Diagnostic> items_;
};

template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(T value, Diagnostics diags) : value_(std::move(value)), diags_(std::move(diags)) {}
  Result(Diagnostics diags) : diags_(std::move(diags)) {}  // NOLINT: failure

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  const Diagnostics& diagnostics() const { return diags_; }
  Diagnostics& diagnostics() { return diags_; }
  T take() { return std::move(*value_); }

 private:
  std::optional<T> value_;
  Diagnostics diags_;
};

}  // namespace bpf
