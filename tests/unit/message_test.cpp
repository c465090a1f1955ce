// Message::parse (RFC 3261 §7, §18.3) and the typed accessors of a parsed message.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/message.hpp"
#include "referkit/core/params.hpp"
#include "test_support.hpp"

#ifndef REFERKIT_VECTORS_DIR
#error "REFERKIT_VECTORS_DIR must name tests/conformance/vectors"
#endif

namespace referkit {
namespace {

using test::at;
using test::crlf_lines;
using test::Fails;
using test::FailsWith;
using test::make_request;
using test::Ok;

std::string read_vector(std::string_view name) {
    std::string path = std::string(REFERKIT_VECTORS_DIR) + "/" + std::string(name);
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::uint32_t last(std::string_view text, std::string_view needle) {
    std::size_t pos = text.rfind(needle);
    EXPECT_NE(pos, std::string_view::npos) << "test bug: '" << needle << "' not in the text";
    return static_cast<std::uint32_t>(pos);
}

std::uint32_t end_of_headers(std::string_view text) {
    std::size_t pos = text.find("\r\n\r\n");
    EXPECT_NE(pos, std::string_view::npos);
    return static_cast<std::uint32_t>(pos + 4);
}

const std::string k_invite = crlf_lines({
                                 "INVITE sip:bob@biloxi.com SIP/2.0",
                                 "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds",
                                 "Max-Forwards: 70",
                                 "To: Bob <sip:bob@biloxi.com>",
                                 "From: Alice <sip:alice@atlanta.com>;tag=1928301774",
                                 "Call-ID: a84b4c76e66710@pc33.atlanta.com",
                                 "CSeq: 314159 INVITE",
                                 "Contact: <sip:alice@pc33.atlanta.com>",
                                 "Content-Type: application/sdp",
                                 "Content-Length: 4",
                                 "",
                             }) +
                             "v=0\n";

const std::string k_ringing = crlf_lines({
    "SIP/2.0 180 Ringing",
    "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;received=192.0.2.1",
    "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf",
    "From: Alice <sip:alice@atlanta.com>;tag=1928301774",
    "Call-ID: a84b4c76e66710@pc33.atlanta.com",
    "CSeq: 314159 INVITE",
    "Content-Length: 0",
    "",
});

// A response with the given status line and the mandatory headers.
std::string response_with_status_line(std::string_view status_line) {
    std::string s(status_line);
    s += "\r\n";
    s += k_ringing.substr(k_ringing.find("\r\n") + 2);
    return s;
}

// ---------------------------------------------------------------- requests and responses

TEST(MessageParse, Request) {
    auto m = Message::parse(k_invite);
    ASSERT_TRUE(Ok(m));
    EXPECT_TRUE(m->is_request());
    EXPECT_FALSE(m->is_response());
    EXPECT_EQ(m->status(), 0);
    EXPECT_EQ(m->method(), Method::invite);
    EXPECT_EQ(m->method_text(), "INVITE");
    EXPECT_EQ(m->request_uri().text, "sip:bob@biloxi.com");
    EXPECT_EQ(m->request_uri().user, "bob");
    EXPECT_EQ(m->start_line(), "INVITE sip:bob@biloxi.com SIP/2.0");
    EXPECT_EQ(m->top_via().transport, "UDP");
    EXPECT_EQ(m->top_via().host, "pc33.atlanta.com");
    EXPECT_EQ(m->top_via().branch, "z9hG4bK776asdhds");
    EXPECT_EQ(m->from().display(), "Alice");
    EXPECT_EQ(m->from().tag, "1928301774");
    EXPECT_EQ(m->to().display(), "Bob");
    EXPECT_EQ(m->to().tag, "");
    EXPECT_EQ(m->call_id(), "a84b4c76e66710@pc33.atlanta.com");
    EXPECT_EQ(m->cseq().number, 314159u);
    EXPECT_EQ(m->cseq().method, Method::invite);
    ASSERT_TRUE(m->max_forwards());
    EXPECT_EQ(*m->max_forwards(), 70u);
    ASSERT_TRUE(m->content_length());
    EXPECT_EQ(*m->content_length(), 4u);
    EXPECT_EQ(m->body(), "v=0\n");
    EXPECT_EQ(m->bytes(), k_invite);
    EXPECT_EQ(m->size(), k_invite.size());
    ASSERT_EQ(m->headers().size(), 9u);
    EXPECT_EQ(m->headers()[0].id, HeaderId::via);
    EXPECT_EQ(m->headers()[0].name, "Via");
    EXPECT_EQ(m->headers()[0].value, "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds");
    EXPECT_FALSE(m->headers()[0].folded);
    EXPECT_EQ(m->headers()[8].id, HeaderId::content_length);
    auto ct = m->content_type();
    ASSERT_TRUE(Ok(ct));
    EXPECT_TRUE(ct->is("application", "sdp"));
}

TEST(MessageParse, Response) {
    auto m = Message::parse(k_ringing);
    ASSERT_TRUE(Ok(m));
    EXPECT_TRUE(m->is_response());
    EXPECT_EQ(m->status(), 180);
    EXPECT_EQ(m->reason(), "Ringing");
    EXPECT_EQ(m->method(), Method::other);
    EXPECT_EQ(m->to().tag, "a6c85cf");
    EXPECT_EQ(m->top_via().received, "192.0.2.1");
    EXPECT_EQ(m->cseq().method, Method::invite);
    EXPECT_FALSE(m->max_forwards());
    EXPECT_EQ(m->body(), "");
    EXPECT_EQ(m->size(), k_ringing.size());
}

TEST(MessageParse, ReasonPhrases) {
    struct Case {
        std::string_view line;
        int status;
        std::string_view reason;
    };
    for (const Case& c : {Case{"SIP/2.0 486 Busy Here", 486, "Busy Here"},
                          Case{"SIP/2.0 200 ", 200, ""},
                          Case{"SIP/2.0 200", 200, ""},  // RFC 4475 §3.1.1.13 (noreason), tolerated
                          Case{"SIP/2.0 699 \xE5\x90\x8D of 100%; \"x\"\t<y>", 699, "\xE5\x90\x8D of 100%; \"x\"\t<y>"},
                          Case{"sip/2.0 100 Trying", 100, "Trying"}}) {
        auto m = Message::parse(response_with_status_line(c.line));
        ASSERT_TRUE(Ok(m)) << c.line;
        EXPECT_EQ(m->status(), c.status);
        EXPECT_EQ(m->reason(), c.reason);
    }
}

TEST(MessageParse, ResponseCSeqMayNameAnyMethod) {
    std::string text = k_ringing;
    text.replace(text.find("314159 INVITE"), 13, "314159 FOO");
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->cseq().method, Method::other);
}

// ---------------------------------------------------------------- header names

TEST(MessageParse, CompactForms) {
    const std::string text = crlf_lines({
                                 "INVITE sip:bob@biloxi.com SIP/2.0",
                                 "v: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK1",
                                 "t: <sip:bob@biloxi.com>",
                                 "f: <sip:alice@atlanta.com>;tag=1",
                                 "i: abc@pc33",
                                 "CSeq: 1 INVITE",
                                 "m: <sip:alice@pc33.atlanta.com>",
                                 "c: application/sdp",
                                 "o: refer;id=5",
                                 "r: <sip:carol@chicago.com>",
                                 "b: <sip:alice@atlanta.com>",
                                 "k: replaces",
                                 "s: Hello",
                                 "u: refer",
                                 "e: gzip",
                                 "x: 1800",
                                 "l: 3",
                                 "",
                             }) +
                             "abc";
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    const std::vector<HeaderId> ids = {HeaderId::via,           HeaderId::to,         HeaderId::from,
                                       HeaderId::call_id,       HeaderId::cseq,       HeaderId::contact,
                                       HeaderId::content_type,  HeaderId::event,      HeaderId::refer_to,
                                       HeaderId::referred_by,   HeaderId::supported,  HeaderId::subject,
                                       HeaderId::allow_events,  HeaderId::content_encoding, HeaderId::session_expires,
                                       HeaderId::content_length};
    ASSERT_EQ(m->headers().size(), ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(m->headers()[i].id, ids[i]) << m->headers()[i].name;
    EXPECT_EQ(m->headers()[0].name, "v");  // as written
    EXPECT_EQ(m->top_via().branch, "z9hG4bK1");
    EXPECT_EQ(m->to().uri.user, "bob");
    EXPECT_EQ(m->from().tag, "1");
    EXPECT_EQ(m->call_id(), "abc@pc33");
    EXPECT_EQ(*m->content_length(), 3u);
    EXPECT_EQ(m->body(), "abc");
    EXPECT_TRUE(m->content_type()->is("application", "sdp"));
    EXPECT_EQ(m->event()->id, "5");
    EXPECT_EQ(m->refer_to()->uri.user, "carol");
    EXPECT_EQ(m->referred_by()->uri.user, "alice");
    EXPECT_EQ(m->tokens(HeaderId::supported).value(), (std::vector<std::string_view>{"replaces"}));
    EXPECT_EQ(m->tokens(HeaderId::allow_events).value(), (std::vector<std::string_view>{"refer"}));
    ASSERT_EQ(m->contacts()->entries.size(), 1u);
    EXPECT_EQ(m->find(HeaderId::subject)->value, "Hello");
    EXPECT_EQ(m->find("Subject"), m->find(HeaderId::subject));
    EXPECT_EQ(m->find("s"), m->find(HeaderId::subject));
}

TEST(MessageParse, HeaderNamesAreCaseInsensitive) {
    const std::string text = crlf_lines({
        "OPTIONS sip:bob@biloxi.com SIP/2.0",
        "vIA: SIP/2.0/UDP h;branch=z9hG4bK1",
        "TO: <sip:bob@biloxi.com>",
        "from: <sip:alice@atlanta.com>;tag=1",
        "CALL-ID: abc",
        "cseq: 1 OPTIONS",
        "max-FORWARDS: 70",
        "X-Custom: 42",
        "content-LENGTH: 0",
        "",
    });
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->call_id(), "abc");
    EXPECT_EQ(*m->max_forwards(), 70u);
    EXPECT_EQ(m->find(HeaderId::call_id)->name, "CALL-ID");
    EXPECT_EQ(m->find("call-id")->value, "abc");
    EXPECT_EQ(m->find("Call-ID")->value, "abc");
    ASSERT_NE(m->find("x-CUSTOM"), nullptr);
    EXPECT_EQ(m->find("x-CUSTOM")->value, "42");
    EXPECT_EQ(m->find("x-custom")->id, HeaderId::other);
    EXPECT_EQ(m->find("X-Other"), nullptr);
    EXPECT_EQ(m->find(HeaderId::subject), nullptr);
}

TEST(MessageParse, WhiteSpaceBeforeColon) {
    std::string text = make_request("OPTIONS", "Subject   :  hello  \r\n");
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->find(HeaderId::subject)->value, "hello");
}

// ---------------------------------------------------------------- folding

TEST(MessageParse, FoldedHeaders) {
    std::string text = make_request("INVITE", "Subject: I know you're there,\r\n pick up the phone\r\n\tand talk to me!\r\n"
                                              "X-Plain: one line\r\n");
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    const HeaderField* subject = m->find(HeaderId::subject);
    ASSERT_NE(subject, nullptr);
    EXPECT_TRUE(subject->folded);
    EXPECT_EQ(subject->value, "I know you're there,\r\n pick up the phone\r\n\tand talk to me!");
    const HeaderField* plain = m->find("X-Plain");
    ASSERT_NE(plain, nullptr);
    EXPECT_FALSE(plain->folded);
    EXPECT_EQ(plain->value, "one line");
}

TEST(MessageParse, FoldedHotHeaders) {
    const std::string text = test::folded_hot_headers();
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->top_via().branch, "z9hG4bK1");
    EXPECT_EQ(m->to().uri.host, "biloxi.com");
    EXPECT_EQ(m->find(HeaderId::to)->value, "<sip:bob@biloxi.com>");  // the leading fold is trimmed
    EXPECT_TRUE(m->find(HeaderId::to)->folded);
    EXPECT_EQ(m->from().tag, "88");
    EXPECT_EQ(m->cseq().number, 7u);
    EXPECT_EQ(m->cseq().method, Method::options);
}

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

