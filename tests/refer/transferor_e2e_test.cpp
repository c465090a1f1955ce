// The transferor end to end on the virtual clock: A (a full Stack) calls B, then REFERs B to C in
// the dialog. B is a stack with transfer handling off whose application is scripted (202, NOTIFY
// 100 Trying active, NOTIFY 200 OK terminated), so the transferor is checked against a peer
// independent of our own transferee (ReferServerContext); the three-party flows with full stacks
// on every side are in transfer_*_test.cpp. Here: the basic flow and the review fixes.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "refer_helpers.hpp"

namespace referkit::test {
namespace {
using namespace std::chrono_literals;
using K = ReferEventKind;

TEST(ReferAgentE2e, BlindTransferInDialog) {
    sim::Network net(7);
    Endpoint a_addr{"192.0.2.1", 5060}, b_addr{"192.0.2.2", 5060};
    StackNode a(net, a_addr,
                StackConfig{.ua = refer_ua_config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100),
                            .refer = ReferConfig{.aor = "sip:alice@192.0.2.1", .default_domain = "192.0.2.3"}});
    StackNode b(net, b_addr, refer_ua_config("sip:bob@192.0.2.2", "192.0.2.2:5060", 0x900));

    std::vector<std::string> wire_from_a;  // start line + CSeq of everything A sends, in order
    net.on_deliver([&](const sim::Datagram& d, Time) {
        if (!(d.from == a_addr)) return;
        auto m = Message::parse(std::string_view(d.bytes));
        if (m) wire_from_a.push_back(std::string(m->start_line()) + " / " + std::to_string(m->cseq().number) + " " +
                                     std::string(m->cseq().method_text));
    });
    SessionId a_session;
    bool a_confirmed = false;
    a.on_event = [&](StackNode&, const StackEvent& ev, Time) {
        const auto* s = std::get_if<SessionEvent>(&ev);
        if (s != nullptr && s->kind == SessionEventKind::session_answered && s->session == a_session) a_confirmed = true;
    };

    bool b_bye_remote = false;
    std::string refer_to_seen;
    b.on_event = [&](StackNode& node, const StackEvent& event, Time now) {
        if (const auto* s = std::get_if<SessionEvent>(&event)) {
            if (s->kind == SessionEventKind::incoming_call) {
                ASSERT_TRUE(node.stack().answer(s->session, AnswerOptions{}, now));
            } else if (s->kind == SessionEventKind::session_ended && s->cause == EndCause::bye_remote) {
                b_bye_remote = true;
            }
            return;
        }
        const auto* ev = std::get_if<RequestEvent>(&event);
        if (ev == nullptr) return;
        if (ev->method == Method::refer) {
            refer_to_seen = std::string(ev->message.find(HeaderId::refer_to)->value);
            std::uint32_t id = ev->message.cseq().number;
            UaResponse accepted;  // UaResponse members have no defaults: assigned, not designated
            accepted.status = 202;
            accepted.reason = "Accepted";
            auto d = node.stack().respond(ev->incoming, accepted, now);
            ASSERT_TRUE(d);
            for (auto [status, state] : {std::pair{100, std::string("active;expires=60")},
                                         std::pair{200, std::string("terminated;reason=noresource")}}) {
                InDialogRequest n{.method = "NOTIFY",
                                  .headers = {{"Event", "refer;id=" + std::to_string(id)},
                                              {"Subscription-State", state}},
                                  .content_type = "message/sipfrag",
                                  .body = notify_body(status, status == 100 ? "Trying" : "OK")};
                ASSERT_TRUE(node.stack().send_in_dialog(ev->dialog, n, now));
            }
        } else {
            UaResponse ok;
            ok.status = 200;
            (void)node.stack().respond(ev->incoming, ok, now);
        }
    };

    InviteOptions invite;
    invite.target = "sip:bob@192.0.2.2:5060";
    auto s = a.stack().invite(invite, net.now());
    ASSERT_TRUE(s);
    a_session = *s;
    a.pump(net.now());
    net.run_until(net.now() + 2s);
    ASSERT_TRUE(a_confirmed);
    ASSERT_EQ(a.stack().session_state(a_session), SessionState::confirmed);

