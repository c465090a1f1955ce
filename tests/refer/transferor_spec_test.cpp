// The transferor against a scripted peer (refer_helpers.hpp, Rig): the rules of docs/transfer-rules.md
// checked on the wire — the REFER's fields in and out of a dialog, a NOTIFY before the 2xx,
// refused NOTIFYs, retransmission timers, refusal in a ringing call, the unsubscribing SUBSCRIBE.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "refer_helpers.hpp"

namespace referkit::test {
namespace {
using namespace std::chrono_literals;
using K = ReferEventKind;

// Parsed copies of the requests (method given) or responses (status != 0, CSeq method given) that
// `from` put on the network, in order.
std::vector<Message> sent(const Rig& r, const Endpoint& from, Method method, bool responses = false) {
    std::vector<Message> out;
    for (const sim::Datagram& d : r.delivered) {
        if (!(d.from == from)) continue;
        auto m = Message::parse(std::string_view(d.bytes));
        if (!m || m->is_response() != responses) continue;
        if ((responses ? m->cseq().method : m->method()) == method) out.push_back(std::move(*m));
    }
    return out;
}

std::string header_value(const Message& m, HeaderId id) {
    const HeaderField* f = m.find(id);
    return f ? std::string(f->value) : std::string("<absent>");
}

// R11: Call-ID and tags of the dialog, Request-URI = the remote
// target (B's Contact), Route = the route set (RFC 3261 §12.1.2: Record-Route of the 2xx, reversed),
// CSeq = the dialog's next, exactly one Contact; Allow = the Allow of the UA's INVITE.
TEST(SpecRules, InDialogReferCarriesTheDialogsFields) {
    Rig r;
    r.b.on_event = [&](StackNode& node, const StackEvent& event, Time now) {
        if (const auto* s = std::get_if<SessionEvent>(&event); s != nullptr && s->kind == SessionEventKind::incoming_call) {
            // B plays its own proxy: both Record-Route entries lead back to B.
            AnswerOptions answer{.status = 200, .reason = {},
                                 .headers = {{"Record-Route", "<sip:192.0.2.2:5060;lr;rr=2>"},
                                             {"Record-Route", "<sip:192.0.2.2:5060;lr;rr=1>"}},
                                 .body = std::nullopt};
            (void)node.stack().answer(s->session, answer, now);
        } else if (const auto* ev = std::get_if<RequestEvent>(&event)) {
            (void)node.stack().respond(ev->incoming, Rig::status(ev->method == Method::refer ? 603 : 200), now);
        }
    };
    r.call_and_refer();
    r.run(3s);
    auto invites = sent(r, r.a_addr, Method::invite);
    auto oks = sent(r, r.b_addr, Method::invite, true);
    auto refers = sent(r, r.a_addr, Method::refer);
    ASSERT_EQ(invites.size(), 1u);
    ASSERT_FALSE(oks.empty());
    ASSERT_EQ(refers.size(), 1u);
    const Message& inv = invites.front();
    const Message& ok = oks.back();
    const Message& refer = refers.front();
    ASSERT_EQ(ok.status(), 200);
    EXPECT_EQ(refer.call_id(), inv.call_id());
    EXPECT_FALSE(refer.from().tag.empty());
    EXPECT_EQ(refer.from().tag, inv.from().tag);
    EXPECT_FALSE(ok.to().tag.empty());
    EXPECT_EQ(refer.to().tag, ok.to().tag);
    auto b_contact = ok.contacts();
    ASSERT_TRUE(b_contact);
    ASSERT_EQ(b_contact->entries.size(), 1u);
    EXPECT_EQ(refer.request_uri().text, b_contact->entries.front().uri.text);
    auto routes = refer.name_addrs(HeaderId::route);
    ASSERT_TRUE(routes);
    ASSERT_EQ(routes->size(), 2u);
    EXPECT_EQ((*routes)[0].uri.text, "sip:192.0.2.2:5060;lr;rr=1");
    EXPECT_EQ((*routes)[1].uri.text, "sip:192.0.2.2:5060;lr;rr=2");
    EXPECT_EQ(refer.cseq().number, inv.cseq().number + 1);  // §12.2.1.1: the INVITE was the dialog's last
    EXPECT_EQ(refer.count(HeaderId::contact), 1u);
    auto contacts = refer.contacts();
    ASSERT_TRUE(contacts);
    EXPECT_EQ(contacts->entries.size(), 1u);
    EXPECT_EQ(refer.count(HeaderId::allow), 1u);
    EXPECT_EQ(header_value(refer, HeaderId::allow), header_value(inv, HeaderId::allow));
    EXPECT_EQ(header_value(refer, HeaderId::allow), allow_value(UserAgentConfig{}.app_methods));
    // The 603 arrived: the REFER is rejected and the call goes on.
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_rejected, K::ended}));
}

