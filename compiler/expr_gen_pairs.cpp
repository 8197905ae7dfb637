// Set-aware lowering of (address, port) pair lists: a run of at least 8 `or`ed members
// `(host A and port P)` of one shape (the address's direction and netmask, the port's protocol
// and direction; `host`/`net`, `port`/`portrange`) is lowered as two searches over the
// distinct addresses plus a constant tail: O(log n) tests per packet, O(n) instructions
// (about 4 per pair with both directions, 2 with `src host`/`dst host`).
//
// Meaning, snapped packets included: libpcap's optimised program for such a list is the member
// walk (`ld [26]; jeq A1; ld [30]; jeq A1` then, for a member whose address matched, the
// protocol and fragment tests, `ldh [x+14]; jeq P1; ldh [x+16]; jeq P1`, then the next member;
// with one address field its optimiser threads the walk between the members of the packet's
// address and gathers their source port tests, see lead(); tests/expr/pair_list_test.cpp checks
// both against libpcap -O1 up to 500 pairs). A load that
// fails rejects the packet, so the verdict depends on which loads the walk reaches. With the
// source address S, the destination address D and the first matching member m1:
//  - the destination field is loaded at the first member whose address S does not match: when
//    S matches member 1, after the port tests of the leading members of S's address (the
//    "prefix" branch below), else before anything else;
//  - the source port is loaded at m1 (when the protocol tests pass); the destination port only
//    if the source port is not in m1's ports; then every matching member's ports are tested.
// So the verdict is "sport in the ports of m1" when the destination port cannot be loaded, and
// "sport or dport in the ports of all members of S's and D's addresses" otherwise. The program
// computes exactly that: each search leaves, in X, a word for the address it found,
//   (rank << 17) | port            when all members of the address have one and the same port,
//   (rank << 17) | 0x10000         otherwise ("complex": its ports are searched by rank),
// rank being the order of the address's first member (so the smaller word is m1's address),
// all ones when the address is no member's. The words go to scratch slots taken above the ones
// the rest of the program keeps (next_reg_, as geneve's alloc_reg); the tail compares ports
// with them, or searches (rank << 16 | port) among the complex addresses' port intervals.
// Search leaves are buckets of `ldx #word; jeq #address` (the word is loaded before the test:
// no jump per leaf). Every block is opaque (it reads what its predecessor left) but the
// EtherType and protocol tests, ordinary self-contained blocks that the optimiser relates to
// the expression's others (`ip and ...` shares one test; `tcp and (... udp port ...)` rejects
// all packets, as for libpcap).
// Called by gen_set (expr_gen_sets.cpp) for runs that or_segments found and pair_run_allowed
// let through; a run is searched only when worth_it() (shorter than libpcap's walk, ranks fit
// 15 bits, no port test repeated within an address with one address field), else member by
// member. Linear but for the sorts (n log n). Tested by tests/expr/pair_list_test.cpp.
#include <algorithm>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "compiler/expr_gen.hpp"

