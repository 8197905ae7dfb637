// THE acceptance test of the Linux rule set: for >= 100,000 randomly generated and mutated
// programs, verify() accepts exactly when the running kernel's setsockopt(SO_ATTACH_FILTER) on an
// AF_PACKET socket does. Zero disagreements allowed; the counts are printed.
//
// Kernel outcomes: 0 = accepted; EINVAL = rejected (bpf_check_basics_ok, bpf_check_classic,
// check_load_and_stores, or bpf_convert_filter's jump-offset limit); ENOMEM = the program passed
// every check and conversion but its eBPF size (charged after bpf_prepare_filter(), in
// __sk_attach_prog -> sk_filter_charge) exceeds net.core.optmem_max: it is VALID, and counted as
// accepted (printed separately). Any other errno fails the test. The filter is detached after each
// successful attach so that the previous filter's charge never causes ENOMEM.
//
// Program families (deterministic seed): random programs over the whole instruction table with
// interesting constants (shift counts around 32, divisors 0, M[] indices around 16, ancillary
// offsets SKF_AD_OFF+0..68, SKF_NET_OFF/SKF_LL_OFF ranges, k >= 2^31), jumps aimed near and past
// the end, missing final ret, random 16-bit codes and bit flips, scratch-heavy programs with
// returns in the middle (check_load_and_stores quirks), and long programs near 4096 instructions
// (and above) full of packet loads and jumps (bpf_convert_filter's offset limits).
// Needs root (AF_PACKET); prints SKIPPED with the reason otherwise.
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/verifier/facts_check.hpp"
#include "verifier/verifier.hpp"
#include "vm/ancillary.hpp"
#include "vm/disasm_line.hpp"

namespace bpf::verifier {
namespace {

using vm::Insn;

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  uint32_t u(uint32_t lo, uint32_t hi) { return std::uniform_int_distribution<uint32_t>(lo, hi)(rng_); }
  bool p(double prob) { return std::bernoulli_distribution(prob)(rng_); }

  uint32_t interesting_k() {
    switch (u(0, 15)) {
      case 0: return 0;
      case 1: return u(0, 64);
      case 2: return u(28, 36);
      case 3: return u(14, 18);
      case 4: return vm::kSkfAdOff + u(0, 68);
      case 5: return vm::kSkfAdOff + 4 * u(0, 17);
      case 6: return vm::kSkfNetOff + u(0, 100);
      case 7: return vm::kSkfLlOff + u(0, 100);
      case 8: return 0x80000000u + u(0, 3);
      case 9: return 0xffffffffu - u(0, 8);
      case 10: return u(0, 0xffffffffu);
      case 11: return u(32760, 32780);
      case 12: return vm::kSkfAdOff - u(1, 8);
      case 13: return u(1500, 70000);
      default: return u(0, 1600);
    }
  }

  uint16_t code() {
    if (p(0.03)) return static_cast<uint16_t>(u(0, 0xffff));
    if (p(0.04)) return static_cast<uint16_t>(u(0, 0xff));
    const vm::OpInfo& oi = vm::kOpTable[u(0, vm::kNumOps - 1)];
    uint16_t c = oi.code;
    if (p(0.03)) c ^= static_cast<uint16_t>(1u << u(0, 7));  // unused-bit variants
    return c;
  }

  Insn insn(uint32_t i, uint32_t n) {
    Insn in;
    in.code = code();
    const uint32_t rest = n - i - 1;  // instructions after this one
    const bool near_end = p(0.2);
    auto off = [&](void) -> uint32_t {
      if (near_end) return rest + u(0, 2) >= 2 ? rest + u(0, 2) - 2 : 0;  // rest-2 .. rest
      if (rest == 0) return u(0, 2);
      return u(0, std::min<uint32_t>(rest, 20));
    };
    in.k = interesting_k();
    const uint16_t cls = in.code & 0x07;
    if (cls == vm::code::kJmp) {
      in.jt = static_cast<uint8_t>(std::min<uint32_t>(off(), 255));
      in.jf = static_cast<uint8_t>(std::min<uint32_t>(off(), 255));
      if ((in.code & 0xf0) == vm::code::kJa && p(0.8)) in.k = off();
    } else if (p(0.05)) {
      in.jt = static_cast<uint8_t>(u(0, 255));
      in.jf = static_cast<uint8_t>(u(0, 255));
    }
    if ((cls == vm::code::kSt || cls == vm::code::kStx ||
         (in.code & 0xe0) == vm::code::kMem) && p(0.85))
      in.k = u(0, 17);
    if (cls == vm::code::kAlu && p(0.5)) in.k = u(0, 40);
    return in;
  }

