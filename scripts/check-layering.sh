#!/usr/bin/env bash
# The rules that keep docs/ARCHITECTURE.md honest: the sans-I/O core includes only the standard
# library and its own headers, and never reads a clock, a socket, a thread or a random source
# (std::chrono durations are values and may be used; std::chrono clocks may not be read).
set -u
cd "$(dirname "$0")/.."
status=0
bad_includes=$(grep -rnE '#include *<(boost|asio|openssl|sys/|netinet|arpa|unistd|thread|random|mutex|atomic|fstream|iostream)' src/core include/referkit/core || true)
if [ -n "$bad_includes" ]; then echo "src/core must stay sans-I/O; forbidden includes:"; echo "$bad_includes"; status=1; fi
bad_calls=$(grep -rnE '::now\(|\brand\(|\bsrand\(|\btime\(|getenv\(|\bstd::cout\b|\bprintf\(' src/core include/referkit/core || true)
if [ -n "$bad_calls" ]; then echo "src/core must not read clocks, randomness, the environment or print:"; echo "$bad_calls"; status=1; fi
[ $status -eq 0 ] && echo "layering: src/core is sans-I/O"
exit $status