// ---------------------------------------------------------------- body framing

TEST(MessageFraming, DatagramExtraBytesAreIgnored) {
    std::string msg = make_request("INVITE", "", "abcd");
    std::string datagram = msg + "EXTRA";
    auto m = Message::parse(datagram);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->body(), "abcd");
    EXPECT_EQ(m->size(), msg.size());
    EXPECT_LT(m->size(), datagram.size());
    EXPECT_EQ(m->bytes(), msg);
}

TEST(MessageFraming, DatagramWithTwoRequests) {
    // RFC 4475 §3.1.1.8 (dblreq): only the first request is processed.
    std::string d = read_vector("rfc4475/dblreq.dat");
    auto m = Message::parse(d);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->method(), Method::register_);
    EXPECT_EQ(m->body(), "");
    EXPECT_EQ(m->size(), end_of_headers(d));
    EXPECT_LT(m->size(), d.size());
    EXPECT_EQ(m->call_id(), "dblreq.0ha0isndaksdj99sdfafnl3lk233412");  // compact "I"
}

TEST(MessageFraming, DatagramWithoutContentLengthTakesTheRest) {
    std::string text = make_request("MESSAGE", "", "hello world");
    text.erase(text.find("Content-Length"), text.find("\r\n\r\n") + 2 - text.find("Content-Length"));
    ASSERT_EQ(text.find("Content-Length"), std::string::npos);
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    EXPECT_FALSE(m->content_length());
    EXPECT_EQ(m->body(), "hello world");
    EXPECT_EQ(m->size(), text.size());
}

