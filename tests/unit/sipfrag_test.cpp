// message/sipfrag bodies (RFC 3420) as a REFER's NOTIFY carries them (RFC 3515 §2.4.5), parsed
// with the tolerance of docs/transfer-rules.md R25.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "referkit/core/sipfrag.hpp"
#include "test_support.hpp"

namespace referkit {
namespace {

using test::Fails;
using test::Ok;

Sipfrag must_parse(std::string_view body) {
    auto r = parse_sipfrag(body);
    EXPECT_TRUE(Ok(r)) << body;
    return r ? *r : Sipfrag{};
}

TEST(Sipfrag, BusyHere) {
    Sipfrag f = must_parse("SIP/2.0 486 Busy Here");
    EXPECT_TRUE(f.is_response);
    EXPECT_EQ(f.status, 486);
    EXPECT_EQ(f.reason, "Busy Here");
    EXPECT_TRUE(f.headers.empty());
    EXPECT_EQ(f.body, "");
    EXPECT_FALSE(f.junk_offset);
    EXPECT_EQ(f.method, "");
    EXPECT_EQ(f.request_uri, "");
}

TEST(Sipfrag, EmptyReason) {
    for (std::string_view body : {"SIP/2.0 100 \r\n", "SIP/2.0 100\r\n", "SIP/2.0 100", "SIP/2.0 100 ", "SIP/2.0 100\n"}) {
        Sipfrag f = must_parse(body);
        EXPECT_EQ(f.status, 100) << body;
        EXPECT_EQ(f.reason, "") << body;
        EXPECT_FALSE(f.junk_offset) << body;
    }
}

TEST(Sipfrag, MultiWordAndUtf8Reasons) {
    EXPECT_EQ(must_parse("SIP/2.0 603 Declined By The Callee\r\n").reason, "Declined By The Callee");
    EXPECT_EQ(must_parse("SIP/2.0 200 OK\r\n").reason, "OK");
    EXPECT_EQ(must_parse("SIP/2.0 486 Besetzt \xC3\xBC\r\n").reason, "Besetzt \xC3\xBC");
    EXPECT_EQ(must_parse("SIP/2.0 180 Ringing  \r\n").reason, "Ringing");
}

TEST(Sipfrag, TrailingHeaders) {
    Sipfrag f = must_parse("SIP/2.0 180 Ringing\r\nContact: <sip:bob@192.0.2.4>\r\nContent-Length: 0\r\n");
    EXPECT_EQ(f.status, 180);
    EXPECT_EQ(f.reason, "Ringing");
    ASSERT_EQ(f.headers.size(), 2u);
    EXPECT_EQ(f.headers[0].id, HeaderId::contact);
    EXPECT_EQ(f.headers[0].name, "Contact");
    EXPECT_EQ(f.headers[0].value, "<sip:bob@192.0.2.4>");
    EXPECT_EQ(f.headers[1].id, HeaderId::content_length);
    EXPECT_EQ(f.headers[1].value, "0");
    EXPECT_EQ(f.body, "");
    EXPECT_FALSE(f.junk_offset);
}

TEST(Sipfrag, CompactAndUnknownHeaderNames) {
    Sipfrag f = must_parse("SIP/2.0 200 OK\r\nm: <sip:b@h>\r\nX-Whatever : 1\r\n");
    ASSERT_EQ(f.headers.size(), 2u);
    EXPECT_EQ(f.headers[0].id, HeaderId::contact);
    EXPECT_EQ(f.headers[1].id, HeaderId::other);
    EXPECT_EQ(f.headers[1].name, "X-Whatever");
    EXPECT_EQ(f.headers[1].value, "1");
}

TEST(Sipfrag, FoldedHeader) {
    Sipfrag f = must_parse("SIP/2.0 180 Ringing\r\nSubject: a\r\n b\r\nContact: <sip:x@y>\r\n");
    ASSERT_EQ(f.headers.size(), 2u);
    EXPECT_EQ(f.headers[0].value, "a\r\n b");
    EXPECT_EQ(f.headers[1].value, "<sip:x@y>");
}

TEST(Sipfrag, BareLfLineEndings) {
    Sipfrag f = must_parse("SIP/2.0 200 OK\nContact: <sip:b@h>\nContent-Length: 0\n");
    EXPECT_EQ(f.status, 200);
    EXPECT_EQ(f.reason, "OK");
    ASSERT_EQ(f.headers.size(), 2u);
    EXPECT_EQ(f.headers[0].value, "<sip:b@h>");
    EXPECT_FALSE(f.junk_offset);
}

TEST(Sipfrag, NoFinalLineEnding) {
    Sipfrag f = must_parse("SIP/2.0 200 OK");
    EXPECT_EQ(f.status, 200);
    EXPECT_EQ(f.reason, "OK");
    Sipfrag g = must_parse("SIP/2.0 200 OK\r\nContact: <sip:b@h>");
    ASSERT_EQ(g.headers.size(), 1u);
    EXPECT_EQ(g.headers[0].value, "<sip:b@h>");
}

TEST(Sipfrag, AnyCaseOfVersion) {
    for (std::string_view body : {"sip/2.0 603 Declined", "Sip/2.0 603 Declined", "sIP/2.0 603 Declined", "SIP/2.0 603 Declined"}) {
        Sipfrag f = must_parse(body);
        EXPECT_EQ(f.status, 603) << body;
        EXPECT_EQ(f.reason, "Declined") << body;
    }
}

TEST(Sipfrag, BodyAfterBlankLine) {
    Sipfrag f = must_parse("SIP/2.0 200 OK\r\nContent-Type: application/sdp\r\n\r\nv=0\r\ns=-\r\n");
    ASSERT_EQ(f.headers.size(), 1u);
    EXPECT_EQ(f.body, "v=0\r\ns=-\r\n");
    EXPECT_FALSE(f.junk_offset);
    Sipfrag blank = must_parse("SIP/2.0 200 OK\r\n\r\n");
    EXPECT_EQ(blank.body, "");
    EXPECT_FALSE(blank.junk_offset);
    Sipfrag lf = must_parse("SIP/2.0 200 OK\n\nbody");
    EXPECT_EQ(lf.body, "body");
}

TEST(Sipfrag, LeadingLineEndingsAreSkipped) {
    Sipfrag f = must_parse("\r\n\r\nSIP/2.0 202 Accepted\r\n");
    EXPECT_EQ(f.status, 202);
}

TEST(Sipfrag, RequestLineFragment) {
    Sipfrag f = must_parse("INVITE sip:alice@atlanta.com SIP/2.0\r\nTo: <sip:alice@atlanta.com>\r\n");
    EXPECT_FALSE(f.is_response);
    EXPECT_EQ(f.method, "INVITE");
    EXPECT_EQ(f.request_uri, "sip:alice@atlanta.com");
    EXPECT_EQ(f.status, 0);
    ASSERT_EQ(f.headers.size(), 1u);
    EXPECT_EQ(f.headers[0].id, HeaderId::to);
}

TEST(Sipfrag, JunkLineIsReportedNotRefused) {
    Sipfrag f = must_parse("SIP/2.0 200 OK\r\nthis is not a header\r\nContact: <sip:b@h>\r\n");
    EXPECT_EQ(f.status, 200);
    ASSERT_TRUE(f.junk_offset);
    EXPECT_EQ(*f.junk_offset, 16u);
    EXPECT_TRUE(f.headers.empty());

    Sipfrag g = must_parse("SIP/2.0 200 OK\r\nContact: <sip:b@h>\r\n: junk\r\n");
    ASSERT_TRUE(g.junk_offset);
    EXPECT_EQ(*g.junk_offset, 36u);
    ASSERT_EQ(g.headers.size(), 1u);

    Sipfrag h = must_parse("SIP/2.0 200 OK\nFoo\n");
    ASSERT_TRUE(h.junk_offset);
    EXPECT_EQ(*h.junk_offset, 15u);
}

TEST(Sipfrag, HeadersOverTheLimitAreAnError) {
    // Limits are never a silent truncation (limits.hpp): the field over the bound is named.
    Limits limits;
    limits.max_headers = 1;
    auto f = parse_sipfrag("SIP/2.0 200 OK\r\nA: 1\r\nB: 2\r\n", limits);
    EXPECT_TRUE(Fails(f, ErrorCode::too_many_headers, 22));
}

TEST(Sipfrag, BadStatusCodes) {
    EXPECT_TRUE(Fails(parse_sipfrag("SIP/2.0 99 Low"), ErrorCode::bad_sipfrag, 8));
    EXPECT_TRUE(Fails(parse_sipfrag("SIP/2.0 1000 Big"), ErrorCode::bad_sipfrag, 8));
    EXPECT_TRUE(Fails(parse_sipfrag("SIP/2.0 099 Low"), ErrorCode::bad_sipfrag, 8));
    EXPECT_TRUE(Fails(parse_sipfrag("SIP/2.0 700 High"), ErrorCode::bad_sipfrag, 8));
    EXPECT_TRUE(Fails(parse_sipfrag("SIP/2.0 abc OK"), ErrorCode::bad_sipfrag, 8));
    EXPECT_TRUE(Fails(parse_sipfrag("SIP/2.0 200OK"), ErrorCode::bad_sipfrag, 8));
    EXPECT_TRUE(Fails(parse_sipfrag("SIP/2.0"), ErrorCode::bad_sipfrag, 7));
    EXPECT_TRUE(Fails(parse_sipfrag("\r\nSIP/2.0 99 Low"), ErrorCode::bad_sipfrag, 10));
    auto r = parse_sipfrag("SIP/2.0 99 Low");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status, 400);
}

TEST(Sipfrag, BadStartLines) {
    EXPECT_TRUE(Fails(parse_sipfrag("HTTP/1.1 200 OK"), ErrorCode::bad_sipfrag, 0));
    EXPECT_TRUE(Fails(parse_sipfrag("abc"), ErrorCode::bad_sipfrag, 0));
    EXPECT_TRUE(Fails(parse_sipfrag("SIP/3.0 200 OK"), ErrorCode::bad_sipfrag, 0));
    EXPECT_TRUE(Fails(parse_sipfrag("SIP/2.1 200 OK"), ErrorCode::bad_sipfrag, 0));
    EXPECT_TRUE(Fails(parse_sipfrag("SIP/1.09 200 OK"), ErrorCode::bad_sipfrag, 0));
    EXPECT_TRUE(Fails(parse_sipfrag("200 OK"), ErrorCode::bad_sipfrag, 0));
    EXPECT_TRUE(Fails(parse_sipfrag("Contact: <sip:b@h>\r\n"), ErrorCode::bad_sipfrag, 0));
    EXPECT_TRUE(Fails(parse_sipfrag("INVITE sip:a@b"), ErrorCode::bad_sipfrag, 0));
    EXPECT_TRUE(Fails(parse_sipfrag("INVITE <sip:a@b> SIP/2.0"), ErrorCode::bad_sipfrag, 7));
}

TEST(Sipfrag, Empty) {
    EXPECT_TRUE(Fails(parse_sipfrag(""), ErrorCode::bad_sipfrag, 0));
    EXPECT_TRUE(Fails(parse_sipfrag("\r\n"), ErrorCode::bad_sipfrag, 2));
    EXPECT_TRUE(Fails(parse_sipfrag("  \r\n\t"), ErrorCode::bad_sipfrag, 5));
}

TEST(Sipfrag, TooLarge) {
    Limits limits;
    limits.max_message_size = 10;
    auto r = parse_sipfrag("SIP/2.0 200 OK\r\n", limits);
    ASSERT_TRUE(Fails(r, ErrorCode::message_too_large, 10));
    EXPECT_EQ(r.error().status, 513);
}

TEST(SipfragStrict, JunkLineIsAnError) {
    auto r = parse_sipfrag("SIP/2.0 200 OK\r\nthis is not a header\r\n", Limits{}, SipfragMode::strict);
    EXPECT_TRUE(Fails(r, ErrorCode::bad_sipfrag, 16));
}

TEST(SipfragStrict, KnownHeadersAreTypeChecked) {
    EXPECT_TRUE(Ok(parse_sipfrag("SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\nWarning: anything\r\n", Limits{}, SipfragMode::strict)));
    // "SIP/2.0 200 OK\r\nCSeq: " is 22 bytes; the CSeq number is missing.
    EXPECT_TRUE(Fails(parse_sipfrag("SIP/2.0 200 OK\r\nCSeq: INVITE\r\n", Limits{}, SipfragMode::strict), ErrorCode::bad_cseq, 22));
    EXPECT_TRUE(Fails(parse_sipfrag("SIP/2.0 200 OK\r\nFrom: <sip:a@b>;tag=1\r\nFrom: <sip:a@b>;tag=2\r\n", Limits{},
                                    SipfragMode::strict),
                      ErrorCode::duplicate_header, 39));
}

}  // namespace
}  // namespace referkit
