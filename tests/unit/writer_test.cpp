// print() of parsed messages and MessageWriter.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/message.hpp"
#include "referkit/core/writer.hpp"
#include "test_support.hpp"

#ifndef REFERKIT_VECTORS_DIR
#error "REFERKIT_VECTORS_DIR must name tests/conformance/vectors"
#endif

namespace referkit {
namespace {

using test::crlf_lines;
using test::make_request;
using test::Ok;

std::size_t occurrences(std::string_view text, std::string_view needle) {
    std::size_t n = 0;
    for (std::size_t pos = text.find(needle); pos != std::string_view::npos; pos = text.find(needle, pos + 1)) ++n;
    return n;
}

std::string print_of(std::string_view text) {
    auto m = Message::parse(text);
    EXPECT_TRUE(Ok(m));
    return m ? print(*m) : std::string();
}

// ---------------------------------------------------------------- print()

TEST(Print, CanonicalMessageIsUnchanged) {
    const std::string text = make_request("INVITE", "Contact: <sip:alice@pc33.atlanta.com>\r\nContent-Type: text/plain\r\n", "abcd");
    EXPECT_EQ(print_of(text), text);
}

TEST(Print, CompactNamesBecomeCanonical) {
    const std::string text = crlf_lines({
                                 "INVITE sip:bob@biloxi.com SIP/2.0",
                                 "v: SIP/2.0/UDP h;branch=z9hG4bK1",
                                 "t: <sip:bob@biloxi.com>",
                                 "f: <sip:alice@atlanta.com>;tag=1",
                                 "i: abc",
                                 "cseq: 1 INVITE",
                                 "m: <sip:alice@h>",
                                 "c: text/plain",
                                 "o: refer",
                                 "r: <sip:carol@c>",
                                 "b: <sip:alice@a>",
                                 "k: replaces",
                                 "s: hi",
                                 "u: refer",
                                 "X-Custom-thing: kept as written",
                                 "l: 3",
                                 "",
                             }) +
                             "abc";
    const std::string want = crlf_lines({
                                 "INVITE sip:bob@biloxi.com SIP/2.0",
                                 "Via: SIP/2.0/UDP h;branch=z9hG4bK1",
                                 "To: <sip:bob@biloxi.com>",
                                 "From: <sip:alice@atlanta.com>;tag=1",
                                 "Call-ID: abc",
                                 "CSeq: 1 INVITE",
                                 "Contact: <sip:alice@h>",
                                 "Content-Type: text/plain",
                                 "Event: refer",
                                 "Refer-To: <sip:carol@c>",
                                 "Referred-By: <sip:alice@a>",
                                 "Supported: replaces",
                                 "Subject: hi",
                                 "Allow-Events: refer",
                                 "X-Custom-thing: kept as written",
                                 "Content-Length: 3",
                                 "",
                             }) +
                             "abc";
    EXPECT_EQ(print_of(text), want);
}

TEST(Print, FoldedValuesAreUnfoldedToOneLine) {
    const std::string text = make_request("INVITE", "Subject: I know you're there,\r\n pick up the phone   \r\n\t and talk to me!\r\n");
    const std::string out = print_of(text);
    EXPECT_NE(out.find("\r\nSubject: I know you're there, pick up the phone and talk to me!\r\n"), std::string::npos) << out;
    EXPECT_EQ(occurrences(out, "\r\n "), 0u);
    EXPECT_EQ(occurrences(out, "\r\n\t"), 0u);
}

TEST(Print, FoldedHotHeadersAreUnfolded) {
    const std::string text = test::folded_hot_headers();
    const std::string want = crlf_lines({
        "OPTIONS sip:bob@biloxi.com SIP/2.0",
        "Via: SIP/2.0/UDP h ;branch=z9hG4bK1",
        "To: <sip:bob@biloxi.com>",
        "From: <sip:alice@atlanta.com> ;tag=88",
        "Call-ID: abc",
        "CSeq: 7 OPTIONS",
        "Content-Length: 0",
        "",
    });
    EXPECT_EQ(print_of(text), want);
}

TEST(Print, ContentLengthIsRecomputed) {
    // Extra datagram bytes are not part of the body.
    std::string extra = make_request("MESSAGE", "", "abcd") + "EXTRA";
    std::string out = print_of(extra);
    EXPECT_NE(out.find("\r\nContent-Length: 4\r\n\r\nabcd"), std::string::npos) << out;
    EXPECT_TRUE(out.ends_with("\r\n\r\nabcd"));

    // Written where it was, normalised.
    std::string padded = make_request("MESSAGE", "", "abcd");
    padded.replace(padded.find("Content-Length: 4"), 17, "Content-Length:   0004 ");
    EXPECT_EQ(print_of(padded), make_request("MESSAGE", "", "abcd"));

    // Compact "l" becomes "Content-Length".
    std::string compact = make_request("MESSAGE", "", "abcd");
    compact.replace(compact.find("Content-Length: 4"), 17, "l: 4");
    EXPECT_EQ(print_of(compact), make_request("MESSAGE", "", "abcd"));
}

TEST(Print, MissingContentLengthIsAddedAfterTheLastHeader) {
    std::string text = make_request("MESSAGE", "X-Last: 1\r\n", "hello");
    std::string no_cl = text;
    no_cl.erase(no_cl.find("Content-Length"), no_cl.find("\r\n\r\n") + 2 - no_cl.find("Content-Length"));
    ASSERT_EQ(no_cl.find("Content-Length"), std::string::npos);
    EXPECT_EQ(print_of(no_cl), text);
}

TEST(Print, ContentLengthWrittenWhereItWas) {
    const std::string text = crlf_lines({
        "OPTIONS sip:bob@biloxi.com SIP/2.0",
        "Content-Length: 0",
        "Via: SIP/2.0/UDP h;branch=z9hG4bK1",
        "To: <sip:bob@biloxi.com>",
        "From: <sip:alice@atlanta.com>;tag=1",
        "Call-ID: abc",
        "CSeq: 1 OPTIONS",
        "",
    });
    const std::string out = print_of(text);
    EXPECT_EQ(out, text);
    EXPECT_EQ(occurrences(out, "Content-Length"), 1u);
}

TEST(Print, ResponsesAndLeadingCrlf) {
    const std::string text = crlf_lines({
        "SIP/2.0 200",
        "Via: SIP/2.0/UDP h;branch=z9hG4bK1",
        "To: <sip:bob@biloxi.com>;tag=2",
        "From: <sip:alice@atlanta.com>;tag=1",
        "Call-ID: abc",
        "CSeq: 1 OPTIONS",
        "Content-Length: 0",
        "",
    });
    std::string out = print_of("\r\n" + text);
    EXPECT_TRUE(out.starts_with("SIP/2.0 200 \r\nVia: ")) << out;
    std::string again = print_of(out);
    EXPECT_EQ(again, out);
}

TEST(Print, AppendsToTheGivenString) {
    auto m = Message::parse(make_request("OPTIONS"));
    ASSERT_TRUE(Ok(m));
    std::string out = "prefix";
    print(*m, out);
    EXPECT_EQ(out, "prefix" + make_request("OPTIONS"));
}

// print(parse(print(m))) == print(m) for every vector that parses.
void check_idempotent_over(const std::string& dir, std::size_t min_parsed) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().extension() == ".dat") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    ASSERT_FALSE(files.empty()) << dir;
    std::size_t parsed = 0;
    for (const auto& path : files) {
        std::ifstream in(path, std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto m = Message::parse(bytes);
        if (!m) continue;
        ++parsed;
        const std::string once = print(*m);
        auto m2 = Message::parse(once);
        ASSERT_TRUE(Ok(m2)) << path.filename() << " does not parse once printed:\n" << once;
        const std::string twice = print(*m2);
        EXPECT_EQ(twice, once) << path.filename();
        EXPECT_EQ(m2->body(), m->body()) << path.filename();
        EXPECT_EQ(m2->headers().size(), m->headers().size() + (m->content_length() ? 0 : 1)) << path.filename();
    }
    EXPECT_GE(parsed, min_parsed) << dir;
}

TEST(Print, IdempotentOverRfc4475Vectors) { check_idempotent_over(std::string(REFERKIT_VECTORS_DIR) + "/rfc4475", 20); }

TEST(Print, IdempotentOverRfc5118Vectors) { check_idempotent_over(std::string(REFERKIT_VECTORS_DIR) + "/rfc5118", 5); }

// ---------------------------------------------------------------- MessageWriter

TEST(MessageWriter, BuildsAReferThatParses) {
    auto r = MessageWriter::request("REFER", "sip:bob@biloxi.example.com")
                 .header(HeaderId::via, "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8")
                 .header(HeaderId::max_forwards, std::uint64_t{70})
                 .header(HeaderId::to, "<sip:bob@biloxi.example.com>;tag=a6c85cf")
                 .header(HeaderId::from, "<sip:alice@atlanta.example.com>;tag=1928301774")
                 .header(HeaderId::call_id, "a84b4c76e66710")
                 .header(HeaderId::cseq, "314160 REFER")
                 .header("refer-to", "<sip:carol@cleveland.example.org?Replaces=1%40h%3Bto-tag%3D2%3Bfrom-tag%3D3>")
                 .header(HeaderId::referred_by, "<sip:alice@atlanta.example.com>")
                 .header("X-Trace", "t1")
                 .finish();
    ASSERT_TRUE(r) << r.error().what;
    const std::string want = crlf_lines({
        "REFER sip:bob@biloxi.example.com SIP/2.0",
        "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8",
        "Max-Forwards: 70",
        "To: <sip:bob@biloxi.example.com>;tag=a6c85cf",
        "From: <sip:alice@atlanta.example.com>;tag=1928301774",
        "Call-ID: a84b4c76e66710",
        "CSeq: 314160 REFER",
        "Refer-To: <sip:carol@cleveland.example.org?Replaces=1%40h%3Bto-tag%3D2%3Bfrom-tag%3D3>",
        "Referred-By: <sip:alice@atlanta.example.com>",
        "X-Trace: t1",
        "Content-Length: 0",
        "",
    });
    EXPECT_EQ(*r, want);
    auto m = Message::parse(*r, Limits{}, Framing::stream);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->method(), Method::refer);
    EXPECT_EQ(m->cseq().number, 314160u);
    auto rt = m->refer_to();
    ASSERT_TRUE(Ok(rt));
    EXPECT_EQ(rt->uri.user, "carol");
    EXPECT_EQ(percent_decode(*rt->uri.header("Replaces")), "1@h;to-tag=2;from-tag=3");
    EXPECT_EQ(*m->content_length(), 0u);
    EXPECT_EQ(m->find("x-trace")->value, "t1");
}

