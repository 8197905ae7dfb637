#!/usr/bin/env bash
# libbpfc.so exports the public API and nothing else: its soname is versioned
# (libbpfc.so.MAJOR), the C API's functions are all there, and every other exported symbol is in
# one of the C++ API's namespaces (api/libbpfc.map) -- no asmjit, grammar or libstdc++ symbol.
# usage: check_exports.sh LIBBPFC_SO API_HEADER
set -euo pipefail
lib=$1
header=$2
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname =~ ^libbpfc\.so\.[0-9]+$ ]] || { echo "FAIL: soname '$soname'"; exit 1; }
syms=$(nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}' | sed 's/@.*//')
status=0
for fn in $(grep -oE 'bpfc_[a-z_]+\(' "$header" | tr -d '(' | sort -u); do
  grep -qx "$fn" <<<"$syms" || { echo "FAIL: $fn not exported"; status=1; }
done
others=$(grep -v '^bpfc_' <<<"$syms" | c++filt |
         grep -vE '^((typeinfo|typeinfo name|vtable) for )?bpf::(vm|verifier|compiler|jit|capture)::|^bpf::(Diagnostics|LineMap)::' || true)
if [ -n "$others" ]; then
  echo "FAIL: exported beyond the API:"
  echo "$others"
  status=1
fi
[ $status -eq 0 ] && echo "libbpfc.so: soname $soname, $(wc -l <<<"$syms") symbols, all API"
exit $status
