// Call transfer end to end on the virtual clock: three full Stacks (A transferor, B transferee, C
// target) on the simulated network (RFC 5589 §6 blind transfer; RFC 3515, RFC 4488), their
// applications scripted (refer_helpers.hpp, Party). Blind transfer and the review fixes; attended
// transfer is in transfer_attended_test.cpp, the lossy runs in transfer_lossy_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "refer_helpers.hpp"

namespace referkit::test {
namespace {
using namespace std::chrono_literals;

// ---------------------------------------------------------------- blind transfer

TEST(TransferE2e, BlindTransferNotifies100180200AndTransferorHangsUp) {
    World w(1);
    std::vector<std::string> from_a;  // start line + CSeq method of what A sends, in order
    w.net.on_deliver([&](const sim::Datagram& d, Time) {
        if (!(d.from == Endpoint{"192.0.2.1", 5060})) return;
        if (auto m = Message::parse(std::string_view(d.bytes)))
            from_a.push_back(std::string(m->start_line()) + " / " + std::string(m->cseq().method_text));
    });
    SessionId ab = w.a.call(w.b, w.net.now());
    w.run(2s);
    ASSERT_EQ(w.a.stack().session_state(ab), SessionState::confirmed);

    auto h = w.a.stack().refer(ab, w.c.uri(), ReferOptions{}, w.net.now());
    ASSERT_TRUE(h) << h.error().detail;
    w.a.pump(w.net.now());
    w.run(10s);

    using K = ReferEventKind;
    EXPECT_EQ(kinds(w.a.refer_events()), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify,
                                                        K::refer_progress, K::notify, K::refer_accepted, K::notify,
                                                        K::ended}));
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(w.a.refer_events()[1].status, 100);
    EXPECT_EQ(w.a.refer_events()[3].status, 180);
    EXPECT_EQ(w.a.refer_events()[5].status, 200);

    using T = TransfereeEventKind;
    EXPECT_EQ(kinds(w.b.transferee_events()),
              (std::vector<T>{T::refer_received, T::transfer_started, T::transfer_notified, T::transfer_notified,
                              T::transfer_notified, T::transfer_ended}));
    EXPECT_EQ(notified(w.b.transferee_events()), (std::vector<int>{100, 180, 200}));
    ASSERT_FALSE(w.b.transferee_events().empty());
    EXPECT_EQ(w.b.transferee_events().front().status, 202);
    EXPECT_EQ(w.b.transferee_events().front().target, w.c.uri());
    EXPECT_EQ(w.b.transferee_events().back().status, 200);
    EXPECT_EQ(w.b.transferee_events().back().cause, ReferServerCause::final_notify);
    EXPECT_EQ(w.b.stack().counts().transferees, 0u);

    // A hung up on B after the transfer, the BYE after the 200 to the final NOTIFY; B and C talk.
    EXPECT_EQ(w.a.ended[ab.value], EndCause::bye_local);
    auto bye = std::find_if(from_a.begin(), from_a.end(), [](const std::string& l) { return l.starts_with("BYE "); });
    auto last_ok = std::find_if(from_a.rbegin(), from_a.rend(), [](const std::string& l) {
        return l.starts_with("SIP/2.0 200") && l.ends_with("/ NOTIFY");
    });
    ASSERT_NE(bye, from_a.end());
    ASSERT_NE(last_ok, from_a.rend());
    EXPECT_LT(std::distance(from_a.begin(), last_ok.base() - 1), std::distance(from_a.begin(), bye));
    SessionId bc = w.b.transferee_events()[1].session;
    EXPECT_EQ(w.b.stack().session_state(bc), SessionState::confirmed);
    ASSERT_EQ(w.c.incoming.size(), 1u);
    EXPECT_EQ(w.c.stack().session_state(w.c.incoming[0]), SessionState::confirmed);

    w.b_hangs_up_the_new_call();
}

