// The state of the pcap-filter(7) lowering (AST -> IR, compiler/expr_ir.hpp), shared by the
// expr_gen*.cpp files, each of which implements one family of Gen's methods. Private to
// compiler/; the public entry point is compile_expression (compiler/expr.hpp).
//
// Gen mirrors libpcap 1.10.3's gencode.c `compiler_state_t`: one generator per expression, whose
// link-layer offsets (off_linktype, off_linkpl, off_nl, their variable parts in M[]) change as
// `vlan`, `mpls`, `pppoes` and `geneve` are met in source order. Where each family lives:
//  - expr_gen.cpp:           entry (compile_expression), the node dispatch, boolean joins and
//                            patch lists (backpatch, gen_and/gen_or/gen_not), loads and
//                            comparisons (gen_load_a, gen_cmp, gen_mcmp, gen_bcmp) and the
//                            primitives of no one layer (gen_less, gen_byteop, gen_broadcast...);
//  - expr_gen_link.cpp:      link layers and their stacks (init_linktype, gen_linktype, vlan,
//                            mpls, pppoes, geneve, llc, ether addresses);
//  - expr_gen_net.cpp:       network layer (gen_proto_abbrev, gen_hostop(6), gen_host(6),
//                            gen_proto, gen_protochain);
//  - expr_gen_legacy.cpp:    OSI (iso, clnp, esis, isis and its PDU types) and DECnet hosts;
//  - expr_gen_vxlan.cpp:     `vxlan` (libpcap 1.11), on geneve's variable offsets;
//  - expr_gen_transport.cpp: ports and port ranges (gen_port(6), gen_portrange(6));
//  - expr_gen_arith.cpp:     arithmetic, `proto[expr:size]`, relations (gen_load, gen_arth,
//                            gen_relation);
//  - expr_gen_serial.cpp:    PPP, PPP_SERIAL, PPP_ETHER, C_HDLC, FRELAY, SLIP, IPNET, ARCNET
//                            (offsets, link-layer type tests, ARCnet addresses, direction);
//  - expr_gen_atm.cpp:       SUNATM and the ATM primitives (vpi, vci, lane, oam, ...);
//  - expr_gen_lan.cpp:       FDDI and token ring (802.2 LLC type tests, fddi/tr addresses);
//  - expr_gen_sets.cpp, expr_gen_sets_ip6.cpp: long `or` lists of one shape as searches;
//  - expr_gen_wlan.cpp:      the 802.11 link types (offsets computed at run time, wlan addresses,
//                            type/subtype/dir);
//  - expr_gen_names.cpp:     identifiers, address parsing and name resolution (gen_scode,
//                            gen_ncode, __pcap_atoin, pcap_nametoport...), link-type names.
// Invariants: tests are built in libpcap's order (so that a load that fails on a snapped packet
// fails on the same path); every block is self-contained unless marked opaque (expr_ir.hpp).
// Errors unwind as GenError, caught by compile_expression only.
// Tested by tests/expr/expr_diff_test.cpp against pcap_compile + bpf_filter.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "compiler/expr.hpp"
#include "compiler/expr_ir.hpp"
#include "grammar/expr_ast.hpp"
#include "vm/insn.hpp"

