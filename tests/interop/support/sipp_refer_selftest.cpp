// The REFER-target scenarios of tests/interop/sipp (uas_refer_*.xml, uas_call_then_refer.xml)
// proven against SIPp playing the transferor (selftest_uac_refer_*.xml), over UDP and TCP: each
// pair must succeed, and each family of checks must FAIL its UAS scenario when fed a wrong REFER
// (or a wrong answer to a NOTIFY), so an interop test built on them can trust a green run.
#include "process.hpp"
#include "sipp_peer.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace referkit::interop {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kBound{12000};

struct Pair {
    std::string server;
    std::string client;
    std::vector<std::string> server_args{};
    std::vector<std::string> client_args{};
};

struct Result {
    int server = -1;
    int client = -1;
    std::string trace{};  // the UAS side's message trace
};

std::size_t count(std::string_view text, std::string_view what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string_view::npos; pos = text.find(what, pos + what.size())) ++n;
    return n;
}

// The -key arguments of selftest_uac_refer_malformed.xml: a well-formed REFER, with `name`'s
// value replaced by `value` (header names and values are all keys).
std::vector<std::string> malformed(std::string_view name, std::string_view value) {
    std::vector<std::pair<std::string, std::string>> keys{{"rt_header", "Refer-To"},
                                                          {"rt_value", "<sip:carol@127.0.0.1:5099>"},
                                                          {"contact_header", "Contact"},
                                                          {"rb_header", "Referred-By"},
                                                          {"rb_value", "<sip:sipp@127.0.0.1>"}};
    std::vector<std::string> args;
    for (auto& [k, v] : keys) {
        args.insert(args.end(), {"-key", k, k == name ? std::string(value) : v});
    }
    return args;
}

class SippRefer : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (!find_program("sipp")) GTEST_SKIP() << "sipp is not on PATH (Debian: apt-get install sip-tester)";
    }

    [[nodiscard]] bool udp() const { return GetParam() == "udp"; }

    // Runs the UAS scenario, then the UAC probe against it, and waits for the UAS to end (a failing
    // UAS may leave the probe waiting: it is stopped then). Exit codes and the UAS trace.
    Result run(const Pair& pair) {
        Result r;
        auto server = SippPeer::start(
            {.scenario = pair.server, .transport = GetParam(), .timeout = 10s, .extra_args = pair.server_args});
        EXPECT_TRUE(server) << server.error();
        if (!server) return r;
        auto client = SippPeer::start({.scenario = pair.client, .transport = GetParam(), .remote = server->address(),
                                       .timeout = 10s, .extra_args = pair.client_args});
        EXPECT_TRUE(client) << client.error();
        if (!client) return r;
        const auto server_code = server->wait_for(kBound);
        const auto client_code = client->wait_for(server_code ? 3000ms : 0ms);
        EXPECT_TRUE(server_code) << "the UAS scenario did not end in time\n" << server->output();
        r.server = server_code.value_or(-1);
        r.client = client_code.value_or(-2);  // -2: still running, stopped by the destructor
        r.trace = server->messages();
        logs_ = server->output() + "\n" + client->output();
        return r;
    }

    std::string logs_;
};

// --- (1) accept -----------------------------------------------------------------------------

TEST_P(SippRefer, AcceptNotifiesTrying200AndTerminates) {
    auto r = run({.server = "uas_refer_accept.xml", .client = "selftest_uac_refer_ood.xml"});
    EXPECT_EQ(r.server, 0) << logs_;
    EXPECT_EQ(r.client, 0) << logs_;
    EXPECT_NE(r.trace.find("SIP/2.0 202 Accepted"), std::string::npos);
    EXPECT_EQ(count(r.trace, "Event: refer;id=1"), 2u) << r.trace;
    EXPECT_NE(r.trace.find("Subscription-State: active;expires=60"), std::string::npos);
    EXPECT_NE(r.trace.find("Subscription-State: terminated;reason=noresource"), std::string::npos);
    EXPECT_NE(r.trace.find("CSeq: 1 NOTIFY"), std::string::npos);
    EXPECT_NE(r.trace.find("CSeq: 2 NOTIFY"), std::string::npos);
    EXPECT_EQ(count(r.trace, "Content-Type: message/sipfrag"), 2u);
}

