# Verifier fuzz target: arbitrary instruction arrays under both rule sets; never crashes, and
# every accepted program satisfies the documented facts (tests/verifier/facts_check.hpp).
bpfc_add_fuzzer(verifier SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/verifier.cpp LIBS bpf_verifier)
