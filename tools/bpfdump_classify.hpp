// bpfdump --classify without --verdicts/--bench (tools/bpfdump_classify.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "capture/capture.hpp"
#include "jit/engine.hpp"

namespace bpf::tools {

struct ClassifyOutput {
  std::string write_prefix;       // -w PREFIX: rule N's packets go to PREFIX.N.pcap
  std::optional<uint64_t> count;  // -c N: stop after N packets that matched a rule
  bool stats = false;             // --stats: per-rule counts on stderr
  size_t rules = 0;
  uint32_t file_snaplen = 262144;  // snap length written in the pcap headers
  std::string iface;               // live: the interface, for the "listening on" line
  uint32_t snaplen = 262144;
};

// Every packet of the (unfiltered) capture through the classifier, in the main thread: a
// packet of rule N prints `[N] ` and its summary line, or goes to PREFIX.N.pcap; packets of no
// rule are counted only. Returns the exit status.
int run_classify(capture::Capture& cap, const jit::Filter& classifier, const ClassifyOutput& o,
                 const std::atomic<bool>& interrupted);

}  // namespace bpf::tools
