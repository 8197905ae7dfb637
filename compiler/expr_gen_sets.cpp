// Set-aware lowering of big filters: a disjunction of many address or port primitives of one
// shape (`host A or host B or ...`, `net N1 or net N2 ...`, `port P1 or portrange L-H or ...`,
// with one protocol and direction qualifier) is lowered as ONE primitive whose comparison with
// the member value is a balanced search over the members' sorted, merged intervals (jge splits,
// buckets of up to kBucket jeq/range tests at the leaves): a packet costs O(log n) comparisons
// instead of n, and the program O(n) instructions (a 1,000-host list fits in 4,096).
//
// Meaning, snapped packets included: the primitive's structure (EtherType and protocol checks,
// src then dst) is the one a single member gets, so the packet loads happen on the same paths
// as in libpcap's optimised program for such a list (its pullups gather the src tests of every
// member, then the dst tests: `ld [26]; jeq A; jeq B ...; ld [30]; jeq A ...`): a load that
// fails rejects there and only there. Checked against libpcap -O1 for lists it still optimises
// fully, and against libpcap -O0 on full-length packets for big lists
// (tests/expr/big_filter_test.cpp).
//
// IPv6 host and net lists are searched by expr_gen_sets_ip6.cpp (a trie over the address words
// that keeps libpcap's member-by-member walk on snapped packets).
// MAC address lists (`ether host`, `ether src|dst`) are searched too (ether_search), and IP
// protocol lists (`proto N`, `ip proto N`, `ip6 proto N`: the protocol field and, for IPv6,
// the one behind a fragment header).
// Only at -O1 and above (our -O0 is libpcap's unoptimised program, member by member), only for
// runs of at least kMinSet consecutive members, and not where libpcap does not optimise
// (protochain, geneve). The search blocks are opaque (they test A as the root block loaded it;
// the optimiser relates them to nothing); identical ones merge (ARP and RARP share a search).
// A search block whose two exits coincide is skipped, its load included, as libpcap skips its
// member tests then (`host A or ... or ip`: expr_opt.cpp, leaves_nothing_used).
#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "compiler/expr_gen.hpp"

namespace bpf::compiler::detail {

namespace {

constexpr size_t kMinSet = 8;  // shorter runs keep the member-by-member form
// IPv4 address, port and protocol runs up to this long keep the member-by-member form too: the
// optimiser gathers them as libpcap's does, in whatever context, and expr_chains.cpp turns the
// gathered `jeq` chains into searches afterwards (exact by construction). Longer runs are
// searched here, before optimisation: libpcap's optimiser is quadratic in them (and ours bounded,
// so it would stop gathering), and their reference is libpcap's unoptimised program.
constexpr size_t kMaxChainRun = 64;
constexpr size_t kBucket = 4;  // leaves test up to this many intervals in a row

// "N" or "L-H" with decimal numbers only (names go the normal way: they may resolve to
// different tcp and udp numbers).
bool parse_port_range(const std::string& s, uint32_t* lo, uint32_t* hi) {
  auto num = [](std::string_view t, uint32_t* v) {
    if (t.empty() || t.size() > 5) return false;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), *v);
    return ec == std::errc() && p == t.data() + t.size() && *v <= 65535;
  };
  const size_t dash = s.find('-');
  if (dash == std::string::npos) return num(s, lo) && (*hi = *lo, true);
  return num(std::string_view(s).substr(0, dash), lo) &&
         num(std::string_view(s).substr(dash + 1), hi);
}

}  // namespace

