// The transferee side, pure: ReferServerContext (RFC 3515 §2.4, RFC 4488, RFC 6665 §4.2) and the
// RFC 3891 §3 Replaces decision, on a virtual clock (time is an argument).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "referkit/core/refer_server.hpp"
#include "referkit/core/replaces.hpp"
#include "referkit/core/stack_config.hpp"

namespace referkit {
namespace {
using namespace std::chrono_literals;

constexpr Time t0 = Time{1'000'000'000};

std::string request_text(std::string_view method, const std::vector<std::string>& extra, bool in_dialog = true,
                         std::uint32_t cseq = 5) {
    std::string m = std::string(method) + " sip:bob@192.0.2.2:5060 SIP/2.0\r\n"
                    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-r1\r\n"
                    "Max-Forwards: 70\r\n"
                    "From: <sip:alice@example.com>;tag=at\r\n" +
                    std::string(in_dialog ? "To: <sip:bob@example.org>;tag=bt\r\n" : "To: <sip:bob@example.org>\r\n") +
                    "Call-ID: call-1@example.com\r\n"
                    "CSeq: " + std::to_string(cseq) + " " + std::string(method) + "\r\n"
                    "Contact: <sip:alice@192.0.2.1>\r\n";
    for (const std::string& h : extra) m += h + "\r\n";
    m += "Content-Length: 0\r\n\r\n";
    return m;
}

Message parse(const std::string& text) {
    auto m = Message::parse(text);
    if (!m) throw std::runtime_error("test message does not parse: " + m.error().describe());
    return std::move(*m);
}

Message refer(const std::vector<std::string>& extra, bool in_dialog = true, std::uint32_t cseq = 5) {
    return parse(request_text("REFER", extra, in_dialog, cseq));
}

ReferServerContext make(const std::vector<std::string>& extra, ReferServerOptions options = {}) {
    auto ctx = ReferServerContext::from_request(refer(extra), options);
    if (!ctx) throw std::runtime_error("REFER refused: " + ctx.error().detail);
    return std::move(*ctx);
}

std::string header(const HeaderList& h, std::string_view name) {
    for (const auto& [n, v] : h)
        if (n == name) return v;
    return "<absent>";
}

std::vector<ReferServerEvent> drain(ReferServerContext& ctx) {
    std::vector<ReferServerEvent> out;
    while (auto e = ctx.poll_event()) out.push_back(*e);
    return out;
}

// ---------------------------------------------------------------- validation

TEST(ReferServerValidate, ReadsTargetIdReferredByAndDialog) {
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3;transport=udp>", "Referred-By: <sip:alice@example.com>"});
    EXPECT_EQ(ctx.target().uri, "sip:carol@192.0.2.3;transport=udp");
    EXPECT_EQ(ctx.target().method, "INVITE");
    EXPECT_EQ(ctx.refer_to(), "<sip:carol@192.0.2.3;transport=udp>");
    EXPECT_EQ(ctx.referred_by(), "<sip:alice@example.com>");
    EXPECT_EQ(ctx.id(), 5u);
    EXPECT_TRUE(ctx.in_dialog());
    EXPECT_TRUE(ctx.subscription());
    EXPECT_EQ(ctx.state(), ReferServerState::received);
    EXPECT_FALSE(ctx.poll_event());  // nothing happened yet
}

TEST(ReferServerValidate, OutOfDialogAndCompactForm) {
    auto ctx = ReferServerContext::from_request(refer({"r: sip:carol@192.0.2.3"}, false, 1));
    ASSERT_TRUE(ctx);
    EXPECT_FALSE(ctx->in_dialog());
    EXPECT_EQ(ctx->id(), 1u);
    EXPECT_EQ(ctx->target().uri, "sip:carol@192.0.2.3");
    EXPECT_EQ(ctx->referred_by(), "");
}

TEST(ReferServerValidate, BadRefersAre400) {
    struct Case {
        const char* name;
        std::vector<std::string> headers;
    };
    const std::vector<Case> cases = {
        {"no Refer-To", {}},
        {"two Refer-To", {"Refer-To: <sip:carol@192.0.2.3>", "Refer-To: <sip:dave@192.0.2.4>"}},
        {"two values in one line", {"Refer-To: <sip:carol@192.0.2.3>, <sip:dave@192.0.2.4>"}},
        {"unparseable", {"Refer-To: <sip:carol@"}},
        {"http scheme", {"Refer-To: <http://example.com/>"}},
        {"malformed embedded Replaces", {"Refer-To: <sip:carol@192.0.2.3?Replaces=%3Bto-tag%3D1>"}},
        {"repeated embedded Replaces",
         {"Refer-To: <sip:carol@192.0.2.3?Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2&Replaces=b%3Bto-tag%3D1%3Bfrom-tag%3D2>"}},
        {"malformed Referred-By", {"Refer-To: <sip:carol@192.0.2.3>", "Referred-By: <sip:alice@"}},
        {"malformed Refer-Sub", {"Refer-To: <sip:carol@192.0.2.3>", "Refer-Sub: maybe"}},
    };
    for (const Case& c : cases) {
        auto ctx = ReferServerContext::from_request(refer(c.headers));
        ASSERT_FALSE(ctx) << c.name;
        EXPECT_EQ(ctx.error().status, 400) << c.name;
        EXPECT_EQ(ctx.error().reason, "Bad Request") << c.name;
        EXPECT_FALSE(ctx.error().detail.empty()) << c.name;
    }
}

TEST(ReferServerValidate, NotAReferIs400) {
    auto ctx = ReferServerContext::from_request(parse(request_text("MESSAGE", {"Refer-To: <sip:carol@192.0.2.3>"})));
    ASSERT_FALSE(ctx);
    EXPECT_EQ(ctx.error().status, 400);
}

TEST(ReferServerValidate, ReferSubFalseHonouredWithOrWithoutNorefersub) {
    // RFC 4488 §4 asks nothing of the issuer's Supported: the 2xx's echo tells it.
    EXPECT_FALSE(make({"Refer-To: <sip:c@192.0.2.3>", "Refer-Sub: false"}).subscription());
    EXPECT_FALSE(make({"Refer-To: <sip:c@192.0.2.3>", "Refer-Sub: false", "Supported: replaces, norefersub"})
                     .subscription());
    EXPECT_FALSE(make({"Refer-To: <sip:c@192.0.2.3>", "Refer-Sub: false", "Require: norefersub"}).subscription());
    EXPECT_TRUE(make({"Refer-To: <sip:c@192.0.2.3>", "Refer-Sub: true", "Supported: norefersub"}).subscription());
    EXPECT_TRUE(make({"Refer-To: <sip:c@192.0.2.3>", "Refer-Sub: false", "Supported: norefersub"},
                     ReferServerOptions{.allow_no_subscription = false})
                    .subscription());
}

TEST(ReferServerValidate, InviteHeadersFollowThePolicy) {
    std::vector<std::string> h = {
        "Refer-To: <sip:carol@192.0.2.3?Replaces=abc%40h%3Bto-tag%3D7%3Bfrom-tag%3D8&Subject=hi&Call-ID=x>",
        "Referred-By: <sip:alice@example.com>"};
    auto only = make(h).invite_headers();
    ASSERT_EQ(only.size(), 2u);
    EXPECT_EQ(only[0], (std::pair<std::string, std::string>{"Referred-By", "<sip:alice@example.com>"}));
    EXPECT_EQ(only[1], (std::pair<std::string, std::string>{"Replaces", "abc@h;to-tag=7;from-tag=8"}));
    auto all = make(h, ReferServerOptions{.embedded = EmbeddedHeaderPolicy::honoured}).invite_headers();
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[2].first, "Subject");  // Call-ID is never honoured (RFC 3261 §19.1.5)
    auto none = make(h, ReferServerOptions{.embedded = EmbeddedHeaderPolicy::none}).invite_headers();
    ASSERT_EQ(none.size(), 1u);
    EXPECT_EQ(none[0].first, "Referred-By");
    EXPECT_EQ(make(h).target().uri, "sip:carol@192.0.2.3");
}

// ---------------------------------------------------------------- answering

TEST(ReferServerAnswer, AcceptIs202WithNorefersubAndQueues100Trying) {
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"});
    auto a = ctx.accept(t0);
    EXPECT_EQ(a.status, 202);
    EXPECT_EQ(a.reason, "Accepted");
    EXPECT_EQ(header(a.headers, "Supported"), "norefersub");
    EXPECT_EQ(header(a.headers, "Refer-Sub"), "<absent>");
    EXPECT_EQ(ctx.state(), ReferServerState::active);
    auto n = ctx.poll_notify(t0);
    ASSERT_TRUE(n);
    EXPECT_EQ(header(n->headers, "Event"), "refer;id=5");
    EXPECT_EQ(header(n->headers, "Subscription-State"), "active;expires=60");
    EXPECT_EQ(n->content_type, "message/sipfrag");
    EXPECT_EQ(n->body, "SIP/2.0 100 Trying\r\n");
    EXPECT_FALSE(n->final);
    EXPECT_FALSE(ctx.poll_notify(t0));  // one NOTIFY in flight at a time
    EXPECT_TRUE(ctx.notify_in_flight());
    // A second accept does nothing.
    EXPECT_EQ(ctx.accept(t0).status, 0);
}

TEST(ReferServerAnswer, Answer200Option) {
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"}, ReferServerOptions{.answer_200 = true});
    auto a = ctx.accept(t0);
    EXPECT_EQ(a.status, 200);
    EXPECT_TRUE(ctx.subscription());
    EXPECT_TRUE(ctx.poll_notify(t0));
}

TEST(ReferServerAnswer, ReferSubFalseAgreedIs200WithEchoAndNoNotify) {
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>", "Refer-Sub: false", "Supported: norefersub"});
    auto a = ctx.accept(t0);
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(header(a.headers, "Refer-Sub"), "false");
    EXPECT_EQ(header(a.headers, "Supported"), "norefersub");
    EXPECT_TRUE(ctx.done());
    EXPECT_TRUE(ctx.accepted());
    EXPECT_EQ(ctx.cause(), ReferServerCause::no_subscription);
    EXPECT_FALSE(ctx.poll_notify(t0));
    ctx.reference_progress(t0, 180, "Ringing");
    ctx.reference_final(t0, 200, "OK");
    EXPECT_FALSE(ctx.poll_notify(t0));
    EXPECT_EQ(ctx.reference_final_status(), 200);  // still tracked for the application
    auto ev = drain(ctx);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, ReferServerEventKind::ended);
    EXPECT_FALSE(ctx.next_deadline());
}

TEST(ReferServerAnswer, RejectDefaultsTo603AndEndsOnce) {
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"});
    auto a = ctx.reject(42);
    EXPECT_EQ(a.status, 603);
    EXPECT_EQ(a.reason, "Decline");
    EXPECT_TRUE(ctx.done());
    EXPECT_EQ(ctx.cause(), ReferServerCause::rejected);
    EXPECT_EQ(ctx.reject(486).status, 0);  // already answered
    EXPECT_EQ(ctx.accept(t0).status, 0);
    auto ev = drain(ctx);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].cause, ReferServerCause::rejected);
    EXPECT_EQ(ev[0].status, 603);
    EXPECT_FALSE(ctx.poll_notify(t0));

    auto busy = make({"Refer-To: <sip:carol@192.0.2.3>"});
    auto b = busy.reject(486, "Not Now");
    EXPECT_EQ(b.status, 486);
    EXPECT_EQ(b.reason, "Not Now");
}

