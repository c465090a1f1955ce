// The transferor against a scripted peer (refer_helpers.hpp, Rig): the gaps an audit found —
// other event packages in a transfer's dialog, several REFERs in one dialog and one back, digest
// challenges to a REFER, attended transfer with a ringing consultation call.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "referkit/core/headers.hpp"
#include "refer_helpers.hpp"

namespace referkit::test {
namespace {
using namespace std::chrono_literals;
using K = ReferEventKind;

// Gap 1: while a refer subscription lives in the call, NOTIFYs of other event packages in the same
// dialog (dialog, message-summary) are the application's: they reach it as request events and it
// answers them; the transfer goes on unaffected.
TEST(ReferAgentAudit, OtherPackageNotifyDuringTransferReachesTheApplication) {
    // A's application takes these packages (UserAgentConfig::event_packages; the stack adds refer).
    UserAgentConfig a = refer_ua_config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100);
    a.event_packages = {"dialog", "message-summary"};
    Rig r(Rig::transfer_config(), std::move(a));
    r.answer_app_requests = true;
    r.b_refer = [&](StackNode& node, const RequestEvent& ev, Time now) {
        const std::uint32_t id = ev.message.cseq().number;
        (void)node.stack().respond(ev.incoming, Rig::status(202), now);
        ASSERT_TRUE(node.stack().send_in_dialog(ev.dialog, Rig::notify(id, "active;expires=60", 100, "Trying"), now));
        for (const auto& [at, package] : {std::pair{300ms, std::string("dialog")}, std::pair{600ms, std::string("message-summary")}}) {
            node.later(now + at, [dialog = ev.dialog, pkg = package](StackNode& n, Time t) {
                InDialogRequest other{.method = "NOTIFY",
                                      .headers = {{"Event", pkg}, {"Subscription-State", "active;expires=3600"}},
                                      .content_type = {}, .body = {}};
                ASSERT_TRUE(n.stack().send_in_dialog(dialog, other, t));
            });
        }
        node.later(now + 1s, [dialog = ev.dialog, id](StackNode& n, Time t) {
            (void)n.stack().send_in_dialog(dialog, Rig::notify(id, "terminated;reason=noresource", 200, "OK"), t);
        });
    };
    r.call_and_refer();
    r.run(5s);
    EXPECT_EQ(r.app_notify_packages(), (std::vector<std::string>{"dialog", "message-summary"}));
    EXPECT_EQ(r.on_wire("A> SIP/2.0 489"), 0u);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 4u);  // 2 refer (stack) + 2 others (application)
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify, K::refer_accepted,
                                         K::notify, K::ended}));
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.on_wire("A> BYE "), 1u);  // hang up after success, as without the other NOTIFYs
    EXPECT_EQ(r.stack().counts().transfers, 0u);
}

