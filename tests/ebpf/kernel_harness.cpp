// The kernel-as-reference harness for jit/ebpf/ (see kernel_harness.hpp for what it compares,
// which packets it skips and why).
#include "tests/ebpf/kernel_harness.hpp"

#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>

#include "analysis/trace.hpp"
#include "jit/ebpf/translate.hpp"
#include "tests/ebpf/bpf_syscall.hpp"
#include "tests/expr/expr_packets.hpp"
#include "tests/support/pcap_ref.hpp"
#include "verifier/verifier.hpp"
#include "vm/ancillary.hpp"
#include "vm/interpreter.hpp"

namespace bpf::test {
namespace {

using jit::ebpf::Hook;
namespace eb = jit::ebpf;

constexpr Hook kHooks[] = {Hook::kSocket, Hook::kXdp, Hook::kTc};
constexpr uint32_t kEthHlen = 14;
// The largest data_size_in a test run takes in one buffer (measured on 6.18, x86-64, 4 KiB
// pages): skb: PAGE_SIZE - NET_SKB_PAD (64) - SKB_DATA_ALIGN(sizeof(skb_shared_info)) (320);
// xdp: PAGE_SIZE - XDP_PACKET_HEADROOM (256) - 320, the rest would go into fragments.
constexpr uint32_t kMaxSkbRun = 3712, kMaxXdpRun = 3520;
constexpr size_t kIndependentSample = 256;
// SKF_AD_MARK values the runs cycle through (ctx_in.mark).
constexpr uint32_t kMarks[] = {0, 1, 2, 0x80000000u, 0xffffffffu, 0x12345678u, 0x100};

uint32_t max_run(Hook h) { return h == Hook::kXdp ? kMaxXdpRun : kMaxSkbRun; }

// net/bpf/test_run.c since commit 12bec2bd4b76: EINVAL when eth_type_trans finds IPv4 or IPv6
// but fewer bytes than the fixed header follow the Ethernet header (socket and tc only; `f` is
// the test run's data_in).
bool kernel_refuses_short_ip(Hook h, const Frame& f) {
  if (h == Hook::kXdp) return false;
  const uint16_t type = uint16_t(f[12] << 8 | f[13]);
  return (type == 0x0800 && f.size() < kEthHlen + 20) ||
         (type == 0x86dd && f.size() < kEthHlen + 40);
}

// What the kernel computes itself for a test-run skb (or xdp_buff), read back by a probe.
struct Probe {
  uint16_t protocol = 0, queue = 0, vlan_tci = 0, vlan_tpid = 0;
  uint8_t pkttype = 0;
  bool vlan_present = false;
  uint32_t rxhash = 0, ifindex = 0;
};

eb::EbpfInsn ldx_w(uint8_t dst, uint8_t src, size_t off) {
  return eb::ldx(eb::op::kW, dst, src, static_cast<int16_t>(off));
}
eb::EbpfInsn stx_w(uint8_t dst, uint8_t src, size_t off) {
  return eb::stx(eb::op::kW, dst, src, static_cast<int16_t>(off));
}

// socket / tc: cb[0..4] = protocol, pkt_type, queue_mapping, hash, vlan_tci | vlan_present << 16;
// r0 = vlan_proto | ifindex << 16. xdp: r0 = ingress_ifindex | rx_queue_index << 16.
eb::EbpfProgram probe_program(Hook h) {
  using namespace eb;
  EbpfProgram p;
  p.hook = h;
  auto& v = p.insns;
  if (h == Hook::kXdp) {
    v = {ldx_w(kR0, kR1, offsetof(xdp_md, ingress_ifindex)),
         ldx_w(kR2, kR1, offsetof(xdp_md, rx_queue_index)), alu64_imm(op::kLsh, kR2, 16),
         alu64_reg(op::kOr, kR0, kR2), exit_insn()};
    return p;
  }
  const size_t cb = offsetof(__sk_buff, cb);
  v = {ldx_w(kR2, kR1, offsetof(__sk_buff, protocol)),
       stx_w(kR1, kR2, cb),
       ldx_w(kR2, kR1, offsetof(__sk_buff, pkt_type)),
       stx_w(kR1, kR2, cb + 4),
       ldx_w(kR2, kR1, offsetof(__sk_buff, queue_mapping)),
       stx_w(kR1, kR2, cb + 8),
       ldx_w(kR2, kR1, offsetof(__sk_buff, hash)),
       stx_w(kR1, kR2, cb + 12),
       ldx_w(kR2, kR1, offsetof(__sk_buff, vlan_tci)),
       ldx_w(kR3, kR1, offsetof(__sk_buff, vlan_present)),
       alu64_imm(op::kLsh, kR3, 16),
       alu64_reg(op::kOr, kR2, kR3),
       stx_w(kR1, kR2, cb + 16),
       ldx_w(kR0, kR1, offsetof(__sk_buff, vlan_proto)),
       ldx_w(kR3, kR1, offsetof(__sk_buff, ifindex)),
       alu64_imm(op::kLsh, kR3, 16),
       alu64_reg(op::kOr, kR0, kR3),
       exit_insn()};
  return p;
}

uint16_t ntoh16(uint32_t be16_as_read) {
  const uint16_t v = uint16_t(be16_as_read);
  return uint16_t(v >> 8 | v << 8);
}

__sk_buff skb_ctx(size_t index) {
  __sk_buff c{};
  c.mark = kMarks[index % std::size(kMarks)];
  c.priority = static_cast<uint32_t>(index % 8);
  return c;
}

// Under the socket hook SKF_LL_OFF + n reads byte n of the copied Ethernet header and then the
// frame again: the same as our model (link header at offset 0) only while n + size <= 14.
bool ll_load_past_header(uint32_t k, uint32_t size) {
  return k >= vm::kSkfLlOff && k < vm::kSkfNetOff && k - vm::kSkfLlOff + size > kEthHlen;
}

// Whether an indexed load of this run reads SKF_LL_OFF past the link header (the tracing
// evaluator gives X at each step; an indexed load leaves X as it found it).
bool indexed_load_past_ll_header(const vm::VerifiedProgram& v, const Frame& f,
                                 const vm::Context& ctx) {
  const uint32_t len = uint32_t(f.size());
  const analysis::Trace t = analysis::trace(v, f.data(), len, len, ctx);
  for (const analysis::TraceStep& s : t.steps) {
    const vm::DecodedInsn& d = v.decoded()[s.index];
    if (d.op != vm::Op::kLdWInd && d.op != vm::Op::kLdHInd && d.op != vm::Op::kLdBInd) continue;
    if (ll_load_past_header(s.x + d.k, vm::info(d.op).load_size)) return true;
  }
  return false;
}

std::string hex_prefix(const Frame& f) {
  std::string s;
  char b[4];
  for (size_t i = 0; i < f.size() && i < 40; ++i) {
    std::snprintf(b, sizeof b, "%02x", f[i]);
    s += b;
  }
  return s;
}

}  // namespace

void KernelStats::add(const KernelStats& o) {
  programs += o.programs;
  translations += o.translations;
  refused += o.refused;
  loaded += o.loaded;
  runs += o.runs;
  mismatches += o.mismatches;
  ancillary_runs += o.ancillary_runs;
  not_run_random += o.not_run_random;
  not_run_socket_ll += o.not_run_socket_ll;
  frame_independent += o.frame_independent;
  skip_short_ip += o.skip_short_ip;
  skip_oversize += o.skip_oversize;
  skip_ll_packet += o.skip_ll_packet;
}

void print_stats(const char* what, const KernelStats& st) {
  std::printf(
      "%s: %zu programs, %zu translations (%zu refused with a located error), %zu loaded by the "
      "kernel; %zu test runs (%zu with ancillary loads, ctx_in), %zu mismatches. Not run: %zu "
      "translations (SKF_AD_RANDOM), %zu socket translations (constant SKF_LL_OFF load). Frames "
      "skipped: %zu short IPv4/IPv6 (kernel EINVAL, as predicted), %zu over one page, %zu socket "
      "runs whose indexed load landed in SKF_LL_OFF. %zu translations read nothing of the frame "
      "(run on a spread of %zu frames)\n",
      what, st.programs, st.translations, st.refused, st.loaded, st.runs, st.ancillary_runs,
      st.mismatches, st.not_run_random, st.not_run_socket_ll, st.skip_short_ip, st.skip_oversize,
      st.skip_ll_packet, st.frame_independent, kIndependentSample);
}

std::vector<Frame> kernel_frames(const std::string& source_dir) {
  std::vector<Frame> out;
  auto take = [&](const std::vector<uint8_t>& d, uint32_t wirelen) {
    if (d.size() == wirelen && d.size() >= kEthHlen) out.push_back(d);
  };
  std::mt19937 rng(16);
  for (const TestPacket& p : make_packets(1, rng)) take(p.data, p.wirelen);
  for (const Packet& p : load_pcap(source_dir + "/examples/sample.pcap")) take(p.data, p.wirelen);
  if (std::filesystem::is_directory(corpus_dir())) {
    for (const auto& f : std::filesystem::directory_iterator(corpus_dir()))
      if (f.path().extension() == ".pcap")
        for (const Packet& p : load_pcap(f.path().string())) take(p.data, p.wirelen);
  } else {
    std::printf("note: no corpus at %s (generated packets and sample.pcap only)\n",
                corpus_dir().c_str());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool kernel_available() {
  std::string why;
  if (can_load_bpf(&why)) return true;
  std::printf("SKIPPED: cannot load eBPF programs: %s\n", why.c_str());
  return false;
}

struct KernelHarness::Impl {
  const std::vector<Frame>& frames;
  LoadedProg probe[3];
  std::vector<std::optional<Probe>> probed[3];  // per hook, per frame
  uint32_t cpu = 0;
  cpu_set_t saved{};
  bool pinned = false;

  explicit Impl(const std::vector<Frame>& f) : frames(f) {
    for (Hook h : kHooks) {
      probe[int(h)] = load_ebpf(probe_program(h));
      EXPECT_TRUE(probe[int(h)].ok()) << probe[int(h)].log;
      probed[int(h)].resize(frames.size());
    }
    // SKF_AD_CPU: the test run executes on the calling thread's CPU; keep it on one.
    const int c = sched_getcpu();
    if (c >= 0 && sched_getaffinity(0, sizeof saved, &saved) == 0) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(c, &one);
      pinned = sched_setaffinity(0, sizeof one, &one) == 0;
      cpu = static_cast<uint32_t>(c);
    }
  }
  ~Impl() {
    if (pinned) sched_setaffinity(0, sizeof saved, &saved);
  }

  std::optional<Probe> run_probe(Hook h, const Frame& f, size_t index) {
    Probe p;
    if (h == Hook::kXdp) {
      auto r = test_run(probe[int(h)].fd, f.data(), uint32_t(f.size()));
      if (!r) return std::nullopt;
      p.ifindex = r->retval & 0xffff;
      p.queue = uint16_t(r->retval >> 16);
      return p;
    }
    __sk_buff in = skb_ctx(index), out{};
    auto r = test_run(probe[int(h)].fd, f.data(), uint32_t(f.size()),
                      TestRunCtx{&in, sizeof in, &out, sizeof out});
    if (!r) return std::nullopt;
    p.protocol = ntoh16(out.cb[0]);
    p.pkttype = uint8_t(out.cb[1]);
    p.queue = uint16_t(out.cb[2]);
    p.rxhash = out.cb[3];
    p.vlan_tci = uint16_t(out.cb[4]);
    p.vlan_present = (out.cb[4] >> 16) != 0;
    p.vlan_tpid = ntoh16(r->retval);
    p.ifindex = r->retval >> 16;
    return p;
  }

  const std::optional<Probe>& probe_for(Hook h, const Frame& f, size_t index,
                                        std::optional<Probe>& scratch) {
    if (index < frames.size()) {
      auto& slot = probed[int(h)][index];
      if (!slot) slot = run_probe(h, f, index);
      return slot;
    }
    scratch = run_probe(h, f, index);
    return scratch;
  }
};

KernelHarness::KernelHarness(const std::vector<Frame>& frames) : impl_(new Impl(frames)) {}
KernelHarness::~KernelHarness() { delete impl_; }

void KernelHarness::check(const vm::Program& prog, vm::Target target, const std::string& name,
                          KernelStats& st, std::span<const Frame> extra) {
  verifier::Options vo;
  vo.target = target;
  vo.destination = verifier::Destination::kUserSpace;
  auto v = verifier::verify(prog, vo);
  if (!v.ok()) return;  // invalid programs: nothing to translate
  ++st.programs;
  vm::Interpreter interp(*v);
  const bool linux = target == vm::Target::kLinux;
  const bool ancillary = v->facts().uses_ancillary;
  bool random = false, ll_const = false, indexed = false, reads_frame = false;
  for (const vm::DecodedInsn& d : v->decoded()) {
    const vm::Op o = d.op;
    reads_frame |= vm::info(o).load_size != 0 || o == vm::Op::kLdxMsh || o == vm::Op::kLdLen ||
                   o == vm::Op::kLdxLen;
    const bool abs =
        o == vm::Op::kLdW || o == vm::Op::kLdH || o == vm::Op::kLdB || o == vm::Op::kLdxMsh;
    indexed |= o == vm::Op::kLdWInd || o == vm::Op::kLdHInd || o == vm::Op::kLdBInd;
    if (!linux || !abs) continue;
    random |= d.k >= vm::kSkfAdOff && vm::ancillary_for(d.k) == vm::Ancillary::kRandom;
    ll_const |= ll_load_past_header(d.k, o == vm::Op::kLdxMsh ? 1 : vm::info(o).load_size);
  }
  for (Hook h : kHooks) {
    const std::string where = name + " (hook " + std::string(eb::hook_name(h)) + ")";
    auto e = eb::translate(*v, h);
    if (!e.ok()) {  // only ancillary loads the hook has no field for, or SKF_NET_OFF under xdp
      ++st.refused;
      for (const Diagnostic& d : e.diagnostics().items()) {
        const bool expected =
            d.message.find("ancillary") != std::string::npos ||
            (h == Hook::kXdp && d.message.find("SKF_NET_OFF") != std::string::npos);
        EXPECT_TRUE(expected && d.insn_index) << where << ": " << d.message;
      }
      continue;
    }
    ++st.translations;
    LoadedProg l = load_ebpf(*e);
    if (!l.ok()) {
      ADD_FAILURE() << where << ": the kernel refuses the translation\n" << l.log;
      continue;
    }
    ++st.loaded;
    if (random) {
      ++st.not_run_random;
      continue;
    }
    if (h == Hook::kSocket && ll_const) {
      ++st.not_run_socket_ll;
      continue;
    }
    Frame socket_in;
    auto one = [&](const Frame& f, size_t index) {
      // data_in: the frame; for a socket filter its Ethernet header twice, since eth_type_trans
      // pulls one and the program sees the frame from its first byte (kernel_harness.hpp).
      const Frame* in_bytes = &f;
      if (h == Hook::kSocket) {
        socket_in.assign(f.begin(), f.begin() + kEthHlen);
        socket_in.insert(socket_in.end(), f.begin(), f.end());
        in_bytes = &socket_in;
      }
      const Frame& din = *in_bytes;
      if (din.size() > max_run(h)) {
        ++st.skip_oversize;
        return;
      }
      __sk_buff in = skb_ctx(index);
      const TestRunCtx tctx =
          h != Hook::kXdp && ancillary ? TestRunCtx{&in, sizeof in} : TestRunCtx{};
      if (kernel_refuses_short_ip(h, din)) {
        auto r = test_run(l.fd, din.data(), uint32_t(din.size()), tctx);
        EXPECT_TRUE(!r && errno == EINVAL)
            << where << ": a " << din.size()
            << "-byte short IP frame was expected to be refused by BPF_PROG_TEST_RUN";
        ++st.skip_short_ip;
        return;
      }
      vm::Context ctx;
      ctx.cpu = impl_->cpu;
      ctx.net_offset = h == Hook::kSocket ? 0 : h == Hook::kTc ? kEthHlen : 0xffffffffu;
      if (ancillary) {
        std::optional<Probe> scratch;
        const std::optional<Probe>& p = impl_->probe_for(h, din, index, scratch);
        if (!p) {
          ADD_FAILURE() << where << ": the probe's test run failed on a " << f.size()
                        << "-byte frame: " << std::strerror(errno);
          return;
        }
        ctx.ifindex = p->ifindex;
        ctx.queue = p->queue;
        ctx.protocol = p->protocol;
        ctx.pkttype = p->pkttype;
        ctx.rxhash = p->rxhash;
        ctx.vlan_tci = p->vlan_tci;
        ctx.vlan_present = p->vlan_present;
        ctx.vlan_tpid = p->vlan_tpid;
        ctx.mark = h == Hook::kXdp ? 0 : in.mark;
      }
      const uint32_t len = uint32_t(f.size());
      const uint32_t raw = interp.run(f.data(), len, len, ctx);
      if (h == Hook::kSocket && linux && indexed && indexed_load_past_ll_header(*v, f, ctx)) {
        ++st.skip_ll_packet;
        return;
      }
      const uint32_t want = eb::hook_verdict(h, raw);
      auto r = test_run(l.fd, din.data(), uint32_t(din.size()), tctx);
      if (!r) {
        ADD_FAILURE() << where << ": BPF_PROG_TEST_RUN failed on a " << f.size()
                      << "-byte frame: " << std::strerror(errno) << " " << hex_prefix(f);
        return;
      }
      ++st.runs;
      st.ancillary_runs += ancillary;
      if (r->retval != want && (++st.mismatches <= 10 || std::getenv("EBPF_ALL_MISMATCHES")))
        ADD_FAILURE() << where << ": kernel returns " << r->retval << ", interpreter " << want
                      << " on a " << f.size() << "-byte frame " << hex_prefix(f)
                      << (ancillary ? " (mark " + std::to_string(in.mark) + ")" : "");
    };
    // A program that reads neither packet bytes, nor the length, nor the context returns the
    // same on every frame: a spread of kIndependentSample frames is enough for it.
    const size_t n = impl_->frames.size();
    const size_t stride = reads_frame || n <= kIndependentSample ? 1 : n / kIndependentSample;
    for (size_t i = 0; i < n; i += stride) one(impl_->frames[i], i);
    st.frame_independent += stride > 1;
    for (size_t i = 0; i < extra.size(); ++i) one(extra[i], impl_->frames.size() + i);
  }
}

}  // namespace bpf::test
