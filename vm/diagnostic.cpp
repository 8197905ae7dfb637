// Rendering of diagnostics in the CLI.md format (see diagnostic.hpp).
// Tested by tests/vm/diagnostic_test.cpp and every golden error test.
#include "vm/diagnostic.hpp"

#include <algorithm>
#include <string_view>

namespace bpf {

namespace {

std::string_view line_of(std::string_view text, uint32_t line) {
  uint32_t n = 1;
  size_t start = 0;
  while (n < line) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) return {};
    start = nl + 1;
    ++n;
  }
  size_t end = text.find('\n', start);
  std::string_view l = text.substr(start, end == std::string_view::npos ? text.size() - start
                                                                          : end - start);
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  return l;
}

const char* label(Severity s) {
  switch (s) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kNote: return "note";
  }
  return "error";
}

}  // namespace

void Diagnostics::attach_source(std::string_view source) {
  // Index the line starts once: linear in the source plus the diagnostics, so that an input with
  // an error on each of 100,000 lines is not quadratic.
  bool any = false;
  for (const auto& d : items_) any = any || (d.loc.known() && d.source_line.empty());
  if (!any) return;
  std::vector<size_t> starts = {0};
  for (size_t i = source.find('\n'); i != std::string_view::npos; i = source.find('\n', i + 1))
    starts.push_back(i + 1);
  for (auto& d : items_) {
    if (!d.loc.known() || !d.source_line.empty() || d.loc.line > starts.size()) continue;
    d.source_line = std::string(line_of(source.substr(starts[d.loc.line - 1]), 1));
  }
}

LineMap::LineMap(std::string_view text) {
  starts_.push_back(0);
  for (size_t i = text.find('\n'); i != std::string_view::npos; i = text.find('\n', i + 1))
    starts_.push_back(static_cast<uint32_t>(i + 1));
}

SourceLoc LineMap::at(uint32_t offset, uint32_t length) const {
  if (offset == 0) return SourceLoc{};
  const uint32_t at = offset - 1;
  // the last line starting at or before `at`
  auto it = std::upper_bound(starts_.begin(), starts_.end(), at);
  const size_t line = static_cast<size_t>(it - starts_.begin());  // 1-based
  return SourceLoc{static_cast<uint32_t>(line), at - starts_[line - 1] + 1, length};
}

void Diagnostics::resolve_offsets(std::string_view source) {
  if (source.find('\n') == std::string_view::npos) return;  // one line: offsets are columns
  LineMap map(source);
  for (auto& d : items_)
    if (d.loc.known()) {
      d.loc = map.at(d.loc.column, d.loc.length);
      d.source_line.clear();
    }
}

std::string Diagnostics::render(std::string_view file, bool include_warnings) const {
  std::string out;
  for (const auto& d : items_) {
    if (!include_warnings && d.severity != Severity::kError) continue;
    out += file;
    if (d.loc.known()) {
      out += ':' + std::to_string(d.loc.line);
      if (d.loc.column) out += ':' + std::to_string(d.loc.column);
    } else if (d.insn_index) {
      out += ':' + std::to_string(*d.insn_index);
    }
    out += ": ";
    out += label(d.severity);
    out += ": ";
    out += d.message;
    out += '\n';
    if (d.loc.known() && !d.source_line.empty()) {
      out += d.source_line;
      out += '\n';
      std::string caret;
      for (uint32_t i = 1; i < d.loc.column && i <= d.source_line.size(); ++i)
        caret += d.source_line[i - 1] == '\t' ? '\t' : ' ';
      caret += '^';
      for (uint32_t i = 1; i < d.loc.length; ++i) caret += '~';
      out += caret;
      out += '\n';
    }
  }
  return out;
}

}  // namespace bpf