TEST(ReferServerAnswer, DefaultPolicyAcceptsSipAndSipsInviteOnly) {
    auto decide = [](std::string refer_to) {
        auto ctx = make({"Refer-To: " + refer_to});
        return ctx.decide({}, t0).status;
    };
    EXPECT_EQ(decide("<sip:carol@192.0.2.3>"), 202);
    EXPECT_EQ(decide("<sips:carol@example.com>"), 202);
    EXPECT_EQ(decide("<tel:+15550100>"), 603);                           // RFC 3515 §2.4.2
    EXPECT_EQ(decide("<sip:carol@192.0.2.3;method=BYE>"), 603);          // we only place INVITEs
    EXPECT_EQ(decide("<sip:carol@192.0.2.3;method=INVITE>"), 202);
}

TEST(ReferServerAnswer, ApplicationPolicyDecides) {
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"});
    std::string seen;
    auto a = ctx.decide(
        [&](const ReferServerContext& c) {
            seen = c.target().uri;
            return ReferDecision{.verdict = ReferVerdict::reject, .status = 403, .reason = "Not Allowed"};
        },
        t0);
    EXPECT_EQ(seen, "sip:carol@192.0.2.3");
    EXPECT_EQ(a.status, 403);
    EXPECT_EQ(a.reason, "Not Allowed");
}

