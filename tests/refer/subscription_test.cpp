// RFC 6665 subscriber and notifier state machines on the virtual clock.
#include <gtest/gtest.h>

#include "referkit/core/subscription.hpp"
#include "sim_network.hpp"

namespace referkit {
namespace {
using namespace std::chrono_literals;

SubscriptionState ss(Substate st, std::optional<std::uint32_t> expires = std::nullopt, std::string_view reason = {}) {
    SubscriptionState s;
    s.state = st;
    s.expires = expires;
    s.reason = reason;
    return s;
}

// Runs the timers of `m` up to `t` on `clock`, deadline by deadline (never skipping one).
template <class M>
void run_until(sim::VirtualClock& clock, M& m, Time t) {
    for (int guard = 0; guard < 1000; ++guard) {
        auto d = m.next_deadline();
        if (!d || *d > t) break;
        clock.advance_to(*d);
        m.on_timer(clock.now());
    }
    clock.advance_to(t);
}

TEST(Subscriber, TimerNExpiresWithoutNotify) {
    sim::VirtualClock clock;
    Subscriber s;
    s.request_sent(clock.now());
    EXPECT_EQ(s.state(), SubscriberState::notify_wait);
    EXPECT_EQ(s.next_deadline(), clock.now() + 32s);
    run_until(clock, s, Time{31s});
    EXPECT_FALSE(s.ended());
    run_until(clock, s, Time{33s});
    EXPECT_TRUE(s.ended());
    EXPECT_EQ(s.end(), SubscriberEnd::no_notify);
    EXPECT_FALSE(s.next_deadline());
}

TEST(Subscriber, NotifyWaitRestartsAt2xx) {
    sim::VirtualClock clock;
    Subscriber s({.notify_wait = 10s});
    s.request_sent(clock.now());
    clock.advance_by(4s);
    s.request_accepted(clock.now());
    EXPECT_EQ(s.next_deadline(), Time{14s});
    run_until(clock, s, Time{13s});
    EXPECT_FALSE(s.ended());
    run_until(clock, s, Time{14s});
    EXPECT_EQ(s.end(), SubscriberEnd::no_notify);
}

TEST(Subscriber, ActiveNotifySetsExpiryAndRefresh) {
    sim::VirtualClock clock;
    Subscriber s({.notify_wait = 32s, .refresh_margin = 32s});
    s.request_sent(clock.now());
    s.request_accepted(clock.now());
    clock.advance_by(1s);
    EXPECT_EQ(s.on_notify(clock.now(), ss(Substate::active, 120)), NotifyEffect::updated);
    EXPECT_EQ(s.state(), SubscriberState::active);
    EXPECT_EQ(s.expires_at(), Time{121s});
    EXPECT_EQ(s.refresh_at(), Time{89s});
    run_until(clock, s, Time{88s});
    EXPECT_FALSE(s.take_refresh());
    run_until(clock, s, Time{89s});
    EXPECT_TRUE(s.take_refresh());
    EXPECT_FALSE(s.take_refresh());  // once per deadline
    run_until(clock, s, Time{121s});
    EXPECT_EQ(s.end(), SubscriberEnd::expired);
}

TEST(Subscriber, ShortExpiryRefreshesAtHalf) {
    sim::VirtualClock clock;
    Subscriber s;
    s.request_sent(clock.now());
    (void)s.on_notify(clock.now(), ss(Substate::active, 20));
    EXPECT_EQ(s.refresh_at(), Time{10s});
}

TEST(Subscriber, NotifyBefore2xxCreatesSubscription) {
    sim::VirtualClock clock;
    Subscriber s;
    s.request_sent(clock.now());
    EXPECT_EQ(s.on_notify(clock.now(), ss(Substate::pending, 60)), NotifyEffect::updated);
    EXPECT_EQ(s.state(), SubscriberState::pending);
    s.request_accepted(clock.now() + 1s, 30);  // the NOTIFY's expires stays authoritative
    EXPECT_EQ(s.expires_at(), Time{60s});
    s.request_failed();  // a late failure does not undo a subscription a NOTIFY created
    EXPECT_EQ(s.state(), SubscriberState::pending);
}

TEST(Subscriber, TerminatedNotifyEnds) {
    sim::VirtualClock clock;
    Subscriber s;
    s.request_sent(clock.now());
    (void)s.on_notify(clock.now(), ss(Substate::active, 60));
    SubscriptionState t = ss(Substate::terminated, 99, "probation");
    t.retry_after = 30;
    EXPECT_EQ(s.on_notify(clock.now(), t), NotifyEffect::terminated);
    EXPECT_EQ(s.end(), SubscriberEnd::notified);
    EXPECT_EQ(s.end_reason(), TerminationReason::probation);
    EXPECT_EQ(s.retry_after(), 30u);
    EXPECT_EQ(s.on_notify(clock.now(), ss(Substate::active, 60)), NotifyEffect::after_end);
    EXPECT_FALSE(s.next_deadline());
}

TEST(Subscriber, RejectedRequest) {
    Subscriber s;
    s.request_sent(Time{});
    s.request_failed();
    EXPECT_EQ(s.end(), SubscriberEnd::rejected);
}

TEST(Subscriber, UnsubscribeWaitsForFinalNotifyBounded) {
    sim::VirtualClock clock;
    Subscriber s({.notify_wait = 5s});
    s.request_sent(clock.now());
    (void)s.on_notify(clock.now(), ss(Substate::active, 600));
    clock.advance_by(10s);
    s.unsubscribe_sent(clock.now());
    EXPECT_EQ(s.next_deadline(), Time{15s});
    run_until(clock, s, Time{15s});
    EXPECT_TRUE(s.ended());
    EXPECT_EQ(s.end(), SubscriberEnd::expired);
}

TEST(Subscriber, UnknownSubstateTreatedAsActive) {
    Subscriber s;
    s.request_sent(Time{});
    EXPECT_EQ(s.on_notify(Time{}, ss(Substate::other)), NotifyEffect::updated);
    EXPECT_EQ(s.state(), SubscriberState::active);
}

TEST(Subscriber, EndLocallyIdempotent) {
    Subscriber s;
    s.request_sent(Time{});
    s.end_locally();
    s.end_locally();
    EXPECT_EQ(s.end(), SubscriberEnd::local);
}

TEST(TerminationReason, ParsesKnownAndUnknown) {
    EXPECT_EQ(parse_termination_reason("NoResource"), TerminationReason::noresource);
    EXPECT_EQ(parse_termination_reason(""), TerminationReason::none);
    EXPECT_EQ(parse_termination_reason("x-custom"), TerminationReason::other);
    EXPECT_EQ(to_string(TerminationReason::giveup), "giveup");
}

TEST(Notifier, StateHeaderCountsDown) {
    sim::VirtualClock clock;
    Notifier n(clock.now(), {.expires = 60});
    EXPECT_EQ(n.state_header(clock.now()), "active;expires=60");
    clock.advance_by(1500ms);
    EXPECT_EQ(n.state_header(clock.now()), "active;expires=59");
}

TEST(Notifier, PendingThenActive) {
    Notifier n(Time{}, {.expires = 30, .start_pending = true});
    EXPECT_EQ(n.state(), NotifierState::pending);
    EXPECT_EQ(n.state_header(Time{}), "pending;expires=30");
    n.activate();
    EXPECT_EQ(n.state(), NotifierState::active);
}

TEST(Notifier, TerminateGivesFinalNotifyOnce) {
    Notifier n(Time{});
    n.terminate(TerminationReason::noresource);
    n.terminate(TerminationReason::timeout);  // first reason wins
    EXPECT_EQ(n.state_header(Time{}), "terminated;reason=noresource");
    EXPECT_TRUE(n.take_final_notify());
    EXPECT_FALSE(n.take_final_notify());
    EXPECT_FALSE(n.next_deadline());
}

TEST(Notifier, ExpiresWithTimeout) {
    sim::VirtualClock clock;
    Notifier n(clock.now(), {.expires = 10});
    run_until(clock, n, Time{9s});
    EXPECT_EQ(n.state(), NotifierState::active);
    run_until(clock, n, Time{10s});
    EXPECT_EQ(n.state(), NotifierState::terminated);
    EXPECT_EQ(n.state_header(clock.now()), "terminated;reason=timeout");
}

TEST(Notifier, RefreshExtendsAndZeroUnsubscribes) {
    sim::VirtualClock clock;
    Notifier n(clock.now(), {.expires = 10});
    clock.advance_by(5s);
    n.refresh(clock.now(), 30);
    EXPECT_EQ(n.expires_at(), Time{35s});
    n.refresh(clock.now(), 0);
    EXPECT_EQ(n.state(), NotifierState::terminated);
    EXPECT_EQ(n.reason(), TerminationReason::timeout);
    EXPECT_TRUE(n.take_final_notify());
}

}  // namespace
}  // namespace referkit
