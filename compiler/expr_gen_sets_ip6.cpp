// Set-aware lowering of IPv6 host and net lists (`host A or host B ...`, `src host`, `dst host`,
// `ip6 net P/len ...`, one direction qualifier per run; the run is found by or_segments,
// expr_gen_sets.cpp): a search over the members' address words instead of a test per member.
// Tested by tests/expr/big_filter_ip6_test.cpp (BigFilters.Ipv6Lists*: every verdict, packets
// snapped at every length through the IPv6 addresses included, against libpcap -O1 and -O0);
// tests/expr/expr_kernel_test.cpp attaches 1,000-host lists.
//
// What the search must reproduce. libpcap's gen_hostop6 tests the address words in order
// (offset+0, +4, +8, +12: it builds them last word first, but gen_and puts its left operand
// first), after the EtherType; a word whose mask is 0 (nets) is `and #0` in the -O0 program and
// is deleted as a dead load by the optimiser (so a member loads its words 0 .. last, where last
// is the last word its prefix reaches). libpcap's optimiser keeps these lists member by member
// (`tcpdump -d` of 4 hosts shows the 4 src/dst chains; it only threads jumps past members
// whose tests the path has decided), so a snapped packet's verdict is that of the walk (except
// where a net contains an earlier member: see gen_set6's fallback): member 1 src words, member 1
// dst words,
// member 2 src words, ...; the first event decides: "all words of a member matched" accepts,
// "a word is needed beyond the captured bytes" rejects (a failed load ends the whole program).
//  - One field (`src` or `dst` lists): a trie over the words in order. At a node (a prefix of
//    the field's words matched), let T be the first (in list order) member completed on the
//    path and N the first member still needing a word. The node loads the next word only when
//    N comes before T (then libpcap's walk reaches member N's load of that word before any
//    acceptance, and fails there exactly when we fail); otherwise it accepts. No run-time
//    state: T and N are static.
//  - Both fields (`host`): member 1's src test first (its words, libpcap's order), then the dst
//    field's first word is loaded (libpcap's next load: it fails exactly where libpcap's member 1
//    dst test fails, and past it every src word is in the packet). Then the src trie (no load
//    can fail) leaves in X the list index of the first member the src address matches (or
//    0xffffffff), and the dst trie compares: at a node whose first waiting member N precedes
//    its first completed one, it loads the next dst word only when X > N (libpcap's walk meets
//    member N's dst load before member X's src acceptance); else it accepts. A dst search that
//    ends matching nothing accepts when X holds a member.
// Full-length packets: accepted when either field is in the set, as the list means.
// When what follows accepts every packet the list's tests lead to (`host A or ... or ip6`),
// libpcap deletes those tests, loads included; the optimiser skips the search's blocks the same
// way (expr_opt.cpp, leaves_nothing_used; BigFilters.ListsFollowedByASuperset).
// Program size: about 7 instructions per member and field for random addresses (a search
// step, then the three other words), plus 3 per member for the X bookkeeping of `host` lists;
// members sharing prefixes share their words' tests.
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "compiler/expr_gen.hpp"

