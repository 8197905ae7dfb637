// pcap/pcapng files through libpcap, and the classic pcap writer.
//
// Reading uses pcap_open_offline_with_tstamp_precision (micro as tcpdump by default, or nano)
// and pcap_next_ex, whose buffer is reused: each read() yields one packet. libpcap
// reports truncated records and corrupt headers ("truncated dump file; tried to read ...");
// the message is passed on as is.
//
// Writing is our own (the format is 24 + 16 bytes of headers, pcap-savefile(5)): one buffer of
// 1 MiB flushed with write(2), the timestamps as read, and the magic in host byte order: exactly
// what `tcpdump -w` writes for the same records.
// Tested in tests/capture/source_test.cpp.
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>

#include "capture/source.hpp"

namespace bpf::capture {
namespace {

class FileSource final : public Source {
 public:
  FileSource(pcap_t* p, uint64_t size, bool nano) : p_(p), size_(size), nano_(nano) {}
  ~FileSource() override { pcap_close(p_); }

  Status read(std::vector<Frame>& out, int timeout_ms) override {
    out.clear();
    if (size_ == 0 && !readable(timeout_ms)) return Status::kOk;  // a pipe with nothing yet
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    const int rc = pcap_next_ex(p_, &h, &data);
    if (rc == 1) {
      Frame f;
      f.data = data;
      f.caplen = h->caplen;
      f.wirelen = h->len;
      // Raw header values (tv_usec holds nanoseconds with PCAP_TSTAMP_PRECISION_NANO).
      f.ts = Timestamp{static_cast<uint32_t>(h->ts.tv_sec), static_cast<uint32_t>(h->ts.tv_usec)};
      out.push_back(f);
      // Approximate position (record header + data) for progress(); exact for classic pcap.
      pos_.store(pos_.load(std::memory_order_relaxed) + 16 + h->caplen, std::memory_order_relaxed);
      return Status::kOk;
    }
    if (rc == PCAP_ERROR_BREAK) return Status::kEnd;
    error_ = pcap_geterr(p_);
    return Status::kError;
  }
  int linktype() const override { return pcap_datalink(p_); }
  uint32_t snaplen() const override { return static_cast<uint32_t>(pcap_snapshot(p_)); }
  bool nano() const override { return nano_; }
  double progress() const override {
    if (size_ == 0) return -1;
    return std::min(1.0, double(pos_.load(std::memory_order_relaxed)) / double(size_));
  }

 private:
  // Pipes and terminals (`-r -`): wait at most timeout_ms for input, so the capture thread can
  // notice a stop request instead of blocking in fread. Data already in the FILE buffer counts
  // (glibc's public _IO_read_ptr/_IO_read_end fields, <bits/types/struct_FILE.h>).
  bool readable(int timeout_ms) const {
    FILE* fp = pcap_file(p_);
    if (fp == nullptr || fp->_IO_read_ptr < fp->_IO_read_end) return true;
    pollfd pfd{fileno(fp), POLLIN, 0};
    return poll(&pfd, 1, timeout_ms) != 0;
  }

  pcap_t* p_;
  uint64_t size_;
  bool nano_;
  std::atomic<uint64_t> pos_{24};
};


// Classic pcap files that are regular files: mapped and read in place, up to kBatch records per
// read() (zero copy: the frames point into the mapping). Only what is certain to be read the same
// way by libpcap takes this path: version 2.4, either byte order, micro or nano magic, a link type
// whose DLT equals its LINKTYPE (or RAW), a header snap length in 1..262144, and records whose
// caplen does not exceed it. At the first record that is anything else (oversized caplen, a
// record cut short by the end of the file), reading continues through libpcap from that record
// on, so errors and quirks are libpcap's own ("truncated dump file; ...").
// The page-table work of the mapping (filling it, ~64K entries for 262 MB, and tearing it down)
// is done by a second thread, populate(), next to the reading instead of before (MAP_POPULATE)
// and after it (munmap at close): with a selective filter it was a third of the time. Measured
// alternative, not kept: read(2) into a reusable cache-resident buffer (64 KiB..2 MiB) was no
// faster than the populated mapping (the copy out of the page cache costs as much as the page
// tables), so the frames stay views into the mapping.
class MappedPcapSource final : public Source {
 public:
  static constexpr size_t kBatch = 256;
  static constexpr size_t kPrefetch = 16384;

  ~MappedPcapSource() override {
    stop_.store(true, std::memory_order_relaxed);
    if (populator_.joinable()) populator_.join();
    if (map_ != nullptr && unmapped_ < size_) munmap(const_cast<uint8_t*>(map_) + unmapped_, size_ - unmapped_);
  }

