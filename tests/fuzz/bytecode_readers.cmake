# Bytecode readers fuzz target (tests/fuzz/bytecode_readers.cpp): c, ddd, xt_bpf, bin and format
# detection on arbitrary bytes.
bpfc_add_fuzzer(bytecode_readers SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bytecode_readers.cpp
                LIBS bpf_compiler)
