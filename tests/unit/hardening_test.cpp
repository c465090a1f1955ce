// Inputs a code review found mishandled, each pinned to the rule it broke.
#include <gtest/gtest.h>

#include <string>

#include "referkit/core/framer.hpp"
#include "referkit/core/headers.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/sipfrag.hpp"
#include "referkit/core/validate.hpp"
#include "referkit/core/writer.hpp"
#include "test_support.hpp"

namespace referkit {
namespace {

using test::make_request;

TEST(Hardening, ViaAllowsWhiteSpaceAfterTheSecondSlash) {
    // RFC 3261 §25.1: SLASH = SWS "/" SWS, also on the fast path for "SIP/2.0/".
    auto v = parse_via("SIP/2.0/ UDP 192.0.2.1;branch=z9hG4bK1");
    ASSERT_TRUE(v) << v.error().describe();
    EXPECT_EQ(v->transport, "UDP");
    EXPECT_EQ(v->host, "192.0.2.1");
    EXPECT_EQ(v->branch, "z9hG4bK1");
}

TEST(Hardening, BracketedParameterValuesMustBeIpv6References) {
    // gen-value = token / host / quoted-string: "[" starts an IPv6reference, nothing else, so a
    // ';' cannot hide inside brackets and make the typed tag disagree with the parameter list.
    auto forged = parse_name_addr("<sip:a@h>;x=[;tag=1]");
    ASSERT_FALSE(forged);
    EXPECT_EQ(forged.error().code, ErrorCode::bad_param);
    auto via = parse_via("SIP/2.0/UDP h;received=[;branch=z9hG4bKx]");
    EXPECT_FALSE(via);
    auto ok = parse_via("SIP/2.0/UDP h;branch=z9hG4bK2;received=[2001:db8::9]");
    ASSERT_TRUE(ok) << ok.error().describe();
    EXPECT_EQ(ok->received, "[2001:db8::9]");
}

TEST(Hardening, TagsAndIdsAreTokens) {
    // tag-param = "tag" EQUAL token (RFC 3261 §25.1); "id" EQUAL token (RFC 6665 §8.4).
    EXPECT_FALSE(parse_name_addr("<sip:a@h>;tag=\"a b\""));
    EXPECT_FALSE(parse_name_addr("<sip:a@h>;tag"));
    auto quoted_id = parse_event("refer;id=\"7\"");
    ASSERT_FALSE(quoted_id);
    EXPECT_EQ(quoted_id.error().code, ErrorCode::bad_param);
    EXPECT_FALSE(parse_event("refer;id=7;id=8"));
    EXPECT_FALSE(parse_event("refer..x"));
    auto ok = parse_event("refer;id=7");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->id, "7");
}

TEST(Hardening, ReplacesNeedsExactlyOneOfEachTag) {
    // RFC 3891 §6.1: to-tag and from-tag, each EQUAL token, each exactly once.
    EXPECT_FALSE(parse_replaces("c@h;to-tag;from-tag=x"));
    EXPECT_FALSE(parse_replaces("c;to-tag=a;to-tag=b;from-tag=x"));
    EXPECT_FALSE(parse_target_dialog("c;remote-tag=a;local-tag=\"b\""));
    auto ok = parse_replaces("c@h;to-tag=a;from-tag=b;early-only");
    ASSERT_TRUE(ok);
    EXPECT_TRUE(ok->early_only);
}

TEST(Hardening, WriterNeverWritesWhatItRefused) {
    // A rejected Request-URI must not reach the output, even through a second finish().
    auto w = MessageWriter::request("NOTIFY", "sip:b@h SIP/2.0\r\nX-Evil: 1");
    auto first = w.finish();
    ASSERT_FALSE(first);
    auto second = w.finish();
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().what, "finish() was already called");

    auto good = MessageWriter::request("OPTIONS", "sip:b@h");
    auto once = good.finish();
    ASSERT_TRUE(once);
    EXPECT_FALSE(good.finish());  // the writer is spent, it does not emit a headless body
}

