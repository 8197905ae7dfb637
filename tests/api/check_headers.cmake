# Compiles <bpfc/bpfc.hpp> with -I${INCLUDE} only (no source tree on the path) and fails if any
# header it pulls in belongs to LLVM, asmjit or libpcap. Used by api_headers_test (staged tree)
# and tests/install/install_test.sh (installed tree, through the same script).
file(MAKE_DIRECTORY ${WORK})
file(WRITE ${WORK}/umbrella.cpp "#include <bpfc/bpfc.hpp>\nint main() { return bpfc_version() == nullptr; }\n")
execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only -H -I${INCLUDE} ${WORK}/umbrella.cpp
                RESULT_VARIABLE rc ERROR_VARIABLE deps OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "<bpfc/bpfc.hpp> does not compile with -I${INCLUDE} only:\n${deps}")
endif()
string(REGEX MATCHALL "[^\n]*(llvm|asmjit|pcap)[^\n]*" bad "${deps}")
if(bad)
  message(FATAL_ERROR "installed headers pull in heavy dependencies:\n${bad}")
endif()
string(REGEX MATCHALL "[^\n]*bpfc/[^\n]*" ours "${deps}")
list(LENGTH ours n)
message(STATUS "<bpfc/bpfc.hpp>: ${n} headers of ours, no LLVM/asmjit/libpcap header")
