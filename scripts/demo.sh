#!/usr/bin/env bash
# The demo behind `make demo`, on files that ship in examples/:
#  1. assemble an example program and print it in two formats (bpfc);
#  2. verify a program and show the verifier's report;
#  3. compile a tcpdump expression and print it as `tcpdump -d` does;
#  4. filter a capture with bpfdump on every built engine, with counters and speed.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
bin=$build/bin

step() { printf '\n== %s\n' "$*"; }

step "examples/arp.bpf"
cat examples/arp.bpf
step "bpfc examples/arp.bpf                (C array, like tcpdump -dd)"
"$bin/bpfc" examples/arp.bpf
step "bpfc -f xt_bpf examples/arp.bpf      (bpf_asm / iptables -m bpf --bytecode)"
"$bin/bpfc" -f xt_bpf examples/arp.bpf
step "bpfc --check -V examples/tcp_port_22.bpf   (verifier report on stderr)"
"$bin/bpfc" --check -V examples/tcp_port_22.bpf 2>&1 | tail -n 6
step "bpfc -e 'tcp port 80 or udp port 53' -d   (like tcpdump -d)"
"$bin/bpfc" -e 'tcp port 80 or udp port 53' -d
step "bpfdump -r examples/sample.pcap 'tcp port 80 or udp port 53'"
"$bin/bpfdump" -r examples/sample.pcap 'tcp port 80 or udp port 53'
for engine in interp asmjit llvm; do
  if "$bin/bpfdump" -r examples/sample.pcap --engine "$engine" --bench 1 'ip' >/dev/null 2>&1; then
    step "bpfdump --engine $engine --bench 2000 'tcp port 22 or ip6'"
    "$bin/bpfdump" -r examples/sample.pcap --engine "$engine" --bench 2000 'tcp port 22 or ip6' | tail -n 1
  fi
done