// ---------------------------------------------------------------- notifications

TEST(ReferServerNotify, ProgressThenSuccessInOrderOneAtATime) {
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"});
    (void)ctx.accept(t0);
    auto n100 = ctx.poll_notify(t0);
    ASSERT_TRUE(n100);
    ctx.reference_progress(t0 + 1s, 180, "Ringing");
    ctx.reference_progress(t0 + 1s, 180, "Ringing");  // repeated: once
    EXPECT_FALSE(ctx.poll_notify(t0 + 1s));              // 100 still in flight
    ctx.notify_answered(t0 + 2s, 200);
    auto n180 = ctx.poll_notify(t0 + 2s);
    ASSERT_TRUE(n180);
    EXPECT_EQ(n180->body, "SIP/2.0 180 Ringing\r\n");
    EXPECT_EQ(header(n180->headers, "Subscription-State"), "active;expires=58");
    ctx.reference_final(t0 + 3s, 200, "OK");
    EXPECT_EQ(ctx.state(), ReferServerState::terminating);
    EXPECT_FALSE(ctx.next_deadline());
    EXPECT_FALSE(ctx.poll_notify(t0 + 3s));
    ctx.notify_answered(t0 + 3s, 200);
    auto fin = ctx.poll_notify(t0 + 3s);
    ASSERT_TRUE(fin);
    EXPECT_TRUE(fin->final);
    EXPECT_EQ(fin->body, "SIP/2.0 200 OK\r\n");
    EXPECT_EQ(header(fin->headers, "Subscription-State"), "terminated;reason=noresource");
    EXPECT_EQ(header(fin->headers, "Event"), "refer;id=5");
    EXPECT_FALSE(ctx.poll_notify(t0 + 3s));
    EXPECT_FALSE(ctx.done());
    ctx.notify_answered(t0 + 4s, 200);
    EXPECT_TRUE(ctx.done());
    EXPECT_EQ(ctx.cause(), ReferServerCause::final_notify);
    EXPECT_FALSE(ctx.poll_notify(t0 + 4s));
    auto ev = drain(ctx);
    ASSERT_EQ(ev.size(), 4u);
    EXPECT_EQ(ev[0].status, 100);
    EXPECT_EQ(ev[1].status, 180);
    EXPECT_EQ(ev[2].status, 200);
    EXPECT_EQ(ev[2].kind, ReferServerEventKind::notified);
    EXPECT_EQ(ev[3].kind, ReferServerEventKind::ended);
    EXPECT_EQ(ev[3].cause, ReferServerCause::final_notify);
    // Later inputs change nothing.
    ctx.reference_final(t0 + 5s, 486, "Busy Here");
    ctx.notify_answered(t0 + 5s, 200);
    EXPECT_FALSE(ctx.poll_event());
    EXPECT_EQ(ctx.reference_final_status(), 200);
}