TEST(MessageFraming, DatagramEndingAfterTheLastHeader) {
    std::string text = make_request("OPTIONS");
    text.resize(text.size() - 2);  // no empty line
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->body(), "");
    EXPECT_EQ(m->size(), text.size());
}

TEST(MessageFraming, StreamRequiresContentLength) {
    std::string text = make_request("MESSAGE", "", "hello");
    text.erase(text.find("Content-Length"), text.find("\r\n\r\n") + 2 - text.find("Content-Length"));
    auto m = Message::parse(text, Limits{}, Framing::stream);
    ASSERT_TRUE(Fails(m, ErrorCode::missing_content_length, end_of_headers(text)));
    EXPECT_EQ(m.error().status, 400);
}

TEST(MessageFraming, StreamStopsAtContentLength) {
    std::string first = make_request("MESSAGE", "", "hello");
    std::string both = first + make_request("OPTIONS");
    auto m = Message::parse(both, Limits{}, Framing::stream);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->body(), "hello");
    EXPECT_EQ(m->size(), first.size());
}

TEST(MessageFraming, StreamHeadersNotClosed) {
    std::string text = make_request("OPTIONS");
    text.resize(text.size() - 2);
    EXPECT_TRUE(Fails(Message::parse(text, Limits{}, Framing::stream), ErrorCode::bad_header_name,
                      static_cast<std::uint32_t>(text.size())));
}

