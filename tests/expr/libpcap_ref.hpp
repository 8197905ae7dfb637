// libpcap as the reference of the expression tests: pcap_compile on pcap_open_dead, libpcap's
// own bpf_filter to run a program, the corpus reader and bpf_image listings. Shared by the
// expression tests (expr_diff_test, geneve_test, big_filter_test).
#pragma once

#include <pcap/pcap.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "tests/expr/expr_packets.hpp"
#include "vm/insn.hpp"

namespace bpf::test {

struct Pcap {
  pcap_t* p;
  explicit Pcap(int lt) : p(pcap_open_dead(lt, 262144)) {}
  ~Pcap() { pcap_close(p); }
  Pcap(const Pcap&) = delete;
  Pcap& operator=(const Pcap&) = delete;
};

// libpcap's program for `expr` (optimize 0 or 1), or nothing when pcap_compile refuses it.
inline std::optional<std::vector<vm::Insn>> libpcap_program(const std::string& expr, int lt,
                                                            int optimize,
                                                            std::string* err = nullptr) {
  Pcap pc(lt);
  bpf_program bp{};
  if (pcap_compile(pc.p, &bp, expr.c_str(), optimize, PCAP_NETMASK_UNKNOWN) != 0) {
    if (err) *err = pcap_geterr(pc.p);
    return std::nullopt;
  }
  std::vector<vm::Insn> out;
  for (u_int i = 0; i < bp.bf_len; ++i)
    out.push_back({bp.bf_insns[i].code, bp.bf_insns[i].jt, bp.bf_insns[i].jf, bp.bf_insns[i].k});
  pcap_freecode(&bp);
  return out;
}

// libpcap's bpf_filter on a packet (BSD semantics; scratch memory as bpf_filter leaves it).
inline uint32_t run_libpcap(const std::vector<vm::Insn>& prog, const TestPacket& pkt) {
  return bpf_filter(reinterpret_cast<const bpf_insn*>(prog.data()), pkt.data.data(), pkt.wirelen,
                    static_cast<u_int>(pkt.data.size()));
}

// Up to `limit` packets of ../shared/corpus/NAME (BPFC_CORPUS_DIR overrides the build default);
// none when the corpus is absent.
inline std::vector<TestPacket> load_corpus(const char* name, size_t limit = 3000) {
  std::vector<TestPacket> out;
  const char* dir = std::getenv("BPFC_CORPUS_DIR");
#ifdef BPFC_CORPUS_DIR
  std::string path = std::string(dir ? dir : BPFC_CORPUS_DIR) + "/" + name;
#else
  if (!dir) return out;
  std::string path = std::string(dir) + "/" + name;
#endif
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  if (!p) return out;
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1 && out.size() < limit) {
    TestPacket t;
    t.data.assign(d, d + h->caplen);
    t.wirelen = h->len;
    out.push_back(std::move(t));
  }
  pcap_close(p);
  return out;
}

// The listing of a program, as tcpdump -d prints it.
inline std::string dump(const std::vector<vm::Insn>& prog) {
  std::string s;
  for (size_t i = 0; i < prog.size(); ++i) {
    bpf_insn b{prog[i].code, prog[i].jt, prog[i].jf, prog[i].k};
    s += bpf_image(&b, static_cast<int>(i));
    s += "\n";
  }
  return s;
}

}  // namespace bpf::test
