// Equivalence of two verified programs, decided exactly (`bpfc --equiv`, ../shared/CLI.md).
//
// check_equivalence() proves that two programs of the same target give the same verdict
// (accept = nonzero, reject = 0) -- or with `exact` the same return value -- on every input, or
// returns a witness input on which they differ. "Every input" is: every packet content, every
// captured length from 0 to `max_caplen`, every wire length from the captured length to 2^32-1,
// and for Linux every value of the socket-buffer fields the ancillary loads read and of the
// network-header offset (SKF_NET_OFF) and link-header presence (SKF_LL_OFF), the same for both
// programs. Loads beyond the captured bytes end the program with 0 as vm/semantics.hpp says for
// each target. The decision is Z3's over bit-vectors (equiv_z3.cpp, the only file that includes
// Z3): "equivalent" is an unsatisfiability proof, never the absence of a counterexample.
//
// Every witness is run through vm::Interpreter before it is returned; a witness the interpreter
// does not confirm is reported as an internal error, never as a witness. Linux `nla`/`nlan`
// loads (a netlink attribute search, a loop over the packet) are encoded exactly for the first
// attributes of a chain and soundly past them (equiv_z3.cpp): "equivalent" stays a proof; a
// difference that only a longer chain could show is "could not decide" when no confirmed
// witness comes out of it.
// Tested in tests/analysis/equiv_test.cpp (pairs across the hard corners) and
// tests/analysis/optimiser_equiv_test.cpp (-O0 = -O2 over the expression differential list).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/shared_tails.hpp"
#include "vm/context.hpp"
#include "vm/diagnostic.hpp"
#include "vm/program.hpp"

namespace bpf::analysis {

struct EquivOptions {
  bool exact = false;             // compare return values, not only accept/reject
  uint32_t max_caplen = 262144;   // captured lengths considered: 0 .. max_caplen
  unsigned timeout_ms = 0;        // 0: no limit; a timeout is an error, never a verdict
  // The ways tried before the whole programs are encoded together (equiv.cpp); off only to
  // measure what each brings (bench/equiv_bench.cpp). The verdicts are the same either way.
  bool path_walk = true;          // both programs run side by side, path by path (equiv_paths.cpp)
  bool shared_tails = true;       // code both programs share cut off first (shared_tails.hpp)
};

struct Witness {
  std::vector<uint8_t> bytes;  // the captured bytes (caplen = bytes.size())
  uint32_t wirelen = 0;
  vm::Context ctx;             // ancillary fields (Linux); defaults where they do not matter
  uint32_t a_returns = 0, b_returns = 0;  // as the interpreter computes them
};

struct EquivResult {
  bool equivalent = false;
  Witness witness;  // when !equivalent
};

Result<EquivResult> check_equivalence(const vm::VerifiedProgram& a, const vm::VerifiedProgram& b,
                                      const EquivOptions& opts = {});

// `wirelen W caplen C`, then the bytes as tcpdump -xx prints them (tab, 0xOFFS:, 16 bytes a line
// in groups of two), then one `context` line naming the fields that differ from vm::Context's
// defaults (only when some do).
std::string format_witness(const Witness& w);

namespace detail {
// nla / nlan: the attributes of a chain the encoding walks exactly before leaving the rest of
// the search to an unknown (equiv_z3.cpp).
inline constexpr unsigned kNlaExactSteps = 6;
// The solver's answer (equiv_z3.cpp): nullopt when the programs are equivalent, else an
// unconfirmed candidate witness; *approximate says that the witness relies on an nla/nlan
// result past the attributes encoded exactly (so the interpreter may not confirm it). With
// `tails`, the shared tails it names are cut off (shared_tails.hpp): "equivalent" is still a
// proof; a witness may not be confirmed.
Result<std::optional<Witness>> solve(const vm::VerifiedProgram& a, const vm::VerifiedProgram& b,
                                     const EquivOptions& opts, bool* approximate,
                                     const SharedTails* tails = nullptr);
// The same answer from the path walk (equiv_paths.cpp), or nullopt when it gives up: past
// `budget` steps, past `timeout_ms`, or on the solver's unknown.
std::optional<std::optional<Witness>> solve_paths(const vm::VerifiedProgram& a,
                                                  const vm::VerifiedProgram& b,
                                                  const EquivOptions& opts, bool* approximate,
                                                  uint64_t budget, unsigned timeout_ms);
}  // namespace detail

}  // namespace bpf::analysis
