// The REFER client context state machine on the virtual clock (docs/transfer-rules.md R17-R22,
// "NOTIFYs", "After the transfer"), fed with NOTIFYs classified by classify_refer_notify.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <vector>

#include "referkit/core/refer_client_context.hpp"
#include "refer_helpers.hpp"
#include "sim_network.hpp"

namespace referkit {
namespace {
using namespace std::chrono_literals;
using test::NotifySpec;
using K = ReferEventKind;

std::vector<ReferEvent> drain(ReferClientContext& c) {
    std::vector<ReferEvent> out;
    while (auto e = c.poll_event()) out.push_back(std::move(*e));
    return out;
}

std::vector<K> kinds(const std::vector<ReferEvent>& events) {
    std::vector<K> out;
    for (const auto& e : events) out.push_back(e.kind);
    return out;
}

ReferResponse resp(int status, std::string reason = "") {
    return ReferResponse{.status = status, .reason = std::move(reason)};
}

// Classifies like the glue does (answer first) and feeds the context when the NOTIFY is its own.
ReferNotifyVerdict feed(ReferClientContext& c, Time now, const NotifySpec& spec) {
    std::vector<std::uint32_t> live;
    if (c.live()) live.push_back(c.id());
    auto v = classify_refer_notify(test::notify(spec), live);
    if (v.id) c.on_notify(now, v);
    return v;
}

NotifySpec frag(std::string body, std::string state = "Subscription-State: active;expires=60") {
    return NotifySpec{.event = "Event: refer;id=7", .sub_state = std::move(state), .body = std::move(body)};
}

const std::string terminated = "Subscription-State: terminated;reason=noresource";

struct ReferClient : ::testing::Test {
    sim::VirtualClock clock;
    ReferClientContext ctx;
    void send() { ctx.refer_sent(clock.now(), 7); }
};

TEST_F(ReferClient, BlindTransferHappyPath) {
    send();
    EXPECT_EQ(ctx.state(), ReferState::requesting);
    ctx.on_response(clock.now(), resp(100, "Trying"));
    EXPECT_TRUE(drain(ctx).empty());
    ctx.on_response(clock.now(), resp(202, "Accepted"));
    EXPECT_EQ(ctx.state(), ReferState::subscribed);
    clock.advance_by(100ms);
    EXPECT_EQ(feed(ctx, clock.now(), frag("SIP/2.0 100 Trying")).status, 200);
    EXPECT_EQ(feed(ctx, clock.now(), frag("SIP/2.0 180 Ringing")).status, 200);
    EXPECT_EQ(feed(ctx, clock.now(), frag("SIP/2.0 200 OK", terminated)).status, 200);
    auto ev = drain(ctx);
    EXPECT_EQ(kinds(ev), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify, K::refer_progress,
                                         K::notify, K::refer_accepted, K::notify, K::ended}));
    EXPECT_EQ(ev[0].status, 202);
    EXPECT_EQ(ev[3].status, 180);
    EXPECT_EQ(ev[3].reason, "Ringing");
    EXPECT_EQ(ev.back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(ev.back().cause, ReferCause::final_notify);
    EXPECT_TRUE(ev.back().hang_up);
    EXPECT_EQ(ctx.outcome(), ReferOutcome::accepted);
    EXPECT_EQ(ctx.final_sipfrag_status(), 200);
    EXPECT_FALSE(ctx.next_deadline());
}

TEST_F(ReferClient, ActiveAfterTransferKeepsCall) {
    ReferClientContext c({.active_after_transfer = true});
    c.refer_sent(clock.now(), 7);
    c.on_response(clock.now(), resp(202));
    feed(c, clock.now(), frag("SIP/2.0 200 OK", terminated));
    auto ev = drain(c);
    ASSERT_EQ(ev.back().kind, K::ended);
    EXPECT_EQ(ev.back().outcome, ReferOutcome::accepted);
    EXPECT_FALSE(ev.back().hang_up);
}

TEST_F(ReferClient, Retransmitted2xxRaisesOnce) {
    send();
    ctx.on_response(clock.now(), resp(202));
    ctx.on_response(clock.now(), resp(202));
    ctx.on_response(clock.now() + 500ms, resp(202));
    EXPECT_EQ(kinds(drain(ctx)), (std::vector<K>{K::refer_request_accepted}));
}

TEST_F(ReferClient, ThreeXxIsARejection) {
    send();
    ctx.on_response(clock.now(), resp(302, "Moved Temporarily"));
    auto ev = drain(ctx);
    EXPECT_EQ(kinds(ev), (std::vector<K>{K::refer_request_rejected, K::ended}));
    EXPECT_EQ(ev[0].status, 302);
    EXPECT_EQ(ev[1].outcome, ReferOutcome::rejected);
    EXPECT_EQ(ev[1].cause, ReferCause::refer_response);
    EXPECT_FALSE(ev[1].hang_up);
}

TEST_F(ReferClient, FourXxRejectionCarriesResponse) {
    send();
    ctx.on_response(clock.now(), resp(603, "Decline"));
    auto ev = drain(ctx);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, K::refer_request_rejected);
    EXPECT_EQ(ev[0].reason, "Decline");
    EXPECT_EQ(ctx.final_response_status(), 603);
    ctx.on_response(clock.now(), resp(603, "Decline"));  // retransmission
    EXPECT_TRUE(drain(ctx).empty());
}