namespace bpf::compiler::detail {

using grammar::ExprAst;
using grammar::IdKind;
using grammar::Node;
using grammar::NodeKind;
using grammar::OtherKind;
using grammar::QAddr;
using grammar::QDir;
using grammar::QProto;
using grammar::Qual;
using vm::Insn;
namespace c = vm::code;

inline constexpr int kDltNull = 0, kDltEn10mb = 1, kDltRaw = 12, kDltLoop = 108,
                     kDltLinuxSll = 113, kDltIpv4 = 228, kDltIpv6 = 229, kDltLinuxSll2 = 276;
inline constexpr int kDltRawAlt = 14;  // DLT_RAW on some BSDs; libpcap maps LINKTYPE_RAW (101) too
inline constexpr int kDltPpp = 9;      // also the link type inside PPPoE sessions
// The serial, ATM and 802.x link types (libpcap's DLT_ numbers, pcap/dlt.h): see
// expr_gen_serial.cpp, expr_gen_atm.cpp and expr_gen_lan.cpp.
inline constexpr int kDltIeee802 = 6, kDltArcnet = 7, kDltSlip = 8, kDltFddi = 10,
                     kDltPppSerial = 50, kDltPppEther = 51, kDltCHdlc = 104, kDltFrelay = 107,
                     kDltSunatm = 123, kDltArcnetLinux = 129, kDltIpnet = 226;
// 802.11 (compiler/expr_gen_wlan.cpp): bare, Prism, radiotap, AVS and PPI radio headers.
inline constexpr int kDltIeee80211 = 105, kDltPrism = 119, kDltRadiotap = 127, kDltAvs = 163,
                     kDltPpi = 192;
bool is_wlan_linktype(int lt);
// libpcap's ethertype_to_ppptype (expr_gen_link.cpp).
uint32_t ethertype_to_ppptype(uint32_t proto);

inline constexpr uint32_t kEtherMtu = 1500;
inline constexpr uint32_t kEtIp = 0x0800, kEtArp = 0x0806, kEtRevArp = 0x8035, kEtIpv6 = 0x86dd,
                          kEtMpls = 0x8847, kEtPppoed = 0x8863, kEtPppoes = 0x8864,
                          kEt8021q = 0x8100, kEt8021ad = 0x88a8, kEtQinq = 0x9100;
inline constexpr uint32_t kIpProtoTcp = 6, kIpProtoUdp = 17, kIpProtoSctp = 132, kIpProtoIcmp = 1,
                          kIpProtoIgmp = 2, kIpProtoIgrp = 9, kIpProtoPim = 103,
                          kIpProtoVrrp = 112, kIpProtoCarp = 112, kIpProtoIcmpv6 = 58,
                          kIpProtoAh = 51, kIpProtoEsp = 50, kIpProtoFragment = 44;
// 802.2 SAPs and the link-layer protocols libpcap's gen_linktype treats specially.
inline constexpr uint32_t kLlcSapIsons = 0xfe, kLlcSapIp = 0x06, kLlcSapNetbeui = 0xf0,
                          kLlcSapIpx = 0xe0, kEtIpx = 0x8137, kEtAtalk = 0x809b,
                          kEtAarp = 0x80f3;

// A boolean sub-graph: entry block and its dangling exits; or a constant.
struct Cond {
  int entry = -1;
  int cval = -1;  // -1: not constant, 0: false, 1: true
  int t = -1, f = -1;  // patch lists of the true and false exits
  // A constant that is a block in libpcap's code (gen_true/gen_false, a relation of constants,
  // a masked-out comparison): combined with a test it becomes a block too (see and_).
  bool lit = false;
  bool rel = false;  // a relation of constants (`1 = 1`): libpcap folds it a pass later
  // ... whose constant comes from a dead-load fold (x*0, x&0): libpcap knows it only once its
  // statements are rewritten, in its second opt_loop, where no branch moves any more.
  bool stmt_fold = false;
};

inline Cond const_cond(bool v) {
  Cond c;
  c.cval = v ? 1 : 0;
  return c;
}
inline Cond uncond(bool v) {
  Cond c = const_cond(v);
  c.lit = true;
  return c;
}

// An arithmetic value (libpcap's `struct arth`): statements leaving it in A, plus the protocol
// checks that must hold before they run.
struct Arth {
  std::vector<Insn> s;
  bool is_const = false;
  uint32_t k = 0;
  bool has_check = false;
  Cond check;
  bool stmt_fold = false;  // constant only through a dead-load fold (see Cond::stmt_fold)
  QProto check_proto = QProto::kUndef;  // the protocol `check` requires, for warnings
  uint32_t check_col = 0;               // ... and where its accessor is
};

// Compile error used to unwind out of deep recursion inside the lowering only (never crosses
// the library boundary: compile_expression catches it).
struct GenError {
  std::string msg;
  uint32_t column;
};

inline Insn ins(uint16_t code, uint32_t k = 0) { return Insn{code, 0, 0, k}; }
inline uint16_t size_code(uint32_t bytes) {
  return bytes == 4 ? c::kW : bytes == 2 ? c::kH : c::kB;
}

// A member of a set-able run of `or`ed primitives (compiler/expr_gen_sets.cpp): the interval of
// values it matches and the shape it shares with the run.
struct SetMember {
  enum Cls : uint8_t { kIpv4, kPort, kEther, kProto, kIpv6, kPair } cls = kIpv4;  // kEther: lo = low 32 bits, hi = high 16
  Qual qual{};
  uint32_t lo = 0, hi = 0;
  uint32_t w6[4] = {};  // kIpv6: the address (host order words) and its prefix length
  uint32_t plen6 = 0;
  // kPair (`ADDR and PORT`, expr_gen_pairs.cpp): the address's network and netmask, the port's
  // qualifiers (lo/hi: its interval; qual: the address's qualifiers)
  uint32_t net = 0, mask = 0;
  Qual pqual{};
};
// Sorted, with overlapping and adjacent intervals joined (expr_gen_sets.cpp).
std::vector<std::pair<uint32_t, uint32_t>> merge_intervals(std::vector<std::pair<uint32_t, uint32_t>> iv);

// __pcap_atoin: "a.b.c" -> value with 8 bits per part; the number of bits, -1 if bad
// (expr_gen_names.cpp).
int atoin(const std::string& s, uint32_t* out);
// __pcap_atodn: "area.node" -> 16-bit DECnet address; false if malformed (expr_gen_legacy.cpp).
bool atodn(const std::string& s, uint32_t* out);
// pcap_ether_aton's forms (a:b:c:d:e:f, aabb.ccdd.eeff, aabbccddeeff, ...); false if bogus.
bool parse_mac(const std::string& s, uint8_t out[6]);

// libpcap's message for `addr1`..`ta` on FDDI, token-ring and ARCnet addresses (expr_gen_lan.cpp).
std::string wlan_qualifier_error(QDir dir);

enum class Rel { kLinkHdr, kLinkPl, kLinkType, kTranIpv4, kTranIpv6, kPrevMpls, kLlc, kLinkPlNosnap };

// How a Gen lowers: `unoptimised` as libpcap's no_optimize programs are (802.11 offsets computed
// at run time); `no_set_runs` (sorted first-member node indices) are or-runs lowered member by
// member although they qualify as sets (Gen::conflicting_set_runs).
struct LowerMode {
  bool unoptimised = false;
  std::vector<int32_t> no_set_runs;
};

class Gen {
  friend class PairLowering;  // expr_gen_pairs.cpp

