// The tolerant readings of Event and Subscription-State (headers.hpp: Tolerated; RFC 3261 §7.3.1):
// what a strict parse refuses because of one malformed parameter is read around it, the rest kept;
// a malformed leading value or a limit exceeded is still an error.
#include <gtest/gtest.h>

#include <string>

#include "referkit/core/headers.hpp"
#include "referkit/core/message.hpp"

namespace referkit {
namespace {

TEST(TolerantHeaders, WellFormedValuesAreTheStrictParse) {
    auto ss = parse_subscription_state_tolerant("terminated;reason=noresource;retry-after=5");
    ASSERT_TRUE(ss);
    EXPECT_FALSE(ss->ignored);
    EXPECT_EQ(ss->value.state, Substate::terminated);
    EXPECT_EQ(ss->value.reason, "noresource");
    EXPECT_EQ(ss->value.retry_after, 5u);
    auto ev = parse_event_tolerant("refer;id=93809824");
    ASSERT_TRUE(ev);
    EXPECT_FALSE(ev->ignored);
    EXPECT_EQ(ev->value.id, "93809824");
}

TEST(TolerantHeaders, DoubledReasonIsSkippedAndTheStateKept) {
    // What linphone 5.1 writes in its final NOTIFY.
    const std::string_view text = "terminated;reason=reason=noresource";
    ASSERT_FALSE(parse_subscription_state(text));
    auto ss = parse_subscription_state_tolerant(text);
    ASSERT_TRUE(ss);
    EXPECT_EQ(ss->value.state, Substate::terminated);
    EXPECT_EQ(ss->value.value, "terminated");
    EXPECT_EQ(ss->value.reason, "");
    ASSERT_TRUE(ss->ignored);
    EXPECT_EQ(ss->ignored->code, ErrorCode::bad_param);
    EXPECT_EQ(ss->ignored->offset, text.find("reason"));
}

TEST(TolerantHeaders, GoodParametersAroundABadOneAreKept) {
    auto ss = parse_subscription_state_tolerant("active ; expires=abc ; reason=timeout;retry-after=30;x=\"a;b\"");
    ASSERT_TRUE(ss);
    EXPECT_EQ(ss->value.state, Substate::active);
    EXPECT_FALSE(ss->value.expires);  // skipped
    EXPECT_EQ(ss->value.reason, "timeout");
    EXPECT_EQ(ss->value.retry_after, 30u);
    ASSERT_TRUE(ss->ignored);
    auto junk = parse_subscription_state_tolerant("pending junk;expires=10");
    ASSERT_TRUE(junk);
    EXPECT_EQ(junk->value.state, Substate::pending);
    EXPECT_EQ(junk->value.expires, 10u);
    EXPECT_TRUE(junk->ignored);
}

TEST(TolerantHeaders, NoStateOrALimitIsStillAnError) {
    EXPECT_FALSE(parse_subscription_state_tolerant(""));
    EXPECT_FALSE(parse_subscription_state_tolerant(";reason=noresource"));
    std::string many = "active";
    for (int i = 0; i < 80; ++i) many += ";p" + std::to_string(i) + "=1";
    Limits limits;
    limits.max_params = 64;
    auto r = parse_subscription_state_tolerant(many, limits);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::too_many_params);
}

TEST(TolerantHeaders, EventKeepsItsIdPastABadParameter) {
    auto ev = parse_event_tolerant("refer;x=a=b;id=7");
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->value.package, "refer");
    EXPECT_TRUE(ev->value.has_id);
    EXPECT_EQ(ev->value.id, "7");
    EXPECT_TRUE(ev->ignored);
    auto twice = parse_event_tolerant("refer;id=7;id=8");  // which one? neither
    ASSERT_TRUE(twice);
    EXPECT_FALSE(twice->value.has_id);
    EXPECT_FALSE(parse_event_tolerant("..;id=7"));
    EXPECT_FALSE(parse_event_tolerant(";id=7"));
}

TEST(TolerantHeaders, MessageAccessorsGiveOffsetsInTheMessage) {
    const std::string text =
        "NOTIFY sip:alice@192.0.2.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK1\r\n"
        "From: <sip:bob@192.0.2.2>;tag=b\r\nTo: <sip:alice@192.0.2.1>;tag=a\r\n"
        "Call-ID: c1\r\nCSeq: 3 NOTIFY\r\nMax-Forwards: 70\r\n"
        "Event: refer;id=2\r\nSubscription-State: terminated;reason=reason=noresource\r\n"
        "Content-Length: 0\r\n\r\n";
    auto m = Message::parse(text);
    ASSERT_TRUE(m);
    EXPECT_FALSE(m->subscription_state());
    auto ss = m->subscription_state_tolerant();
    ASSERT_TRUE(ss);
    EXPECT_EQ(ss->value.state, Substate::terminated);
    ASSERT_TRUE(ss->ignored);
    EXPECT_EQ(ss->ignored->offset, text.find("reason=reason"));
    auto ev = m->event_tolerant();
    ASSERT_TRUE(ev);
    EXPECT_FALSE(ev->ignored);
}

}  // namespace
}  // namespace referkit
