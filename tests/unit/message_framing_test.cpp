// Message::parse framing and rejection (RFC 3261 §18.3): body framing, limits, start-line and header value errors.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "referkit/core/message.hpp"
#include "message_test_support.hpp"
#include "test_support.hpp"

namespace referkit {
namespace {

using test::at;
using test::Fails;
using test::FailsWith;
using test::make_request;
using test::Ok;

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

// RFC 3261 §21.5.14: a Content-Length that makes the message larger than max_message_size is 513,
// checked before the truncation check (the bytes of such a body never all arrive).
TEST(MessageFraming, AnnouncedBodyOverTheLimitIs513) {
    std::string text = make_request("MESSAGE", "", "abcd");
    text.replace(text.find("Content-Length: 4"), 17, "Content-Length: 10000000");
    for (Framing framing : {Framing::datagram, Framing::stream}) {
        auto m = Message::parse(text, Limits{}, framing);
        ASSERT_TRUE(Fails(m, ErrorCode::message_too_large, end_of_headers(text)));
        EXPECT_EQ(m.error().status, 513);
    }
    // The headers alone (what a stream framer that refused the body hands over: no blank line).
    const std::string head = text.substr(0, end_of_headers(text) - 2);
    auto h = Message::parse(head, Limits{}, Framing::stream);
    ASSERT_TRUE(Fails(h, ErrorCode::message_too_large, static_cast<std::uint32_t>(head.size())));
    EXPECT_EQ(h.error().status, 513);
    // Exactly at the limit the body is only missing (400); one byte over it is too large.
    text.replace(text.find("Content-Length: 10000000"), 24, "Content-Length: 100");
    Limits limits;
    limits.max_message_size = end_of_headers(text) + 100;
    auto at_limit = Message::parse(text, limits);
    ASSERT_TRUE(Fails(at_limit, ErrorCode::body_truncated, end_of_headers(text)));
    EXPECT_EQ(at_limit.error().status, 400);
    limits.max_message_size -= 1;
    auto over = Message::parse(text, limits);
    ASSERT_TRUE(Fails(over, ErrorCode::message_too_large, end_of_headers(text)));
    EXPECT_EQ(over.error().status, 513);
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

}  // namespace
}  // namespace referkit
