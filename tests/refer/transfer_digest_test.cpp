// Authenticated referrers (docs/transfer-rules.md R40): the transferee asks REFERs for digest
// (UserAgentConfig::server_auth), end to end between Stacks on the virtual clock. The transferor
// answers the 401 with its credentials (RFC 3261 §22.2); a stranger, a wrong password, a replayed
// request and an expired nonce get nothing called.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "referkit/runtime/openssl_digest.hpp"
#include "refer_helpers.hpp"

namespace referkit::test {
namespace {
using namespace std::chrono_literals;

const DigestHash& hash() {
    static const DigestHash h = runtime::openssl_digest_hash();
    return h;
}

// C asks REFERs for digest; out-of-dialog REFERs need no other approval (R38 as by default).
void carol_requires_auth(StackConfig& c) {
    c.refer.out_of_dialog_refer = OutOfDialogRefer::refuse;
    c.ua.digest_hash = hash();
    c.ua.server_auth = ServerAuth{.methods = {Method::refer}, .in_dialog = false,
                                  .digest = DigestServerConfig{.realm = "carol.example",
                                                               .accounts = {{.username = "alice", .password = "s3cret", .realm = ""}}}};
}
std::function<void(StackConfig&)> alice_knows(std::string password) {
    return [password](StackConfig& c) {
        c.ua.digest_hash = hash();
        if (!password.empty()) c.ua.credentials = {{.username = "alice", .password = password, .realm = ""}};
    };
}

struct Net {
    explicit Net(std::uint64_t seed, const std::string& alice_password)
        : net(seed), a(net, "alice", {"192.0.2.1", 5060}, 0x1000 + seed, alice_knows(alice_password)),
          b(net, "bob", {"192.0.2.2", 5060}, 0x2000 + seed),
          c(net, "carol", {"192.0.2.3", 5060}, 0x3000 + seed, carol_requires_auth) {
        net.on_deliver([this](const sim::Datagram& d, Time) {
            if (d.bytes.starts_with("INVITE ")) ++invites;
            if (d.bytes.starts_with("SIP/2.0 401 ")) ++challenges;
            if (d.bytes.starts_with("REFER ")) refers.push_back(d);
        });
    }
    void run(Duration d) { net.run_until(net.now() + d); }
    // A REFERs C, outside any dialog, to call B.
    void refer() {
        auto h = a.stack().refer_out_of_dialog(c.uri(), b.uri(), ReferOptions{}, net.now());
        ASSERT_TRUE(h) << h.error().detail;
        a.pump(net.now());
        run(10s);
    }
    sim::Network net;
    Party a, b, c;
    int invites = 0, challenges = 0;
    std::vector<sim::Datagram> refers;
};

TEST(TransferDigest, AnAuthenticatedReferrerIsApprovedAndTheTransferRuns) {
    Net w(61, "s3cret");
    w.refer();
    EXPECT_EQ(w.challenges, 1);
    ASSERT_EQ(w.refers.size(), 2u);  // the REFER, then the same with Authorization
    EXPECT_EQ(w.refers[1].bytes.find("Authorization: Digest"), w.refers[1].bytes.find("Authorization:"));
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(w.c.count(TransfereeEventKind::refer_received), 1u);
    EXPECT_EQ(w.b.incoming.size(), 1u);
}

TEST(TransferDigest, WithoutCredentialsOrWithAWrongPasswordNothingIsCalled) {
    for (const char* password : {"", "guess"}) {
        Net w(62, password);
        w.refer();
        ASSERT_FALSE(w.a.refer_events().empty()) << password;
        EXPECT_EQ(w.a.refer_events().front().kind, ReferEventKind::refer_request_rejected) << password;
        EXPECT_EQ(w.a.refer_events().front().status, 401) << password;
        EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::rejected) << password;
        EXPECT_TRUE(w.c.transferee_events().empty()) << password;
        EXPECT_EQ(w.invites, 0) << password;
        EXPECT_GE(w.challenges, 1) << password;
    }
}

TEST(TransferDigest, AReplayedAuthenticatedReferIsChallengedAgainAndCallsNobody) {
    Net w(63, "s3cret");
    w.refer();
    ASSERT_EQ(w.b.incoming.size(), 1u);
    ASSERT_EQ(w.refers.size(), 2u);
    const int invites = w.invites, challenges = w.challenges;
    // An attacker who captured the authenticated REFER sends it again under a new branch and
    // Call-ID: the nonce count was used, so it is a replay (stale), and nothing is called.
    std::string replay = w.refers[1].bytes;
    auto swap = [&replay](std::string_view from, std::string_view to) {
        auto at = replay.find(from);
        ASSERT_NE(at, std::string::npos) << from;
        replay.replace(at, from.size(), to);
    };
    const std::string branch_key = "branch=";
    auto b = replay.find(branch_key);
    ASSERT_NE(b, std::string::npos);
    replay.insert(b + branch_key.size() + 7, "replay");  // after the magic cookie
    swap("Call-ID: ", "Call-ID: replay-");
    w.net.send(Transport::udp, {"192.0.2.1", 5060}, {"192.0.2.3", 5060}, replay);  // its 401 reaches A, who drops it
    w.run(5s);
    EXPECT_EQ(w.challenges, challenges + 1);
    EXPECT_EQ(w.invites, invites);
    EXPECT_EQ(w.c.count(TransfereeEventKind::refer_received), 1u);
}

TEST(TransferDigest, AnInDialogReferIsNotChallengedUnlessAsked) {
    Net w(64, "");
    SessionId ac = w.a.call(w.c, w.net.now());
    w.run(2s);
    ASSERT_EQ(w.a.stack().session_state(ac), SessionState::confirmed);
    ASSERT_TRUE(w.a.stack().refer(ac, w.b.uri(), ReferOptions{}, w.net.now()));
    w.a.pump(w.net.now());
    w.run(10s);
    EXPECT_EQ(w.challenges, 0);
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::accepted);
}

TEST(TransferDigest, AuthenticationAskedWithoutADigestHashLetsNobodyThrough) {
    sim::Network net(65);
    Party a(net, "alice", {"192.0.2.1", 5060}, 0x1065, alice_knows("s3cret"));
    Party b(net, "bob", {"192.0.2.2", 5060}, 0x2065);
    Party c(net, "carol", {"192.0.2.3", 5060}, 0x3065, [](StackConfig& cfg) {
        carol_requires_auth(cfg);
        cfg.ua.digest_hash = {};  // misconfigured: nothing to verify with
        cfg.refer.allow_refer_from = [](const Message&, const Source&) { return true; };
    });
    auto h = a.stack().refer_out_of_dialog(c.uri(), b.uri(), ReferOptions{}, net.now());
    ASSERT_TRUE(h) << h.error().detail;
    a.pump(net.now());
    net.run_until(net.now() + 10s);
    ASSERT_FALSE(a.refer_events().empty());
    EXPECT_EQ(a.refer_events().front().status, 403);
    EXPECT_TRUE(c.transferee_events().empty());
    EXPECT_TRUE(b.incoming.empty());
}

}  // namespace
}  // namespace referkit::test
