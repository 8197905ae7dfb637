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
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include <cerrno>
#include <cstring>

#include "capture/source.hpp"

namespace bpf::capture {
namespace {

class FileSource final : public Source {
 public:
  FileSource(pcap_t* p, uint64_t size, bool nano) : p_(p), size_(size), nano_(nano) {}
  ~FileSource() override { pcap_close(p_); }

  Status read(std::vector<Frame>& out, int) override {
    out.clear();
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
  pcap_t* p_;
  uint64_t size_;
  bool nano_;
  std::atomic<uint64_t> pos_{24};
};

}  // namespace

Result<std::unique_ptr<Source>> open_file(const std::string& path, bool nano) {
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
  const FileHeader h{nano ? 0xa1b23c4du : 0xa1b2c3d4u, 2, 4, 0, 0, snaplen, static_cast<uint32_t>(linktype)};
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
