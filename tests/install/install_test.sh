#!/usr/bin/env bash
# Installs the build BUILD_DIR into a temporary prefix, then builds and runs CONSUMER_DIR's program
# against it twice: with CMake (find_package(referkit)) and with pkg-config.
set -euo pipefail
build=$1
consumer=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
echo "installed into a temporary prefix:"
(cd "$prefix" && find . -type f -not -path "./include/*" | sort)
echo "headers: $(find "$prefix/include" -name '*.hpp' | wc -l)"

echo "--- find_package(referkit)"
cmake -S "$consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/cmake" >/dev/null
"$work/cmake/consumer"

echo "--- pkg-config referkit"
pc=$(dirname "$(find "$prefix" -name referkit.pc | head -n1)")
flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs referkit)
echo "pkg-config --cflags --libs referkit: ${flags//$prefix/PREFIX}"
# shellcheck disable=SC2086  # the flags are words
${CXX:-g++} "$consumer/main.cpp" -o "$work/pc-consumer" $flags
"$work/pc-consumer"
