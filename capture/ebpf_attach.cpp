// See ebpf_attach.hpp. The classic program is translated for the socket hook (LD_ABS/LD_IND
// loads, the classic return value as the bytes to keep) and loaded as
// BPF_PROG_TYPE_SOCKET_FILTER with a GPL license; a refusal returns the verifier's log.
#include "capture/ebpf_attach.hpp"

#include <errno.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "jit/ebpf/translate.hpp"

namespace bpf::capture {

static_assert(sizeof(jit::ebpf::EbpfInsn) == sizeof(bpf_insn), "struct bpf_insn layout");

Result<int> load_ebpf_socket_filter(const vm::VerifiedProgram& prog) {
  auto e = jit::ebpf::translate(prog, jit::ebpf::Hook::kSocket);
  if (!e.ok()) return e.diagnostics();
  std::vector<char> log(1 << 20);
  static const char kLicense[] = "GPL";
  bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = reinterpret_cast<uintptr_t>(e->insns.data());
  attr.insn_cnt = static_cast<uint32_t>(e->insns.size());
  attr.license = reinterpret_cast<uintptr_t>(kLicense);
  const long fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (fd >= 0) return static_cast<int>(fd);
  const int err = errno;
  // Again with the verifier's log, to say why.
  attr.log_level = 1;
  attr.log_buf = reinterpret_cast<uintptr_t>(log.data());
  attr.log_size = static_cast<uint32_t>(log.size());
  const long fd2 = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (fd2 >= 0) return static_cast<int>(fd2);
  std::string why = std::string("bpf(BPF_PROG_LOAD) of the eBPF translation: ") + std::strerror(err);
  if (err == EPERM) why += " (loading eBPF programs needs root or CAP_BPF)";
  std::string text(log.data(), strnlen(log.data(), log.size()));
  if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
  if (!text.empty()) why += "; the kernel's verifier says:\n" + text;
  Diagnostics d;
  d.error(why);
  return d;
}

}  // namespace bpf::capture
