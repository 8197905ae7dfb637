// Rule groups of the classifier (compiler/classify/classify.hpp): private to compiler/classify/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "compiler/expr_ir.hpp"
#include "vm/program.hpp"

namespace bpf::compiler::detail {

struct Grouping {
  std::vector<int> group_of;                  // per rule: its group, or -1
  std::vector<std::vector<size_t>> members;   // per group: its rules (indices), in order
  std::vector<std::vector<uint32_t>> values;  // ... and each one's constant
  std::vector<uint32_t> slot;                 // per group: the scratch slot holding its result
};

// Groups runs of consecutive rules whose optimised IR graphs (funcs[i]) are the same but for
// the constant that every one of their "sites" compares with (`tcp port P`, `host A`,
// `ip proto P`, `dst net N`: the same tests, only P differs). A group needs a scratch slot that
// no rule uses.
Grouping find_groups(const std::vector<IrFunc>& funcs);

// Appends the evaluation of group g, in place of its rules: the first rule's graph with each
// site replaced by a search over the group's constants; it returns at once when the first
// rule matches, otherwise keeps in M[slot] the number of the first member that matched (0:
// none) and ends with a search on it that returns that number (accept[rule] is each rule's
// `ret` block) or goes on to `next`. Returns its entry block.
int emit_group_eval(IrFunc& all, const IrFunc& first_rule, const Grouping& gr, size_t g,
                    const std::vector<int>& accept, int next, vm::Target target);

}  // namespace bpf::compiler::detail
