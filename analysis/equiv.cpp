// check_equivalence(): the solver's answer (equiv_z3.cpp), each witness confirmed by the
// interpreter before anyone sees it; and the witness as text (see equiv.hpp). Code both programs
// share is first cut off (shared_tails.hpp) and put back where a spurious witness went through
// it (counterexample-guided refinement); the whole programs are encoded last, with the time
// left. Tested in tests/analysis/equiv_test.cpp.
#include "analysis/equiv.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "analysis/trace.hpp"
#include "vm/interpreter.hpp"

namespace bpf::analysis {

namespace {

// Refinements of the cut-off encoding before the whole programs are encoded. The first rounds
// encode in full only the first tail each program entered on the spurious witness (cheap rounds;
// best where the programs differ early, geneve's offset registers); later rounds every tail on
// its path (fewer rounds; best for long shared walks, protochain). Measured with
// `bpfc --equiv` on -O0 against -O2 programs, loaded machine: protochain 17 60 s -> 2.8 s,
// `geneve and (geneve or ip)` 34 s -> 5.9 s, `vlan and protochain 6` 57 s -> 2.7 s.
constexpr int kTailRounds = 64;
constexpr int kFirstOnlyRounds = 4;

// The path walk's bound (equiv_paths.cpp): instruction steps plus facts copied, about 1.5 us
// each. Protochain's -O0 against its -O2 program (1,333 and 1,322 instructions) takes 165,000;
// a walk that gives up has spent about 3 s (or half the timeout, when that is less).
constexpr uint64_t kPathSteps = 2'000'000;
// Without a timeout the walk is bounded by its steps alone.
constexpr unsigned kUnlimitedWalkMs = 3'600'000;

// The interpreter's returns on a candidate witness; true when they differ as asked.
bool confirm(const vm::VerifiedProgram& a, const vm::VerifiedProgram& b, bool exact, Witness& w) {
  const vm::Interpreter ia(a), ib(b);
  const auto caplen = static_cast<uint32_t>(w.bytes.size());
  w.a_returns = ia.run(w.bytes.data(), caplen, w.wirelen, w.ctx);
  w.b_returns = ib.run(w.bytes.data(), caplen, w.wirelen, w.ctx);
  return exact ? w.a_returns != w.b_returns : (w.a_returns != 0) != (w.b_returns != 0);
}

// The first cut point each program meets on the witness (the encoding stops there), or with
// `whole_path` every one its path goes through: those classes are no longer cut, in either
// program. False when neither met one (nothing to refine).
bool uncut_entered(const vm::VerifiedProgram& a, const vm::VerifiedProgram& b, const Witness& w,
                   SharedTails& tails, bool whole_path) {
  std::vector<int32_t> classes;
  for (int side = 0; side < 2; ++side) {
    const vm::VerifiedProgram& p = side ? b : a;
    const std::vector<int32_t>& cuts = side ? tails.b : tails.a;
    const Trace t = trace(p, w.bytes.data(), static_cast<uint32_t>(w.bytes.size()), w.wirelen, w.ctx);
    for (const TraceStep& st : t.steps)
      if (cuts[st.index] >= 0) {
        classes.push_back(cuts[st.index]);
        if (!whole_path) break;
      }
  }
  if (classes.empty()) return false;
  for (std::vector<int32_t>* cuts : {&tails.a, &tails.b})
    for (int32_t& c : *cuts)
      if (std::find(classes.begin(), classes.end(), c) != classes.end()) c = -1;
  return true;
}

}  // namespace

Result<EquivResult> check_equivalence(const vm::VerifiedProgram& a, const vm::VerifiedProgram& b,
                                      const EquivOptions& opts) {
  Diagnostics diags;
  if (a.target() != b.target()) {
    diags.error("the two programs were verified for different targets");
    return diags;
  }
  EquivResult out;
  bool approximate = false;
  const auto t0 = std::chrono::steady_clock::now();
  auto spent_ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0).count();
  };
  // First both programs side by side, path by path (equiv_paths.cpp), with at most three
  // quarters of the time (it decides almost every pair; giving up on its budget is quick): a
  // proof is a proof, a confirmed witness a witness; giving up goes on below.
  if (opts.path_walk) {
    const unsigned walk_ms = opts.timeout_ms != 0 ? opts.timeout_ms * 3 / 4 : kUnlimitedWalkMs;
    auto r = detail::solve_paths(a, b, opts, &approximate, kPathSteps, walk_ms);
    if (r && !r->has_value()) {
      out.equivalent = true;
      return out;
    }
    if (r && confirm(a, b, opts.exact, **r)) {
      out.witness = std::move(**r);
      return out;
    }
  }
  // Then with the code both programs share cut off (shared_tails.hpp), until half the time
  // is spent (seven eighths after the walk): a proof there is a proof; a confirmed witness is
  // a witness; anything else (a difference only the cut-off code rules out, no answer in time)
  // goes on to the whole programs.
  EquivOptions rest = opts;
  SharedTails tails;
  if (opts.shared_tails) tails = shared_tails(a.decoded(), b.decoded(), a.target());
  const long long tails_until = opts.path_walk ? opts.timeout_ms * 7ll / 8 : opts.timeout_ms / 2;
  for (int round = 0; round < kTailRounds && tails.any(); ++round) {
    EquivOptions first = opts;
    if (opts.timeout_ms != 0) {
      const long long spent = spent_ms();
      if (spent >= tails_until) break;
      first.timeout_ms = static_cast<unsigned>(tails_until - spent);
    }
    auto r = detail::solve(a, b, first, &approximate, &tails);
    if (!r.ok()) break;
    if (!r->has_value()) {
      out.equivalent = true;
      return out;
    }
    if (confirm(a, b, opts.exact, **r)) {
      out.witness = std::move(**r);
      return out;
    }
    // Refine: the tails the witness entered are encoded in full from now on.
    if (!uncut_entered(a, b, **r, tails, round >= kFirstOnlyRounds)) break;
  }
  if (opts.timeout_ms != 0) {
    // Out of time already: said here, not by a solver started with a timeout of a few ms
    // (Z3 4.8 may miss a timer that fires before its search starts, and then runs unbounded:
    // EquivCli.TimeoutIsAnErrorNotAVerdict hung that way once under load).
    const long long left = opts.timeout_ms - spent_ms();
    if (left <= 0) {
      diags.error("the solver could not decide (timeout)");
      return diags;
    }
    rest.timeout_ms = static_cast<unsigned>(left);
  }
  auto r = detail::solve(a, b, rest, &approximate);
  if (!r.ok()) return r.diagnostics();
  if (!r->has_value()) {
    out.equivalent = true;
    return out;
  }
  Witness w = std::move(**r);
  const bool differ = confirm(a, b, opts.exact, w);
  const auto caplen = w.bytes.size();
  if (!differ && approximate) {
    diags.error("the solver could not decide (the difference it found needs a netlink attribute "
                "chain longer than the " + std::to_string(detail::kNlaExactSteps) +
                " attributes --equiv walks exactly)");
    return diags;
  }
  if (!differ) {
    diags.error("internal error: the solver's witness (wirelen " + std::to_string(w.wirelen) +
                " caplen " + std::to_string(caplen) + ") is not confirmed by the interpreter (A " +
                "returns " + std::to_string(w.a_returns) + ", B returns " +
                std::to_string(w.b_returns) + "); please report this bug");
    return diags;
  }
  out.witness = std::move(w);
  return out;
}