 public:
  Gen(const ExprAst& ast, const ExprOptions& opts, const LowerMode& mode = {});

  IrFunc& func() { return f_; }
  const Diagnostics& warnings() const { return warnings_; }

  void build(int32_t root);
  // The mode to lower the expression again with, or nothing when this lowering stands: the
  // program turned out to be one libpcap does not optimise (802.11 offsets computed at run
  // time) after it was lowered for optimisation, or some set searches test a field that other
  // tests load too (conflicting_set_runs). lower_with_sets (expr_gen.cpp) loops on it.
  std::optional<LowerMode> relower() const;

 private:
  const ExprAst& ast_;
  ExprOptions opts_;
  IrFunc f_;
  uint32_t scratch_ = 0;  // next free M[] slot in the relation being built
  // While a set-able run is lowered (gen_set): the members' merged intervals, which
  // member_test searches instead of comparing with one value.
  const std::vector<std::pair<uint32_t, uint32_t>>* set_ = nullptr;
  std::vector<uint8_t> no_sets_;  // `or` nodes whose tree or_segments has looked at
  std::vector<int32_t> no_set_runs_;  // LowerMode::no_set_runs
  struct SetRun {
    int32_t first;       // the run's first member node
    size_t b0, b1;       // the blocks gen_set created for it: [b0, b1)
  };
  std::vector<SetRun> set_runs_;  // in lowering order (ascending, disjoint block ranges)
  std::vector<uint8_t> at_end_;   // nodes whose exits are the program's (pair_run_allowed)
  Diagnostics warnings_;          // for -V: where tcpdump's verdict differs from the text's
  // ... and, for port sets with ranges, the first member's interval (Gen::guarded_port_pair).
  const std::vector<std::pair<uint32_t, uint32_t>>* set_first_ = nullptr;
  uint32_t col_ = 0;  // column of the node being compiled, for errors and block locations

