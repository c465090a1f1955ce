#pragma once
#include <ostream>

namespace referkit::cli {
// `referkit demo`: three user agents on 127.0.0.1 (ephemeral UDP ports) in this process; alice
// calls bob and blind-transfers him to carol, then calls bob and carol and transfers bob to carol
// with Replaces (attended). Prints the timeline to `out` (json: one object per line, the last
// states the outcome); `trace` prints every SIP message and the runtime log lines to `err`. Every wait is bounded
// (10 s). Returns 0 when both transfers succeeded (outcome accepted and the new call confirmed on
// both sides), else 1.
int run_demo(std::ostream& out, std::ostream& err, bool json_lines, bool trace);
}  // namespace referkit::cli