TEST(MessageFraming, BodyTruncated) {
    // RFC 4475 §3.1.2.2 (clerr).
    std::string text = make_request("INVITE", "", "abcd");
    text.replace(text.find("Content-Length: 4"), 17, "Content-Length: 10");
    auto m = Message::parse(text);
    ASSERT_TRUE(Fails(m, ErrorCode::body_truncated, end_of_headers(text)));
    EXPECT_EQ(m.error().status, 400);
}

TEST(MessageFraming, MalformedContentLength) {
    for (std::string_view v : {"abc", "-1", "4294967296", "1 2"}) {
        std::string text = make_request("INVITE");
        text.replace(text.find("Content-Length: 0"), 17, "Content-Length: " + std::string(v));
        auto m = Message::parse(text);
        ASSERT_TRUE(FailsWith(m, ErrorCode::bad_content_length)) << v;
        EXPECT_GE(m.error().offset, last(text, v)) << v;
        EXPECT_LT(m.error().offset, last(text, v) + v.size()) << v;
    }
    std::string ncl = make_request("INVITE");
    ncl.replace(ncl.find("Content-Length: 0"), 17, "Content-Length: -999");
    EXPECT_TRUE(Fails(Message::parse(ncl), ErrorCode::bad_content_length, at(ncl, "-999")));
}

// ---------------------------------------------------------------- limits

TEST(MessageLimits, MessageTooLarge) {
    Limits limits;
    limits.max_message_size = 100;
    std::string text = make_request("INVITE");
    ASSERT_GT(text.size(), 100u);
    auto m = Message::parse(text, limits);
    ASSERT_TRUE(Fails(m, ErrorCode::message_too_large, 100));
    EXPECT_EQ(m.error().status, 513);
    auto b = Message::parse(SharedBuffer::copy_of(text), limits);
    ASSERT_TRUE(Fails(b, ErrorCode::message_too_large, 100));
    EXPECT_EQ(b.error().status, 513);
    limits.max_message_size = text.size();
    EXPECT_TRUE(Ok(Message::parse(text, limits)));
}

TEST(MessageLimits, TooManyHeaders) {
    std::string text = make_request("INVITE");  // 7 header fields
    Limits limits;
    limits.max_headers = 7;
    EXPECT_TRUE(Ok(Message::parse(text, limits)));
    limits.max_headers = 6;
    auto m = Message::parse(text, limits);
    ASSERT_TRUE(Fails(m, ErrorCode::too_many_headers, at(text, "Content-Length")));
    EXPECT_EQ(m.error().status, 400);
}

TEST(MessageLimits, HeaderLineTooLong) {
    Limits limits;
    limits.max_line_length = 60;
    std::string text = make_request("INVITE", "Subject: " + std::string(80, 'x') + "\r\n");
    auto m = Message::parse(text, limits);
    ASSERT_TRUE(Fails(m, ErrorCode::line_too_long, at(text, "Subject")));
    EXPECT_EQ(m.error().status, 400);
    // Folding does not get around the limit: the limit is on the unfolded field.
    std::string folded = make_request("INVITE", "Subject: " + std::string(40, 'x') + "\r\n " + std::string(40, 'y') + "\r\n");
    EXPECT_TRUE(Fails(Message::parse(folded, limits), ErrorCode::line_too_long, at(folded, "Subject")));
}