TEST(ReferServerNotify, FailedInviteGivesItsStatusAndSynthesisedOnes) {
    for (auto [status, reason, expect] :
         {std::tuple{486, "Busy Here", "SIP/2.0 486 Busy Here\r\n"}, std::tuple{408, "", "SIP/2.0 408 Request Timeout\r\n"},
          std::tuple{503, "", "SIP/2.0 503 Service Unavailable\r\n"}}) {
        auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"});
        (void)ctx.accept(t0);
        ASSERT_TRUE(ctx.poll_notify(t0));
        ctx.notify_answered(t0, 200);
        ctx.reference_final(t0 + 1s, status, reason);
        auto fin = ctx.poll_notify(t0 + 1s);
        ASSERT_TRUE(fin);
        EXPECT_EQ(fin->body, expect);
        EXPECT_EQ(fin->sipfrag_status, status);
        EXPECT_EQ(header(fin->headers, "Subscription-State"), "terminated;reason=noresource");
        ctx.notify_answered(t0 + 1s, 200);
        EXPECT_EQ(ctx.cause(), ReferServerCause::final_notify);
    }
}

TEST(ReferServerNotify, FinalBeforeTheFirstNotifyIsAnsweredStillFollows100) {
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"});
    (void)ctx.accept(t0);
    ctx.reference_final(t0, 200, "OK");  // before 100 was even polled
    auto a = ctx.poll_notify(t0);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->sipfrag_status, 100);
    EXPECT_EQ(header(a->headers, "Subscription-State"), "active;expires=60");  // not the last one
    ctx.notify_answered(t0, 200);
    auto b = ctx.poll_notify(t0);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->sipfrag_status, 200);
    EXPECT_TRUE(b->final);
}