TEST(MessageWriter, BodyAndContentType) {
    auto r = MessageWriter::request("NOTIFY", "sip:a@b")
                 .header(HeaderId::event, "refer;id=7")
                 .body("message/sipfrag;version=2.0", "SIP/2.0 200 OK\r\n")
                 .finish();
    ASSERT_TRUE(r) << r.error().what;
    EXPECT_TRUE(r->ends_with("Content-Type: message/sipfrag;version=2.0\r\nContent-Length: 16\r\n\r\nSIP/2.0 200 OK\r\n")) << *r;
}

TEST(MessageWriter, ContentLengthIsAlwaysComputed) {
    auto r = MessageWriter::request("MESSAGE", "sip:a@b")
                 .header(HeaderId::content_length, "999")
                 .header("Content-Length", "3")
                 .header("l", "3")
                 .header(HeaderId::content_length, std::uint64_t{1})
                 .body("", "hello")
                 .finish();
    ASSERT_TRUE(r) << r.error().what;
    EXPECT_EQ(occurrences(*r, "Content-Length"), 1u);
    EXPECT_EQ(occurrences(*r, "\r\nl:"), 0u);
    EXPECT_EQ(occurrences(*r, "Content-Type"), 0u);
    EXPECT_TRUE(r->ends_with("\r\nContent-Length: 5\r\n\r\nhello")) << *r;
    EXPECT_EQ(*r, "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 5\r\n\r\nhello");
}