// A member of a set-able run, or nothing (then the node is lowered the ordinary way, which also
// reports any error it has).
std::optional<SetMember> Gen::set_member(const Node& n) const {
  if (n.kind == NodeKind::kAnd) return pair_member(n);  // expr_gen_pairs.cpp
  if (n.kind != NodeKind::kId) return std::nullopt;
  const Qual q = n.qual;
  if (q.dir != QDir::kDefault && q.dir != QDir::kSrc && q.dir != QDir::kDst && q.dir != QDir::kOr)
    return std::nullopt;
  if (q.proto == QProto::kDecnet) return std::nullopt;  // DECnet hosts are not IPv4 addresses
  SetMember m;
  m.qual = q;
  switch (n.id_kind) {
    case IdKind::kHost4: {  // a whole address, `host A` / `A`; `net A.B` (gen_ncode's net)
      uint32_t v;
      const int vlen = atoin(n.str, &v);
      if (vlen < 0) return std::nullopt;
      m.cls = SetMember::kIpv4;
      if (q.addr == QAddr::kNet) {
        uint32_t mask = 0xffffffffu;
        while (v && (v & 0xff000000u) == 0) {
          v <<= 8;
          mask <<= 8;
        }
        m.lo = v & mask;
        m.hi = v | ~mask;
        return m;
      }
      if (q.addr != QAddr::kDefault && q.addr != QAddr::kHost) return std::nullopt;
      if (vlen != 32) return std::nullopt;
      m.lo = m.hi = v;
      return m;
    }
    case IdKind::kHost4Len: {  // `net A/len`
      if (q.addr != QAddr::kDefault && q.addr != QAddr::kNet) return std::nullopt;
      uint32_t a;
      const int alen = atoin(n.str, &a);
      if (alen < 0 || n.num == 0 || n.num > 32) return std::nullopt;
      a <<= 32 - alen;
      const uint32_t mask = 0xffffffffu << (32 - n.num);
      if (a & ~mask) return std::nullopt;
      m.cls = SetMember::kIpv4;
      m.lo = a;
      m.hi = a | ~mask;
      return m;
    }
    case IdKind::kHost6:
    case IdKind::kHost6Len:
      return set_member6(n);  // expr_gen_sets_ip6.cpp
    case IdKind::kEther: {  // `ether host M`, `ether src M`, ...
      if (dlt_ != kDltEn10mb || prev_dlt_ == kDltSunatm) return std::nullopt;  // one by one
      if ((q.addr != QAddr::kHost && q.addr != QAddr::kDefault) || q.proto != QProto::kLink)
        return std::nullopt;
      if (wlan_) return std::nullopt;  // 802.11 addresses depend on the frame (gen_wlanhostop)
      uint8_t ea[6];
      if (!parse_mac(n.str, ea)) return std::nullopt;
      m.cls = SetMember::kEther;
      m.lo = (uint32_t(ea[2]) << 24) | (uint32_t(ea[3]) << 16) | (uint32_t(ea[4]) << 8) | ea[5];
      m.hi = (uint32_t(ea[0]) << 8) | ea[1];
      return m;
    }
    case IdKind::kNum:
      if (q.addr == QAddr::kProto) {  // `proto N`, `ip proto N`, `ip6 proto N`
        // 44 (IPv6 fragment) is also the value libpcap's ip6 test looks behind: a member that
        // is 44 would accept where libpcap's member order loads the fragment header first.
        if (n.num > 255 || n.num == kIpProtoFragment || q.dir != QDir::kDefault) return std::nullopt;
        if (q.proto != QProto::kDefault && q.proto != QProto::kIp && q.proto != QProto::kIpv6)
          return std::nullopt;
        m.cls = SetMember::kProto;
        m.lo = m.hi = n.num;
        return m;
      }
      if (q.addr != QAddr::kPort && q.addr != QAddr::kPortrange) return std::nullopt;
      if (n.num > 65535) return std::nullopt;
      m.cls = SetMember::kPort;
      m.lo = m.hi = n.num;
      break;
    case IdKind::kName:
      if (q.addr != QAddr::kPort && q.addr != QAddr::kPortrange) return std::nullopt;
      if (!parse_port_range(n.str, &m.lo, &m.hi)) return std::nullopt;
      if (q.addr == QAddr::kPort && m.lo != m.hi) return std::nullopt;
      if (m.lo > m.hi) std::swap(m.lo, m.hi);
      m.cls = SetMember::kPort;
      break;
    default:
      return std::nullopt;
  }
  // ports: one protocol qualifier (port_proto's), `port` and `portrange` alike
  if (q.proto != QProto::kDefault && q.proto != QProto::kTcp && q.proto != QProto::kUdp &&
      q.proto != QProto::kSctp)
    return std::nullopt;
  m.qual.addr = QAddr::kPortrange;  // ports are ranges [v, v]: both qualifiers group together
  return m;
}