TEST(TransferE2e, RejectedTargetGivesFinal486AndTheCallStaysUp) {
    World w(2);
    w.c.script = CallScript{.provisional = 0, .final = 486};
    SessionId ab = w.a.call(w.b, w.net.now());
    w.run(2s);
    ASSERT_EQ(w.a.stack().session_state(ab), SessionState::confirmed);
    ASSERT_TRUE(w.a.stack().refer(ab, w.c.uri(), ReferOptions{}, w.net.now()));
    w.a.pump(w.net.now());
    w.run(10s);

    using K = ReferEventKind;
    EXPECT_EQ(kinds(w.a.refer_events()), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify,
                                                        K::refer_rejected, K::notify, K::ended}));
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::rejected);
    EXPECT_EQ(w.a.refer_events()[3].status, 486);
    EXPECT_FALSE(w.a.refer_events().back().hang_up);
    EXPECT_EQ(notified(w.b.transferee_events()), (std::vector<int>{100, 486}));
    ASSERT_FALSE(w.b.transferee_events().empty());
    EXPECT_EQ(w.b.transferee_events().back().kind, TransfereeEventKind::transfer_ended);
    EXPECT_EQ(w.b.transferee_events().back().status, 486);
    // The A-B call is still up on both sides.
    EXPECT_EQ(w.a.stack().session_state(ab), SessionState::confirmed);
    ASSERT_EQ(w.b.incoming.size(), 1u);
    EXPECT_EQ(w.b.stack().session_state(w.b.incoming[0]), SessionState::confirmed);

    ASSERT_TRUE(w.a.stack().bye(ab, w.net.now()));
    w.a.pump(w.net.now());
    w.expect_empty_when_idle({&w.a, &w.b, &w.c}, 120s);
}

TEST(TransferE2e, PolicyRejectsTheReferAndNothingIsPlaced) {
    World w(3);
    SessionId ab = w.a.call(w.b, w.net.now());
    w.run(2s);
    ASSERT_TRUE(w.a.stack().refer(ab, "tel:+15550100", ReferOptions{}, w.net.now()));  // default policy: 603
    w.a.pump(w.net.now());
    w.run(5s);
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().front().kind, ReferEventKind::refer_request_rejected);
    EXPECT_EQ(w.a.refer_events().front().status, 603);
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::rejected);
    ASSERT_EQ(w.b.transferee_events().size(), 1u);
    EXPECT_EQ(w.b.transferee_events()[0].kind, TransfereeEventKind::refer_received);
    EXPECT_EQ(w.b.transferee_events()[0].status, 603);
    EXPECT_TRUE(w.c.incoming.empty());
    EXPECT_EQ(w.a.stack().session_state(ab), SessionState::confirmed);
}

TEST(TransferE2e, OutOfDialogReferCreatesTheSubscriptionDialog) {
    World w(4);
    auto h = w.a.stack().refer_out_of_dialog(w.b.uri(), w.c.uri(), ReferOptions{}, w.net.now());
    ASSERT_TRUE(h) << h.error().detail;
    w.a.pump(w.net.now());
    w.run(10s);
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().front().kind, ReferEventKind::refer_request_accepted);
    EXPECT_EQ(w.a.refer_events().back().kind, ReferEventKind::ended);
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(w.a.count(ReferEventKind::refer_accepted), 1u);
    EXPECT_EQ(notified(w.b.transferee_events()), (std::vector<int>{100, 180, 200}));
    ASSERT_EQ(w.c.incoming.size(), 1u);
    w.b_hangs_up_the_new_call();
}

TEST(TransferE2e, ReferSubFalseIsAgreedAndNoNotifyIsSent) {
    World w(5);
    SessionId ab = w.a.call(w.b, w.net.now());
    w.run(2s);
    ReferOptions o;
    o.refer_sub = false;
    o.active_after_transfer = true;
    ASSERT_TRUE(w.a.stack().refer(ab, w.c.uri(), std::move(o), w.net.now()));
    w.a.pump(w.net.now());
    w.run(10s);
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(w.a.refer_events().back().cause, ReferCause::no_subscription);
    EXPECT_EQ(w.a.count(ReferEventKind::notify), 0u);
    using T = TransfereeEventKind;
    EXPECT_EQ(kinds(w.b.transferee_events()), (std::vector<T>{T::refer_received, T::transfer_started, T::transfer_ended}));
    ASSERT_FALSE(w.b.transferee_events().empty());
    EXPECT_EQ(w.b.transferee_events().front().status, 200);
    EXPECT_EQ(w.b.transferee_events().back().status, 200);  // the INVITE's outcome is still reported to B
    EXPECT_EQ(w.b.transferee_events().back().cause, ReferServerCause::no_subscription);
    ASSERT_EQ(w.c.incoming.size(), 1u);
    EXPECT_EQ(w.c.stack().session_state(w.c.incoming[0]), SessionState::confirmed);
}

