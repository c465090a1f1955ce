#!/usr/bin/env bash
# Installs the build BUILD_DIR into a temporary prefix, then builds and runs CONSUMER_DIR's program
# against it twice: with CMake (find_package(referkit)) and with pkg-config.
# Usage: install_test.sh BUILD_DIR CONSUMER_DIR [CMAKE [CXX [GENERATOR]]]
set -euo pipefail
build=$1
consumer=$2
cmake=${3:-cmake}
cxx=${4:-${CXX:-g++}}
generator=${5:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
"$cmake" --install "$build" --prefix "$prefix" >/dev/null
echo "installed into a temporary prefix:"
(cd "$prefix" && find . -not -type d -not -path "./include/*" | sort)
echo "headers: $(find "$prefix/include" -name '*.hpp' | wc -l)"

echo "--- find_package(referkit)"
gen=()
[ -n "$generator" ] && gen=(-G "$generator")
"$cmake" -S "$consumer" -B "$work/cmake" "${gen[@]}" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
"$cmake" --build "$work/cmake"
"$work/cmake/consumer"

echo "--- pkg-config referkit"
pc=$(dirname "$(find "$prefix" -name referkit.pc | head -n1)")
export PKG_CONFIG_PATH=$pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
flags=$(pkg-config --cflags --libs referkit)
libdir=$(pkg-config --variable=libdir referkit)
echo "pkg-config --cflags --libs referkit: ${flags//$prefix/PREFIX}"
# shellcheck disable=SC2086  # the flags are words
"$cxx" -std=c++23 "$consumer/main.cpp" -o "$work/pc-consumer" $flags -Wl,-rpath,"$libdir"
"$work/pc-consumer"