bool Gen::same_set(const SetMember& a, const SetMember& b) {
  return a.cls == b.cls && a.qual.proto == b.qual.proto && a.qual.dir == b.qual.dir &&
         a.qual.addr == b.qual.addr &&
         (a.cls != SetMember::kPair ||
          (a.mask == b.mask && a.pqual.proto == b.pqual.proto && a.pqual.dir == b.pqual.dir));
}

// The leaves of the or-tree rooted at `root`, left to right, split into segments: runs of at
// least kMinSet set members of one shape, and single other subtrees. Empty when no run
// qualifies (the caller lowers the tree the ordinary way).
std::vector<Gen::OrSegment> Gen::or_segments(int32_t root) {
  std::vector<OrSegment> out;
  if (opts_.opt_level == 0 || f_.unoptimised_reference) return out;
  // Not on ARCnet: libpcap tests its IPv4 with two protocol ids (RFC 1051 and RFC 1201) and its
  // optimiser then does not gather the src tests of every member ahead of the dst tests, so a
  // snapped packet meets another failing load (tests/expr/big_filter_links_test.cpp). Member
  // by member there, as libpcap.
  if (opts_.linktype == kDltArcnet || opts_.linktype == kDltArcnetLinux) return out;
  if (no_sets_.empty()) no_sets_.assign(ast_.nodes.size(), 0);
  if (no_sets_[static_cast<size_t>(root)]) return out;  // inside a tree already looked at
  std::vector<int32_t> leaves, stack{root};
  while (!stack.empty()) {
    const int32_t i = stack.back();
    stack.pop_back();
    const Node& n = ast_.at(i);
    if (n.kind == NodeKind::kOr) {
      no_sets_[static_cast<size_t>(i)] = 1;  // each `or` tree is looked at once (linear)
      stack.push_back(n.b);
      stack.push_back(n.a);
    } else {
      leaves.push_back(i);
    }
  }
  bool any = false;
  for (size_t i = 0; i < leaves.size();) {
    std::optional<SetMember> first = set_member(ast_.at(leaves[i]));
    size_t j = i + 1;
    if (first)
      while (j < leaves.size()) {
        std::optional<SetMember> m = set_member(ast_.at(leaves[j]));
        if (!m || !same_set(*first, *m)) break;
        ++j;
      }
    const bool chained = first && j - i <= kMaxChainRun &&
                         (first->cls == SetMember::kIpv4 || first->cls == SetMember::kPort ||
                          first->cls == SetMember::kProto);
    if (first && j - i >= kMinSet &&
        (chained || std::binary_search(no_set_runs_.begin(), no_set_runs_.end(), leaves[i]))) {
      for (; i < j; ++i) out.push_back({leaves[i], {}});  // the whole run member by member
    } else if (first && j - i >= kMinSet &&
               (first->cls != SetMember::kPair || pair_run_allowed(root, leaves, i, j))) {
      out.push_back({leaves[i], std::vector<int32_t>(leaves.begin() + static_cast<long>(i),
                                                     leaves.begin() + static_cast<long>(j))});
      any = true;
      i = j;
    } else {
      out.push_back({leaves[i], {}});
      ++i;
    }
  }
  if (!any) out.clear();
  return out;
}

