// Typed headers of a parsed Message (RFC 3261 §8.1.1, §20; RFC 3515, 3891, 3892, 4488): lists, REFER, duplicates, mandatory.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/message.hpp"
#include "referkit/core/params.hpp"
#include "message_test_support.hpp"
#include "test_support.hpp"

namespace referkit {
namespace {

using test::at;
using test::crlf_lines;
using test::Fails;
using test::FailsWith;
using test::make_request;
using test::Ok;

// ---------------------------------------------------------------- lists

TEST(MessageParse, ViasInOneLineAndSeveralLines) {
    const std::string text = crlf_lines({
        "OPTIONS sip:bob@biloxi.com SIP/2.0",
        "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com:5061;branch=z9hG4bK2",
        "To: <sip:bob@biloxi.com>",
        "Via: SIP/2.0/UDP c.example.com;branch=z9hG4bK3",
        "From: <sip:alice@atlanta.com>;tag=1",
        "Call-ID: abc",
        "CSeq: 1 OPTIONS",
        "v: SIP/2.0/SCTP [2001:db8::1];branch=z9hG4bK4",
        "Content-Length: 0",
        "",
    });
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->top_via().host, "a.example.com");
    EXPECT_EQ(m->count(HeaderId::via), 3u);
    auto vias = m->vias();
    ASSERT_TRUE(Ok(vias));
    ASSERT_EQ(vias->size(), 4u);
    EXPECT_EQ((*vias)[0].host, "a.example.com");
    EXPECT_EQ((*vias)[1].host, "b.example.com");
    EXPECT_EQ((*vias)[1].transport, "TCP");
    EXPECT_EQ((*vias)[1].port, 5061);
    EXPECT_EQ((*vias)[2].host, "c.example.com");
    EXPECT_EQ((*vias)[3].host, "[2001:db8::1]");
    EXPECT_EQ((*vias)[3].branch, "z9hG4bK4");
}

TEST(MessageParse, BadLowerViaIsReportedByVias) {
    std::string text = make_request("OPTIONS", "Via: SIP/2.0/UDP x.example.com;branch\r\n");
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));  // only the top Via is checked at parse time
    EXPECT_TRUE(Fails(m->vias(), ErrorCode::bad_param, at(text, "SIP/2.0/UDP x.example.com;branch") + 32));
}

TEST(MessageParse, RouteAndRecordRouteKeepTheirOrder) {
    std::string text = make_request("INVITE",
                                    "Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
                                    "Route: \"Proxy, Inc\" <sip:r1.example.com;lr>\r\n"
                                    "Record-Route: <sip:p3.example.com;lr>\r\n"
                                    "Route: <sip:r2.example.com;lr>,<sip:r3.example.com;lr;transport=tcp>\r\n");
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    auto rr = m->name_addrs(HeaderId::record_route);
    ASSERT_TRUE(Ok(rr));
    ASSERT_EQ(rr->size(), 3u);
    EXPECT_EQ((*rr)[0].uri.host, "p1.example.com");
    EXPECT_EQ((*rr)[1].uri.host, "p2.example.com");
    EXPECT_EQ((*rr)[2].uri.host, "p3.example.com");
    EXPECT_TRUE((*rr)[0].uri.params.contains("lr"));
    auto route = m->name_addrs(HeaderId::route);
    ASSERT_TRUE(Ok(route));
    ASSERT_EQ(route->size(), 3u);
    EXPECT_EQ((*route)[0].display(), "Proxy, Inc");
    EXPECT_EQ((*route)[0].uri.host, "r1.example.com");
    EXPECT_EQ((*route)[1].uri.host, "r2.example.com");
    EXPECT_EQ((*route)[2].uri.transport(), "tcp");
    auto none = m->name_addrs(HeaderId::path);
    ASSERT_TRUE(Ok(none));
    EXPECT_TRUE(none->empty());
}

TEST(MessageParse, NameAddrErrorsPointIntoTheBuffer) {
    std::string text = make_request("INVITE", "Route: <sip:r1;lr>, <sip:r2@[::1>\r\n");
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    EXPECT_TRUE(Fails(m->name_addrs(HeaderId::route), ErrorCode::bad_host, at(text, "[::1>")));
}

