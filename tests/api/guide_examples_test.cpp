// Runs the examples of docs/guide.md end to end over UDP loopback.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "guide_examples.hpp"
#include "party.hpp"

namespace referkit::apitest {
namespace {

bool contains(const std::vector<std::string>& lines, std::string_view text) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

TEST(GuideExamples, BlindTransfer) {
    boost::asio::io_context io;
    std::vector<std::string> printed_b;
    Party a(io, "alice", Transport::udp), c(io, "carol", Transport::udp);
    Party b(io, "bob", Transport::udp, Answer::ok,
            guide::transferee_options("127.0.0.1", [&](std::string l) { printed_b.push_back(std::move(l)); }));
    ASSERT_TRUE(a.start() && b.start() && c.start());
    Session ab = call(io, a, b);
    std::vector<std::string> printed;
    auto t = guide::blind_transfer(ab, c.uri(), [&](std::string l) { printed.push_back(std::move(l)); });
    ASSERT_TRUE(t.has_value()) << t.error().detail;
    ASSERT_TRUE(run_until(io, [&] { return t->ended(); }));
    EXPECT_EQ(t->outcome(), ReferOutcome::accepted);
    EXPECT_TRUE(contains(printed, "referRequestAccepted"));
    EXPECT_TRUE(contains(printed, "target answered 200"));
    EXPECT_TRUE(contains(printed, "transfer ended: accepted (final NOTIFY)"));
    EXPECT_TRUE(run_until(io, [&] { return contains(printed_b, "told transferor 200"); }));
}

TEST(GuideExamples, TransfereePolicyRejectsForeignTarget) {
    boost::asio::io_context io;
    Party a(io, "alice", Transport::udp);
    Party b(io, "bob", Transport::udp, Answer::ok, guide::transferee_options("example.com", [](std::string) {}));
    ASSERT_TRUE(a.start() && b.start());
    Session ab = call(io, a, b);
    std::vector<std::string> printed;
    auto t = guide::blind_transfer(ab, "sip:carol@127.0.0.1", [&](std::string l) { printed.push_back(std::move(l)); });
    ASSERT_TRUE(t.has_value());
    ASSERT_TRUE(run_until(io, [&] { return t->ended(); }));
    EXPECT_EQ(t->outcome(), ReferOutcome::rejected);
    EXPECT_EQ(t->cause(), ReferCause::refer_response);
    EXPECT_EQ(t->final_response_status(), 403);
    EXPECT_TRUE(contains(printed, "referRequestRejected"));
    EXPECT_EQ(ab.state(), SessionState::confirmed);
}

TEST(GuideExamples, AttendedTransfer) {
    boost::asio::io_context io;
    Party a(io, "alice", Transport::udp), b(io, "bob", Transport::udp), c(io, "carol", Transport::udp);
    ASSERT_TRUE(a.start() && b.start() && c.start());
    Session ab = call(io, a, b);
    Session ac = call(io, a, c);  // the consultation call
    std::vector<std::string> printed;
    auto t = guide::attended_transfer(a.ua(), ab, ac, [&](std::string l) { printed.push_back(std::move(l)); });
    ASSERT_TRUE(t.has_value()) << to_string(t.error().code) << " " << t.error().detail;
    ASSERT_TRUE(run_until(io, [&] { return t->ended(); }));
    EXPECT_EQ(t->outcome(), ReferOutcome::accepted);
    EXPECT_TRUE(contains(printed, "REFER answered 202"));
    EXPECT_TRUE(contains(printed, "attended transfer: accepted"));
    // C replaced its call from A by B's call (RFC 3891); A hung up both.
    EXPECT_TRUE(run_until(io, [&] { return c.count(TransfereeEventKind::replaced) == 1; }));
    EXPECT_TRUE(run_until(io, [&] { return !ab.state() && !ac.state(); }));
    SessionId bc{};
    for (const auto& e : c.transferee())
        if (e.kind == TransfereeEventKind::replaced) bc = e.session;
    EXPECT_TRUE(run_until(io, [&] { return c.ua().session(bc).state() == SessionState::confirmed; }));
}

TEST(GuideExamples, SetupAndOutOfDialog) {
    boost::asio::io_context io;
    auto a = guide::make_user_agent(io, "alice", "127.0.0.1");
    auto c = guide::make_user_agent(io, "carol", "127.0.0.1");
    // B allows out-of-dialog REFERs from 127.0.0.1 (alice's AOR host): transferee_options.
    Party b(io, "bob", Transport::udp, Answer::ok, guide::transferee_options("127.0.0.1", [](std::string) {}));
    ASSERT_TRUE(a && c && b.start());
    auto t = guide::out_of_dialog_transfer(*a, b.uri(), c->contact_uri(Transport::udp).value());
    ASSERT_TRUE(t.has_value()) << t.error().detail;
    ASSERT_TRUE(run_until(io, [&] { return t->ended(); }));
    EXPECT_EQ(t->outcome(), ReferOutcome::accepted);
    EXPECT_EQ(c->stack().counts().sessions, 1u);  // B's call to C is up
}

// R38: a user agent made as the guide's setup does refuses REFERs outside a call (403).
TEST(GuideExamples, OutOfDialogReferIsRefusedByDefault) {
    boost::asio::io_context io;
    auto a = guide::make_user_agent(io, "alice", "127.0.0.1");
    auto b = guide::make_user_agent(io, "bob", "127.0.0.1");
    auto c = guide::make_user_agent(io, "carol", "127.0.0.1");
    ASSERT_TRUE(a && b && c);
    auto t = guide::out_of_dialog_transfer(*a, b->contact_uri(Transport::udp).value(), c->contact_uri(Transport::udp).value());
    ASSERT_TRUE(t.has_value()) << t.error().detail;
    ASSERT_TRUE(run_until(io, [&] { return t->ended(); }));
    EXPECT_EQ(t->outcome(), ReferOutcome::rejected);
    EXPECT_EQ(t->final_response_status(), 403);
    EXPECT_EQ(b->stack().counts().sessions, 0u);  // B placed no call
    EXPECT_EQ(c->stack().counts().sessions, 0u);
}

}  // namespace
}  // namespace referkit::apitest

// docs/guide.md quotes the sections of guide_examples.cpp verbatim: keep them in sync.
namespace referkit::apitest {
namespace {
std::string read_all(const char* path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

TEST(GuideExamples, GuideQuotesTheCompiledExamples) {
    const std::string guide = read_all(REFERKIT_GUIDE_MD);
    const std::string code = read_all(REFERKIT_GUIDE_EXAMPLES);
    ASSERT_FALSE(guide.empty());
    ASSERT_FALSE(code.empty());
    for (const char* name : {"setup", "blind", "attended", "ood", "transferee"}) {
        const std::string marker = std::string("// [") + name + "]\n";
        const auto a = code.find(marker);
        ASSERT_NE(a, std::string::npos) << name;
        const auto b = code.find(std::string("// [") + name + "]", a + marker.size());
        ASSERT_NE(b, std::string::npos) << name;
        std::string section = code.substr(a + marker.size(), b - a - marker.size());
        while (!section.empty() && section.back() == '\n') section.pop_back();
        EXPECT_NE(guide.find("```cpp\n" + section + "\n```"), std::string::npos) << "docs/guide.md lacks section " << name;
    }
}
}  // namespace
}  // namespace referkit::apitest