  Insn ret() {
    switch (u(0, 3)) {
      case 0: return vm::stmt(vm::code::kRet | vm::code::kA, 0);
      case 1: return vm::stmt(vm::code::kRet | vm::code::kK, u(0, 0xffff));
      default: return vm::stmt(vm::code::kRet | vm::code::kK, interesting_k());
    }
  }

  std::vector<Insn> random_program(uint32_t n) {
    std::vector<Insn> prog(n);
    for (uint32_t i = 0; i < n; ++i) prog[i] = insn(i, n);
    if (p(0.9)) prog[n - 1] = ret();
    for (uint32_t i = 0; i + 1 < n; ++i)
      if (p(0.05)) prog[i] = ret();
    return prog;
  }

  // Scratch-heavy: few slots, many branches and returns in the middle.
  std::vector<Insn> scratch_program(uint32_t n) {
    std::vector<Insn> prog(n);
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t rest = n - i - 1;
      const uint32_t slot = u(0, 2) + (p(0.02) ? 14 : 0);
      switch (u(0, 9)) {
        case 0: case 1: prog[i] = vm::stmt(u(0, 1) ? vm::code::kSt : vm::code::kStx, slot); break;
        case 2: case 3:
          prog[i] = vm::stmt(u(0, 1) ? (vm::code::kLd | vm::code::kMem)
                                     : (vm::code::kLdx | vm::code::kMem), slot);
          break;
        case 4: case 5:
          if (rest > 0) {
            prog[i] = vm::jump(vm::code::kJmp | vm::code::kJeq | vm::code::kK, u(0, 3),
                               static_cast<uint8_t>(u(0, std::min<uint32_t>(rest - 1, 6))),
                               static_cast<uint8_t>(u(0, std::min<uint32_t>(rest - 1, 6))));
            break;
          }
          [[fallthrough]];
        case 6:
          if (rest > 0) {
            prog[i] = vm::stmt(vm::code::kJmp | vm::code::kJa, u(0, std::min<uint32_t>(rest - 1, 6)));
            break;
          }
          [[fallthrough]];
        case 7: prog[i] = ret(); break;
        default: prog[i] = vm::stmt(vm::code::kLd | vm::code::kB | vm::code::kAbs, u(0, 20)); break;
      }
    }
    if (p(0.95)) prog[n - 1] = ret();
    return prog;
  }

  // Long programs: many packet loads (large eBPF expansions) and jumps, near 4096 instructions.
  std::vector<Insn> long_program() {
    uint32_t n = p(0.1) ? u(4090, 4100) : u(2000, 4096);
    std::vector<Insn> prog(n);
    const uint32_t k_big = p(0.5) ? u(32768, 100000) : u(1, 100);
    const double jump_rate = p(0.5) ? 0.001 : 0.02;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t rest = n - i - 1;
      if (rest > 0 && p(jump_rate)) {
        if (p(0.5)) {
          prog[i] = vm::stmt(vm::code::kJmp | vm::code::kJa, u(0, rest - 1));
        } else {
          prog[i] = vm::jump(vm::code::kJmp | vm::code::kJgt | vm::code::kK,
                             p(0.5) ? 0x80000000u : 5,
                             static_cast<uint8_t>(u(0, std::min<uint32_t>(rest - 1, 255))),
                             static_cast<uint8_t>(u(0, std::min<uint32_t>(rest - 1, 255))));
        }
      } else {
        switch (u(0, 5)) {
          case 0: prog[i] = vm::stmt(vm::code::kLd | vm::code::kW | vm::code::kAbs, k_big); break;
          case 1: prog[i] = vm::stmt(vm::code::kLd | vm::code::kH | vm::code::kInd, u(0, 3)); break;
          case 2: prog[i] = vm::stmt(vm::code::kLdx | vm::code::kB | vm::code::kMsh, k_big); break;
          case 3: prog[i] = vm::stmt(vm::code::kLd | vm::code::kImm, 1); break;
          case 4: prog[i] = vm::stmt(vm::code::kLd | vm::code::kW | vm::code::kAbs,
                                     vm::kSkfAdOff + 52); break;
          default: prog[i] = vm::stmt(vm::code::kAlu | vm::code::kDiv | vm::code::kX, 0); break;
        }
      }
    }
    prog[n - 1] = ret();
    if (p(0.05)) prog[u(0, n - 1)].code = static_cast<uint16_t>(u(0, 0xff));
    return prog;
  }

  void mutate(std::vector<Insn>& prog) {
    const uint32_t times = u(1, 3);
    for (uint32_t t = 0; t < times && !prog.empty(); ++t) {
      Insn& in = prog[u(0, static_cast<uint32_t>(prog.size()) - 1)];
      switch (u(0, 8)) {
        case 0: in.code ^= static_cast<uint16_t>(1u << u(0, 15)); break;
        case 1: in.k = interesting_k(); break;
        case 2: in.jt = static_cast<uint8_t>(u(0, 255)); break;
        case 3: in.jf = static_cast<uint8_t>(in.jf + 1); break;
        case 4: if (prog.size() > 1) prog.pop_back(); break;
        case 5: prog.push_back(insn(static_cast<uint32_t>(prog.size()),
                                    static_cast<uint32_t>(prog.size()) + 1)); break;
        case 6: in.k += 1; break;
        case 7: { size_t a = u(0, static_cast<uint32_t>(prog.size()) - 1);
                  std::swap(in, prog[a]); break; }
        default: in = ret(); break;
      }
    }
  }

 private:
  std::mt19937_64 rng_;
};

