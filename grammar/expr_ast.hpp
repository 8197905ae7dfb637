// AST of a pcap-filter(7) expression, as built by grammar/expr_parser.y.
//
// The parser follows libpcap 1.10's grammar.y shape, including its qualifier inheritance: every
// address-like operand (Id node) carries the qualifier in effect where it was written (`host a or
// b` gives b the qualifier `host`; `ip[0] = 1 or 5` gives 5 the "error" qualifier), so that
// compiler/expr_gen.cpp needs no context to give it meaning. Nodes live in one arena
// (`ExprAst::nodes`) and refer to each other by index; every node has its source column for
// diagnostics. No meaning is given here: names are not resolved, numbers are not range-checked.
// Tested by tests/expr/ (parse errors, differential test against libpcap) and
// tests/fuzz/expr_parser.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vm/diagnostic.hpp"

namespace bpf::grammar {

// Protocol qualifiers, in libpcap's Q_* order (gencode.h).
enum class QProto : uint8_t {
  kDefault, kLink, kIp, kArp, kRarp, kSctp, kTcp, kUdp, kIcmp, kIgmp, kIgrp, kAtalk, kDecnet,
  kLat, kSca, kMoprc, kMopdl, kIpv6, kIcmpv6, kAh, kEsp, kPim, kVrrp, kAarp, kIso, kEsis, kIsis,
  kClnp, kStp, kIpx, kNetbeui, kIsisL1, kIsisL2, kIsisIih, kIsisSnp, kIsisCsnp, kIsisPsnp,
  kIsisLsp, kRadio, kCarp, kUndef = 255
};
enum class QDir : uint8_t {
  kDefault, kSrc, kDst, kOr, kAnd, kAddr1, kAddr2, kAddr3, kAddr4, kRa, kTa, kUndef = 255
};
enum class QAddr : uint8_t {
  kDefault, kHost, kNet, kPort, kGateway, kProto, kProtochain, kPortrange, kUndef = 255
};

struct Qual {
  QProto proto = QProto::kDefault;
  QDir dir = QDir::kDefault;
  QAddr addr = QAddr::kDefault;
};
inline constexpr Qual kQualErr{QProto::kUndef, QDir::kUndef, QAddr::kUndef};

enum class NodeKind : uint8_t {
  // boolean
  kAnd, kOr, kNot,
  kId,          // an address-like operand with its qualifier; see IdKind
  kProtoAbbrev, // a bare protocol name: `tcp`, `ip6`, ...
  kRelation,    // arith relop arith; a = lhs, b = rhs, op = '>' 'G'(>=) '=' ; negate for <= < !=
  kOther,       // see OtherKind
  // arithmetic
  kNum,         // num
  kLoad,        // proto[a : size]; proto in qual.proto
  kBinop,       // a op b; op is one of + - * / % & | ^ L(<<) R(>>)
  kNeg,         // -a
  kLen,         // len
};

enum class IdKind : uint8_t {
  kName,        // ID: a name (host, service, protocol, ...); str
  kNum,         // NUM; num
  kHost4,       // HID: dotted number with 1-4 parts; str
  kHost4Len,    // HID / NUM; str, num
  kHost4Mask,   // HID mask HID; str, str2
  kHost6,       // HID6; str
  kHost6Len,    // HID6 / NUM; str, num
  kEther,       // EID; str
  kArcnet,      // AID; str
};

enum class OtherKind : uint8_t {
  kBroadcast, kMulticast,   // qual.proto
  kLess, kGreater,          // num
  kByte,                    // byte num op num: num, op, num2
  kInbound, kOutbound, kIfindex,
  kVlan, kMpls, kPppoed, kPppoes, kGeneve, kVxlan,  // has_num, num
  kLlc,                     // str (may be empty)
  kPf,                      // pf-only keyword (on/ifname, rnr, ...): str = keyword
  kP80211,                  // 802.11 type/subtype/dir: str = keyword, a (and b: subtype) = value Id
  kAtm,                     // ATM/MTP keyword: str = keyword; `vpi`/`vci` values: has_num, num,
                            // op (= > G), negate (<= < !=), an `or` of such nodes for a list
};

struct Node {
  NodeKind kind{};
  IdKind id_kind{};
  OtherKind other{};
  char op = 0;
  bool negate = false;
  bool has_num = false;
  Qual qual{};
  int32_t a = -1, b = -1;
  uint32_t num = 0, num2 = 0;
  std::string str, str2;
  // 1-based byte offset of the node's first character in the text: its column when the text is
  // one line (diagnostics get real lines and columns through Diagnostics::resolve_offsets).
  uint32_t column = 0;
  uint32_t length = 1;   // characters spanned by the node's head token
  uint32_t value_column = 0;  // `byte N op V`, `vxlan V`: column of the value (range errors)
};

struct ExprAst {
  std::vector<Node> nodes;
  int32_t root = -1;  // -1: the empty expression (accepts everything)
  Diagnostics diags;
  const Node& at(int32_t i) const { return nodes[static_cast<size_t>(i)]; }
};

// Parses `text`. Never fails loudly: on error, `diags` holds errors with columns, `root` = -1.
ExprAst parse_expression(std::string_view text);

// Optional: gives the node storage of an AST no longer needed to the next parse_expression on
// this thread (the node vector is a compile's largest allocation otherwise).
void recycle_expression(ExprAst&& ast);

}  // namespace bpf::grammar
