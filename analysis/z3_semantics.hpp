// Classic BPF over Z3 terms: the inputs both programs see and one instruction's effect on a
// symbolic state. Private to analysis/ (with z3_semantics.cpp, equiv_z3.cpp and equiv_paths.cpp,
// the only files that include Z3; no public header names a Z3 type).
//
// Inputs: `pkt`, an array from 32-bit offsets to bytes; `caplen` and `wirelen`, 32-bit; for
// Linux the context fields as unknowns of their widths (vm::Context). Semantics::step() mirrors
// vm/semantics.hpp case by case (cited in place) for one instruction: the new registers, the
// condition under which the program ends there (a failing load, division by zero, ifindex or
// hatype without a device) and with which value, and a conditional jump's condition. Operations
// on constants are folded with vm/semantics.hpp itself, so equal computations give the same term
// (Z3 hash-conses terms: equal terms are one AST) and constant conditions are literal true/false,
// which the path walk (equiv_paths.cpp) relies on to decide branches without the solver.
// Both users are tested in tests/analysis/equiv_test.cpp (the encoding against vm::evaluate on
// random programs; pairs across the hard corners).
#pragma once

#include <z3++.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "analysis/equiv.hpp"
#include "vm/ancillary.hpp"
#include "vm/program.hpp"
#include "vm/semantics.hpp"

namespace bpf::analysis::detail {

// The unknowns both programs see.
struct Inputs {
  z3::context& c;
  z3::expr pkt, caplen, wirelen;
  // Linux context (vm::Context), bit-vectors of the field widths and Booleans.
  z3::expr protocol, pkttype, has_device, ifindex, hatype, mark, queue, rxhash, cpu, vlan_tci,
      vlan_present, vlan_tpid, random, payload_offset, net_offset, has_link_header;
  // Which context fields some program reads (bit i: vm::Ancillary i; kUsesAreas: SKF_NET_OFF and
  // SKF_LL_OFF); the witness keeps vm::Context's defaults elsewhere.
  static constexpr uint32_t kUsesAreas = 1u << 31;
  uint32_t used = 0;
  // nla / nlan past the attributes encoded exactly (see Semantics::nla_find): one unknown per
  // (search, A, X), shared by both programs, and the conditions under which any is reached.
  z3::func_decl nla_tail, nlan_tail;
  std::vector<z3::expr> tails_reached;
  // Shared tails cut off (shared_tails.hpp): one unknown function per class, both programs.
  std::unordered_map<int32_t, z3::func_decl> tail_fns;

  explicit Inputs(z3::context& ctx);
};

struct State {
  z3::expr a, x;
  std::vector<z3::expr> mem;
};
// A = X = M[] = 0 (vm::Interpreter; scratch memory starts at zero).
State initial_state(z3::context& c);

// One instruction's effect (Semantics::step).
struct Effect {
  z3::expr ends;       // the program ends here, returning end_value (a literal false if never)
  z3::expr end_value;
  z3::expr taken;      // conditional jumps: the condition of the true edge
  bool ret = false;    // a return: always ends, with end_value
};

class Semantics {
 public:
  // Side conditions (the nla/nlan tails' properties) are added to `s`.
  Semantics(Inputs& in, z3::solver& s, vm::Target t) : in_(in), c_(in.c), s_(s), t_(t) {}

  // The instruction's effect; `st` becomes the state after it (when it does not end).
  Effect step(const vm::DecodedInsn& d, State& st);

  z3::expr bv(uint64_t v, unsigned bits = 32) { return c_.bv_val(v, bits); }

 private:
  struct Load {
    z3::expr ok;     // the load succeeds
    z3::expr value;  // its value (32 bits) when it does
  };
  z3::expr zext32(const z3::expr& e) {
    return e.get_sort().bv_size() == 32 ? e : z3::zext(e, 32 - e.get_sort().bv_size());
  }
  z3::expr read(const z3::expr& off, uint32_t size);
  Load checked(const z3::expr& pos64, uint32_t size);
  Load checked_const(uint64_t pos, uint32_t size);
  Load linux_load(const z3::expr& off, uint32_t size);
  Load linux_load_const(uint32_t k, uint32_t size);
  z3::expr host16(const z3::expr& pos);
  z3::expr nla_find(const z3::expr& start, const z3::expr& rem0, const z3::expr& type,
                    const z3::expr& tail);
  z3::expr nlattr(const z3::expr& a, const z3::expr& x, bool nest);
  z3::expr ancillary(vm::Ancillary id, const State& st, z3::expr& ends);
  z3::expr alu(vm::AluOp op, const z3::expr& a, const z3::expr& v, z3::expr& fails);
  z3::expr compare(vm::CmpOp op, const z3::expr& a, const z3::expr& v);

  Inputs& in_;
  z3::context& c_;
  z3::solver& s_;
  vm::Target t_;
};

uint64_t num(const z3::model& m, const z3::expr& e);
bool truth(const z3::model& m, const z3::expr& e);
z3::expr_vector to_vector(z3::context& c, const std::vector<z3::expr>& v);
// The input a model describes: caplen bytes of the packet, wirelen, the context fields some
// program reads (vm::Context's defaults elsewhere).
Witness extract(const z3::model& m, const Inputs& in);
// Constrains the inputs as every program sees them: caplen <= wirelen, caplen <= max_caplen.
void add_input_bounds(z3::solver& s, const Inputs& in, const EquivOptions& opts);
// Picks a readable witness among the models of `s` (small and unsnapped first, with the
// context's defaults, every nla/nlan chain walked exactly when possible) and returns it;
// *approximate says that it relies on an nla/nlan result past the exact walk. `s` is sat.
std::optional<Witness> readable_witness(z3::solver& s, const Inputs& in, bool* approximate);

}  // namespace bpf::analysis::detail