TEST(ReferServerNotify, QueueIsBoundedAndKeepsTheNewestState) {
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"}, ReferServerOptions{.max_queued_notifies = 2});
    (void)ctx.accept(t0);
    ASSERT_TRUE(ctx.poll_notify(t0));  // 100 in flight
    for (int s : {180, 181, 182, 183}) ctx.reference_progress(t0, s, "");
    ctx.reference_final(t0, 200, "OK");
    std::vector<int> sent;
    ctx.notify_answered(t0, 200);
    while (auto n = ctx.poll_notify(t0)) {
        sent.push_back(n->sipfrag_status);
        ctx.notify_answered(t0, 200);
    }
    EXPECT_EQ(sent, (std::vector<int>{180, 183, 200}));
    EXPECT_EQ(ctx.cause(), ReferServerCause::final_notify);
}

TEST(ReferServerNotify, RefreshAnswers200AndNotifiesCurrentState) {
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"});
    (void)ctx.accept(t0);
    ASSERT_TRUE(ctx.poll_notify(t0));
    ctx.notify_answered(t0, 200);
    ctx.reference_progress(t0 + 1s, 180, "Ringing");
    ASSERT_TRUE(ctx.poll_notify(t0 + 1s));
    ctx.notify_answered(t0 + 1s, 200);
    auto a = ctx.on_subscribe(t0 + 30s, 40);
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(header(a.headers, "Expires"), "40");
    auto n = ctx.poll_notify(t0 + 30s);
    ASSERT_TRUE(n);
    EXPECT_EQ(n->body, "SIP/2.0 180 Ringing\r\n");
    EXPECT_EQ(header(n->headers, "Subscription-State"), "active;expires=40");
    ctx.notify_answered(t0 + 30s, 200);
    EXPECT_EQ(ctx.next_deadline(), t0 + 70s);
    // A longer request is shortened to the options' bound; absent = the bound.
    EXPECT_EQ(header(ctx.on_subscribe(t0 + 31s, 3600).headers, "Expires"), "60");
    EXPECT_EQ(header(ctx.on_subscribe(t0 + 31s, std::nullopt).headers, "Expires"), "60");
}

TEST(ReferServerNotify, UnsubscribeSendsFinalTimeoutWithCurrentState) {
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"});
    (void)ctx.accept(t0);
    ASSERT_TRUE(ctx.poll_notify(t0));
    ctx.reference_progress(t0, 180, "Ringing");  // queued behind the 100
    auto a = ctx.on_subscribe(t0 + 1s, 0);
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(header(a.headers, "Expires"), "0");
    ctx.notify_answered(t0 + 1s, 200);
    auto fin = ctx.poll_notify(t0 + 1s);
    ASSERT_TRUE(fin);
    EXPECT_TRUE(fin->final);
    EXPECT_EQ(fin->body, "SIP/2.0 180 Ringing\r\n");  // the queued 180 folded into the final one
    EXPECT_EQ(header(fin->headers, "Subscription-State"), "terminated;reason=timeout");
    ctx.notify_answered(t0 + 1s, 200);
    EXPECT_EQ(ctx.cause(), ReferServerCause::unsubscribed);
    // The INVITE goes on (RFC 3515 §2.4.4) but nothing more is notified.
    ctx.reference_final(t0 + 2s, 200, "OK");
    EXPECT_FALSE(ctx.poll_notify(t0 + 2s));
    EXPECT_EQ(ctx.reference_final_status(), 200);
    EXPECT_EQ(ctx.on_subscribe(t0 + 3s, 60).status, 481);
}