// Gap 2: A sends two REFERs to B in one call (B's NOTIFYs for each id interleaved), and B REFERs A
// (back to B itself) while both are live. Each transfer gets its own NOTIFYs and ends exactly once
// with its own outcome; A's transferee side completes; everything ends empty.
TEST(ReferAgentAudit, TwoRefersInOneDialogAndAReferBackWhileLive) {
    Rig r;
    std::vector<std::uint32_t> ids;
    DialogId b_dialog;
    std::vector<int> b_refer_answers;  // responses B got to its own REFER
    r.b_refer = [&](StackNode& node, const RequestEvent& ev, Time now) {
        ids.push_back(ev.message.cseq().number);
        b_dialog = ev.dialog;
        (void)node.stack().respond(ev.incoming, Rig::status(202), now);
        if (ids.size() != 2) return;
        const std::uint32_t id1 = ids[0], id2 = ids[1];
        const DialogId d = ev.dialog;
        auto notify_at = [&node, d, now](Duration at, std::uint32_t id, std::string state, int st, std::string reason) {
            node.later(now + at, [d, id, state, st, reason](StackNode& n, Time t) {
                ASSERT_TRUE(n.stack().send_in_dialog(d, Rig::notify(id, state, st, reason), t));
            });
        };
        notify_at(200ms, id2, "active;expires=60", 100, "Trying");
        notify_at(400ms, id1, "active;expires=60", 100, "Trying");
        node.later(now + 600ms, [d](StackNode& n, Time t) {
            InDialogRequest refer{.method = "REFER",
                                  .headers = {{"Refer-To", "<sip:bob@192.0.2.2:5060>"},
                                              {"Referred-By", "<sip:bob@192.0.2.2>"}},
                                  .content_type = {}, .body = {}};
            ASSERT_TRUE(n.stack().send_in_dialog(d, refer, t));
        });
        notify_at(1500ms, id2, "terminated;reason=noresource", 486, "Busy Here");
        notify_at(2000ms, id1, "terminated;reason=noresource", 200, "OK");
    };
    std::vector<std::uint32_t> refer_notify_ids_at_b;  // NOTIFYs from A's transferee side
    std::uint32_t b_refer_cseq = 0;
    r.b.on_event = [&](StackNode& node, const StackEvent& event, Time now) {
        if (const auto* s = std::get_if<SessionEvent>(&event)) {
            if (s->kind == SessionEventKind::incoming_call) (void)node.stack().answer(s->session, AnswerOptions{}, now);
        } else if (const auto* ev = std::get_if<RequestEvent>(&event)) {
            if (ev->method == Method::refer) {
                r.b_refer(node, *ev, now);
                return;
            }
            if (ev->method == Method::notify && ev->message.event() && ev->message.event()->has_id)
                refer_notify_ids_at_b.push_back(*parse_uint(ev->message.event()->id, 0xffffffffu));
            (void)node.stack().respond(ev->incoming, Rig::status(200), now);
        } else if (const auto* resp = std::get_if<ResponseEvent>(&event);
                   resp != nullptr && resp->method == Method::refer && resp->final) {
            b_refer_answers.push_back(resp->status);
            if (resp->message) b_refer_cseq = resp->message->cseq().number;
        }
    };
    SessionId ab = r.call();
    auto h1 = r.stack().refer(ab, "sip:carol@192.0.2.3", ReferOptions{}, r.net.now());
    auto h2 = r.stack().refer(ab, "sip:dave@192.0.2.3", keep_call(), r.net.now());
    ASSERT_TRUE(h1);
    ASSERT_TRUE(h2);
    r.a.pump(r.net.now());
    r.run(5s);

    ASSERT_EQ(ids.size(), 2u);
    EXPECT_LT(ids[0], ids[1]);
    EXPECT_EQ(r.kinds_of(*h1), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify,
                                               K::refer_accepted, K::notify, K::ended}));
    EXPECT_EQ(r.kinds_of(*h2), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify,
                                               K::refer_rejected, K::notify, K::ended}));
    for (const TransferEvent& e : r.a_events()) EXPECT_EQ(e.id, e.transfer == *h1 ? ids[0] : ids[1]) << e.name();
    const auto end1 = r.ended_of(*h1);
    const auto end2 = r.ended_of(*h2);
    ASSERT_TRUE(end1.has_value());
    ASSERT_TRUE(end2.has_value());
    EXPECT_EQ(end1->outcome, ReferOutcome::accepted);
    EXPECT_EQ(end1->status, 200);
    EXPECT_TRUE(end1->hang_up);
    EXPECT_EQ(end2->outcome, ReferOutcome::rejected);
    EXPECT_EQ(end2->status, 486);
    EXPECT_FALSE(end2->hang_up);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 4u);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 4"), 0u);  // no 400/481/489 from A

    // B's REFER to A: A's transferee side accepted it, called B and reported the outcome.
    EXPECT_EQ(b_refer_answers, (std::vector<int>{202}));
    const auto transferee = r.a.all<TransfereeEvent>();
    const auto tk = kinds(transferee);
    ASSERT_FALSE(tk.empty());
    EXPECT_EQ(tk.front(), TransfereeEventKind::refer_received);
    EXPECT_EQ(tk.back(), TransfereeEventKind::transfer_ended);
    EXPECT_EQ(std::count(tk.begin(), tk.end(), TransfereeEventKind::transfer_ended), 1);
    EXPECT_EQ(transferee.back().status, 200);
    ASSERT_FALSE(refer_notify_ids_at_b.empty());
    for (std::uint32_t id : refer_notify_ids_at_b) EXPECT_EQ(id, b_refer_cseq);  // RFC 3515 §2.4.6: B's REFER's CSeq
    EXPECT_EQ(r.stack().counts().transfers, 0u);
    EXPECT_EQ(r.stack().counts().transferees, 0u);
    EXPECT_EQ(r.on_wire("A> BYE "), 1u);  // h1 succeeded: the transferred call is hung up

    // The call the transfer placed (A to B again) is the application's: hang it up, then all is empty.
    const TransfereeEvent* started = r.a.find(TransfereeEventKind::transfer_started);
    ASSERT_NE(started, nullptr);
    const SessionId placed = started->session;
    EXPECT_FALSE(r.stack().session_state(ab).has_value());
    ASSERT_TRUE(r.stack().bye(placed, r.net.now()));
    r.a.pump(r.net.now());
    r.run(60s);  // past Timer J / K (64*T1)
    EXPECT_TRUE(empty(r.stack().counts())) << describe(r.stack().counts());
    EXPECT_TRUE(empty(r.b.stack().counts())) << describe(r.b.stack().counts());
}

