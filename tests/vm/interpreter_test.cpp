// vm::Interpreter specifics that the conformance and differential suites do not show: bounds
// checks are merged (fewer checks than loads), superinstructions are formed, no allocation
// happens per packet, and an Interpreter keeps working after being moved.
#include "vm/interpreter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "tests/support/packet_gen.hpp"
#include "tests/support/pcap_ref.hpp"
#include "verifier/verifier.hpp"

namespace {
std::atomic<size_t> g_allocations{0};
}  // namespace

// Count every allocation in this test binary.
void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace bpf::vm {
namespace {

VerifiedProgram verified(const std::string& expr, Target t = Target::kBsd) {
  auto insns = test::pcap_compile_expr(expr);
  EXPECT_TRUE(insns) << expr;
  Program p;
  p.insns = *insns;
  verifier::Options o;
  o.target = t;
  auto r = verifier::verify(p, o);
  EXPECT_TRUE(r) << r.diagnostics().render(expr);
  return r.take();
}

size_t absolute_loads(const VerifiedProgram& vp) {
  size_t n = 0;
  for (const auto& d : vp.decoded())
    n += d.op == Op::kLdW || d.op == Op::kLdH || d.op == Op::kLdB || d.op == Op::kLdxMsh;
  return n;
}

TEST(Interpreter, BoundsChecksAreMergedPerBlock) {
  for (const char* expr : {"ip", "tcp port 22", "host 10.0.0.1 and udp", "net 192.168.0.0/16"}) {
    VerifiedProgram vp = verified(expr);
    Interpreter in(vp);
    size_t loads = absolute_loads(vp);
    EXPECT_LE(in.block_checks(), loads) << expr;
    EXPECT_GE(in.block_checks(), 1u) << expr;
    // Where a block or its dominators hold several loads, one check covers them.
    if (std::string(expr) == "tcp port 22" || std::string(expr) == "host 10.0.0.1 and udp") {
      EXPECT_LT(in.block_checks(), loads) << expr;
    }
    // [k] loads never need their own check: the verifier's facts cover them all.
    size_t ind = 0;
    for (const auto& d : vp.decoded())
      ind += d.op == Op::kLdWInd || d.op == Op::kLdHInd || d.op == Op::kLdBInd;
    EXPECT_EQ(in.checked_loads(), ind) << expr;
  }
}

TEST(Interpreter, SuperinstructionsFormed) {
  VerifiedProgram vp = verified("tcp port 80 or net 10.0.0.0/8");
  Interpreter in(vp);
  EXPECT_GE(in.fused(), 4u);
}

TEST(Interpreter, NoAllocationPerPacket) {
  VerifiedProgram vp = verified("tcp port 22 or udp port 53", Target::kLinux);
  Interpreter in(vp);
  test::Rng rng(9);
  auto pkts = test::packet_mix(rng, 500);
  std::vector<PacketRef> views;
  for (const auto& p : pkts) views.push_back({p.data.data(), p.caplen(), p.wirelen});
  std::vector<uint32_t> out(views.size());
  Context ctx = test::random_context(rng);
  size_t before = g_allocations.load();
  in.run_batch(views, out.data(), ctx);
  uint32_t sum = 0;
  for (const auto& v : views) sum += in.run(v.data, v.caplen, v.wirelen, ctx);
  EXPECT_EQ(g_allocations.load(), before);
  uint32_t batch_sum = 0;
  for (uint32_t v : out) batch_sum += v;
  EXPECT_EQ(sum, batch_sum);
}

TEST(Interpreter, WorksAfterMove) {
  VerifiedProgram vp = verified("ip");
  Interpreter a(vp);
  Interpreter b(std::move(a));
  const uint8_t frame[14] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00};
  EXPECT_EQ(b.run(frame, 14, 14), 262144u);
  const uint8_t arp[14] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x06};
  EXPECT_EQ(b.run(arp, 14, 14), 0u);
  EXPECT_EQ(b.run(frame, 13, 14), 0u);  // snapped before the ethertype
}

}  // namespace
}  // namespace bpf::vm