    auto h = a.stack().refer(a_session, "carol", ReferOptions{}, net.now());
    ASSERT_TRUE(h) << h.error().detail;
    a.pump(net.now());
    net.run_until(net.now() + 5s);

    EXPECT_EQ(refer_to_seen, "<sip:carol@192.0.2.3>");
    const auto a_events = a.all<TransferEvent>();
    EXPECT_EQ(kinds(a_events), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify,
                                                     K::refer_accepted, K::notify, K::ended}));
    ASSERT_FALSE(a_events.empty());
    EXPECT_EQ(a_events.back().outcome, ReferOutcome::accepted);
    EXPECT_TRUE(a_events.back().hang_up);
    EXPECT_TRUE(b_bye_remote);
    EXPECT_EQ(a.stack().counts().transfers, 0u);
    // The BYE follows the 200 to the final NOTIFY.
    auto pos = [&](std::string_view needle) {
        return std::find_if(wire_from_a.begin(), wire_from_a.end(),
                            [&](const std::string& s2) { return s2.find(needle) != std::string::npos; });
    };
    auto last_notify_ok = std::find_if(wire_from_a.rbegin(), wire_from_a.rend(), [](const std::string& s2) {
        return s2.starts_with("SIP/2.0 200") && s2.ends_with("NOTIFY");
    });
    ASSERT_NE(last_notify_ok, wire_from_a.rend());
    auto bye = pos("BYE sip:");
    ASSERT_NE(bye, wire_from_a.end());
    EXPECT_LT(std::distance(wire_from_a.begin(), last_notify_ok.base() - 1), std::distance(wire_from_a.begin(), bye));
}

// ---------------------------------------------------------------- review fixes against a scripted peer

// Out of dialog over TCP: B accepts the REFER (202, creating the dialog) and sends the final
// NOTIFY (200 OK, terminated) at once.
void transfer_out_of_dialog_over_tcp(Rig& r) {
    r.b_refer = [&](StackNode& node, const RequestEvent& ev, Time now) {
        auto d = node.stack().respond(ev.incoming, Rig::status(202, true), now);
        ASSERT_TRUE(d && *d);
        ASSERT_TRUE(node.stack().send_in_dialog(*d, Rig::notify(ev.message.cseq().number, "terminated;reason=noresource", 200, "OK"), now));
    };
    ASSERT_TRUE(r.stack().refer_out_of_dialog("sip:bob@192.0.2.2:5060;transport=tcp", "sip:carol@192.0.2.3", ReferOptions{},
                                              r.net.now()));
    r.a.pump(r.net.now());
}

// The first NOTIFY B put on the network.
std::vector<sim::Datagram>::const_iterator first_notify_from_b(const Rig& r) {
    return std::find_if(r.delivered.begin(), r.delivered.end(), [&](const sim::Datagram& d) {
        auto m = Message::parse(std::string_view(d.bytes));
        return d.from == r.b_addr && m && m->is_request() && m->method() == Method::notify;
    });
}

// Finding 0: over TCP (Timer J = 0) an exact duplicate of the final NOTIFY, arriving after the
// subscription ended, is answered 200 without any event; a NOTIFY with a new CSeq still gets 481.
TEST(ReferAgentFixes, DuplicateFinalNotifyOverTcpIsAnswered200WithoutEvents) {
    Rig r;
    transfer_out_of_dialog_over_tcp(r);
    r.run(5s);
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.stack().counts().transfers, 0u);
    EXPECT_EQ(r.stack().counts().dialogs, 0u);  // the subscription's dialog is gone
    EXPECT_EQ(r.stack().counts().transactions, 0u);  // reliable transport: nothing absorbs a retransmission
    auto final_notify = first_notify_from_b(r);
    ASSERT_NE(final_notify, r.delivered.end());
    ASSERT_EQ(final_notify->transport, Transport::tcp);
    const std::string dup = final_notify->bytes;
    const std::size_t events = r.a_events().size(), app = app_events(r.a);

    r.wire.clear();
    r.net.send(Transport::tcp, r.b_addr, r.a_addr, dup);
    r.run(1s);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 200"), 1u) << (r.wire.empty() ? "" : r.wire.back());
    EXPECT_EQ(r.on_wire("A> SIP/2.0 481"), 0u);

    // The same NOTIFY with a new CSeq (and branch) is a new request for an ended subscription.
    std::string fresh = dup;
    auto cseq = Message::parse(std::string_view(dup))->cseq().number;
    auto at = fresh.find("CSeq: " + std::to_string(cseq) + " NOTIFY");
    ASSERT_NE(at, std::string::npos);
    fresh.replace(at, 6 + std::to_string(cseq).size(), "CSeq: " + std::to_string(cseq + 1));
    auto br = fresh.find("z9hG4bK");
    ASSERT_NE(br, std::string::npos);
    fresh.insert(br + 7, "x1");
    r.wire.clear();
    r.net.send(Transport::tcp, r.b_addr, r.a_addr, fresh);
    r.run(1s);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 481"), 1u) << (r.wire.empty() ? "" : r.wire.back());
    EXPECT_EQ(r.a_events().size(), events);  // no event raised by either
    EXPECT_EQ(app_events(r.a), app);
}

