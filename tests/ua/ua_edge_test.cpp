// Edge cases of a Stack: synthesised finals (408, 503), forked 2xx, limits, BYE on an early
// dialog, §14.2's 500 with Retry-After, re-INVITE without offer, header de-duplication.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "raw_peer.hpp"
#include "referkit/core/stack.hpp"
#include "sim_node.hpp"

namespace referkit::test {
namespace {

using namespace std::chrono_literals;
using K = SessionEventKind;

// A scripted peer's handler: every request is answered `status(request)`, or, when that is 0, as
// an INVITE that sets up the call (raw_call_answer, To tag "srv").
sim::CoreNode::EventHandler responder(std::function<int(const Message&)> status) {
    return [answer = std::move(status)](sim::CoreNode& n, TransactionEvent& e, Time now) {
        if (e.kind != EventKind::request || !e.message) return;
        ResponseSpec r = raw_call_answer("srv");
        if (const int st = answer(*e.message); st != 0) {
            r = ResponseSpec();
            r.status = st;
        }
        ASSERT_TRUE(n.layer().respond(e.id, r, now));
    };
}

// A calls the scripted peer and the network runs for `run`; returns A's session (0 when refused).
SessionId call_raw_peer(sim::Network& net, StackNode& a, Duration run) {
    auto s = a.stack().invite(invite_to("sip:srv@192.0.2.9:5060"), net.now());
    EXPECT_TRUE(s);
    a.pump(net.now());
    net.run_until(net.now() + run);
    return s ? *s : SessionId{};
}

TEST(UaEdge, RequestTimeoutSurfacesAs408) {
    sim::Network net(1);
    StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
    auto id = a.stack().send_request(OutOfDialogRequest{.method = "MESSAGE", .target = "sip:x@192.0.2.200:5060",
                                                        .headers = {}, .content_type = "text/plain", .body = "x",
                                                        .creates_dialog = false},
                                     net.now());
    ASSERT_TRUE(id);
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    ASSERT_EQ(a.count<ResponseEvent>(), 1u);
    const ResponseEvent* r = a.find<ResponseEvent>();
    EXPECT_EQ(r->status, 408);
    EXPECT_TRUE(r->final);
    EXPECT_EQ(r->request, id->id);
    EXPECT_TRUE(holds_nothing(a.stack()));
}

TEST(UaEdge, InviteTimeoutEndsTheSessionFailed408) {
    sim::Network net(1);
    StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
    auto s = a.stack().invite(invite_to("sip:x@192.0.2.200:5060"), net.now());
    ASSERT_TRUE(s);
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    ASSERT_EQ(a.count(K::session_ended), 1u);
    EXPECT_EQ(a.find(K::session_ended)->status, 408);
    EXPECT_EQ(a.find(K::session_ended)->cause, EndCause::failed);
    EXPECT_TRUE(holds_nothing(a.stack()));
}

TEST(UaEdge, TransportErrorSurfacesAs503) {
    // Driven by hand, without a network: the runtime reports that the request could not be sent.
    Stack stack(StackNode::app_handled(ua_config("sip:alice@192.0.2.1", 1)));
    auto id = stack.send_request(OutOfDialogRequest{.method = "OPTIONS", .target = "sip:x@192.0.2.200;transport=tcp",
                                                    .headers = {}, .content_type = {}, .body = {},
                                                    .creates_dialog = false},
                                 Time{});
    ASSERT_TRUE(id);
    auto t = stack.poll_transmit();
    ASSERT_TRUE(t);
    EXPECT_EQ(t->destination.transport, Transport::tcp);
    stack.transport_error(t->transaction, Time{});
    auto e = stack.poll_event();
    ASSERT_TRUE(e);
    const auto* r = std::get_if<ResponseEvent>(&*e);
    ASSERT_NE(r, nullptr) << event_name(*e);
    EXPECT_EQ(r->status, 503);
    EXPECT_TRUE(r->final);
    EXPECT_EQ(r->request, id->id);
    stack.on_timer(Time{} + 1h);
    EXPECT_TRUE(holds_nothing(stack));
}

TEST(UaEdge, SecondForks2xxIsAcknowledgedAndEndedWithBye) {
    sim::Network net(1);
    StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
    std::vector<std::string> acks_to, byes_to;
    sim::CoreNode raw(net, raw_addr, raw_options(7000), [&](sim::CoreNode& n, TransactionEvent& e, Time now) {
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
        for (const char* tag : {"fork1", "fork2"}) ASSERT_TRUE(n.layer().respond(e.id, raw_call_answer(tag), now));
    });
    const SessionId s = call_raw_peer(net, a, 2s);
    ASSERT_TRUE(s);
    EXPECT_EQ(a.stack().session_state(s), SessionState::confirmed);
    EXPECT_EQ(a.count(K::session_answered), 1u);
    ASSERT_TRUE(a.stack().dialog_info(*a.stack().session_dialog(s)));
    EXPECT_EQ(a.stack().dialog_info(*a.stack().session_dialog(s))->remote_tag, "fork1");
    EXPECT_EQ(acks_to, (std::vector<std::string>{"fork1", "fork2"}));
    EXPECT_EQ(byes_to, (std::vector<std::string>{"fork2"}));
    ASSERT_TRUE(a.stack().bye(s, net.now()));
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_EQ(byes_to, (std::vector<std::string>{"fork2", "fork1"}));
    EXPECT_TRUE(holds_nothing(a.stack()));
}

TEST(UaEdge, SessionLimit) {
    sim::Network net(1);
    auto ac = ua_config("sip:alice@192.0.2.1", 1);
    ac.max_sessions = 1;
    StackNode a(net, a_addr, ac);
    auto bc = ua_config("sip:bob@192.0.2.2", 2);
    bc.max_sessions = 1;
    StackNode b(net, b_addr, bc);
    StackNode c(net, raw_addr, ua_config("sip:carol@192.0.2.9", 3));
    const InviteOptions o = invite_to(b.uri("bob"));
    ASSERT_TRUE(a.stack().invite(o, net.now()));
    EXPECT_EQ(a.stack().invite(o, net.now()).error(), UaError::limit_reached);
    a.pump(net.now());
    net.run_until(net.now() + 1s);
    ASSERT_TRUE(c.stack().invite(o, net.now()));
    c.pump(net.now());
    net.run_until(net.now() + 1s);
    ASSERT_EQ(c.count(K::session_ended), 1u);
    EXPECT_EQ(c.find(K::session_ended)->status, 486);
    EXPECT_EQ(b.count(K::incoming_call), 1u);
}

TEST(UaEdge, CallersHeadersAreNotDuplicated) {
    sim::Network net(1);
    auto ac = ua_config("sip:alice@192.0.2.1", 1);
    ac.supported = {"replaces"};
    StackNode a(net, a_addr, ac);
    InviteOptions o = invite_to("sip:x@192.0.2.200");
    o.headers = {{"Allow", "INVITE, ACK, BYE"}, {"Supported", "timer"}, {"User-Agent", "custom"}};
    ASSERT_TRUE(a.stack().invite(o, net.now()));
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
    StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
    b.on_event = answer_calls({180});
    std::vector<int> finals;
    std::string b_tag;
    sim::CoreNode raw(net, raw_addr, raw_options(7000), [&](sim::CoreNode&, TransactionEvent& e, Time) {
        if (e.kind == EventKind::response && e.message) {
            if (e.message->status() == 180) b_tag = std::string(e.message->to().tag);
            if (e.message->status() >= 200) finals.push_back(e.message->status());
        }
    });
    RawRequest inv{.method = "INVITE", .uri = "sip:bob@192.0.2.2:5060", .from = "<sip:raw@192.0.2.9>;tag=r1",
                   .to = "<sip:bob@192.0.2.2>", .call_id = "early-bye@raw", .cseq = "1",
                   .headers = {{"Contact", "<sip:raw@192.0.2.9:5060>"}}};
    ASSERT_TRUE(send_raw(raw, inv, b_addr, net.now()));
    net.run_until(net.now() + 1s);
    ASSERT_FALSE(b_tag.empty());
    RawRequest bye = inv;
    bye.method = "BYE";
    bye.to = "<sip:bob@192.0.2.2>;tag=" + b_tag;
    bye.cseq = "2";
    ASSERT_TRUE(send_raw(raw, bye, b_addr, net.now()));
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    std::sort(finals.begin(), finals.end());
    EXPECT_EQ(finals, (std::vector<int>{200, 487}));  // §15.1.2
    ASSERT_EQ(b.count(K::session_ended), 1u);
    EXPECT_EQ(b.find(K::session_ended)->cause, EndCause::bye_remote);
    EXPECT_TRUE(holds_nothing(b.stack()));
}

// §14.2: a re-INVITE that arrives while B still waits for the ACK of its 2xx gets 500 + Retry-After.
TEST(UaEdge, ReinviteBeforeTheAckGets500WithRetryAfter) {
    sim::Network net(1);
    StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
    b.on_event = answer_calls();
    std::vector<Message> finals;
    sim::CoreNode raw(net, raw_addr, raw_options(7000), [&](sim::CoreNode&, TransactionEvent& e, Time) {
        if (e.kind == EventKind::response && e.message && e.message->status() >= 200) finals.push_back(*e.message);
    });
    RawRequest inv{.method = "INVITE", .uri = "sip:bob@192.0.2.2:5060", .from = "<sip:raw@192.0.2.9>;tag=r1",
                   .to = "<sip:bob@192.0.2.2>", .call_id = "reinv500@raw", .cseq = "1",
                   .headers = {{"Contact", "<sip:raw@192.0.2.9:5060>"}}, .content_type = "application/sdp",
                   .body = audio_answer};
    ASSERT_TRUE(send_raw(raw, inv, b_addr, net.now()));
    net.run_until(net.now() + 100ms);
    ASSERT_EQ(finals.size(), 1u);
    const std::string tag(finals[0].to().tag);
    RawRequest re = inv;
    re.to = "<sip:bob@192.0.2.2>;tag=" + tag;
    re.cseq = "2";
    ASSERT_TRUE(send_raw(raw, re, b_addr, net.now()));
    net.run_until(net.now() + 100ms);
    ASSERT_EQ(finals.size(), 2u);
    EXPECT_EQ(finals[1].status(), 500);
    EXPECT_NE(finals[1].find(HeaderId::retry_after), nullptr);
    // The ACK for the first 2xx still confirms the call.
    RawRequest ack = inv;
    ack.method = "ACK";
    ack.to = re.to;
    ack.body.clear();
    ack.content_type.clear();
    ASSERT_TRUE(send_raw(raw, ack, b_addr, net.now()));  // (stateless: an ACK)
    net.run_until(net.now() + 100ms);
    const SessionEvent* in = b.find(K::incoming_call);
    ASSERT_NE(in, nullptr);
    EXPECT_EQ(b.stack().session_state(in->session), SessionState::confirmed) << b.timeline();
    EXPECT_EQ(b.count(K::session_ended), 0u);
}

TEST(UaEdge, ReinviteWithoutOfferGetsTheOfferIn2xxAndAnswersInAck) {
    sim::Network net(1);
    StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
    StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
    b.on_event = answer_calls();
    auto s = a.stack().invite(invite_to(b.uri("bob")), net.now());
    ASSERT_TRUE(s);
    a.pump(net.now());
    net.run_until(net.now() + 1s);
    a.clear();
    b.clear();
    ASSERT_TRUE(a.stack().reinvite(*s, ReinviteOptions{.direction = MediaDirection::sendrecv, .body = std::string()},
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
    ASSERT_TRUE(a.stack().bye(*s, net.now()));
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_TRUE(holds_nothing(a.stack()));
    EXPECT_TRUE(holds_nothing(b.stack()));
}

// §15: a callee that hangs up before the ACK of its 2xx sends the BYE only once the ACK came.
TEST(UaEdge, CalleeByeWaitsForTheAck) {
    sim::Network net(1);
    StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
    StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
    b.on_event = [](StackNode& n, const StackEvent& ev, Time now) {
        if (const SessionEvent* in = session_event(ev, K::incoming_call)) {
            ASSERT_TRUE(n.stack().answer(in->session, AnswerOptions{}, now));
            ASSERT_TRUE(n.stack().bye(in->session, now));
            EXPECT_EQ(n.stack().session_state(in->session), SessionState::ending);
        }
    };
    std::vector<std::string> delivered;  // method or status of each delivery, in order
    net.on_deliver([&](const sim::Datagram& d, Time) {
        auto m = Message::parse(std::string_view(d.bytes));
        if (m) delivered.push_back(m->is_request() ? std::string(m->method_text()) : std::to_string(m->status()));
    });
    auto s = a.stack().invite(invite_to(b.uri("bob")), net.now());
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
    EXPECT_TRUE(holds_nothing(a.stack()));
    EXPECT_TRUE(holds_nothing(b.stack()));
}

// RFC 5057 §5.1: a 481 to a re-INVITE means the peer lost the INVITE usage: the session ends, no BYE.
TEST(UaEdge, Reinvite481EndsTheSessionWithoutBye) {
    sim::Network net(1);
    StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
    sim::CoreNode raw(net, raw_addr, raw_options(7000),
                      responder([](const Message& m) { return m.to().tag.empty() ? 0 : 481; }));
    const SessionId s = call_raw_peer(net, a, 1s);
    ASSERT_EQ(a.stack().session_state(s), SessionState::confirmed);
    ASSERT_TRUE(a.stack().reinvite(s, ReinviteOptions{.direction = MediaDirection::sendonly, .body = {}}, net.now()));
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    ASSERT_EQ(a.count(K::session_ended), 1u) << a.timeline();
    EXPECT_EQ(a.find(K::session_ended)->status, 481);
    EXPECT_EQ(a.find(K::session_ended)->cause, EndCause::failed);
    EXPECT_EQ(a.count<DialogEndedEvent>(), 1u);
    EXPECT_TRUE(parsed(a.sent(), "BYE ").empty());
    EXPECT_TRUE(holds_nothing(a.stack()));
}

// RFC 3261 §12.2.2: a peer that already took a later request of ours in the dialog refuses the
// BYE 500 (lower CSeq). The BYE is sent once more with a fresh CSeq, so the peer's call ends too;
// a second 500 ends the session anyway (no endless retry).
TEST(UaEdge, ByeRefused500IsSentOnceMoreWithAFreshCSeq) {
    for (int refusals : {1, 2}) {
        SCOPED_TRACE("refusals " + std::to_string(refusals));
        sim::Network net(1);
        StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
        int byes = 0;
        sim::CoreNode raw(net, raw_addr, raw_options(7000), responder([&](const Message& m) {
                              if (m.method() != Method::bye) return 0;
                              return ++byes <= refusals ? 500 : 200;
                          }));
        const SessionId s = call_raw_peer(net, a, 1s);
        ASSERT_EQ(a.stack().session_state(s), SessionState::confirmed);
        ASSERT_TRUE(a.stack().bye(s, net.now()));
        a.pump(net.now());
        EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
        auto sent = parsed(a.sent(), "BYE ");
        ASSERT_EQ(sent.size(), 2u) << a.timeline();
        EXPECT_GT(sent[1].cseq().number, sent[0].cseq().number);
        EXPECT_EQ(byes, 2);
        ASSERT_EQ(a.count(K::session_ended), 1u) << a.timeline();
        EXPECT_EQ(a.find(K::session_ended)->cause, EndCause::bye_local);
        EXPECT_EQ(a.find(K::session_ended)->status, refusals == 1 ? 200 : 500);
        EXPECT_TRUE(holds_nothing(a.stack()));
    }
}

TEST(UaEdge, CallOverTcp) {
    sim::Network net(1);
    auto ac = ua_config("sip:alice@192.0.2.1", 1);
    ac.default_transport = Transport::tcp;
    StackNode a(net, a_addr, ac);
    StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
    a.stack().on_local_address(Transport::tcp, a_addr, "192.0.2.1:5060");
    b.stack().on_local_address(Transport::tcp, b_addr, "192.0.2.2:5060");
    std::vector<Transport> transports;
    net.on_deliver([&](const sim::Datagram& d, Time) { transports.push_back(d.transport); });
    b.on_event = answer_calls();
    auto s = a.stack().invite(invite_to("sip:bob@192.0.2.2:5060"), net.now());
    ASSERT_TRUE(s);
    a.pump(net.now());
    net.run_until(net.now() + 1s);
    ASSERT_EQ(a.stack().session_state(*s), SessionState::confirmed) << a.timeline();
    auto invites = parsed(a.sent(), "INVITE ");
    ASSERT_EQ(invites.size(), 1u);
    EXPECT_EQ(invites[0].find(HeaderId::contact)->value, "<sip:referkit@192.0.2.1:5060;transport=tcp>");
    // B's 2xx Contact says tcp too: the in-dialog BYE goes over TCP.
    EXPECT_EQ(a.stack().dialog_info(*a.stack().session_dialog(*s))->remote_target,
              "sip:referkit@192.0.2.2:5060;transport=tcp");
    ASSERT_TRUE(a.stack().bye(*s, net.now()));
    a.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_EQ(b.count(K::session_ended), 1u);
    ASSERT_FALSE(transports.empty());
    for (Transport t : transports) EXPECT_EQ(t, Transport::tcp);
    EXPECT_TRUE(holds_nothing(a.stack()));
    EXPECT_TRUE(holds_nothing(b.stack()));
}

TEST(UaEdge, CommandsInTheWrongState) {
    sim::Network net(1);
    StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
    EXPECT_EQ(a.stack().bye(SessionId{5}, net.now()).error(), UaError::no_such_session);
    auto s = a.stack().invite(invite_to("sip:x@192.0.2.200"), net.now());
    ASSERT_TRUE(s);
    EXPECT_EQ(a.stack().bye(*s, net.now()).error(), UaError::wrong_state);
    EXPECT_EQ(a.stack().answer(*s, AnswerOptions{}, net.now()).error(), UaError::wrong_state);
    EXPECT_EQ(a.stack().reject(*s, 486, "", net.now()).error(), UaError::wrong_state);
    EXPECT_EQ(a.stack().reinvite(*s, ReinviteOptions{}, net.now()).error(), UaError::wrong_state);
    EXPECT_EQ(a.stack().respond(IncomingId{3}, UaResponse{}, net.now()).error(), UaError::no_such_request);
    EXPECT_EQ(a.stack().add_usage(DialogId{3}).error(), UaError::no_such_dialog);
    EXPECT_EQ(a.stack().invite(invite_to("bogus"), net.now()).error(), UaError::invalid_target);
}

}  // namespace
}  // namespace referkit::test
