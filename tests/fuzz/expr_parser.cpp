// Fuzz target: the pcap-filter expression compiler never crashes, hangs or emits an invalid
// program on any input text. Every accepted program must have in-range forward jumps and end in
// a return (checked here without the verifier so the target stands alone). Every link type the
// compiler knows is reached (one per input besides Ethernet, raw IP and Linux cooked).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <algorithm>

#include "compiler/expr.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // Ethernet, raw IP, Linux cooked, and one of the other 22 link types chosen by the input.
  static constexpr int kOther[] = {0, 108, 228, 229, 276, 9, 50, 51, 104, 107, 8, 7, 129, 123,
                                   10, 6, 226, 105, 119, 127, 163, 192};
  const int other = kOther[(size + (size ? data[0] : 0)) % (sizeof kOther / sizeof kOther[0])];
  for (int lt : {1, 12, 113, other}) {
    bpf::compiler::ExprOptions o;
    o.linktype = lt;
    o.opt_level = static_cast<int>(size % 3);
    o.resolve_hosts = false;
    auto r = bpf::compiler::compile_expression(text, o);
    if (!r.ok()) {
      if (!r.diagnostics().has_errors()) std::abort();
      continue;
    }
    const auto& insns = r->insns;
    if (insns.empty()) std::abort();  // no length limit: the kernels' limits are not the compiler's
    for (size_t i = 0; i < insns.size(); ++i) {
      const auto& in = insns[i];
      if ((in.code & 0x07) == 0x05) {
        size_t far = (in.code & 0xf0) == 0 ? i + 1 + in.k : i + 1 + std::max(in.jt, in.jf);
        if (far >= insns.size()) std::abort();
      }
    }
    if ((insns.back().code & 0x07) != 0x06) std::abort();
  }
  return 0;
}
