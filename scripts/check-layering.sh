#!/usr/bin/env bash
# The rules that keep docs/ARCHITECTURE.md honest (test `layering.core_is_sans_io`):
#  1. the sans-I/O core (src/core, include/referkit/core) includes only the standard library and
#     its own headers, and never reads a clock, a socket, a thread, a random source or the
#     environment (std::chrono durations are values; std::chrono clocks may not be read);
#  2. the core's layers include one another in one direction only: every public header and every
#     source folder has a layer, and a file includes no header of a higher layer (the table below);
#  3. src/runtime reaches the core only through its public headers;
#  4. the command (tools/cli) uses only the public API (include/referkit/...), never a private
#     header of src/ and never the UserAgent's escape hatch (stack()).
set -u
cd "$(dirname "$0")/.."
status=0
fail() { echo "$1"; status=1; }

# --- 1. sans-I/O
bad_includes=$(grep -rnE '#include *<(boost|asio|openssl|sys/|netinet|arpa|unistd|thread|random|mutex|atomic|fstream|iostream)' src/core include/referkit/core || true)
[ -n "$bad_includes" ] && fail "src/core must stay sans-I/O; forbidden includes:"$'\n'"$bad_includes"
bad_calls=$(grep -rnE '::now\(|\brand\(|\bsrand\(|\btime\(|getenv\(|\bstd::cout\b|\bprintf\(' src/core include/referkit/core || true)
[ -n "$bad_calls" ] && fail "src/core must not read clocks, randomness, the environment or print:"$'\n'"$bad_calls"

# --- 2. layers, lowest first:
#   0 base         values every layer uses
#   1 message      parsing, typed headers, URIs, the writer, validation, framing, sipfrag (src/core/message)
#   2 transaction  the RFC 3261 §17 machines, next hop, the Driven surface (src/core/transaction);
#                  digest and SDP are at this level too (src/core/auth, src/core/session/sdp.cpp)
#   3 dialog/subscription machines: Dialog (src/core/dialog/dialog.cpp), RFC 6665 Subscriber/Notifier
#   4 refer machines: Refer-To, the REFER's headers, NOTIFY rules, ReferClientContext,
#                  ReferServerContext, the Replaces decision (src/core/refer/refer_*.cpp, replaces.cpp)
#   5 stack        the Stack and its components (src/core/stack, ua, session, dialog_set,
#                  event_router, transferor, transferee, replacer)
declare -A layer=(
  [time.hpp]=0 [buffer.hpp]=0 [transport.hpp]=0 [limits.hpp]=0 [ids.hpp]=0 [error.hpp]=0 [header_id.hpp]=0
  [headers.hpp]=1 [params.hpp]=1 [uri.hpp]=1 [message.hpp]=1 [writer.hpp]=1 [validate.hpp]=1 [framer.hpp]=1
  [sipfrag.hpp]=1 [list_impl.hpp]=1
  [transaction_layer.hpp]=2 [driven.hpp]=2 [next_hop.hpp]=2 [digest.hpp]=2 [digest_server.hpp]=2 [sdp.hpp]=2
  [dialog.hpp]=3 [subscription.hpp]=3
  [refer_to.hpp]=4 [refer_request.hpp]=4 [refer_notify.hpp]=4 [refer_client_context.hpp]=4 [refer_server.hpp]=4
  [replaces.hpp]=4
  [stack.hpp]=5 [stack_config.hpp]=5 [stack_events.hpp]=5
)
# The layer of a source file of src/core.
source_layer() {
  case "$1" in
    src/core/message/*) echo 1 ;;
    src/core/transaction/*|src/core/auth/*|src/core/session/sdp.cpp) echo 2 ;;
    src/core/dialog/dialog.cpp|src/core/subscription/subscription.cpp) echo 3 ;;
    src/core/refer/refer_*.cpp|src/core/refer/replaces.cpp) echo 4 ;;
    src/core/stack/*|src/core/ua/*|src/core/session/*|src/core/dialog/*|src/core/subscription/*|src/core/refer/*) echo 5 ;;
    *) echo "" ;;
  esac
}
check_includes() {  # file, its layer
  local f=$1 own=$2 inc name l
  while IFS= read -r inc; do
    name=${inc##*/}
    l=${layer[$name]:-}
    if [ -z "$l" ]; then fail "$f includes referkit/core/$name, which has no layer in scripts/check-layering.sh"; continue; fi
    [ "$l" -gt "$own" ] && fail "$f (layer $own) includes referkit/core/$name (layer $l): layers include downwards only"
  done < <(grep -ohE '#include "referkit/core/[a-z_/]+\.hpp"' "$f" | sed -E 's/#include "referkit\/core\/(.*)"/\1/')
}
for h in include/referkit/core/*.hpp include/referkit/core/detail/*.hpp; do
  name=${h##*/}
  l=${layer[$name]:-}
  if [ -z "$l" ]; then fail "$h has no layer in scripts/check-layering.sh"; continue; fi
  check_includes "$h" "$l"
done
while IFS= read -r f; do
  l=$(source_layer "$f")
  if [ -z "$l" ]; then fail "$f is in no layer of scripts/check-layering.sh"; continue; fi
  check_includes "$f" "$l"
  # A private header of another folder ("../x/y.hpp") is the stack's business only.
  if [ "$l" -lt 5 ] && grep -qE '#include "\.\./' "$f"; then fail "$f (layer $l) includes a private header of another folder"; fi
done < <(find src/core -name '*.cpp' -o -name '*.hpp' | sort)

# --- 3. the runtime through public headers only
bad=$(grep -rnE '#include "(\.\./)+(core|src)/|#include "src/' src/runtime || true)
[ -n "$bad" ] && fail "src/runtime reaches the core only through include/referkit:"$'\n'"$bad"

# --- 4. the command through the public API only
bad=$(grep -rnE '#include "(\.\./)+|#include "src/' tools/cli || true)
[ -n "$bad" ] && fail "tools/cli includes only include/referkit and its own headers:"$'\n'"$bad"
bad=$(grep -rnE '\.stack\(\)|->stack\(\)' tools/cli || true)
[ -n "$bad" ] && fail "tools/cli does not use the UserAgent's escape hatch:"$'\n'"$bad"

[ $status -eq 0 ] && echo "layering: src/core is sans-I/O, its layers include downwards, runtime and CLI use public headers"
exit $status
