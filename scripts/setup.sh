#!/usr/bin/env bash
# Sets referkit up on a fresh Debian 12 machine, builds it, and runs the main job or the tests.
#   scripts/setup.sh demo   install missing packages, build (release), run `referkit demo`
#   scripts/setup.sh test   install missing packages, build (release), run every test (ctest)
# Run as root, it installs missing Debian packages with apt-get; otherwise it prints the exact
# apt-get line to run and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
case "$mode" in demo|test) ;; *) echo "usage: scripts/setup.sh demo|test" >&2; exit 2 ;; esac

# What each package is for is in README.md ("Dependencies").
packages=(cmake ninja-build g++ ccache pkg-config libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev
          libboost-dev libssl-dev openssl)
if [ "$mode" = test ]; then
  # The real peers of the interop tests; the demo needs none of them.
  packages+=(sip-tester baresip-core linphone-cli)
  # Node.js runs the SIP.js interop harness; a machine that already has `node` keeps its own.
  command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages. Run this, then run this script again:"
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}"
    exit 1
  fi
fi

cmake --preset release >/dev/null
cmake --build --preset release

# The SIP.js/WebSocket interop harness has its own locked npm dependencies.
if [ "$mode" = test ] && [ -f tests/interop/sipjs/package-lock.json ] && [ ! -d tests/interop/sipjs/node_modules ]; then
  (cd tests/interop/sipjs && npm ci --no-audit --no-fund --loglevel=error)
fi

case "$mode" in
  demo) exec build/release/referkit demo ;;
  test) exec ctest --preset release ;;
esac
