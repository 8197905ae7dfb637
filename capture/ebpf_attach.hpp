// Loading the eBPF socket-filter translation of a classic program (jit/ebpf/) into the kernel
// with bpf(BPF_PROG_LOAD), for `bpdump --engine ebpf`: the program fd is then attached to each
// AF_PACKET socket with SO_ATTACH_BPF (capture/live.cpp). Unlike SO_ATTACH_FILTER there is no
// 4,096-instruction limit (the eBPF verifier takes a million). Needs CAP_BPF (root); errors
// carry the kernel verifier's log. Tested by tests/capture/live_test.cpp (LivePipeline/ebpf*).
#pragma once

#include "vm/diagnostic.hpp"
#include "vm/program.hpp"

namespace bpf::capture {

// The program's socket-filter translation loaded into the kernel: its fd (the caller closes it
// once the sockets hold it), or the translation's or the kernel's errors.
Result<int> load_ebpf_socket_filter(const vm::VerifiedProgram& prog);

}  // namespace bpf::capture
