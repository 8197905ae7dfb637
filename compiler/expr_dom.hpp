// Dominator tree of an acyclic graph, for the optimiser's pullups (compiler/expr_opt.cpp: a test
// is pulled up a chain only past blocks its candidate dominates). Built in one sweep over the
// reachable nodes in reverse postorder (Cooper, Harvey and Kennedy's intersection of the
// predecessors' dominators: in a DAG every predecessor comes first, so one sweep is the
// fixpoint), then every subtree numbered as one interval of a preorder, so that a query is two
// comparisons. Linear in the reachable nodes; storage kept across builds. Private to compiler/.
// Tested through the optimiser (tests/expr/opt_pullup_test.cpp, expr_diff_test.cpp).
#pragma once

#include <cstddef>
#include <vector>

namespace bpf::compiler::detail {

class DomTree {
 public:
  // order: the nodes reachable from order[0] in reverse postorder; n: one more than the largest
  // node id; succ(b, &s0, &s1) gives b's successors (false for a node without any).
  template <class Succ>
  void build(const std::vector<int>& order, size_t n, Succ succ) {
    rpo_.assign(n, -1);
    idom_.resize(n);
    size_.resize(n);
    pre_.resize(n);
    next_.resize(n);
    for (size_t i = 0; i < order.size(); ++i) {
      const size_t b = static_cast<size_t>(order[i]);
      rpo_[b] = static_cast<int>(i);
      idom_[b] = -1;
      size_[b] = 1;
    }
    if (order.empty()) return;
    idom_[static_cast<size_t>(order[0])] = order[0];
    for (int b : order) {
      int s[2];
      if (!succ(b, &s[0], &s[1])) continue;
      for (int w = 0; w < 2; ++w) {
        int& d = idom_[static_cast<size_t>(s[w])];
        if (d < 0) {
          d = b;
          continue;
        }
        int x = d, y = b;
        while (x != y) {
          while (rpo_[static_cast<size_t>(x)] > rpo_[static_cast<size_t>(y)]) x = idom_[static_cast<size_t>(x)];
          while (rpo_[static_cast<size_t>(y)] > rpo_[static_cast<size_t>(x)]) y = idom_[static_cast<size_t>(y)];
        }
        d = x;
      }
    }
    // subtree sizes bottom-up, then preorder intervals top-down (a node's idom comes first)
    for (size_t i = order.size(); i-- > 1;) {
      const size_t b = static_cast<size_t>(order[i]);
      size_[static_cast<size_t>(idom_[b])] += size_[b];
    }
    pre_[static_cast<size_t>(order[0])] = 0;
    next_[static_cast<size_t>(order[0])] = 1;
    for (size_t i = 1; i < order.size(); ++i) {
      const size_t b = static_cast<size_t>(order[i]);
      int& next = next_[static_cast<size_t>(idom_[b])];
      pre_[b] = next;
      next += size_[b];
      next_[b] = pre_[b] + 1;
    }
  }
  // Whether `by` dominates x (both reachable; false otherwise). A node dominates itself.
  bool dominates(int by, int x) const {
    const size_t xi = static_cast<size_t>(x), bi = static_cast<size_t>(by);
    if (rpo_[xi] < 0 || rpo_[bi] < 0) return false;
    return pre_[bi] <= pre_[xi] && pre_[xi] < pre_[bi] + size_[bi];
  }

 private:
  std::vector<int> rpo_;   // reverse-postorder number, -1 when unreachable
  std::vector<int> idom_;  // immediate dominator (the entry's own)
  std::vector<int> size_;  // nodes in the subtree
  std::vector<int> pre_;   // preorder number: a subtree is [pre_, pre_ + size_)
  std::vector<int> next_;  // while numbering: the next free number in the subtree
};

}  // namespace bpf::compiler::detail
