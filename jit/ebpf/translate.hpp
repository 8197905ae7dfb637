// Classic BPF -> eBPF: the verified classic program translated for one hook (hook.hpp), verdict
// for verdict (../shared/CLI.md, "eBPF"). The embedding entry point of jit/ebpf/.
//
//   auto e = bpf::jit::ebpf::translate(verified, bpf::jit::ebpf::Hook::kXdp);
//   if (!e) { /* e.diagnostics(): located errors (ancillary loads the hook cannot provide) */ }
//   e->insns  // struct bpf_insn array for BPF_PROG_LOAD; format_text/format_c/write_elf print it
//
// Promise: for every packet the kernel gives the program in full (caplen == wire length), the
// translation returns hook_verdict(hook, v) where v is what vm/semantics.hpp computes for the
// classic program, and the kernel's verifier accepts it (as root: it reads packet bytes past
// checks the verifier can follow). Known limits, each an error or documented where it applies:
// xdp has no network header, so an absolute SKF_NET_OFF load is an error there and an indexed
// one that lands in SKF_NET_OFF rejects; tc reads at most 65,535 bytes past the network header
// (bpf_skb_load_bytes_relative). Loads past the first 65,535 bytes (the verifier's
// MAX_PACKET_OFF) use bpf_skb_load_bytes / bpf_xdp_load_bytes; the latter refuses offsets past
// 0xffff, so under xdp a load starting past byte 65,535 rejects. xdp programs are loaded without
// BPF_F_XDP_HAS_FRAGS: drivers never give them a multi-buffer frame. Tested by tests/ebpf/
// (against the kernel, packet by packet, with BPF_PROG_TEST_RUN, and live on a netns loopback
// for frames past 64 KiB).
#pragma once

#include <cstdint>
#include <vector>

#include "jit/ebpf/ebpf_insn.hpp"
#include "jit/ebpf/hook.hpp"
#include "vm/diagnostic.hpp"
#include "vm/program.hpp"

namespace bpf::jit::ebpf {

struct EbpfProgram {
  Hook hook = Hook::kSocket;
  std::vector<EbpfInsn> insns;
};

Result<EbpfProgram> translate(const vm::VerifiedProgram& prog, Hook hook);

}  // namespace bpf::jit::ebpf
