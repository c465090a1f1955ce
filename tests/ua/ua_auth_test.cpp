// Digest retries (RFC 3261 §22.2, RFC 7616, RFC 8760) against a small challenging UAS built on a
// bare TransactionLayer that checks every answer with digest_verify.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "raw_peer.hpp"
#include "referkit/core/digest.hpp"
#include "referkit/core/stack.hpp"
#include "referkit/runtime/openssl_digest.hpp"
#include "sim_node.hpp"

namespace referkit::test {
namespace {

using namespace std::chrono_literals;
using K = SessionEventKind;

struct ChallengerOptions {
    bool proxy = false;                       // 407 + Proxy-Authenticate instead of 401
    std::set<std::string> methods = {"INVITE"};  // what is challenged
    std::string password = "secret";
    bool stale_once = false;                  // the first good answer gets stale=true
};

// Answers requests 200 (an INVITE with an SDP answer), after a Digest challenge for the methods
// in options.methods. Records what it received.
struct Challenger {
    struct Seen {
        std::string method;
        std::uint32_t cseq = 0;
        bool credentials = false;
        std::string algorithm;
        std::string nc;
    };
    ChallengerOptions opt;
    DigestHash hash = runtime::openssl_digest_hash();
    std::vector<Seen> seen;
    std::vector<std::uint32_t> ack_cseqs;
    int nonce_serial = 0;
    std::string nonce = "n0";
    bool stale_sent = false;
    sim::CoreNode node;

