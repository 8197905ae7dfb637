// libpcap reference calls (see pcap_ref.hpp).
#include "tests/support/pcap_ref.hpp"

#include <pcap/pcap.h>

#include <cstdlib>
#include <cstring>

namespace bpf::test {

static_assert(sizeof(bpf_insn) == sizeof(vm::Insn), "vm::Insn must match struct bpf_insn");

std::string corpus_dir() {
  if (const char* env = std::getenv("BPFC_CORPUS_DIR"); env && *env) return env;
  return BPFC_CORPUS_DIR;
}

std::vector<Packet> load_pcap(const std::string& path, size_t max) {
  std::vector<Packet> out;
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  if (!p) return out;
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  while (out.size() < max && pcap_next_ex(p, &h, &data) == 1) {
    Packet pk;
    pk.data.assign(data, data + h->caplen);
    pk.wirelen = std::max<uint32_t>(h->len, h->caplen);
    out.push_back(std::move(pk));
  }
  pcap_close(p);
  return out;
}

std::vector<Packet> load_corpus(const std::string& name, size_t max) {
  return load_pcap(corpus_dir() + "/" + name + ".pcap", max);
}

uint32_t pcap_filter(std::span<const vm::Insn> prog, const uint8_t* pkt, uint32_t caplen,
                     uint32_t wirelen) {
  static const uint8_t kEmpty[1] = {0};
  return bpf_filter(reinterpret_cast<const bpf_insn*>(prog.data()), pkt ? pkt : kEmpty, wirelen,
                    caplen);
}

bool pcap_validate(std::span<const vm::Insn> prog) {
  return bpf_validate(reinterpret_cast<const bpf_insn*>(prog.data()), int(prog.size())) != 0;
}

std::optional<std::vector<vm::Insn>> pcap_compile_expr(const std::string& expr, int linktype,
                                                       uint32_t snaplen, bool optimize,
                                                       std::string* error) {
  pcap_t* p = pcap_open_dead(linktype, int(snaplen));
  if (!p) return std::nullopt;
  bpf_program fp{};
  std::optional<std::vector<vm::Insn>> out;
  if (pcap_compile(p, &fp, expr.c_str(), optimize ? 1 : 0, PCAP_NETMASK_UNKNOWN) == 0) {
    out.emplace(fp.bf_len);
    for (u_int i = 0; i < fp.bf_len; ++i)
      (*out)[i] = vm::Insn{fp.bf_insns[i].code, fp.bf_insns[i].jt, fp.bf_insns[i].jf, fp.bf_insns[i].k};
    pcap_freecode(&fp);
  } else if (error) {
    *error = pcap_geterr(p);
  }
  pcap_close(p);
  return out;
}

}  // namespace bpf::test
