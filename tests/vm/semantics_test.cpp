// vm/semantics.hpp: the rules that differ between Linux and BSD, the ancillary loads, the
// netlink attribute search, and the executable specification `evaluate()` against libpcap's
// bpf_filter on random BSD programs (the large differential run is in tests/conformance/).
#include "vm/semantics.hpp"

#include <gtest/gtest.h>

#include "tests/support/packet_gen.hpp"
#include "tests/support/pcap_ref.hpp"
#include "tests/support/program_gen.hpp"

namespace bpf::vm {
namespace {

using test::Packet;
constexpr Target kL = Target::kLinux, kB = Target::kBsd;

static_assert(*alu(AluOp::kLsh, 1, 33, kL) == 2u);
static_assert(*alu(AluOp::kLsh, 1, 33, kB) == 0u);
static_assert(*alu(AluOp::kRsh, 0x80000000u, 63, kL) == 1u);
static_assert(!alu(AluOp::kDiv, 7, 0, kL).has_value());
static_assert(!alu(AluOp::kMod, 7, 0, kB).has_value());
static_assert(*alu(AluOp::kNeg, 1, 0, kB) == 0xffffffffu);
static_assert(jump_taken(Op::kJsetK, 6, 2) && !jump_taken(Op::kJgtK, 2, 2));

TEST(Semantics, LinuxIndirectOffsetWraps) {
  const uint8_t pkt[4] = {0xde, 0xad, 0xbe, 0xef};
  Context ctx;
  // X + k = 2^32 + 1 -> offset 1 on Linux; out of range on BSD.
  EXPECT_EQ(load_ind(kL, 2, 1, 0xffffffffu, pkt, 4, ctx), Outcome::next(0xad));
  EXPECT_EQ(load_ind(kB, 2, 1, 0xffffffffu, pkt, 4, ctx), Outcome::end(0));
  EXPECT_EQ(load_ind(kL, 0, 2, 2, pkt, 4, ctx), Outcome::next(0xbeef));
  EXPECT_EQ(load_ind(kL, 1, 4, 0, pkt, 4, ctx), Outcome::end(0));
  // X + k negative -> network-header-relative when >= SKF_NET_OFF.
  ctx.net_offset = 2;
  EXPECT_EQ(load_ind(kL, kSkfNetOff, 1, 1, pkt, 4, ctx), Outcome::next(0xef));
  EXPECT_EQ(load_ind(kL, 0x80000000u, 1, 0, pkt, 4, ctx), Outcome::end(0));
}

TEST(Semantics, NegativeOffsets) {
  const uint8_t pkt[6] = {1, 2, 3, 4, 5, 6};
  Context ctx;
  ctx.net_offset = 4;
  EXPECT_EQ(load_abs(kL, kSkfNetOff + 1, 1, 0, 0, pkt, 6, ctx), Outcome::next(6));
  EXPECT_EQ(load_abs(kL, kSkfNetOff + 0, 2, 0, 0, pkt, 6, ctx), Outcome::next(0x0506));
  EXPECT_EQ(load_abs(kL, kSkfNetOff + 1, 2, 0, 0, pkt, 6, ctx), Outcome::end(0));
  EXPECT_EQ(load_abs(kL, kSkfLlOff + 2, 4, 0, 0, pkt, 6, ctx), Outcome::next(0x03040506));
  EXPECT_EQ(load_abs(kL, kSkfLlOff - 1, 1, 0, 0, pkt, 6, ctx), Outcome::end(0));
  EXPECT_EQ(load_msh(kL, kSkfNetOff, pkt, 6, ctx), Outcome::next((5 & 0xf) << 2));
  ctx.has_link_header = false;
  EXPECT_EQ(load_abs(kL, kSkfLlOff, 1, 0, 0, pkt, 6, ctx), Outcome::end(0));
  // Unknown ancillary offsets are ordinary (failing) network-relative loads.
  EXPECT_EQ(load_abs(kL, kSkfAdOff + 64, 4, 0, 0, pkt, 6, ctx), Outcome::end(0));
  // BSD: the same k are plain out-of-range loads.
  EXPECT_EQ(load_abs(kB, kSkfNetOff + 1, 1, 0, 0, pkt, 6, ctx), Outcome::end(0));
}

TEST(Semantics, Ancillary) {
  Context ctx;
  ctx.protocol = 0x86dd;
  ctx.pkttype = 0xff;
  ctx.vlan_present = true;
  EXPECT_EQ(load_abs(kL, info(Ancillary::kProtocol).k(), 1, 0, 0, nullptr, 0, ctx),
            Outcome::next(0x86dd));
  EXPECT_EQ(load_abs(kL, info(Ancillary::kPktType).k(), 4, 0, 0, nullptr, 0, ctx),
            Outcome::next(7));
  EXPECT_EQ(load_abs(kL, info(Ancillary::kVlanTagPresent).k(), 2, 0, 0, nullptr, 0, ctx),
            Outcome::next(1));
  EXPECT_EQ(load_abs(kL, info(Ancillary::kAluXorX).k(), 4, 0xf0, 0x0f, nullptr, 0, ctx),
            Outcome::next(0xff));
  ctx.has_device = false;
  EXPECT_EQ(load_abs(kL, info(Ancillary::kIfIndex).k(), 4, 77, 0, nullptr, 0, ctx),
            Outcome::end(77));
  EXPECT_EQ(load_abs(kL, info(Ancillary::kHaType).k(), 4, 78, 0, nullptr, 0, ctx),
            Outcome::end(78));
}

TEST(Semantics, NetlinkAttributes) {
  // Two attributes at offset 4: {len 8, type 1, 4 bytes}, {len 12, type 2 | NESTED, nested:
  // {len 5, type 7, 1 byte + pad}}. Little-endian host order, as on x86.
  std::vector<uint8_t> p = {0xaa, 0xbb, 0xcc, 0xdd,
                            8, 0, 1, 0, 1, 2, 3, 4,
                            12, 0, 2, 0x80, 5, 0, 7, 0, 9, 0, 0, 0};
  const uint32_t n = uint32_t(p.size());
  EXPECT_EQ(nlattr(p.data(), n, 4, 1), 4u);
  EXPECT_EQ(nlattr(p.data(), n, 4, 2), 12u);  // flag bits masked off the type
  EXPECT_EQ(nlattr(p.data(), n, 4, 7), 0u);
  EXPECT_EQ(nlattr(p.data(), n, n - 3, 1), 0u);  // A past len - 4
  EXPECT_EQ(nlattr_nest(p.data(), n, 12, 7), 16u);
  EXPECT_EQ(nlattr_nest(p.data(), n, 4, 7), 0u);
  p[12] = 200;  // nested attribute longer than the packet
  EXPECT_EQ(nlattr_nest(p.data(), n, 12, 7), 0u);
  EXPECT_EQ(nlattr(p.data(), 3, 0, 0), 0u);
}

TEST(Semantics, EvaluateMatchesLibpcapOnRandomBsdPrograms) {
  test::Rng rng(7);
  test::GenOptions o;
  o.target = kB;
  auto pkts = test::packet_mix(rng, 64);
  size_t pairs = 0, nonzero = 0;
  for (int i = 0; i < 4000; ++i) {
    auto prog = test::random_program(rng, o);
    for (const Packet& p : pkts) {
      uint32_t want = test::pcap_filter(prog, p);
      uint32_t got = evaluate(prog, kB, p.data.data(), p.caplen(), p.wirelen, Context{});
      ASSERT_EQ(got, want) << "program " << i;
      ++pairs;
      nonzero += got != 0;
    }
  }
  EXPECT_GT(nonzero, pairs / 10);  // the programs do not just drop everything
}

TEST(Semantics, RetXAndMemoryStartAtZero) {
  const Insn prog[] = {stmt(code::kLdx | code::kMem, 3), stmt(code::kRet | code::kX, 0)};
  EXPECT_EQ(evaluate(prog, kB, nullptr, 0, 0, Context{}), 0u);
  const Insn prog2[] = {stmt(code::kLdx | code::kImm, 9), stmt(code::kRet | code::kX, 0)};
  EXPECT_EQ(evaluate(prog2, kB, nullptr, 0, 0, Context{}), 9u);
}

}  // namespace
}  // namespace bpf::vm
