// baresip against the SIPp scenarios, both directions: the scenarios hold against a real
// softphone, and BaresipPeer can drive one (dial, hang up, auto-answer) for our UA's interop tests.
#include "baresip_peer.hpp"
#include "process.hpp"
#include "sipp_peer.hpp"

#include <gtest/gtest.h>

#include <string>

namespace referkit::interop {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kBound{10000};

class BaresipPair : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (!find_program("sipp")) GTEST_SKIP() << "sipp is not on PATH (Debian: apt-get install sip-tester)";
        if (!find_program("baresip")) GTEST_SKIP() << "baresip is not on PATH (Debian: apt-get install baresip-core)";
    }
};

TEST_P(BaresipPair, AutoAnswersSippCall) {
    auto bob = BaresipPeer::start({.lifetime = 20s, .transport = GetParam()});
    ASSERT_TRUE(bob) << bob.error();
    auto sipp = SippPeer::start({.scenario = "uac_call.xml",
                                 .transport = GetParam(),
                                 .remote = "127.0.0.1:" + std::to_string(bob->port()),
                                 .timeout = 10s});
    ASSERT_TRUE(sipp) << sipp.error();
    EXPECT_EQ(sipp->wait_for(kBound), 0) << sipp->output() << "\n=== baresip ===\n" << bob->output();
    EXPECT_TRUE(bob->wait_established(kBound)) << bob->output();
    EXPECT_TRUE(bob->wait_closed(kBound)) << bob->output();
    EXPECT_NE(sipp->messages().find("m=audio"), std::string::npos);
}

TEST_P(BaresipPair, DialsSippAndHangsUp) {
    auto alice = SippPeer::start({.scenario = "uas_answer.xml", .transport = GetParam(), .timeout = 10s});
    ASSERT_TRUE(alice) << alice.error();
    auto bob = BaresipPeer::start({.lifetime = 20s, .transport = GetParam()});
    ASSERT_TRUE(bob) << bob.error();
    ASSERT_TRUE(bob->dial(alice->uri("alice"))) << bob->output();
    ASSERT_TRUE(bob->wait_established(kBound)) << alice->output() << "\n=== baresip ===\n" << bob->output();
    EXPECT_TRUE(bob->hangup());
    EXPECT_EQ(alice->wait_for(kBound), 0) << alice->output() << "\n=== baresip ===\n" << bob->output();
    EXPECT_TRUE(bob->wait_closed(kBound)) << bob->output();
    EXPECT_NE(alice->messages().find("BYE sip:"), std::string::npos);
    EXPECT_EQ(alice->messages().find(";transport=tcp;transport=tcp"), std::string::npos);
}

TEST_P(BaresipPair, TakesSippHangup) {
    auto alice = SippPeer::start({.scenario = "uas_answer_then_bye.xml", .transport = GetParam(), .timeout = 10s});
    ASSERT_TRUE(alice) << alice.error();
    auto bob = BaresipPeer::start({.lifetime = 20s, .transport = GetParam()});
    ASSERT_TRUE(bob) << bob.error();
    ASSERT_TRUE(bob->dial(alice->uri("alice"))) << bob->output();
    EXPECT_EQ(alice->wait_for(kBound), 0) << alice->output() << "\n=== baresip ===\n" << bob->output();
    EXPECT_TRUE(bob->wait_closed(kBound)) << bob->output();
}

INSTANTIATE_TEST_SUITE_P(Transports, BaresipPair, ::testing::Values("udp", "tcp"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// Recorded for the transfer work: baresip 1.0 as a transferee. It answers an in-dialog REFER with
// 202 Accepted, NOTIFYs "Event: refer;id=<REFER CSeq>" with message/sipfrag - first
// "SIP/2.0 100 Trying" (Subscription-State: active;expires=60), then the target's final answer
// ("SIP/2.0 200 OK", Subscription-State: terminated;reason=noresource) - and calls the Refer-To
// target. It does not send BYE to the transferor; the scenario does that after 1 s.
TEST(BaresipTransferee, AcceptsReferAndNotifiesSipfrag) {
    if (!find_program("sipp") || !find_program("baresip")) GTEST_SKIP() << "sipp or baresip is not on PATH";
    auto carol = SippPeer::start({.scenario = "uas_answer_then_bye.xml", .timeout = 10s});
    ASSERT_TRUE(carol) << carol.error();
    auto bob = BaresipPeer::start({.lifetime = 20s});
    ASSERT_TRUE(bob) << bob.error();
    auto alice = SippPeer::start({.scenario = "selftest_uac_refer.xml",
                                  .remote = "127.0.0.1:" + std::to_string(bob->port()),
                                  .timeout = 10s,
                                  .extra_args = {"-set", "target_port", std::to_string(carol->port())}});
    ASSERT_TRUE(alice) << alice.error();
    EXPECT_EQ(alice->wait_for(kBound), 0) << alice->output() << "\n=== baresip ===\n" << bob->output();
    EXPECT_EQ(carol->wait_for(kBound), 0) << carol->output() << "\n=== baresip ===\n" << bob->output();
    const std::string trace = alice->messages();
    EXPECT_NE(trace.find("SIP/2.0 202 Accepted"), std::string::npos) << trace;
    EXPECT_NE(trace.find("Content-Type: message/sipfrag"), std::string::npos) << trace;
    EXPECT_NE(trace.find("SIP/2.0 100 Trying"), std::string::npos) << trace;
    EXPECT_NE(trace.find("Subscription-State: terminated"), std::string::npos) << trace;
    EXPECT_TRUE(bob->wait_established(kBound, 2)) << bob->output();  // alice, then carol
}

TEST(BaresipPeer, CommandsAndUri) {
    if (!find_program("baresip")) GTEST_SKIP() << "baresip is not on PATH";
    auto bob = BaresipPeer::start({.lifetime = 10s, .sip_trace = false});
    ASSERT_TRUE(bob) << bob.error();
    EXPECT_EQ(bob->uri(), "sip:bob@127.0.0.1:" + std::to_string(bob->port()));
    EXPECT_TRUE(is_listening(bob->port(), "udp"));
    EXPECT_TRUE(is_listening(bob->port(), "tcp"));
    EXPECT_FALSE(bob->wait_established(50ms));
    EXPECT_TRUE(bob->hangup());  // baresip 1.0 answers {"ok":true} even when there is no call
    EXPECT_FALSE(bob->command("referkit_no_such_command"));  // refused: {"ok":false}
    EXPECT_TRUE(bob->running());
}

}  // namespace
}  // namespace referkit::interop
