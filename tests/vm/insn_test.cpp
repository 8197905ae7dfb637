// The instruction table against the kernel's own definitions: layout of Insn vs struct
// sock_filter, every opcode row vs the BPF_* macros of <linux/filter.h>, every ancillary offset
// vs SKF_AD_*. Only tests and capture/ may include <linux/filter.h>.
#include <linux/filter.h>

#include <cstddef>
#include <set>

#include <gtest/gtest.h>

#include "vm/ancillary.hpp"
#include "vm/insn.hpp"

namespace bpf::vm {
namespace {

static_assert(sizeof(Insn) == sizeof(struct sock_filter));
static_assert(offsetof(Insn, code) == offsetof(struct sock_filter, code));
static_assert(offsetof(Insn, jt) == offsetof(struct sock_filter, jt));
static_assert(offsetof(Insn, jf) == offsetof(struct sock_filter, jf));
static_assert(offsetof(Insn, k) == offsetof(struct sock_filter, k));
static_assert(kMaxInsns == BPF_MAXINSNS);
static_assert(kMemWords == BPF_MEMWORDS);

TEST(InsnTable, CodesMatchLinuxMacros) {
  EXPECT_EQ(info(Op::kLdW).code, BPF_LD | BPF_W | BPF_ABS);
  EXPECT_EQ(info(Op::kLdH).code, BPF_LD | BPF_H | BPF_ABS);
  EXPECT_EQ(info(Op::kLdB).code, BPF_LD | BPF_B | BPF_ABS);
  EXPECT_EQ(info(Op::kLdWInd).code, BPF_LD | BPF_W | BPF_IND);
  EXPECT_EQ(info(Op::kLdHInd).code, BPF_LD | BPF_H | BPF_IND);
  EXPECT_EQ(info(Op::kLdBInd).code, BPF_LD | BPF_B | BPF_IND);
  EXPECT_EQ(info(Op::kLdLen).code, BPF_LD | BPF_W | BPF_LEN);
  EXPECT_EQ(info(Op::kLdImm).code, BPF_LD | BPF_IMM);
  EXPECT_EQ(info(Op::kLdMem).code, BPF_LD | BPF_MEM);
  EXPECT_EQ(info(Op::kLdxLen).code, BPF_LDX | BPF_W | BPF_LEN);
  EXPECT_EQ(info(Op::kLdxMsh).code, BPF_LDX | BPF_B | BPF_MSH);
  EXPECT_EQ(info(Op::kLdxImm).code, BPF_LDX | BPF_IMM);
  EXPECT_EQ(info(Op::kLdxMem).code, BPF_LDX | BPF_MEM);
  EXPECT_EQ(info(Op::kSt).code, BPF_ST);
  EXPECT_EQ(info(Op::kStx).code, BPF_STX);
  EXPECT_EQ(info(Op::kAddK).code, BPF_ALU | BPF_ADD | BPF_K);
  EXPECT_EQ(info(Op::kAddX).code, BPF_ALU | BPF_ADD | BPF_X);
  EXPECT_EQ(info(Op::kSubK).code, BPF_ALU | BPF_SUB | BPF_K);
  EXPECT_EQ(info(Op::kSubX).code, BPF_ALU | BPF_SUB | BPF_X);
  EXPECT_EQ(info(Op::kMulK).code, BPF_ALU | BPF_MUL | BPF_K);
  EXPECT_EQ(info(Op::kMulX).code, BPF_ALU | BPF_MUL | BPF_X);
  EXPECT_EQ(info(Op::kDivK).code, BPF_ALU | BPF_DIV | BPF_K);
  EXPECT_EQ(info(Op::kDivX).code, BPF_ALU | BPF_DIV | BPF_X);
  EXPECT_EQ(info(Op::kModK).code, BPF_ALU | BPF_MOD | BPF_K);
  EXPECT_EQ(info(Op::kModX).code, BPF_ALU | BPF_MOD | BPF_X);
  EXPECT_EQ(info(Op::kAndK).code, BPF_ALU | BPF_AND | BPF_K);
  EXPECT_EQ(info(Op::kAndX).code, BPF_ALU | BPF_AND | BPF_X);
  EXPECT_EQ(info(Op::kOrK).code, BPF_ALU | BPF_OR | BPF_K);
  EXPECT_EQ(info(Op::kOrX).code, BPF_ALU | BPF_OR | BPF_X);
  EXPECT_EQ(info(Op::kXorK).code, BPF_ALU | BPF_XOR | BPF_K);
  EXPECT_EQ(info(Op::kXorX).code, BPF_ALU | BPF_XOR | BPF_X);
  EXPECT_EQ(info(Op::kLshK).code, BPF_ALU | BPF_LSH | BPF_K);
  EXPECT_EQ(info(Op::kLshX).code, BPF_ALU | BPF_LSH | BPF_X);
  EXPECT_EQ(info(Op::kRshK).code, BPF_ALU | BPF_RSH | BPF_K);
  EXPECT_EQ(info(Op::kRshX).code, BPF_ALU | BPF_RSH | BPF_X);
  EXPECT_EQ(info(Op::kNeg).code, BPF_ALU | BPF_NEG);
  EXPECT_EQ(info(Op::kJa).code, BPF_JMP | BPF_JA);
  EXPECT_EQ(info(Op::kJeqK).code, BPF_JMP | BPF_JEQ | BPF_K);
  EXPECT_EQ(info(Op::kJeqX).code, BPF_JMP | BPF_JEQ | BPF_X);
  EXPECT_EQ(info(Op::kJgtK).code, BPF_JMP | BPF_JGT | BPF_K);
  EXPECT_EQ(info(Op::kJgtX).code, BPF_JMP | BPF_JGT | BPF_X);
  EXPECT_EQ(info(Op::kJgeK).code, BPF_JMP | BPF_JGE | BPF_K);
  EXPECT_EQ(info(Op::kJgeX).code, BPF_JMP | BPF_JGE | BPF_X);
  EXPECT_EQ(info(Op::kJsetK).code, BPF_JMP | BPF_JSET | BPF_K);
  EXPECT_EQ(info(Op::kJsetX).code, BPF_JMP | BPF_JSET | BPF_X);
  EXPECT_EQ(info(Op::kRetK).code, BPF_RET | BPF_K);
  EXPECT_EQ(info(Op::kRetA).code, BPF_RET | BPF_A);
  EXPECT_EQ(info(Op::kRetX).code, BPF_RET | BPF_X);
  EXPECT_EQ(info(Op::kTax).code, BPF_MISC | BPF_TAX);
  EXPECT_EQ(info(Op::kTxa).code, BPF_MISC | BPF_TXA);
}

TEST(InsnTable, RowsAreIndexedByEnumAndCodesAreUnique) {
  std::set<uint16_t> codes;
  for (size_t i = 0; i < kNumOps; ++i) {
    EXPECT_EQ(static_cast<size_t>(kOpTable[i].op), i);
    EXPECT_TRUE(codes.insert(kOpTable[i].code).second) << kOpTable[i].mnemonic;
    EXPECT_EQ(decode(kOpTable[i].code), kOpTable[i].op);
  }
  EXPECT_EQ(kNumOps, 50u);  // 49 Linux opcodes + BSD's ret x
}

TEST(InsnTable, DecodeRejectsUnknownCodes) {
  size_t known = 0;
  for (uint32_t c = 0; c < 0x10000; ++c) known += decode(static_cast<uint16_t>(c)).has_value();
  EXPECT_EQ(known, kNumOps);
  EXPECT_FALSE(decode(0xffff).has_value());
  EXPECT_FALSE(decode(BPF_LD | BPF_W | BPF_MSH).has_value());
}

TEST(InsnTable, LoadSizes) {
  for (const OpInfo& i : kOpTable) {
    if (i.operand == Operand::kAbs || i.operand == Operand::kInd || i.operand == Operand::kMsh) {
      EXPECT_TRUE(i.has(eff::kReadPkt));
      uint16_t sz = code::size(i.code);
      EXPECT_EQ(i.load_size, sz == code::kW ? 4 : sz == code::kH ? 2 : 1) << i.mnemonic;
    } else {
      EXPECT_EQ(i.load_size, 0) << i.mnemonic;
    }
  }
}

TEST(Ancillary, OffsetsMatchLinux) {
  EXPECT_EQ(kSkfAdOff, static_cast<uint32_t>(SKF_AD_OFF));
  EXPECT_EQ(kSkfNetOff, static_cast<uint32_t>(SKF_NET_OFF));
  EXPECT_EQ(kSkfLlOff, static_cast<uint32_t>(SKF_LL_OFF));
  EXPECT_EQ(info(Ancillary::kProtocol).offset, SKF_AD_PROTOCOL);
  EXPECT_EQ(info(Ancillary::kPktType).offset, SKF_AD_PKTTYPE);
  EXPECT_EQ(info(Ancillary::kIfIndex).offset, SKF_AD_IFINDEX);
  EXPECT_EQ(info(Ancillary::kNlAttr).offset, SKF_AD_NLATTR);
  EXPECT_EQ(info(Ancillary::kNlAttrNest).offset, SKF_AD_NLATTR_NEST);
  EXPECT_EQ(info(Ancillary::kMark).offset, SKF_AD_MARK);
  EXPECT_EQ(info(Ancillary::kQueue).offset, SKF_AD_QUEUE);
  EXPECT_EQ(info(Ancillary::kHaType).offset, SKF_AD_HATYPE);
  EXPECT_EQ(info(Ancillary::kRxHash).offset, SKF_AD_RXHASH);
  EXPECT_EQ(info(Ancillary::kCpu).offset, SKF_AD_CPU);
  EXPECT_EQ(info(Ancillary::kAluXorX).offset, SKF_AD_ALU_XOR_X);
  EXPECT_EQ(info(Ancillary::kVlanTag).offset, SKF_AD_VLAN_TAG);
  EXPECT_EQ(info(Ancillary::kVlanTagPresent).offset, SKF_AD_VLAN_TAG_PRESENT);
  EXPECT_EQ(info(Ancillary::kPayOffset).offset, SKF_AD_PAY_OFFSET);
  EXPECT_EQ(info(Ancillary::kRandom).offset, SKF_AD_RANDOM);
  EXPECT_EQ(info(Ancillary::kVlanTpid).offset, SKF_AD_VLAN_TPID);
  EXPECT_EQ(kSkfAdMax, static_cast<uint32_t>(SKF_AD_MAX));
  EXPECT_EQ(ancillary_for(kSkfAdOff + 20), Ancillary::kMark);
  EXPECT_FALSE(ancillary_for(kSkfAdOff + 2).has_value());
  EXPECT_EQ(ancillary_by_name("vlan_tpid"), Ancillary::kVlanTpid);
}

}  // namespace
}  // namespace bpf::vm