TEST(ReferServerNotify, ExpiryTerminatesWithTimeout) {
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"}, ReferServerOptions{.expires = 30});
    (void)ctx.accept(t0);
    ASSERT_TRUE(ctx.poll_notify(t0));
    ctx.notify_answered(t0, 200);
    EXPECT_EQ(ctx.next_deadline(), t0 + 30s);
    ctx.on_timer(t0 + 29s);
    EXPECT_FALSE(ctx.poll_notify(t0 + 29s));
    EXPECT_EQ(ctx.state(), ReferServerState::active);
    ctx.on_timer(t0 + 30s);
    auto fin = ctx.poll_notify(t0 + 30s);
    ASSERT_TRUE(fin);
    EXPECT_EQ(header(fin->headers, "Subscription-State"), "terminated;reason=timeout");
    EXPECT_EQ(fin->body, "SIP/2.0 100 Trying\r\n");
    ctx.notify_answered(t0 + 30s, 200);
    EXPECT_EQ(ctx.cause(), ReferServerCause::expired);
}

TEST(ReferServerNotify, NotifyFailuresRemoveTheSubscriptionPerRfc6665) {
    for (int status : {404, 405, 408, 410, 416, 480, 481, 485, 489, 501, 604}) {
        auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"});
        (void)ctx.accept(t0);
        ASSERT_TRUE(ctx.poll_notify(t0));
        ctx.notify_answered(t0, status);
        EXPECT_TRUE(ctx.done()) << status;
        EXPECT_EQ(ctx.cause(), ReferServerCause::notify_failed) << status;
        ctx.reference_final(t0, 200, "OK");
        EXPECT_FALSE(ctx.poll_notify(t0)) << status;
        auto ev = drain(ctx);
        ASSERT_EQ(ev.size(), 1u);
        EXPECT_EQ(ev[0].status, status);
    }
    // Another failure of a provisional NOTIFY is tolerated; of the final one, it ends.
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"});
    (void)ctx.accept(t0);
    ASSERT_TRUE(ctx.poll_notify(t0));
    ctx.notify_answered(t0, 500);
    EXPECT_FALSE(ctx.done());
    ctx.reference_final(t0, 200, "OK");
    ASSERT_TRUE(ctx.poll_notify(t0));
    ctx.notify_answered(t0, 500);
    EXPECT_TRUE(ctx.done());
    EXPECT_EQ(ctx.cause(), ReferServerCause::notify_failed);
}

TEST(ReferServerNotify, DialogGoneAndShutDownEndOnce) {
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"});
    (void)ctx.accept(t0);
    ASSERT_TRUE(ctx.poll_notify(t0));
    ctx.dialog_terminated();
    ctx.shut_down();
    EXPECT_EQ(ctx.cause(), ReferServerCause::dialog_terminated);
    EXPECT_FALSE(ctx.next_deadline());
    ctx.notify_answered(t0, 200);
    auto ev = drain(ctx);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, ReferServerEventKind::ended);
}

TEST(ReferServerNotify, ProgressBeforeAcceptIsIgnored) {
    auto ctx = make({"Refer-To: <sip:carol@192.0.2.3>"});
    ctx.reference_progress(t0, 180, "Ringing");
    ctx.reference_final(t0, 200, "OK");
    EXPECT_FALSE(ctx.poll_notify(t0));
    EXPECT_FALSE(ctx.reference_final_status());
    EXPECT_EQ(ctx.on_subscribe(t0, 60).status, 481);
}

// ---------------------------------------------------------------- Replaces (RFC 3891 §3)