TEST_F(ReferClient, TimeoutSynthesised408Fails) {
    send();
    ctx.on_response(clock.now() + 32s, ReferResponse{.status = 408, .reason = "Request Timeout", .source = ResponseOrigin::timeout});
    auto ev = drain(ctx);
    EXPECT_EQ(kinds(ev), (std::vector<K>{K::refer_request_rejected, K::ended}));
    EXPECT_EQ(ev[0].status, 408);
    EXPECT_EQ(ev[1].outcome, ReferOutcome::failed);
    EXPECT_EQ(ev[1].cause, ReferCause::refer_timeout);
}

TEST_F(ReferClient, TransportErrorSynthesised503Fails) {
    send();
    ctx.on_response(clock.now(), ReferResponse{.status = 503, .source = ResponseOrigin::transport_error});
    EXPECT_EQ(ctx.outcome(), ReferOutcome::failed);
    EXPECT_EQ(ctx.cause(), ReferCause::transport_error);
}

TEST_F(ReferClient, FinalSipfragRejected) {
    send();
    ctx.on_response(clock.now(), resp(202));
    feed(ctx, clock.now(), frag("SIP/2.0 486 Busy Here", terminated));
    auto ev = drain(ctx);
    EXPECT_EQ(kinds(ev), (std::vector<K>{K::refer_request_accepted, K::refer_rejected, K::notify, K::ended}));
    EXPECT_EQ(ev[1].status, 486);
    EXPECT_EQ(ev[1].reason, "Busy Here");
    EXPECT_EQ(ev.back().outcome, ReferOutcome::rejected);
    EXPECT_FALSE(ev.back().hang_up);  // after a failure the call stays up
}

TEST_F(ReferClient, DuplicateFinalNotifyRaisesNothingAndIs481) {
    send();
    ctx.on_response(clock.now(), resp(202));
    feed(ctx, clock.now(), frag("SIP/2.0 200 OK", terminated));
    drain(ctx);
    auto v = feed(ctx, clock.now(), frag("SIP/2.0 200 OK", terminated));
    EXPECT_EQ(v.status, 481);  // the subscription is over: no such subscription
    ReferNotifyVerdict forced = classify_refer_notify(test::notify(frag("SIP/2.0 200 OK", terminated)),
                                                      std::array<std::uint32_t, 1>{7});
    ctx.on_notify(clock.now(), forced);  // even if the glue routed it, nothing is raised
    EXPECT_TRUE(drain(ctx).empty());
    EXPECT_EQ(ctx.outcome(), ReferOutcome::accepted);
}

TEST_F(ReferClient, NotifyBefore2xxStillOneRequestAccepted) {
    send();
    feed(ctx, clock.now(), frag("SIP/2.0 100 Trying"));
    ctx.on_response(clock.now(), resp(202));
    ctx.on_response(clock.now(), resp(202));
    EXPECT_EQ(kinds(drain(ctx)), (std::vector<K>{K::refer_progress, K::notify, K::refer_request_accepted}));
    EXPECT_EQ(ctx.state(), ReferState::subscribed);
}

TEST_F(ReferClient, FinalNotifyBefore2xxEndsAfterThe2xx) {
    send();
    feed(ctx, clock.now(), frag("SIP/2.0 200 OK", terminated));
    EXPECT_FALSE(ctx.ended());  // waits for the REFER's answer
    EXPECT_EQ(kinds(drain(ctx)), (std::vector<K>{K::refer_accepted, K::notify}));
    ctx.on_response(clock.now(), resp(202));
    auto ev = drain(ctx);
    EXPECT_EQ(kinds(ev), (std::vector<K>{K::refer_request_accepted, K::ended}));
    EXPECT_EQ(ev.back().outcome, ReferOutcome::accepted);
}

