// Loading and test-running eBPF programs with bpf(2) directly (linux/bpf.h), for the tests and
// benchmarks of jit/ebpf/: BPF_PROG_LOAD with the verifier's log on failure, and
// BPF_PROG_TEST_RUN (retval, duration per run with a repeat count). Root only; callers skip
// when can_load_bpf() is false.
#pragma once

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "jit/ebpf/translate.hpp"

namespace bpf::test {

inline long bpf_sys(int cmd, bpf_attr& attr) {
  return syscall(__NR_bpf, cmd, &attr, sizeof attr);
}

struct LoadedProg {
  int fd = -1;
  std::string log;  // the kernel verifier's log when loading failed
  LoadedProg() = default;
  LoadedProg(LoadedProg&& o) noexcept : fd(o.fd), log(std::move(o.log)) { o.fd = -1; }
  LoadedProg& operator=(LoadedProg&& o) noexcept {
    std::swap(fd, o.fd);
    std::swap(log, o.log);
    return *this;
  }
  ~LoadedProg() {
    if (fd >= 0) close(fd);
  }
  bool ok() const { return fd >= 0; }
};

inline LoadedProg load_ebpf(const jit::ebpf::EbpfProgram& p) {
  LoadedProg out;
  bpf_attr a{};
  a.prog_type = jit::ebpf::prog_type(p.hook);
  a.insns = reinterpret_cast<uint64_t>(p.insns.data());
  a.insn_cnt = static_cast<uint32_t>(p.insns.size());
  static const char kGpl[] = "GPL";
  a.license = reinterpret_cast<uint64_t>(kGpl);
  out.fd = static_cast<int>(bpf_sys(BPF_PROG_LOAD, a));
  if (out.fd >= 0) return out;
  const int err = errno;
  std::vector<char> log(1 << 24);
  a = bpf_attr{};
  a.prog_type = jit::ebpf::prog_type(p.hook);
  a.insns = reinterpret_cast<uint64_t>(p.insns.data());
  a.insn_cnt = static_cast<uint32_t>(p.insns.size());
  a.license = reinterpret_cast<uint64_t>(kGpl);
  a.log_buf = reinterpret_cast<uint64_t>(log.data());
  a.log_size = static_cast<uint32_t>(log.size());
  a.log_level = 1;
  const int fd = static_cast<int>(bpf_sys(BPF_PROG_LOAD, a));
  if (fd >= 0) close(fd);
  std::string l(log.data());
  if (l.size() > 4000) l = "..." + l.substr(l.size() - 4000);
  out.log = std::string("BPF_PROG_LOAD: ") + std::strerror(err) + "\n" + l;
  return out;
}

struct TestRun {
  uint32_t retval = 0;
  uint32_t duration_ns = 0;  // average per repetition
};

inline std::optional<TestRun> test_run(int fd, const uint8_t* data, uint32_t size,
                                       uint32_t repeat = 1) {
  bpf_attr a{};
  a.test.prog_fd = static_cast<uint32_t>(fd);
  a.test.data_in = reinterpret_cast<uint64_t>(data);
  a.test.data_size_in = size;
  a.test.repeat = repeat;
  if (bpf_sys(BPF_PROG_TEST_RUN, a) < 0) return std::nullopt;
  return TestRun{a.test.retval, a.test.duration};
}

// A test run with a context (struct __sk_buff for socket and tc programs: mark, priority, cb
// ... in; the skb's fields out) and BPF_PROG_TEST_RUN flags.
struct TestRunCtx {
  const void* in = nullptr;
  uint32_t in_size = 0;
  void* out = nullptr;
  uint32_t out_size = 0;
};
inline std::optional<TestRun> test_run(int fd, const uint8_t* data, uint32_t size,
                                       const TestRunCtx& ctx, uint32_t repeat = 1) {
  bpf_attr a{};
  a.test.prog_fd = static_cast<uint32_t>(fd);
  a.test.data_in = reinterpret_cast<uint64_t>(data);
  a.test.data_size_in = size;
  a.test.repeat = repeat;
  a.test.ctx_in = reinterpret_cast<uint64_t>(ctx.in);
  a.test.ctx_size_in = ctx.in_size;
  a.test.ctx_out = reinterpret_cast<uint64_t>(ctx.out);
  a.test.ctx_size_out = ctx.out_size;
  if (bpf_sys(BPF_PROG_TEST_RUN, a) < 0) return std::nullopt;
  return TestRun{a.test.retval, a.test.duration};
}

// Whether this process may load programs (root, bpf(2) available).
inline bool can_load_bpf(std::string* why) {
  if (geteuid() != 0) {
    *why = "not root";
    return false;
  }
  jit::ebpf::EbpfProgram p;
  p.insns = {jit::ebpf::mov32_imm(jit::ebpf::kR0, 0), jit::ebpf::exit_insn()};
  LoadedProg l = load_ebpf(p);
  if (!l.ok()) *why = l.log;
  return l.ok();
}

}  // namespace bpf::test