TEST(TransferE2e, SlowTargetRefreshedSubscriptionNotifiesCurrentState) {
    World w(9);
    w.c.script = CallScript{.provisional = 180, .final = 200, .delay = 100s};  // rings for 100 s
    SessionId ab = w.a.call(w.b, w.net.now());
    w.run(2s);
    ASSERT_TRUE(w.a.stack().refer(ab, w.c.uri(), ReferOptions{}, w.net.now()));
    w.a.pump(w.net.now());
    w.run(120s);
    // B granted 60 s; A refreshed (RFC 6665 §4.1.2.2), B answered 200 and re-sent the current
    // state (180) each time (§4.2.1.2), then the final 200.
    auto notes = notified(w.b.transferee_events());
    ASSERT_GE(notes.size(), 4u);
    EXPECT_EQ(notes.front(), 100);
    EXPECT_EQ(notes.back(), 200);
    EXPECT_GE(std::count(notes.begin(), notes.end(), 180), 2);
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(w.a.count(ReferEventKind::ended), 1u);
    EXPECT_EQ(w.b.transferee_events().back().cause, ReferServerCause::final_notify);
}

TEST(TransferE2e, UnsubscribeEndsTheSubscriptionButNotTheTransfer) {
    World w(10);
    w.c.script = CallScript{.provisional = 180, .final = 200, .delay = 20s};
    SessionId ab = w.a.call(w.b, w.net.now());
    w.run(2s);
    auto h = w.a.stack().refer(ab, w.c.uri(), ReferOptions{}, w.net.now());
    ASSERT_TRUE(h);
    w.a.pump(w.net.now());
    w.run(5s);
    ASSERT_TRUE(w.a.stack().unsubscribe(*h, w.net.now()));
    w.a.pump(w.net.now());
    w.run(5s);
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().back().kind, ReferEventKind::ended);
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::unknown);
    EXPECT_EQ(w.a.refer_events().back().cause, ReferCause::unsubscribed);
    EXPECT_EQ(w.b.count(TransfereeEventKind::transfer_ended), 0u);  // C still rings
    w.run(30s);
    // RFC 3515 §2.4.4: the reference goes on; B reports its outcome to its application only.
    ASSERT_FALSE(w.b.transferee_events().empty());
    EXPECT_EQ(w.b.transferee_events().back().kind, TransfereeEventKind::transfer_ended);
    EXPECT_EQ(w.b.transferee_events().back().status, 200);
    EXPECT_EQ(w.b.transferee_events().back().cause, ReferServerCause::unsubscribed);
    EXPECT_EQ(notified(w.b.transferee_events()).back(), 180);  // the final NOTIFY carried the state then
    EXPECT_EQ(w.a.stack().session_state(ab), SessionState::confirmed);  // unknown outcome: A keeps the call
}

TEST(TransferE2e, UnreachableTargetGivesASynthesised408) {
    World w(11);
    SessionId ab = w.a.call(w.b, w.net.now());
    w.run(2s);
    ASSERT_TRUE(w.a.stack().refer(ab, "sip:nobody@192.0.2.9:5060", ReferOptions{}, w.net.now()));
    w.a.pump(w.net.now());
    w.run(60s);  // Timer B (64*T1) fires on B's INVITE
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::rejected);
    // 100 at once (and again after A's refreshing SUBSCRIBE at ~28 s, RFC 6665 §4.2.1.2), then 408.
    auto notes = notified(w.b.transferee_events());
    ASSERT_GE(notes.size(), 2u);
    EXPECT_EQ(notes.back(), 408);
    EXPECT_TRUE(std::all_of(notes.begin(), notes.end() - 1, [](int st) { return st == 100; }));
    ASSERT_FALSE(w.b.transferee_events().empty());
    EXPECT_EQ(w.b.transferee_events().back().kind, TransfereeEventKind::transfer_ended);
    EXPECT_EQ(w.b.transferee_events().back().status, 408);
    EXPECT_EQ(w.a.stack().session_state(ab), SessionState::confirmed);
}

