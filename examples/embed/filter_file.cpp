// filter_file: the C++ API of an installed bpfc (<bpfc/bpfc.hpp>, CMake find_package(bpfc)).
// Compiles a pcap-filter expression, verifies it, and runs it over a pcap file through
// bpf::capture::Capture (the capture thread filters with the chosen engine; this thread reads
// the accepted packets from the hold/store ring).
//
//   cmake -S examples/embed -B b -DCMAKE_PREFIX_PATH=<bpfc prefix> && cmake --build b
//   b/filter_file capture.pcap 'tcp port 80' [auto|interp|asmjit|llvm]
//
// Prints "engine E received N accepted M bytes B", and with the llvm engine the path of the
// module libbpfc loaded ("llvm module PATH"). Exit 0, or 1 with the diagnostics on stderr.
// Built and run against an installed bpfc by tests/install/install_test.sh.
#include <bpfc/bpfc.hpp>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

int fail(const bpf::Diagnostics& d) {
  std::fputs(d.render("filter_file", /*include_warnings=*/false).c_str(), stderr);
  return 1;
}

// Which libbpfc_llvm.so this process mapped (empty if none).
std::string llvm_module_path() {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);)
    if (auto at = line.find('/'); at != std::string::npos &&
                                  line.find("libbpfc_llvm.so") != std::string::npos)
      return line.substr(at);
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: %s FILE.pcap EXPRESSION [ENGINE]\n", argv[0]);
    return 2;
  }
  const auto engine = bpf::jit::parse_engine(argc == 4 ? argv[3] : "auto");
  if (!engine) {
    std::fprintf(stderr, "unknown engine %s\n", argv[3]);
    return 2;
  }

  auto cap = bpf::capture::Capture::open_file(argv[1]);
  if (!cap) return fail(cap.diagnostics());

  bpf::compiler::ExprOptions opts;
  opts.linktype = (*cap)->linktype();
  auto prog = bpf::compiler::compile_expression(argv[2], opts);
  if (!prog) return fail(prog.diagnostics());
  auto verified = bpf::verifier::verify(*prog);
  if (!verified) return fail(verified.diagnostics());

  if (auto d = (*cap)->set_filter(*verified, *engine); d.has_errors()) return fail(d);
  if (auto d = (*cap)->start(); d.has_errors()) return fail(d);

  uint64_t accepted = 0, bytes = 0;
  bpf::capture::Batch batch;
  while ((*cap)->next(batch, 100) != bpf::capture::Ring::Wait::kEnd) {
    for (const bpf::capture::Packet& p : batch) {
      ++accepted;
      bytes += p.caplen;
    }
    (*cap)->release(batch);
  }
  if (!(*cap)->error().empty()) {
    std::fprintf(stderr, "%s\n", (*cap)->error().c_str());
    return 1;
  }
  const bpf::capture::CaptureStats s = (*cap)->stats();
  std::printf("engine %s received %llu accepted %llu bytes %llu\n", (*cap)->filter_engine_name(),
              static_cast<unsigned long long>(s.received),
              static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(bytes));
  if (const std::string path = llvm_module_path(); !path.empty())
    std::printf("llvm module %s\n", path.c_str());
  return 0;
}