// Finding 0: the memory is bounded in time (configurable; here 5 s): later, the duplicate gets 481.
TEST(ReferAgentFixes, FinalNotifyMemoryExpires) {
    UserAgentConfig ac = refer_ua_config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100);
    ac.final_notify_memory = 5s;
    Rig r(Rig::transfer_config(), std::move(ac));
    transfer_out_of_dialog_over_tcp(r);
    r.run(2s);
    ASSERT_EQ(r.stack().counts().transfers, 0u);
    auto final_notify = first_notify_from_b(r);
    ASSERT_NE(final_notify, r.delivered.end());
    const std::string dup = final_notify->bytes;
    r.run(10s);
    r.wire.clear();
    r.net.send(Transport::tcp, r.b_addr, r.a_addr, dup);
    r.run(1s);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 481"), 1u);
}

// Finding 4: B challenges the REFER (401); the retry has a higher CSeq and B's NOTIFY carrying it
// arrives before the 2xx: it is accepted (200), not 481.
TEST(ReferAgentFixes, NotifyAfterDigestRetryBeatsThe2xx) {
    UserAgentConfig ac = refer_ua_config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100);
    ac.credentials = {Credentials{.username = "alice", .password = "secret", .realm = ""}};
    ac.digest_hash = [](DigestAlgorithm, std::string_view) { return std::string(32, 'a'); };  // B does not verify
    Rig r(Rig::transfer_config(), std::move(ac));
    std::vector<std::uint32_t> refer_cseqs;
    r.b_refer = [&](StackNode& node, const RequestEvent& ev, Time now) {
        const std::uint32_t id = ev.message.cseq().number;
        refer_cseqs.push_back(id);
        if (ev.message.find(HeaderId::authorization) == nullptr) {
            UaResponse challenge = Rig::status(401);
            challenge.headers = {{"WWW-Authenticate", "Digest realm=\"example.com\", nonce=\"n1\", qop=\"auth\", algorithm=MD5"}};
            (void)node.stack().respond(ev.incoming, challenge, now);
            return;
        }
        ASSERT_TRUE(node.stack().send_in_dialog(ev.dialog, Rig::notify(id, "active;expires=60", 100, "Trying"), now));
        node.later(now + 1s, [incoming = ev.incoming, dialog = ev.dialog, id](StackNode& n, Time t) {
            (void)n.stack().respond(incoming, Rig::status(202), t);
            (void)n.stack().send_in_dialog(dialog, Rig::notify(id, "terminated;reason=noresource", 200, "OK"), t);
        });
    };
    SessionId ab = r.call_and_refer(keep_call());
    r.run(5s);
    ASSERT_EQ(refer_cseqs.size(), 2u);
    EXPECT_GT(refer_cseqs[1], refer_cseqs[0]);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_progress, K::notify, K::refer_request_accepted, K::refer_accepted,
                                         K::notify, K::ended}));
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().front().id, refer_cseqs[1]);
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 481"), 0u);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 2u);
    EXPECT_EQ(r.responses_to_app(), 0u);
    // The dialog's CSeq moved past the retry: the next request is not refused 500 (RFC 3261 §12.2.2).
    ASSERT_TRUE(r.stack().bye(ab, r.net.now()));
    r.a.pump(r.net.now());
    r.run(3s);
    EXPECT_EQ(r.answers_to("B> SIP/2.0 200", "BYE"), 1u);
    auto bye = std::find_if(r.wire.begin(), r.wire.end(), [](const std::string& w) { return w.starts_with("A> BYE "); });
    ASSERT_NE(bye, r.wire.end());
    EXPECT_NE(bye->find(" / " + std::to_string(refer_cseqs[1] + 1) + " BYE"), std::string::npos) << *bye;
}