  // Link-layer state (libpcap's off_linktype, off_linkpl, off_nl, stack depths).
  bool ethertype_link_ = false;
  uint32_t off_linktype_ = 0;
  uint32_t off_linkpl_ = 0;
  uint32_t off_nl_ = 0;
  uint32_t off_nl_nosnap_ = 0;  // network layer after an 802.2 LLC header without SNAP
  uint32_t off_linkhdr_ = 0;    // start of the link-layer header (moves after `pppoes`)
  int dlt_ = 1;                 // current link type: opts_.linktype, or PPP after `pppoes`
  int vlan_depth_ = 0;
  int mpls_depth_ = 0;
  // Variable parts (libpcap's bpf_abs_offset.is_variable/reg): the M[] slot holding the run-time
  // part of the offset, or -1 when the offset is constant. Only `geneve` makes them variable.
  int reg_linkhdr_ = -1;
  int reg_linkpl_ = -1;
  int reg_linktype_ = -1;
  bool wlan_ = false;     // an 802.11 link type (expr_gen_wlan.cpp)
  bool relower_ = false;  // 802.11 program to lower unoptimised (see relower)
  // libpcap's register allocator (alloc_reg/free_reg: regused, curreg), replayed for 802.11:
  // its link-offset registers are taken lazily and may get the number of a temporary that an
  // earlier relation wrote (expr_gen_wlan.cpp, wlan_relation_begin).
  struct LibRegs {
    bool used[16] = {};
    int curreg = 0;
    int hdr = -1, pl = -1;       // libpcap's registers for the link header / payload offsets
    int pending_reg = -1;        // register the last relation wrote last and then freed...
    int pending_block = -1;      // ... in this block ...
    std::vector<Insn> pending_value;  // ... with this value (statements leaving it in A)
  } lib_;
  bool in_relation_ = false;
  bool is_geneve_ = false;  // libpcap's is_geneve (reset by PUSH_LINKHDR, i.e. `pppoes`)
  int prev_dlt_ = -1;       // libpcap's prevlinktype, as far as `lane` sets it (expr_gen_atm.cpp)
  uint32_t prev_off_linkhdr_ = 0;  // ... and its off_prevlinkhdr
  bool is_atm_ = false;     // libpcap's is_atm: a SUNATM pseudo-header is present
  uint32_t next_reg_ = 0;   // M[] slots taken by variable offsets (alloc_reg)
  bool variable_offsets() const { return reg_linkhdr_ >= 0 || reg_linkpl_ >= 0 || reg_linktype_ >= 0; }

  [[noreturn]] void fail(std::string msg) { throw GenError{std::move(msg), col_}; }
  // libpcap 1.11's assert_maxval: "NAME V greater than maximum MAX", at `col` (0: the node's).
  void assert_maxval(const char* name, uint32_t v, uint32_t max, uint32_t col = 0) {
    if (v <= max) return;
    if (col) col_ = col;
    fail(std::string(name) + " " + std::to_string(v) + " greater than maximum " + std::to_string(max));
  }

  // ---- expr_gen.cpp: dispatch, IR construction, loads and comparisons ------------------------
  Cond gen(int32_t idx);
  Cond gen_leaf(const Node& n);
  Cond gen_other(const Node& n);
  int add_ret(uint32_t k);
  int& slot(int id);
  static int next_of(int v);
  void patch(int list, int target);
  int concat(int a, int b);
  void add_exit(int& list, int block, int which);
  Cond test(std::vector<Insn> stmts, uint16_t jop, uint32_t k);
  Cond materialise(Cond c);
  Cond and_(Cond a, Cond b);
  Cond or_(Cond a, Cond b);
  Cond join(Cond a, Cond b, bool is_and);
  static Cond not_(Cond a);
  std::vector<Insn> var_load(int reg, uint32_t sz, uint32_t k);
  std::vector<Insn> load(Rel rel, uint32_t off, uint32_t size);
  Cond cmp(Rel rel, uint32_t off, uint32_t size, uint32_t v, uint16_t jop = c::kJeq);
  Cond mcmp(Rel rel, uint32_t off, uint32_t size, uint32_t v, uint32_t mask);
  Cond bcmp(Rel rel, uint32_t off, const uint8_t* v, uint32_t size);