namespace bpf::compiler::detail {

namespace {

constexpr size_t kPairBucket = 16;         // leaves test up to this many addresses in a row
constexpr uint32_t kNone = 0xffffffffu;    // the word of an address that is no member's
constexpr uint32_t kComplex = 0x10000;     // the word's flag: ports searched by rank
constexpr uint32_t kRankShift = 17;
constexpr uint32_t kPairSlots = 5;         // scratch slots the tail uses

using Intervals = std::vector<std::pair<uint32_t, uint32_t>>;

}  // namespace

// A member `(ADDR and PORT)`, or nothing.
std::optional<SetMember> Gen::pair_member(const Node& n) const {
  if (n.kind != NodeKind::kAnd) return std::nullopt;
  const std::optional<SetMember> h = set_member(ast_.at(n.a));
  if (!h || h->cls != SetMember::kIpv4) return std::nullopt;
  if (h->qual.proto != QProto::kDefault && h->qual.proto != QProto::kIp) return std::nullopt;
  const std::optional<SetMember> p = set_member(ast_.at(n.b));
  if (!p || p->cls != SetMember::kPort) return std::nullopt;
  // every port: libpcap's optimiser folds the test and drops its load
  if (p->lo == 0 && p->hi == 0xffff) return std::nullopt;
  const uint32_t mask = ~(h->hi - h->lo);
  if (mask == 0) return std::nullopt;  // `and #0`: a dead load for libpcap's optimiser
  SetMember m;
  m.cls = SetMember::kPair;
  m.qual = h->qual;
  m.qual.dir = h->qual.dir == QDir::kOr ? QDir::kDefault : h->qual.dir;
  m.qual.addr = QAddr::kNet;  // `host A` is `net A/32`: the netmask tells them apart
  m.pqual = p->qual;
  m.pqual.dir = p->qual.dir == QDir::kOr ? QDir::kDefault : p->qual.dir;
  m.net = h->lo;
  m.mask = mask;
  m.lo = p->lo;
  m.hi = p->hi;
  return m;
}

// Whether the run leaves[i, j) of the or-tree at `root` may be searched. libpcap's optimiser
// relates a member's tests to what follows the list: where the rest of the program is decided
// by what the walk has learnt (`(src host A and tcp port P) or ... or tcp`: `tcp` holds), both
// exits of a member's port tests lead to one block and it removes them, loads included, and
// with one address field it threads the walk into later members of the same address outside
// the run and gathers their port tests too. So a run is searched only where its exits are the
// program's: it ends the list, and the list is in the last position of every `and` above it
// (under any `not`); with one address field, also no earlier term of the list is an `and`.
// Both found linear: at_end_ is computed once for the whole expression.
bool Gen::pair_run_allowed(int32_t root, const std::vector<int32_t>& leaves, size_t i, size_t j) {
  if (j != leaves.size()) return false;
  if (at_end_.empty()) {
    at_end_.assign(ast_.nodes.size(), 0);
    std::vector<int32_t> stack;
    if (ast_.root >= 0) stack.push_back(ast_.root);
    while (!stack.empty()) {  // pushed: in last position
      const int32_t x = stack.back();
      stack.pop_back();
      at_end_[static_cast<size_t>(x)] = 1;
      const Node& n = ast_.at(x);
      if (n.kind == NodeKind::kAnd || n.kind == NodeKind::kOr) stack.push_back(n.b);
      if (n.kind == NodeKind::kNot) stack.push_back(n.a);
    }
  }
  if (!at_end_[static_cast<size_t>(root)]) return false;
  const QDir adir = set_member(ast_.at(leaves[i]))->qual.dir;
  if (adir == QDir::kSrc || adir == QDir::kDst)
    for (size_t k = 0; k < i; ++k)
      if (ast_.at(leaves[k]).kind == NodeKind::kAnd) return false;
  return true;
}

// The lowering of one run (see the file comment). Holds the run's tables; builds blocks
// through the generator it belongs to.
class PairLowering {
 public:
  PairLowering(Gen& g, const std::vector<SetMember>& ms) : g_(g), ms_(ms) {
    const SetMember& m0 = ms.front();
    mask_ = m0.mask;
    adir_ = m0.qual.dir;
    pdir_ = m0.pqual.dir;
    proto_ = g.port_proto(m0.pqual.proto);
    for (uint32_t i = 0; i < kPairSlots; ++i) slot_[i] = g.next_reg_ + i;
    // the distinct addresses in order of their first member, with their members' ports in order
    std::unordered_map<uint32_t, size_t> index;
    index.reserve(ms.size());
    for (const SetMember& m : ms) {
      auto [it, fresh] = index.try_emplace(m.net, addrs_.size());
      if (fresh) addrs_.push_back({m.net, {}, 0});
      addrs_[it->second].ports.emplace_back(m.lo, m.hi);
    }
  }
  // Whether to search: ranks take 15 bits (more addresses stay member by member), and the
  // searches must be shorter than libpcap's walk (bpfc's programs are never longer than
  // libpcap's). Estimated pessimistically for ours: 2 instructions an address and address
  // field, 2 an interval of the complex addresses' tables and search, 20 to 70 for the tail
  // and the prefix branch; against at least 5 to 10 a member for libpcap's walk (its address
  // and port tests; its protocol tests may be shared with an enclosing `tcp`). Calibrated on lists of 12
  // to 200 members with and without repeated addresses and ranges; tests/expr/
  // pair_list_test.cpp checks that the result is never longer than libpcap -O1's program.
  bool worth_it() {
    if (addrs_.size() < 8 || addrs_.size() >= (1u << (32 - kRankShift)) - 1) return false;
    if ((adir_ == QDir::kSrc || adir_ == QDir::kDst) && repeats_a_port_test()) return false;
    tables();
    const bool both = adir_ == QDir::kDefault, ports2 = pdir_ == QDir::kDefault;
    const size_t fields = both ? 2 : 1, searches = fields * (ports2 ? 2 : 1);
    const size_t fixed = 20 + (both ? 25 : 0) + (ports2 ? 15 : 0) + (both && ports2 ? 10 : 0);
    const size_t ours = 2 * fields * addrs_.size() +
                        2 * (searches * all_.size() + (ports2 ? first_.size() : 0)) + fixed;
    const size_t walk = ms_.size() * ((both ? 8 : 5) + (ports2 ? 2 : 0));
    return ours < walk;
  }