TEST(TransferE2e, TransferorHangsUpDuringTheTransferNothingLeaks) {
    World w(12);
    w.c.script = CallScript{.provisional = 180, .final = 200, .delay = 5s};
    SessionId ab = w.call_and_refer(1s);
    ASSERT_TRUE(w.a.stack().bye(ab, w.net.now()));  // A gives up on the call mid-transfer
    w.a.pump(w.net.now());
    w.run(20s);
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().back().kind, ReferEventKind::ended);
    EXPECT_EQ(w.a.refer_events().back().cause, ReferCause::dialog_terminated);
    EXPECT_EQ(w.a.count(ReferEventKind::ended), 1u);
    // B still completed the transfer; its NOTIFYs found no subscription any more at A.
    ASSERT_FALSE(w.b.transferee_events().empty());
    EXPECT_EQ(w.b.transferee_events().back().kind, TransfereeEventKind::transfer_ended);
    EXPECT_EQ(w.b.transferee_events().back().status, 200);
    EXPECT_EQ(w.b.transferee_events().back().cause, ReferServerCause::notify_failed);
    w.b_hangs_up_the_new_call();
}

TEST(TransferE2e, MalformedReferIs400AndStraySubscribeIs403WithNoEvent) {
    World w(13);
    SessionId ab = w.a.call(w.b, w.net.now());
    w.run(2s);
    auto d = w.a.stack().session_dialog(ab);
    ASSERT_TRUE(d);
    std::vector<int> answers;
    auto send = [&](InDialogRequest r) {
        auto id = w.a.stack().send_in_dialog(*d, r, w.net.now());
        ASSERT_TRUE(id);
        w.a.pump(w.net.now());
        w.run(2s);
    };
    send(InDialogRequest{.method = "REFER", .headers = {{"Referred-By", "<sip:alice@192.0.2.1>"}},
                         .content_type = {}, .body = {}});
    send(InDialogRequest{.method = "REFER",
                         .headers = {{"Refer-To", "<sip:carol@192.0.2.3>, <sip:dave@192.0.2.4>"}},  // two values
                         .content_type = {}, .body = {}});
    send(InDialogRequest{.method = "SUBSCRIBE", .headers = {{"Event", "refer;id=77"}, {"Expires", "60"}},
                         .content_type = {}, .body = {}});
    for (const ResponseEvent& e : w.a.all<ResponseEvent>())
        if (e.final) answers.push_back(e.status);
    EXPECT_EQ(answers, (std::vector<int>{400, 400, 403}));  // RFC 3515 §2.4.2, §2.4.4
    EXPECT_TRUE(w.b.transferee_events().empty());
    EXPECT_EQ(w.b.stack().counts().transferees, 0u);
    EXPECT_TRUE(w.c.incoming.empty());
    EXPECT_EQ(w.b.stack().session_state(w.b.incoming.at(0)), SessionState::confirmed);
}

// ---------------------------------------------------------------- review fixes (full stack)