std::string dump(const std::vector<Insn>& prog) {
  std::string s;
  for (size_t i = 0; i < prog.size() && i < 40; ++i) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "  %3zu: {0x%02x,%u,%u,0x%x}  %s\n", i, prog[i].code,
                  prog[i].jt, prog[i].jf, prog[i].k,
                  vm::disasm_line(prog[i], static_cast<uint32_t>(i)).c_str());
    s += buf;
  }
  if (prog.size() > 40) s += "  ... (" + std::to_string(prog.size()) + " instructions)\n";
  return s;
}

TEST(KernelDiff, VerdictsEqualSetsockoptSoAttachFilter) {
  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) {
    GTEST_SKIP() << "SKIPPED: cannot open an AF_PACKET socket (" << std::strerror(errno)
                 << "); the kernel differential test needs root (CAP_NET_RAW)";
  }
  Gen gen(0x5eedbbfc0deULL);
  const auto start = std::chrono::steady_clock::now();
  uint64_t total = 0, accepted = 0, rejected = 0, enomem = 0, disagree = 0, unexpected = 0;
  uint64_t fam[5] = {};
  double fam_secs[5] = {};
  uint64_t facts_broken = 0;
  struct Reason { const char* name; const char* needle; };
  static constexpr std::array<Reason, 11> kReasons = {{
      {"opcode", "opcode"}, {"div/mod by 0", "by constant 0"}, {"shift >= 32", "shift by"},
      {"M[] index", "out of range (M[0]"}, {"jump range", "past the last"},
      {"ancillary", "unknown ancillary"}, {"no final ret", "last instruction must"},
      {"scratch via ret fall-through", "still flows past it"},
      {"scratch read before write", "before it is written"},
      {"eBPF conversion jump", "cannot convert this jump"}, {"length", "instructions;"}}};
  std::array<uint64_t, kReasons.size()> reason_count{}, sole_count{};
  constexpr uint64_t kPrograms = 120000;
  for (uint64_t iter = 0; iter < kPrograms; ++iter) {
    std::vector<Insn> prog;
    const uint32_t family = iter % 100 < 45 ? 0 : iter % 100 < 75 ? 1 : iter % 100 < 97 ? 2
                                                 : iter % 100 < 98 ? 3 : 4;
    switch (family) {
      case 0: prog = gen.random_program(gen.p(0.02) ? gen.u(100, 400) : gen.u(1, 24)); break;
      case 1: prog = gen.random_program(gen.u(1, 16)); gen.mutate(prog); break;
      case 2: prog = gen.scratch_program(gen.u(1, 20)); break;
      case 3: prog = gen.long_program(); break;
      default: prog = gen.random_program(gen.u(1, 4)); if (gen.p(0.3)) prog.clear(); break;
    }
    ++fam[family];
    vm::Program vp;
    vp.insns = prog;
    Result<vm::VerifiedProgram> ours = verify(vp);

    sock_fprog fprog{};
    fprog.len = static_cast<unsigned short>(prog.size());
    // len is 16 bits: programs longer than 65535 never occur here (max 4100).
    std::vector<sock_filter> raw(prog.size() + 1);
    std::memcpy(raw.data(), prog.data(), prog.size() * sizeof(Insn));
    fprog.filter = raw.data();
    const auto t0 = std::chrono::steady_clock::now();
    int r = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog);
    int err = r == 0 ? 0 : errno;
    if (r == 0) setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, nullptr, 0);
    fam_secs[family] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bool kernel_ok;
    if (err == 0) {
      kernel_ok = true;
    } else if (err == ENOMEM) {
      kernel_ok = true;
      ++enomem;
    } else if (err == EINVAL) {
      kernel_ok = false;
    } else {
      ++unexpected;
      ADD_FAILURE() << "unexpected errno " << err << " (" << std::strerror(err) << ") for\n"
                    << dump(prog);
      continue;
    }
    ++total;
    (kernel_ok ? accepted : rejected)++;
    if (!ours.ok()) {
      // Classify each error; count programs per reason, and programs rejected for that reason
      // alone (so every rule is shown to matter on its own against the kernel).
      uint32_t seen = 0;
      for (const Diagnostic& d : ours.diagnostics().items()) {
        if (d.severity != Severity::kError) continue;
        for (size_t r = 0; r < kReasons.size(); ++r)
          if (d.message.find(kReasons[r].needle) != std::string::npos) {
            seen |= 1u << r;
            break;
          }
      }
      for (size_t r = 0; r < kReasons.size(); ++r)
        if (seen & (1u << r)) {
          ++reason_count[r];
          if (seen == (1u << r)) ++sole_count[r];
        }
    }
    if (ours.ok()) {
      const std::string broken = testing::check_facts(*ours);
      if (!broken.empty() && ++facts_broken <= 5)
        ADD_FAILURE() << "facts: " << broken << "\n" << dump(prog);
    }
    if (kernel_ok != ours.ok()) {
      ++disagree;
      if (disagree <= 10)
        ADD_FAILURE() << "kernel " << (kernel_ok ? "accepts" : "rejects") << ", verifier "
                      << (ours.ok() ? "accepts" : "rejects") << " (family " << family << ")\n"
                      << dump(prog) << ours.diagnostics().render("<prog>");
    }
  }
  close(fd);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("kernel differential: total %llu, accepted %llu (of which ENOMEM/optmem %llu), "
              "rejected %llu, disagreements %llu, unexpected errno %llu, %.1f s\n"
              "  families: random %llu, mutated %llu, scratch %llu, long %llu, tiny/empty %llu\n",
              (unsigned long long)total, (unsigned long long)accepted,
              (unsigned long long)enomem, (unsigned long long)rejected,
              (unsigned long long)disagree, (unsigned long long)unexpected, secs,
              (unsigned long long)fam[0], (unsigned long long)fam[1], (unsigned long long)fam[2],
              (unsigned long long)fam[3], (unsigned long long)fam[4]);
  std::printf("  kernel time per family (s): %.1f %.1f %.1f %.1f %.1f\n", fam_secs[0], fam_secs[1],
              fam_secs[2], fam_secs[3], fam_secs[4]);
  std::printf("  programs rejected (by the verifier) per reason:");
  for (size_t r = 0; r < kReasons.size(); ++r)
    std::printf("%s %s %llu (alone %llu)", r ? "," : "", kReasons[r].name,
                (unsigned long long)reason_count[r], (unsigned long long)sole_count[r]);
  std::printf("\n");
  for (size_t r = 0; r < kReasons.size(); ++r)
    EXPECT_GT(sole_count[r], 0u) << "no program rejected for this reason alone: "
                                 << kReasons[r].name;
  EXPECT_EQ(facts_broken, 0u);
  EXPECT_EQ(disagree, 0u);
  EXPECT_EQ(unexpected, 0u);
  EXPECT_GE(total, 100000u);
  // The families must exercise both outcomes substantially, or the test proves little.
  EXPECT_GT(accepted, total / 10);
  EXPECT_GT(rejected, total / 10);
}