std::vector<std::pair<uint32_t, uint32_t>> merge_intervals(std::vector<std::pair<uint32_t, uint32_t>> iv) {
  std::sort(iv.begin(), iv.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (const auto& [lo, hi] : iv) {
    if (!merged.empty() && (merged.back().second == 0xffffffffu || lo <= merged.back().second + 1)) {
      merged.back().second = std::max(merged.back().second, hi);
    } else {
      merged.emplace_back(lo, hi);
    }
  }
  return merged;
}

// Lowers a run as its first member's primitive, with the member comparison replaced by the
// search over the members' intervals (member_test). The groups follow libpcap's optimised
// program, so that snapped packets fail their loads where they do there:
//  - addresses: one search per netmask, in the order the masks first appear (libpcap's pullups
//    gather the tests of one value, `ld [26]; and #m`; the src tests of a mask, then its dst
//    tests, then the next mask's);
//  - ports: one search when all are single ports (gathered the same way); with port ranges
//    (two tests each, which stop libpcap's pullups) libpcap gathers only the leading single
//    ports (or the leading range) before it loads the dst field. Then `port_dir` searches the
//    src field for those, loads the dst field (where libpcap's second load fails), and only
//    then searches both fields for all members (set_first_, guarded_port_pair).
Cond Gen::gen_set(const std::vector<int32_t>& members) {
  const size_t b0 = f_.blocks.size();
  Cond r = gen_set_searches(members);
  set_runs_.push_back({members.front(), b0, f_.blocks.size()});
  return r;
}

// A set's search is opaque to the optimiser: libpcap's optimiser, which sees the members' tests,
// relates them to every other test of the same loaded value (edge dominators, value numbers):
// `hosts or not hosts` becomes "accept" with no load at all, `not hosts and host A` (A a member)
// "rejects all packets", `(ports) and src port P` skips loads. Where any block outside a run
// loads what the run's searches test (a packet load with the same code and offset, in another
// run or anywhere else), that run is lowered member by member instead (Gen::relower; one more
// lowering, linear): the searches only go where no other test can see their value.
std::vector<int32_t> Gen::conflicting_set_runs() const {
  auto packet_load = [](const Insn& in) {
    return (in.code & 0x07) == c::kLd && ((in.code & 0xe0) == c::kAbs || (in.code & 0xe0) == c::kInd);
  };
  auto key = [](const Insn& in) { return (uint64_t(in.code) << 32) | in.k; };
  // the loads of each run's searches (its opaque blocks' statements: search roots, guards)
  std::vector<std::pair<uint64_t, size_t>> keys;  // (load, run)
  for (size_t r = 0; r < set_runs_.size(); ++r)
    for (size_t b = set_runs_[r].b0; b < set_runs_[r].b1; ++b)
      if (f_.blocks[b].opaque)
        for (const Insn& in : f_.blocks[b].stmts)
          if (packet_load(in)) keys.emplace_back(key(in), r);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::vector<uint8_t> bad(set_runs_.size(), 0);
  size_t run = 0;  // the run whose range holds block b, if any (ranges ascend)
  for (size_t b = 0; b < f_.blocks.size(); ++b) {
    while (run < set_runs_.size() && set_runs_[run].b1 <= b) ++run;
    const bool inside = run < set_runs_.size() && set_runs_[run].b0 <= b;
    for (const Insn& in : f_.blocks[b].stmts) {
      if (!packet_load(in)) continue;
      const uint64_t k = key(in);
      for (auto it = std::lower_bound(keys.begin(), keys.end(), std::make_pair(k, size_t(0)));
           it != keys.end() && it->first == k; ++it)
        if (!inside || it->second != run) {
          bad[it->second] = 1;
          if (inside) bad[run] = 1;
        }
    }
  }
  std::vector<int32_t> out;
  for (size_t r = 0; r < set_runs_.size(); ++r)
    if (bad[r]) out.push_back(set_runs_[r].first);
  return out;
}

Cond Gen::gen_set_searches(const std::vector<int32_t>& members) {
  std::vector<SetMember> ms;
  ms.reserve(members.size());
  for (int32_t i : members) ms.push_back(*set_member(ast_.at(i)));
  const Node& n = ast_.at(members.front());
  col_ = n.column;
  const Qual q = n.qual;
  if (ms.front().cls == SetMember::kPair) return gen_pairs(ms, members);
  if (ms.front().cls == SetMember::kIpv6) return gen_set6(ms, members);
  if (ms.front().cls == SetMember::kIpv4) {
    std::vector<uint32_t> masks;  // ~(hi - lo), in order of first appearance
    for (const SetMember& m : ms)
      if (std::find(masks.begin(), masks.end(), ~(m.hi - m.lo)) == masks.end()) masks.push_back(~(m.hi - m.lo));
    Cond r;
    for (size_t g = 0; g < masks.size(); ++g) {
      // the search compares `field & mask` (libpcap's value) with the network addresses
      std::vector<std::pair<uint32_t, uint32_t>> iv;
      for (const SetMember& m : ms)
        if (~(m.hi - m.lo) == masks[g]) iv.emplace_back(m.lo, m.lo);
      const auto merged = merge_intervals(std::move(iv));
      set_ = &merged;
      Cond c = host(merged.front().first, masks[g], q.proto, q.dir, q.addr);
      set_ = nullptr;
      r = g == 0 ? c : or_(r, c);
    }
    return r;
  }
  if (ms.front().cls == SetMember::kProto) {
    std::vector<std::pair<uint32_t, uint32_t>> iv;
    for (const SetMember& m : ms) iv.emplace_back(m.lo, m.hi);
    const auto merged = merge_intervals(std::move(iv));
    set_ = &merged;
    Cond r = proto_q(ms.front().lo, q.proto, q.dir);
    set_ = nullptr;
    return r;
  }
  if (ms.front().cls == SetMember::kEther) {
    if (dlt_ != kDltEn10mb) return ehostop(nullptr, q.dir);  // its error
    std::vector<std::pair<uint32_t, uint32_t>> macs;  // (low 32 bits, high 16 bits)
    for (const SetMember& m : ms) macs.emplace_back(m.lo, m.hi);
    std::sort(macs.begin(), macs.end());
    macs.erase(std::unique(macs.begin(), macs.end()), macs.end());
    auto side = [&](uint32_t off) { return ether_search(macs, off); };
    if (q.dir == QDir::kSrc) return side(6);
    if (q.dir == QDir::kDst) return side(0);
    Cond src = side(6);
    return or_(src, side(0));
  }
  std::vector<std::pair<uint32_t, uint32_t>> iv;
  bool ranges = false;
  for (const SetMember& m : ms) {
    iv.emplace_back(m.lo, m.hi);
    ranges |= m.lo != m.hi;
  }
  const auto merged = merge_intervals(std::move(iv));
  // the members libpcap gathers before its first load of the dst field: the single ports up
  // to the first range (a two-test range stops its pullups), or that range when it leads
  std::vector<std::pair<uint32_t, uint32_t>> lead;
  for (const SetMember& m : ms) {
    if (m.lo != m.hi) {
      if (lead.empty()) lead.emplace_back(m.lo, m.hi);
      break;
    }
    lead.emplace_back(m.lo, m.hi);
  }
  const auto first = merge_intervals(std::move(lead));
  set_ = &merged;
  set_first_ = ranges ? &first : nullptr;
  Cond r = port(port_proto(q.proto), q.dir, true, ms.front().lo, ms.front().hi);
  set_ = nullptr;
  set_first_ = nullptr;
  return r;
}

// libpcap's order for `src or dst` port sets with ranges (see gen_set): the leading members'
// src search, the dst field loaded (always true: only its failure matters), then the searches
// of both fields for every member.
Cond Gen::guarded_port_pair(bool v6) {
  const Rel rel = v6 ? Rel::kTranIpv6 : Rel::kTranIpv4;
  const auto* all = set_;
  set_ = set_first_;
  Cond first = member_test(rel, 0, 2, 0, 0xffffffffu);
  set_ = all;
  Cond guard = test(load(rel, 2, 2), c::kJge, 0);
  Cond src = member_test(rel, 0, 2, 0, 0xffffffffu);
  Cond rest = or_(src, member_test(rel, 2, 2, 0, 0xffffffffu));
  return or_(first, and_(guard, rest));
}

// MAC addresses at `off` in the link header, compared as libpcap's gen_bcmp does (the 4 bytes
// at off+2, then the 2 at off: the first load ends at byte 12 either way, so a snapped packet
// fails where libpcap's program fails): a search on the low 32 bits, then, for the one that
// matched, a search on the high 16 bits of the addresses sharing it.
Cond Gen::ether_search(const std::vector<std::pair<uint32_t, uint32_t>>& macs, uint32_t off) {
  std::vector<std::pair<uint32_t, uint32_t>> lows;
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> highs;
  for (const auto& [lo, hi] : macs) {
    if (lows.empty() || lows.back().first != lo) {
      lows.emplace_back(lo, lo);
      highs.emplace_back();
    }
    highs.back().emplace_back(hi, hi);
  }
  std::vector<int> per(lows.size(), -1);
  Cond r = search(lows, 0, lows.size(), 0, 0xffffffffu, &per);
  f_.blocks[static_cast<size_t>(r.entry)].stmts = load(Rel::kLinkHdr, off + 2, 4);
  for (size_t i = 0; i < lows.size(); ++i) {
    Cond h = search(highs[i], 0, highs[i].size(), 0, 0xffff);
    if (h.cval == 1) {  // every high half: the low half decided (its load was the one to fail)
      r.t = concat(r.t, per[i]);
      continue;
    }
    f_.blocks[static_cast<size_t>(h.entry)].stmts = load(Rel::kLinkHdr, off, 2);
    patch(per[i], h.entry);
    r.t = concat(r.t, h.t);
    r.f = concat(r.f, h.f);
  }
  return r;
}

// The comparison of a member field (under `mask`) with the member value: one test, or (within
// gen_set) the search over the set's intervals.
Cond Gen::member_test(Rel rel, uint32_t off, uint32_t size, uint32_t v, uint32_t mask) {
  if (!set_) return mcmp(rel, off, size, v, mask);
  std::vector<Insn> value = load(rel, off, size);
  if (mask != 0xffffffffu) value.push_back(ins(c::kAlu | c::kAnd | c::kK, mask));
  Cond r = search(*set_, 0, set_->size(), 0, size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
  if (r.cval == 1) return test(std::move(value), c::kJge, 0);  // every value: keep the load
  // The root of the search computes the value; every other block tests A as the root left it.
  f_.blocks[static_cast<size_t>(r.entry)].stmts = std::move(value);
  return r;
}

// Search over intervals [l, r) knowing lo_known <= x <= hi_known: a `jge` split in the middle,
// or, for up to kBucket intervals, tests in a row (points `jeq`; ranges `jgt hi` then `jge lo`,
// the intervals being sorted: x < lo is in none of the later ones). With `per`, the true exits
// of interval i go to (*per)[i] instead of the result's true list (a two-level search).
Cond Gen::search(const std::vector<std::pair<uint32_t, uint32_t>>& iv, size_t l, size_t r,
                 uint32_t lo_known, uint32_t hi_known, std::vector<int>* per) {
  auto block = [&](uint16_t jop, uint32_t k) {
    Cond b = test({}, jop, k);
    f_.blocks[static_cast<size_t>(b.entry)].opaque = true;
    return b;
  };
  if (r - l > kBucket) {
    const size_t mid = l + (r - l) / 2;
    const uint32_t split = iv[mid].first;
    Cond b = block(c::kJge, split);
    Cond hi_side = search(iv, mid, r, split, hi_known, per);
    Cond lo_side = search(iv, l, mid, lo_known, split - 1, per);
    Cond out;
    out.entry = b.entry;
    patch(b.t, hi_side.entry);
    patch(b.f, lo_side.entry);
    out.t = concat(hi_side.t, lo_side.t);
    out.f = concat(hi_side.f, lo_side.f);
    return out;
  }
  // a row: each interval's test; "not this one" goes on to the next, the last to false
  Cond out;
  int pending = -1;  // patch list of edges that continue with the next interval
  for (size_t i = l; i < r; ++i) {
    const auto [lo, hi] = iv[i];
    const bool need_lo = lo > lo_known, need_hi = hi < hi_known;
    Cond t;
    if (!need_lo && !need_hi) {
      t = const_cond(true);  // lo_known..hi_known lies inside this interval
    } else if (lo == hi) {
      t = block(c::kJeq, lo);
    } else if (need_hi) {
      Cond above = block(c::kJgt, hi);  // x > hi: a later interval, maybe
      t.entry = above.entry;
      t.f = above.t;
      if (need_lo) {
        Cond ge = block(c::kJge, lo);
        patch(above.f, ge.entry);
        t.t = ge.t;
        out.f = concat(out.f, ge.f);  // x < lo: in no later interval either
      } else {
        t.t = above.f;
      }
    } else {
      Cond ge = block(c::kJge, lo);
      t.entry = ge.entry;
      t.t = ge.t;
      t.f = ge.f;
    }
    if (t.cval == 1) {
      // every value reaching here matches: the pending edges are true exits
      if (out.entry < 0) return const_cond(true);
      int& to = per ? (*per)[i] : out.t;
      to = concat(to, pending);
      return out;
    }
    if (out.entry < 0) out.entry = t.entry;
    else patch(pending, t.entry);
    int& to = per ? (*per)[i] : out.t;
    to = concat(to, t.t);
    pending = t.f;
  }
  out.f = concat(out.f, pending);
  return out;
}

}  // namespace bpf::compiler::detail
