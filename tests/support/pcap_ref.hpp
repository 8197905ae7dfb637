// libpcap as the reference, for tests and benchmarks (libpcap is allowed there, not in the
// libraries): the packet corpus loader, libpcap's bpf_filter, and pcap_compile.
//
// The corpus lives in ../shared/corpus/{ether,sll,raw}.pcap next to the repository
// (BPFC_CORPUS_DIR); every loader returns an empty vector when it is absent, so callers must
// also test on generated packets. Tested in tests/support/support_test.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tests/support/packet_gen.hpp"
#include "vm/insn.hpp"

namespace bpf::test {

// The corpus folder (may not exist): $BPFC_CORPUS_DIR if set, else the configured one.
std::string corpus_dir();
// Every packet of a pcap/pcapng file (at most `max`); empty when the file is absent or unreadable.
std::vector<Packet> load_pcap(const std::string& path, size_t max = SIZE_MAX);
// load_pcap(corpus_dir() + "/" + name + ".pcap"), e.g. name "ether".
std::vector<Packet> load_corpus(const std::string& name, size_t max = SIZE_MAX);

// libpcap's bpf_filter(prog, pkt, wirelen, caplen): the BSD reference semantics.
uint32_t pcap_filter(std::span<const vm::Insn> prog, const uint8_t* pkt, uint32_t caplen,
                     uint32_t wirelen);
inline uint32_t pcap_filter(std::span<const vm::Insn> prog, const Packet& p) {
  return pcap_filter(prog, p.data.data(), p.caplen(), p.wirelen);
}
// libpcap's bpf_validate.
bool pcap_validate(std::span<const vm::Insn> prog);

// pcap_compile on pcap_open_dead(linktype, snaplen), optimised; nullopt (and `error` set) on failure.
std::optional<std::vector<vm::Insn>> pcap_compile_expr(const std::string& expr, int linktype = 1,
                                                       uint32_t snaplen = 262144,
                                                       bool optimize = true,
                                                       std::string* error = nullptr);

}  // namespace bpf::test
