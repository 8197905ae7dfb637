#!/usr/bin/env bash
# Installs the build tree into a temporary prefix (cmake --install; the build tree is only read)
# and checks what ../shared/API.md promises an embedder:
#  - every file of the install table is there; bpfc.pc and the CMake package name no build or
#    source path; the installed tools run;
#  - <bpfc/bpfc.hpp> compiles with only <prefix>/include and pulls in no LLVM/asmjit/libpcap
#    header (tests/api/check_headers.cmake);
#  - examples/embed/, copied out of the tree, builds against the prefix: filter_pcap (C, through
#    pkg-config and libpcap) and filter_file (C++, through find_package(bpfc)); both run on a
#    capture (examples/sample.pcap, and $BPFC_CORPUS_DIR/*.pcap when there), bpfc's verdicts
#    agree with pcap_offline_filter's on every packet, the two programs accept the same packets,
#    and libbpfc loads the LLVM engine module installed beside it, not the build tree's.
# usage: install_test.sh BUILD_DIR SOURCE_DIR [CORPUS_DIR]
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
corpus=${3:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bpfc_install_test.XXXXXX")
trap '[ -n "${BPFC_KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }

for f in bin/bpfc bin/bpfdump lib/libbpfc.so include/bpfc/bpfc.h include/bpfc/bpfc.hpp \
         lib/cmake/bpfc/bpfcConfig.cmake lib/cmake/bpfc/bpfcConfigVersion.cmake \
         lib/pkgconfig/bpfc.pc; do
  [ -e "$prefix/$f" ] || fail "$f not installed"
done
soname=$(readelf -d "$prefix/lib/libbpfc.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ -n "$soname" ] && [ -e "$prefix/lib/$soname" ] || fail "soname link '$soname' not installed"
for f in share/man/man1/bpfc.1 share/man/man1/bpfdump.1 share/man/man3/bpfc.3 \
         share/bash-completion/completions/bpfc share/bash-completion/completions/bpfdump; do
  if [ -e "$src/${f##*/}" ] || [ -e "$src/man/${f##*/}" ] || [ -e "$src/completion/${f##*/}" ]; then
    [ -e "$prefix/$f" ] || fail "$f not installed"
  fi
done
if grep -rlI -e "$build" -e "$src" "$prefix/lib/pkgconfig" "$prefix/lib/cmake" "$prefix/include"; then
  fail "installed text files name the build or source tree"
fi
"$prefix/bin/bpfc" -e 'tcp port 80' >/dev/null || fail "installed bpfc does not run"

cmake -DCXX="${CXX:-c++}" -DINCLUDE="$prefix/include" -DWORK="$tmp/headers" \
      -P "$src/tests/api/check_headers.cmake" || fail "installed headers"

# The examples, out of the source tree, against the prefix only.
cp -r "$src/examples/embed" "$tmp/embed"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
make -s -C "$tmp/embed" filter_pcap LDFLAGS="-Wl,-rpath,$prefix/lib" >"$tmp/make.log" 2>&1 ||
  { cat "$tmp/make.log"; fail "C example (pkg-config)"; }
cmake -S "$tmp/embed" -B "$tmp/embed-build" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "find_package(bpfc)"; }
cmake --build "$tmp/embed-build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "C++ example"; }
[[ $(ldd "$tmp/embed/filter_pcap") == *"$prefix/lib/libbpfc.so"* ]] || fail "filter_pcap does not use the installed libbpfc"
[[ $(ldd "$tmp/embed-build/filter_file") == *"$prefix/lib/libbpfc.so"* ]] || fail "filter_file does not use the installed libbpfc"

captures=("$src/examples/sample.pcap")
if [ -n "$corpus" ] && [ -e "$corpus/ether.pcap" ]; then
  captures+=("$corpus/ether.pcap")
else
  echo "corpus not found (BPFC_CORPUS_DIR): examples/sample.pcap only"
fi
engines=(auto interp)
"$tmp/embed/filter_pcap" "${captures[0]}" tcp asmjit >/dev/null 2>&1 && engines+=(asmjit)
"$tmp/embed/filter_pcap" "${captures[0]}" tcp llvm >/dev/null 2>&1 && engines+=(llvm)
echo "engines: ${engines[*]}"
for cap in "${captures[@]}"; do
  for expr in 'tcp' 'udp port 53 or arp' 'ip and not tcp port 22' 'ip6 or vlan'; do
    for e in "${engines[@]}"; do
      out=$(unset BPFC_LLVM_PLUGIN; "$tmp/embed/filter_pcap" "$cap" "$expr" "$e") ||
        fail "filter_pcap $cap '$expr' $e: $out"
      cpp=$(unset BPFC_LLVM_PLUGIN; "$tmp/embed-build/filter_file" "$cap" "$expr" "$e") ||
        fail "filter_file $cap '$expr' $e: $cpp"
      a=$(sed -n 's/.* accepted \([0-9]*\) .*/\1/p' <<<"$out")
      b=$(sed -n 's/.* accepted \([0-9]*\) .*/\1/p' <<<"$cpp")
      [ "$a" = "$b" ] || fail "'$expr' $e on $cap: C accepted $a, C++ accepted $b"
      if [ "$e" = llvm ]; then
        [[ $cpp == *"llvm module $prefix/lib/libbpfc_llvm.so"* ]] ||
          fail "libbpfc did not load the installed LLVM module: $cpp"
      fi
    done
    echo "${cap##*/} '$expr': $out"
  done
done
echo "install test passed ($prefix)"
