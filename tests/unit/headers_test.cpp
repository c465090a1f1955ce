// Typed header parsers: Via, CSeq, Call-ID, numbers, Content-Type, Event, Subscription-State,
// Refer-Sub, Replaces, Target-Dialog, authentication headers, comma lists and token lists.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/headers.hpp"
#include "referkit/core/message.hpp"
#include "test_support.hpp"

namespace referkit {
namespace {

using test::Fails;
using test::FailsWith;
using test::make_request;
using test::Ok;

// ---------------------------------------------------------------- Via

TEST(Via, EveryParameter) {
    auto v = parse_via(
        "SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1;rport=5060;"
        "maddr=224.2.0.1;ttl=16;x-foo=bar");
    ASSERT_TRUE(Ok(v));
    EXPECT_EQ(v->protocol, "SIP");
    EXPECT_EQ(v->version, "2.0");
    EXPECT_EQ(v->transport, "UDP");
    EXPECT_EQ(v->host, "pc33.atlanta.com");
    EXPECT_EQ(v->host_kind, HostKind::name);
    EXPECT_EQ(v->port, 5066);
    EXPECT_EQ(v->branch, "z9hG4bK776asdhds");
    EXPECT_EQ(v->received, "192.0.2.1");
    EXPECT_TRUE(v->has_rport);
    EXPECT_EQ(v->rport, 5060);
    EXPECT_EQ(v->maddr, "224.2.0.1");
    ASSERT_TRUE(v->ttl);
    EXPECT_EQ(*v->ttl, 16);
    auto foo = v->params.find("X-FOO");
    ASSERT_TRUE(foo);
    EXPECT_EQ(foo->value, "bar");
}

TEST(Via, MinimalViaHasNoOptionalParts) {
    auto v = parse_via("SIP/2.0/TCP client.atlanta.example.com");
    ASSERT_TRUE(Ok(v));
    EXPECT_EQ(v->transport, "TCP");
    EXPECT_EQ(v->port, 0);
    EXPECT_EQ(v->branch, "");
    EXPECT_EQ(v->received, "");
    EXPECT_FALSE(v->has_rport);
    EXPECT_FALSE(v->ttl);
    EXPECT_TRUE(v->params.empty());
}

TEST(Via, RportWithAndWithoutValue) {
    auto bare = parse_via("SIP/2.0/UDP h;rport;branch=z9hG4bK1");
    ASSERT_TRUE(Ok(bare));
    EXPECT_TRUE(bare->has_rport);
    EXPECT_EQ(bare->rport, 0);
    auto valued = parse_via("SIP/2.0/UDP h;branch=z9hG4bK1;rport=65535");
    ASSERT_TRUE(Ok(valued));
    EXPECT_TRUE(valued->has_rport);
    EXPECT_EQ(valued->rport, 65535);
    // "SIP/2.0/UDP h;rport=" is 20 bytes.
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP h;rport=65536"), ErrorCode::bad_number, 20));
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP h;rport=x1"), ErrorCode::bad_number, 20));
}

TEST(Via, Ipv6SentByAndPort) {
    auto v = parse_via("SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bKx");
    ASSERT_TRUE(Ok(v));
    EXPECT_EQ(v->host, "[2001:db8::1]");
    EXPECT_EQ(v->host_kind, HostKind::ipv6);
    EXPECT_EQ(v->port, 5061);
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP [::1;branch=x"), ErrorCode::bad_host, 12));
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP [1::2::3]"), ErrorCode::bad_host, 13));
}

TEST(Via, ReceivedIpv6WithBrackets) {
    // RFC 5118 §4.5 (via-received-param-with-delim).
    auto v = parse_via("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111");
    ASSERT_TRUE(Ok(v));
    EXPECT_EQ(v->host, "[2001:db8::9:1]");
    EXPECT_EQ(v->received, "[2001:db8::9:255]");
    EXPECT_EQ(v->branch, "z9hG4bKas3-111");
}

TEST(Via, ReceivedIpv6WithoutBrackets) {
    // RFC 3261 §25.1: via-received = "received" EQUAL (IPv4address / IPv6address), and an
    // IPv6address has no brackets. RFC 5118 §4.5 (via-received-param-no-delim) must be accepted.
    auto v = parse_via("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3");
    ASSERT_TRUE(Ok(v));
    EXPECT_EQ(v->received, "2001:db8::9:255");
    EXPECT_EQ(v->branch, "z9hG4bKas3");
}

TEST(Via, TtlBounds) {
    auto zero = parse_via("SIP/2.0/UDP h;ttl=0");
    ASSERT_TRUE(Ok(zero));
    EXPECT_EQ(*zero->ttl, 0);
    auto max = parse_via("SIP/2.0/UDP h;ttl=255");
    ASSERT_TRUE(Ok(max));
    EXPECT_EQ(*max->ttl, 255);
    // "SIP/2.0/UDP h;ttl=" is 18 bytes.
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP h;ttl=256"), ErrorCode::bad_number, 18));
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP h;ttl=abc"), ErrorCode::bad_number, 18));
}

TEST(Via, TtlWithoutValueReportsAnOffsetInsideTheText) {
    // via-ttl = "ttl" EQUAL ttl: the value is required. The error must point at the end of the
    // text (17), where the value is missing.
    auto v = parse_via("SIP/2.0/UDP h;ttl");
    ASSERT_FALSE(v);
    EXPECT_TRUE(v.error().code == ErrorCode::bad_number || v.error().code == ErrorCode::bad_param)
        << test::describe_error(v.error());
    EXPECT_EQ(v.error().offset, 17u) << test::describe_error(v.error());
}

TEST(Via, LwsAroundSlashesAndFolding) {
    // RFC 4475 §3.1.1.1 (wsinv): "Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw".
    auto v = parse_via("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw");
    ASSERT_TRUE(Ok(v));
    EXPECT_EQ(v->protocol, "SIP");
    EXPECT_EQ(v->version, "2.0");
    EXPECT_EQ(v->transport, "UDP");
    EXPECT_EQ(v->host, "192.0.2.2");
    EXPECT_EQ(v->host_kind, HostKind::ipv4);
    EXPECT_EQ(v->branch, "390skdjuw");

    auto w = parse_via("SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239");
    ASSERT_TRUE(Ok(w));
    EXPECT_EQ(w->host, "192.168.255.111");
    EXPECT_EQ(w->branch, "z9hG4bK30239");

    auto x = parse_via("SIP/2.0/UDP h : 5060 ;rport");
    ASSERT_TRUE(Ok(x));
    EXPECT_EQ(x->port, 5060);
    EXPECT_TRUE(x->has_rport);
}

TEST(Via, UnknownTransportsAreTokens) {
    // RFC 4475 §3.1.1.10 (transports).
    for (std::string_view t : {"UDP", "SCTP", "TLS-SCTP", "WS", "WSS", "NOTATRANSPORT"}) {
        std::string text = "SIP/2.0/" + std::string(t) + " h;branch=z9hG4bK1";
        auto v = parse_via(text);
        ASSERT_TRUE(Ok(v)) << text;
        EXPECT_EQ(v->transport, t);
    }
}

TEST(Via, BranchNeedsAValue) {
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP h;branch"), ErrorCode::bad_param, 20));
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP h;branch="), ErrorCode::bad_param, 21));
}

TEST(Via, MalformedSentProtocolAndSentBy) {
    EXPECT_TRUE(Fails(parse_via(""), ErrorCode::bad_via, 0));
    EXPECT_TRUE(Fails(parse_via("SIP/2.0 h"), ErrorCode::bad_via, 7));
    EXPECT_TRUE(Fails(parse_via("SIP//UDP h"), ErrorCode::bad_via, 4));
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP"), ErrorCode::bad_via, 11));
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP "), ErrorCode::bad_host, 12));
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP h x"), ErrorCode::bad_via, 14));
    // One via-parm only: a comma list is split by the caller.
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP a, SIP/2.0/UDP b"), ErrorCode::bad_via, 13));
}

TEST(Via, PortOutOfRange) {
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP h:0"), ErrorCode::bad_port, 15));
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP h:65536"), ErrorCode::bad_port, 19));
    EXPECT_TRUE(Fails(parse_via("SIP/2.0/UDP h:"), ErrorCode::bad_port, 14));
    auto v = parse_via("SIP/2.0/UDP h:65535");
    ASSERT_TRUE(Ok(v));
    EXPECT_EQ(v->port, 65535);
}

// ---------------------------------------------------------------- CSeq

TEST(CSeq, LargestNumberBelowTwoToThe31) {
    auto c = parse_cseq("2147483647 INVITE");
    ASSERT_TRUE(Ok(c));
    EXPECT_EQ(c->number, 2147483647u);
    EXPECT_EQ(c->method_text, "INVITE");
    EXPECT_EQ(c->method, Method::invite);
}

TEST(CSeq, TwoToThe31IsTooLarge) {
    // RFC 3261 §8.1.1.5; RFC 4475 §3.1.2.4 (scalar02).
    EXPECT_TRUE(Fails(parse_cseq("2147483648 INVITE"), ErrorCode::bad_cseq, 0));
    EXPECT_TRUE(Fails(parse_cseq("  36893488147419103232 REGISTER"), ErrorCode::bad_cseq, 2));
}

TEST(CSeq, LeadingZerosAndLws) {
    auto c = parse_cseq("0009\r\n  INVITE");  // wsinv
    ASSERT_TRUE(Ok(c));
    EXPECT_EQ(c->number, 9u);
    EXPECT_EQ(c->method, Method::invite);
    auto d = parse_cseq("  42   BYE  ");
    ASSERT_TRUE(Ok(d));
    EXPECT_EQ(d->number, 42u);
    EXPECT_EQ(d->method, Method::bye);
    EXPECT_EQ(d->method_text, "BYE");
}

TEST(CSeq, UnknownAndLowercaseMethodsAreOther) {
    auto c = parse_cseq("1 foo");
    ASSERT_TRUE(Ok(c));
    EXPECT_EQ(c->method, Method::other);
    EXPECT_EQ(c->method_text, "foo");
    auto r = parse_cseq("1 refer");  // methods are case-sensitive (§7.1)
    ASSERT_TRUE(Ok(r));
    EXPECT_EQ(r->method, Method::other);
}

TEST(CSeq, MissingPartsAndJunk) {
    EXPECT_TRUE(Fails(parse_cseq(""), ErrorCode::bad_cseq, 0));
    EXPECT_TRUE(Fails(parse_cseq("INVITE"), ErrorCode::bad_cseq, 0));
    EXPECT_TRUE(Fails(parse_cseq("1"), ErrorCode::bad_cseq, 1));
    EXPECT_TRUE(Fails(parse_cseq("1 "), ErrorCode::bad_cseq, 2));
    EXPECT_TRUE(Fails(parse_cseq("1INVITE"), ErrorCode::bad_cseq, 1));
    EXPECT_TRUE(Fails(parse_cseq("-1 INVITE"), ErrorCode::bad_cseq, 0));
    EXPECT_TRUE(Fails(parse_cseq("1 INVITE x"), ErrorCode::bad_cseq, 9));
}

// ---------------------------------------------------------------- Call-ID

TEST(CallId, WordAtWord) {
    auto c = parse_call_id("f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com");
    ASSERT_TRUE(Ok(c));
    EXPECT_EQ(*c, "f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com");
    auto t = parse_call_id("  abc@def  ");
    ASSERT_TRUE(Ok(t));
    EXPECT_EQ(*t, "abc@def");
    auto w = parse_call_id("a(b)<c>:d\\e\"f/g[h]?i{j}@x");  // every word character
    ASSERT_TRUE(Ok(w));
    auto no_at = parse_call_id("SSG95523997077");
    ASSERT_TRUE(Ok(no_at));
    EXPECT_EQ(*no_at, "SSG95523997077");
}

TEST(CallId, Malformed) {
    EXPECT_TRUE(Fails(parse_call_id(""), ErrorCode::bad_call_id, 0));
    EXPECT_TRUE(Fails(parse_call_id("abc@"), ErrorCode::bad_call_id, 4));
    EXPECT_TRUE(Fails(parse_call_id("a b"), ErrorCode::bad_call_id, 2));
    EXPECT_TRUE(Fails(parse_call_id("abc@def@ghi"), ErrorCode::bad_call_id, 7));
    EXPECT_TRUE(Fails(parse_call_id("@abc"), ErrorCode::bad_call_id, 0));
}

// ---------------------------------------------------------------- parse_uint

TEST(ParseUint, ValuesAndBounds) {
    EXPECT_EQ(parse_uint("0", 10).value(), 0u);
    EXPECT_EQ(parse_uint("0068", 255).value(), 68u);
    EXPECT_EQ(parse_uint(" 70 ", 255).value(), 70u);
    EXPECT_EQ(parse_uint("255", 255).value(), 255u);
    EXPECT_EQ(parse_uint("4294967295", 0xffffffffu).value(), 4294967295u);
    EXPECT_TRUE(Fails(parse_uint("256", 255), ErrorCode::bad_number, 0));
    EXPECT_TRUE(Fails(parse_uint("  256", 255), ErrorCode::bad_number, 2));
    EXPECT_TRUE(Fails(parse_uint("4294967296", 0xffffffffu), ErrorCode::bad_number, 0));
    EXPECT_TRUE(Fails(parse_uint("99999999999999999999999", 0xffffffffu), ErrorCode::bad_number, 0));
    EXPECT_TRUE(Fails(parse_uint("", 10), ErrorCode::bad_number, 0));
    EXPECT_TRUE(Fails(parse_uint("   ", 10), ErrorCode::bad_number, 3));
    EXPECT_TRUE(Fails(parse_uint("1a", 10), ErrorCode::bad_number, 1));
    EXPECT_TRUE(Fails(parse_uint("-1", 10), ErrorCode::bad_number, 0));
    EXPECT_TRUE(Fails(parse_uint(" 1 2", 100), ErrorCode::bad_number, 2));
}

// ---------------------------------------------------------------- Content-Type

TEST(ContentType, TypeSubtypeAndParams) {
    auto ct = parse_content_type("application/sdp");
    ASSERT_TRUE(Ok(ct));
    EXPECT_EQ(ct->type, "application");
    EXPECT_EQ(ct->subtype, "sdp");
    EXPECT_TRUE(ct->is("APPLICATION", "SDP"));
    EXPECT_FALSE(ct->is("application", "sipfrag"));
    EXPECT_TRUE(ct->params.empty());

    auto frag = parse_content_type("message/sipfrag;version=2.0");
    ASSERT_TRUE(Ok(frag));
    EXPECT_TRUE(frag->is("message", "sipfrag"));
    EXPECT_EQ(frag->params.find("version")->value, "2.0");

    auto text = parse_content_type(" text/plain ; charset=\"utf-8\" ");
    ASSERT_TRUE(Ok(text));
    EXPECT_EQ(text->subtype, "plain");
    EXPECT_EQ(text->params.find("charset")->value, "\"utf-8\"");
    EXPECT_EQ(unquote(text->params.find("charset")->value), "utf-8");

    auto mp = parse_content_type("multipart/mixed;boundary=7a9cbec02ceef655");
    ASSERT_TRUE(Ok(mp));
    EXPECT_EQ(mp->params.find("boundary")->value, "7a9cbec02ceef655");
}

TEST(ContentType, Malformed) {
    EXPECT_TRUE(Fails(parse_content_type(""), ErrorCode::bad_token, 0));
    EXPECT_TRUE(Fails(parse_content_type("application"), ErrorCode::bad_token, 11));
    EXPECT_TRUE(Fails(parse_content_type("application/"), ErrorCode::bad_token, 12));
    EXPECT_TRUE(Fails(parse_content_type("a/b c"), ErrorCode::bad_token, 4));
    EXPECT_TRUE(Fails(parse_content_type("a/b;"), ErrorCode::bad_param, 4));
}

// ---------------------------------------------------------------- Event

TEST(Event, ReferWithId) {
    auto e = parse_event("refer;id=5");
    ASSERT_TRUE(Ok(e));
    EXPECT_EQ(e->package, "refer");
    EXPECT_TRUE(e->has_id);
    EXPECT_EQ(e->id, "5");
    auto lws = parse_event("refer ;id = 93809824");
    ASSERT_TRUE(Ok(lws));
    EXPECT_EQ(lws->id, "93809824");
}

TEST(Event, PackageWithTemplate) {
    auto e = parse_event("presence.winfo");
    ASSERT_TRUE(Ok(e));
    EXPECT_EQ(e->package, "presence.winfo");
    EXPECT_FALSE(e->has_id);
    EXPECT_EQ(e->id, "");
}

TEST(Event, OtherParamsAreKept) {
    auto e = parse_event("dialog;id=7;call-id=x;to-tag=y");
    ASSERT_TRUE(Ok(e));
    EXPECT_EQ(e->id, "7");
    EXPECT_EQ(e->params.find("to-tag")->value, "y");
}

TEST(Event, Malformed) {
    EXPECT_TRUE(Fails(parse_event(""), ErrorCode::bad_token, 0));
    EXPECT_TRUE(Fails(parse_event(".refer"), ErrorCode::bad_token, 6));
    EXPECT_TRUE(Fails(parse_event("refer."), ErrorCode::bad_token, 6));
    EXPECT_TRUE(Fails(parse_event("refer;id"), ErrorCode::bad_param, 8));
    EXPECT_TRUE(Fails(parse_event("refer;id="), ErrorCode::bad_param, 9));
    EXPECT_TRUE(Fails(parse_event("refer refer"), ErrorCode::bad_token, 6));
}

TEST(Event, CompactFormInAMessage) {
    auto m = Message::parse(make_request("NOTIFY", "o: refer;id=93809824\r\n"));
    ASSERT_TRUE(Ok(m));
    auto e = m->event();
    ASSERT_TRUE(Ok(e));
    EXPECT_EQ(e->package, "refer");
    EXPECT_EQ(e->id, "93809824");
}

// ---------------------------------------------------------------- Subscription-State

TEST(SubscriptionState, ActiveWithExpires) {
    auto s = parse_subscription_state("active;expires=60");
    ASSERT_TRUE(Ok(s));
    EXPECT_EQ(s->state, Substate::active);
    EXPECT_EQ(s->value, "active");
    ASSERT_TRUE(s->expires);
    EXPECT_EQ(*s->expires, 60u);
    EXPECT_FALSE(s->retry_after);
    EXPECT_EQ(s->reason, "");
}

TEST(SubscriptionState, TerminatedWithReason) {
    auto s = parse_subscription_state("terminated;reason=noresource");
    ASSERT_TRUE(Ok(s));
    EXPECT_EQ(s->state, Substate::terminated);
    EXPECT_EQ(s->reason, "noresource");
    EXPECT_FALSE(s->expires);

    auto r = parse_subscription_state("terminated ; reason = timeout ; retry-after = 30");
    ASSERT_TRUE(Ok(r));
    EXPECT_EQ(r->reason, "timeout");
    ASSERT_TRUE(r->retry_after);
    EXPECT_EQ(*r->retry_after, 30u);
}

TEST(SubscriptionState, PendingCaseAndExtensions) {
    auto p = parse_subscription_state("pending");
    ASSERT_TRUE(Ok(p));
    EXPECT_EQ(p->state, Substate::pending);
    EXPECT_TRUE(p->params.empty());
    auto upper = parse_subscription_state("ACTIVE;expires=0");
    ASSERT_TRUE(Ok(upper));
    EXPECT_EQ(upper->state, Substate::active);
    EXPECT_EQ(*upper->expires, 0u);
    auto ext = parse_subscription_state("waiting;x=1");
    ASSERT_TRUE(Ok(ext));
    EXPECT_EQ(ext->state, Substate::other);
    EXPECT_EQ(ext->value, "waiting");
}

TEST(SubscriptionState, BadExpires) {
    // "active;expires=" is 15 bytes.
    EXPECT_TRUE(Fails(parse_subscription_state("active;expires=abc"), ErrorCode::bad_number, 15));
    EXPECT_TRUE(Fails(parse_subscription_state("active;expires=-1"), ErrorCode::bad_number, 15));
    EXPECT_TRUE(Fails(parse_subscription_state("active;expires=4294967296"), ErrorCode::bad_number, 15));
    EXPECT_TRUE(Fails(parse_subscription_state("terminated;retry-after=x"), ErrorCode::bad_number, 23));
    EXPECT_TRUE(Fails(parse_subscription_state(""), ErrorCode::bad_token, 0));
    EXPECT_TRUE(Fails(parse_subscription_state("active expires=1"), ErrorCode::bad_token, 7));
}

TEST(SubscriptionState, ExpiresWithoutValueReportsAnOffsetInsideTheText) {
    // subexp-params: "expires" EQUAL delta-seconds. The value is missing at offset 14.
    auto s = parse_subscription_state("active;expires");
    ASSERT_FALSE(s);
    EXPECT_TRUE(s.error().code == ErrorCode::bad_number || s.error().code == ErrorCode::bad_param)
        << test::describe_error(s.error());
    EXPECT_EQ(s.error().offset, 14u) << test::describe_error(s.error());
}

// ---------------------------------------------------------------- Refer-Sub (RFC 4488)

TEST(ReferSub, TrueFalseAnyCase) {
    EXPECT_TRUE(parse_refer_sub("true").value().value);
    EXPECT_FALSE(parse_refer_sub("false").value().value);
    EXPECT_TRUE(parse_refer_sub("TRUE").value().value);
    EXPECT_FALSE(parse_refer_sub(" False ").value().value);
    auto p = parse_refer_sub("false;x=y");
    ASSERT_TRUE(Ok(p));
    EXPECT_FALSE(p->value);
    EXPECT_EQ(p->params.find("x")->value, "y");
}

TEST(ReferSub, Malformed) {
    EXPECT_TRUE(Fails(parse_refer_sub("yes"), ErrorCode::bad_token, 0));
    EXPECT_TRUE(Fails(parse_refer_sub(""), ErrorCode::bad_token, 0));
    EXPECT_TRUE(Fails(parse_refer_sub("  1"), ErrorCode::bad_token, 2));
    EXPECT_TRUE(Fails(parse_refer_sub("true x"), ErrorCode::bad_token, 5));
    EXPECT_TRUE(Fails(parse_refer_sub("truefalse"), ErrorCode::bad_token, 0));
}

// ---------------------------------------------------------------- Replaces (RFC 3891), Target-Dialog (RFC 4538)

TEST(Replaces, CallIdAndTags) {
    auto r = parse_replaces("425928@bobster.example.org;to-tag=7743;from-tag=6472");
    ASSERT_TRUE(Ok(r));
    EXPECT_EQ(r->call_id, "425928@bobster.example.org");
    EXPECT_EQ(r->to_tag, "7743");
    EXPECT_EQ(r->from_tag, "6472");
    EXPECT_FALSE(r->early_only);
}

TEST(Replaces, EarlyOnlyAndLws) {
    auto r = parse_replaces("abc ; from-tag = 2 ; to-tag = 1 ; early-only");
    ASSERT_TRUE(Ok(r));
    EXPECT_EQ(r->call_id, "abc");
    EXPECT_EQ(r->to_tag, "1");
    EXPECT_EQ(r->from_tag, "2");
    EXPECT_TRUE(r->early_only);
}

TEST(Replaces, BothTagsAreRequired) {
    EXPECT_TRUE(Fails(parse_replaces("abc@d;to-tag=1"), ErrorCode::bad_param, 14));
    EXPECT_TRUE(Fails(parse_replaces("abc@d;from-tag=1"), ErrorCode::bad_param, 16));
    EXPECT_TRUE(Fails(parse_replaces("abc"), ErrorCode::bad_param, 3));
    // Target-Dialog's names do not count for Replaces.
    EXPECT_TRUE(Fails(parse_replaces("a;local-tag=1;remote-tag=2"), ErrorCode::bad_param, 26));
}

TEST(Replaces, Malformed) {
    EXPECT_TRUE(Fails(parse_replaces(""), ErrorCode::bad_call_id, 0));
    EXPECT_TRUE(Fails(parse_replaces("abc@;to-tag=1;from-tag=2"), ErrorCode::bad_call_id, 4));
    EXPECT_TRUE(Fails(parse_replaces("a;to-tag=1;from-tag=2 x"), ErrorCode::bad_param, 22));
    EXPECT_TRUE(Fails(parse_replaces("a;to-tag=;from-tag=2"), ErrorCode::bad_param, 9));
}

TEST(TargetDialog, RemoteAndLocalTags) {
    auto t = parse_target_dialog("fa77as7dad8-sd98ajzz@host.example.com;local-tag=1234567890;remote-tag=abcdefghij");
    ASSERT_TRUE(Ok(t));
    EXPECT_EQ(t->call_id, "fa77as7dad8-sd98ajzz@host.example.com");
    EXPECT_EQ(t->to_tag, "abcdefghij");    // remote-tag
    EXPECT_EQ(t->from_tag, "1234567890");  // local-tag
    EXPECT_FALSE(t->early_only);
}

TEST(TargetDialog, BothTagsAreRequired) {
    EXPECT_TRUE(Fails(parse_target_dialog("a;remote-tag=1"), ErrorCode::bad_param, 14));
    EXPECT_TRUE(Fails(parse_target_dialog("a;to-tag=1;from-tag=2"), ErrorCode::bad_param, 21));
}

// ---------------------------------------------------------------- authentication (RFC 3261 §25, RFC 7616, RFC 8760)

TEST(Auth, DigestChallenge) {
    auto a = parse_auth(
        R"(Digest realm="atlanta.com", domain="sip:boxesbybob.com", qop="auth,auth-int", )"
        R"(nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=TRUE, algorithm=SHA-256)");
    ASSERT_TRUE(Ok(a));
    EXPECT_EQ(a->scheme, "Digest");
    EXPECT_EQ(a->realm, "atlanta.com");
    EXPECT_EQ(a->domain, "sip:boxesbybob.com");
    EXPECT_EQ(a->qop, "auth,auth-int");
    EXPECT_EQ(a->nonce, "f84f1cec41e6cbe5aea9c8e88d359");
    EXPECT_EQ(a->opaque, "");
    EXPECT_EQ(a->stale, "TRUE");
    EXPECT_EQ(a->algorithm, "SHA-256");
    ASSERT_EQ(a->params.size(), 7u);
    EXPECT_EQ(a->params[0].name, "realm");
    EXPECT_EQ(a->params[0].value, "\"atlanta.com\"");  // as written
    EXPECT_EQ(a->params[2].value, "\"auth,auth-int\"");
    EXPECT_EQ(a->params[6].name, "algorithm");
    EXPECT_EQ(a->params[6].value, "SHA-256");
}

TEST(Auth, DigestCredentials) {
    auto a = parse_auth(
        R"(Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", )"
        R"(uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", )"
        R"(response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41")");
    ASSERT_TRUE(Ok(a));
    EXPECT_EQ(a->username, "bob");
    EXPECT_EQ(a->realm, "biloxi.com");
    EXPECT_EQ(a->uri, "sip:bob@biloxi.com");
    EXPECT_EQ(a->qop, "auth");
    EXPECT_EQ(a->nc, "00000001");
    EXPECT_EQ(a->cnonce, "0a4f113b");
    EXPECT_EQ(a->response, "6629fae49393a05397450978507c4ef1");
    EXPECT_EQ(a->opaque, "5ccc069c403ebaf9f0171e9517f40e41");
    EXPECT_EQ(a->params.size(), 9u);
}

TEST(Auth, ParamNamesAreCaseInsensitiveAndEscapesKept) {
    auto a = parse_auth(R"(Digest REALM="a\"b",NONCE=x)");
    ASSERT_TRUE(Ok(a));
    EXPECT_EQ(a->realm, R"(a\"b)");
    EXPECT_EQ(unquote(a->params[0].value), R"(a"b)");
    EXPECT_EQ(a->nonce, "x");
}

TEST(Auth, UnknownScheme) {
    // RFC 4475 §3.3.7 (regaut01).
    auto a = parse_auth("NoOneKnowsThisScheme opaque-data=here");
    ASSERT_TRUE(Ok(a));
    EXPECT_EQ(a->scheme, "NoOneKnowsThisScheme");
    ASSERT_EQ(a->params.size(), 1u);
    EXPECT_EQ(a->params[0].name, "opaque-data");
    EXPECT_EQ(a->params[0].value, "here");
    auto bare = parse_auth("NoOp");
    ASSERT_TRUE(Ok(bare));
    EXPECT_EQ(bare->scheme, "NoOp");
    EXPECT_TRUE(bare->params.empty());
}

TEST(Auth, Malformed) {
    EXPECT_TRUE(Fails(parse_auth(""), ErrorCode::bad_auth, 0));
    EXPECT_TRUE(Fails(parse_auth("Digest, realm=x"), ErrorCode::bad_auth, 6));
    EXPECT_TRUE(Fails(parse_auth("Digest realm"), ErrorCode::bad_auth, 12));
    EXPECT_TRUE(Fails(parse_auth("Digest realm="), ErrorCode::bad_auth, 13));
    EXPECT_TRUE(Fails(parse_auth(R"(Digest realm="x)"), ErrorCode::bad_quoted_string, 13));
    EXPECT_TRUE(Fails(parse_auth(R"(Digest realm="x" nonce="y")"), ErrorCode::bad_auth, 17));
    EXPECT_TRUE(Fails(parse_auth(R"(Digest ,realm="x")"), ErrorCode::bad_auth, 7));
}

TEST(Auth, TooManyParams) {
    Limits limits;
    limits.max_params = 2;
    EXPECT_TRUE(Ok(parse_auth("Digest a=1, b=2", limits)));
    EXPECT_TRUE(Fails(parse_auth("Digest a=1, b=2, c=3", limits), ErrorCode::too_many_params, 20));
}

// ---------------------------------------------------------------- comma lists

TEST(SplitList, CommasInsideQuotesAndAnglesDoNotSplit) {
    auto l = split_list(R"(a, "b,c", <sip:x;a=b,c>, d)");
    ASSERT_TRUE(Ok(l));
    ASSERT_EQ(l->size(), 4u);
    EXPECT_EQ((*l)[0], "a");
    EXPECT_EQ((*l)[1], R"("b,c")");
    EXPECT_EQ((*l)[2], "<sip:x;a=b,c>");
    EXPECT_EQ((*l)[3], "d");

    auto na = split_list(R"("Bell, Alexander" <sip:a@b>;tag=1, <sip:c@d>)");
    ASSERT_TRUE(Ok(na));
    ASSERT_EQ(na->size(), 2u);
    EXPECT_EQ((*na)[0], R"("Bell, Alexander" <sip:a@b>;tag=1)");
    EXPECT_EQ((*na)[1], "<sip:c@d>");

    auto esc = split_list(R"("a\",b", c)");
    ASSERT_TRUE(Ok(esc));
    ASSERT_EQ(esc->size(), 2u);
    EXPECT_EQ((*esc)[0], R"("a\",b")");
}

TEST(SplitList, ElementsAreTrimmedIncludingFolds) {
    auto l = split_list(" a , b ,\r\n c\t");
    ASSERT_TRUE(Ok(l));
    ASSERT_EQ(l->size(), 3u);
    EXPECT_EQ((*l)[0], "a");
    EXPECT_EQ((*l)[1], "b");
    EXPECT_EQ((*l)[2], "c");
}

TEST(SplitList, EmptyElements) {
    EXPECT_TRUE(Fails(split_list("a,,b"), ErrorCode::bad_token, 2));
    EXPECT_TRUE(Fails(split_list("a,"), ErrorCode::bad_token, 2));
    EXPECT_TRUE(Fails(split_list(",a"), ErrorCode::bad_token, 0));
    EXPECT_TRUE(Fails(split_list(""), ErrorCode::bad_token, 0));
    auto none = split_list("", ListOptions{.allow_empty = true});
    ASSERT_TRUE(Ok(none));
    EXPECT_TRUE(none->empty());
    auto blank = split_list("  ", ListOptions{.allow_empty = true});
    ASSERT_TRUE(Ok(blank));
    EXPECT_TRUE(blank->empty());
}

TEST(SplitList, Unbalanced) {
    EXPECT_TRUE(Fails(split_list(R"("abc)"), ErrorCode::bad_quoted_string, 0));
    EXPECT_TRUE(Fails(split_list(R"(a, "abc)"), ErrorCode::bad_quoted_string, 2));
    EXPECT_TRUE(Fails(split_list("<sip:a@b"), ErrorCode::bad_quoted_string, 0));
}

TEST(ForEachElement, OffsetsOfElementsAndOfTheirErrors) {
    std::vector<std::uint32_t> offsets;
    auto r = for_each_element(" a , bb,c", [&](std::string_view, std::uint32_t off) -> std::expected<void, ParseError> {
        offsets.push_back(off);
        return {};
    });
    ASSERT_TRUE(r);
    EXPECT_EQ(offsets, (std::vector<std::uint32_t>{1, 5, 8}));

    // An error the callback reports relative to its element is moved to the list's coordinates.
    auto e = for_each_element("x, SIP/2.0/UDP h;branch", [](std::string_view el, std::uint32_t) -> std::expected<void, ParseError> {
        if (el == "x") return {};
        auto v = parse_via(el);
        if (!v) return std::unexpected(v.error());
        return {};
    });
    EXPECT_TRUE(Fails(e, ErrorCode::bad_param, 3 + 20));
}

// ---------------------------------------------------------------- tokens

TEST(Tokens, CharacterClass) {
    EXPECT_TRUE(is_token("INVITE"));
    EXPECT_TRUE(is_token("-.!%*_+`'~09azAZ"));
    EXPECT_FALSE(is_token(""));
    EXPECT_FALSE(is_token("a b"));
    for (char c : std::string_view("()<>@,;:\\\"/[]?={} \t\r\n"))
        EXPECT_FALSE(is_token_char(c)) << "'" << c << "'";
    EXPECT_FALSE(is_token_char('\0'));
    EXPECT_FALSE(is_token_char('\x80'));
}

TEST(Tokens, OfEveryInstanceOfAListHeader) {
    auto m = Message::parse(make_request("OPTIONS", "Supported: replaces, norefersub\r\nk: 100rel\r\nSupported:\r\n"
                                                    "Allow: INVITE,ACK , BYE\r\n"));
    ASSERT_TRUE(Ok(m));
    auto s = m->tokens(HeaderId::supported);
    ASSERT_TRUE(Ok(s));
    EXPECT_EQ(*s, (std::vector<std::string_view>{"replaces", "norefersub", "100rel"}));
    auto a = m->tokens(HeaderId::allow);
    ASSERT_TRUE(Ok(a));
    EXPECT_EQ(*a, (std::vector<std::string_view>{"INVITE", "ACK", "BYE"}));
    auto none = m->tokens(HeaderId::require);
    ASSERT_TRUE(Ok(none));
    EXPECT_TRUE(none->empty());
}

TEST(Tokens, NonTokenElementIsReportedWhereItIs) {
    std::string text = make_request("OPTIONS", "Require: foo, b c\r\n");
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    EXPECT_TRUE(Fails(m->tokens(HeaderId::require), ErrorCode::bad_token, test::at(text, "b c")));
}

TEST(Methods, LookupIsCaseSensitiveAndRoundTrips) {
    for (Method m : {Method::invite, Method::ack, Method::bye, Method::cancel, Method::options, Method::register_,
                     Method::refer, Method::notify, Method::subscribe, Method::info, Method::message, Method::prack,
                     Method::update, Method::publish}) {
        EXPECT_EQ(lookup_method(method_name(m)), m) << method_name(m);
    }
    EXPECT_EQ(lookup_method("invite"), Method::other);
    EXPECT_EQ(lookup_method("FOO"), Method::other);
    EXPECT_EQ(lookup_method(""), Method::other);
    EXPECT_EQ(method_name(Method::other), "");
}

}  // namespace
}  // namespace referkit