TEST(Hardening, WriterRefusesEveryControlCharacterAndDuplicates) {
    EXPECT_FALSE(MessageWriter::request("OPTIONS", "sip:b@h").header("Subject", "a\x0b" "b").finish());
    EXPECT_FALSE(MessageWriter::request("OPTIONS", "sip:b@h").header("Subject", "a\x7f").finish());
    EXPECT_TRUE(MessageWriter::request("OPTIONS", "sip:b@h").header("Subject", "a\tb").finish());
    EXPECT_FALSE(MessageWriter::request("OPTIONS", "sip:b@h").body("text/plain\r\n \r\n ", "x").finish());
    auto twice = MessageWriter::request("OPTIONS", "sip:b@h").header(HeaderId::from, "<sip:a@h>;tag=1").header(HeaderId::from, "<sip:c@h>;tag=2").finish();
    ASSERT_FALSE(twice);
    EXPECT_NE(twice.error().what.find("only once"), std::string::npos);
    EXPECT_FALSE(MessageWriter::request("OPTIONS", "sip:b@h").header(HeaderId::content_type, "text/plain").body("text/plain", "x").finish());
}

TEST(Hardening, TypedAccessorsApplyTheMessagesLimits) {
    Limits limits;
    limits.max_uri_length = 256;
    std::string target = "sip:carol@example.com;x=" + std::string(300, 'a');
    std::string text = make_request("REFER", "Refer-To: <" + target + ">\r\n");
    auto m = Message::parse(text, limits);
    ASSERT_TRUE(m) << m.error().describe();
    auto r = m->refer_to();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::uri_too_long);
    EXPECT_EQ(r.error().status, 400);  // 414 names the Request-URI only (RFC 3261 §21.4.12)
    EXPECT_TRUE(Message::parse(text)->refer_to());  // default limits: fine
    EXPECT_TRUE(validate_headers(*m).has_value());
}

TEST(Hardening, ControlCharactersOnlyAsQuotedPairs) {
    // A backslash outside a quoted string escapes nothing (RFC 3261 §25.1 quoted-pair).
    std::string outside = make_request("OPTIONS", std::string("Subject: a\\\x01" "b\r\n"));
    auto bad = Message::parse(outside);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ErrorCode::bad_header_value);
    std::string inside = make_request("OPTIONS", std::string("X-Q: \"a\\\x01" "b\"\r\n"));
    EXPECT_TRUE(Message::parse(inside));
    std::string escaped_backslash = make_request("OPTIONS", std::string("X-Q: \"a\\\\\x01" "b\"\r\n"));
    EXPECT_FALSE(Message::parse(escaped_backslash));  // "\\" is the pair; the control byte stands alone
}

TEST(Hardening, FramerNamesHeadersTooLargeBeforeTheBody) {
    Limits limits;
    limits.max_message_size = 1000;
    StreamFramer f(StreamRole::server, limits);
    std::string big = make_request("OPTIONS", "Subject: " + std::string(2000, 's') + "\r\n");
    ASSERT_TRUE(f.feed(big));
    auto r = f.next();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status, 513);  // the headers are what is too large, not the (empty) body
}

TEST(Hardening, SipfragLimitsAndControlCharacters) {
    Limits limits;
    limits.max_headers = 2;
    auto many = parse_sipfrag("SIP/2.0 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n", limits);
    ASSERT_FALSE(many);
    EXPECT_EQ(many.error().code, ErrorCode::too_many_headers);
    auto ctl = parse_sipfrag(std::string("SIP/2.0 200 OK\x1b[2J\r\n"));
    ASSERT_FALSE(ctl);
    EXPECT_EQ(ctl.error().code, ErrorCode::bad_sipfrag);
    EXPECT_TRUE(parse_sipfrag("SIP/2.0 200 O\tK\r\n"));
}

}  // namespace
}  // namespace referkit