std::vector<ReplacesCandidate> dialogs() {
    return {
        ReplacesCandidate{.key = 1, .call_id = "c1@h", .local_tag = "L1", .remote_tag = "R1",
                          .state = ReplacesDialogState::confirmed, .we_are_uac = true, .invite_dialog = true},
        ReplacesCandidate{.key = 2, .call_id = "c2@h", .local_tag = "L2", .remote_tag = "R2",
                          .state = ReplacesDialogState::early, .we_are_uac = true, .invite_dialog = true},
        ReplacesCandidate{.key = 3, .call_id = "c3@h", .local_tag = "L3", .remote_tag = "R3",
                          .state = ReplacesDialogState::early, .we_are_uac = false, .invite_dialog = true},
        ReplacesCandidate{.key = 4, .call_id = "c4@h", .local_tag = "L4", .remote_tag = "R4",
                          .state = ReplacesDialogState::terminated, .we_are_uac = false, .invite_dialog = true},
        ReplacesCandidate{.key = 5, .call_id = "c5@h", .local_tag = "L5", .remote_tag = "R5",
                          .state = ReplacesDialogState::confirmed, .we_are_uac = false, .invite_dialog = false},
        // Two identical entries: ambiguous.
        ReplacesCandidate{.key = 6, .call_id = "c6@h", .local_tag = "L6", .remote_tag = "R6",
                          .state = ReplacesDialogState::confirmed, .we_are_uac = false, .invite_dialog = true},
        ReplacesCandidate{.key = 7, .call_id = "c6@h", .local_tag = "L6", .remote_tag = "R6",
                          .state = ReplacesDialogState::confirmed, .we_are_uac = false, .invite_dialog = true},
    };
}

ReplacesDecision decide(std::string_view value) {
    auto r = parse_replaces(value);
    if (!r) throw std::runtime_error("bad test Replaces");
    auto d = dialogs();
    return decide_replaces(*r, d);
}

TEST(Replaces, ConfirmedDialogIsReplacedWithBye) {
    auto d = decide("c1@h;to-tag=L1;from-tag=R1");
    EXPECT_EQ(d.action, ReplacesAction::replace_confirmed);
    EXPECT_EQ(d.key, 1u);
}

TEST(Replaces, TagsAreComparedFromOurSide) {
    // to-tag is our local tag, from-tag our remote tag: swapped tags do not match.
    auto d = decide("c1@h;to-tag=R1;from-tag=L1");
    EXPECT_EQ(d.action, ReplacesAction::reject);
    EXPECT_EQ(d.status, 481);
    EXPECT_EQ(decide("C1@h;to-tag=L1;from-tag=R1").status, 481);  // Call-ID is case-sensitive
}

TEST(Replaces, EarlyOnlyOnConfirmedIs486) {
    auto d = decide("c1@h;to-tag=L1;from-tag=R1;early-only");
    EXPECT_EQ(d.action, ReplacesAction::reject);
    EXPECT_EQ(d.status, 486);
    EXPECT_EQ(d.key, 1u);
}

TEST(Replaces, EarlyDialogsOursCancelledOthers481) {
    auto ours = decide("c2@h;to-tag=L2;from-tag=R2;early-only");
    EXPECT_EQ(ours.action, ReplacesAction::replace_early);
    EXPECT_EQ(ours.key, 2u);
    auto theirs = decide("c3@h;to-tag=L3;from-tag=R3");
    EXPECT_EQ(theirs.action, ReplacesAction::reject);
    EXPECT_EQ(theirs.status, 481);
}

TEST(Replaces, TerminatedIs603NonInviteAndAmbiguousAre481) {
    EXPECT_EQ(decide("c4@h;to-tag=L4;from-tag=R4").status, 603);
    EXPECT_EQ(decide("c5@h;to-tag=L5;from-tag=R5").status, 481);
    EXPECT_EQ(decide("c6@h;to-tag=L6;from-tag=R6").status, 481);
    EXPECT_EQ(decide("nope@h;to-tag=L1;from-tag=R1").status, 481);
}

TEST(Replaces, FromARequest) {
    auto d = dialogs();
    auto invite = [](std::vector<std::string> extra, std::string_view method = "INVITE") {
        return parse(request_text(method, extra, false, 1));
    };
    EXPECT_FALSE(decide_replaces(invite({}), d));  // an ordinary INVITE
    auto ok = decide_replaces(invite({"Replaces: c1@h;to-tag=L1;from-tag=R1"}), d);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->action, ReplacesAction::replace_confirmed);
    for (auto bad : {invite({"Replaces: c1@h;to-tag=L1;from-tag=R1", "Replaces: c2@h;to-tag=L2;from-tag=R2"}),
                     invite({"Replaces: c1@h;to-tag=L1;from-tag=R1", "Join: c2@h;to-tag=L2;from-tag=R2"}),
                     invite({"Replaces: ;to-tag=L1"}),
                     invite({"Replaces: c1@h;to-tag=L1;from-tag=R1"}, "MESSAGE")}) {
        auto r = decide_replaces(bad, d);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->action, ReplacesAction::reject);
        EXPECT_EQ(r->status, 400);
    }
}

