// The optimiser's dominator tree (compiler/expr_dom.hpp) against the definition: `by` dominates
// x when x cannot be reached from the entry once `by` is removed. Seeded random DAGs shaped like
// the expression IR (two successors per test, shared successors, `ret` leaves, nodes the entry
// does not reach, node ids not in topological order), every pair of nodes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "compiler/expr_dom.hpp"

namespace {

struct Dag {
  std::vector<std::pair<int, int>> succ;  // {-1, -1}: a leaf
  int entry = 0;
};

// Nodes ranked 0..n-1 (edges go to higher ranks), ids shuffled; the last `leaves` ranks are
// leaves.
Dag random_dag(std::mt19937& rng, int n, int leaves) {
  std::vector<int> id(static_cast<size_t>(n));
  std::iota(id.begin(), id.end(), 0);
  std::shuffle(id.begin(), id.end(), rng);
  Dag g;
  g.succ.assign(static_cast<size_t>(n), {-1, -1});
  for (int r = 0; r < n - leaves; ++r) {
    auto pick = [&] {
      // mostly near successors (chains), sometimes far ones (joins)
      const int span = rng() % 4 == 0 ? n - r - 1 : std::min(3, n - r - 1);
      return id[static_cast<size_t>(r + 1 + static_cast<int>(rng() % static_cast<unsigned>(span)))];
    };
    const int s0 = pick();
    const int s1 = rng() % 8 == 0 ? s0 : pick();
    g.succ[static_cast<size_t>(id[static_cast<size_t>(r)])] = {s0, s1};
  }
  g.entry = id[static_cast<size_t>(rng() % 3 == 0 ? 1 : 0)];  // sometimes rank 0 is unreachable
  return g;
}

// Reverse postorder from the entry, true successor first (as the optimiser's topo()).
std::vector<int> rpo(const Dag& g) {
  std::vector<int> post;
  std::vector<uint8_t> seen(g.succ.size(), 0);
  std::vector<std::pair<int, int>> stack{{g.entry, 0}};
  seen[static_cast<size_t>(g.entry)] = 1;
  while (!stack.empty()) {
    auto& [b, i] = stack.back();
    const auto [s0, s1] = g.succ[static_cast<size_t>(b)];
    if (s0 >= 0 && i < 2) {
      const int s = i++ == 0 ? s0 : s1;
      if (!seen[static_cast<size_t>(s)]) {
        seen[static_cast<size_t>(s)] = 1;
        stack.push_back({s, 0});
      }
      continue;
    }
    post.push_back(b);
    stack.pop_back();
  }
  return {post.rbegin(), post.rend()};
}

// Nodes reachable from the entry without passing through `removed` (-1: none removed).
std::vector<uint8_t> reach_without(const Dag& g, int removed) {
  std::vector<uint8_t> seen(g.succ.size(), 0);
  if (g.entry == removed) return seen;
  std::vector<int> todo{g.entry};
  seen[static_cast<size_t>(g.entry)] = 1;
  while (!todo.empty()) {
    const int b = todo.back();
    todo.pop_back();
    const auto [s0, s1] = g.succ[static_cast<size_t>(b)];
    for (int s : {s0, s1})
      if (s >= 0 && s != removed && !seen[static_cast<size_t>(s)]) {
        seen[static_cast<size_t>(s)] = 1;
        todo.push_back(s);
      }
  }
  return seen;
}

TEST(DomTree, MatchesTheDefinitionOnRandomDags) {
  std::mt19937 rng(20261202);
  bpf::compiler::detail::DomTree dom;  // reused across builds, as the optimiser does
  size_t pairs = 0, dominated = 0;
  for (int round = 0; round < 400; ++round) {
    const int n = 2 + static_cast<int>(rng() % 60);
    const Dag g = random_dag(rng, n, std::min(n - 1, 1 + static_cast<int>(rng() % 3)));
    const std::vector<int> order = rpo(g);
    dom.build(order, g.succ.size(), [&](int b, int* s0, int* s1) {
      std::tie(*s0, *s1) = g.succ[static_cast<size_t>(b)];
      return *s0 >= 0;
    });
    const std::vector<uint8_t> reachable = reach_without(g, -1);
    for (int by = 0; by < n; ++by) {
      const std::vector<uint8_t> without = reach_without(g, by);
      for (int x = 0; x < n; ++x) {
        const bool expect = reachable[static_cast<size_t>(by)] && reachable[static_cast<size_t>(x)] &&
                            (x == by || !without[static_cast<size_t>(x)]);
        ASSERT_EQ(dom.dominates(by, x), expect) << "round " << round << " by " << by << " x " << x;
        ++pairs;
        dominated += expect;
      }
    }
  }
  // the DAGs are not degenerate: both answers are common
  EXPECT_GT(dominated, pairs / 20);
  EXPECT_LT(dominated, pairs / 2);
}

}  // namespace
