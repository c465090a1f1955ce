#pragma once
#include <ostream>

namespace referkit::cli {
// Runs the demo; returns the process exit code.
int run_demo(std::ostream& out, bool json_lines);
}  // namespace referkit::cli