// R39: how the initiator relates to the replaced call's remote party (From of the helper's
// requests: <sip:alice@example.com>).
TEST(ReplacesAuthorization, FromIsTheReplacedParty) {
    const Message m = parse(request_text("INVITE", {"Replaces: c1@h;to-tag=L1;from-tag=R1"}, false, 1));
    EXPECT_EQ(replace_relation(m, "<sip:alice@example.com>"), ReplaceRelation::same_party);
    EXPECT_EQ(replace_relation(m, "\"Alice\" <sip:alice@EXAMPLE.com;transport=tcp>"), ReplaceRelation::same_party);
    EXPECT_EQ(replace_relation(m, "<sip:alice@example.com:5080>"), ReplaceRelation::same_party);  // port on one side only
    EXPECT_EQ(replace_relation(m, "<sip:Alice@example.com>"), ReplaceRelation::unrelated);  // user is case-sensitive
    EXPECT_EQ(replace_relation(m, "<sips:alice@example.com>"), ReplaceRelation::unrelated);
    EXPECT_EQ(replace_relation(m, "<sip:carol@example.com>"), ReplaceRelation::unrelated);
    EXPECT_EQ(replace_relation(m, "<sip:alice@example.net>"), ReplaceRelation::unrelated);
    EXPECT_EQ(replace_relation(m, "not a uri"), ReplaceRelation::unrelated);
}

TEST(ReplacesAuthorization, ReferredByNamesTheReplacedParty) {
    auto invite = [](std::string referred_by) {
        return parse(request_text("INVITE", {"Replaces: c1@h;to-tag=L1;from-tag=R1", std::move(referred_by)}, false, 1));
    };
    // The attended transfer: carol's call with dave is replaced by alice, referred by dave.
    EXPECT_EQ(replace_relation(invite("Referred-By: <sip:dave@example.org>"), "<sip:dave@example.org>;x=1"),
              ReplaceRelation::referred_by);
    // linphonec writes the addr-spec form.
    EXPECT_EQ(replace_relation(invite("Referred-By: sip:dave@127.0.0.1"), "<sip:dave@127.0.0.1>"),
              ReplaceRelation::referred_by);
    EXPECT_EQ(replace_relation(invite("b: \"Dave\" <sip:dave@127.0.0.1:5070>;cid=x"), "<sip:dave@127.0.0.1>"),
              ReplaceRelation::referred_by);
    EXPECT_EQ(replace_relation(invite("Referred-By: <sip:mallory@example.org>"), "<sip:dave@example.org>"),
              ReplaceRelation::unrelated);
    EXPECT_EQ(replace_relation(invite("Referred-By: <sip:dave@example.org:5070>"), "<sip:dave@example.org:5080>"),
              ReplaceRelation::unrelated);  // both give a port: they must agree
    EXPECT_EQ(replace_relation(invite("Referred-By: <<garbage"), "<sip:dave@example.org>"), ReplaceRelation::unrelated);
    const Message two = parse(request_text("INVITE", {"Replaces: c1@h;to-tag=L1;from-tag=R1",
                                                      "Referred-By: <sip:dave@example.org>",
                                                      "Referred-By: <sip:dave@example.org>"},
                                           false, 1));
    EXPECT_EQ(replace_relation(two, "<sip:dave@example.org>"), ReplaceRelation::unrelated);  // RFC 3892: one value
    EXPECT_TRUE(default_authorize_replace(ReplaceRelation::same_party));
    EXPECT_TRUE(default_authorize_replace(ReplaceRelation::referred_by));
    EXPECT_FALSE(default_authorize_replace(ReplaceRelation::unrelated));
}

}  // namespace
}  // namespace referkit