TEST_P(SippRefer, AcceptTakesAReferWithoutReferredBy) {
    // Referred-By is optional: its absence must not fail the run.
    auto r = run({.server = "uas_refer_accept.xml",
                  .client = "selftest_uac_refer_malformed.xml",
                  .client_args = malformed("rb_header", "X-Note")});
    EXPECT_EQ(r.server, 0) << logs_;
    EXPECT_EQ(r.client, 0) << logs_;
}

TEST_P(SippRefer, AcceptFailsWithoutReferTo) {
    auto r = run({.server = "uas_refer_accept.xml",
                  .client = "selftest_uac_refer_malformed.xml",
                  .client_args = malformed("rt_header", "X-Target")});
    EXPECT_NE(r.server, 0) << logs_;
    EXPECT_NE(r.trace.find("SIP/2.0 400 Bad Request"), std::string::npos) << logs_;
    EXPECT_EQ(r.trace.find("NOTIFY sip:"), std::string::npos);
}

TEST_P(SippRefer, AcceptFailsOnANonSipReferTo) {
    auto r = run({.server = "uas_refer_accept.xml",
                  .client = "selftest_uac_refer_malformed.xml",
                  .client_args = malformed("rt_value", "<tel:+15551234>")});
    EXPECT_NE(r.server, 0) << logs_;
    EXPECT_NE(r.trace.find("SIP/2.0 400 Bad Request"), std::string::npos) << logs_;
}

TEST_P(SippRefer, AcceptFailsOnABadReferredBy) {
    auto r = run({.server = "uas_refer_accept.xml",
                  .client = "selftest_uac_refer_malformed.xml",
                  .client_args = malformed("rb_value", "garbage")});
    EXPECT_NE(r.server, 0) << logs_;
    EXPECT_NE(r.trace.find("SIP/2.0 400 Bad Request"), std::string::npos) << logs_;
}

TEST_P(SippRefer, AcceptFailsWithoutContact) {
    auto r = run({.server = "uas_refer_accept.xml",
                  .client = "selftest_uac_refer_malformed.xml",
                  .client_args = malformed("contact_header", "X-Contact")});
    EXPECT_NE(r.server, 0) << logs_;
    EXPECT_NE(r.trace.find("SIP/2.0 400 Bad Request"), std::string::npos) << logs_;
}

// --- (2) reject, (3) final NOTIFY 486 --------------------------------------------------------

TEST_P(SippRefer, RejectDeclinesWithoutNotify) {
    auto r = run({.server = "uas_refer_reject.xml", .client = "selftest_uac_refer_ood.xml"});
    EXPECT_EQ(r.server, 0) << logs_;
    EXPECT_EQ(r.client, 0) << logs_;
    EXPECT_NE(r.trace.find("SIP/2.0 603 Declined"), std::string::npos);
    EXPECT_EQ(r.trace.find("NOTIFY sip:"), std::string::npos);
}

TEST_P(SippRefer, RejectFailsWithoutReferTo) {
    auto r = run({.server = "uas_refer_reject.xml",
                  .client = "selftest_uac_refer_malformed.xml",
                  .client_args = malformed("rt_header", "X-Target")});
    EXPECT_NE(r.server, 0) << logs_;
    EXPECT_EQ(r.trace.find("SIP/2.0 603 Declined"), std::string::npos);
}

TEST_P(SippRefer, Notify486ReportsBusy) {
    auto r = run({.server = "uas_refer_notify_486.xml", .client = "selftest_uac_refer_ood.xml"});
    EXPECT_EQ(r.server, 0) << logs_;
    EXPECT_EQ(r.client, 0) << logs_;
    EXPECT_NE(r.trace.find("SIP/2.0 100 Trying"), std::string::npos);
    EXPECT_NE(r.trace.find("SIP/2.0 486 Busy Here"), std::string::npos);
    EXPECT_NE(r.trace.find("Subscription-State: terminated;reason=noresource"), std::string::npos);
}

TEST_P(SippRefer, Notify486FailsWithoutContact) {
    auto r = run({.server = "uas_refer_notify_486.xml",
                  .client = "selftest_uac_refer_malformed.xml",
                  .client_args = malformed("contact_header", "X-Contact")});
    EXPECT_NE(r.server, 0) << logs_;
    EXPECT_EQ(r.trace.find("SIP/2.0 486 Busy Here"), std::string::npos);
}

