#include <gtest/gtest.h>
#include "verifier/verifier.hpp"
TEST(Verifier, Smoke) { bpf::vm::Program p; p.insns = {bpf::vm::stmt(0x06, 1)}; EXPECT_TRUE(bpf::verifier::verify(p).ok()); }
