// The command's timeline coalesces repeated lines (a NOTIFY flood is not a line flood), on a
// virtual clock.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "timeline.hpp"

namespace referkit::cli {
namespace {

std::vector<nlohmann::json> lines(const std::ostringstream& out) {
    std::vector<nlohmann::json> v;
    std::istringstream in(out.str());
    for (std::string line; std::getline(in, line);) v.push_back(nlohmann::json::parse(line));
    return v;
}

TEST(Timeline, RepeatedLinesWithinTheWindowAreCountedNotPrinted) {
    std::ostringstream out;
    long long now = 0;
    Timeline t(out, true, false, [&] { return now; });
    for (int i = 0; i < 500; ++i) {  // a flood: two events per NOTIFY, 1 ms apart
        t.event("alice", "referProgress", 100, "Trying", "in progress");
        t.event("alice", "notify", 100, "Trying", "NOTIFY answered 200");
        ++now;
    }
    t.event("alice", "referAccepted", 200, "OK", "answered");
    t.outcome("alice", "accepted", "final_notify", 0, "done");
    auto v = lines(out);
    ASSERT_EQ(v.size(), 6u) << out.str();
    EXPECT_EQ(v[0]["event"], "referProgress");
    EXPECT_EQ(v[1]["event"], "notify");
    // The counts come out before the next line printed.
    EXPECT_EQ(v[2]["event"], "repeated");
    EXPECT_EQ(v[3]["event"], "repeated");
    std::size_t total = 0;
    for (int i : {2, 3}) total += v[i]["count"].get<std::size_t>();
    EXPECT_EQ(total, 998u);
    EXPECT_EQ(v[4]["event"], "referAccepted");
    EXPECT_EQ(v[5]["event"], "outcome");
}

TEST(Timeline, TheSameLineAfterTheWindowIsPrintedAgain) {
    std::ostringstream out;
    long long now = 0;
    Timeline t(out, true, false, [&] { return now; });
    t.event("bob", "notify", 180, "Ringing", "");
    now += Timeline::kRepeatWindow;
    t.event("bob", "notify", 180, "Ringing", "");
    t.event("bob", "notify", 180, "Ringing", "");  // within the window of the second
    t.outcome("bob", "accepted", "final_notify", 0, "done");
    auto v = lines(out);
    ASSERT_EQ(v.size(), 4u) << out.str();
    EXPECT_EQ(v[0]["event"], "notify");
    EXPECT_EQ(v[1]["event"], "notify");
    EXPECT_EQ(v[2]["event"], "repeated");
    EXPECT_EQ(v[2]["count"], 1);
    EXPECT_EQ(v[3]["event"], "outcome");
}

TEST(Timeline, DifferentStatusesAreDifferentLines) {
    std::ostringstream out;
    long long now = 0;
    Timeline t(out, true, false, [&] { return now; });
    t.event("a", "notify", 100, "Trying", "");
    t.event("a", "notify", 180, "Ringing", "");
    t.event("a", "notify", 200, "OK", "");
    EXPECT_EQ(lines(out).size(), 3u);
}

}  // namespace
}  // namespace referkit::cli