  Cond build() {
    Cond body;
    if (adir_ == QDir::kSrc || adir_ == QDir::kDst) {
      // one address field: the members of its address (see lead())
      body = search_field(adir_ == QDir::kSrc ? 12 : 16);
      Cond keep = seq({ins(c::kStx, slot_[kA])});
      Cond p = proto_test();
      g_.patch(body.t, keep.entry);
      g_.patch(keep.t, p.entry);
      body.t = -1;
      body.f = g_.concat(body.f, p.f);
      Cond tail = pdir_ == QDir::kDefault ? ports_of_first({kA}) : ports_of({kA});
      g_.patch(p.t, tail.entry);
      body.t = tail.t;
      body.f = g_.concat(body.f, tail.f);
    } else {
      body = both_fields();
    }
    return g_.and_(g_.linktype(kEtIp), body);
  }

 private:
  struct Addr {
    uint32_t net;
    Intervals ports;  // its members' ports in order, then (tables()) merged
    uint32_t word;
  };
  enum Slot : uint8_t { kA, kB, kMin, kSport, kDport };

  // The ports tested before the destination port is loaded, for a packet whose first matching
  // member is the address's first. With both address fields, libpcap's walk tests that
  // member's only. With one, libpcap's optimiser threads the walk from member to member of the
  // same address (the other members' address tests are decided) and its pullups then gather
  // their source port tests as in a port list (expr_gen_sets.cpp, gen_set): the single ports up
  // to the first range, or that range when it leads.
  Intervals lead(const Intervals& ports) const {
    if (adir_ == QDir::kDefault) return {ports.front()};
    Intervals out;
    for (const auto& iv : ports) {
      if (iv.first != iv.second) {
        if (out.empty()) out.push_back(iv);
        break;
      }
      out.push_back(iv);
    }
    return merge_intervals(std::move(out));
  }
  // With one address field, whether two members of an address repeat a port test (the same
  // port, or ranges with the same low or high end). libpcap's optimiser then decides the later
  // test from the earlier one while it threads the walk, and loses tests on the way: in
  // `(src host A and port 1) or (src host A and port 2) or ... or (src host A and port 1) or
  // (src host A and port 3)` its program no longer accepts source port 3. Such runs stay member
  // by member, where the optimiser does as libpcap's.
  bool repeats_a_port_test() const {
    std::vector<std::pair<uint32_t, uint32_t>> tests;  // (address rank, kind << 16 | value)
    for (size_t r = 0; r < addrs_.size(); ++r)
      for (const auto& [lo, hi] : addrs_[r].ports) {
        if (lo == hi) {
          tests.emplace_back(r, lo);
        } else {
          tests.emplace_back(r, 1u << 16 | lo);
          tests.emplace_back(r, 2u << 16 | hi);
        }
      }
    std::sort(tests.begin(), tests.end());
    return std::adjacent_find(tests.begin(), tests.end()) != tests.end();
  }
  // Words, the complex addresses' tables, the search order, the prefix branch's ports.
  void tables() {
    for (size_t r = 0; r < addrs_.size(); ++r) {
      Addr& a = addrs_[r];
      const Intervals first = lead(a.ports);
      a.ports = merge_intervals(std::move(a.ports));
      const bool simple = a.ports.size() == 1 && a.ports[0].first == a.ports[0].second;
      a.word = (static_cast<uint32_t>(r) << kRankShift) | (simple ? a.ports[0].first : kComplex);
      if (simple) continue;
      const uint32_t key = static_cast<uint32_t>(r) << 16;
      for (const auto& [lo, hi] : first) first_.emplace_back(key | lo, key | hi);
      for (const auto& [lo, hi] : a.ports) all_.emplace_back(key | lo, key | hi);
    }
    first_ = merge_intervals(std::move(first_));
    all_ = merge_intervals(std::move(all_));
    by_value_.reserve(addrs_.size());
    for (const Addr& a : addrs_) by_value_.emplace_back(a.net, a.word);
    std::sort(by_value_.begin(), by_value_.end());
    // the leading members of member 1's address (the prefix branch)
    while (prefix_ < ms_.size() && ms_[prefix_].net == ms_.front().net) ++prefix_;
    Intervals pre;
    for (size_t i = 0; i < prefix_; ++i) pre.emplace_back(ms_[i].lo, ms_[i].hi);
    prefix_ports_ = merge_intervals(std::move(pre));
  }