namespace bpf::compiler::detail {

// An IPv6 host or net primitive that a set can hold (else nothing: lowered the normal way,
// which reports its errors).
std::optional<SetMember> Gen::set_member6(const Node& n) const {
  const Qual q = n.qual;
  // the trie keeps a member index in X, which loads at variable offsets use
  if (variable_offsets()) return std::nullopt;
  if (q.proto != QProto::kDefault && q.proto != QProto::kIpv6) return std::nullopt;
  if (q.addr != QAddr::kDefault && q.addr != QAddr::kHost && q.addr != QAddr::kNet) return std::nullopt;
  if (q.dir != QDir::kDefault && q.dir != QDir::kOr && q.dir != QDir::kSrc && q.dir != QDir::kDst)
    return std::nullopt;
  in6_addr a;
  if (inet_pton(AF_INET6, n.str.c_str(), &a) != 1) return std::nullopt;
  const uint32_t plen = n.id_kind == IdKind::kHost6 ? 128 : n.num;
  if (plen == 0 || plen > 128) return std::nullopt;  // ::/0 loads nothing: not a search
  if (q.addr == QAddr::kHost && plen != 128) return std::nullopt;
  SetMember m;
  m.cls = SetMember::kIpv6;
  m.plen6 = plen;
  for (int i = 0; i < 4; ++i) {
    uint32_t w;
    std::memcpy(&w, a.s6_addr + 4 * i, 4);
    w = ntohl(w);
    const int bits = std::clamp(static_cast<int>(plen) - 32 * i, 0, 32);
    const uint32_t mask = bits == 0 ? 0 : bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
    if (w & ~mask) return std::nullopt;  // non-network bits: gen_ncode's error
    m.w6[i] = w;
  }
  // `host`, `net` and no qualifier, `ip6` and none, `src or dst` and none: the same code
  m.qual = q;
  m.qual.proto = QProto::kDefault;
  m.qual.addr = QAddr::kNet;
  if (m.qual.dir == QDir::kOr) m.qual.dir = QDir::kDefault;
  return m;
}

Cond Gen::gen_set6(const std::vector<SetMember>& ms, const std::vector<int32_t>& members) {
  constexpr uint32_t kNone = 0xffffffffu;  // no member (list indices are 1-based)
  struct Member {
    uint32_t w[4], mask[4];
    int last;      // last word the prefix reaches (libpcap -O1 loads words 0..last)
    uint32_t idx;  // position in the list, from 1
  };
  enum class Mode { kOne, kSrc, kDst };
  struct Segment {
    uint32_t lo, hi;
    std::vector<int> alive;  // members still needing words, in list order
    uint32_t t;              // first member completed on the path
  };
  // A local class has the member function's access to Gen.
  struct Trie {
    Gen& g;
    std::vector<Member> m;
    int droot = -1;                    // entry of the dst trie (kSrc terminals go there)
    std::map<uint32_t, int> ldx_of;    // kSrc terminals: `ldx #v` blocks by value
    int end_block = -1;                // kDst: "no dst member": accept iff X holds a member
    int extra_t = -1, extra_f = -1;    // exits of shared blocks, added to the root once

    Cond opaque(Cond c) {
      g.f_.blocks[static_cast<size_t>(c.entry)].opaque = true;
      return c;
    }
    Cond term_true(Mode md, uint32_t t) {
      if (md != Mode::kSrc) return const_cond(true);
      return ldx_block(t);
    }
    Cond term_none(Mode md) {
      if (md == Mode::kOne) return const_cond(false);
      if (md == Mode::kSrc) return ldx_block(kNone);
      if (end_block < 0) {
        Cond e = opaque(g.test({ins(c::kMisc | c::kTxa)}, c::kJgt, static_cast<uint32_t>(m.size())));
        end_block = e.entry;
        extra_f = g.concat(extra_f, e.t);  // X > n: the src search found nothing
        extra_t = g.concat(extra_t, e.f);
      }
      Cond r;
      r.entry = end_block;
      return r;
    }
    Cond ldx_block(uint32_t v) {
      auto [it, fresh] = ldx_of.try_emplace(v, -1);
      if (fresh) {
        Cond b = opaque(g.test({ins(c::kLdx | c::kImm, v)}, c::kJeq, 0));
        g.patch(b.t, droot);
        g.patch(b.f, droot);
        it->second = b.entry;
      }
      Cond r;
      r.entry = it->second;
      return r;
    }
    void attach(int edges, const Cond& child, Cond& out) {
      if (child.cval == 1) {
        out.t = g.concat(out.t, edges);
      } else if (child.cval == 0) {
        out.f = g.concat(out.f, edges);
      } else {
        g.patch(edges, child.entry);
        out.t = g.concat(out.t, child.t);
        out.f = g.concat(out.f, child.f);
      }
    }

    // The node after `level` words of the field at `off` matched: `alive` members need more,
    // `t` is the first completed one; `checked`: X > checked is known (kDst).
    Cond build(Mode md, uint32_t off, int level, const std::vector<int>& alive, uint32_t t,
               uint32_t checked) {
      const uint32_t n = alive.empty() ? kNone : m[static_cast<size_t>(alive[0])].idx;
      if (t < n) return term_true(md, t);
      if (alive.empty()) return term_none(md);
      const std::vector<Segment> segs = segments(level, alive, t);
      std::vector<std::pair<uint32_t, uint32_t>> iv;
      for (const Segment& s : segs) iv.emplace_back(s.lo, s.hi);
      std::vector<Insn> value = g.load(Rel::kLinkPl, off + 4 * static_cast<uint32_t>(level), 4);
      Cond s;
      std::vector<int> per(iv.size(), -1);
      if (iv.empty() || (iv.size() == 1 && iv[0].first == 0 && iv[0].second == 0xffffffffu)) {
        // one outcome for every value: the load alone (it is libpcap's, and may fail)
        s = opaque(g.test(std::move(value), c::kJge, 0));
        if (!iv.empty()) per[0] = s.t, s.t = -1;
        else s.f = g.concat(s.f, s.t), s.t = -1;
      } else {
        s = g.search(iv, 0, iv.size(), 0, 0xffffffffu, &per);
        g.f_.blocks[static_cast<size_t>(s.entry)].stmts = std::move(value);
      }
      Cond out;
      const bool check = md == Mode::kDst && n > checked;
      if (check) {  // X > n: libpcap's walk reaches member n's dst load before X's acceptance
        Cond chk = opaque(g.test({ins(c::kMisc | c::kTxa)}, c::kJgt, n));
        g.patch(chk.t, s.entry);
        out.entry = chk.entry;
        out.t = chk.f;
      } else {
        out.entry = s.entry;
      }
      for (size_t k = 0; k < segs.size(); ++k) {
        const int e = per[k];
        if (md == Mode::kSrc && segs[k].alive.empty() && e >= 0 && e % 2 == 0 &&
            Gen::next_of(g.slot(e)) < 0) {
          // the only edge to a src terminal is a test's true exit: the test itself sets X
          // (every other way out of it sets X again before the dst trie reads it)
          IrBlock& b = g.f_.blocks[static_cast<size_t>(e / 2)];
          b.stmts.insert(b.stmts.begin(), ins(c::kLdx | c::kImm, segs[k].t));
          g.patch(e, droot);
          continue;
        }
        Cond child = build(md, off, level + 1, segs[k].alive, segs[k].t, check ? n : checked);
        attach(per[k], child, out);
      }
      if (s.f >= 0) attach(s.f, t != kNone ? term_true(md, t) : term_none(md), out);
      return out;
    }

    // The value ranges of word `level` that lead somewhere other than "no member matched":
    // the elementary ranges of the members' intervals (prefixes: nested or disjoint), adjacent
    // ones with the same outcome merged.
    std::vector<Segment> segments(int level, const std::vector<int>& alive, uint32_t t) {
      const size_t w = static_cast<size_t>(level);
      std::vector<uint64_t> bounds;
      bounds.reserve(2 * alive.size());
      for (int j : alive) {
        const Member& mj = m[static_cast<size_t>(j)];
        bounds.push_back(mj.w[w]);
        bounds.push_back(uint64_t(mj.w[w] | ~mj.mask[w]) + 1);
      }
      std::sort(bounds.begin(), bounds.end());
      bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
      std::vector<std::vector<int>> in(bounds.size());
      for (int j : alive) {  // in list order, so each range's members are too
        const Member& mj = m[static_cast<size_t>(j)];
        auto lo = std::lower_bound(bounds.begin(), bounds.end(), uint64_t(mj.w[w]));
        auto hi = std::lower_bound(bounds.begin(), bounds.end(), uint64_t(mj.w[w] | ~mj.mask[w]) + 1);
        for (auto it = lo; it != hi; ++it) in[static_cast<size_t>(it - bounds.begin())].push_back(j);
      }
      std::vector<Segment> out;
      for (size_t k = 0; k + 1 < bounds.size(); ++k) {
        if (in[k].empty()) continue;
        Segment s{static_cast<uint32_t>(bounds[k]), static_cast<uint32_t>(bounds[k + 1] - 1), {}, t};
        for (int j : in[k]) {
          const Member& mj = m[static_cast<size_t>(j)];
          if (mj.last > level) s.alive.push_back(j);
          else s.t = std::min(s.t, mj.idx);
        }
        if (s.alive.empty() && s.t == t) continue;  // the same as no match
        if (!out.empty() && out.back().hi + 1 == s.lo && out.back().t == s.t && out.back().alive == s.alive) {
          out.back().hi = s.hi;
          continue;
        }
        out.push_back(std::move(s));
      }
      return out;
    }

    Cond root(Mode md, uint32_t off, const std::vector<int>& all, uint32_t checked) {
      extra_t = extra_f = -1;
      Cond r = build(md, off, 0, all, kNone, checked);
      if (r.cval < 0) {
        r.t = g.concat(r.t, extra_t);
        r.f = g.concat(r.f, extra_f);
      }
      return r;
    }
  };

  Trie tr{*this, {}};
  tr.m.reserve(ms.size());
  for (size_t i = 0; i < ms.size(); ++i) {
    Member mb{};
    for (int k = 0; k < 4; ++k) {
      const int bits = std::clamp(static_cast<int>(ms[i].plen6) - 32 * k, 0, 32);
      mb.mask[k] = bits == 0 ? 0 : bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
      mb.w[k] = ms[i].w6[k];
      if (bits > 0) mb.last = k;
    }
    mb.idx = static_cast<uint32_t>(i + 1);
    tr.m.push_back(mb);
  }
  // A net containing an earlier member that reaches further words (`host P::1 or net P::/64`)
  // makes that member's last tests useless to libpcap's optimiser (both their exits end up
  // accepting), which deletes them and their loads: not the walk the search reproduces. Such
  // runs keep the member-by-member form.
  for (size_t j = 0; j < tr.m.size(); ++j) {
    const Member& pj = tr.m[j];
    if (pj.last == 3 && pj.mask[3] == 0xffffffffu) continue;  // a host contains no other member
    for (size_t k = 0; k < j; ++k) {
      const Member& pk = tr.m[k];
      if (pk.last <= pj.last) continue;
      bool inside = true;
      for (int w = 0; w <= pj.last && inside; ++w) inside = (pk.w[w] & pj.mask[w]) == pj.w[w];
      if (!inside) continue;
      Cond r;
      for (size_t i = 0; i < members.size(); ++i) {
        const Node& n = ast_.at(members[i]);
        col_ = n.column;
        Cond c = gen_leaf(n);
        r = i ? or_(r, c) : c;
      }
      return r;
    }
  }
  std::vector<int> all(ms.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  const QDir dir = ms.front().qual.dir;
  constexpr uint32_t kSrcOff = 8, kDstOff = 24;  // in the IPv6 header
  Cond lt = linktype(kEtIpv6);
  if (dir == QDir::kSrc || dir == QDir::kDst)
    return and_(lt, tr.root(Mode::kOne, dir == QDir::kSrc ? kSrcOff : kDstOff, all, 0));
  Cond first = tr.root(Mode::kOne, kSrcOff, {0}, 0);  // member 1's src test
  // the dst trie first (the src trie's terminals jump to it); its root needs no X check:
  // member 1's src did not match, so X > 1
  Cond dst = tr.root(Mode::kDst, kDstOff, all, 1);
  tr.droot = dst.entry;
  tr.ldx_of.clear();
  Cond src = tr.root(Mode::kSrc, kSrcOff, all, 0);
  Cond guard = tr.opaque(test(load(Rel::kLinkPl, kDstOff, 4), c::kJge, 0));
  Cond body;
  body.entry = guard.entry;
  patch(guard.t, src.entry);
  body.t = dst.t;
  body.f = concat(guard.f, dst.f);
  return and_(lt, or_(first, body));
}

}  // namespace bpf::compiler::detail