// Finding 5: a NOTIFY refused 400 (garbled sipfrag) that says terminated ends the transfer at
// once, before the 2xx; the 2xx then raises nothing and does not leak to the application.
TEST(ReferAgentFixes, RefusedTerminatingNotifyBeforeThe2xxEndsAtOnce) {
    Rig r;
    r.b_refer = [&](StackNode& node, const RequestEvent& ev, Time now) {
        InDialogRequest bad = Rig::notify(ev.message.cseq().number, "terminated;reason=noresource", 200, "OK");
        bad.body = "this is no sipfrag\r\n";
        ASSERT_TRUE(node.stack().send_in_dialog(ev.dialog, bad, now));
        node.later(now + 2s, [incoming = ev.incoming](StackNode& n, Time t) { (void)n.stack().respond(incoming, Rig::status(202), t); });
    };
    SessionId ab = r.call_and_refer();
    r.run(1s);  // the NOTIFY came, the 2xx not yet
    EXPECT_EQ(r.on_wire("A> SIP/2.0 400"), 1u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::ended}));
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::unknown);
    EXPECT_EQ(r.a_events().back().cause, ReferCause::refused_notify);
    EXPECT_EQ(r.stack().counts().transfers, 0u);
    r.run(5s);  // the 2xx arrives
    EXPECT_EQ(r.on_wire("B> SIP/2.0 202"), 1u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::ended}));
    EXPECT_EQ(r.responses_to_app(), 0u);
    EXPECT_EQ(r.stack().session_state(ab), SessionState::confirmed);  // unknown outcome: the call stays
}

// Finding 6: after a final sipfrag arrived before the 2xx, a later NOTIFY answered 200 still raises
// `notify`.
TEST(ReferAgentFixes, NotifyAfterAnEarlyFinalStillRaisesNotify) {
    Rig r;
    r.b_refer = [&](StackNode& node, const RequestEvent& ev, Time now) {
        const std::uint32_t id = ev.message.cseq().number;
        ASSERT_TRUE(node.stack().send_in_dialog(ev.dialog, Rig::notify(id, "active;expires=60", 200, "OK"), now));
        node.later(now + 500ms, [dialog = ev.dialog, id](StackNode& n, Time t) {
            (void)n.stack().send_in_dialog(dialog, Rig::notify(id, "terminated;reason=noresource", 200, "OK"), t);
        });
        node.later(now + 2s, [incoming = ev.incoming](StackNode& n, Time t) { (void)n.stack().respond(incoming, Rig::status(202), t); });
    };
    SessionId ab = r.call_and_refer(keep_call());
    r.run(5s);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 2u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_accepted, K::notify, K::notify, K::refer_request_accepted, K::ended}));
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.stack().session_state(ab), SessionState::confirmed);  // active_after_transfer
}

// Finding 7: a refreshing SUBSCRIBE answered 481 is the stack's (it does not leak to the
// application) and ends the transfer: unknown, subscription_ended.
TEST(ReferAgentFixes, RefreshAnswered481EndsTheContext) {
    Rig r;
    r.b_subscribe = [&](StackNode& node, const RequestEvent& ev, Time now) {
        (void)node.stack().respond(ev.incoming, Rig::status(481), now);
    };
    r.accept_refers_with_trying("active;expires=40");
    SessionId ab = r.call_and_refer();
    r.run(30s);  // refresh at half of 40 s
    EXPECT_EQ(r.on_wire("B> SIP/2.0 481"), 1u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify, K::ended}));
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::unknown);
    EXPECT_EQ(r.a_events().back().cause, ReferCause::subscription_ended);
    EXPECT_EQ(r.responses_to_app(), 0u);
    EXPECT_EQ(r.stack().counts().transfers, 0u);
    EXPECT_EQ(r.stack().session_state(ab), SessionState::confirmed);
}

