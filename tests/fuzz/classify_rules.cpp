// Fuzz target: the classifier (compiler/classify/) never crashes, hangs or emits an invalid
// program on any rules text: an accepted program has in-range forward jumps, ends in a return,
// and returns only constants from 0 to the number of rules (checked here without the verifier
// so the target stands alone). Every error is an error diagnostic.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "compiler/classify/classify.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t rules = bpf::compiler::parse_rules(text).size();
  for (int lt : {1, 12}) {
    bpf::compiler::ExprOptions o;
    o.linktype = lt;
    o.opt_level = static_cast<int>(size % 3);
    o.resolve_hosts = false;
    auto r = bpf::compiler::compile_classifier(text, o);
    if (!r.ok()) {
      if (!r.diagnostics().has_errors()) std::abort();
      continue;
    }
    const auto& insns = r->insns;
    if (insns.empty()) std::abort();
    for (size_t i = 0; i < insns.size(); ++i) {
      const auto& in = insns[i];
      if ((in.code & 0x07) == 0x05) {
        const size_t far = (in.code & 0xf0) == 0 ? i + 1 + in.k : i + 1 + (in.jt > in.jf ? in.jt : in.jf);
        if (far >= insns.size()) std::abort();
      }
      if (in.code == 0x06 && in.k > rules) std::abort();  // ret #k: a rule number or 0
    }
    if ((insns.back().code & 0x07) != 0x06) std::abort();
  }
  return 0;
}