  Insn ld_mem(Slot s) const { return ins(c::kLd | c::kMem, slot_[s]); }
  Insn ldx_mem(Slot s) const { return ins(c::kLdx | c::kMem, slot_[s]); }
  Insn st(Slot s) const { return ins(c::kSt, slot_[s]); }
  std::vector<Insn> port_load(uint32_t off, Slot s) {
    std::vector<Insn> v = g_.load(Rel::kTranIpv4, off, 2);
    v.push_back(st(s));
    return v;
  }

  Cond blk(std::vector<Insn> s, uint16_t jop, uint32_t k) {
    Cond b = g_.test(std::move(s), jop, k);
    g_.f_.blocks[static_cast<size_t>(b.entry)].opaque = true;
    return b;
  }
  // A block whose two exits go to one place (emitted as a fall-through or `ja`): t only.
  Cond seq(std::vector<Insn> s) {
    Cond b = blk(std::move(s), c::kJeq, 0);
    b.t = g_.concat(b.t, b.f);
    b.f = -1;
    return b;
  }
  void prepend(const Cond& b, std::vector<Insn> s) {
    auto& st = g_.f_.blocks[static_cast<size_t>(b.entry)].stmts;
    st.insert(st.begin(), s.begin(), s.end());
  }
  // `a` then, on `a`'s exits of list `which` (t or f), `b`; the other exits of both are kept.
  Cond then(Cond a, bool on_true, Cond b) {
    g_.patch(on_true ? a.t : a.f, b.entry);
    Cond r;
    r.entry = a.entry;
    r.t = g_.concat(on_true ? -1 : a.t, b.t);
    r.f = g_.concat(on_true ? a.f : -1, b.f);
    return r;
  }