  // ---- expr_gen_sets.cpp: big disjunctions as searches ----------------------------------------
  struct OrSegment {
    int32_t node;                  // a subtree lowered the ordinary way (members empty)...
    std::vector<int32_t> members;  // ...or a run of set members
  };
  std::optional<SetMember> set_member(const Node& n) const;
  static bool same_set(const SetMember& a, const SetMember& b);
  std::vector<OrSegment> or_segments(int32_t root);
  Cond gen_set(const std::vector<int32_t>& members);
  Cond gen_set_searches(const std::vector<int32_t>& members);
  std::vector<int32_t> conflicting_set_runs() const;
  Cond member_test(Rel rel, uint32_t off, uint32_t size, uint32_t v, uint32_t mask);
  Cond guarded_port_pair(bool v6);
  Cond search(const std::vector<std::pair<uint32_t, uint32_t>>& iv, size_t l, size_t r,
              uint32_t lo_known, uint32_t hi_known, std::vector<int>* per = nullptr);
  Cond ether_search(const std::vector<std::pair<uint32_t, uint32_t>>& macs, uint32_t off);
  // expr_gen_pairs.cpp: `(host A and port P) or ...`
  std::optional<SetMember> pair_member(const Node& n) const;
  bool pair_run_allowed(int32_t root, const std::vector<int32_t>& leaves, size_t i, size_t j);
  Cond gen_pairs(const std::vector<SetMember>& ms, const std::vector<int32_t>& members);
  // expr_gen_sets_ip6.cpp: IPv6 host and net lists
  std::optional<SetMember> set_member6(const Node& n) const;
  Cond gen_set6(const std::vector<SetMember>& ms, const std::vector<int32_t>& members);

  // ---- expr_gen_link.cpp: link layers and their stacks ---------------------------------------
  uint32_t alloc_reg();
  void init_link();
  const char* link_name() const;
  Cond linktype(uint32_t proto);
  Cond snap(uint32_t orgcode, uint32_t ptype);
  Cond ether_linktype(uint32_t proto);
  Cond sll_linktype(uint32_t proto);
  Cond prevlinkhdr_check(Cond b);
  Cond ehostop(const uint8_t* ea, QDir dir);
  Cond gen_vlan(const Node& n);
  Cond gen_mpls(const Node& n);
  Cond gen_pppoes(const Node& n);
  Cond gen_llc(const Node& n);
  Cond geneve(bool has_vni, uint32_t vni);
  // Hooks shared by geneve and vxlan (expr_gen_vxlan.cpp): after `b` (a UDP check over IPv4 or
  // IPv6), X = the IP header length; and the state after an encapsulated Ethernet frame whose
  // offsets are in the given M[] slots (libpcap's PUSH_LINKHDR with is_geneve/is_encap).
  Cond encap_iphdrlen(Cond b, bool v6);
  void push_encap_ether(uint32_t r_hdr, uint32_t r_type, uint32_t r_pl, uint32_t nl_nosnap);

  // ---- expr_gen_serial.cpp / expr_gen_atm.cpp / expr_gen_lan.cpp: the link types beyond
  // Ethernet, cooked and loopback. Each *_more hook answers for its link types only.
  bool init_link_more();                        // false: not one of them
  static bool init_link_more_types(int linktype);  // one of them?
  const char* link_name_more() const;           // nullptr: not one of them
  std::optional<Cond> linktype_more(uint32_t proto);
  std::optional<Cond> direction_more(bool out);  // `inbound`/`outbound` from the header
  Cond arcnet_id(const Node& n);                // `$ab` (gen_acode)
  Cond ahostop(uint8_t a, QDir dir);
  Cond llc_linktype(uint32_t proto);
  Cond lan_hostop(const uint8_t* ea, QDir dir);  // gen_fhostop, gen_thostop
  std::optional<Cond> lan_cast(bool multicast);  // link broadcast/multicast beyond Ethernet
  Cond llc_base();                              // gen_llc_internal beyond Ethernet
  Cond gen_atm(const Node& n);
  Cond lane_data_check(Cond b);  // gen_prevlinkhdr_check after `lane`
  Cond atm_field(int field, uint32_t v, uint16_t jop, bool reverse);

  // ---- expr_gen_wlan.cpp: 802.11 link layers ------------------------------------------------
  void init_wlan();
  Cond wlan_fc_bit(uint32_t byte, uint32_t bit);
  Cond wlan_data_frame();
  Cond wlan_linktype(uint32_t proto);
  Cond wlan_da(const std::function<Cond(uint32_t)>& leaf);
  Cond wlanhostop(const uint8_t* ea, QDir dir);
  Cond wlan_broadcast();
  Cond wlan_multicast();
  Cond gen_p80211(const Node& n);
  Cond wlan_finish(Cond body);
  int lib_alloc(int our_reg);  // our_reg: the offset register taken, -1 for a temporary
  void lib_use(int our_reg);
  int lib_sim_arth(int32_t idx, std::vector<int32_t>* writer);
  void wlan_relation_begin(const Node& n);
  void wlan_relation_end(int block);