TEST(MessageLimits, StartLineTooLong) {
    Limits limits;
    limits.max_line_length = 20;
    std::string text = make_request("INVITE");
    auto m = Message::parse(text, limits);
    ASSERT_TRUE(Fails(m, ErrorCode::line_too_long, 20));
    EXPECT_EQ(m.error().status, 414);
    auto lead = Message::parse("\r\n" + text, limits);
    EXPECT_TRUE(Fails(lead, ErrorCode::line_too_long, 22));
}

TEST(MessageLimits, RequestUriTooLong) {
    Limits limits;
    limits.max_uri_length = 10;
    std::string text = make_request("INVITE");
    auto m = Message::parse(text, limits);
    ASSERT_TRUE(Fails(m, ErrorCode::uri_too_long, 7));
    EXPECT_EQ(m.error().status, 414);
}

// ---------------------------------------------------------------- line endings

TEST(MessageParse, LeadingLineEndingsAreSkipped) {
    std::string text = make_request("OPTIONS");
    for (std::string_view lead : {"\r\n", "\r\n\r\n", "\n", "\n\r\n"}) {
        std::string with = std::string(lead) + text;
        auto m = Message::parse(with);
        ASSERT_TRUE(Ok(m)) << with;
        EXPECT_EQ(m->size(), with.size());
        EXPECT_EQ(m->bytes(), text);
        EXPECT_EQ(m->offset_of(m->start_line()), lead.size());
    }
}

TEST(MessageParse, BareLfLineEndings) {
    std::string text = make_request("INVITE", "Subject: folded\n value\n", "body\r\n");
    // Every CRLF of the header section (the empty line included) becomes a bare LF.
    const std::size_t blank = text.find("\r\n\r\n") + 2;
    std::string lf;
    for (std::size_t i = 0; i < text.size(); ++i)
        if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n' && i <= blank)) lf += text[i];
    ASSERT_EQ(lf.find("\r\n\r\n"), std::string::npos);
    auto m = Message::parse(lf);
    ASSERT_TRUE(Ok(m)) << lf;
    EXPECT_EQ(m->call_id(), "a84b4c76e66710@pc33.atlanta.com");
    EXPECT_EQ(m->cseq().method, Method::invite);
    EXPECT_EQ(m->body(), "body\r\n");
    EXPECT_EQ(m->find(HeaderId::subject)->value, "folded\n value");
    EXPECT_TRUE(m->find(HeaderId::subject)->folded);
    for (const HeaderField& h : m->headers()) EXPECT_EQ(h.value.find('\r'), std::string_view::npos) << h.name;
}

TEST(MessageParse, LoneCrIsABadLineEnding) {
    std::string text = make_request("OPTIONS");
    // Before the start line.
    EXPECT_TRUE(Fails(Message::parse("\r" + text), ErrorCode::bad_line_ending, 0));
    EXPECT_TRUE(Fails(Message::parse("\r\n\rX" + text), ErrorCode::bad_line_ending, 2));
    // Where the empty line ending the headers belongs.
    std::string blank = text.substr(0, text.size() - 2) + "\rX";
    EXPECT_TRUE(Fails(Message::parse(blank), ErrorCode::bad_line_ending, static_cast<std::uint32_t>(blank.size() - 2)));
}

TEST(MessageParse, LoneCrInsideAHeaderLineIsABadLineEnding) {
    // RFC 3261 §7: lines end in CRLF; a CR alone is neither a line ending nor allowed in a value
    // (it is not TEXT-UTF8char, and §25.1 LWS only admits CRLF followed by white space).
    std::string text = make_request("OPTIONS", "Subject: a\rb\r\n");
    EXPECT_TRUE(Fails(Message::parse(text), ErrorCode::bad_line_ending, at(text, "\rb")));
}

TEST(MessageParse, ControlCharacterInAValueIsABadHeaderValue) {
    // RFC 3261 §25.1: header-value = *(TEXT-UTF8char / UTF8-CONT / LWS); TEXT-UTF8char excludes
    // control characters. ErrorCode::bad_header_value exists for exactly this.
    std::string text = make_request("OPTIONS", "X-Note: a\x01" "b\r\n");
    EXPECT_TRUE(Fails(Message::parse(text), ErrorCode::bad_header_value, at(text, "\x01")));
}

TEST(MessageParse, FindWithANonTokenNameFindsNothing) {
    // Message::find takes "any name": a CR is not the '-' of "Call-ID".
    auto m = Message::parse(make_request("OPTIONS"));
    ASSERT_TRUE(Ok(m));
    EXPECT_NE(m->find("Call-ID"), nullptr);
    EXPECT_EQ(m->find("Call\rID"), nullptr);
    EXPECT_EQ(m->find("Max\rForwards"), nullptr);
}

