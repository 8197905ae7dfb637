bpfc_add_fuzzer(classify_rules SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/classify_rules.cpp LIBS bpf_compiler)
