// The printed forms of an eBPF translation (`bpfc -f ebpf|ebpf-c|elf`, ../shared/CLI.md):
// - format_text: one instruction a line as `bpftool prog dump xlated` prints it (the kernel's
//   kernel/bpf/disasm.c syntax): `   0: (bf) r6 = r1`;
// - format_c: one `{ .code = 0xbf, .dst_reg = 6, .src_reg = 1, .off = 0, .imm = 0 },` a line,
//   the initialiser of a `struct bpf_insn` array (linux/bpf.h);
// - write_elf: a relocatable ELF64 object (EM_BPF, host byte order) with the program in section
//   hook_name(hook) under a global FUNC symbol, and section `license` = "GPL": what libbpf's
//   bpf_object__open_mem and iproute2 (`ip link ... xdp obj F sec xdp`, `tc filter ... bpf da
//   obj F sec tc`) load. No BTF, no maps, no relocations: the translation needs none.
// Tested by tests/ebpf/ebpf_output_test.cpp (libbpf loads the ELF object).
#pragma once

#include <string>

#include "jit/ebpf/translate.hpp"

namespace bpf::jit::ebpf {

std::string format_text(const EbpfProgram& p);
std::string format_c(const EbpfProgram& p);
std::string write_elf(const EbpfProgram& p);  // the object file's bytes

}  // namespace bpf::jit::ebpf