TEST_F(ReferClient, NotifyWaitExpires32sAfter2xx) {
    send();
    clock.advance_by(2s);
    ctx.on_response(clock.now(), resp(202));
    drain(ctx);
    EXPECT_EQ(ctx.next_deadline(), Time{34s});
    clock.advance_to(Time{33s});
    ctx.on_timer(clock.now());
    EXPECT_FALSE(ctx.ended());
    clock.advance_to(*ctx.next_deadline());
    ctx.on_timer(clock.now());
    auto ev = drain(ctx);
    EXPECT_EQ(kinds(ev), (std::vector<K>{K::ended}));
    EXPECT_EQ(ev[0].outcome, ReferOutcome::unknown);
    EXPECT_EQ(ev[0].cause, ReferCause::no_notify);
}

TEST_F(ReferClient, NotifyWaitConfigurable) {
    ReferClientContext c({.notify_wait = 5s});
    c.refer_sent(clock.now(), 7);
    c.on_response(clock.now(), resp(200));
    EXPECT_EQ(c.next_deadline(), Time{5s});
}

TEST_F(ReferClient, TerminatedWithoutFinalSipfragIsUnknown) {
    send();
    ctx.on_response(clock.now(), resp(202));
    feed(ctx, clock.now(), frag("SIP/2.0 100 Trying", "Subscription-State: terminated;reason=timeout"));
    auto ev = drain(ctx);
    EXPECT_EQ(kinds(ev), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify, K::ended}));
    EXPECT_EQ(ev.back().outcome, ReferOutcome::unknown);
    EXPECT_EQ(ev.back().cause, ReferCause::subscription_ended);
}

TEST_F(ReferClient, RefusedTerminatedNotifyEndsUnknownWithoutNotifyEvent) {
    send();
    ctx.on_response(clock.now(), resp(202));
    auto v = feed(ctx, clock.now(), frag("garbage", terminated));
    EXPECT_EQ(v.status, 400);
    auto ev = drain(ctx);
    EXPECT_EQ(kinds(ev), (std::vector<K>{K::refer_request_accepted, K::ended}));
    EXPECT_EQ(ev.back().outcome, ReferOutcome::unknown);
    EXPECT_EQ(ev.back().cause, ReferCause::refused_notify);
}

TEST_F(ReferClient, Refused415TerminatedEndsToo) {
    send();
    ctx.on_response(clock.now(), resp(202));
    NotifySpec s = frag("SIP/2.0 200 OK", terminated);
    s.content_type = "Content-Type: text/plain";
    EXPECT_EQ(feed(ctx, clock.now(), s).status, 415);
    EXPECT_EQ(ctx.cause(), ReferCause::refused_notify);
}

TEST_F(ReferClient, RefusedActiveNotifyChangesNothing) {
    send();
    ctx.on_response(clock.now(), resp(202));
    drain(ctx);
    EXPECT_EQ(feed(ctx, clock.now(), frag("garbage")).status, 400);
    EXPECT_TRUE(drain(ctx).empty());
    EXPECT_TRUE(ctx.live());
}

TEST_F(ReferClient, ExpiryWithoutRefreshingNotifyIsUnknown) {
    send();
    ctx.on_response(clock.now(), resp(202));
    feed(ctx, clock.now(), frag("SIP/2.0 100 Trying", "Subscription-State: active;expires=100"));
    drain(ctx);
    clock.advance_to(*ctx.next_deadline());  // refresh point: 100 - 32 s
    EXPECT_EQ(clock.now(), Time{68s});
    ctx.on_timer(clock.now());
    EXPECT_TRUE(ctx.take_refresh());
    EXPECT_FALSE(ctx.ended());
    clock.advance_to(*ctx.next_deadline());
    ctx.on_timer(clock.now());
    EXPECT_EQ(clock.now(), Time{100s});
    EXPECT_EQ(ctx.cause(), ReferCause::subscription_expired);
    EXPECT_EQ(ctx.outcome(), ReferOutcome::unknown);
}

TEST_F(ReferClient, PendingStateHonoured) {
    send();
    ctx.on_response(clock.now(), resp(202));
    feed(ctx, clock.now(), frag("SIP/2.0 100 Trying", "Subscription-State: pending;expires=50"));
    EXPECT_EQ(ctx.subscriber().state(), SubscriberState::pending);
    EXPECT_EQ(ctx.subscriber().expires_at(), Time{50s});
}

