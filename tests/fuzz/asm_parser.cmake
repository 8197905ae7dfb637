# Assembler + bytecode readers fuzzer (tests/fuzz/asm_parser.cpp).
bpfc_add_fuzzer(asm_parser SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/asm_parser.cpp LIBS bpf_compiler)