// R12: a new Call-ID and From tag per REFER, no To tag, CSeq 1, one Contact, the
// UA's Allow.
TEST(SpecRules, OutOfDialogReferStartsAFreshDialog) {
    Rig r;
    r.answer_refers(603);
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(r.stack().refer_out_of_dialog("sip:bob@192.0.2.2:5060", "sip:carol@192.0.2.3", ReferOptions{}, r.net.now()));
        r.a.pump(r.net.now());
        r.run(1s);
    }
    auto refers = sent(r, r.a_addr, Method::refer);
    ASSERT_EQ(refers.size(), 2u);
    for (const Message& refer : refers) {
        EXPECT_EQ(refer.request_uri().text, "sip:bob@192.0.2.2:5060");
        EXPECT_FALSE(refer.call_id().empty());
        EXPECT_FALSE(refer.from().tag.empty());
        EXPECT_TRUE(refer.to().tag.empty());
        EXPECT_EQ(refer.cseq().number, 1u);
        EXPECT_EQ(refer.count(HeaderId::contact), 1u);
        EXPECT_EQ(header_value(refer, HeaderId::allow), allow_value(UserAgentConfig{}.app_methods));
    }
    EXPECT_NE(refers[0].call_id(), refers[1].call_id());
    EXPECT_NE(refers[0].from().tag, refers[1].from().tag);
}

// R27: out of dialog, B's 202 is lost on the way (the link
// drops it), B's NOTIFY arrives first and is answered 200; the retransmitted REFER draws the 202
// again from B's server transaction and referRequestAccepted is raised once, after the NOTIFY's events.
TEST(SpecRules, OutOfDialogNotifyBeatingThe2xxIsMatched) {
    Rig r;
    r.b_refer = [&](StackNode& node, const RequestEvent& ev, Time now) {
        const std::uint32_t id = ev.message.cseq().number;
        r.net.set_link(r.b_addr, r.a_addr, sim::LinkConfig{.loss = 1.0});  // the 202 is lost
        auto d = node.stack().respond(ev.incoming, Rig::status(202, true), now);
        ASSERT_TRUE(d && *d);
        node.later(now + 1ms, [&net = r.net, a = r.a_addr, b = r.b_addr, dialog = *d, id](StackNode& n, Time t) {
            net.set_link(b, a, sim::LinkConfig{});
            ASSERT_TRUE(n.stack().send_in_dialog(dialog, Rig::notify(id, "active;expires=60", 100, "Trying"), t));
        });
        node.later(now + 2s, [dialog = *d, id](StackNode& n, Time t) {
            ASSERT_TRUE(n.stack().send_in_dialog(dialog, Rig::notify(id, "terminated;reason=noresource", 200, "OK"), t));
        });
    };
    ASSERT_TRUE(r.stack().refer_out_of_dialog("sip:bob@192.0.2.2:5060", "sip:carol@192.0.2.3", ReferOptions{}, r.net.now()));
    r.a.pump(r.net.now());
    r.run(300ms);  // the NOTIFY came, no 2xx yet (the REFER's first retransmission is at T1 = 500 ms)
    EXPECT_EQ(r.on_wire("B> SIP/2.0 202"), 0u);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 1u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_progress, K::notify}));
    r.run(5s);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 481"), 0u);
    EXPECT_GE(r.on_wire("B> SIP/2.0 202"), 1u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_progress, K::notify, K::refer_request_accepted, K::refer_accepted,
                                         K::notify, K::ended}));
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.stack().counts().transfers, 0u);
}

