// Time in the sans-I/O core: a duration since an arbitrary epoch chosen by the caller (the runtime
// uses its steady clock, tests a virtual clock). The core never reads a clock; every entry point
// takes `now` as an argument.
#pragma once
#include <chrono>

namespace referkit {

// A span of time (nanosecond resolution).
using Duration = std::chrono::nanoseconds;
// A point in time, as the duration since the caller's epoch. Only differences are meaningful.
using Time = std::chrono::nanoseconds;

}  // namespace referkit
