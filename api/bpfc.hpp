// <bpfc/bpfc.hpp>: the C++ API of libbpfc in one header, what an embedding application uses:
//   compile a pcap-filter(7) expression   bpf::compiler::compile_expression  (compiler/expr.hpp)
//   compile rules into one classifier    bpf::compiler::compile_classifier  (compiler/classify/)
//   assemble classic BPF assembly         bpf::compiler::assemble            (compiler/assembler.hpp)
//   read or print bytecode formats        bpf::compiler::read_bytecode, format_program (formats.hpp)
//   verify (the only way to run)          bpf::verifier::verify              (verifier/verifier.hpp)
//   run with any engine                   bpf::jit::Filter                   (jit/engine.hpp)
//   capture from files or AF_PACKET       bpf::capture::Capture, open_file, open_live, Ring
//   translate to eBPF (socket, xdp, tc)   bpf::jit::ebpf::translate, write_elf (jit/ebpf/)
// plus the C API (<bpfc/bpfc.h>). Errors are values (bpf::Result<T>, bpf::Diagnostics); nothing
// throws across the API. Needs C++20. Installed headers include no LLVM, asmjit or libpcap header
// (tests/api/CMakeLists.txt and tests/install/ check the staged and the installed tree).
// Link with bpfc::bpfc (CMake) or `pkg-config --libs bpfc`. Example: examples/embed/filter_file.cpp.
#pragma once

#include "api/bpfc.h"
#include "capture/capture.hpp"
#include "capture/ring.hpp"
#include "capture/source.hpp"
#include "compiler/assembler.hpp"
#include "compiler/classify/classify.hpp"
#include "compiler/expr.hpp"
#include "compiler/formats.hpp"
#include "jit/ebpf/output.hpp"
#include "jit/ebpf/translate.hpp"
#include "jit/engine.hpp"
#include "verifier/verifier.hpp"
#include "vm/diagnostic.hpp"
#include "vm/insn.hpp"
#include "vm/program.hpp"