  // The value `root` computes in A, among the intervals iv (never empty): the existing search,
  // or, when iv covers every value up to hi_known, a test that always holds (its loads stay).
  Cond in_set(std::vector<Insn> root, const Intervals& iv, uint32_t hi_known) {
    Cond r = g_.search(iv, 0, iv.size(), 0, hi_known);
    if (r.cval == 1) return blk(std::move(root), c::kJge, 0);
    prepend(r, std::move(root));
    return r;
  }

  // Balanced search of A over by_value_[l, r): true exits with X = the address's word.
  Cond data_search(size_t l, size_t r) {
    if (r - l > kPairBucket) {
      const size_t mid = l + (r - l) / 2;
      Cond b = blk({}, c::kJge, by_value_[mid].first);
      Cond hi = data_search(mid, r);
      Cond lo = data_search(l, mid);
      g_.patch(b.t, hi.entry);
      g_.patch(b.f, lo.entry);
      b.t = g_.concat(hi.t, lo.t);
      b.f = g_.concat(hi.f, lo.f);
      return b;
    }
    Cond out;
    int pending = -1;
    for (size_t i = l; i < r; ++i) {
      Cond t = blk({ins(c::kLdx | c::kImm, by_value_[i].second)}, c::kJeq, by_value_[i].first);
      if (out.entry < 0) out.entry = t.entry;
      else g_.patch(pending, t.entry);
      out.t = g_.concat(out.t, t.t);
      pending = t.f;
    }
    out.f = pending;
    return out;
  }
  // The address field at `off` in the IPv4 header (under the run's netmask) searched: true
  // exits with X = its word, false exits when it is no member's.
  Cond search_field(uint32_t off) {
    std::vector<Insn> s = g_.load(Rel::kLinkPl, off, 4);
    if (mask_ != 0xffffffffu) s.push_back(ins(c::kAlu | c::kAnd | c::kK, mask_));
    Cond r = data_search(0, by_value_.size());
    prepend(r, std::move(s));
    return r;
  }

  // The port primitive's IPv4 tests (gen_portop: protocol, then not a fragment): ordinary
  // self-contained blocks, which the optimiser relates to the expression's other protocol tests
  // (`tcp and (... udp port ...)` rejects all packets, as libpcap finds).
  Cond proto_test() {
    auto one = [&](uint32_t proto) {
      Cond p = g_.cmp(Rel::kLinkPl, 9, 1, proto);
      return g_.and_(p, g_.ipfrag());
    };
    if (proto_ >= 0) return one(static_cast<uint32_t>(proto_));
    Cond tcp = one(kIpProtoTcp);
    Cond tu = g_.or_(tcp, one(kIpProtoUdp));
    Cond sctp = one(kIpProtoSctp);
    return g_.or_(sctp, tu);  // `port`: SCTP, TCP or UDP, in libpcap's order
  }

  // Is the port in slot `p` among the ports of the address whose word is in slot `w`
  // (`first`: of its first member only)? `pre` runs first.
  Cond word_has(std::vector<Insn> pre, Slot w, Slot p, bool first) {
    const Intervals& table = first ? first_ : all_;
    pre.push_back(ld_mem(w));
    // a simple word's low 17 bits are its port; a complex word's and kNone's are not a port
    std::vector<Insn> cmp = {ins(c::kAlu | c::kAnd | c::kK, 0x1ffff), ldx_mem(p)};
    if (table.empty()) {
      for (const Insn& i : cmp) pre.push_back(i);
      return blk(std::move(pre), c::kJeq | c::kX, 0);
    }
    Cond is_complex = blk(std::move(pre), c::kJset, kComplex);
    Cond simple = blk(std::move(cmp), c::kJeq | c::kX, 0);
    // (rank << 16) | port; kNone's rank (all ones) is no address's
    Cond by_rank = in_set({ins(c::kAlu | c::kRsh | c::kK, kRankShift), ins(c::kAlu | c::kLsh | c::kK, 16),
                           ldx_mem(p), ins(c::kAlu | c::kOr | c::kX)},
                          table, 0xffffffffu);
    g_.patch(is_complex.f, simple.entry);
    g_.patch(is_complex.t, by_rank.entry);
    Cond r;
    r.entry = is_complex.entry;
    r.t = g_.concat(simple.t, by_rank.t);
    r.f = g_.concat(simple.f, by_rank.f);
    return r;
  }
  // Any of the given tests (each on its own false exit).
  Cond any_of(std::vector<Cond> cs) {
    Cond r = cs.front();
    for (size_t i = 1; i < cs.size(); ++i) r = then(r, false, cs[i]);
    return r;
  }