// Finding 1: a REFER that gets no answer ends failed (refer_timeout), not rejected; the call stays up.
TEST(TransferE2e, ReferToAPeerThatNeverAnswersFailsWithTimeoutAndTheCallStaysUsable) {
    World w(20);
    const Endpoint a_addr{"192.0.2.1", 5060}, b_addr{"192.0.2.2", 5060};
    SessionId ab = w.a.call(w.b, w.net.now());
    w.run(2s);
    ASSERT_EQ(w.a.stack().session_state(ab), SessionState::confirmed);
    sim::LinkConfig dead;
    dead.loss = 1.0;
    w.net.set_link(a_addr, b_addr, dead);  // B never sees the REFER
    ASSERT_TRUE(w.a.stack().refer(ab, w.c.uri(), ReferOptions{}, w.net.now()));
    w.a.pump(w.net.now());
    w.run(40s);  // Timer F = 64*T1 = 32 s
    using K = ReferEventKind;
    EXPECT_EQ(kinds(w.a.refer_events()), (std::vector<K>{K::refer_request_rejected, K::ended}));
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().front().status, 408);
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::failed);
    EXPECT_EQ(w.a.refer_events().back().cause, ReferCause::refer_timeout);
    std::vector<int> seen;
    for (const TransferResponseEvent& e : w.a.all<TransferResponseEvent>()) seen.push_back(e.response.status());
    EXPECT_EQ(seen, (std::vector<int>{408}));  // the synthesised 408 reached the application
    EXPECT_EQ(w.a.stack().counts().transfers, 0u);
    EXPECT_EQ(w.a.stack().session_state(ab), SessionState::confirmed);

    // The call is still usable: a re-INVITE is answered, then the BYE ends it cleanly.
    w.net.set_link(a_addr, b_addr, sim::LinkConfig{});
    w.a.clear();
    ASSERT_TRUE(w.a.stack().reinvite(ab, ReinviteOptions{}, w.net.now()));
    w.a.pump(w.net.now());
    w.run(5s);
    EXPECT_NE(w.a.find(SessionEventKind::answer_received), nullptr);
    EXPECT_EQ(w.a.stack().session_state(ab), SessionState::confirmed);
    w.hang_up_and_expect_empty(w.a, ab);
    EXPECT_EQ(w.a.ended[ab.value], EndCause::bye_local);
}

// Finding 2: REFER is a target refresh request (RFC 3515 §2.4.1): exactly one Contact, in and
// out of a dialog.
TEST(TransferE2e, EveryReferCarriesExactlyOneContact) {
    World w(21);
    std::vector<std::size_t> contacts;  // Contact count of each REFER A sends
    w.net.on_deliver([&](const sim::Datagram& d, Time) {
        if (!(d.from == Endpoint{"192.0.2.1", 5060})) return;
        auto m = Message::parse(std::string_view(d.bytes));
        if (m && m->is_request() && m->method() == Method::refer) contacts.push_back(m->count(HeaderId::contact));
    });
    SessionId ab = w.a.call(w.b, w.net.now());
    w.run(2s);
    ReferOptions keep;
    keep.active_after_transfer = true;
    ASSERT_TRUE(w.a.stack().refer(ab, w.c.uri(), std::move(keep), w.net.now()));
    w.a.pump(w.net.now());
    w.run(5s);
    ASSERT_TRUE(w.a.stack().refer_out_of_dialog(w.b.uri(), w.c.uri(), ReferOptions{}, w.net.now()));
    w.a.pump(w.net.now());
    w.run(5s);
    EXPECT_EQ(contacts, (std::vector<std::size_t>{1, 1}));
    EXPECT_EQ(w.a.count(ReferEventKind::ended), 2u);
}

// Finding 9: a BYE from the transferee during the transfer ends the context (unknown,
// dialog_terminated) exactly once, and nothing leaks anywhere.
TEST(TransferE2e, TransfereeHangsUpDuringTheTransferNothingLeaks) {
    World w(22);
    w.c.script = CallScript{.provisional = 180, .final = 200, .delay = 5s};
    SessionId ab = w.call_and_refer(1s);
    ASSERT_EQ(w.b.incoming.size(), 1u);
    ASSERT_TRUE(w.b.stack().bye(w.b.incoming[0], w.net.now()));  // B hangs up on A mid-transfer
    w.b.pump(w.net.now());
    w.run(20s);
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.count(ReferEventKind::ended), 1u);
    EXPECT_EQ(w.a.refer_events().back().kind, ReferEventKind::ended);
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::unknown);
    EXPECT_EQ(w.a.refer_events().back().cause, ReferCause::dialog_terminated);
    EXPECT_EQ(w.a.ended[ab.value], EndCause::bye_remote);
    EXPECT_EQ(w.a.stack().counts().transfers, 0u);
    EXPECT_EQ(w.a.count<ResponseEvent>(), 0u) << w.a.timeline();  // no response of the transferor's leaked
    EXPECT_EQ(w.a.count<RequestEvent>(), 0u) << w.a.timeline();   // no NOTIFY leaked
    ASSERT_GE(w.b.transferee_events().size(), 2u);
    w.b_hangs_up_the_new_call();
    EXPECT_EQ(w.b.stack().counts().transferees, 0u);
}

}  // namespace
}  // namespace referkit::test