  // ---- expr_gen_legacy.cpp: OSI (CLNP, ES-IS, IS-IS) and DECnet -----------------------------
  Cond iso_proto(uint32_t v);
  Cond isis_proto(uint32_t v);
  Cond isis_any(std::initializer_list<uint32_t> order_built);
  Cond osi_abbrev(QProto p);
  static bool osi_proto_name(const std::string& name, uint32_t* v);
  Cond legacy_proto_q(uint32_t v, QProto proto);
  void legacy_host_check(QProto proto);
  Cond dnhostop(uint32_t addr, QDir dir);
  Cond decnet_host(const Node& n);

  // ---- expr_gen_vxlan.cpp: VXLAN (libpcap 1.11) ----------------------------------------------
  Cond vxlan(const Node& n);

  // ---- expr_gen_net.cpp: network layer -------------------------------------------------------
  Cond ipfrag();
  Cond ip_proto(uint32_t v);
  Cond ip6_proto(uint32_t v);
  Cond any_proto(uint32_t v);
  Cond proto_abbrev(QProto p);
  static const char* proto_name(QProto p);
  static const char* proto_label(QProto p);  // "TCP", "IPv6", ... for messages
  Cond hostop(uint32_t addr, uint32_t mask, QDir dir, uint32_t proto, uint32_t src_off,
              uint32_t dst_off);
  Cond hostop6(const uint8_t* addr, const uint8_t* mask, QDir dir, uint32_t src_off,
               uint32_t dst_off);
  Cond host(uint32_t addr, uint32_t mask, QProto proto, QDir dir, QAddr type);
  Cond host6(const uint8_t* addr, const uint8_t* mask, QProto proto, QDir dir, QAddr type);
  Cond proto_q(uint32_t v, QProto proto, QDir dir);
  Cond link_proto(uint32_t v);
  Cond protochain(uint32_t v, QProto proto);

  // ---- expr_gen_transport.cpp: ports ---------------------------------------------------------
  Cond portatom(bool v6, uint32_t off, uint32_t v);
  Cond portrangeatom(bool v6, uint32_t off, uint32_t lo, uint32_t hi);
  Cond port_dir(bool v6, QDir dir, bool range, uint32_t lo, uint32_t hi);
  Cond portop(bool v6, uint32_t proto, QDir dir, bool range, uint32_t lo, uint32_t hi);
  Cond port_family(bool v6, int ip_proto, QDir dir, bool range, uint32_t lo, uint32_t hi);
  Cond port(int ip_proto, QDir dir, bool range, uint32_t lo, uint32_t hi);
  int port_proto(QProto p);
  int portrange_proto(QProto p);

  // ---- expr_gen_arith.cpp: arithmetic and relations ------------------------------------------
  Cond gen_relation(const Node& n);
  Arth gen_arth(int32_t idx);
  Arth arth_leaf(const Node& n);
  Arth arth_neg(Arth a);
  Arth arth_binop(const Node& n, Arth a, Arth b);
  Arth gen_load(const Node& n);
  // Whether the lowering may drop loads that libpcap's optimiser deletes as dead (x*0, x&0,
  // a comparison under mask 0): only when optimising, and not where libpcap does not.
  bool folds_dead_loads() const;

  // ---- expr_gen_names.cpp: identifiers and names ---------------------------------------------
  static uint32_t lookup_proto_name(const std::string& name, bool* ok);
  static bool lookup_eproto(const std::string& name, uint32_t* v);
  static void lookup_port(const std::string& name, int* tcp, int* udp);
  bool port_or_name(const std::string& s, QProto proto, uint32_t* out, int* ip_proto);
  Cond gen_id(const Node& n);
  Cond gen_scode(const Node& n);
  Cond gen_ncode(const Node& n, uint32_t v, bool from_string, uint32_t vlen);
};

// ---- hook for compiler/classify/ -------------------------------------------------------------
// Lowers a parsed expression to unoptimised IR: the accepting leaf is `ret opts.snaplen`, the
// rejecting one `ret 0` (the only two ret blocks). False, with a located error (line 1, column
// = byte offset in the expression) in *diags, when the expression has no meaning.
bool lower_expression(const ExprAst& ast, const ExprOptions& opts, IrFunc* out, Diagnostics* diags);

}  // namespace bpf::compiler::detail
