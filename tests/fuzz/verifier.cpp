// Fuzz target for verifier::verify(): the input bytes are a struct sock_filter array (8 bytes per
// instruction, host order); the first byte's low bit picks the rule set. Invariants: no crash or
// hang; an accepted program passes tests/verifier/facts_check.hpp; a rejected one has at least one
// error, each naming an instruction index inside the program (or none for length errors).
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>

#include "tests/verifier/facts_check.hpp"
#include "verifier/verifier.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bpf::vm::Target target = (data[0] & 1) ? bpf::vm::Target::kBsd : bpf::vm::Target::kLinux;
  ++data;
  --size;
  bpf::vm::Program p;
  p.insns.resize(std::min<size_t>(size / 8, 5000));
  if (!p.insns.empty()) std::memcpy(p.insns.data(), data, p.insns.size() * 8);
  auto r = bpf::verifier::verify(p, bpf::verifier::Options{target, 65535});
  if (r.ok()) {
    const std::string broken = bpf::verifier::testing::check_facts(*r);
    if (!broken.empty()) {
      std::fprintf(stderr, "broken fact: %s\n", broken.c_str());
      std::abort();
    }
  } else {
    if (!r.diagnostics().has_errors()) std::abort();
    for (const auto& d : r.diagnostics().items())
      if (d.insn_index && *d.insn_index >= p.insns.size()) std::abort();
  }
  return 0;
}
