// bpfdump --classify RULES (../shared/CLI.md): the capture (a file or a live interface) runs
// without a filter and every packet goes through the classifier program here, whose value is
// the rule number (compiler/classify/classify.hpp); the capture's own filters would cut each
// packet to that many bytes. Summary lines start with `[N]`; -w PREFIX writes rule N's packets
// to PREFIX.N.pcap (files opened on a rule's first packet, all in one pass); --stats counts per
// rule. --verdicts and --bench go through bpfdump's ordinary paths (the value is the number).
// Tested by tests/capture/bpfdump_test.cpp (Classify*).
#include "tools/bpfdump_classify.hpp"

#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "capture/summary.hpp"

namespace bpf::tools {

int run_classify(capture::Capture& cap, const jit::Filter& classifier, const ClassifyOutput& o,
                 const std::atomic<bool>& interrupted) {
  std::vector<uint64_t> per_rule(o.rules + 1, 0);
  std::vector<std::unique_ptr<capture::PcapWriter>> writers(o.rules + 1);
  if (const Diagnostics d = cap.start(); d.has_errors()) {
    std::fprintf(stderr, "bpfdump: %s\n", d.items().front().message.c_str());
    return 1;
  }
  if (!o.iface.empty())  // as bpfdump's filter mode: once the sockets are bound
    std::fprintf(stderr, "bpfdump: listening on %s, link-type %d, snapshot length %u bytes, classifying with %zu rules\n",
                 o.iface.c_str(), cap.linktype(), o.snaplen, o.rules);
  int status = 0;
  uint64_t matched = 0, received = 0;
  bool stopping = false;
  std::string line;
  capture::Batch b;
  for (;;) {
    if (!stopping && (interrupted.load() || status != 0)) {
      stopping = true;
      cap.stop();
    }
    const capture::Ring::Wait w = cap.next(b, 100);
    if (w == capture::Ring::Wait::kEnd) break;
    if (w == capture::Ring::Wait::kTimeout) continue;
    line.clear();
    for (const capture::Packet& p : b) {
      if (o.count && matched >= *o.count) break;
      ++received;
      uint32_t r = classifier.run(p.data, p.caplen, p.wirelen);
      if (r > o.rules) r = 0;  // cannot happen: the program returns 0..N
      ++per_rule[r];
      if (r == 0) continue;
      ++matched;
      if (!o.write_prefix.empty()) {
        auto& wr = writers[r];
        if (!wr) {
          const std::string path = o.write_prefix + "." + std::to_string(r) + ".pcap";
          auto opened = capture::PcapWriter::open(path, cap.linktype(), o.file_snaplen, cap.nano(), cap.linktype_ext());
          if (!opened.ok()) {
            std::fprintf(stderr, "bpfdump: %s\n", opened.diagnostics().items().front().message.c_str());
            status = 1;
            break;
          }
          wr = opened.take();
        }
        wr->write(p.ts, p.data, p.caplen, p.wirelen);
      } else {
        line += '[' + std::to_string(r) + "] ";
        capture::format_summary(line, cap.linktype(), p.ts, cap.nano(), p.data, p.caplen, p.wirelen);
        line += '\n';
      }
    }
    cap.release(b);
    if (!line.empty() && (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fflush(stdout) != 0))
      status = 1;
    if (o.count && matched >= *o.count && !stopping) {
      stopping = true;
      cap.stop();
    }
  }
  for (size_t r = 1; r < writers.size(); ++r)
    if (writers[r] && !writers[r]->close()) {
      std::fprintf(stderr, "bpfdump: %s.%zu.pcap: %s\n", o.write_prefix.c_str(), r, writers[r]->error().c_str());
      status = 1;
    }
  if (const std::string err = cap.error(); !err.empty() && !interrupted.load()) {
    std::fprintf(stderr, "bpfdump: %s\n", err.c_str());
    status = 1;
  }
  if (o.stats) {
    std::fprintf(stderr, "received: %" PRIu64 "\n", received);
    for (size_t r = 1; r <= o.rules; ++r) std::fprintf(stderr, "rule %zu: %" PRIu64 "\n", r, per_rule[r]);
    std::fprintf(stderr, "no rule: %" PRIu64 "\n", per_rule[0]);
  }
  return status;
}

}  // namespace bpf::tools