TEST(MessageWriter, RefusesHeaderInjection) {
    for (std::string_view bad : {std::string_view("x\r\nVia: SIP/2.0/UDP evil"), std::string_view("x\ny"),
                                 std::string_view("x\ry"), std::string_view("x\0y", 3)}) {
        auto byid = MessageWriter::request("OPTIONS", "sip:a@b").header(HeaderId::subject, bad).finish();
        EXPECT_FALSE(byid) << "HeaderId value accepted";
        auto byname = MessageWriter::request("OPTIONS", "sip:a@b").header("X-Note", bad).finish();
        EXPECT_FALSE(byname) << "named value accepted";
        auto known = MessageWriter::request("OPTIONS", "sip:a@b").header("Subject", bad).finish();
        EXPECT_FALSE(known) << "known name value accepted";
    }
    EXPECT_FALSE(MessageWriter::response(200, "OK\r\nX-Evil: 1").finish());
    EXPECT_FALSE(MessageWriter::request("OPTIONS", "sip:a@b SIP/2.0\r\nX-Evil: 1\r\n").finish());
}

TEST(MessageWriter, RefusesNonTokenNames) {
    for (std::string_view name : {"", "X Foo", "X:Foo", "X-Foo\r\n", "X\"", "Na\xC3\xAFve"})
        EXPECT_FALSE(MessageWriter::request("OPTIONS", "sip:a@b").header(name, "v").finish()) << name;
    EXPECT_FALSE(MessageWriter::request("OPTIONS", "sip:a@b").header(HeaderId::other, "v").finish());
    EXPECT_TRUE(MessageWriter::request("OPTIONS", "sip:a@b").header("X-Foo.bar!", "v").finish());
}