    Challenger(sim::Network& net, ChallengerOptions o)
        : opt(std::move(o)), node(net, raw_addr, raw_options(5000), [this](sim::CoreNode& n, TransactionEvent& e, Time now) {
              on_event(n, e, now);
          }) {}
    void challenge(sim::CoreNode& n, TransactionId id, bool stale, Time now) {
        nonce = "nonce" + std::to_string(++nonce_serial);
        const std::string md5 = digest_challenge_value("example.com", nonce, DigestAlgorithm::md5, true, stale);
        const std::string sha = digest_challenge_value("example.com", nonce, DigestAlgorithm::sha256, true, stale);
        ResponseSpec r;
        r.status = opt.proxy ? 407 : 401;
        const std::string_view name = opt.proxy ? "Proxy-Authenticate" : "WWW-Authenticate";
        r.headers = {{name, md5}, {name, sha}};  // MD5 listed first: the UAC still picks SHA-256
        ASSERT_TRUE(n.layer().respond(id, r, now));
    }
    void on_event(sim::CoreNode& n, TransactionEvent& e, Time now) {
        if (e.kind == EventKind::ack && e.message) ack_cseqs.push_back(e.message->cseq().number);
        if (e.kind != EventKind::request || !e.message) return;
        const Message& m = *e.message;
        Seen s{.method = std::string(m.method_text()), .cseq = m.cseq().number, .credentials = false, .algorithm = {},
               .nc = {}};
        if (opt.methods.contains(s.method)) {
            auto creds = m.auth(opt.proxy ? HeaderId::proxy_authorization : HeaderId::authorization);
            bool ok = false;
            if (creds && !creds->empty()) {
                s.credentials = true;
                s.algorithm = std::string((*creds)[0].algorithm);
                s.nc = std::string((*creds)[0].nc);
                ok = (*creds)[0].nonce == nonce &&
                     digest_verify((*creds)[0], m.method_text(), opt.password, m.body(), hash);
            }
            seen.push_back(s);
            if (!ok) return challenge(n, e.id, false, now);
            if (opt.stale_once && !stale_sent) {
                stale_sent = true;
                return challenge(n, e.id, true, now);
            }
        } else {
            seen.push_back(s);
        }
        ResponseSpec r = raw_call_answer("srvtag");
        if (m.method() != Method::invite) {  // an SDP answer only for an INVITE
            r.content_type = {};
            r.body = {};
        }
        ASSERT_TRUE(n.layer().respond(e.id, r, now));
    }
    [[nodiscard]] std::vector<std::uint32_t> cseqs(std::string_view method) const {
        std::vector<std::uint32_t> v;
        for (const Seen& s : seen)
            if (s.method == method) v.push_back(s.cseq);
        return v;
    }
};

UserAgentConfig alice(std::string password) {
    auto c = ua_config("sip:alice@192.0.2.1", 0xa11ce);
    c.credentials = {Credentials{.username = "alice", .password = std::move(password), .realm = "example.com"}};
    c.digest_hash = runtime::openssl_digest_hash();
    return c;
}

SessionId call(sim::Network& net, StackNode& a) {
    auto s = a.stack().invite(invite_to("sip:srv@192.0.2.9:5060"), net.now());
    EXPECT_TRUE(s);
    a.pump(net.now());
    net.run_until(net.now() + 2s);
    return s ? *s : SessionId{};
}

void hang_up_and_settle(sim::Network& net, StackNode& a, SessionId s) {
    ASSERT_TRUE(a.stack().bye(s, net.now()));
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_EQ(a.count(K::session_ended), 1u) << a.timeline();
    EXPECT_TRUE(holds_nothing(a.stack()));
}

TEST(UaAuth, Invite401RetriedWithSha256) {
    sim::Network net(1);
    StackNode a(net, a_addr, alice("secret"));
    Challenger srv(net, ChallengerOptions{});
    SessionId s = call(net, a);
    EXPECT_EQ(a.stack().session_state(s), SessionState::confirmed) << a.timeline();
    ASSERT_EQ(srv.seen.size(), 2u);
    EXPECT_FALSE(srv.seen[0].credentials);
    EXPECT_TRUE(srv.seen[1].credentials);
    EXPECT_EQ(srv.seen[1].algorithm, "SHA-256");
    EXPECT_EQ(srv.seen[1].nc, "00000001");
    EXPECT_EQ(srv.cseqs("INVITE"), (std::vector<std::uint32_t>{1, 2}));  // §22.2: CSeq advances
    EXPECT_EQ(srv.ack_cseqs, (std::vector<std::uint32_t>{2}));            // the 2xx's ACK: the retry's CSeq
    EXPECT_EQ(a.count(K::session_ended), 0u);  // the 401 never surfaced
    EXPECT_EQ(a.count(K::session_progress), 0u);
    // No event carries the password.
    for (const StackEvent& e : a.events()) {
        if (const Message* m = message_of(e)) {
            EXPECT_EQ(m->bytes().find("secret"), std::string_view::npos);
        }
    }
    hang_up_and_settle(net, a, s);
}

TEST(UaAuth, Invite407ProxyAuthorization) {
    sim::Network net(1);
    StackNode a(net, a_addr, alice("secret"));
    Challenger srv(net, ChallengerOptions{.proxy = true});
    SessionId s = call(net, a);
    EXPECT_EQ(a.stack().session_state(s), SessionState::confirmed) << a.timeline();
    ASSERT_EQ(srv.seen.size(), 2u);
    EXPECT_TRUE(srv.seen[1].credentials);
    hang_up_and_settle(net, a, s);
}

TEST(UaAuth, WrongPasswordRetriesOnceThen401Surfaces) {
    sim::Network net(1);
    StackNode a(net, a_addr, alice("wrong"));
    Challenger srv(net, ChallengerOptions{});
    SessionId s = call(net, a);
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_EQ(srv.cseqs("INVITE").size(), 2u);  // exactly one retry
    ASSERT_EQ(a.count(K::session_ended), 1u) << a.timeline();
    EXPECT_EQ(a.find(K::session_ended)->status, 401);
    EXPECT_EQ(a.find(K::session_ended)->cause, EndCause::rejected);
    EXPECT_FALSE(a.stack().session_state(s));
    EXPECT_TRUE(holds_nothing(a.stack()));
}

TEST(UaAuth, StaleNonceGetsOneMoreRetry) {
    sim::Network net(1);
    StackNode a(net, a_addr, alice("secret"));
    Challenger srv(net, ChallengerOptions{.stale_once = true});
    SessionId s = call(net, a);
    EXPECT_EQ(a.stack().session_state(s), SessionState::confirmed) << a.timeline();
    EXPECT_EQ(srv.cseqs("INVITE"), (std::vector<std::uint32_t>{1, 2, 3}));
    hang_up_and_settle(net, a, s);
}

TEST(UaAuth, ChallengedByeIsRetriedWithAHigherCSeq) {
    sim::Network net(1);
    StackNode a(net, a_addr, alice("secret"));
    Challenger srv(net, ChallengerOptions{.methods = {"BYE"}});
    SessionId s = call(net, a);
    ASSERT_EQ(a.stack().session_state(s), SessionState::confirmed) << a.timeline();
    hang_up_and_settle(net, a, s);
    EXPECT_EQ(srv.cseqs("BYE"), (std::vector<std::uint32_t>{2, 3}));
    EXPECT_EQ(a.find(K::session_ended)->cause, EndCause::bye_local);
    EXPECT_EQ(a.find(K::session_ended)->status, 200);
}

TEST(UaAuth, ChallengedReinviteAndInDialogRequest) {
    sim::Network net(1);
    StackNode a(net, a_addr, alice("secret"));
    Challenger srv(net, ChallengerOptions{.methods = {"INVITE", "INFO"}});
    SessionId s = call(net, a);
    ASSERT_EQ(a.stack().session_state(s), SessionState::confirmed);
    ASSERT_TRUE(a.stack().reinvite(s, ReinviteOptions{.direction = MediaDirection::sendonly, .body = std::nullopt},
                                  net.now()));
    a.pump(net.now());
    net.run_until(net.now() + 2s);
    EXPECT_EQ(a.count(K::answer_received), 2u) << a.timeline();
    auto id = a.stack().send_in_dialog(*a.stack().session_dialog(s),
                                      InDialogRequest{.method = "INFO", .headers = {}, .content_type = {}, .body = {}},
                                      net.now());
    ASSERT_TRUE(id);
    a.pump(net.now());
    net.run_until(net.now() + 2s);
    ASSERT_EQ(a.count<ResponseEvent>(), 1u) << a.timeline();  // the 401 was answered internally
    EXPECT_EQ(a.find<ResponseEvent>()->status, 200);
    EXPECT_EQ(a.find<ResponseEvent>()->request, id->id);
    EXPECT_EQ(srv.cseqs("INVITE"), (std::vector<std::uint32_t>{1, 2, 3, 4}));
    EXPECT_EQ(srv.cseqs("INFO"), (std::vector<std::uint32_t>{5, 6}));
    hang_up_and_settle(net, a, s);
}

TEST(UaAuth, GenericRequest407OnlyTheFinalResponseSurfaces) {
    sim::Network net(1);
    StackNode a(net, a_addr, alice("secret"));
    Challenger srv(net, ChallengerOptions{.proxy = true, .methods = {"MESSAGE"}});
    auto id = a.stack().send_request(OutOfDialogRequest{.method = "MESSAGE", .target = "sip:srv@192.0.2.9:5060",
                                                       .headers = {}, .content_type = "text/plain", .body = "hi",
                                                       .creates_dialog = false},
                                    net.now());
    ASSERT_TRUE(id);
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    ASSERT_EQ(a.count<ResponseEvent>(), 1u) << a.timeline();
    const ResponseEvent* r = a.find<ResponseEvent>();
    EXPECT_EQ(r->status, 200);
    ASSERT_TRUE(r->message);
    EXPECT_EQ(r->message->cseq().number, 2u);
    EXPECT_EQ(srv.cseqs("MESSAGE"), (std::vector<std::uint32_t>{1, 2}));
    EXPECT_TRUE(holds_nothing(a.stack()));
}

// report_challenges: the 407 the stack answered surfaces first, informational (final false,
// retried true), then the retry's 200 as the final response of the same request.
TEST(UaAuth, GenericRequestReportChallengesSurfacesThe407AsRetried) {
    sim::Network net(1);
    StackNode a(net, a_addr, alice("secret"));
    Challenger srv(net, ChallengerOptions{.proxy = true, .methods = {"MESSAGE"}});
    auto id = a.stack().send_request(OutOfDialogRequest{.method = "MESSAGE", .target = "sip:srv@192.0.2.9:5060",
                                                       .headers = {}, .content_type = "text/plain", .body = "hi",
                                                       .creates_dialog = false, .report_challenges = true},
                                    net.now());
    ASSERT_TRUE(id);
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    const std::vector<ResponseEvent> responses = a.all<ResponseEvent>();
    ASSERT_EQ(responses.size(), 2u) << a.timeline();
    EXPECT_EQ(responses[0].status, 407);
    EXPECT_TRUE(responses[0].retried);
    EXPECT_FALSE(responses[0].final);
    EXPECT_EQ(responses[0].request, id->id);
    ASSERT_TRUE(responses[0].message);
    EXPECT_EQ(responses[0].message->cseq().number, 1u);
    EXPECT_EQ(responses[1].status, 200);
    EXPECT_FALSE(responses[1].retried);
    EXPECT_TRUE(responses[1].final);
    EXPECT_EQ(responses[1].request, id->id);
    EXPECT_EQ(srv.cseqs("MESSAGE"), (std::vector<std::uint32_t>{1, 2}));
    EXPECT_TRUE(holds_nothing(a.stack()));
}

TEST(UaAuth, NoCredentialsForTheRealmSurfacesThe401) {
    sim::Network net(1);
    auto c = alice("secret");
    c.credentials[0].realm = "other.example";
    StackNode a(net, a_addr, c);
    Challenger srv(net, ChallengerOptions{});
    (void)call(net, a);
    ASSERT_EQ(a.count(K::session_ended), 1u);
    EXPECT_EQ(a.find(K::session_ended)->status, 401);
    EXPECT_EQ(srv.seen.size(), 1u);
}

}  // namespace
}  // namespace referkit::test