TEST_F(ReferClient, ReferSubFalseEchoedMeansNoSubscription) {
    ReferClientContext c({.refer_sub = false});
    c.refer_sent(clock.now(), 7);
    c.on_response(clock.now(), ReferResponse{.status = 200, .refer_sub_false = true});
    auto ev = drain(c);
    EXPECT_EQ(kinds(ev), (std::vector<K>{K::refer_request_accepted, K::ended}));
    EXPECT_EQ(ev.back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(ev.back().cause, ReferCause::no_subscription);
    EXPECT_FALSE(c.next_deadline());
    std::vector<std::uint32_t> live;
    if (c.live()) live.push_back(c.id());
    EXPECT_EQ(classify_refer_notify(test::notify(frag("SIP/2.0 200 OK")), live).status, 481);
}

TEST_F(ReferClient, ReferSubFalseNotEchoedKeepsSubscription) {
    ReferClientContext c({.refer_sub = false});
    c.refer_sent(clock.now(), 7);
    c.on_response(clock.now(), resp(202));
    EXPECT_EQ(c.state(), ReferState::subscribed);
    EXPECT_TRUE(c.next_deadline());
}

TEST_F(ReferClient, ReferSubFromMessage) {
    auto m = Message::parse(std::string_view(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-1\r\nFrom: <sip:a@x>;tag=1\r\n"
        "To: <sip:b@y>;tag=2\r\nCall-ID: c\r\nCSeq: 7 REFER\r\nRefer-Sub: false\r\nExpires: 90\r\n"
        "Content-Length: 0\r\n\r\n"));
    ASSERT_TRUE(m) << m.error().describe();
    ReferResponse r = refer_response_from(*m);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.reason, "OK");
    EXPECT_TRUE(r.refer_sub_false);
    EXPECT_EQ(r.expires, 90u);
}

TEST_F(ReferClient, UnsubscribeThenFinalNotify) {
    send();
    EXPECT_FALSE(ctx.unsubscribe(clock.now()));  // no subscription dialog yet
    ctx.on_response(clock.now(), resp(202));
    feed(ctx, clock.now(), frag("SIP/2.0 180 Ringing"));
    EXPECT_TRUE(ctx.unsubscribe(clock.now()));
    EXPECT_FALSE(ctx.unsubscribe(clock.now()));  // once
    feed(ctx, clock.now(), frag("SIP/2.0 180 Ringing", "Subscription-State: terminated;reason=timeout"));
    EXPECT_EQ(ctx.outcome(), ReferOutcome::unknown);
    EXPECT_EQ(ctx.cause(), ReferCause::unsubscribed);
}

TEST_F(ReferClient, UnsubscribeWithoutAnswerEndsAfterWait) {
    send();
    ctx.on_response(clock.now(), resp(202));
    feed(ctx, clock.now(), frag("SIP/2.0 180 Ringing", "Subscription-State: active;expires=3600"));
    clock.advance_by(1s);
    ASSERT_TRUE(ctx.unsubscribe(clock.now()));
    clock.advance_to(*ctx.next_deadline());
    ctx.on_timer(clock.now());
    EXPECT_EQ(clock.now(), Time{33s});
    EXPECT_EQ(ctx.cause(), ReferCause::unsubscribed);
}

TEST_F(ReferClient, DialogTerminatedDuringTransfer) {
    send();
    ctx.on_response(clock.now(), resp(202));
    feed(ctx, clock.now(), frag("SIP/2.0 180 Ringing"));
    ctx.dialog_terminated(clock.now());
    auto ev = drain(ctx);
    ASSERT_FALSE(ev.empty());
    EXPECT_EQ(ev.back().kind, K::ended);
    EXPECT_EQ(ev.back().cause, ReferCause::dialog_terminated);
    EXPECT_EQ(ev.back().outcome, ReferOutcome::unknown);
    EXPECT_FALSE(ctx.next_deadline());
}

TEST_F(ReferClient, EveryContextEndsExactlyOnce) {
    send();
    ctx.on_response(clock.now(), resp(202));
    feed(ctx, clock.now(), frag("SIP/2.0 200 OK", terminated));
    ctx.dialog_terminated(clock.now());
    ctx.shut_down(clock.now());
    ctx.on_response(clock.now(), resp(500));
    ctx.on_timer(clock.now() + 1h);
    auto ev = drain(ctx);
    EXPECT_EQ(std::count_if(ev.begin(), ev.end(), [](const ReferEvent& e) { return e.kind == K::ended; }), 1);
    EXPECT_EQ(ctx.outcome(), ReferOutcome::accepted);
}

