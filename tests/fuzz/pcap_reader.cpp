// Fuzz target: bpfdump's file reader (capture::open_file, the API bpfdump uses) on any bytes, as
// a pcap or pcapng file. The input is a regular file (a memfd: classic pcap goes through our
// pread reader, pcapng through libpcap) and, when it fits a pipe buffer, also a pipe (libpcap
// only). Invariants: nothing crashes or reads outside a frame (every byte of every frame is
// read, for ASan); every frame's caplen is at most the input size; a read ends in kEnd or kError
// (with a message); and for the same bytes both paths deliver the same packets (caplen, wire
// length, timestamp, bytes) and end the same way: our reader is libpcap's, record for record.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "capture/source.hpp"

namespace {

using bpf::capture::Frame;
using bpf::capture::Source;

struct Read {
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<uint64_t> meta;  // wirelen, ts sec, ts frac per packet
  bool opened = false;
  Source::Status end = Source::Status::kOk;
};

Read read_all(int fd, size_t size, bool nano) {
  Read r;
  auto src = bpf::capture::open_file("/proc/self/fd/" + std::to_string(fd), nano);
  if (!src.ok()) {
    if (!src.diagnostics().has_errors()) std::abort();
    return r;
  }
  r.opened = true;
  std::vector<Frame> frames;
  for (size_t guard = 0; guard <= size; ++guard) {  // each record takes >= 16 bytes
    const Source::Status st = (*src)->read(frames, 0);
    for (const Frame& f : frames) {
      if (f.caplen > size) std::abort();
      unsigned sum = 0;
      for (uint32_t i = 0; i < f.caplen; ++i) sum += f.data[i];  // out of bounds: ASan
      (void)sum;
      r.bytes.emplace_back(f.data, f.data + f.caplen);
      r.meta.insert(r.meta.end(), {f.wirelen, f.ts.sec, f.ts.frac});
    }
    if (st == Source::Status::kError && (*src)->error().empty()) std::abort();
    if (st != Source::Status::kOk) {
      r.end = st;
      return r;
    }
    if (frames.empty()) std::abort();  // a file never times out: a read without packets is the end
  }
  std::abort();  // more reads than the input could hold records
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;
  const bool nano = size % 2 == 1;
  const int mfd = memfd_create("pcap_reader", MFD_CLOEXEC);
  if (mfd < 0 || write(mfd, data, size) != ssize_t(size)) std::abort();
  const Read file = read_all(mfd, size, nano);
  close(mfd);
  if (size > 60000) return 0;  // a pipe buffer holds 64 KiB: no writer thread needed below that
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) std::abort();
  if (size != 0 && write(p[1], data, size) != ssize_t(size)) std::abort();
  close(p[1]);
  const Read piped = read_all(p[0], size, nano);
  close(p[0]);
  if (file.opened != piped.opened || file.bytes != piped.bytes || file.meta != piped.meta || file.end != piped.end)
    std::abort();
  return 0;
}