TEST(MessageParse, Contacts) {
    std::string text = make_request("REGISTER",
                                    "Contact: <sip:a@h1>;expires=60, \"Bob, Jr\" <sip:b@h2>\r\n"
                                    "m: sip:c@h3;q=0.5\r\n");
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    auto c = m->contacts();
    ASSERT_TRUE(Ok(c));
    EXPECT_FALSE(c->is_star);
    ASSERT_EQ(c->entries.size(), 3u);
    EXPECT_EQ(c->entries[0].uri.host, "h1");
    EXPECT_EQ(c->entries[0].params.find("expires")->value, "60");
    EXPECT_EQ(c->entries[1].display(), "Bob, Jr");
    EXPECT_EQ(c->entries[2].uri.host, "h3");
    EXPECT_FALSE(c->entries[2].angle_brackets);
    EXPECT_EQ(c->entries[2].params.find("q")->value, "0.5");
}

TEST(MessageParse, ContactStar) {
    auto m = Message::parse(make_request("REGISTER", "Contact: *\r\nExpires: 0\r\n"));
    ASSERT_TRUE(Ok(m));
    auto c = m->contacts();
    ASSERT_TRUE(Ok(c));
    EXPECT_TRUE(c->is_star);
    EXPECT_TRUE(c->entries.empty());
    EXPECT_EQ(m->expires().value(), 0u);

    std::string both = make_request("REGISTER", "Contact: *\r\nContact: <sip:a@b>\r\n");
    auto m2 = Message::parse(both);
    ASSERT_TRUE(Ok(m2));
    EXPECT_TRUE(Fails(m2->contacts(), ErrorCode::bad_name_addr, at(both, "*\r\n")));
}

TEST(MessageParse, NoContactIsAnEmptyList) {
    auto m = Message::parse(make_request("OPTIONS"));
    ASSERT_TRUE(Ok(m));
    auto c = m->contacts();
    ASSERT_TRUE(Ok(c));
    EXPECT_FALSE(c->is_star);
    EXPECT_TRUE(c->entries.empty());
}

// ---------------------------------------------------------------- REFER headers

TEST(MessageParse, ReferToWithEscapedReplaces) {
    // RFC 5589 §7.1 / RFC 3891 §5: the Replaces header travels escaped inside the Refer-To URI.
    std::string text = make_request(
        "REFER",
        "Refer-To: <sip:carol@chicago.example.com?Replaces=425928%40bobster.example.org%3Bto-tag%3D7743%3Bfrom-tag%3D6472>\r\n"
        "Referred-By: <sip:alice@atlanta.example.com>\r\n");
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    auto rt = m->refer_to();
    ASSERT_TRUE(Ok(rt));
    EXPECT_EQ(rt->uri.user, "carol");
    EXPECT_EQ(rt->uri.host, "chicago.example.com");
    auto escaped = rt->uri.header("Replaces");
    ASSERT_TRUE(escaped);
    EXPECT_EQ(*escaped, "425928%40bobster.example.org%3Bto-tag%3D7743%3Bfrom-tag%3D6472");
    const std::string decoded = percent_decode(*escaped);
    EXPECT_EQ(decoded, "425928@bobster.example.org;to-tag=7743;from-tag=6472");
    auto rep = parse_replaces(decoded);
    ASSERT_TRUE(Ok(rep));
    EXPECT_EQ(rep->call_id, "425928@bobster.example.org");
    EXPECT_EQ(rep->to_tag, "7743");
    EXPECT_EQ(rep->from_tag, "6472");
    auto rb = m->referred_by();
    ASSERT_TRUE(Ok(rb));
    EXPECT_EQ(rb->uri.user, "alice");
}

TEST(MessageParse, ReferToAsAddrSpec) {
    auto m = Message::parse(make_request("REFER", "Refer-To: sip:carol@cleveland.example.org;method=INVITE\r\n"));
    ASSERT_TRUE(Ok(m));
    auto rt = m->refer_to();
    ASSERT_TRUE(Ok(rt));
    // Without <>, ';method=INVITE' is a header parameter, not a URI parameter.
    EXPECT_TRUE(rt->uri.params.empty());
    EXPECT_EQ(rt->params.find("method")->value, "INVITE");
}