// ---------------------------------------------------------------- start line errors

TEST(MessageErrors, StartLineOffsets) {
    struct Case {
        std::string_view line;
        ErrorCode code;
        std::uint32_t offset;
        std::uint16_t status;
    };
    for (const Case& c : {
             Case{"INVITE sip:bob@biloxi.com SIP/3.0", ErrorCode::unsupported_version, 26, 505},
             Case{"INVITE sip:bob@biloxi.com SIP/7.0", ErrorCode::unsupported_version, 26, 505},  // badvers
             Case{"INVITE sip:bob@biloxi.com SIP/2.0 ", ErrorCode::bad_start_line, 26, 400},       // trws
             Case{"INVITE  sip:bob@biloxi.com SIP/2.0", ErrorCode::bad_start_line, 7, 400},        // lwsstart
             Case{"INVITE <sip:bob@biloxi.com> SIP/2.0", ErrorCode::bad_request_uri, 7, 400},      // ltgtruri
             Case{"INVITE sip:bob@biloxi.com?Subject=x SIP/2.0", ErrorCode::bad_request_uri, 25, 400},
             Case{"INVITE sip:bob@[::1 SIP/2.0", ErrorCode::bad_host, 15, 400},
             Case{"INVITE sip:bob@biloxi.com:0 SIP/2.0", ErrorCode::bad_port, 26, 400},
             Case{"INVITE bob@biloxi.com SIP/2.0", ErrorCode::bad_request_uri, 7, 400},
             Case{"INVITE sip:bob@biloxi.com", ErrorCode::bad_start_line, 25, 400},
             Case{"INVITE", ErrorCode::bad_start_line, 6, 400},
             Case{"INV@ITE sip:bob@biloxi.com SIP/2.0", ErrorCode::bad_start_line, 3, 400},
             Case{"@INVITE sip:bob@biloxi.com SIP/2.0", ErrorCode::bad_method, 0, 400},
             Case{"INVITE sip:bob@biloxi.com SIP/2.0x", ErrorCode::bad_start_line, 26, 400},
             Case{"SIP/2.0 1000 Too Big", ErrorCode::bad_status_code, 8, 400},
             Case{"SIP/2.0 099 Too Small", ErrorCode::bad_status_code, 8, 400},
             Case{"SIP/2.0 700 Too Big", ErrorCode::bad_status_code, 8, 400},
             Case{"SIP/2.0 20 OK", ErrorCode::bad_status_code, 8, 400},
             Case{"SIP/2.0 200OK", ErrorCode::bad_status_code, 8, 400},
             Case{"SIP/2.0", ErrorCode::bad_status_code, 7, 400},
             Case{"SIP/2.0 200 O\x01K", ErrorCode::bad_reason_phrase, 13, 400},
             Case{"SIP/1.0 200 OK", ErrorCode::unsupported_version, 0, 505},
             Case{"SIP/2 200 OK", ErrorCode::bad_version, 0, 400},
             Case{"SIP/2.0.1 200 OK", ErrorCode::bad_version, 0, 400},
         }) {
        std::string text = response_with_status_line(c.line);
        auto m = Message::parse(text);
        EXPECT_TRUE(Fails(m, c.code, c.offset)) << c.line;
        if (!m) {
            EXPECT_EQ(m.error().status, c.status) << c.line;
        }
    }
}

TEST(MessageErrors, OffsetsCountLeadingLineEndings) {
    std::string text = "\r\n\r\nINVITE  sip:bob@biloxi.com SIP/2.0\r\n";
    EXPECT_TRUE(Fails(Message::parse(text), ErrorCode::bad_start_line, 11));
}

TEST(MessageErrors, HeaderNameErrors) {
    std::string no_colon = make_request("OPTIONS", "X-Foo bar\r\n");
    EXPECT_TRUE(Fails(Message::parse(no_colon), ErrorCode::bad_header_name, at(no_colon, "bar\r\n")));
    std::string no_name = make_request("OPTIONS", ": value\r\n");
    EXPECT_TRUE(Fails(Message::parse(no_name), ErrorCode::bad_header_name, at(no_name, ": value")));
    std::string space = make_request("OPTIONS", "X Foo: bar\r\n");
    EXPECT_TRUE(Fails(Message::parse(space), ErrorCode::bad_header_name, at(space, "Foo: bar")));
    std::string not_token = make_request("OPTIONS", "X[1]: bar\r\n");
    EXPECT_TRUE(Fails(Message::parse(not_token), ErrorCode::bad_header_name, at(not_token, "[1]")));
}