  // nullptr when the file is not eligible (the caller then uses libpcap from the start).
  static std::unique_ptr<MappedPcapSource> open(const std::string& path, bool nano) {
    if (path == "-") return nullptr;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    struct stat st{};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 24) {
      ::close(fd);
      return nullptr;
    }
    const size_t size = static_cast<size_t>(st.st_size);
    void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) return nullptr;
    madvise(m, size, MADV_SEQUENTIAL);
    std::unique_ptr<MappedPcapSource> s(new MappedPcapSource());
    s->map_ = static_cast<const uint8_t*>(m);
    s->size_ = size;
    s->path_ = path;
    s->want_nano_ = nano;
    if (!s->parse_header()) return nullptr;
    s->populator_ = std::thread([p = s.get()] { p->populate(); });
    return s;
  }

  Status read(std::vector<Frame>& out, int timeout_ms) override {
    if (fallback_) {
      const Status st = fallback_->read(out, timeout_ms);
      if (st == Status::kError) error_ = fallback_->error();
      if (!out.empty()) off_.store(off_.load(std::memory_order_relaxed) + 16 + out[0].caplen, std::memory_order_relaxed);
      return st;
    }
    out.clear();
    size_t off = off_.load(std::memory_order_relaxed);
    released_.store(off, std::memory_order_release);  // the previous batch's views are dead
    while (out.size() < kBatch) {
      if (off == size_) break;
      // Record headers form a dependent chain (each offset comes from the previous caplen), so
      // the loads cannot overlap by themselves: stream the mapping into the cache a few KiB ahead.
      for (const size_t ahead = std::min(off + kPrefetch, size_); prefetched_ < ahead; prefetched_ += 64)
        __builtin_prefetch(map_ + prefetched_);
      if (size_ - off < 16) break;  // cut short: libpcap reports it (below)
      uint32_t h[4];
      std::memcpy(h, map_ + off, 16);
      if (swapped_)
        for (uint32_t& v : h) v = __builtin_bswap32(v);
      const uint32_t caplen = h[2];
      if (caplen > snaplen_ || size_ - off - 16 < caplen) break;
      Frame f;
      f.data = map_ + off + 16;
      f.caplen = caplen;
      f.wirelen = h[3];
      f.ts = Timestamp{h[0], scale(h[1])};
      out.push_back(f);
      off += 16 + caplen;
      ++index_;
    }
    off_.store(off, std::memory_order_relaxed);
    if (!out.empty()) return Status::kOk;
    if (off == size_) return Status::kEnd;
    return switch_to_libpcap(out, timeout_ms);
  }
  int linktype() const override { return dlt_; }
  uint32_t snaplen() const override { return snaplen_; }
  bool nano() const override { return want_nano_; }
  double progress() const override {
    return std::min(1.0, double(off_.load(std::memory_order_relaxed)) / double(size_));
  }

 private:
  MappedPcapSource() = default;

  bool parse_header() {
    uint32_t magic;
    std::memcpy(&magic, map_, 4);
    switch (magic) {
      case 0xa1b2c3d4u: break;
      case 0xa1b23c4du: file_nano_ = true; break;
      case 0xd4c3b2a1u: swapped_ = true; break;
      case 0x4d3cb2a1u: swapped_ = file_nano_ = true; break;
      default: return false;  // pcapng or not a capture: libpcap decides
    }
    uint16_t major, minor;
    uint32_t snap, link;
    std::memcpy(&major, map_ + 4, 2);
    std::memcpy(&minor, map_ + 6, 2);
    std::memcpy(&snap, map_ + 16, 4);
    std::memcpy(&link, map_ + 20, 4);
    if (swapped_) {
      major = __builtin_bswap16(major);
      minor = __builtin_bswap16(minor);
      snap = __builtin_bswap32(snap);
      link = __builtin_bswap32(link);
    }
    if (major != 2 || minor != 4 || snap == 0 || snap > 262144) return false;
    switch (link) {  // LINKTYPE_ -> DLT_ where libpcap maps them (pcap-common.c)
      case 0: case 1: case 105: case 113: case 127: case 228: case 229: case 276: dlt_ = int(link); break;
      case 101: dlt_ = 12; break;  // LINKTYPE_RAW -> DLT_RAW
      default: return false;
    }
    snaplen_ = snap;
    off_.store(24, std::memory_order_relaxed);
    return true;
  }