  // The port tests of `port`/`src port`/`dst port` after the protocol tests, for the
  // addresses whose words are in `words` (pdir src or dst: the one port field, loaded once).
  Cond ports_of(std::vector<Slot> words) {
    std::vector<Cond> cs;
    std::vector<Insn> load = port_load(pdir_ == QDir::kDst ? 2 : 0, kSport);
    for (Slot w : words) {
      cs.push_back(word_has(std::move(load), w, kSport, false));
      load.clear();
    }
    return any_of(std::move(cs));
  }
  // `port` (both fields): the source port against m1's ports (m1's word in words[0] for one
  // field, in kMin for two), then the destination port loaded, then both ports against every
  // matching address's ports.
  Cond ports_of_first(std::vector<Slot> words) {
    const Slot m1 = words.size() == 1 ? words[0] : kMin;
    std::vector<Cond> cs;
    cs.push_back(word_has(port_load(0, kSport), m1, kSport, true));
    std::vector<Insn> load = port_load(2, kDport);
    for (Slot w : words)
      for (Slot p : {kSport, kDport}) {
        cs.push_back(word_has(std::move(load), w, p, false));
        load.clear();
      }
    return any_of(std::move(cs));
  }

  // `host A and port P` with both address fields (see the file comment).
  Cond both_fields() {
    const uint32_t n1 = ms_.front().net;
    std::vector<Insn> s = g_.load(Rel::kLinkPl, 12, 4);
    if (mask_ != 0xffffffffu) s.push_back(ins(c::kAlu | c::kAnd | c::kK, mask_));
    Cond first = blk(std::move(s), c::kJeq, n1);  // S is member 1's address: the prefix branch

    // main branch: S's word to kA, D's word in X at the tail
    Cond src = search_field(12);
    Cond found = seq({ins(c::kStx, slot_[kA])});
    Cond none = seq({ins(c::kLdx | c::kImm, kNone), ins(c::kStx, slot_[kA])});
    Cond dst = search_field(16);
    Cond dst_none = seq({ins(c::kLdx | c::kImm, kNone)});
    g_.patch(first.f, src.entry);
    g_.patch(src.t, found.entry);
    g_.patch(src.f, none.entry);
    g_.patch(g_.concat(found.t, none.t), dst.entry);
    g_.patch(dst.f, dst_none.entry);

    Cond out;
    out.entry = first.entry;
    Cond tail = pdir_ == QDir::kDefault ? tail_both() : tail_one();
    g_.patch(g_.concat(dst.t, dst_none.t), tail.entry);
    out.t = tail.t;
    out.f = tail.f;

    // prefix branch: the port tests of the leading members of S's address, then, if other
    // members follow, the destination field (its load is the walk's next one) with S's word
    Cond rest;
    if (prefix_ < ms_.size()) {
      const uint32_t w = addrs_.front().word;
      rest = seq({ins(c::kLd | c::kImm, w), st(kA)});
      g_.patch(rest.t, dst.entry);
      rest.t = -1;
    } else {
      rest = const_cond(false);
    }
    auto to_rest = [&](int list) {
      if (rest.cval == 0) out.f = g_.concat(out.f, list);
      else g_.patch(list, rest.entry);
    };
    Cond p = proto_test();
    g_.patch(first.t, p.entry);
    to_rest(p.f);
    Cond ports;
    if (pdir_ == QDir::kDefault) {
      const Intervals m1 = {{ms_.front().lo, ms_.front().hi}};
      Cond s1 = in_set(port_load(0, kSport), m1, 0xffff);
      Cond d = in_set(port_load(2, kDport), prefix_ports_, 0xffff);
      Cond s2 = in_set({ld_mem(kSport)}, prefix_ports_, 0xffff);
      ports = any_of({s1, d, s2});
    } else {
      ports = in_set(port_load(pdir_ == QDir::kDst ? 2 : 0, kSport), prefix_ports_, 0xffff);
    }
    g_.patch(p.t, ports.entry);
    out.t = g_.concat(out.t, ports.t);
    to_rest(ports.f);
    return out;
  }
  // Both address fields, both port fields: m1's word = the smaller of S's (kA) and D's (X).
  Cond tail_both() {
    Cond cmp = blk({ins(c::kStx, slot_[kB]), ld_mem(kA)}, c::kJgt | c::kX, 0);
    Cond take_d = seq({ins(c::kMisc | c::kTxa)});
    Cond no_member = blk({}, c::kJeq, kNone);  // A = the smaller word: neither address is a member's
    g_.patch(cmp.t, take_d.entry);
    g_.patch(g_.concat(cmp.f, take_d.t), no_member.entry);
    Cond keep = seq({st(kMin)});
    Cond p = proto_test();
    g_.patch(no_member.f, keep.entry);
    g_.patch(keep.t, p.entry);
    Cond ports = ports_of_first({kA, kB});
    g_.patch(p.t, ports.entry);
    Cond r;
    r.entry = cmp.entry;
    r.t = ports.t;
    r.f = g_.concat(no_member.t, g_.concat(p.f, ports.f));
    return r;
  }
  // Both address fields, one port field.
  Cond tail_one() {
    // the AND of two words is all ones only when both are (ranks are below 2^15 - 1)
    Cond no_member = blk({ins(c::kStx, slot_[kB]), ld_mem(kA), ins(c::kAlu | c::kAnd | c::kX)}, c::kJeq, kNone);
    Cond p = proto_test();
    g_.patch(no_member.f, p.entry);
    Cond ports = ports_of({kA, kB});
    g_.patch(p.t, ports.entry);
    Cond r;
    r.entry = no_member.entry;
    r.t = ports.t;
    r.f = g_.concat(no_member.t, g_.concat(p.f, ports.f));
    return r;
  }

