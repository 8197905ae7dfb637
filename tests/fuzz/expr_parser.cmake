bpfc_add_fuzzer(expr_parser SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/expr_parser.cpp LIBS bpf_compiler)
