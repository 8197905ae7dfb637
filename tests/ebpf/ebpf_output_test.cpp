// The printed forms of the eBPF translation (jit/ebpf/output.hpp) and long programs:
// - format_text / format_c of a known program, line for line;
// - write_elf: libbpf (bpf_object__open_mem) finds the program in the hook's section with the
//   hook's program type, loads it (root), and the loaded program gives the interpreter's verdict;
// - a classic program whose eBPF jumps exceed 16-bit offsets: the emitter widens them to gotol,
//   and the kernel loads and runs the result (root).
// Root-only parts print SKIPPED and GTEST_SKIP otherwise.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "compiler/assembler.hpp"
#include "compiler/expr.hpp"
#include "jit/ebpf/output.hpp"
#include "tests/ebpf/bpf_syscall.hpp"
#include "verifier/verifier.hpp"
#include "vm/interpreter.hpp"

namespace bpf::test {
namespace {

using jit::ebpf::Hook;

vm::VerifiedProgram verified(const vm::Program& p) {
  verifier::Options vo;
  vo.destination = verifier::Destination::kUserSpace;
  auto v = verifier::verify(p, vo);
  EXPECT_TRUE(v.ok());
  return v.take();
}

vm::VerifiedProgram assembled(const char* src) {
  auto p = compiler::assemble(src);
  EXPECT_TRUE(p.ok());
  return verified(*p);
}

TEST(EbpfOutput, TextAndC) {
  auto v = assembled("ldh [12]\njeq #0x806, yes, no\nyes: ret #65535\nno: ret #0\n");
  auto e = jit::ebpf::translate(v, Hook::kXdp);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(jit::ebpf::format_text(*e),
            "   0: (bf) r6 = r1\n"
            "   1: (b4) w7 = 0\n"
            "   2: (b4) w8 = 0\n"
            "   3: (61) r9 = *(u32 *)(r6 +0)\n"
            "   4: (bf) r1 = r9\n"
            "   5: (07) r1 += 14\n"
            "   6: (61) r2 = *(u32 *)(r6 +4)\n"
            "   7: (2d) if r1 > r2 goto pc+7\n"
            "   8: (69) r7 = *(u16 *)(r9 +12)\n"
            "   9: (dc) r7 = be16 r7\n"
            "  10: (56) if w7 != 0x806 goto pc+2\n"
            "  11: (b4) w0 = 2\n"
            "  12: (95) exit\n"
            "  13: (b4) w0 = 1\n"
            "  14: (95) exit\n"
            "  15: (b4) w0 = 1\n"
            "  16: (95) exit\n");
  auto s = jit::ebpf::translate(v, Hook::kSocket);
  ASSERT_TRUE(s.ok());
  const std::string c = jit::ebpf::format_c(*s);
  EXPECT_EQ(c.substr(0, c.find('\n')),
            "{ .code = 0xbf, .dst_reg = 6, .src_reg = 1, .off = 0, .imm = 0 },");
  EXPECT_NE(c.find("{ .code = 0x28, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 12 },"),
            std::string::npos);  // LD_ABS H [12]
}

TEST(EbpfOutput, MissingAncillaryIsLocated) {
  auto v = assembled("ldb [0]\nld #hatype\nret a\n");
  auto e = jit::ebpf::translate(v, Hook::kXdp);
  ASSERT_FALSE(e.ok());
  ASSERT_EQ(e.diagnostics().error_count(), 1u);
  const Diagnostic& d = e.diagnostics().items()[0];
  EXPECT_EQ(d.insn_index, 1u);
  EXPECT_NE(d.message.find("hatype"), std::string::npos) << d.message;
}

TEST(EbpfOutput, LibbpfLoadsTheElfObject) {
  auto prog = compiler::compile_expression("ip and tcp port 80", compiler::ExprOptions{});
  ASSERT_TRUE(prog.ok());
  auto v = verified(*prog);
  std::string why;
  const bool root = can_load_bpf(&why);
  if (!root) std::printf("SKIPPED (load part): cannot load eBPF programs: %s\n", why.c_str());
  for (Hook h : {Hook::kSocket, Hook::kXdp, Hook::kTc}) {
    auto e = jit::ebpf::translate(v, h);
    ASSERT_TRUE(e.ok());
    const std::string elf = jit::ebpf::write_elf(*e);
    bpf_object* obj = bpf_object__open_mem(elf.data(), elf.size(), nullptr);
    ASSERT_NE(obj, nullptr) << "libbpf cannot open the " << jit::ebpf::hook_name(h) << " object";
    bpf_program* p = bpf_object__find_program_by_name(obj, ("bpfc_" + std::string(jit::ebpf::hook_name(h))).c_str());
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(std::string(bpf_program__section_name(p)), jit::ebpf::hook_name(h));
    EXPECT_EQ(static_cast<uint32_t>(bpf_program__type(p)), jit::ebpf::prog_type(h));
    EXPECT_EQ(bpf_program__insn_cnt(p), e->insns.size());
    if (root) {
      ASSERT_EQ(bpf_object__load(obj), 0) << jit::ebpf::hook_name(h);
      const int fd = bpf_program__fd(p);
      // An Ethernet/IPv4/TCP frame to port 80 and one to port 81.
      std::vector<uint8_t> f(54, 0);
      f[12] = 0x08; f[14] = 0x45; f[23] = 6; f[16] = 0; f[17] = 40; f[37] = 80;
      vm::Interpreter interp(v);
      for (uint8_t port : {80, 81}) {
        f[37] = port;
        const uint8_t* d = f.data() + (h == Hook::kSocket ? 14 : 0);
        const uint32_t n = static_cast<uint32_t>(f.size()) - (h == Hook::kSocket ? 14 : 0);
        auto r = test_run(fd, f.data(), static_cast<uint32_t>(f.size()));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->retval, jit::ebpf::hook_verdict(h, interp.run(d, n, n))) << int(port);
      }
    }
    bpf_object__close(obj);
  }
}

// 40,000 `jeq` to one `ret`: the first jumps span more than 32,767 eBPF instructions.
TEST(EbpfOutput, LongJumpsBecomeGotol) {
  std::string src = "ldh [12]\n";
  for (int i = 0; i < 40000; ++i) src += "jeq #" + std::to_string(60000 - i) + ", yes\n";
  src += "ret #0\nyes: ret #1\n";
  auto v = assembled(src.c_str());
  for (Hook h : {Hook::kXdp, Hook::kTc}) {
    auto e = jit::ebpf::translate(v, h);
    ASSERT_TRUE(e.ok());
    size_t gotol = 0;
    for (const auto& i : e->insns) gotol += i.code == (jit::ebpf::op::kJmp32 | jit::ebpf::op::kJa);
    EXPECT_GT(gotol, 0u);
    std::string why;
    if (!can_load_bpf(&why)) {
      std::printf("SKIPPED (load part): %s\n", why.c_str());
      continue;
    }
    LoadedProg l = load_ebpf(*e);
    ASSERT_TRUE(l.ok()) << l.log;
    vm::Interpreter interp(v);
    for (uint16_t type : {uint16_t{60000}, uint16_t{20001}, uint16_t{20000}, uint16_t{0x0800}}) {
      std::vector<uint8_t> f(60, 0);
      f[12] = uint8_t(type >> 8);
      f[13] = uint8_t(type);
      auto r = test_run(l.fd, f.data(), 60);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->retval, jit::ebpf::hook_verdict(h, interp.run(f.data(), 60, 60))) << type;
    }
  }
}

}  // namespace
}  // namespace bpf::test