// Finding 7: the unsubscribing SUBSCRIBE's 200 does not leak either.
TEST(ReferAgentFixes, UnsubscribeResponseIsTheAgents) {
    Rig r;
    r.accept_refers_with_trying();
    ASSERT_TRUE(r.call_refer_and_unsubscribe(2s));
    r.run(40s);  // B sends no final NOTIFY: the NOTIFY wait ends it
    EXPECT_EQ(r.answers_to("B> SIP/2.0 200", "SUBSCRIBE"), 1u);
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().cause, ReferCause::unsubscribed);
    EXPECT_EQ(r.responses_to_app(), 0u);
}

// Finding 10: a forked out-of-dialog REFER (RFC 6665 §4.1.2.4): a NOTIFY from a second notifier
// (new From tag) after the 2xx creates a dialog of its own and reaches the same transfer; every
// dialog is released when the transfer ends.
TEST(ReferAgentFixes, ForkedOutOfDialogReferAcceptsNotifiesFromEachFork) {
    Rig r;
    r.b_refer = [&](StackNode& node, const RequestEvent& ev, Time now) {
        auto d = node.stack().respond(ev.incoming, Rig::status(202, true), now);
        ASSERT_TRUE(d && *d);
        ASSERT_TRUE(node.stack().send_in_dialog(*d, Rig::notify(ev.message.cseq().number, "active;expires=60", 100, "Trying"), now));
    };
    ASSERT_TRUE(r.stack().refer_out_of_dialog("sip:bob@192.0.2.2:5060", "sip:carol@192.0.2.3", ReferOptions{}, r.net.now()));
    r.a.pump(r.net.now());
    r.run(2s);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify}));
    auto first = first_notify_from_b(r);
    ASSERT_NE(first, r.delivered.end());
    // The other fork's NOTIFY: same Call-ID and To (our tag), its own From tag, final status.
    std::string fork = first->bytes;
    const std::string b_tag(Message::parse(std::string_view(first->bytes))->from().tag);
    auto replace = [&](std::string_view from, std::string_view to) {
        auto at = fork.find(from);
        ASSERT_NE(at, std::string::npos) << from;
        fork.replace(at, from.size(), to);
    };
    replace(";tag=" + b_tag, ";tag=fork2");
    replace("z9hG4bK", "z9hG4bKf2");
    replace("active;expires=60", "terminated;reason=noresource");
    replace("SIP/2.0 100 Trying", "SIP/2.0 200 Trying");  // same length: Content-Length holds
    r.wire.clear();
    r.net.send(Transport::udp, r.b_addr, r.a_addr, fork);
    r.run(1s);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 1u);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 481"), 0u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify, K::refer_accepted,
                                         K::notify, K::ended}));
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.stack().counts().transfers, 0u);
    EXPECT_EQ(r.stack().counts().dialogs, 0u);  // both forks' dialogs released
    EXPECT_EQ(r.a.count<RequestEvent>(), 0u) << r.a.timeline();
}

// Finding 3: the policy option hangs up the call after a 481 to the REFER; off by default.
TEST(ReferAgentFixes, ByeOn481PolicyEndsTheCall) {
    for (bool policy : {false, true}) {
        SCOPED_TRACE(policy ? "policy on" : "policy off");
        ReferConfig cfg = Rig::transfer_config();
        cfg.bye_on_refer_481_408 = policy;
        Rig r(std::move(cfg));
        r.answer_refers(481);
        SessionId ab = r.call_and_refer();
        r.run(5s);
        EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_rejected, K::ended}));
        ASSERT_FALSE(r.a_events().empty());
        EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::rejected);
        EXPECT_EQ(r.on_wire("A> BYE "), policy ? 1u : 0u);
        if (policy) EXPECT_FALSE(r.stack().session_state(ab).has_value());
        else EXPECT_EQ(r.stack().session_state(ab), SessionState::confirmed);
    }
}

