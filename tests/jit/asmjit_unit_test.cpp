// asmjit engine, targeted cases: each checks the JIT against vm::evaluate (the executable
// specification) and the interpreter, under every code-generator option, and states the value
// the semantics require where it is a known quirk.
//   - division/modulo by constants (the multiply-by-reciprocal path) over edge values;
//   - shifts by X >= 32 (Linux masks, BSD gives 0), by constants;
//   - [x + k] wrap-around on Linux (offset (int)(X + k)), no wrap on BSD;
//   - SKF_NET_OFF / SKF_LL_OFF, every ancillary load, ifindex/hatype without a device;
//   - snapped packets (caplen < wirelen) around every block-check boundary, and a failing
//     block check after an ifindex load that ends the program with A (no device);
//   - scratch slots read before written (BSD), a 4096-instruction program, long jumps.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "jit/asmjit/asmjit_jit.hpp"
#include "tests/support/packet_gen.hpp"
#include "verifier/verifier.hpp"
#include "vm/ancillary.hpp"
#include "vm/interpreter.hpp"
#include "vm/semantics.hpp"

namespace bpf::jit {
namespace {

using vm::Insn;
using vm::Target;
namespace c = vm::code;

constexpr Insn S(uint16_t code, uint32_t k) { return vm::stmt(code, k); }
constexpr Insn J(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return vm::jump(code, k, jt, jf);
}
constexpr uint16_t kLdImm = c::kLd | c::kImm, kLdxImm = c::kLdx | c::kImm,
                   kRetA = c::kRet | c::kA, kRetK = c::kRet | c::kK;

struct Compiled {
  std::vector<Insn> insns;
  Target target;
  std::vector<NativeCode> codes;  // one per option combination
  std::vector<vm::Interpreter> interp;
};

Compiled compile_all(std::vector<Insn> insns, Target t) {
  Compiled out{insns, t, {}, {}};
  vm::Program prog;
  prog.insns = std::move(insns);
  verifier::Options vo;
  vo.target = t;
  auto v = verifier::verify(prog, vo);
  EXPECT_TRUE(v.ok()) << v.diagnostics().render("<test>");
  if (!v.ok()) return out;
  for (int o = 0; o < 4; ++o) {
    AsmjitOptions opts;
    opts.dual_version = o & 1;
    opts.use_cpu_extensions = o & 2;
    auto code = compile_asmjit(*v, opts);
    EXPECT_TRUE(code.ok()) << code.diagnostics().render("<test>");
    if (code.ok()) out.codes.push_back(code.take());
  }
  out.interp.emplace_back(*v);
  return out;
}

// Runs every compiled variant; expects them to agree with evaluate() and the interpreter, and
// returns the common value.
uint32_t run(const Compiled& p, const uint8_t* pkt, uint32_t caplen, uint32_t wirelen,
             const vm::Context& ctx = {}) {
  const uint32_t spec = vm::evaluate(p.insns, p.target, pkt, caplen, wirelen, ctx);
  EXPECT_EQ(p.interp.at(0).run(pkt, caplen, wirelen, ctx), spec);
  for (const NativeCode& code : p.codes)
    EXPECT_EQ(code.fn()(pkt, caplen, wirelen, &ctx), spec) << "caplen " << caplen;
  return spec;
}

TEST(AsmjitUnit, DivisionAndModuloByConstants) {
  const uint32_t divisors[] = {1, 2, 3, 5, 7, 10, 12, 641, 1000, 0x7fffffff, 0x80000000,
                               0x80000001, 0xfffffffe, 0xffffffff, 6700417};
  const uint32_t values[] = {0, 1, 2, 3, 9, 99, 1000, 0x7fffffff, 0x80000000, 0xfffffffe,
                             0xffffffff, 123456789};
  uint8_t pkt[4];
  for (Target t : {Target::kLinux, Target::kBsd}) {
    for (uint32_t d : divisors) {
      // A from the packet, so nothing can be folded: ld [0]; div #d; ret a
      Compiled div = compile_all({S(c::kLd | c::kW | c::kAbs, 0), S(c::kAlu | c::kDiv, d),
                                  S(kRetA, 0)}, t);
      Compiled mod = compile_all({S(c::kLd | c::kW | c::kAbs, 0), S(c::kAlu | c::kMod, d),
                                  S(kRetA, 0)}, t);
      for (uint32_t a : values) {
        pkt[0] = uint8_t(a >> 24), pkt[1] = uint8_t(a >> 16), pkt[2] = uint8_t(a >> 8),
        pkt[3] = uint8_t(a);
        EXPECT_EQ(run(div, pkt, 4, 4), a / d) << a << " / " << d;
        EXPECT_EQ(run(mod, pkt, 4, 4), a % d) << a << " % " << d;
      }
    }
  }
  // Division by X == 0 ends with 0; by X != 0 divides.
  Compiled divx = compile_all({S(c::kLd | c::kB | c::kAbs, 4), S(c::kMisc | c::kTax, 0),
                               S(c::kLd | c::kW | c::kAbs, 0), S(c::kAlu | c::kDiv | c::kX, 0),
                               S(kRetA, 0)}, Target::kLinux);
  const uint8_t p0[5] = {0, 0, 0, 100, 0}, p7[5] = {0, 0, 0, 100, 7};
  EXPECT_EQ(run(divx, p0, 5, 5), 0u);
  EXPECT_EQ(run(divx, p7, 5, 5), 14u);
}

TEST(AsmjitUnit, ShiftsByXAndK) {
  uint8_t pkt[1];
  for (Target t : {Target::kLinux, Target::kBsd}) {
    Compiled lsh = compile_all({S(c::kLd | c::kB | c::kAbs, 0), S(c::kMisc | c::kTax, 0),
                                S(kLdImm, 0x80000001u), S(c::kAlu | c::kLsh | c::kX, 0),
                                S(kRetA, 0)}, t);
    Compiled rsh = compile_all({S(c::kLd | c::kB | c::kAbs, 0), S(c::kMisc | c::kTax, 0),
                                S(kLdImm, 0x80000001u), S(c::kAlu | c::kRsh | c::kX, 0),
                                S(kRetA, 0)}, t);
    for (uint32_t x : {0u, 1u, 31u, 32u, 33u, 63u, 64u, 255u}) {
      pkt[0] = uint8_t(x);
      const uint32_t l = run(lsh, pkt, 1, 1), r = run(rsh, pkt, 1, 1);
      if (t == Target::kLinux) {
        EXPECT_EQ(l, 0x80000001u << (x & 31));
        EXPECT_EQ(r, 0x80000001u >> (x & 31));
      } else {
        EXPECT_EQ(l, x < 32 ? 0x80000001u << x : 0u);
        EXPECT_EQ(r, x < 32 ? 0x80000001u >> x : 0u);
      }
    }
  }
  for (uint32_t k : {0u, 1u, 5u, 31u}) {
    Compiled p = compile_all({S(kLdImm, 0xdeadbeef), S(c::kAlu | c::kLsh, k), S(kRetA, 0)},
                             Target::kLinux);
    EXPECT_EQ(run(p, nullptr, 0, 0), 0xdeadbeefu << k);
  }
}

TEST(AsmjitUnit, IndirectLoadsWrapOnLinuxOnly) {
  const uint8_t pkt[8] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4};
  for (Target t : {Target::kLinux, Target::kBsd}) {
    for (uint32_t x : {0u, 1u, 4u, 0xffffffffu, 0xfffffffcu, 0x80000000u, 0x7ffffffeu}) {
      for (uint32_t k : {0u, 2u, 4u, 6u, 0x7fffffffu, 0x80000000u, 0xfffffffdu, 0xffffffffu,
                         vm::kSkfNetOff, vm::kSkfLlOff + 1}) {
        for (uint16_t size : {c::kW, c::kH, c::kB}) {
          Compiled p = compile_all({S(kLdxImm, x), S(c::kLd | size | c::kInd, k), S(kRetA, 0)},
                                   t);
          vm::Context ctx;
          ctx.net_offset = 2;
          run(p, pkt, 8, 8, ctx);
          run(p, pkt, 5, 9, ctx);
        }
      }
    }
  }
  // The documented case: X + k = 2^32 + 1 reads byte 1 on Linux, fails on BSD.
  Compiled l = compile_all({S(kLdxImm, 0xffffffffu), S(c::kLd | c::kB | c::kInd, 2), S(kRetA, 0)},
                           Target::kLinux);
  Compiled b = compile_all({S(kLdxImm, 0xffffffffu), S(c::kLd | c::kB | c::kInd, 2), S(kRetA, 0)},
                           Target::kBsd);
  EXPECT_EQ(run(l, pkt, 8, 8), 0xadu);
  EXPECT_EQ(run(b, pkt, 8, 8), 0u);
}

TEST(AsmjitUnit, NegativeOffsetsAndAncillary) {
  const uint8_t pkt[20] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
  test::Rng rng(3);
  for (uint16_t size : {c::kW, c::kH, c::kB}) {
    for (uint32_t k : {vm::kSkfNetOff, vm::kSkfNetOff + 3, vm::kSkfNetOff + 18, vm::kSkfLlOff,
                       vm::kSkfLlOff + 17, vm::kSkfLlOff - 1, 0x80000000u}) {
      Compiled p = compile_all({S(c::kLd | size | c::kAbs, k), S(kRetA, 0)}, Target::kLinux);
      for (int i = 0; i < 8; ++i) {
        vm::Context ctx = test::random_context(rng);
        ctx.net_offset = uint32_t(i * 3);
        ctx.has_link_header = i & 1;
        run(p, pkt, 20, 20, ctx);
        run(p, pkt, 15, 20, ctx);
      }
    }
    // ldxb 4*([k]&0xf) with a negative offset: a plain byte load on Linux.
    Compiled msh = compile_all({S(c::kLdx | c::kB | c::kMsh, vm::kSkfNetOff + 1),
                                S(c::kMisc | c::kTxa, 0), S(kRetA, 0)}, Target::kLinux);
    vm::Context ctx;
    ctx.net_offset = 14;
    EXPECT_EQ(run(msh, pkt, 20, 20, ctx), (15u & 0xf) << 2);
  }
  for (const vm::AncillaryInfo& a : vm::kAncillaryTable) {
    for (uint16_t size : {c::kW, c::kH, c::kB}) {
      // A = 7 and X = 2 first, so alu_xor_x, nla and "exit with A" have something to show.
      Compiled p = compile_all({S(kLdImm, 7), S(kLdxImm, 2), S(c::kLd | size | c::kAbs, a.k()),
                                S(kRetA, 0)}, Target::kLinux);
      for (int i = 0; i < 16; ++i) {
        vm::Context ctx = test::random_context(rng);
        ctx.has_device = i % 3 != 0;
        const uint32_t got = run(p, pkt, 20, 20, ctx);
        if (a.id == vm::Ancillary::kIfIndex && !ctx.has_device) {
          EXPECT_EQ(got, 7u);
        }
        if (a.id == vm::Ancillary::kAluXorX) {
          EXPECT_EQ(got, 7u ^ 2u);
        }
        if (a.id == vm::Ancillary::kMark) {
          EXPECT_EQ(got, ctx.mark);
        }
      }
    }
  }
}

TEST(AsmjitUnit, SnappedPacketsAroundBlockChecks) {
  // Three blocks reading up to 14, 24 and 34 bytes; the last block is reached on two paths.
  Compiled p = compile_all(
      {S(c::kLd | c::kH | c::kAbs, 12), J(c::kJmp | c::kJeq, 0x800, 0, 2),
       S(c::kLd | c::kB | c::kAbs, 23), J(c::kJmp | c::kJeq, 6, 1, 0),
       S(c::kLd | c::kW | c::kAbs, 30), S(c::kLd | c::kH | c::kAbs, 20), S(c::kLd | c::kLen, 0),
       S(kRetA, 0)},
      Target::kBsd);
  std::vector<uint8_t> pkt(64, 0);
  pkt[12] = 8;
  pkt[23] = 6;
  for (uint32_t cap = 0; cap <= 40; ++cap) {
    run(p, pkt.data(), cap, 60);
    pkt[23] = 7;
    run(p, pkt.data(), cap, 60);
    pkt[23] = 6;
  }
  EXPECT_EQ(run(p, pkt.data(), 40, 60), 60u);
  EXPECT_EQ(run(p, pkt.data(), 21, 60), 0u);
}

TEST(AsmjitUnit, IfindexWithoutDeviceEndsBeforeALaterFailingLoad) {
  // ld #38; ld ifindex; ldh [124]; ret a -- without a device the program returns 38 even when
  // the later load would fail: the block check must not fire before the ifindex load.
  Compiled p = compile_all({S(kLdImm, 38), S(c::kLd | c::kW | c::kAbs, vm::kSkfAdOff + 8),
                            S(c::kLd | c::kH | c::kAbs, 124), S(kRetA, 0)}, Target::kLinux);
  std::vector<uint8_t> pkt(200, 0x11);
  vm::Context ctx;
  ctx.has_device = false;
  EXPECT_EQ(run(p, pkt.data(), 39, 74, ctx), 38u);
  EXPECT_EQ(run(p, pkt.data(), 126, 126, ctx), 38u);
  ctx.has_device = true;
  EXPECT_EQ(run(p, pkt.data(), 39, 74, ctx), 0u);
  EXPECT_EQ(run(p, pkt.data(), 126, 126, ctx), 0x1111u);
}

TEST(AsmjitUnit, UninitialisedScratchOnBsdReadsZero) {
  Compiled p = compile_all({S(c::kLd | c::kMem, 5), S(c::kLdx | c::kMem, 15),
                            S(c::kAlu | c::kAdd | c::kX, 0), S(c::kAlu | c::kAdd, 1),
                            S(kRetA, 0)}, Target::kBsd);
  EXPECT_EQ(run(p, nullptr, 0, 0), 1u);
}

TEST(AsmjitUnit, LongProgramWithLongJumps) {
  // 4096 instructions: a chain of jumps that skip 255 instructions and long `ja`s.
  std::vector<Insn> insns;
  insns.push_back(S(c::kLd | c::kW | c::kAbs, 0));
  while (insns.size() < 4000) {
    insns.push_back(J(c::kJmp | c::kJgt, uint32_t(insns.size()) * 1000, 255, 0));
    for (int i = 0; i < 255 && insns.size() < 4000; ++i)
      insns.push_back(S(c::kAlu | c::kAdd, 1));
  }
  insns.push_back(S(c::kJmp | c::kJa, 0));
  while (insns.size() < 4095) insns.push_back(S(c::kAlu | c::kXor, uint32_t(insns.size())));
  insns.push_back(S(kRetA, 0));
  // Fix jumps that would leave the program: point them at the final ret.
  for (size_t i = 0; i < insns.size(); ++i)
    if (insns[i].code == (c::kJmp | c::kJgt) && i + 1 + insns[i].jt >= insns.size())
      insns[i].jt = uint8_t(insns.size() - 2 - i);
  Compiled p = compile_all(insns, Target::kLinux);
  ASSERT_EQ(p.codes.size(), 4u);
  uint8_t pkt[4] = {0, 0, 0, 0};
  for (uint32_t a : {0u, 1000u, 100000u, 3999999u, 0xffffffffu}) {
    pkt[0] = uint8_t(a >> 24), pkt[1] = uint8_t(a >> 16), pkt[2] = uint8_t(a >> 8),
    pkt[3] = uint8_t(a);
    run(p, pkt, 4, 4);
  }
}

}  // namespace
}  // namespace bpf::jit