  // The populating thread: fills the page tables of the mapping at most kAhead ahead of the
  // reader (MADV_POPULATE_READ, 2 MiB at a time), so the reader neither faults nor loses its
  // software prefetches on unmapped pages; where it is unsupported or behind, the reader's own
  // faults map the pages. Behind the reader it unmaps whole chunks below released_ (the start of
  // the current batch: earlier frames are dead by the Source contract); the destructor unmaps
  // the rest after joining it.
  void populate() {
    constexpr size_t kChunk = size_t(2) << 20, kAhead = size_t(256) << 20;
    const uintptr_t base = reinterpret_cast<uintptr_t>(map_);
    bool populating = true;
    for (size_t at = 0; !stop_.load(std::memory_order_relaxed);) {
      // Behind the reader: unmap what no frame can point to any more, here rather than all at
      // once when the source is closed.
      const size_t dead = released_.load(std::memory_order_acquire) & ~(kChunk - 1);
      if (dead >= unmapped_ + kChunk) {
        munmap(reinterpret_cast<void*>(base + unmapped_), dead - unmapped_);
        unmapped_ = dead;
      }
      at = std::max(at, unmapped_);  // never touch a range given back (another mapping may be there)
      if (!populating || at >= size_ || at > off_.load(std::memory_order_relaxed) + kAhead) {
        if (unmapped_ + kChunk > size_) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      const size_t len = std::min(kChunk, size_ - at);
      if (madvise(reinterpret_cast<void*>(base + at), len, MADV_POPULATE_READ) != 0 && errno != EINTR) populating = false;
      at += len;
    }
  }

  uint32_t scale(uint32_t frac) const {
    if (file_nano_ == want_nano_) return frac;
    // libpcap's scaling between resolutions (sf-pcap.c: SCALE_UP / SCALE_DOWN).
    return want_nano_ ? frac * 1000u : frac / 1000u;
  }

  // Hands over to libpcap at record index_: reopen, skip the records already returned.
  Status switch_to_libpcap(std::vector<Frame>& out, int timeout_ms) {
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_open_offline_with_tstamp_precision(
        path_.c_str(), want_nano_ ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO, err);
    if (p == nullptr) {
      error_ = err;
      return Status::kError;
    }
    fallback_ = std::make_unique<FileSource>(p, size_, want_nano_);
    std::vector<Frame> skip;
    for (uint64_t i = 0; i < index_; ++i) {
      if (fallback_->read(skip, -1) != Status::kOk) {
        error_ = "the file changed while it was read";
        return Status::kError;
      }
    }
    return read(out, timeout_ms);
  }

  const uint8_t* map_ = nullptr;
  size_t size_ = 0;
  std::string path_;
  bool swapped_ = false, file_nano_ = false, want_nano_ = false;
  uint32_t snaplen_ = 0;
  int dlt_ = 1;
  uint64_t index_ = 0;
  size_t prefetched_ = 0;
  std::atomic<size_t> off_{24};
  std::unique_ptr<FileSource> fallback_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> released_{0};  // the reader no longer needs the mapping below this offset
  size_t unmapped_ = 0;              // [0, unmapped_) is unmapped (the populating thread's)
  std::thread populator_;
};

}  // namespace

Result<std::unique_ptr<Source>> open_file(const std::string& path, bool nano) {
  if (auto fast = MappedPcapSource::open(path, nano)) return std::unique_ptr<Source>(std::move(fast));
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline_with_tstamp_precision(
      path.c_str(), nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO, err);
  if (p == nullptr) {
    Diagnostics d;
    d.error(path + ": " + err);
    return d;
  }
  struct stat st{};
  const uint64_t size = (path != "-" && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ? uint64_t(st.st_size) : 0;
  return std::unique_ptr<Source>(new FileSource(p, size, nano));
}

// ---- PcapWriter ----

namespace {
struct FileHeader {
  uint32_t magic;
  uint16_t version_major, version_minor;
  int32_t thiszone;
  uint32_t sigfigs, snaplen, linktype;
};
struct RecHeader {
  uint32_t sec, usec, caplen, len;
};
constexpr size_t kWriteBuffer = 1u << 20;

// DLT_ values (what pcap_datalink returns) that differ from the LINKTYPE_ value a file header
// holds: libpcap's dlt_to_linktype (pcap-common.c), which pcap_dump_open applies too.
uint32_t linktype_for_file(int dlt) {
  switch (dlt) {
    case 11: return 100;  // DLT_ATM_RFC1483
    case 12: return 101;  // DLT_RAW (Linux, most BSDs)
    case 14: return 101;  // DLT_RAW (OpenBSD)
    case 15: return 102;  // DLT_SLIP_BSDOS
    case 16: return 103;  // DLT_PPP_BSDOS
    case 19: return 106;  // DLT_ATM_CLIP
    case 17: return 117;  // DLT_PFLOG (OpenBSD numbering)
    case 18: return 246;  // DLT_PFSYNC (OpenBSD numbering)
    default: return static_cast<uint32_t>(dlt);
  }
}
}  // namespace

Result<std::unique_ptr<PcapWriter>> PcapWriter::open(const std::string& path, int linktype,
                                                     uint32_t snaplen, bool nano) {
  std::unique_ptr<PcapWriter> w(new PcapWriter());
  if (path == "-") {
    w->fd_ = STDOUT_FILENO;
  } else {
    w->fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd_ < 0) {
      Diagnostics d;
      d.error(path + ": " + std::strerror(errno));
      return d;
    }
    w->own_fd_ = true;
  }
  w->buf_.resize(kWriteBuffer);
  const FileHeader h{nano ? 0xa1b23c4du : 0xa1b2c3d4u, 2, 4, 0, 0, snaplen, linktype_for_file(linktype)};
  std::memcpy(w->buf_.data(), &h, sizeof h);
  w->used_ = sizeof h;
  return w;
}