TEST(MessageErrors, HotHeaderValueOffsets) {
    std::string cseq = make_request("INVITE");
    cseq.replace(cseq.find("314159 INVITE"), 13, "2147483648 INVITE");
    EXPECT_TRUE(Fails(Message::parse(cseq), ErrorCode::bad_cseq, at(cseq, "2147483648")));

    std::string to = make_request("INVITE");
    to.replace(to.find("Bob <sip:bob@biloxi.com>"), 24, "<sip:bob@[::1>");
    EXPECT_TRUE(Fails(Message::parse(to), ErrorCode::bad_host, at(to, "[::1>")));

    std::string from = make_request("INVITE");
    from.replace(from.find("Alice <sip:alice@atlanta.com>"), 29, "\"Alice <sip:alice@atlanta.com>");
    EXPECT_TRUE(Fails(Message::parse(from), ErrorCode::bad_quoted_string, at(from, "\"Alice")));

    std::string via = make_request("INVITE");
    via.replace(via.find(";branch=z9hG4bK776asdhds"), 24, ";branch");
    EXPECT_TRUE(Fails(Message::parse(via), ErrorCode::bad_param, at(via, ";branch\r\n") + 7));

    std::string callid = make_request("INVITE");
    callid.replace(callid.find("a84b4c76e66710@pc33.atlanta.com"), 31, "a84b@");
    EXPECT_TRUE(Fails(Message::parse(callid), ErrorCode::bad_call_id, at(callid, "a84b@") + 5));

    std::string mf = make_request("INVITE");
    mf.replace(mf.find("Max-Forwards: 70"), 16, "Max-Forwards: 256");
    EXPECT_TRUE(Fails(Message::parse(mf), ErrorCode::bad_number, at(mf, "256")));
}

TEST(MessageErrors, EmptyMessages) {
    EXPECT_TRUE(Fails(Message::parse(std::string_view{}), ErrorCode::empty_message, 0));
    EXPECT_TRUE(Fails(Message::parse("\r\n\r\n"), ErrorCode::empty_message, 4));
}

TEST(MessageErrors, UnterminatedLines) {
    EXPECT_TRUE(Fails(Message::parse("INVITE sip:a@b SIP/2.0"), ErrorCode::bad_start_line, 22));
    std::string text = make_request("OPTIONS");
    text.resize(text.find("Content-Length") - 2);  // ends inside the CSeq line
    EXPECT_TRUE(Fails(Message::parse(text), ErrorCode::bad_line_ending, static_cast<std::uint32_t>(text.size())));
}

// ---------------------------------------------------------------- buffers and errors

TEST(MessageParse, ViewsPointIntoTheSharedBuffer) {
    SharedBuffer buf = SharedBuffer::copy_of(k_invite);
    auto m = Message::parse(buf);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->buffer().data(), buf.data());
    EXPECT_EQ(m->call_id().data(), buf.data() + k_invite.find("a84b4c76e66710@"));
    EXPECT_EQ(m->offset_of(m->call_id()), k_invite.find("a84b4c76e66710@"));
    EXPECT_EQ(m->offset_of(m->body()), k_invite.find("v=0"));
    // A copy of the message keeps the buffer alive.
    Message copy = *m;
    buf = SharedBuffer{};
    m = std::unexpected(ParseError{});
    EXPECT_EQ(copy.call_id(), "a84b4c76e66710@pc33.atlanta.com");
    EXPECT_EQ(copy.from().tag, "1928301774");
}

TEST(ParseErrorText, Describe) {
    ParseError e{ErrorCode::body_truncated, 42, 400, "Content-Length larger than the message"};
    EXPECT_EQ(e.describe(), "offset 42: Content-Length larger than the message (400 Bad Request)");
    ParseError big{ErrorCode::message_too_large, 65535, 513, "too big"};
    EXPECT_EQ(big.describe(), "offset 65535: too big (513 Message Too Large)");
    ParseError unknown{ErrorCode::bad_uri, 0, 499, "x"};
    EXPECT_EQ(unknown.describe(), "offset 0: x (499)");
}

TEST(ParseErrorText, DescribeAParseError) {
    std::string text = make_request("INVITE", "", "abcd");
    text.replace(text.find("Content-Length: 4"), 17, "Content-Length: 10");
    auto m = Message::parse(text);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().describe(), "offset " + std::to_string(end_of_headers(text)) +
                                        ": Content-Length larger than the bytes received (400 Bad Request)");
    auto v = Message::parse(response_with_status_line("SIP/3.0 200 OK"));
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().describe(), "offset 0: SIP version not supported (505 Version Not Supported)");
}

