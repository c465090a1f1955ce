// Edge cases of UserAgentCore: synthesised finals (408, 503), forked 2xx, limits, BYE on an early
// dialog, §14.2's 500 with Retry-After, re-INVITE without offer, header de-duplication.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "core_node.hpp"
#include "raw_peer.hpp"
#include "referkit/core/user_agent_core.hpp"
#include "ua_node.hpp"

namespace referkit {
namespace {

using namespace std::chrono_literals;
using test::UaNode;
using K = UaEventKind;

const Endpoint a_addr{"192.0.2.1", 5060};
const Endpoint b_addr{"192.0.2.2", 5060};
const Endpoint raw_addr{"192.0.2.9", 5060};
const Endpoint nowhere{"192.0.2.200", 5060};

TransactionOptions raw_options() {
    TransactionOptions to;
    to.random = [n = std::uint64_t{7000}]() mutable { return ++n; };
    to.sent_by = "192.0.2.9:5060";
    return to;
}

std::vector<Message> parsed(const std::vector<std::string>& sent, std::string_view start) {
    std::vector<Message> out;
    for (const std::string& s : sent) {
        auto m = Message::parse(std::string_view(s));
        if (m && m->start_line().starts_with(start)) out.push_back(*m);
    }
    return out;
}

TEST(UaEdge, RequestTimeoutSurfacesAs408) {
    sim::Network net(1);
    UaNode a(net, a_addr, test::ua_config("sip:alice@192.0.2.1", 1));
    auto id = a.core().send_request(OutOfDialogRequest{.method = "MESSAGE", .target = "sip:x@192.0.2.200:5060",
                                                       .headers = {}, .content_type = "text/plain", .body = "x",
                                                       .creates_dialog = false},
                                    net.now());
    ASSERT_TRUE(id);
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    ASSERT_EQ(a.count(K::response), 1u);
    const UaEvent* r = a.find(K::response);
    EXPECT_EQ(r->status, 408);
    EXPECT_TRUE(r->final);
    EXPECT_EQ(r->request, *id);
    EXPECT_TRUE(test::empty(a.core().counts())) << test::describe(a.core().counts());
}

TEST(UaEdge, InviteTimeoutEndsTheSessionFailed408) {
    sim::Network net(1);
    UaNode a(net, a_addr, test::ua_config("sip:alice@192.0.2.1", 1));
    auto s = a.core().invite(InviteOptions{.target = "sip:x@192.0.2.200:5060", .headers = {}, .body = std::nullopt,
                                           .content_type = "application/sdp"},
                             net.now());
    ASSERT_TRUE(s);
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    ASSERT_EQ(a.count(K::session_ended), 1u);
    EXPECT_EQ(a.find(K::session_ended)->status, 408);
    EXPECT_EQ(a.find(K::session_ended)->cause, EndCause::failed);
    EXPECT_TRUE(test::empty(a.core().counts())) << test::describe(a.core().counts());
}

TEST(UaEdge, TransportErrorSurfacesAs503) {
    // Driven by hand, without a network: the runtime reports that the request could not be sent.
    UserAgentCore core(test::ua_config("sip:alice@192.0.2.1", 1));
    auto id = core.send_request(OutOfDialogRequest{.method = "OPTIONS", .target = "sip:x@192.0.2.200;transport=tcp",
                                                   .headers = {}, .content_type = {}, .body = {},
                                                   .creates_dialog = false},
                                Time{});
    ASSERT_TRUE(id);
    auto t = core.poll_transmit();
    ASSERT_TRUE(t);
    EXPECT_EQ(t->destination.transport, Transport::tcp);
    core.transport_error(t->transaction, Time{});
    auto e = core.poll_event();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, K::response);
    EXPECT_EQ(e->status, 503);
    EXPECT_TRUE(e->final);
    EXPECT_EQ(e->request, *id);
    core.on_timer(Time{} + 1h);
    EXPECT_TRUE(test::empty(core.counts())) << test::describe(core.counts());
}

TEST(UaEdge, SecondForks2xxIsAcknowledgedAndEndedWithBye) {
    sim::Network net(1);
    UaNode a(net, a_addr, test::ua_config("sip:alice@192.0.2.1", 1));
    std::vector<std::string> acks_to, byes_to;
    sim::CoreNode raw(net, raw_addr, raw_options(), [&](sim::CoreNode& n, TransactionEvent& e, Time now) {
        if (e.kind == EventKind::ack && e.message) acks_to.emplace_back(e.message->to().tag);
        if (e.kind != EventKind::request || !e.message) return;
        if (e.message->method() == Method::bye) {
            byes_to.emplace_back(e.message->to().tag);
            ResponseSpec ok;
            ASSERT_TRUE(n.layer().respond(e.id, ok, now));
            return;
        }
        if (e.message->method() != Method::invite) return;
        // Two forks answer: the same INVITE server transaction gives 2xx with two To tags.
        for (const char* tag : {"fork1", "fork2"}) {
            ResponseSpec ok;
            ok.to_tag = tag;
            ok.headers = {{"Contact", "<sip:srv@192.0.2.9:5060>"}};
            ok.content_type = "application/sdp";
            ok.body = test::audio_answer;
            ASSERT_TRUE(n.layer().respond(e.id, ok, now));
        }
    });
    auto s = a.core().invite(InviteOptions{.target = "sip:srv@192.0.2.9:5060", .headers = {}, .body = std::nullopt,
                                           .content_type = "application/sdp"},
                             net.now());
    ASSERT_TRUE(s);
    a.pump(net.now());
    net.run_until(net.now() + 2s);
    EXPECT_EQ(a.core().session_state(*s), SessionState::confirmed);
    EXPECT_EQ(a.count(K::session_answered), 1u);
    ASSERT_TRUE(a.core().dialog_info(*a.core().session_dialog(*s)));
    EXPECT_EQ(a.core().dialog_info(*a.core().session_dialog(*s))->remote_tag, "fork1");
    EXPECT_EQ(acks_to, (std::vector<std::string>{"fork1", "fork2"}));
    EXPECT_EQ(byes_to, (std::vector<std::string>{"fork2"}));
    ASSERT_TRUE(a.core().bye(*s, net.now()));
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_EQ(byes_to, (std::vector<std::string>{"fork2", "fork1"}));
    EXPECT_TRUE(test::empty(a.core().counts())) << test::describe(a.core().counts());
}

TEST(UaEdge, SessionLimit) {
    sim::Network net(1);
    auto ac = test::ua_config("sip:alice@192.0.2.1", 1);
    ac.max_sessions = 1;
    UaNode a(net, a_addr, ac);
    auto bc = test::ua_config("sip:bob@192.0.2.2", 2);
    bc.max_sessions = 1;
    UaNode b(net, b_addr, bc);
    UaNode c(net, raw_addr, test::ua_config("sip:carol@192.0.2.9", 3));
    InviteOptions o{.target = b.uri("bob"), .headers = {}, .body = std::nullopt, .content_type = "application/sdp"};
    ASSERT_TRUE(a.core().invite(o, net.now()));
    EXPECT_EQ(a.core().invite(o, net.now()).error(), UaError::limit_reached);
    a.pump(net.now());
    net.run_until(net.now() + 1s);
    ASSERT_TRUE(c.core().invite(o, net.now()));
    c.pump(net.now());
    net.run_until(net.now() + 1s);
    ASSERT_EQ(c.count(K::session_ended), 1u);
    EXPECT_EQ(c.find(K::session_ended)->status, 486);
    EXPECT_EQ(b.count(K::incoming_call), 1u);
}

TEST(UaEdge, CallersHeadersAreNotDuplicated) {
    sim::Network net(1);
    auto ac = test::ua_config("sip:alice@192.0.2.1", 1);
    ac.supported = {"replaces"};
    UaNode a(net, a_addr, ac);
    ASSERT_TRUE(a.core().invite(InviteOptions{.target = "sip:x@192.0.2.200",
                                              .headers = {{"Allow", "INVITE, ACK, BYE"}, {"Supported", "timer"},
                                                          {"User-Agent", "custom"}},
                                              .body = std::nullopt, .content_type = "application/sdp"},
                                net.now()));
    a.pump(net.now());
    auto invites = parsed(a.sent(), "INVITE ");
    ASSERT_EQ(invites.size(), 1u);
    EXPECT_EQ(invites[0].count(HeaderId::allow), 1u);
    EXPECT_EQ(invites[0].find(HeaderId::allow)->value, "INVITE, ACK, BYE");
    EXPECT_EQ(invites[0].count(HeaderId::supported), 1u);
    EXPECT_EQ(invites[0].find(HeaderId::supported)->value, "timer");
    EXPECT_EQ(invites[0].count(HeaderId::user_agent), 1u);
    EXPECT_EQ(invites[0].count(HeaderId::contact), 1u);
}

// A raw caller calls B; B rings (early dialog), then the caller sends BYE on the early dialog.
TEST(UaEdge, ByeOnAnEarlyDialogEndsTheIncomingCall) {
    sim::Network net(1);
    UaNode b(net, b_addr, test::ua_config("sip:bob@192.0.2.2", 2));
    b.on_event = [](UaNode& n, const UaEvent& e, Time now) {
        if (e.kind == K::incoming_call) {
            ASSERT_TRUE(n.core().answer(e.session, AnswerOptions{.status = 180, .reason = {}, .headers = {}, .body = {}},
                                        now));
        }
    };
    std::vector<int> finals;
    std::string b_tag;
    sim::CoreNode raw(net, raw_addr, raw_options(), [&](sim::CoreNode&, TransactionEvent& e, Time) {
        if (e.kind == EventKind::response && e.message) {
            if (e.message->status() == 180) b_tag = std::string(e.message->to().tag);
            if (e.message->status() >= 200) finals.push_back(e.message->status());
        }
    });
    test::RawRequest inv{.method = "INVITE", .uri = "sip:bob@192.0.2.2:5060", .from = "<sip:raw@192.0.2.9>;tag=r1",
                         .to = "<sip:bob@192.0.2.2>", .call_id = "early-bye@raw", .cseq = "1",
                         .headers = {{"Contact", "<sip:raw@192.0.2.9:5060>"}}};
    ASSERT_TRUE(raw.layer().send_request(test::build(inv), Destination{Transport::udp, b_addr, 0}, net.now()));
    raw.pump(net.now());
    net.run_until(net.now() + 1s);
    ASSERT_FALSE(b_tag.empty());
    test::RawRequest bye = inv;
    bye.method = "BYE";
    bye.to = "<sip:bob@192.0.2.2>;tag=" + b_tag;
    bye.cseq = "2";
    ASSERT_TRUE(raw.layer().send_request(test::build(bye), Destination{Transport::udp, b_addr, 0}, net.now()));
    raw.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    std::sort(finals.begin(), finals.end());
    EXPECT_EQ(finals, (std::vector<int>{200, 487}));  // §15.1.2
    ASSERT_EQ(b.count(K::session_ended), 1u);
    EXPECT_EQ(b.find(K::session_ended)->cause, EndCause::bye_remote);
    EXPECT_TRUE(test::empty(b.core().counts())) << test::describe(b.core().counts());
}

// §14.2: a re-INVITE that arrives while B still waits for the ACK of its 2xx gets 500 + Retry-After.
TEST(UaEdge, ReinviteBeforeTheAckGets500WithRetryAfter) {
    sim::Network net(1);
    UaNode b(net, b_addr, test::ua_config("sip:bob@192.0.2.2", 2));
    b.on_event = [](UaNode& n, const UaEvent& e, Time now) {
        if (e.kind == K::incoming_call) {
            ASSERT_TRUE(n.core().answer(e.session, AnswerOptions{}, now));
        }
    };
    std::vector<Message> finals;
    sim::CoreNode raw(net, raw_addr, raw_options(), [&](sim::CoreNode&, TransactionEvent& e, Time) {
        if (e.kind == EventKind::response && e.message && e.message->status() >= 200) finals.push_back(*e.message);
    });
    test::RawRequest inv{.method = "INVITE", .uri = "sip:bob@192.0.2.2:5060", .from = "<sip:raw@192.0.2.9>;tag=r1",
                         .to = "<sip:bob@192.0.2.2>", .call_id = "reinv500@raw", .cseq = "1",
                         .headers = {{"Contact", "<sip:raw@192.0.2.9:5060>"}}, .content_type = "application/sdp",
                         .body = test::audio_answer};
    ASSERT_TRUE(raw.layer().send_request(test::build(inv), Destination{Transport::udp, b_addr, 0}, net.now()));
    raw.pump(net.now());
    net.run_until(net.now() + 100ms);
    ASSERT_EQ(finals.size(), 1u);
    const std::string tag(finals[0].to().tag);
    test::RawRequest re = inv;
    re.to = "<sip:bob@192.0.2.2>;tag=" + tag;
    re.cseq = "2";
    ASSERT_TRUE(raw.layer().send_request(test::build(re), Destination{Transport::udp, b_addr, 0}, net.now()));
    raw.pump(net.now());
    net.run_until(net.now() + 100ms);
    ASSERT_EQ(finals.size(), 2u);
    EXPECT_EQ(finals[1].status(), 500);
    EXPECT_NE(finals[1].find(HeaderId::retry_after), nullptr);
    // The ACK for the first 2xx still confirms the call.
    test::RawRequest ack = inv;
    ack.method = "ACK";
    ack.to = re.to;
    ack.body.clear();
    ack.content_type.clear();
    ASSERT_TRUE(raw.layer().send_stateless(test::build(ack), Destination{Transport::udp, b_addr, 0}, net.now()));
    raw.pump(net.now());
    net.run_until(net.now() + 100ms);
    const UaEvent* in = b.find(K::incoming_call);
    ASSERT_NE(in, nullptr);
    EXPECT_EQ(b.core().session_state(in->session), SessionState::confirmed) << b.timeline();
    EXPECT_EQ(b.count(K::session_ended), 0u);
}

TEST(UaEdge, ReinviteWithoutOfferGetsTheOfferIn2xxAndAnswersInAck) {
    sim::Network net(1);
    UaNode a(net, a_addr, test::ua_config("sip:alice@192.0.2.1", 1));
    UaNode b(net, b_addr, test::ua_config("sip:bob@192.0.2.2", 2));
    b.on_event = [](UaNode& n, const UaEvent& e, Time now) {
        if (e.kind == K::incoming_call) {
            ASSERT_TRUE(n.core().answer(e.session, AnswerOptions{}, now));
        }
    };
    auto s = a.core().invite(InviteOptions{.target = b.uri("bob"), .headers = {}, .body = std::nullopt,
                                           .content_type = "application/sdp"},
                             net.now());
    ASSERT_TRUE(s);
    a.pump(net.now());
    net.run_until(net.now() + 1s);
    a.clear();
    b.clear();
    ASSERT_TRUE(a.core().reinvite(*s, ReinviteOptions{.direction = MediaDirection::sendrecv, .body = std::string()},
                                  net.now()));
    a.pump(net.now());
    net.run_until(net.now() + 1s);
    EXPECT_EQ(a.count(K::offer_received), 1u) << a.timeline();
    EXPECT_EQ(a.count(K::session_confirmed), 1u) << a.timeline();
    EXPECT_EQ(b.count(K::answer_received), 1u) << b.timeline();  // the answer came in the ACK
    EXPECT_EQ(b.count(K::session_confirmed), 1u) << b.timeline();
    auto acks = parsed(a.sent(), "ACK ");
    ASSERT_EQ(acks.size(), 1u);
    EXPECT_FALSE(acks[0].body().empty());
    ASSERT_TRUE(a.core().bye(*s, net.now()));
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_TRUE(test::empty(a.core().counts()));
    EXPECT_TRUE(test::empty(b.core().counts()));
}

// §15: a callee that hangs up before the ACK of its 2xx sends the BYE only once the ACK came.
TEST(UaEdge, CalleeByeWaitsForTheAck) {
    sim::Network net(1);
    UaNode a(net, a_addr, test::ua_config("sip:alice@192.0.2.1", 1));
    UaNode b(net, b_addr, test::ua_config("sip:bob@192.0.2.2", 2));
    b.on_event = [](UaNode& n, const UaEvent& e, Time now) {
        if (e.kind == K::incoming_call) {
            ASSERT_TRUE(n.core().answer(e.session, AnswerOptions{}, now));
            ASSERT_TRUE(n.core().bye(e.session, now));
            EXPECT_EQ(n.core().session_state(e.session), SessionState::ending);
        }
    };
    std::vector<std::string> delivered;  // method or status of each delivery, in order
    net.on_deliver([&](const sim::Datagram& d, Time) {
        auto m = Message::parse(std::string_view(d.bytes));
        if (m) delivered.push_back(m->is_request() ? std::string(m->method_text()) : std::to_string(m->status()));
    });
    auto s = a.core().invite(InviteOptions{.target = b.uri("bob"), .headers = {}, .body = std::nullopt,
                                           .content_type = "application/sdp"},
                             net.now());
    ASSERT_TRUE(s);
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    ASSERT_EQ(b.count(K::session_ended), 1u) << b.timeline();
    EXPECT_EQ(b.find(K::session_ended)->cause, EndCause::bye_local);
    EXPECT_EQ(b.find(K::session_ended)->status, 200);
    ASSERT_EQ(a.count(K::session_ended), 1u) << a.timeline();
    EXPECT_EQ(a.find(K::session_ended)->cause, EndCause::bye_remote);
    EXPECT_EQ(parsed(b.sent(), "BYE ").size(), 1u);
    auto at = [&](std::string_view what) {
        return std::find(delivered.begin(), delivered.end(), what) - delivered.begin();
    };
    EXPECT_LT(at("ACK"), at("BYE"));  // the BYE left B only after the ACK reached it
    EXPECT_LT(at("BYE"), static_cast<std::ptrdiff_t>(delivered.size()));
    EXPECT_TRUE(test::empty(a.core().counts()));
    EXPECT_TRUE(test::empty(b.core().counts()));
}

// RFC 5057 §5.1: a 481 to a re-INVITE means the peer lost the INVITE usage: the session ends, no BYE.
TEST(UaEdge, Reinvite481EndsTheSessionWithoutBye) {
    sim::Network net(1);
    UaNode a(net, a_addr, test::ua_config("sip:alice@192.0.2.1", 1));
    sim::CoreNode raw(net, raw_addr, raw_options(), [&](sim::CoreNode& n, TransactionEvent& e, Time now) {
        if (e.kind != EventKind::request || !e.message) return;
        ResponseSpec r;
        if (!e.message->to().tag.empty()) {
            r.status = 481;
        } else {
            r.to_tag = "srv";
            r.headers = {{"Contact", "<sip:srv@192.0.2.9:5060>"}};
            r.content_type = "application/sdp";
            r.body = test::audio_answer;
        }
        ASSERT_TRUE(n.layer().respond(e.id, r, now));
    });
    auto s = a.core().invite(InviteOptions{.target = "sip:srv@192.0.2.9:5060", .headers = {}, .body = std::nullopt,
                                           .content_type = "application/sdp"},
                             net.now());
    ASSERT_TRUE(s);
    a.pump(net.now());
    net.run_until(net.now() + 1s);
    ASSERT_EQ(a.core().session_state(*s), SessionState::confirmed);
    ASSERT_TRUE(a.core().reinvite(*s, ReinviteOptions{.direction = MediaDirection::sendonly, .body = {}}, net.now()));
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    ASSERT_EQ(a.count(K::session_ended), 1u) << a.timeline();
    EXPECT_EQ(a.find(K::session_ended)->status, 481);
    EXPECT_EQ(a.find(K::session_ended)->cause, EndCause::failed);
    EXPECT_EQ(a.count(K::dialog_ended), 1u);
    EXPECT_TRUE(parsed(a.sent(), "BYE ").empty());
    EXPECT_TRUE(test::empty(a.core().counts())) << test::describe(a.core().counts());
}

// RFC 3261 §12.2.2: a peer that already took a later request of ours in the dialog refuses the
// BYE 500 (lower CSeq). The BYE is sent once more with a fresh CSeq, so the peer's call ends too;
// a second 500 ends the session anyway (no endless retry).
TEST(UaEdge, ByeRefused500IsSentOnceMoreWithAFreshCSeq) {
    for (int refusals : {1, 2}) {
        SCOPED_TRACE("refusals " + std::to_string(refusals));
        sim::Network net(1);
        UaNode a(net, a_addr, test::ua_config("sip:alice@192.0.2.1", 1));
        int byes = 0;
        sim::CoreNode raw(net, raw_addr, raw_options(), [&](sim::CoreNode& n, TransactionEvent& e, Time now) {
            if (e.kind != EventKind::request || !e.message) return;
            ResponseSpec r;
            if (e.message->method() == Method::bye) {
                r.status = ++byes <= refusals ? 500 : 200;
            } else {
                r.to_tag = "srv";
                r.headers = {{"Contact", "<sip:srv@192.0.2.9:5060>"}};
                r.content_type = "application/sdp";
                r.body = test::audio_answer;
            }
            ASSERT_TRUE(n.layer().respond(e.id, r, now));
        });
        auto s = a.core().invite(InviteOptions{.target = "sip:srv@192.0.2.9:5060", .headers = {}, .body = std::nullopt,
                                               .content_type = "application/sdp"},
                                 net.now());
        ASSERT_TRUE(s);
        a.pump(net.now());
        net.run_until(net.now() + 1s);
        ASSERT_EQ(a.core().session_state(*s), SessionState::confirmed);
        ASSERT_TRUE(a.core().bye(*s, net.now()));
        a.pump(net.now());
        EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
        auto sent = parsed(a.sent(), "BYE ");
        ASSERT_EQ(sent.size(), 2u) << a.timeline();
        EXPECT_GT(sent[1].cseq().number, sent[0].cseq().number);
        EXPECT_EQ(byes, 2);
        ASSERT_EQ(a.count(K::session_ended), 1u) << a.timeline();
        EXPECT_EQ(a.find(K::session_ended)->cause, EndCause::bye_local);
        EXPECT_EQ(a.find(K::session_ended)->status, refusals == 1 ? 200 : 500);
        EXPECT_TRUE(test::empty(a.core().counts())) << test::describe(a.core().counts());
    }
}

TEST(UaEdge, CallOverTcp) {
    sim::Network net(1);
    auto ac = test::ua_config("sip:alice@192.0.2.1", 1);
    ac.default_transport = Transport::tcp;
    UaNode a(net, a_addr, ac);
    UaNode b(net, b_addr, test::ua_config("sip:bob@192.0.2.2", 2));
    a.core().on_local_address(Transport::tcp, a_addr, "192.0.2.1:5060");
    b.core().on_local_address(Transport::tcp, b_addr, "192.0.2.2:5060");
    std::vector<Transport> transports;
    net.on_deliver([&](const sim::Datagram& d, Time) { transports.push_back(d.transport); });
    b.on_event = [](UaNode& n, const UaEvent& e, Time now) {
        if (e.kind == K::incoming_call) {
            ASSERT_TRUE(n.core().answer(e.session, AnswerOptions{}, now));
        }
    };
    auto s = a.core().invite(InviteOptions{.target = "sip:bob@192.0.2.2:5060", .headers = {}, .body = std::nullopt,
                                           .content_type = "application/sdp"},
                             net.now());
    ASSERT_TRUE(s);
    a.pump(net.now());
    net.run_until(net.now() + 1s);
    ASSERT_EQ(a.core().session_state(*s), SessionState::confirmed) << a.timeline();
    auto invites = parsed(a.sent(), "INVITE ");
    ASSERT_EQ(invites.size(), 1u);
    EXPECT_EQ(invites[0].find(HeaderId::contact)->value, "<sip:referkit@192.0.2.1:5060;transport=tcp>");
    // B's 2xx Contact says tcp too: the in-dialog BYE goes over TCP.
    EXPECT_EQ(a.core().dialog_info(*a.core().session_dialog(*s))->remote_target,
              "sip:referkit@192.0.2.2:5060;transport=tcp");
    ASSERT_TRUE(a.core().bye(*s, net.now()));
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_EQ(b.count(K::session_ended), 1u);
    ASSERT_FALSE(transports.empty());
    for (Transport t : transports) EXPECT_EQ(t, Transport::tcp);
    EXPECT_TRUE(test::empty(a.core().counts())) << test::describe(a.core().counts());
    EXPECT_TRUE(test::empty(b.core().counts())) << test::describe(b.core().counts());
}

TEST(UaEdge, CommandsInTheWrongState) {
    sim::Network net(1);
    UaNode a(net, a_addr, test::ua_config("sip:alice@192.0.2.1", 1));
    EXPECT_EQ(a.core().bye(SessionId{5}, net.now()).error(), UaError::no_such_session);
    auto s = a.core().invite(InviteOptions{.target = "sip:x@192.0.2.200", .headers = {}, .body = std::nullopt,
                                           .content_type = "application/sdp"},
                             net.now());
    ASSERT_TRUE(s);
    EXPECT_EQ(a.core().bye(*s, net.now()).error(), UaError::wrong_state);
    EXPECT_EQ(a.core().answer(*s, AnswerOptions{}, net.now()).error(), UaError::wrong_state);
    EXPECT_EQ(a.core().reject(*s, 486, "", net.now()).error(), UaError::wrong_state);
    EXPECT_EQ(a.core().reinvite(*s, ReinviteOptions{}, net.now()).error(), UaError::wrong_state);
    EXPECT_EQ(a.core().respond(IncomingId{3}, UaResponse{}, net.now()).error(), UaError::no_such_request);
    EXPECT_EQ(a.core().add_usage(DialogId{3}).error(), UaError::no_such_dialog);
    EXPECT_EQ(a.core().invite(InviteOptions{.target = "bogus", .headers = {}, .body = std::nullopt,
                                            .content_type = "application/sdp"},
                              net.now())
                  .error(),
              UaError::invalid_target);
}

}  // namespace
}  // namespace referkit
