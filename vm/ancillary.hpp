// Linux ancillary loads and negative packet offsets (Documentation/networking/filter.rst,
// include/uapi/linux/filter.h). A `ld[h|b] [k]` whose k is SKF_AD_OFF + n reads socket-buffer
// metadata instead of packet bytes; k in [SKF_NET_OFF, SKF_AD_OFF) and [SKF_LL_OFF, SKF_NET_OFF)
// address the packet relative to its network and link-layer headers.
//
// One table of names; the assembler (`#proto`, netsniff-ng aliases live in compiler/), the
// disassembler, the verifier (known offsets only), the interpreter and the JITs all use it.
// tests/vm/insn_test.cpp checks every value against <linux/filter.h>.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace bpf::vm {

inline constexpr uint32_t kSkfAdOff = 0xfffff000u;   // SKF_AD_OFF  (-0x1000)
inline constexpr uint32_t kSkfNetOff = 0xfff00000u;  // SKF_NET_OFF (-0x100000)
inline constexpr uint32_t kSkfLlOff = 0xffe00000u;   // SKF_LL_OFF  (-0x200000)

// X(Name, offset from SKF_AD_OFF, canonical bpf_asm name)
#define BPF_ANCILLARY_TABLE(X)         \
  X(Protocol, 0, "proto")              \
  X(PktType, 4, "type")                \
  X(IfIndex, 8, "ifidx")               \
  X(NlAttr, 12, "nla")                 \
  X(NlAttrNest, 16, "nlan")            \
  X(Mark, 20, "mark")                  \
  X(Queue, 24, "queue")                \
  X(HaType, 28, "hatype")              \
  X(RxHash, 32, "rxhash")              \
  X(Cpu, 36, "cpu")                    \
  X(AluXorX, 40, "alu_xor_x")          \
  X(VlanTag, 44, "vlan_tci")           \
  X(VlanTagPresent, 48, "vlan_avail")  \
  X(PayOffset, 52, "poff")             \
  X(Random, 56, "rand")                \
  X(VlanTpid, 60, "vlan_tpid")

enum class Ancillary : uint8_t {
#define BPF_X_ANC_ENUM(name, off, mn) k##name,
  BPF_ANCILLARY_TABLE(BPF_X_ANC_ENUM)
#undef BPF_X_ANC_ENUM
};

struct AncillaryInfo {
  Ancillary id;
  uint32_t offset;  // relative to SKF_AD_OFF
  std::string_view name;
  constexpr uint32_t k() const { return kSkfAdOff + offset; }
};

inline constexpr std::array kAncillaryTable = {
#define BPF_X_ANC_INFO(name, off, mn) AncillaryInfo{Ancillary::k##name, off, mn},
    BPF_ANCILLARY_TABLE(BPF_X_ANC_INFO)
#undef BPF_X_ANC_INFO
};
inline constexpr uint32_t kSkfAdMax = 64;  // SKF_AD_MAX

constexpr const AncillaryInfo& info(Ancillary a) { return kAncillaryTable[static_cast<size_t>(a)]; }

// The ancillary load that an absolute load offset k names, if any.
constexpr std::optional<Ancillary> ancillary_for(uint32_t k) {
  for (const AncillaryInfo& a : kAncillaryTable)
    if (a.k() == k) return a.id;
  return std::nullopt;
}

constexpr std::optional<Ancillary> ancillary_by_name(std::string_view name) {
  for (const AncillaryInfo& a : kAncillaryTable)
    if (a.name == name) return a.id;
  return std::nullopt;
}

}  // namespace bpf::vm
