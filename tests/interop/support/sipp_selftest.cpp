// Every scenario of tests/interop/sipp validated against SIPp playing the other side, over UDP and
// TCP: the scenarios a referkit UA will face are proven sound before our UA exists.
#include "process.hpp"
#include "sipp_peer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace referkit::interop {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kCallBound{15000};

struct Pair {
    std::string server;
    std::string client;
    std::vector<std::string> server_args{};
    std::vector<std::string> client_args{};
};

class SippPair : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (!find_program("sipp")) GTEST_SKIP() << "sipp is not on PATH (Debian: apt-get install sip-tester)";
    }

    // Runs the UAS scenario, then the UAC one against it; both exit codes, or a failure with logs.
    std::pair<int, int> run(const Pair& pair, std::string* server_messages = nullptr) {
        auto server = SippPeer::start(
            {.scenario = pair.server, .transport = GetParam(), .timeout = 10s, .extra_args = pair.server_args});
        EXPECT_TRUE(server) << server.error();
        if (!server) return {-1, -1};
        auto client = SippPeer::start({.scenario = pair.client, .transport = GetParam(), .remote = server->address(),
                                       .timeout = 10s, .extra_args = pair.client_args});
        EXPECT_TRUE(client) << client.error();
        if (!client) return {-1, -1};
        const auto client_code = client->wait_for(kCallBound);
        const auto server_code = server->wait_for(kCallBound);
        EXPECT_TRUE(client_code && server_code) << "a SIPp side did not end in time\n"
                                                << server->output() << client->output();
        if (server_messages != nullptr) *server_messages = server->messages();
        last_logs_ = server->output() + "\n" + client->output();
        return {server_code.value_or(-1), client_code.value_or(-1)};
    }

    std::string last_logs_;
};

TEST_P(SippPair, UasAnswerTakesUacCallAndItsBye) {
    std::string trace;
    auto [server, client] = run({.server = "uas_answer.xml", .client = "uac_call.xml"}, &trace);
    EXPECT_EQ(server, 0) << last_logs_;
    EXPECT_EQ(client, 0) << last_logs_;
    EXPECT_NE(trace.find("a=rtpmap:0 PCMU/8000"), std::string::npos);
    EXPECT_NE(trace.find("CSeq: 2 BYE"), std::string::npos);
}

TEST_P(SippPair, UasAnswerThenByeHangsUp) {
    std::string trace;
    auto [server, client] =
        run({.server = "uas_answer_then_bye.xml", .client = "selftest_uac_call_await_bye.xml"}, &trace);
    EXPECT_EQ(server, 0) << last_logs_;
    EXPECT_EQ(client, 0) << last_logs_;
    EXPECT_NE(trace.find("CSeq: 1 BYE"), std::string::npos);
}

TEST_P(SippPair, UasHoldReinviteGetsRecvonly) {
    std::string trace;
    auto [server, client] = run({.server = "uas_hold_reinvite.xml", .client = "selftest_uac_call_hold.xml"}, &trace);
    EXPECT_EQ(server, 0) << last_logs_;
    EXPECT_EQ(client, 0) << last_logs_;
    EXPECT_NE(trace.find("a=sendonly"), std::string::npos);
    EXPECT_NE(trace.find("a=recvonly"), std::string::npos);
}

TEST_P(SippPair, UasAuth401AcceptsTheRightPassword) {
    std::string trace;
    auto [server, client] = run({.server = "uas_auth_401.xml",
                                 .client = "selftest_uac_auth.xml",
                                 .server_args = {"-set", "auth_user", "alice", "-set", "auth_pass", "secret"},
                                 .client_args = {"-au", "alice", "-ap", "secret"}},
                                &trace);
    EXPECT_EQ(server, 0) << last_logs_;
    EXPECT_EQ(client, 0) << last_logs_;
    EXPECT_NE(trace.find("WWW-Authenticate: Digest"), std::string::npos);
    EXPECT_NE(trace.find("Authorization: Digest username=\"alice\""), std::string::npos);
}

TEST_P(SippPair, UasAuth401FailsOnAWrongPassword) {
    std::string trace;
    auto [server, client] = run({.server = "uas_auth_401.xml",
                                 .client = "selftest_uac_auth.xml",
                                 .server_args = {"-set", "auth_user", "alice", "-set", "auth_pass", "secret"},
                                 .client_args = {"-au", "alice", "-ap", "wrong"}},
                                &trace);
    EXPECT_NE(server, 0) << last_logs_;  // verifyauth rejected the digest: the call failed
    EXPECT_EQ(client, 0) << last_logs_;  // the caller got 403 and ACKed it
    EXPECT_NE(trace.find("SIP/2.0 403 Forbidden"), std::string::npos);
    EXPECT_EQ(trace.find("SIP/2.0 200 OK"), std::string::npos);
}

TEST_P(SippPair, UasAuth407ChecksProxyAuthorizationShape) {
    std::string trace;
    auto [server, client] = run({.server = "uas_auth_407.xml",
                                 .client = "selftest_uac_auth.xml",
                                 .client_args = {"-au", "alice", "-ap", "secret"}},
                                &trace);
    EXPECT_EQ(server, 0) << last_logs_;
    EXPECT_EQ(client, 0) << last_logs_;
    EXPECT_NE(trace.find("Proxy-Authenticate: Digest"), std::string::npos);
    EXPECT_NE(trace.find("Proxy-Authorization: Digest"), std::string::npos);
}

TEST_P(SippPair, UasAuth407RejectsMalformedProxyAuthorization) {
    // A short response and no qop/nc/cnonce: the shape checks fail, SIPp answers 403 and fails.
    std::string trace;
    auto [server, client] =
        run({.server = "uas_auth_407.xml", .client = "selftest_uac_bad_proxy_auth.xml"}, &trace);
    EXPECT_NE(server, 0) << last_logs_;
    EXPECT_EQ(client, 0) << last_logs_;
    EXPECT_NE(trace.find("SIP/2.0 403 Forbidden"), std::string::npos);
    EXPECT_EQ(trace.find("SIP/2.0 200 OK"), std::string::npos);
}

TEST_P(SippPair, OptionsAnswered) {
    std::string trace;
    auto [server, client] = run({.server = "uas_options.xml", .client = "uac_options.xml"}, &trace);
    EXPECT_EQ(server, 0) << last_logs_;
    EXPECT_EQ(client, 0) << last_logs_;
    EXPECT_NE(trace.find("CSeq: 1 OPTIONS"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Transports, SippPair, ::testing::Values("udp", "tcp"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(SippPeer, ScenarioPathAndMissingScenario) {
    EXPECT_NE(sipp_scenario_path("uac_call.xml").find("interop/sipp/uac_call.xml"), std::string::npos);
    EXPECT_EQ(sipp_scenario_path("/x/y.xml"), "/x/y.xml");
    if (!find_program("sipp")) GTEST_SKIP() << "sipp is not on PATH";
    auto missing = SippPeer::start({.scenario = "no_such_scenario.xml"});
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().find("no_such_scenario.xml"), std::string::npos);
}

}  // namespace
}  // namespace referkit::interop
