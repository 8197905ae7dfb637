#!/usr/bin/env bash
# The demo behind `make demo`: assemble an example program and print it in two formats.
set -euo pipefail
build=${1:-build}
bin=$build/bin
cd "$(dirname "$0")/.."
echo "== examples/arp.bpf"
cat examples/arp.bpf
echo "== bpfc examples/arp.bpf   (C array, like tcpdump -dd)"
"$bin/bpfc" examples/arp.bpf
echo "== bpfc -f xt_bpf examples/arp.bpf   (iptables -m bpf --bytecode)"
"$bin/bpfc" -f xt_bpf examples/arp.bpf