// Gap 3: B challenges the REFER (401), the stack retries with credentials, B answers 202: the
// TransferResponseEvents carry both, in order, and referRequestAccepted is raised exactly once.
TEST(ReferAgentAudit, ReceiveResponseSeesTheChallengeTheCoreAnswered) {
    UserAgentConfig ac = refer_ua_config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100);
    ac.credentials = {Credentials{.username = "alice", .password = "secret", .realm = ""}};
    ac.digest_hash = [](DigestAlgorithm, std::string_view) { return std::string(32, 'a'); };  // B does not verify
    Rig r(Rig::transfer_config(), std::move(ac));
    r.b_refer = [&](StackNode& node, const RequestEvent& ev, Time now) {
        if (ev.message.find(HeaderId::authorization) == nullptr) {
            UaResponse challenge = Rig::status(401);
            challenge.headers = {{"WWW-Authenticate", "Digest realm=\"example.com\", nonce=\"n1\", qop=\"auth\", algorithm=MD5"}};
            (void)node.stack().respond(ev.incoming, challenge, now);
            return;
        }
        const std::uint32_t id = ev.message.cseq().number;
        (void)node.stack().respond(ev.incoming, Rig::status(202), now);
        ASSERT_TRUE(node.stack().send_in_dialog(ev.dialog, Rig::notify(id, "terminated;reason=noresource", 200, "OK"), now));
    };
    r.call_and_refer(keep_call());
    r.run(5s);
    std::vector<int> seen;
    std::vector<std::uint32_t> seen_cseq;
    for (const TransferResponseEvent& e : r.a.all<TransferResponseEvent>()) {
        seen.push_back(e.response.status());
        seen_cseq.push_back(e.response.cseq().number);
    }
    EXPECT_EQ(seen, (std::vector<int>{401, 202}));
    ASSERT_EQ(seen_cseq.size(), 2u);
    EXPECT_GT(seen_cseq[1], seen_cseq[0]);
    EXPECT_EQ(r.a.count(K::refer_request_accepted), 1u);
    EXPECT_EQ(r.a.count(K::refer_request_rejected), 0u);
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().kind, K::ended);
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.responses_to_app(), 0u);  // the challenge is the stack's too
}

// Gap 4: attended transfer with a consultation call that is still ringing (proceeding): an error,
// nothing on the wire, no transfer; either argument order.
TEST(ReferAgentAudit, AttendedTransferWithARingingConsultationCallIsRefused) {
    Rig r;
    SessionId ab = r.call();
    SessionId ringing_at_b;
    r.b.on_event = [&](StackNode& node, const StackEvent& event, Time now) {
        if (const auto* ev = std::get_if<RequestEvent>(&event)) {
            if (ev->method == Method::refer && r.b_refer) r.b_refer(node, *ev, now);
            else (void)node.stack().respond(ev->incoming, Rig::status(200), now);
            return;
        }
        const auto* s = std::get_if<SessionEvent>(&event);
        if (s == nullptr || s->kind != SessionEventKind::incoming_call) return;
        ringing_at_b = s->session;
        (void)node.stack().answer(s->session, AnswerOptions{.status = 180, .reason = {}, .headers = {}, .body = std::nullopt}, now);
    };
    auto consult = r.dial(1s);
    ASSERT_TRUE(consult);
    ASSERT_TRUE(ringing_at_b);
    ASSERT_EQ(r.stack().session_state(*consult), SessionState::proceeding);
    r.wire.clear();
    for (auto [session, other] : {std::pair{ab, *consult}, std::pair{*consult, ab}}) {
        auto h = r.stack().refer_attended(session, other, ReferOptions{}, r.net.now());
        ASSERT_FALSE(h);
        EXPECT_EQ(h.error().code, ReferStartErrc::not_confirmed) << h.error().detail;
        r.a.pump(r.net.now());
    }
    r.run(1s);
    EXPECT_EQ(r.on_wire("REFER"), 0u);
    EXPECT_EQ(r.stack().counts().transfers, 0u);
    EXPECT_TRUE(r.a_events().empty());
    EXPECT_EQ(r.stack().session_state(ab), SessionState::confirmed);
    EXPECT_EQ(r.stack().session_state(*consult), SessionState::proceeding);
    // Once the consultation call is answered, the same command succeeds.
    ASSERT_TRUE(r.b.stack().answer(ringing_at_b, AnswerOptions{}, r.net.now()));
    r.b.pump(r.net.now());
    r.run(1s);
    ASSERT_EQ(r.stack().session_state(*consult), SessionState::confirmed);
    r.answer_refers(603);
    EXPECT_TRUE(r.stack().refer_attended(ab, *consult, ReferOptions{}, r.net.now()));
    r.a.pump(r.net.now());
    r.run(1s);
    EXPECT_EQ(r.on_wire("A> REFER "), 1u);
}

}  // namespace
}  // namespace referkit::test