// R24: through the stack and checked on the wire. A wrong
// Content-Type gets 415 with Accept: message/sipfrag; another event package in the dialog is the
// application's; an unknown id gets 481; a garbled sipfrag 400. None raises a transfer event; the
// transfer then completes normally.
TEST(SpecRules, RefusedNotifiesAreAnsweredOnTheWireAndRaiseNothing) {
    // A's application takes presence (UserAgentConfig::event_packages; the stack adds refer).
    UserAgentConfig a = refer_ua_config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100);
    a.event_packages = {"presence"};
    Rig r(Rig::transfer_config(), std::move(a));
    r.answer_app_requests = true;
    r.b_refer = [&](StackNode& node, const RequestEvent& ev, Time now) {
        const std::uint32_t id = ev.message.cseq().number;
        (void)node.stack().respond(ev.incoming, Rig::status(202), now);
        InDialogRequest plain = Rig::notify(id, "active;expires=60", 100, "Trying");
        plain.content_type = "text/plain";
        InDialogRequest presence{.method = "NOTIFY",
                                 .headers = {{"Event", "presence"}, {"Subscription-State", "active;expires=3600"}},
                                 .content_type = {}, .body = {}};
        InDialogRequest unknown_id = Rig::notify(id + 1000, "active;expires=60", 100, "Trying");
        InDialogRequest garbled = Rig::notify(id, "active;expires=60", 100, "Trying");
        garbled.body = "SIP/2.0 1x0 Trying\r\n";
        const std::vector<std::pair<Duration, InDialogRequest>> script = {
            {100ms, plain}, {200ms, presence}, {300ms, unknown_id}, {400ms, garbled},
            {1000ms, Rig::notify(id, "active;expires=60", 180, "Ringing")},
            {1500ms, Rig::notify(id, "terminated;reason=noresource", 200, "OK")}};
        for (const auto& [at, req] : script)
            node.later(now + at, [dialog = ev.dialog, req](StackNode& n, Time t) { ASSERT_TRUE(n.stack().send_in_dialog(dialog, req, t)); });
    };
    r.call_and_refer(keep_call());
    r.run(700ms);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted}));  // the four refused/foreign NOTIFYs raised nothing
    r.run(3s);
    std::vector<int> statuses;
    std::string accept_of_415 = "<none>";
    for (const Message& m : sent(r, r.a_addr, Method::notify, true)) {
        statuses.push_back(m.status());
        if (m.status() == 415) accept_of_415 = header_value(m, HeaderId::accept);
    }
    EXPECT_EQ(statuses, (std::vector<int>{415, 200, 481, 400, 200, 200}));
    EXPECT_EQ(accept_of_415, "message/sipfrag");
    EXPECT_EQ(r.app_notify_packages(), (std::vector<std::string>{"presence"}));
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify, K::refer_accepted,
                                         K::notify, K::ended}));
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.stack().counts().transfers, 0u);
}

// Timers configurable, R22 (retransmitted at 0, T1, 3 T1, ...): with T1 = 100 ms and
// T2 = 400 ms, an unanswered REFER over UDP leaves A at 0, 100, 300, 700, 1100, 1500 ... ms (Timer E
// doubling, capped at T2, RFC 3261 §17.1.2.2) until Timer F = 64 T1 = 6.4 s, then referRequestRejected 408
// and the context ends failed/refer_timeout.
TEST(SpecRules, ReferRetransmissionFollowsConfiguredT1T2) {
    UserAgentConfig ac = refer_ua_config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100);
    ac.transaction.t1 = 100ms;
    ac.transaction.t2 = 400ms;
    Rig r(Rig::transfer_config(), std::move(ac));
    r.b_refer = [](StackNode&, const RequestEvent&, Time) {};  // B never answers the REFER
    SessionId ab = r.call();
    std::vector<Duration> at;  // sending instants of A's REFERs, relative to the refer() call
    const Time start = r.net.now();
    r.net.on_deliver([&](const sim::Datagram& d, Time now) {
        auto m = Message::parse(std::string_view(d.bytes));
        if (d.from == r.a_addr && m && m->is_request() && m->method() == Method::refer)
            at.push_back(now - start - sim::LinkConfig{}.latency);  // delivered one link latency after sending
    });
    ASSERT_TRUE(r.stack().refer(ab, "sip:carol@192.0.2.3", ReferOptions{}, start));
    r.a.pump(start);
    r.run(10s);
    std::vector<Duration> expected;
    for (Duration t = 0ms, step = 100ms; t < 6400ms; t += step, step = std::min<Duration>(step * 2, 400ms))
        expected.push_back(t);
    EXPECT_EQ(at, expected);
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().front().kind, K::refer_request_rejected);
    EXPECT_EQ(r.a_events().front().status, 408);
    EXPECT_EQ(r.a_events().back().kind, K::ended);
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::failed);  // never answered (refer_client_context.hpp)
    EXPECT_EQ(r.a_events().back().cause, ReferCause::refer_timeout);
    EXPECT_EQ(r.stack().session_state(ab), SessionState::confirmed);  // default policy: a 408 keeps the call
}

