#!/usr/bin/env bash
# Exercises the referkit command: exit codes and the JSON it prints. Usage: cli_test.sh REFERKIT VECTORS_DIR
set -u
bin=$1 vectors=$2
pass=0 fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# check NAME EXPECTED_EXIT PATTERN -- command...   (PATTERN is a grep -E over stdout+stderr; "" = none)
check() {
  local name=$1 want=$2 pattern=$3; shift 4
  "$@" >"$tmp/out" 2>&1; local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL $name: exit $got, wanted $want"; sed 's/^/    /' "$tmp/out" | head -20; fail=$((fail+1)); return
  fi
  if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$tmp/out"; then
    echo "FAIL $name: output lacks /$pattern/"; sed 's/^/    /' "$tmp/out" | head -20; fail=$((fail+1)); return
  fi
  echo "ok   $name"; pass=$((pass+1))
}

printf 'REFER sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 REFER\r\nr: <sip:carol@example.com?Replaces=x%%40y%%3Bto-tag%%3D1%%3Bfrom-tag%%3D2>\r\nContent-Length: 0\r\n\r\n' >"$tmp/refer.sip"
printf 'REFER sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 REFER\r\nContent-Length: 10\r\n\r\nabc' >"$tmp/short.sip"
printf 'NOTIFY sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK2\r\nFrom: <sip:b@example.com>;tag=b\r\nTo: <sip:a@example.com>;tag=a\r\nCall-ID: c1\r\nCSeq: 2 NOTIFY\r\nEvent: refer;id=\r\nContent-Length: 0\r\n\r\n' >"$tmp/badevent.sip"

