// The one conformance runner: parses every tests/conformance/cases/*.cases file, assembles and
// verifies each program under each target the case names, and runs every run on
//   - the executable specification vm::evaluate (vm/semantics.hpp),
//   - libpcap's bpf_filter for BSD expectations (the reference the BSD column must match),
//   - every engine that bpf::jit::available() reports, through Filter::run and run_batch.
// Every mismatch is reported with its file:line. See README.md for the format.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/assembler.hpp"
#include "jit/engine.hpp"
#include "tests/conformance/case_file.hpp"
#include "tests/support/pcap_ref.hpp"
#include "verifier/verifier.hpp"
#include "vm/semantics.hpp"

namespace bpf::conformance {
namespace {

std::vector<Case> load_all(std::vector<std::string>& errors) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(BPFC_CONFORMANCE_DIR))
    if (e.path().extension() == ".cases") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<Case> all;
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    ParseResult r = parse_cases(ss.str(), f.filename().string());
    errors.insert(errors.end(), r.errors.begin(), r.errors.end());
    for (auto& c : r.cases) all.push_back(std::move(c));
  }
  return all;
}

std::string where(const Case& c, const Run& r) {
  return c.file + ":" + std::to_string(r.line) + " (case " + c.name + ")";
}

TEST(Conformance, AllCasesOnAllEngines) {
  std::vector<std::string> errors;
  std::vector<Case> cases = load_all(errors);
  for (const auto& e : errors) ADD_FAILURE() << e;
  EXPECT_GE(cases.size(), 200u) << "the suite promises at least 200 cases";

  std::vector<jit::Engine> engines;
  for (jit::Engine e : jit::kAllEngines)
    if (e != jit::Engine::kAuto && jit::available(e)) engines.push_back(e);

  size_t runs = 0, executions = 0;
  for (const Case& c : cases) {
    Result<vm::Program> prog = compiler::assemble(c.source);
    if (!prog) {
      ADD_FAILURE() << c.file << ":" << c.line << ": case " << c.name << " does not assemble:\n"
                    << prog.diagnostics().render("<case>");
      continue;
    }
    const bool has_ret_x = std::any_of(prog->insns.begin(), prog->insns.end(), [](const vm::Insn& i) {
      return i.code == (vm::code::kRet | vm::code::kX);
    });
    for (vm::Target t : {vm::Target::kLinux, vm::Target::kBsd}) {
      if ((t == vm::Target::kLinux && !c.linux) || (t == vm::Target::kBsd && !c.bsd)) continue;
      const char* tname = t == vm::Target::kLinux ? "linux" : "bsd";
      verifier::Options opts;
      opts.target = t;
      Result<vm::VerifiedProgram> vp = verifier::verify(*prog, opts);
      if (!vp) {
        ADD_FAILURE() << c.file << ":" << c.line << ": case " << c.name << " rejected for "
                      << tname << ":\n" << vp.diagnostics().render("<case>");
        continue;
      }
      std::vector<jit::Filter> filters;
      for (jit::Engine e : engines) {
        auto f = jit::Filter::compile(*vp, e);
        if (!f) {
          ADD_FAILURE() << c.name << ": engine " << jit::engine_name(e) << " failed: "
                        << f.diagnostics().render("<case>");
          continue;
        }
        filters.push_back(f.take());
      }
      for (const conformance::Run& r : c.runs) {
        std::optional<uint32_t> want = t == vm::Target::kLinux ? r.linux_expect : r.bsd_expect;
        if (!want) continue;
        ++runs;
        const uint8_t* pkt = r.packet.data();
        const uint32_t caplen = uint32_t(r.packet.size());
        uint32_t spec = vm::evaluate(prog->insns, t, pkt, caplen, r.wirelen, r.ctx);
        EXPECT_EQ(spec, *want) << where(c, r) << " [" << tname << "] vm::evaluate";
        if (t == vm::Target::kBsd && !has_ret_x && c.skip_libpcap.empty()) {
          EXPECT_EQ(test::pcap_filter(prog->insns, pkt, caplen, r.wirelen), *want)
              << where(c, r) << " [bsd] libpcap bpf_filter disagrees with the expectation";
        }
        for (const jit::Filter& f : filters) {
          ++executions;
          EXPECT_EQ(f.run(pkt, caplen, r.wirelen, r.ctx), *want)
              << where(c, r) << " [" << tname << "] engine " << jit::engine_name(f.engine());
          jit::PacketView views[2] = {{pkt, caplen, r.wirelen}, {pkt, caplen, r.wirelen}};
          uint32_t out[2] = {~*want, ~*want};
          f.run_batch(views, out, r.ctx);
          EXPECT_TRUE(out[0] == *want && out[1] == *want)
              << where(c, r) << " [" << tname << "] engine " << jit::engine_name(f.engine())
              << " run_batch gave " << out[0] << ", " << out[1];
        }
      }
    }
  }
  std::printf("conformance: %zu cases, %zu runs, %zu engine executions on %zu engine(s)\n",
              cases.size(), runs, executions, engines.size());
  EXPECT_GE(runs, 200u);
}

}  // namespace
}  // namespace bpf::conformance