TEST(MessageParse, TypedAccessOfAbsentHeaders) {
    auto m = Message::parse(make_request("REFER"));
    ASSERT_TRUE(Ok(m));
    EXPECT_TRUE(FailsWith(m->refer_to(), ErrorCode::header_absent));
    EXPECT_TRUE(FailsWith(m->referred_by(), ErrorCode::header_absent));
    EXPECT_TRUE(FailsWith(m->event(), ErrorCode::header_absent));
    EXPECT_TRUE(FailsWith(m->subscription_state(), ErrorCode::header_absent));
    EXPECT_TRUE(FailsWith(m->refer_sub(), ErrorCode::header_absent));
    EXPECT_TRUE(FailsWith(m->replaces(), ErrorCode::header_absent));
    EXPECT_TRUE(FailsWith(m->target_dialog(), ErrorCode::header_absent));
    EXPECT_TRUE(FailsWith(m->expires(), ErrorCode::header_absent));
    EXPECT_TRUE(FailsWith(m->content_type(), ErrorCode::header_absent));
}

TEST(MessageParse, NotifyHeaders) {
    auto m = Message::parse(make_request("NOTIFY",
                                         "Event: refer;id=93809824\r\n"
                                         "Subscription-State: active;expires=60\r\n"
                                         "Content-Type: message/sipfrag;version=2.0\r\n",
                                         "SIP/2.0 100 Trying\r\n"));
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->event()->id, "93809824");
    auto ss = m->subscription_state();
    ASSERT_TRUE(Ok(ss));
    EXPECT_EQ(ss->state, Substate::active);
    EXPECT_EQ(*ss->expires, 60u);
    EXPECT_TRUE(m->content_type()->is("message", "sipfrag"));
    EXPECT_EQ(m->body(), "SIP/2.0 100 Trying\r\n");
}

TEST(MessageParse, ReferSubReplacesAndTargetDialog) {
    auto m = Message::parse(make_request("INVITE",
                                         "Refer-Sub: false\r\n"
                                         "Replaces: 98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff\r\n"
                                         "Target-Dialog: abc@d;local-tag=1;remote-tag=2\r\n"));
    ASSERT_TRUE(Ok(m));
    EXPECT_FALSE(m->refer_sub()->value);
    auto rep = m->replaces();
    ASSERT_TRUE(Ok(rep));
    EXPECT_EQ(rep->call_id, "98732@sip.example.com");
    EXPECT_EQ(rep->from_tag, "r33th4x0r");
    EXPECT_EQ(rep->to_tag, "ff87ff");
    auto td = m->target_dialog();
    ASSERT_TRUE(Ok(td));
    EXPECT_EQ(td->to_tag, "2");
    EXPECT_EQ(td->from_tag, "1");
}

TEST(MessageParse, TypedErrorsPointIntoTheBuffer) {
    std::string text = make_request("NOTIFY",
                                    "Event: refer;id\r\n"
                                    "Replaces: abc;to-tag=1\r\n"
                                    "Expires: 12x\r\n"
                                    "Authorization: Digest realm\r\n"
                                    "Subscription-State: active;expires=abc\r\n");
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    EXPECT_TRUE(Fails(m->event(), ErrorCode::bad_param, at(text, "refer;id") + 8));
    EXPECT_TRUE(Fails(m->replaces(), ErrorCode::bad_param, at(text, "abc;to-tag=1") + 12));
    EXPECT_TRUE(Fails(m->expires(), ErrorCode::bad_number, at(text, "12x") + 2));
    EXPECT_TRUE(Fails(m->auth(HeaderId::authorization), ErrorCode::bad_auth, at(text, "Digest realm") + 12));
    EXPECT_TRUE(Fails(m->subscription_state(), ErrorCode::bad_number, at(text, "abc\r\n")));
}

TEST(MessageParse, AuthChallenges) {
    std::string text = k_ringing;
    text.replace(text.find("SIP/2.0 180 Ringing"), 19, "SIP/2.0 401 Unauthorized");
    text.insert(text.find("Content-Length"),
                "WWW-Authenticate: Digest realm=\"a.example.com\", nonce=\"1\"\r\n"
                "WWW-Authenticate: Digest realm=\"b.example.com\", nonce=\"2\", algorithm=SHA-256\r\n");
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    auto a = m->auth(HeaderId::www_authenticate);
    ASSERT_TRUE(Ok(a));
    ASSERT_EQ(a->size(), 2u);
    EXPECT_EQ((*a)[0].realm, "a.example.com");
    EXPECT_EQ((*a)[1].realm, "b.example.com");
    EXPECT_EQ((*a)[1].algorithm, "SHA-256");
    EXPECT_TRUE(m->auth(HeaderId::proxy_authenticate)->empty());
}

