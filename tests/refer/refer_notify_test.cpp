// NOTIFY classification for REFER subscriptions (docs/transfer-rules.md R23-R27).
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "referkit/core/refer_notify.hpp"
#include "refer_helpers.hpp"

namespace referkit {
namespace {
using test::notify;
using test::NotifySpec;

const std::array<std::uint32_t, 1> one{7};
const std::array<std::uint32_t, 2> two{7, 8};

ReferNotifyVerdict classify(const NotifySpec& s, std::span<const std::uint32_t> live = one) {
    return classify_refer_notify(notify(s), live);
}

TEST(ReferNotify, ProgressSipfragAnswered200) {
    auto v = classify({});
    EXPECT_EQ(v.status, 200);
    EXPECT_EQ(v.id, 7u);
    EXPECT_EQ(v.sipfrag_status, 100);
    EXPECT_EQ(v.sipfrag_reason, "Trying");
    EXPECT_EQ(v.kind, SipfragClass::progress);
    ASSERT_TRUE(v.sub_state);
    EXPECT_EQ(v.sub_state->state, Substate::active);
    EXPECT_EQ(v.sub_state->expires, 60u);
}

TEST(ReferNotify, SipfragClassesFollowStatus) {
    EXPECT_EQ(classify({.body = "SIP/2.0 180 Ringing"}).kind, SipfragClass::progress);
    EXPECT_EQ(classify({.body = "SIP/2.0 200 OK"}).kind, SipfragClass::accepted);
    EXPECT_EQ(classify({.body = "SIP/2.0 302 Moved Temporarily"}).kind, SipfragClass::rejected);
    EXPECT_EQ(classify({.body = "SIP/2.0 603 Declined"}).kind, SipfragClass::rejected);
}

TEST(ReferNotify, TolerantSipfrag) {
    auto busy = classify({.body = "SIP/2.0 486 Busy Here\r\n"});
    EXPECT_EQ(busy.status, 200);
    EXPECT_EQ(busy.sipfrag_status, 486);
    EXPECT_EQ(busy.sipfrag_reason, "Busy Here");
    auto empty_reason = classify({.body = "SIP/2.0 200 \r\n"});
    EXPECT_EQ(empty_reason.status, 200);
    EXPECT_EQ(empty_reason.sipfrag_status, 200);
    auto with_headers = classify({.body = "SIP/2.0 200 OK\r\nContact: <sip:carol@example.org>\r\nCSeq: 1 INVITE\r\n"});
    EXPECT_EQ(with_headers.status, 200);
    auto bare_lf = classify({.body = "sip/2.0 503 Service Unavailable\nRetry-After: 5\n"});
    EXPECT_EQ(bare_lf.status, 200);
    EXPECT_EQ(bare_lf.sipfrag_status, 503);
    auto lf_message = classify({.body = "SIP/2.0 200 OK\n", .line_end = "\n"});
    EXPECT_EQ(lf_message.status, 200);
}

TEST(ReferNotify, ContentTypeVariantsAccepted) {
    EXPECT_EQ(classify({.content_type = "Content-Type: message/sipfrag;version=2.0"}).status, 200);
    EXPECT_EQ(classify({.content_type = "Content-Type: Message/SIPFrag"}).status, 200);
    EXPECT_EQ(classify({.content_type = "c: message/sipfrag"}).status, 200);
}

TEST(ReferNotify, EventMatchingToleratesCaseSpacesAndCompactForm) {
    EXPECT_EQ(classify({.event = "o: refer;id=7"}).status, 200);
    EXPECT_EQ(classify({.event = "EVENT: REFER ; ID = 7"}).status, 200);
    EXPECT_EQ(classify({.event = "Event: Refer;id=7"}).id, 7u);
}

TEST(ReferNotify, IdSelectsAmongSeveralLive) {
    auto v = classify({.event = "Event: refer;id=8"}, two);
    EXPECT_EQ(v.status, 200);
    EXPECT_EQ(v.id, 8u);
}

TEST(ReferNotify, UnknownId481) {
    auto v = classify({.event = "Event: refer;id=9"}, two);
    EXPECT_EQ(v.status, 481);
    EXPECT_FALSE(v.id);
    EXPECT_EQ(classify({.event = "Event: refer;id=abc"}).status, 481);
}

TEST(ReferNotify, NoIdGoesToSingleLive) {
    auto v = classify({.event = "Event: refer"});
    EXPECT_EQ(v.status, 200);
    EXPECT_EQ(v.id, 7u);
}

TEST(ReferNotify, NoIdWithSeveralLiveIs400) {
    auto v = classify({.event = "Event: refer"}, two);
    EXPECT_EQ(v.status, 400);
    EXPECT_FALSE(v.id);
}

TEST(ReferNotify, NoLiveSubscription481) {
    EXPECT_EQ(classify({.event = "Event: refer"}, {}).status, 481);
    EXPECT_EQ(classify({}, {}).status, 481);
}

TEST(ReferNotify, OtherPackage489Only) {
    EXPECT_EQ(classify({.event = "Event: presence"}).status, 489);
    EXPECT_EQ(classify({.event = "Event: dialog;id=7"}).status, 489);
}

TEST(ReferNotify, MissingOrGarbledEvent400NotA489) {
    EXPECT_EQ(classify({.event = ""}).status, 400);
    EXPECT_EQ(classify({.event = "Event: ;;"}).status, 400);
}

TEST(ReferNotify, GarbledSipfrag400) {
    auto v = classify({.body = "this is not a status line"});
    EXPECT_EQ(v.status, 400);
    EXPECT_EQ(v.id, 7u);
    EXPECT_EQ(classify({.body = "SIP/2.0 99 Too Low"}).status, 400);
    EXPECT_EQ(classify({.body = "SIP/3.0 200 OK"}).status, 400);
    EXPECT_EQ(classify({.body = "INVITE sip:carol@example.org SIP/2.0\r\n"}).status, 400);
}

TEST(ReferNotify, MissingSipfrag400) {
    EXPECT_EQ(classify({.content_type = "", .body = ""}).status, 400);
    EXPECT_EQ(classify({.body = ""}).status, 400);
}

TEST(ReferNotify, WrongContentType415WithAccept) {
    auto v = classify({.content_type = "Content-Type: text/plain", .body = "SIP/2.0 200 OK"});
    EXPECT_EQ(v.status, 415);
    EXPECT_TRUE(v.add_accept_sipfrag);
}

TEST(ReferNotify, MissingSubscriptionState400) {
    auto v = classify({.sub_state = ""});
    EXPECT_EQ(v.status, 400);
    EXPECT_FALSE(v.sub_state);
}

TEST(ReferNotify, RefusedNotifyStillReportsTerminated) {
    auto v = classify({.sub_state = "Subscription-State: terminated;reason=noresource", .body = "garbage"});
    EXPECT_EQ(v.status, 400);
    ASSERT_TRUE(v.sub_state);
    EXPECT_EQ(v.sub_state->state, Substate::terminated);
    EXPECT_EQ(v.sub_state->reason, TerminationReason::noresource);
    EXPECT_EQ(v.id, 7u);
}

TEST(ReferNotify, SubscriptionStateVariants) {
    auto p = classify({.sub_state = "Subscription-State: pending;expires=30"});
    ASSERT_TRUE(p.sub_state);
    EXPECT_EQ(p.sub_state->state, Substate::pending);
    EXPECT_EQ(p.sub_state->expires, 30u);
    auto t = classify({.sub_state = "Subscription-State: terminated;reason=timeout", .body = "SIP/2.0 200 OK"});
    ASSERT_TRUE(t.sub_state);
    EXPECT_EQ(t.sub_state->state, Substate::terminated);
    EXPECT_EQ(t.sub_state->reason, TerminationReason::timeout);
    EXPECT_EQ(t.kind, SipfragClass::accepted);
}

// R35: a malformed parameter is skipped and noted, the NOTIFY answered 200 with what could be read.
TEST(ReferNotify, MalformedParametersAreSkippedAndNoted) {
    auto v = classify({.sub_state = "Subscription-State: terminated;reason=reason=noresource", .body = "SIP/2.0 200 Ok"});
    EXPECT_EQ(v.status, 200);
    ASSERT_TRUE(v.sub_state);
    EXPECT_EQ(v.sub_state->state, Substate::terminated);
    EXPECT_EQ(v.kind, SipfragClass::accepted);
    EXPECT_EQ(v.sipfrag_status, 200);
    EXPECT_NE(v.tolerated.find("Subscription-State"), std::string::npos) << v.tolerated;
    auto e = classify({.event = "Event: refer;id=7;vendor=\"unterminated"});
    EXPECT_EQ(e.status, 200);
    EXPECT_EQ(e.id, 7u);
    EXPECT_NE(e.tolerated.find("Event"), std::string::npos) << e.tolerated;
    EXPECT_EQ(classify({}).tolerated, "");
    // What cannot be read around is still refused.
    EXPECT_EQ(classify({.sub_state = "Subscription-State: ;reason=noresource"}).status, 400);
    EXPECT_EQ(classify({.event = "Event: refer;id=abc;x=a=b"}).status, 481);
}

}  // namespace
}  // namespace referkit