check "parse a REFER"            0 '"method": "REFER"'                 -- "$bin" parse "$tmp/refer.sip"
check "compact r: is Refer-To"   0 '"name":"Refer-To","as_written":"r"' -- "$bin" parse --compact "$tmp/refer.sip"
check "embedded Replaces decoded" 0 '"Replaces":"x@y;to-tag=1;from-tag=2"' -- "$bin" parse --compact "$tmp/refer.sip"
check "stdin with -"             0 '"kind":"request"'                  -- sh -c "\"$bin\" parse --compact - < \"$tmp/refer.sip\""
check "truncated body: 400 + offset" 1 '"offset":[0-9]+,"code":"body_truncated".*"status":400' -- "$bin" parse --compact "$tmp/short.sip"
check "lazy header error found"  1 '"error":\{"offset":[0-9]+,"code":"bad_param"'  -- "$bin" parse --compact "$tmp/badevent.sip"
check "unsupported version: 505" 1 '"status":505'                      -- "$bin" parse --compact "$vectors/rfc4475/badvers.dat"
check "torture wsinv accepted"   0 '"method":"INVITE"'                 -- "$bin" parse --compact "$vectors/rfc4475/wsinv.dat"
check "non-UTF-8 bytes shown"    0 '\\\\x'                              -- "$bin" parse --compact "$vectors/rfc4475/intmeth.dat"
check "sipfrag 486"              0 '"status":486,"reason":"Busy Here"' -- sh -c "printf 'SIP/2.0 486 Busy Here\n' | \"$bin\" parse --sipfrag --compact -"
check "sipfrag garbage"          1 '"code":"bad_sipfrag"'              -- sh -c "printf 'HTTP/1.1 200 OK\r\n' | \"$bin\" parse --sipfrag --compact -"
check "missing file: usage"      2 'cannot open'                       -- "$bin" parse "$tmp/does-not-exist"
check "unknown option: usage"    2 'referkit:'                         -- "$bin" parse --bogus "$tmp/refer.sip"
check "no subcommand: usage"     2 ''                                  -- "$bin"
check "help exits 0"             0 'Exit codes'                        -- "$bin" --help
check "--version"                0 '^referkit [0-9]+\.[0-9]+\.[0-9]+$'  -- "$bin" --version
check "misspelt command: hint"   2 "unknown command 'trnsfer'; did you mean 'transfer'\?" -- "$bin" trnsfer sip:bob@127.0.0.1
check "unknown command: usage"   2 "unknown command 'frobnicate' \(commands:" -- "$bin" frobnicate
check "demo: both transfers"     0 'blind transfer succeeded, attended transfer succeeded' -- timeout 30 "$bin" demo
check "demo: referAccepted twice" 0 '' -- sh -c "timeout 30 \"$bin\" demo | grep -c referAccepted | grep -qx 2"
check "demo --json parses" 0 '' -- sh -c "timeout 30 \"$bin\" demo --json | python3 -c 'import json,sys
ls=[json.loads(l) for l in sys.stdin]
ev={l[\"event\"] for l in ls}
assert {\"referRequestAccepted\",\"referProgress\",\"referAccepted\",\"notify\"} <= ev, ev
assert ls[-1][\"event\"]==\"outcome\" and ls[-1][\"exit\"]==0, ls[-1]'"
check "demo --trace shows messages" 0 'alice sent to UDP:127\.0\.0\.1:[0-9]+ \([0-9]+ bytes\)' -- timeout 30 "$bin" demo --trace
check "demo --trace: REFER, NOTIFY, exit 0" 0 '' -- sh -c "timeout 30 \"$bin\" demo --trace 2>\"$tmp/trace\" >/dev/null && grep -q '^REFER sip:bob@' \"$tmp/trace\" && grep -q '^NOTIFY sip:alice@' \"$tmp/trace\""
check "usage: bad URI"           2 'not a valid URI'                   -- "$bin" transfer bob --to sip:c@127.0.0.1
check "usage: --to and --attended" 2 'exactly one'                     -- "$bin" transfer sip:b@127.0.0.1 --to sip:c@127.0.0.1 --attended sip:d@127.0.0.1
check "usage: user w/o password" 2 'needs --password'                  -- env -u REFERKIT_PASSWORD "$bin" refer sip:b@127.0.0.1 --refer-to sip:c@127.0.0.1 --user u
check "usage: unknown option"    2 'referkit:'                         -- "$bin" transfer sip:b@127.0.0.1 --to sip:c@127.0.0.1 --bogus
check "timeout 2 to nobody: 4"   4 '"exit":4'                          -- timeout 8 "$bin" transfer sip:nobody@127.0.0.1:9 --to sip:x@127.0.0.1:9 --timeout 2 --json

# Two `referkit target` processes: transferee (accept), transferee (reject), transfer target.
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
start_target() {  # start_target VAR NAME LISTEN ARGS... -> sets VAR to the contact URI it prints first
  local var=$1 name=$2 listen=$3; shift 3
  timeout 90 "$bin" target --listen "$listen" --from "sip:$name@127.0.0.1" "$@" >"$tmp/$name.out" 2>&1 &
  pids="$pids $!"
  for _ in $(seq 100); do [ -s "$tmp/$name.out" ] && break; sleep 0.05; done
  printf -v "$var" '%s' "$(head -1 "$tmp/$name.out" | awk '{print $NF}')"
}
start_target bob bob udp:127.0.0.1:0; start_target carol carol udp:127.0.0.1:0
start_target rej rej udp:127.0.0.1:0 --policy reject
check "transfer blind between targets: 0"    0 'outcome: accepted' -- timeout 20 "$bin" transfer "$bob" --to "$carol" --timeout 10
check "transfer attended between targets: 0" 0 '"outcome":"accepted"' -- timeout 20 "$bin" transfer "$bob" --attended "$carol" --timeout 10 --json
# docs/transfer-rules.md R38: a REFER outside a call is refused 403 unless --allow-refer-from matches the
# sender (the commands' From is sip:referkit@127.0.0.1, their source 127.0.0.1); nothing is called.
timeout 90 "$bin" target --listen udp:127.0.0.1:0 --from sip:strict@127.0.0.1 --trace >"$tmp/strict.out" 2>&1 &
pids="$pids $!"
for _ in $(seq 100); do grep -q '^listening ' "$tmp/strict.out" 2>/dev/null && break; sleep 0.05; done
strict=$(grep -m1 '^listening ' "$tmp/strict.out" | awk '{print $NF}')
start_target oodip oodip udp:127.0.0.1:0 --allow-refer-from 127.0.0.1
start_target oodany oodany udp:127.0.0.1:0 --allow-refer-from any
start_target ooduser ooduser udp:127.0.0.1:0 --allow-refer-from 'alice@*' --allow-refer-from 'referkit@127.0.0.*'
start_target oodother oodother udp:127.0.0.1:0 --allow-refer-from alice@example.com --allow-refer-from '*.example.com'
check "refer out of dialog, default: 1 (403)" 1 'answered 403' -- timeout 20 "$bin" refer "$strict" --refer-to "$carol" --timeout 10
check "refused REFER: 403 sent, no INVITE"    0 '' -- sh -c "grep -q '^SIP/2.0 403 Forbidden' \"$tmp/strict.out\" && ! grep -q '^INVITE ' \"$tmp/strict.out\""
check "refer out of dialog, --allow-refer-from IP: 0"  0 'outcome: accepted' -- timeout 20 "$bin" refer "$oodip" --refer-to "$carol" --timeout 10
check "refer out of dialog, --allow-refer-from any: 0" 0 'outcome: accepted' -- timeout 20 "$bin" refer "$oodany" --refer-to "$carol" --timeout 10
check "refer out of dialog, USER@HOST glob: 0"         0 'outcome: accepted' -- timeout 20 "$bin" refer "$ooduser" --refer-to "$carol" --timeout 10
check "refer out of dialog, no pattern matches: 1"     1 'answered 403'      -- timeout 20 "$bin" refer "$oodother" --refer-to "$carol" --timeout 10
check "in-dialog REFER still accepted by default: 0"   0 'outcome: accepted' -- timeout 20 "$bin" transfer "$strict" --to "$carol" --timeout 10
check "usage: bad --allow-refer-from" 2 'allow-refer-from must be' -- "$bin" target --listen udp:127.0.0.1:0 --allow-refer-from 'a@b@c'
check "policy reject: 1"                     1 '603'               -- timeout 20 "$bin" transfer "$rej" --to "$carol" --timeout 10
# docs/transfer-rules.md R30: a failed transfer leaves the call usable, but the command always ends the call it placed.
check "reject: the call is hung up (BYE)"    1 '^BYE sip:rej@'      -- timeout 20 "$bin" transfer "$rej" --to "$carol" --timeout 10 --trace
check "accepted: BYE after the final NOTIFY's 200" 0 '' -- sh -c "timeout 20 \"$bin\" transfer \"$bob\" --to \"$carol\" --timeout 10 --trace >\"$tmp/acc.out\" 2>&1 && awk '/^NOTIFY sip:/{n=NR} /^BYE sip:bob@/{b=NR} END{exit !(n && b && b > n)}' \"$tmp/acc.out\""

check "usage: tls without a certificate" 2 'needs --tls-cert' -- "$bin" transfer "$bob" --to "$carol" --transport tls

# A target listening on TCP first and UDP second places the Refer-To call over --transport udp
# (and over UDP without --transport): carol listens on UDP only.
for mode in "--transport udp" ""; do
  name=mix${mode:+t}
  timeout 90 "$bin" target --listen tcp:127.0.0.1:0 --listen udp:127.0.0.1:0 --from "sip:$name@127.0.0.1" $mode >"$tmp/$name.out" 2>&1 &
  pids="$pids $!"
  for _ in $(seq 100); do [ "$(grep -c listening "$tmp/$name.out" 2>/dev/null)" -ge 2 ] && break; sleep 0.05; done
  mixed=$(grep 'listening' "$tmp/$name.out" | grep ' udp ' | awk '{print $NF}')
  check "target listening tcp then udp ${mode:-(no --transport)}: calls carol over UDP" 0 'outcome: accepted' -- \
    timeout 20 "$bin" transfer "$mixed" --to "$carol" --timeout 10
done
# The commands answer no MESSAGE or INFO: 405 at once, and Allow does not list them.
for method in MESSAGE INFO; do
  check "target: $method gets 405 at once, not in Allow" 0 'SIP/2.0 405' -- python3 -c '
import re,socket,sys
method,uri=sys.argv[1],sys.argv[2]
host,port=re.match(r"sip:[^@]+@([^:;]+):(\d+)",uri).groups()
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); s.settimeout(2)
me="%s:%d"%s.getsockname()
s.sendto(("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKcli%s\r\nMax-Forwards: 70\r\nFrom: <sip:x@%s>;tag=x\r\nTo: <%s>\r\nCall-ID: cli-%s\r\nCSeq: 1 %s\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"%(method,uri,me,method,me,uri,method,method)).encode(),(host,int(port)))
r=s.recv(65535).decode()
print(r.split("\r\n")[0])
allow=[l for l in r.split("\r\n") if l.lower().startswith("allow:")]
sys.exit(1 if not allow or method in allow[0] else 0)' "$method" "$bob"
done
check "usage: --idle-timeout 0" 2 'idle-timeout must be' -- "$bin" target --listen tcp:127.0.0.1:0 --idle-timeout 0
check "usage: --transport with no such listener" 2 'needs a --listen' -- "$bin" target --listen tcp:127.0.0.1:0 --transport udp

# Ctrl-C mid-call: the command ends its call cleanly and still prints the outcome line (exit 3).
# A UDP peer that never answers keeps the INVITE pending; SIGINT comes once "listening" is out.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1],flush=True); s.settimeout(30)
try:
    while True: s.recv(65535)
except Exception: pass' >"$tmp/silent.port" &
pids="$pids $!"
for _ in $(seq 100); do [ -s "$tmp/silent.port" ] && break; sleep 0.05; done
silent=$(cat "$tmp/silent.port")
timeout 20 "$bin" transfer "sip:x@127.0.0.1:$silent" --to "$carol" --json --timeout 15 >"$tmp/int.out" 2>&1 &
ipid=$!
for _ in $(seq 100); do grep -q '"event":"invite"' "$tmp/int.out" 2>/dev/null && break; sleep 0.05; done
kill -INT $ipid; wait $ipid; got=$?
if [ "$got" -eq 3 ] && tail -1 "$tmp/int.out" | grep -q '"event":"outcome".*"cause":"signal"'; then
  echo "ok   SIGINT: exit 3 and an outcome line"; pass=$((pass+1))
else
  echo "FAIL SIGINT: exit $got"; sed 's/^/    /' "$tmp/int.out" | tail -5; fail=$((fail+1))
fi

# A peer that answers every datagram with garbage: no hang past --timeout, exit 4 with the reason.
python3 -c 'import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1],flush=True); s.settimeout(30)
try:
    while True:
        d,a=s.recvfrom(65535); s.sendto(b"SIP/2.0 2OO OK\r\nVia: nonsense\r\n\r\n\x00\xff",a)
except Exception: pass' >"$tmp/garbage.port" &
pids="$pids $!"
for _ in $(seq 100); do [ -s "$tmp/garbage.port" ] && break; sleep 0.05; done
check "garbage answers: exit 4, no hang" 4 '"exit":4.*within --timeout' -- timeout 10 "$bin" refer "sip:x@127.0.0.1:$(cat "$tmp/garbage.port")" --refer-to "$carol" --timeout 2 --json

# TLS: targets and the transferor with certificates made here by openssl (CA + 127.0.0.1).
if command -v openssl >/dev/null; then
  (cd "$tmp" && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >ext.cnf &&
   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 2 \
     -subj '/CN=referkit cli test CA' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign &&
   openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout s.key -out s.csr -subj '/CN=localhost' &&
   openssl x509 -req -in s.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out s.crt -days 2 -extfile ext.cnf &&
   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other.key -out other.crt -days 2 \
     -subj '/CN=another CA') >"$tmp/openssl.log" 2>&1
  tls=(--tls-ca "$tmp/ca.crt" --tls-cert "$tmp/s.crt" --tls-key "$tmp/s.key")
  start_target tbob tbob tls:127.0.0.1:0 "${tls[@]}"; start_target tcarol tcarol tls:127.0.0.1:0 "${tls[@]}"
  check "transfer over TLS: 0" 0 'outcome: accepted' -- timeout 20 "$bin" transfer "$tbob" --to "$tcarol" --transport tls "${tls[@]}" --timeout 10
  check "TLS, untrusted CA: 4" 4 '"exit":4' -- timeout 20 "$bin" transfer "$tbob" --to "$tcarol" --transport tls \
    --tls-ca "$tmp/other.crt" --tls-cert "$tmp/s.crt" --tls-key "$tmp/s.key" --timeout 3 --json
else
  echo "skip TLS checks: openssl is not installed"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
