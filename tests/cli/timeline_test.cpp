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

std::size_t count_of(const std::vector<nlohmann::json>& v, const std::string& event) {
    std::size_t n = 0;
    for (const auto& j : v) n += j["event"] == event ? 1 : 0;
    return n;
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
    const std::size_t free = Timeline::kRepeatFree;
    ASSERT_EQ(v.size(), 2 * free + 2 + 2) << out.str();
    EXPECT_EQ(count_of(v, "referProgress"), free);
    EXPECT_EQ(count_of(v, "notify"), free);
    // The counts come out before the next line printed.
    ASSERT_EQ(v[2 * free]["event"], "repeated");
    ASSERT_EQ(v[2 * free + 1]["event"], "repeated");
    EXPECT_EQ(v[2 * free]["count"].get<std::size_t>() + v[2 * free + 1]["count"].get<std::size_t>(), 2 * (500 - free));
    EXPECT_EQ(v[2 * free + 2]["event"], "referAccepted");
    EXPECT_EQ(v.back()["event"], "outcome");
}

TEST(Timeline, AFewEqualLinesPrintAndANewWindowPrintsAgain) {
    std::ostringstream out;
    long long now = 0;
    Timeline t(out, true, false, [&] { return now; });
    for (std::size_t i = 0; i < Timeline::kRepeatFree + 1; ++i) t.event("bob", "session_ended", 0, "", "call ended");
    now += Timeline::kRepeatWindow;
    t.event("bob", "session_ended", 0, "", "call ended");  // a new window
    t.outcome("bob", "accepted", "final_notify", 0, "done");
    auto v = lines(out);
    ASSERT_EQ(v.size(), Timeline::kRepeatFree + 3) << out.str();
    EXPECT_EQ(count_of(v, "session_ended"), Timeline::kRepeatFree + 1);
    ASSERT_EQ(count_of(v, "repeated"), 1u);
    EXPECT_EQ(v[Timeline::kRepeatFree]["event"], "repeated");  // flushed before the next line printed
    EXPECT_EQ(v[Timeline::kRepeatFree]["count"], 1);
    EXPECT_EQ(v.back()["event"], "outcome");
}

TEST(Timeline, DifferentStatusesAreDifferentLines) {
    std::ostringstream out;
    long long now = 0;
    Timeline t(out, true, false, [&] { return now; });
    for (int i = 0; i < 4; ++i) {
        t.event("a", "notify", 100, "Trying", "");
        t.event("a", "notify", 180, "Ringing", "");
        t.event("a", "notify", 200, "OK", "");
    }
    EXPECT_EQ(lines(out).size(), 3 * Timeline::kRepeatFree);  // the 4th of each is counted, not yet flushed
}

}  // namespace
}  // namespace referkit::cli