// Finding 3: with the policy on, a REFER that times out (synthesised 408) also hangs up the call.
TEST(ReferAgentFixes, ByeOn408PolicyHangsUpAfterATimeout) {
    ReferConfig cfg = Rig::transfer_config();
    cfg.bye_on_refer_481_408 = true;
    Rig r(std::move(cfg));
    SessionId ab = r.call();
    sim::LinkConfig dead;
    dead.loss = 1.0;
    r.net.set_link(r.a_addr, r.b_addr, dead);
    ASSERT_TRUE(r.stack().refer(ab, "sip:carol@192.0.2.3", ReferOptions{}, r.net.now()));
    r.a.pump(r.net.now());
    r.run(33s);  // Timer F
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_rejected, K::ended}));
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::failed);
    EXPECT_EQ(r.a_events().back().cause, ReferCause::refer_timeout);
    EXPECT_NE(r.stack().session_state(ab), SessionState::confirmed);  // BYE sent (ending) or already gone
    r.run(40s);
    EXPECT_FALSE(r.stack().session_state(ab).has_value());
}

// Finding 9: B accepts the REFER, then vanishes (no NOTIFY ever): the NOTIFY wait ends the
// transfer (unknown, no_notify); nothing leaks and the call is still usable.
TEST(ReferAgentFixes, PeerVanishesAfterThe2xx) {
    Rig r;
    r.answer_refers(202);
    SessionId ab = r.call_and_refer();
    r.run(31s);
    EXPECT_EQ(r.stack().counts().transfers, 1u);
    r.run(5s);  // 32 s after the 2xx
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::ended}));
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::unknown);
    EXPECT_EQ(r.a_events().back().cause, ReferCause::no_notify);
    EXPECT_EQ(r.stack().counts().transfers, 0u);
    EXPECT_EQ(r.responses_to_app(), 0u);
    r.a.clear();
    ASSERT_TRUE(r.stack().reinvite(ab, ReinviteOptions{}, r.net.now()));
    r.a.pump(r.net.now());
    r.run(3s);
    EXPECT_NE(r.a.find(SessionEventKind::answer_received), nullptr);
    EXPECT_EQ(r.stack().session_state(ab), SessionState::confirmed);
}

// Finding 9: a malformed NOTIFY (garbled sipfrag) through the full stack gets 400, raises no event
// and changes nothing; the transfer and the call go on.
TEST(ReferAgentFixes, MalformedNotifyIs400AndRaisesNothing) {
    Rig r;
    r.b_refer = [&](StackNode& node, const RequestEvent& ev, Time now) {
        const std::uint32_t id = ev.message.cseq().number;
        (void)node.stack().respond(ev.incoming, Rig::status(202), now);
        InDialogRequest bad = Rig::notify(id, "active;expires=60", 100, "Trying");
        bad.body = "SIP/2.0 abc Broken\r\n";
        ASSERT_TRUE(node.stack().send_in_dialog(ev.dialog, bad, now));
        node.later(now + 1s, [dialog = ev.dialog, id](StackNode& n, Time t) {
            (void)n.stack().send_in_dialog(dialog, Rig::notify(id, "terminated;reason=noresource", 486, "Busy Here"), t);
        });
    };
    SessionId ab = r.call_and_refer();
    r.run(500ms);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 400", "NOTIFY"), 1u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted}));
    EXPECT_EQ(r.stack().counts().transfers, 1u);
    r.run(3s);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_rejected, K::notify, K::ended}));
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::rejected);
    EXPECT_EQ(r.a.count<RequestEvent>(), 0u) << r.a.timeline();
    EXPECT_EQ(r.stack().session_state(ab), SessionState::confirmed);
    ASSERT_TRUE(r.stack().bye(ab, r.net.now()));
    r.a.pump(r.net.now());
    r.run(60s);  // past Timer J / K (64*T1)
    EXPECT_FALSE(r.stack().session_state(ab).has_value());
    EXPECT_TRUE(empty(r.stack().counts())) << describe(r.stack().counts());
}

}  // namespace
}  // namespace referkit::test