// --- (4) digest challenges -------------------------------------------------------------------

TEST_P(SippRefer, Auth401AcceptsTheRightPassword) {
    auto r = run({.server = "uas_refer_auth_401.xml",
                  .client = "selftest_uac_refer_ood.xml",
                  .server_args = {"-set", "auth_user", "alice", "-set", "auth_pass", "secret"},
                  .client_args = {"-au", "alice", "-ap", "secret"}});
    EXPECT_EQ(r.server, 0) << logs_;
    EXPECT_EQ(r.client, 0) << logs_;
    EXPECT_NE(r.trace.find("WWW-Authenticate: Digest"), std::string::npos);
    EXPECT_NE(r.trace.find("Authorization: Digest username=\"alice\""), std::string::npos);
    EXPECT_EQ(count(r.trace, "Event: refer;id=2"), 2u) << r.trace;  // the retried REFER's CSeq
}

TEST_P(SippRefer, Auth401FailsOnAWrongPassword) {
    auto r = run({.server = "uas_refer_auth_401.xml",
                  .client = "selftest_uac_refer_ood.xml",
                  .server_args = {"-set", "auth_user", "alice", "-set", "auth_pass", "secret"},
                  .client_args = {"-au", "alice", "-ap", "wrong"}});
    EXPECT_NE(r.server, 0) << logs_;
    EXPECT_NE(r.trace.find("SIP/2.0 403 Forbidden"), std::string::npos) << logs_;
    EXPECT_EQ(r.trace.find("SIP/2.0 202 Accepted"), std::string::npos);
}

TEST_P(SippRefer, Auth407ChecksProxyAuthorizationShape) {
    auto r = run({.server = "uas_refer_auth_407.xml",
                  .client = "selftest_uac_refer_ood.xml",
                  .client_args = {"-au", "alice", "-ap", "secret"}});
    EXPECT_EQ(r.server, 0) << logs_;
    EXPECT_EQ(r.client, 0) << logs_;
    EXPECT_NE(r.trace.find("Proxy-Authenticate: Digest"), std::string::npos);
    EXPECT_NE(r.trace.find("Proxy-Authorization: Digest"), std::string::npos);
    EXPECT_NE(r.trace.find("SIP/2.0 202 Accepted"), std::string::npos);
}

TEST_P(SippRefer, Auth407FailsOnMalformedProxyAuthorization) {
    auto r = run({.server = "uas_refer_auth_407.xml", .client = "selftest_uac_refer_bad_proxy_auth.xml"});
    EXPECT_NE(r.server, 0) << logs_;
    EXPECT_EQ(r.client, 0) << logs_;  // it got its 403
    EXPECT_NE(r.trace.find("SIP/2.0 403 Forbidden"), std::string::npos);
    EXPECT_EQ(r.trace.find("SIP/2.0 202 Accepted"), std::string::npos);
}

// --- (6) final NOTIFY retransmitted ------------------------------------------------------------

TEST_P(SippRefer, NotifyRetransmitGetsBothAnswered) {
    // Over UDP both sides run with -nr: SIPp's own retransmission detection would otherwise eat
    // the identical copies (see the scenario headers).
    std::vector<std::string> nr = udp() ? std::vector<std::string>{"-nr"} : std::vector<std::string>{};
    auto r = run({.server = "uas_refer_notify_retransmit.xml",
                  .client = "selftest_uac_refer_twice.xml",
                  .server_args = nr,
                  .client_args = nr});
    EXPECT_EQ(r.server, 0) << logs_;
    EXPECT_EQ(r.client, 0) << logs_;
    // Sent twice, answered twice: three NOTIFYs with CSeq 2 counted with their answers = 4 lines.
    EXPECT_EQ(count(r.trace, "CSeq: 2 NOTIFY"), 4u) << r.trace;
    EXPECT_EQ(count(r.trace, "Subscription-State: terminated;reason=noresource"), 2u);
}

TEST_P(SippRefer, NotifyRetransmitFailsWhenTheCopyIsNotAnswered) {
    // The ood probe ends after answering the first final NOTIFY; the copy gets no 200.
    std::vector<std::string> nr = udp() ? std::vector<std::string>{"-nr"} : std::vector<std::string>{};
    auto r = run({.server = "uas_refer_notify_retransmit.xml",
                  .client = "selftest_uac_refer_ood.xml",
                  .server_args = nr,
                  .client_args = nr});
    EXPECT_NE(r.server, 0) << logs_;
}