  Gen& g_;
  const std::vector<SetMember>& ms_;
  uint32_t mask_ = 0xffffffffu;
  QDir adir_ = QDir::kDefault, pdir_ = QDir::kDefault;
  int proto_ = -1;
  uint32_t slot_[kPairSlots] = {};
  std::vector<Addr> addrs_;
  std::vector<std::pair<uint32_t, uint32_t>> by_value_;  // (address, word), sorted
  Intervals first_, all_;  // complex addresses: (rank << 16 | port) of the first member / all
  size_t prefix_ = 0;      // members at the front with member 1's address
  Intervals prefix_ports_;
};

Cond Gen::gen_pairs(const std::vector<SetMember>& ms, const std::vector<int32_t>& members) {
  PairLowering pl(*this, ms);
  if (next_reg_ + kPairSlots <= vm::kMemWords && pl.worth_it()) {
    for (uint32_t i = 0; i < kPairSlots; ++i) f_.mem_init_always |= static_cast<uint16_t>(1u << (next_reg_ + i));
    return pl.build();
  }
  // no free scratch slots, or too many addresses: member by member
  Cond r = gen(members.front());
  for (size_t i = 1; i < members.size(); ++i) r = or_(r, gen(members[i]));
  return r;
}

}  // namespace bpf::compiler::detail
