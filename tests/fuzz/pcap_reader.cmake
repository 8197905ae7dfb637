# bpfdump's file reader (capture::open_file): pcap and pcapng, regular file vs pipe
# (tests/fuzz/pcap_reader.cpp).
bpfc_add_fuzzer(pcap_reader SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/pcap_reader.cpp LIBS bpf_capture)