// --- (7) Refer-Sub: false ----------------------------------------------------------------------

TEST_P(SippRefer, SubFalseAcceptsWithoutSubscription) {
    auto r = run({.server = "uas_refer_sub_false.xml", .client = "selftest_uac_refer_norefersub.xml"});
    EXPECT_EQ(r.server, 0) << logs_;
    EXPECT_EQ(r.client, 0) << logs_;
    EXPECT_EQ(count(r.trace, "Refer-Sub: false"), 2u) << r.trace;  // the REFER and the 202
    EXPECT_NE(r.trace.find("SIP/2.0 202 Accepted"), std::string::npos);
    EXPECT_EQ(r.trace.find("NOTIFY sip:"), std::string::npos);
}

TEST_P(SippRefer, SubFalseFailsWithoutReferSub) {
    auto r = run({.server = "uas_refer_sub_false.xml", .client = "selftest_uac_refer_ood.xml"});
    EXPECT_NE(r.server, 0) << logs_;
    EXPECT_NE(r.trace.find("SIP/2.0 400 Bad Request"), std::string::npos) << logs_;
    EXPECT_EQ(r.trace.find("SIP/2.0 202 Accepted"), std::string::npos);
}

// --- (8) call, then REFER in the dialog ------------------------------------------------------

TEST_P(SippRefer, CallThenReferInDialog) {
    auto r = run({.server = "uas_call_then_refer.xml",
                  .client = "selftest_uac_refer_in_dialog.xml",
                  .client_args = {"-key", "rt_header", "Refer-To"}});
    EXPECT_EQ(r.server, 0) << logs_;
    EXPECT_EQ(r.client, 0) << logs_;
    EXPECT_NE(r.trace.find("a=rtpmap:0 PCMU/8000"), std::string::npos);
    EXPECT_NE(r.trace.find("CSeq: 2 REFER"), std::string::npos);
    EXPECT_EQ(count(r.trace, "Event: refer;id=2"), 2u) << r.trace;
    EXPECT_NE(r.trace.find("CSeq: 3 BYE"), std::string::npos);
}

TEST_P(SippRefer, CallThenReferFailsWithoutReferTo) {
    auto r = run({.server = "uas_call_then_refer.xml",
                  .client = "selftest_uac_refer_in_dialog.xml",
                  .client_args = {"-key", "rt_header", "X-Target"}});
    EXPECT_NE(r.server, 0) << logs_;
    EXPECT_NE(r.trace.find("SIP/2.0 400 Bad Request"), std::string::npos) << logs_;
    EXPECT_EQ(r.trace.find("NOTIFY sip:"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Transports, SippRefer, ::testing::Values("udp", "tcp"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// --- (5) first REFER ignored: UDP only ---------------------------------------------------------

class SippReferUdp : public SippRefer {};

TEST_P(SippReferUdp, IgnoreFirstAnswersTheRetransmission) {
    // SIPp's REFER retransmission (retrans="500") is the identical request: same branch and CSeq.
    auto r = run({.server = "uas_refer_ignore_first.xml", .client = "selftest_uac_refer_ood.xml",
                  .server_args = {"-nr"}});
    EXPECT_EQ(r.server, 0) << logs_;
    EXPECT_EQ(r.client, 0) << logs_;
    EXPECT_EQ(count(r.trace, "CSeq: 1 REFER"), 3u) << r.trace;  // two REFERs, one 202
    EXPECT_NE(r.trace.find("SIP/2.0 202 Accepted"), std::string::npos);
    EXPECT_NE(r.trace.find("Subscription-State: terminated;reason=noresource"), std::string::npos);
}

TEST_P(SippReferUdp, IgnoreFirstFailsOnANewTransaction) {
    auto r = run({.server = "uas_refer_ignore_first.xml", .client = "selftest_uac_refer_new_branch.xml",
                  .server_args = {"-nr"}, .client_args = {"-nr"}});
    EXPECT_NE(r.server, 0) << logs_;
    EXPECT_NE(r.trace.find("SIP/2.0 400 Bad Request"), std::string::npos) << logs_;
}

INSTANTIATE_TEST_SUITE_P(Transports, SippReferUdp, ::testing::Values("udp"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace referkit::interop
