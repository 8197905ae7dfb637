// Long programs (../shared/CLI.md "Long programs"): the kernels' limits (Linux 4096, BSD 512) are
// not the user-space engines'. A generated program of more than 100,000 instructions (the issue-12
// shape, `ldh [12]; jeq #k, accept` again and again, every jump reaching `accept` through a `ja`
// trampoline) is assembled, verified for user space (Destination::kUserSpace; for the kernel it
// is refused with the kernel's limit) and run on the interpreter, asmjit and LLVM over a packet
// mix, with the verdicts libpcap's bpf_filter gives. The EtherType is reloaded every 64 jumps:
// on one value compared 100,000 times in a row LLVM's value-range analysis is quadratic
// (jit/engine.hpp kLlvmAutoMaxInsns: 25-40 s at 200,000 instructions), here it takes ~4 s;
// kAuto never picks LLVM for programs this long. No times are asserted here.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "compiler/assembler.hpp"
#include "jit/engine.hpp"
#include "tests/support/packet_gen.hpp"
#include "tests/support/pcap_ref.hpp"
#include "verifier/verifier.hpp"

namespace bpf::jit {
namespace {

// `jumps` conditional jumps on the EtherType (reloaded every 64) against 1.., with the three
// common types placed deep in the chain; one of every 97 jumps goes to a nearby `reject_N`
// (short jumps among the long ones).
std::string chain(int jumps) {
  std::string src = "ldh [12]\n";
  int rejects = 0;
  for (int i = 1; i <= jumps; ++i) {
    uint32_t k = uint32_t(i) + 0x10000;  // never an EtherType ...
    if (i == jumps / 2) k = 0x0800;      // ... but these
    if (i == jumps - 3) k = 0x86dd;
    if (i == jumps / 3) k = 0x0806;
    if (i % 97 == 0) {
      src += "jeq #" + std::to_string(0x8100 + (i % 5)) + ", reject_" + std::to_string(rejects) +
             "\n";
      src += "ja over_" + std::to_string(rejects) + "\n";
      src += "reject_" + std::to_string(rejects) + ": ret #" + std::to_string(1 + rejects) + "\n";
      src += "over_" + std::to_string(rejects) + ": ldh [12]\n";
      ++rejects;
    }
    if (i % 64 == 0) src += "ldh [12]\n";
    src += "jeq #" + std::to_string(k) + ", accept\n";
  }
  return src + "ret #0\naccept: ret #65535\n";
}

vm::Program assemble_ok(const std::string& src) {
  auto r = compiler::assemble(src);
  EXPECT_TRUE(r.ok()) << r.diagnostics().render("chain").substr(0, 400);
  return r.ok() ? r.take() : vm::Program{};
}

std::vector<test::Packet> packets() {
  test::Rng rng(1201);
  return test::packet_mix(rng, 3000);
}

TEST(LongProgram, KernelRefusesUserSpaceRuns) {
  const vm::Program p = assemble_ok(chain(50'000));
  ASSERT_GT(p.size(), 100'000u);
  // For the kernel: its limit, with the kernel's wording.
  auto kernel = verifier::verify(p);
  ASSERT_FALSE(kernel.ok());
  EXPECT_NE(kernel.diagnostics().render("p").find(std::to_string(p.size()) +
                                                  " instructions; Linux accepts at most 4096"),
            std::string::npos);
  verifier::Options user;
  user.destination = verifier::Destination::kUserSpace;
  auto verified = verifier::verify(p, user);
  ASSERT_TRUE(verified.ok()) << verified.diagnostics().render("p").substr(0, 400);

  const std::vector<test::Packet> pkts = packets();
  std::vector<Engine> engines = {Engine::kInterp};
  for (Engine e : {Engine::kAsmjit, Engine::kLlvm})
    if (available(e)) engines.push_back(e);
  size_t accepted = 0;
  for (Engine e : engines) {
    SCOPED_TRACE(std::string(engine_name(e)));
    auto f = Filter::compile(*verified, e);
    ASSERT_TRUE(f.ok()) << f.diagnostics().render("p");
    std::vector<PacketView> views;
    for (const test::Packet& pk : pkts) views.push_back({pk.data.data(), pk.caplen(), pk.wirelen});
    std::vector<uint32_t> batch(views.size());
    f->run_batch(views, batch.data());
    for (size_t i = 0; i < pkts.size(); ++i) {
      const test::Packet& pk = pkts[i];
      const uint32_t want = test::pcap_filter(p.insns, pk);
      ASSERT_EQ(f->run(pk.data.data(), pk.caplen(), pk.wirelen), want) << "packet " << i;
      ASSERT_EQ(batch[i], want) << "packet " << i << " (batch)";
      accepted += want == 65535;
    }
  }
  EXPECT_GT(accepted, 0u);  // the deep jumps are taken
  // Auto: never LLVM for a program this long, however long the run.
  EXPECT_NE(choose_auto(uint64_t{1} << 40, p.size()), Engine::kLlvm);
}

TEST(LongProgram, BsdRunsPast512) {
  const vm::Program p = assemble_ok(chain(400));  // ~800 instructions with trampolines
  ASSERT_GT(p.size(), 512u);
  verifier::Options bsd{vm::Target::kBsd, 262144, verifier::Destination::kKernel};
  EXPECT_FALSE(verifier::verify(p, bsd).ok());
  bsd.destination = verifier::Destination::kUserSpace;
  auto v = verifier::verify(p, bsd);
  ASSERT_TRUE(v.ok()) << v.diagnostics().render("p");
  auto f = Filter::compile(*v, Engine::kInterp);
  ASSERT_TRUE(f.ok());
  for (const test::Packet& pk : packets())
    ASSERT_EQ(f->run(pk.data.data(), pk.caplen(), pk.wirelen),
              test::pcap_filter(p.insns, pk));
}

}  // namespace
}  // namespace bpf::jit