TEST_F(ReferClient, ShutDownBeforeAnything) {
    ctx.shut_down(clock.now());
    auto ev = drain(ctx);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].cause, ReferCause::shut_down);
    EXPECT_EQ(ctx.state(), ReferState::ended);
}

TEST_F(ReferClient, ChallengeRetryChangesId) {
    send();
    ctx.refer_resent(clock.now(), 8);  // 407 answered with credentials: CSeq advanced
    EXPECT_EQ(ctx.id(), 8u);
    ctx.on_response(clock.now(), resp(202));
    NotifySpec old_id = frag("SIP/2.0 100 Trying");
    EXPECT_EQ(feed(ctx, clock.now(), old_id).status, 481);
    NotifySpec new_id = frag("SIP/2.0 200 OK", terminated);
    new_id.event = "Event: refer;id=8";
    EXPECT_EQ(feed(ctx, clock.now(), new_id).status, 200);
    EXPECT_EQ(ctx.outcome(), ReferOutcome::accepted);
}

TEST_F(ReferClient, SeveralRefersInOneDialogEachGetTheirOwnNotifies) {
    ReferClientContext a, b;
    a.refer_sent(clock.now(), 7);
    b.refer_sent(clock.now(), 9);
    a.on_response(clock.now(), resp(202));
    b.on_response(clock.now(), resp(202));
    auto route = [&](NotifySpec s) {
        std::vector<std::uint32_t> live;
        for (auto* c : {&a, &b})
            if (c->live()) live.push_back(c->id());
        auto v = classify_refer_notify(test::notify(s), live);
        for (auto* c : {&a, &b})
            if (v.id && *v.id == c->id()) c->on_notify(clock.now(), v);
        return v;
    };
    NotifySpec to_b = frag("SIP/2.0 486 Busy Here", terminated);
    to_b.event = "Event: refer;id=9";
    EXPECT_EQ(route(to_b).status, 200);
    EXPECT_EQ(b.outcome(), ReferOutcome::rejected);
    EXPECT_FALSE(a.ended());
    NotifySpec no_id = frag("SIP/2.0 200 OK", terminated);
    no_id.event = "Event: refer";
    EXPECT_EQ(route(no_id).status, 200);  // only a is live now
    EXPECT_EQ(a.outcome(), ReferOutcome::accepted);
}

TEST_F(ReferClient, NothingHappensBeforeTheReferIsSent) {
    ctx.on_response(clock.now(), resp(202));
    ctx.on_notify(clock.now(), classify_refer_notify(test::notify(frag("SIP/2.0 200 OK")), std::array<std::uint32_t, 1>{7}));
    ctx.on_timer(clock.now() + 1h);
    ctx.dialog_terminated(clock.now());
    EXPECT_TRUE(drain(ctx).empty());
    EXPECT_EQ(ctx.state(), ReferState::idle);
    EXPECT_FALSE(ctx.live());
    EXPECT_FALSE(ctx.next_deadline());
}

TEST_F(ReferClient, ProgressAfterFinalIsNotRaised) {
    // A final 2xx sipfrag with the subscription left active still decides the outcome (RFC 3515 §2.4.7).
    send();
    ctx.on_response(clock.now(), resp(202));
    feed(ctx, clock.now(), frag("SIP/2.0 200 OK"));
    auto ev = drain(ctx);
    EXPECT_EQ(kinds(ev), (std::vector<K>{K::refer_request_accepted, K::refer_accepted, K::notify, K::ended}));
    EXPECT_EQ(feed(ctx, clock.now(), frag("SIP/2.0 180 Ringing")).status, 481);
    EXPECT_TRUE(drain(ctx).empty());
}

TEST(ReferEventNames, SeedNames) {
    EXPECT_EQ(sipjs_name(K::refer_request_accepted), "referRequestAccepted");
    EXPECT_EQ(sipjs_name(K::refer_request_rejected), "referRequestRejected");
    EXPECT_EQ(sipjs_name(K::refer_progress), "referProgress");
    EXPECT_EQ(sipjs_name(K::refer_accepted), "referAccepted");
    EXPECT_EQ(sipjs_name(K::refer_rejected), "referRejected");
    EXPECT_EQ(sipjs_name(K::notify), "notify");
}

}  // namespace
}  // namespace referkit
