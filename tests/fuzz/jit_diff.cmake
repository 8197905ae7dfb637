# Differential fuzzer: every built JIT vs the interpreter (jit_diff.cpp).
bpfc_add_fuzzer(jit_diff SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/jit_diff.cpp
                LIBS bpf_jit bpf_verifier bpf_vm bpfc_test_support)
if(TARGET bpf_jit_asmjit)
  target_link_libraries(fuzz_jit_diff PRIVATE bpf_jit_asmjit)
endif()