TEST(MessageWriter, RefusesBadStartLines) {
    EXPECT_FALSE(MessageWriter::request("IN VITE", "sip:a@b").finish());
    EXPECT_FALSE(MessageWriter::request("", "sip:a@b").finish());
    EXPECT_FALSE(MessageWriter::request("INVITE", "").finish());
    EXPECT_FALSE(MessageWriter::request("INVITE", "<sip:a@b>").finish());
    EXPECT_FALSE(MessageWriter::request("INVITE", "sip:a@b?Subject=x").finish());
    EXPECT_FALSE(MessageWriter::response(99).finish());
    EXPECT_FALSE(MessageWriter::response(700).finish());
    EXPECT_FALSE(MessageWriter::request("MESSAGE", "sip:a@b").body("text", "x").finish());
}

TEST(MessageWriter, ReasonPhraseWithControlCharacterIsRefused) {
    // RFC 3261 §25.1: Reason-Phrase admits HTAB but no other control character, and
    // Message::parse refuses one (bad_reason_phrase): the writer must not build what the parser
    // rejects.
    auto r = MessageWriter::response(200, "O\x01K").finish();
    EXPECT_FALSE(r) << "built a status line the parser refuses";
}

TEST(MessageWriter, FirstErrorIsKept) {
    auto r = MessageWriter::request("OPTIONS", "sip:a@b").header("Bad Name", "v").header(HeaderId::subject, "a\nb").finish();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().what, "header name must be a token");
}

TEST(MessageWriter, ResponseDefaultReasonPhrases) {
    EXPECT_TRUE(MessageWriter::response(486).finish()->starts_with("SIP/2.0 486 Busy Here\r\n"));
    EXPECT_TRUE(MessageWriter::response(200).finish()->starts_with("SIP/2.0 200 OK\r\n"));
    EXPECT_TRUE(MessageWriter::response(202).finish()->starts_with("SIP/2.0 202 Accepted\r\n"));
    EXPECT_TRUE(MessageWriter::response(100).finish()->starts_with("SIP/2.0 100 Trying\r\n"));
    EXPECT_TRUE(MessageWriter::response(481).finish()->starts_with("SIP/2.0 481 Call/Transaction Does Not Exist\r\n"));
    EXPECT_TRUE(MessageWriter::response(603).finish()->starts_with("SIP/2.0 603 Decline\r\n"));
    EXPECT_TRUE(MessageWriter::response(200, "Fine Thanks").finish()->starts_with("SIP/2.0 200 Fine Thanks\r\n"));
    EXPECT_EQ(*MessageWriter::response(499).finish(), "SIP/2.0 499 \r\nContent-Length: 0\r\n\r\n");
}

TEST(MessageWriter, ResponseThatParses) {
    auto r = MessageWriter::response(202)
                 .header(HeaderId::via, "SIP/2.0/TCP h;branch=z9hG4bK1;received=192.0.2.1")
                 .header(HeaderId::to, "<sip:bob@b>;tag=2")
                 .header(HeaderId::from, "<sip:alice@a>;tag=1")
                 .header(HeaderId::call_id, "abc")
                 .header(HeaderId::cseq, "1 REFER")
                 .header(HeaderId::contact, "<sip:bob@192.0.2.4>")
                 .finish();
    ASSERT_TRUE(r) << r.error().what;
    auto m = Message::parse(*r, Limits{}, Framing::stream);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->status(), 202);
    EXPECT_EQ(m->reason(), "Accepted");
    EXPECT_EQ(m->size(), r->size());
    EXPECT_EQ(print(*m), *r);
}

}  // namespace
}  // namespace referkit
