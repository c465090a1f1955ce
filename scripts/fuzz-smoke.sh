#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 60) with a corpus seeded from the project's
# vectors. Expects the fuzz preset to be built (cmake --preset fuzz && cmake --build --preset fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
bin=build/fuzz/fuzz
work=build/fuzz/corpus
mkdir -p "$work"/{message,uri,sipfrag,framer,stack}
vectors=tests/conformance/vectors
cp -n "$vectors"/rfc4475/*.dat "$vectors"/rfc5118/*.dat bench/corpus/*.sip "$work/message/" 2>/dev/null || true
cp -n "$vectors"/sipfrag/*.frag "$work/sipfrag/" 2>/dev/null || true
# URI seeds: every Request-URI of the message vectors, plus Refer-To shapes.
i=0
for f in "$vectors"/rfc4475/*.dat "$vectors"/rfc5118/*.dat bench/corpus/*.sip; do
  head -n1 "$f" | tr -d '\r' | awk '{print $2}' > "$work/uri/seed$i"; i=$((i+1))
done
printf '<sip:carol@example.com?Replaces=a%%40b%%3Bto-tag%%3D1%%3Bfrom-tag%%3D2>' > "$work/uri/refer-to"
printf '"Bob \\"B\\"" <sips:bob@[2001:db8::1]:5061;transport=tls>;tag=x' > "$work/uri/name-addr"
# Framer seeds: a role/step byte followed by back-to-back messages and keep-alives.
for f in bench/corpus/*.sip; do { printf '\x06'; cat "$f" "$f"; printf '\r\n\r\n'; } > "$work/framer/$(basename "$f")"; done
# Stack seeds: fuzz_stack reads any bytes as steps (deliver, drop, time, commands, injections);
# a few fixed pseudo-random inputs of different lengths start it off.
for i in 1 2 3 4 5 6 7 8; do
  python3 -c "import random,sys; r=random.Random($i); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(150*$i)))" \
    > "$work/stack/seed$i"
done
status=0
for t in message uri sipfrag framer stack; do
  echo "fuzz_$t: ${seconds}s"
  mkdir -p build/fuzz/artifacts/$t
  if ! "$bin/fuzz_$t" "$work/$t" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix=build/fuzz/artifacts/$t/ -print_final_stats=1 2>&1 | tail -n 12; then
    status=1
  fi
done
exit $status
