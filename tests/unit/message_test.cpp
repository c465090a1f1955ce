// Message::parse (RFC 3261 §7, §25.1): start line, header names, folding, line endings, buffer, error text, RFC 4475 vectors.
#include <gtest/gtest.h>

#include <cstdint>
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
using test::make_request;
using test::Ok;

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

}  // namespace
}  // namespace referkit