// Exact boundaries of bpf_convert_filter()'s 16-bit jump offsets, for every jump shape the
// conversion emits (ja; jxx with jf == 0; jeq/jgt/jge with jt == 0 (inverted); jset and other
// two-instruction forms; a negative K that needs a mov first): a jump placed at eBPF index
// 32760..32775 (first-pass limit), and a ja spanning 32760..32775 eBPF instructions (second pass).
TEST(KernelDiff, ConversionJumpOffsetBoundaries) {
  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) {
    GTEST_SKIP() << "SKIPPED: cannot open an AF_PACKET socket (" << std::strerror(errno)
                 << "); the kernel differential test needs root (CAP_NET_RAW)";
  }
  const Insn big = vm::stmt(vm::code::kLd | vm::code::kW | vm::code::kAbs, 100000);  // 16 eBPF
  const Insn one = vm::stmt(vm::code::kLd | vm::code::kImm, 1);                      // 1 eBPF
  // Filler so that the next instruction starts at eBPF index `at` (prologue 7 with ld_abs).
  auto fill = [&](std::vector<Insn>& p, uint32_t from, uint32_t at) {
    uint32_t left = at - from;
    while (left >= 16 && p.size() < 4000) { p.push_back(big); left -= 16; }
    while (left > 0) { p.push_back(one); --left; }
  };
  const std::vector<Insn> shapes = {
      vm::stmt(vm::code::kJmp | vm::code::kJa, 0),
      vm::jump(vm::code::kJmp | vm::code::kJeq | vm::code::kK, 1, 1, 0),
      vm::jump(vm::code::kJmp | vm::code::kJgt | vm::code::kK, 1, 0, 1),
      vm::jump(vm::code::kJmp | vm::code::kJset | vm::code::kK, 1, 0, 1),
      vm::jump(vm::code::kJmp | vm::code::kJge | vm::code::kK, 0x80000000u, 1, 1),
  };
  uint64_t total = 0, accepted = 0, disagree = 0;
  auto attach = [&](const std::vector<Insn>& prog) {
    sock_fprog fprog{static_cast<unsigned short>(prog.size()),
                     reinterpret_cast<sock_filter*>(const_cast<Insn*>(prog.data()))};
    int r = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog);
    int err = r == 0 ? 0 : errno;
    if (r == 0) setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, nullptr, 0);
    EXPECT_TRUE(err == 0 || err == EINVAL || err == ENOMEM) << std::strerror(err);
    return err != EINVAL;
  };
  auto compare = [&](const std::vector<Insn>& prog) {
    vm::Program vp;
    vp.insns = prog;
    const bool ours = verify(vp).ok();
    const bool kernel = attach(prog);
    if (std::getenv("BPFC_VERBOSE_BOUNDARIES")) std::printf("%d", kernel ? 1 : 0);
    ++total;
    accepted += kernel;
    if (ours != kernel && ++disagree <= 5)
      ADD_FAILURE() << "kernel " << kernel << " verifier " << ours << "\n" << dump(prog)
                    << verify(vp).diagnostics().render("<prog>");
  };
  for (const Insn& shape : shapes) {
    for (uint32_t at = 32760; at <= 32775; ++at) {  // first pass: where the jump sits
      std::vector<Insn> p = {big};
      fill(p, 7 + 16, at);
      p.push_back(shape);
      p.push_back(vm::stmt(vm::code::kRet | vm::code::kK, 1));
      p.push_back(vm::stmt(vm::code::kRet | vm::code::kK, 0));
      p.push_back(vm::stmt(vm::code::kRet | vm::code::kK, 0));
      compare(p);
    }
  }
  for (uint32_t span = 32760; span <= 32775; ++span) {  // second pass: how far a ja reaches
    std::vector<Insn> p = {vm::stmt(vm::code::kJmp | vm::code::kJa, 0), big};
    // ja at eBPF 7; the target must land at 7 + 1 + span.
    fill(p, 8 + 16, 8 + span);
    p[0].k = static_cast<uint32_t>(p.size() - 1);
    p.push_back(vm::stmt(vm::code::kRet | vm::code::kA, 0));
    compare(p);
  }
  close(fd);
  std::printf("conversion boundaries: %llu programs, %llu accepted, %llu disagreements\n",
              (unsigned long long)total, (unsigned long long)accepted,
              (unsigned long long)disagree);
  EXPECT_EQ(disagree, 0u);
  EXPECT_GT(accepted, 0u);
  EXPECT_LT(accepted, total);
}

}  // namespace
}  // namespace bpf::verifier
