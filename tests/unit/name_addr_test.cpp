// name-addr / addr-spec with header parameters (RFC 3261 §20.10, §20.20, §20.39, §25.1).
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/headers.hpp"
#include "test_support.hpp"

namespace referkit {
namespace {

using test::Fails;
using test::FailsWith;
using test::Ok;

NameAddr must_parse(std::string_view text) {
    auto r = parse_name_addr(text);
    EXPECT_TRUE(Ok(r)) << text;
    return r ? *r : NameAddr{};
}

TEST(NameAddr, QuotedDisplayNameWithEscapes) {
    NameAddr na = must_parse(R"("Alice \"The Boss\" \\ Smith" <sip:alice@atlanta.com>;tag=1928301774)");
    EXPECT_EQ(na.display_name, R"("Alice \"The Boss\" \\ Smith")");
    EXPECT_EQ(na.display(), R"(Alice "The Boss" \ Smith)");
    EXPECT_TRUE(na.angle_brackets);
    EXPECT_EQ(na.uri.scheme, Scheme::sip);
    EXPECT_EQ(na.uri.user, "alice");
    EXPECT_EQ(na.uri.host, "atlanta.com");
    EXPECT_EQ(na.tag, "1928301774");
    EXPECT_EQ(na.params.text(), "tag=1928301774");
}

TEST(NameAddr, QuotedDisplayNameMayHoldCommasAndAngles) {
    NameAddr na = must_parse(R"("Bell, Alexander <ag>" <sip:a.g.bell@bell-tel.com>)");
    EXPECT_EQ(na.display(), "Bell, Alexander <ag>");
    EXPECT_EQ(na.uri.user, "a.g.bell");
}

TEST(NameAddr, EmptyQuotedDisplayName) {
    NameAddr na = must_parse(R"("" <sip:a@b>)");
    EXPECT_EQ(na.display_name, R"("")");
    EXPECT_EQ(na.display(), "");
}

TEST(NameAddr, Utf8QuotedDisplayName) {
    NameAddr na = must_parse("\"J\xC3\xBCrgen\" <sip:j@example.com>");
    EXPECT_EQ(na.display(), "J\xC3\xBCrgen");
}

TEST(NameAddr, TokenDisplayName) {
    NameAddr na = must_parse("Bob Smith <sip:bob@biloxi.com>");
    EXPECT_EQ(na.display_name, "Bob Smith");
    EXPECT_EQ(na.display(), "Bob Smith");
    EXPECT_TRUE(na.angle_brackets);
    EXPECT_EQ(na.uri.user, "bob");
    EXPECT_EQ(na.tag, "");
}

TEST(NameAddr, TokenDisplayNameWithoutLwsBeforeAngle) {
    // RFC 4475 §3.1.1.6 (lwsdisp): "From: caller<sip:caller@example.com>;tag=323" is valid.
    NameAddr na = must_parse("caller<sip:caller@example.com>;tag=323");
    EXPECT_EQ(na.display_name, "caller");
    EXPECT_EQ(na.display(), "caller");
    EXPECT_EQ(na.uri.user, "caller");
    EXPECT_EQ(na.uri.host, "example.com");
    EXPECT_EQ(na.tag, "323");

    NameAddr quoted = must_parse(R"("caller"<sip:caller@example.com>)");
    EXPECT_EQ(quoted.display(), "caller");
}

TEST(NameAddr, NoDisplayName) {
    NameAddr na = must_parse("<sip:bob@biloxi.com>");
    EXPECT_EQ(na.display_name, "");
    EXPECT_EQ(na.display(), "");
    EXPECT_TRUE(na.angle_brackets);
    EXPECT_TRUE(na.params.empty());
}

TEST(NameAddr, AddrSpecParametersBelongToTheHeader) {
    NameAddr na = must_parse("sip:bob@biloxi.com;tag=a6c85cf");
    EXPECT_FALSE(na.angle_brackets);
    EXPECT_EQ(na.display_name, "");
    EXPECT_EQ(na.uri.text, "sip:bob@biloxi.com");
    EXPECT_TRUE(na.uri.params.empty());
    EXPECT_EQ(na.tag, "a6c85cf");
    EXPECT_EQ(na.params.text(), "tag=a6c85cf");
}

TEST(NameAddr, UriParametersInsideAngleBrackets) {
    NameAddr na = must_parse("<sip:bob@biloxi.com;transport=tcp;lr>;tag=x;expires=60");
    EXPECT_EQ(na.uri.transport(), "tcp");
    EXPECT_TRUE(na.uri.params.contains("lr"));
    EXPECT_FALSE(na.uri.params.contains("tag"));
    EXPECT_EQ(na.tag, "x");
    EXPECT_FALSE(na.params.contains("transport"));
    EXPECT_EQ(na.params.find("expires")->value, "60");
}

TEST(NameAddr, UriHeadersInsideAngleBrackets) {
    NameAddr na = must_parse("<sip:carol@chicago.example.com?Replaces=12345%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>");
    auto rep = na.uri.header("Replaces");
    ASSERT_TRUE(rep);
    EXPECT_EQ(percent_decode(*rep), "12345@host;to-tag=1;from-tag=2");
}

TEST(NameAddr, ParamsWithLwsAndFolding) {
    NameAddr na = must_parse("<sip:a@b> ; tag = 88sja8x ;\r\n expires=3600;\r\n\tq = 0.5");
    EXPECT_EQ(na.tag, "88sja8x");
    std::vector<Param> ps(na.params.begin(), na.params.end());
    ASSERT_EQ(ps.size(), 3u);
    EXPECT_EQ(ps[0].name, "tag");
    EXPECT_EQ(ps[0].value, "88sja8x");
    EXPECT_EQ(ps[1].name, "expires");
    EXPECT_EQ(ps[1].value, "3600");
    EXPECT_EQ(ps[2].name, "q");
    EXPECT_EQ(ps[2].value, "0.5");
}

TEST(NameAddr, FoldedDisplayNameAsInWsinv) {
    // RFC 4475 §3.1.1.1 From header value (after the name and colon).
    NameAddr na = must_parse("\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8");
    EXPECT_EQ(na.display(), "J Rosenberg \\\"");
    EXPECT_EQ(na.uri.user, "jdrosen");
    EXPECT_EQ(na.tag, "98asjd8");
}

TEST(NameAddr, QuotedParameterValueMayHoldSemicolon) {
    NameAddr na = must_parse(R"(<sip:a@b>;x="1;2";tag=t)");
    EXPECT_EQ(na.tag, "t");
    std::vector<Param> ps(na.params.begin(), na.params.end());
    ASSERT_EQ(ps.size(), 2u);
    EXPECT_EQ(ps[0].value, R"("1;2")");
    EXPECT_EQ(unquote(ps[0].value), "1;2");
}

TEST(NameAddr, ValuelessHeaderParameter) {
    NameAddr na = must_parse("<sip:a@b>;lr;tag=1");
    std::vector<Param> ps(na.params.begin(), na.params.end());
    ASSERT_EQ(ps.size(), 2u);
    EXPECT_FALSE(ps[0].has_value);
    EXPECT_EQ(na.tag, "1");
}

TEST(NameAddr, LeadingAndTrailingLws) {
    NameAddr na = must_parse("  <sip:a@b>  ");
    EXPECT_EQ(na.uri.host, "b");
}

TEST(NameAddr, OtherSchemes) {
    NameAddr urn = must_parse("<urn:service:sos>");
    EXPECT_EQ(urn.uri.scheme, Scheme::other);
    EXPECT_EQ(urn.uri.user, "service:sos");
    NameAddr mail = must_parse("mailto:x@example.com;tag=1");
    EXPECT_EQ(mail.uri.user, "x@example.com");
    EXPECT_EQ(mail.tag, "1");
    NameAddr tel = must_parse("<tel:+1-201-555-0123>;tag=9");
    EXPECT_EQ(tel.uri.scheme, Scheme::tel);
    EXPECT_EQ(tel.tag, "9");
}

// ---------------------------------------------------------------- errors

TEST(NameAddrErrors, UnterminatedQuote) {
    EXPECT_TRUE(Fails(parse_name_addr(R"("Alice <sip:a@b>)"), ErrorCode::bad_quoted_string, 0));
    EXPECT_TRUE(Fails(parse_name_addr(R"(  "Alice\" <sip:a@b>)"), ErrorCode::bad_quoted_string, 2));
}

TEST(NameAddrErrors, QuotedDisplayNameNeedsAngleBrackets) {
    EXPECT_TRUE(Fails(parse_name_addr(R"("Alice" sip:a@b)"), ErrorCode::bad_name_addr, 8));
}

TEST(NameAddrErrors, MissingClosingAngle) {
    EXPECT_TRUE(Fails(parse_name_addr("<sip:a@b"), ErrorCode::bad_name_addr, 8));
    EXPECT_TRUE(Fails(parse_name_addr(R"("A" <sip:a@b;tag=1)"), ErrorCode::bad_name_addr, 18));
}

TEST(NameAddrErrors, DisplayNameWithComma) {
    // RFC 4475 §3.1.2.15 (baddn): ',' is not a token character, so this is not a display name;
    // read as an addr-spec, "Bell" has no scheme.
    EXPECT_TRUE(Fails(parse_name_addr("Bell, Alexander <sip:a.g.bell@bell-tel.com>;tag=43"), ErrorCode::bad_uri, 0));
}

TEST(NameAddrErrors, SpacesInsideAddrSpec) {
    // RFC 4475 §3.1.2.14 (badaspec): "To: "Watson, Thomas" < sip:t.watson@example.org >".
    EXPECT_TRUE(Fails(parse_name_addr(R"("Watson, Thomas" < sip:t.watson@example.org >)"), ErrorCode::bad_uri, 18));
    EXPECT_TRUE(Fails(parse_name_addr("<sip:user@example.com <sip:x@y>"), ErrorCode::bad_uri, 21));
}

TEST(NameAddrErrors, UriErrorsAreRelocated) {
    // '<' ends at 5; the URI's '[' is 6 bytes into "sip:a@[::1".
    EXPECT_TRUE(Fails(parse_name_addr(R"("A" <sip:a@[::1>)"), ErrorCode::bad_host, 11));
    EXPECT_TRUE(Fails(parse_name_addr("<sip:a@b:0>"), ErrorCode::bad_port, 9));
    EXPECT_TRUE(Fails(parse_name_addr("sip:a@b:0;tag=1"), ErrorCode::bad_port, 8));
}

TEST(NameAddrErrors, JunkAfterNameAddr) {
    EXPECT_TRUE(Fails(parse_name_addr("<sip:a@b> x"), ErrorCode::bad_name_addr, 10));
    EXPECT_TRUE(Fails(parse_name_addr("<sip:a@b>;tag=1 x"), ErrorCode::bad_name_addr, 16));
}

TEST(NameAddrErrors, BadHeaderParameters) {
    EXPECT_TRUE(Fails(parse_name_addr("<sip:a@b>;"), ErrorCode::bad_param, 10));
    EXPECT_TRUE(Fails(parse_name_addr("<sip:a@b>;=1"), ErrorCode::bad_param, 10));
    EXPECT_TRUE(Fails(parse_name_addr("<sip:a@b>;x="), ErrorCode::bad_param, 12));
    EXPECT_TRUE(Fails(parse_name_addr(R"(<sip:a@b>;x="unterminated)"), ErrorCode::bad_param, 12));
}

TEST(NameAddrErrors, TagNeedsOneValue) {
    EXPECT_TRUE(FailsWith(parse_name_addr("<sip:a@b>;tag"), ErrorCode::bad_param));
    EXPECT_TRUE(FailsWith(parse_name_addr("<sip:a@b>;tag=1;tag=2"), ErrorCode::bad_param));
}

TEST(NameAddrErrors, Empty) {
    EXPECT_TRUE(Fails(parse_name_addr(""), ErrorCode::bad_uri, 0));
    EXPECT_TRUE(Fails(parse_name_addr("<>"), ErrorCode::bad_uri, 1));
}

TEST(NameAddrErrors, TooManyHeaderParams) {
    Limits limits;
    limits.max_params = 1;
    EXPECT_TRUE(Ok(parse_name_addr("<sip:a@b>;x", limits)));
    EXPECT_TRUE(Fails(parse_name_addr("<sip:a@b>;x;y", limits), ErrorCode::too_many_params, 13));
}

}  // namespace
}  // namespace referkit
