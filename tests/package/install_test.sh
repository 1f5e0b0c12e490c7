#!/usr/bin/env bash
# The package end to end: install the build tree into a temporary prefix, configure and build
# tests/package/consumer against it with find_package(Switchyard), run it on a small shard.
#   tests/package/install_test.sh BUILD_DIR SWITCHYARD_BINARY
set -euo pipefail
build=$1
bin=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
[ -x "$work/prefix/bin/switchyard" ] || { echo "FAILED: no bin/switchyard"; exit 1; }
"$work/prefix/bin/switchyard" --version
cmake -S "$here/consumer" -B "$work/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log" ||
  { cat "$work/configure.log"; exit 1; }
cmake --build "$work/consumer" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
for i in $(seq 300); do echo "tokens for the consumer's one step, line $i"; done > "$work/text.txt"
"$bin" prepare --out "$work/data" "$work/text.txt" > /dev/null
"$work/consumer/consumer" "$work/data/train.bin"