// R11 (refused with a clear error, nothing sent, unless the session is confirmed):
// a blind REFER in a call that is still ringing is not_confirmed, and no REFER reaches the wire.
TEST(SpecRules, InDialogReferInARingingCallIsRefusedAndNothingIsSent) {
    Rig r;
    r.b.on_event = [&](StackNode& node, const StackEvent& event, Time now) {
        if (const auto* s = std::get_if<SessionEvent>(&event); s != nullptr && s->kind == SessionEventKind::incoming_call)
            (void)node.stack().answer(s->session, AnswerOptions{.status = 180, .reason = {}, .headers = {}, .body = std::nullopt}, now);
        else if (const auto* ev = std::get_if<RequestEvent>(&event))
            (void)node.stack().respond(ev->incoming, Rig::status(200), now);
    };
    auto ringing = r.dial(1s);
    ASSERT_TRUE(ringing);
    ASSERT_EQ(r.stack().session_state(*ringing), SessionState::proceeding);
    auto h = r.stack().refer(*ringing, "sip:carol@192.0.2.3", ReferOptions{}, r.net.now());
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().code, ReferStartErrc::not_confirmed) << h.error().detail;
    EXPECT_FALSE(h.error().detail.empty());
    r.a.pump(r.net.now());
    r.run(1s);
    EXPECT_EQ(r.on_wire("REFER"), 0u);
    EXPECT_EQ(r.stack().counts().transfers, 0u);
    EXPECT_TRUE(r.a_events().empty());
}

// R26 (explicit unsubscribe) (RFC 6665 §4.1.2.3, RFC 3515 §2.4.6): the
// unsubscribing SUBSCRIBE goes in the REFER's dialog with Event: refer;id=<the REFER's CSeq> and
// Expires: 0, after the REFER in CSeq order.
TEST(SpecRules, UnsubscribeIsASubscribeWithExpiresZeroAndTheRefersId) {
    Rig r;
    r.accept_refers_with_trying();
    ASSERT_TRUE(r.call_refer_and_unsubscribe(2s));
    r.run(2s);
    auto refers = sent(r, r.a_addr, Method::refer);
    auto subscribes = sent(r, r.a_addr, Method::subscribe);
    ASSERT_EQ(refers.size(), 1u);
    ASSERT_EQ(subscribes.size(), 1u);
    const Message& refer = refers.front();
    const Message& sub = subscribes.front();
    EXPECT_EQ(header_value(sub, HeaderId::expires), "0");
    const std::string event = header_value(sub, HeaderId::event);
    EXPECT_TRUE(event.starts_with("refer")) << event;
    EXPECT_NE(event.find("id=" + std::to_string(refer.cseq().number)), std::string::npos) << event;
    EXPECT_EQ(sub.call_id(), refer.call_id());
    EXPECT_EQ(sub.from().tag, refer.from().tag);
    EXPECT_EQ(sub.to().tag, refer.to().tag);
    EXPECT_GT(sub.cseq().number, refer.cseq().number);
    EXPECT_EQ(sub.count(HeaderId::contact), 1u);  // SUBSCRIBE is a target refresh (RFC 6665 §4.1.2.1)
}

}  // namespace
}  // namespace referkit::test