TEST(ParseErrorText, CodeNamesAndReasonPhrases) {
    for (int c = 0; c <= static_cast<int>(ErrorCode::stream_failed); ++c)
        EXPECT_NE(to_string(static_cast<ErrorCode>(c)), "unknown") << c;
    EXPECT_EQ(to_string(ErrorCode::bad_line_ending), "bad_line_ending");
    EXPECT_EQ(to_string(ErrorCode::missing_header), "missing_header");
    EXPECT_EQ(reason_phrase(486), "Busy Here");
    EXPECT_EQ(reason_phrase(481), "Call/Transaction Does Not Exist");
    EXPECT_EQ(reason_phrase(489), "Bad Event");
    EXPECT_EQ(reason_phrase(999), "");
}

// ---------------------------------------------------------------- RFC 4475 vectors

TEST(MessageVectors, Wsinv) {
    // RFC 4475 §3.1.1.1: a short tortuous INVITE.
    std::string d = read_vector("rfc4475/wsinv.dat");
    auto m = Message::parse(d);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->method(), Method::invite);
    EXPECT_TRUE(m->request_uri().params.contains("unknownparam"));
    EXPECT_EQ(m->to().uri.text, "sip:vivekg@chair-dnrc.example.com");
    EXPECT_EQ(m->to().tag, "1918181833n");
    EXPECT_EQ(m->from().display(), "J Rosenberg \\\"");
    EXPECT_EQ(m->from().tag, "98asjd8");
    EXPECT_EQ(*m->max_forwards(), 68u);
    EXPECT_EQ(m->call_id(), "wsinv.ndaksdj@192.0.2.1");
    EXPECT_EQ(*m->content_length(), 150u);
    EXPECT_EQ(m->body().size(), 150u);
    EXPECT_EQ(m->cseq().number, 9u);
    EXPECT_EQ(m->cseq().method, Method::invite);
    auto vias = m->vias();
    ASSERT_TRUE(Ok(vias));
    ASSERT_EQ(vias->size(), 3u);
    EXPECT_EQ((*vias)[0].host, "192.0.2.2");
    EXPECT_EQ((*vias)[0].branch, "390skdjuw");
    EXPECT_EQ((*vias)[1].transport, "TCP");
    EXPECT_EQ((*vias)[1].host, "spindle.example.com");
    EXPECT_EQ((*vias)[1].branch, "z9hG4bK9ikj8");
    EXPECT_EQ((*vias)[2].host, "192.168.255.111");
    EXPECT_EQ((*vias)[2].branch, "z9hG4bK30239");
    const HeaderField* nf = m->find("newfangledheader");
    ASSERT_NE(nf, nullptr);
    EXPECT_TRUE(nf->folded);
    EXPECT_EQ(nf->value, "newfangled value\r\n continued newfangled value");
    EXPECT_EQ(m->find(HeaderId::subject)->value, "");
    EXPECT_EQ(m->find("UnknownHeaderWithUnusualValue")->value, ";;,,;;,;");
    auto route = m->name_addrs(HeaderId::route);
    ASSERT_TRUE(Ok(route));
    ASSERT_EQ(route->size(), 1u);
    EXPECT_EQ((*route)[0].uri.host, "services.example.com");
    auto contacts = m->contacts();
    ASSERT_TRUE(Ok(contacts));
    ASSERT_EQ(contacts->entries.size(), 1u);
    const NameAddr& c = contacts->entries[0];
    EXPECT_EQ(c.display(), "Quoted string \"\"");
    EXPECT_EQ(c.params.find("newparam")->value, "newvalue");
    EXPECT_TRUE(c.params.contains("secondparam"));
    EXPECT_EQ(c.params.find("q")->value, "0.33");
}

TEST(MessageVectors, Lwsdisp) {
    auto m = Message::parse(read_vector("rfc4475/lwsdisp.dat"));
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->from().display(), "caller");
    EXPECT_EQ(m->from().tag, "323");
    EXPECT_EQ(*m->content_length(), 0u);  // compact "l"
}

TEST(MessageParse, TabBeforeTheColonIsHcolon) {
    // RFC 3261 §25.1: HCOLON = *( SP / HTAB ) ":" SWS.
    std::string text = make_request("OPTIONS", "X-Tabbed\t: yes\r\nSubject \t:\tfine\r\n");
    auto m = Message::parse(text);
    ASSERT_TRUE(Ok(m));
    ASSERT_NE(m->find("X-Tabbed"), nullptr);
    EXPECT_EQ(m->find("X-Tabbed")->value, "yes");
    ASSERT_NE(m->find(HeaderId::subject), nullptr);
    EXPECT_EQ(m->find(HeaderId::subject)->value, "fine");
}

}  // namespace
}  // namespace referkit