std::string format_witness(const Witness& w) {
  std::string out = "wirelen " + std::to_string(w.wirelen) + " caplen " +
                    std::to_string(w.bytes.size()) + "\n";
  char buf[32];
  // tcpdump -xx (print-ascii.c hex_print_with_offset): "\n\t0x%04x: " then " %02x%02x" per pair.
  for (size_t i = 0; i < w.bytes.size(); i += 16) {
    std::snprintf(buf, sizeof buf, "\t0x%04zx: ", i);
    out += buf;
    for (size_t j = i; j < i + 16 && j < w.bytes.size(); j += 2) {
      if (j + 1 < w.bytes.size())
        std::snprintf(buf, sizeof buf, " %02x%02x", w.bytes[j], w.bytes[j + 1]);
      else
        std::snprintf(buf, sizeof buf, " %02x", w.bytes[j]);
      out += buf;
    }
    out += '\n';
  }
  const vm::Context d;
  const vm::Context& c = w.ctx;
  std::string ctx;
  auto field = [&](const char* name, uint64_t v, uint64_t dv) {
    if (v == dv) return;
    std::snprintf(buf, sizeof buf, " %s=0x%llx", name, static_cast<unsigned long long>(v));
    ctx += buf;
  };
  field("protocol", c.protocol, d.protocol);
  field("pkttype", c.pkttype, d.pkttype);
  field("has_device", c.has_device, d.has_device);
  field("ifindex", c.ifindex, d.ifindex);
  field("hatype", c.hatype, d.hatype);
  field("mark", c.mark, d.mark);
  field("queue", c.queue, d.queue);
  field("rxhash", c.rxhash, d.rxhash);
  field("cpu", c.cpu, d.cpu);
  field("vlan_tci", c.vlan_tci, d.vlan_tci);
  field("vlan_avail", c.vlan_present, d.vlan_present);
  field("vlan_tpid", c.vlan_tpid, d.vlan_tpid);
  field("rand", c.random, d.random);
  field("poff", c.payload_offset, d.payload_offset);
  field("net_offset", c.net_offset, d.net_offset);
  field("has_link_header", c.has_link_header, d.has_link_header);
  if (!ctx.empty()) out += "context" + ctx + "\n";
  return out;
}

}  // namespace bpf::analysis