// ---------------------------------------------------------------- single-value headers

TEST(MessageParse, DuplicateHotHeaders) {
    for (std::string_view dup : {"From: <sip:x@y>;tag=2", "To: <sip:x@y>", "Call-ID: other", "CSeq: 2 INVITE",
                                 "Max-Forwards: 69", "f: <sip:x@y>;tag=2", "i: other"}) {
        std::string text = make_request("INVITE", std::string(dup) + "\r\n");
        auto m = Message::parse(text);
        EXPECT_TRUE(Fails(m, ErrorCode::duplicate_header, last(text, dup))) << dup;
        if (!m) {
            EXPECT_EQ(m.error().status, 400);
        }
    }
}

TEST(MessageParse, SeveralContentLengths) {
    // RFC 4475 §3.3.9 (mcl01): even equal values are not trusted.
    std::string text = make_request("INVITE", "Content-Length: 0\r\n");
    EXPECT_TRUE(Fails(Message::parse(text), ErrorCode::bad_content_length, last(text, "Content-Length")));
}

TEST(MessageParse, DuplicateSingleHeadersFoundOnAccess) {
    std::string text = make_request("REFER", "Refer-To: <sip:a@b>\r\nEvent: refer\r\nRefer-To: <sip:c@d>\r\nEvent: refer;id=2\r\n");
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->count(HeaderId::refer_to), 2u);
    EXPECT_TRUE(Fails(m->refer_to(), ErrorCode::duplicate_header, last(text, "Refer-To")));
    EXPECT_TRUE(Fails(m->event(), ErrorCode::duplicate_header, last(text, "Event")));
}

// ---------------------------------------------------------------- mandatory headers

TEST(MessageParse, MissingMandatoryHeaders) {
    const std::vector<std::string_view> lines = {
        "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds",
        "To: Bob <sip:bob@biloxi.com>",
        "From: Alice <sip:alice@atlanta.com>;tag=1928301774",
        "Call-ID: a84b4c76e66710@pc33.atlanta.com",
        "CSeq: 314159 OPTIONS",
    };
    for (std::size_t skip = 0; skip < lines.size(); ++skip) {
        std::string text = "OPTIONS sip:bob@biloxi.com SIP/2.0\r\n";
        for (std::size_t i = 0; i < lines.size(); ++i)
            if (i != skip) text += std::string(lines[i]) + "\r\n";
        text += "Content-Length: 2\r\n\r\nhi";
        auto m = Message::parse(text);
        EXPECT_TRUE(Fails(m, ErrorCode::missing_header, end_of_headers(text))) << lines[skip];
        if (!m) {
            EXPECT_EQ(m.error().status, 400);
        }
    }
}

TEST(MessageParse, MissingHeaderInAResponse) {
    std::string text = k_ringing;
    text.erase(text.find("Call-ID"), text.find("CSeq") - text.find("Call-ID"));
    EXPECT_TRUE(Fails(Message::parse(text), ErrorCode::missing_header, end_of_headers(text)));
}

TEST(MessageParse, CSeqMethodMustMatchTheRequest) {
    std::string text = make_request("INVITE");
    text.replace(text.find("314159 INVITE"), 13, "314159 BYE");
    auto m = Message::parse(text);
    ASSERT_TRUE(Fails(m, ErrorCode::cseq_method_mismatch, at(text, "314159 BYE")));
    EXPECT_EQ(m.error().status, 400);

    // RFC 4475 §3.1.2.18 (mismatch02): with an unknown method the answer is 501.
    std::string unknown = make_request("NEWMETHOD");
    unknown.replace(unknown.find("314159 NEWMETHOD"), 16, "314159 INVITE");
    auto u = Message::parse(unknown);
    ASSERT_TRUE(Fails(u, ErrorCode::cseq_method_mismatch, at(unknown, "314159 INVITE")));
    EXPECT_EQ(u.error().status, 501);
}

}  // namespace
}  // namespace referkit
