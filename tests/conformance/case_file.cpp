// Parser of the conformance case format (see README.md). Line-oriented, no dependencies.
#include "tests/conformance/case_file.hpp"

#include <cctype>
#include <sstream>

namespace bpf::conformance {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::optional<uint64_t> number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  size_t pos = 0;
  try {
    uint64_t v = std::stoull(s, &pos, 0);
    if (pos != s.size()) return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

bool parse_hex(const std::string& s, std::vector<uint8_t>& out) {
  std::string digits;
  for (char ch : s) {
    if (std::isspace(static_cast<unsigned char>(ch)) || ch == ':' || ch == '.') continue;
    if (!std::isxdigit(static_cast<unsigned char>(ch))) return false;
    digits += ch;
  }
  if (digits.size() % 2) return false;
  for (size_t i = 0; i < digits.size(); i += 2)
    out.push_back(uint8_t(std::stoul(digits.substr(i, 2), nullptr, 16)));
  return true;
}

bool set_context(vm::Context& c, const std::string& key, const std::string& val) {
  if (key == "default") { c = vm::Context{}; return val.empty(); }
  if (key == "no_device") { c.has_device = false; return val.empty(); }
  if (key == "no_link_header") { c.has_link_header = false; return val.empty(); }
  auto v = number(val);
  if (!v) return false;
  if (key == "protocol") c.protocol = uint16_t(*v);
  else if (key == "pkttype") c.pkttype = uint8_t(*v);
  else if (key == "ifindex") c.ifindex = uint32_t(*v);
  else if (key == "hatype") c.hatype = uint16_t(*v);
  else if (key == "mark") c.mark = uint32_t(*v);
  else if (key == "queue") c.queue = uint16_t(*v);
  else if (key == "rxhash") c.rxhash = uint32_t(*v);
  else if (key == "cpu") c.cpu = uint32_t(*v);
  else if (key == "vlan_tci") c.vlan_tci = uint16_t(*v);
  else if (key == "vlan_present") c.vlan_present = *v != 0;
  else if (key == "vlan_tpid") c.vlan_tpid = uint16_t(*v);
  else if (key == "random") c.random = uint32_t(*v);
  else if (key == "poff") c.payload_offset = uint32_t(*v);
  else if (key == "net_offset") c.net_offset = uint32_t(*v);
  else return false;
  return true;
}

}  // namespace

ParseResult parse_cases(const std::string& text, const std::string& file) {
  ParseResult r;
  std::istringstream in(text);
  std::string raw;
  int line = 0;
  Case* cur = nullptr;
  bool in_program = false;
  // The packet of the run being built; `packet` after an `expect` starts a new one.
  Run run;
  bool packet_fresh = true;  // next `packet` line replaces instead of appending
  bool wirelen_set = false;
  bool touched = true;  // packet, wirelen or context changed since the last expect
  auto err = [&](const std::string& m) { r.errors.push_back(file + ":" + std::to_string(line) + ": " + m); };

  while (std::getline(in, raw)) {
    ++line;
    if (in_program) {
      if (trim(raw) == "end") {
        in_program = false;
      } else {
        cur->source += raw;
        cur->source += '\n';
      }
      continue;
    }
    std::string l = trim(raw);
    if (l.empty() || l[0] == '#') continue;
    std::istringstream ls(l);
    std::string word;
    ls >> word;
    std::string rest;
    std::getline(ls, rest);
    rest = trim(rest);

    if (word == "case") {
      if (rest.empty()) err("case needs a name");
      r.cases.push_back(Case{file, line, rest, true, true, {}, {}, {}});
      cur = &r.cases.back();
      run = Run{};
      packet_fresh = true;
      wirelen_set = false;
      touched = true;
      continue;
    }
    if (!cur) {
      err("'" + word + "' before the first case");
      continue;
    }
    if (word == "target") {
      cur->linux = rest == "linux" || rest == "both";
      cur->bsd = rest == "bsd" || rest == "both";
      if (!cur->linux && !cur->bsd) err("target must be linux, bsd or both");
    } else if (word == "skip_libpcap") {
      if (rest.empty()) err("skip_libpcap needs a reason");
      cur->skip_libpcap = rest;
    } else if (word == "program") {
      if (!cur->source.empty()) err("second program in one case");
      in_program = true;
    } else if (word == "packet") {
      touched = true;
      if (packet_fresh) {
        run.packet.clear();
        packet_fresh = false;
      }
      std::istringstream ps(rest);
      std::string first;
      ps >> first;
      if (first == "seq" || first == "zeros") {  // `packet seq N`: bytes 0,1,2,...; zeros N
        std::string n;
        ps >> n;
        auto v = number(n);
        if (!v || *v > 65536) { err("bad length in packet " + first); continue; }
        for (uint64_t i = 0; i < *v; ++i) run.packet.push_back(first == "seq" ? uint8_t(i) : 0);
      } else if (!parse_hex(rest, run.packet)) {
        err("bad hex in packet");
      }
    } else if (word == "wirelen") {
      touched = true;
      auto v = number(rest);
      if (!v || *v > 0xffffffffull) err("bad wirelen");
      else { run.wirelen = uint32_t(*v); wirelen_set = true; }
    } else if (word == "context") {
      touched = true;
      std::istringstream cs(rest);
      std::string kv;
      while (cs >> kv) {
        size_t eq = kv.find('=');
        std::string key = kv.substr(0, eq);
        std::string val = eq == std::string::npos ? "" : kv.substr(eq + 1);
        if (!set_context(run.ctx, key, val)) err("bad context item '" + kv + "'");
      }
    } else if (word == "expect") {
      std::istringstream es(rest);
      std::string a, b;
      es >> a >> b;
      std::optional<uint64_t> v;
      bool lin = cur->linux, bsd = cur->bsd;
      if (a == "linux" || a == "bsd") {
        v = number(b);
        lin = a == "linux";
        bsd = a == "bsd";
      } else {
        v = number(a);
      }
      if (!v || *v > 0xffffffffull) { err("bad expect value"); continue; }
      Run done = run;
      if (!wirelen_set) done.wirelen = uint32_t(done.packet.size());
      done.line = line;
      if (lin) done.linux_expect = uint32_t(*v);
      if (bsd) done.bsd_expect = uint32_t(*v);
      // Merge with the previous run if it is the same packet and lacks this target.
      if (!cur->runs.empty()) {
        Run& prev = cur->runs.back();
        if (!touched && ((lin && !prev.linux_expect && !bsd) || (bsd && !prev.bsd_expect && !lin))) {
          if (lin) prev.linux_expect = done.linux_expect;
          if (bsd) prev.bsd_expect = done.bsd_expect;
          continue;
        }
      }
      cur->runs.push_back(std::move(done));
      packet_fresh = true;  // the next `packet` starts a new packet; context carries over
      wirelen_set = false;
      touched = false;
    } else {
      err("unknown directive '" + word + "'");
    }
  }
  if (in_program) err("program without end");
  for (const Case& c : r.cases) {
    if (c.source.empty()) r.errors.push_back(c.file + ":" + std::to_string(c.line) + ": case " + c.name + " has no program");
    if (c.runs.empty()) r.errors.push_back(c.file + ":" + std::to_string(c.line) + ": case " + c.name + " has no expect");
  }
  return r;
}

}  // namespace bpf::conformance