PcapWriter::~PcapWriter() { close(); }

void PcapWriter::write(Timestamp ts, const uint8_t* data, uint32_t caplen, uint32_t wirelen) {
  const size_t need = sizeof(RecHeader) + caplen;
  if (used_ + need > buf_.size()) {
    flush();
    if (need > buf_.size()) buf_.resize(need);
  }
  const RecHeader r{ts.sec, ts.frac, caplen, wirelen};
  std::memcpy(buf_.data() + used_, &r, sizeof r);
  std::memcpy(buf_.data() + used_ + sizeof r, data, caplen);
  used_ += need;
}

size_t PcapWriter::write_batch(const Batch& batch, size_t max) {
  static_assert(sizeof(RecordHeader) == sizeof(RecHeader), "ring records are pcap records");
  flush();  // keep the order with anything buffered
  std::vector<iovec> iov;
  size_t n = 0;
  if (batch.packed() && batch.count() <= max) {  // the buffer is the record stream: one piece
    if (batch.size_bytes() != 0)
      iov.push_back(iovec{const_cast<uint8_t*>(batch.bytes()), batch.size_bytes()});
    n = batch.count();
  } else {
    iov.reserve(std::min<size_t>(batch.count(), max));
    for (const Packet& p : batch) {
      if (n == max) break;
      const uint8_t* rec = p.data - sizeof(RecordHeader);
      const size_t len = sizeof(RecordHeader) + p.caplen;
      if (!iov.empty() && static_cast<uint8_t*>(iov.back().iov_base) + iov.back().iov_len == rec)
        iov.back().iov_len += len;  // contiguous with the previous record (no padding): merge
      else
        iov.push_back(iovec{const_cast<uint8_t*>(rec), len});
      ++n;
    }
  }
  size_t i = 0;
  while (i < iov.size() && fd_ >= 0 && error_.empty()) {
    const int cnt = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
    const ssize_t w = ::writev(fd_, iov.data() + i, cnt);
    if (w < 0) {
      if (errno == EINTR) continue;
      error_ = std::string("write: ") + std::strerror(errno);
      break;
    }
    // Advance over what was written (a short write leaves a partial iovec).
    size_t left = static_cast<size_t>(w);
    while (left > 0 && i < iov.size()) {
      if (left >= iov[i].iov_len) {
        left -= iov[i].iov_len;
        ++i;
      } else {
        iov[i].iov_base = static_cast<uint8_t*>(iov[i].iov_base) + left;
        iov[i].iov_len -= left;
        left = 0;
      }
    }
  }
  return n;
}

bool PcapWriter::flush() {
  size_t done = 0;
  while (done < used_ && fd_ >= 0) {
    const ssize_t n = ::write(fd_, buf_.data() + done, used_ - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (error_.empty()) error_ = std::string("write: ") + std::strerror(errno);
      used_ = 0;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  used_ = 0;
  return error_.empty();
}

bool PcapWriter::close() {
  if (fd_ < 0) return error_.empty();
  flush();
  if (own_fd_ && ::close(fd_) != 0 && error_.empty()) error_ = std::string("close: ") + std::strerror(errno);
  fd_ = -1;
  return error_.empty();
}

}  // namespace bpf::capture
