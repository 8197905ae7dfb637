// jit/ebpf/ keeps the kernel's eBPF ABI as its own constexpr values (ebpf_insn.hpp, hook.hpp:
// they must not collide with <linux/bpf.h> macros); this file holds them against the kernel's
// UAPI headers at compile time: instruction layout and encodings, helper ids, the context
// offsets the translation reads and the hooks' return codes. It has no tests to run: it
// fails the build of ebpf_kernel_harness when a value drifts.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <cstddef>

#include "jit/ebpf/ebpf_insn.hpp"
#include "jit/ebpf/hook.hpp"

namespace bpf::jit::ebpf {

static_assert(sizeof(EbpfInsn) == sizeof(bpf_insn));
static_assert(offsetof(EbpfInsn, off) == offsetof(bpf_insn, off));
static_assert(offsetof(EbpfInsn, imm) == offsetof(bpf_insn, imm));

static_assert(op::kLd == BPF_LD && op::kLdx == BPF_LDX && op::kSt == BPF_ST && op::kStx == BPF_STX);
static_assert(op::kAlu == BPF_ALU && op::kJmp == BPF_JMP && op::kJmp32 == BPF_JMP32);
static_assert(op::kAlu64 == BPF_ALU64);
static_assert(op::kW == BPF_W && op::kH == BPF_H && op::kB == BPF_B && op::kDw == BPF_DW);
static_assert(op::kImm == BPF_IMM && op::kAbs == BPF_ABS && op::kInd == BPF_IND &&
              op::kMem == BPF_MEM);
static_assert(op::kAdd == BPF_ADD && op::kSub == BPF_SUB && op::kMul == BPF_MUL &&
              op::kDiv == BPF_DIV && op::kOr == BPF_OR && op::kAnd == BPF_AND &&
              op::kLsh == BPF_LSH && op::kRsh == BPF_RSH && op::kNeg == BPF_NEG &&
              op::kMod == BPF_MOD && op::kXor == BPF_XOR && op::kMov == BPF_MOV &&
              op::kArsh == BPF_ARSH && op::kEnd == BPF_END);
static_assert(op::kJa == BPF_JA && op::kJeq == BPF_JEQ && op::kJgt == BPF_JGT &&
              op::kJge == BPF_JGE && op::kJset == BPF_JSET && op::kJne == BPF_JNE &&
              op::kJsgt == BPF_JSGT && op::kJsge == BPF_JSGE && op::kCall == BPF_CALL &&
              op::kExit == BPF_EXIT && op::kJlt == BPF_JLT && op::kJle == BPF_JLE &&
              op::kJslt == BPF_JSLT && op::kJsle == BPF_JSLE);
static_assert(op::kK == BPF_K && op::kX == BPF_X && op::kToLe == BPF_TO_LE &&
              op::kToBe == BPF_TO_BE);

static_assert(kHelperGetPrandomU32 == BPF_FUNC_get_prandom_u32);
static_assert(kHelperGetSmpProcessorId == BPF_FUNC_get_smp_processor_id);
static_assert(kHelperSkbLoadBytes == BPF_FUNC_skb_load_bytes);
static_assert(kHelperSkbPullData == BPF_FUNC_skb_pull_data);
static_assert(kHelperSkbLoadBytesRelative == BPF_FUNC_skb_load_bytes_relative);
static_assert(kHelperXdpLoadBytes == BPF_FUNC_xdp_load_bytes);
static_assert(kHdrStartNet == BPF_HDR_START_NET);

static_assert(skb::kLen == offsetof(__sk_buff, len));
static_assert(skb::kPktType == offsetof(__sk_buff, pkt_type));
static_assert(skb::kMark == offsetof(__sk_buff, mark));
static_assert(skb::kQueueMapping == offsetof(__sk_buff, queue_mapping));
static_assert(skb::kProtocol == offsetof(__sk_buff, protocol));
static_assert(skb::kVlanPresent == offsetof(__sk_buff, vlan_present));
static_assert(skb::kVlanTci == offsetof(__sk_buff, vlan_tci));
static_assert(skb::kVlanProto == offsetof(__sk_buff, vlan_proto));
static_assert(skb::kIfIndex == offsetof(__sk_buff, ifindex));
static_assert(skb::kHash == offsetof(__sk_buff, hash));
static_assert(skb::kData == offsetof(__sk_buff, data));
static_assert(skb::kDataEnd == offsetof(__sk_buff, data_end));
static_assert(xdp::kData == offsetof(xdp_md, data));
static_assert(xdp::kDataEnd == offsetof(xdp_md, data_end));
static_assert(xdp::kIngressIfIndex == offsetof(xdp_md, ingress_ifindex));
static_assert(xdp::kRxQueueIndex == offsetof(xdp_md, rx_queue_index));

static_assert(kXdpDrop == XDP_DROP && kXdpPass == XDP_PASS);
static_assert(kTcActOk == TC_ACT_OK && kTcActShot == TC_ACT_SHOT);

}  // namespace bpf::jit::ebpf
