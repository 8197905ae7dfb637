// A veth pair in a fresh network namespace, for live capture tests (root only).
//
// `ip netns add`, then `ip -n NS link add veth0 type veth peer name veth1`, both up, IPv6 off (no
// router solicitations or MLD reports to muddy the counts). The calling thread enters the
// namespace (setns) for as long as the object lives, so every socket it opens sees veth0/veth1;
// threads it starts inherit the namespace. A raw AF_PACKET sender on veth0 sends known frames.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace bpf::capture::testing {

class VethNetns {
 public:
  VethNetns() {
    if (geteuid() != 0) {
      why_ = "SKIPPED: live capture tests need root (AF_PACKET sockets, ip netns)";
      return;
    }
    name_ = "bpfcap" + std::to_string(getpid());
    const std::string q = " >/dev/null 2>&1";
    if (std::system(("ip netns add " + name_ + q).c_str()) != 0) {
      why_ = "SKIPPED: 'ip netns add' failed (no network namespaces here?)";
      name_.clear();
      return;
    }
    const std::string in = "ip netns exec " + name_ + " ";
    if (std::system(("ip -n " + name_ + " link add veth0 type veth peer name veth1" + q).c_str()) != 0) {
      why_ = "SKIPPED: cannot create a veth pair in a network namespace";
      return;
    }
    std::system((in + "sysctl -qw net.ipv6.conf.all.disable_ipv6=1" + q).c_str());
    std::system((in + "sysctl -qw net.ipv6.conf.default.disable_ipv6=1" + q).c_str());
    std::system(("ip -n " + name_ + " link set veth0 up" + q).c_str());
    std::system(("ip -n " + name_ + " link set veth1 up" + q).c_str());
    std::system(("ip -n " + name_ + " link set lo up" + q).c_str());
    orig_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    const int ns = open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    if (orig_ < 0 || ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
      why_ = "SKIPPED: cannot enter the test network namespace";
      if (ns >= 0) close(ns);
      return;
    }
    close(ns);
    entered_ = true;
    // Wait for the carrier (veth comes up asynchronously).
    for (int i = 0; i < 100; ++i) {
      if (std::system("cat /sys/class/net/veth1/operstate 2>/dev/null | grep -q up") == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    sender_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = int(if_nametoindex("veth0"));
    if (sender_ < 0 || bind(sender_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
      why_ = "SKIPPED: cannot open a raw sender on veth0";
      return;
    }
    ok_ = true;
  }
  ~VethNetns() {
    if (sender_ >= 0) close(sender_);
    if (entered_) setns(orig_, CLONE_NEWNET);
    if (orig_ >= 0) close(orig_);
    if (!name_.empty()) std::system(("ip netns del " + name_ + " >/dev/null 2>&1").c_str());
  }
  bool ok() const { return ok_; }
  const std::string& why() const { return why_; }
  const std::string& name() const { return name_; }

  // Sends frames on veth0, pausing now and then so the receive backlog never overflows.
  bool send(const std::vector<std::vector<uint8_t>>& frames) const {
    size_t i = 0;
    for (const auto& f : frames) {
      if (::send(sender_, f.data(), f.size(), 0) != ssize_t(f.size())) return false;
      if (++i % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    return true;
  }

 private:
  std::string name_, why_;
  int orig_ = -1, sender_ = -1;
  bool entered_ = false, ok_ = false;
};

// One namespace per test binary: created before the first test, removed after the last.
class NetnsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { ns_ = std::make_unique<VethNetns>(); }
  void TearDown() override { ns_.reset(); }
  static VethNetns& get() { return *ns_; }

 private:
  static inline std::unique_ptr<VethNetns> ns_;
};

}  // namespace bpf::capture::testing
