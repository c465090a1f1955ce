// SIP, SIPS, tel and other URIs: parsing (RFC 3261 §19.1, §25.1; RFC 5118 for IPv6), the three
// contexts a URI appears in, limits, and §19.1.4 comparison.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/params.hpp"
#include "referkit/core/uri.hpp"
#include "test_support.hpp"

namespace referkit {
namespace {

using test::Fails;
using test::Ok;

Uri must_parse(std::string_view text, UriContext ctx = UriContext::name_addr) {
    auto r = parse_uri(text, ctx);
    EXPECT_TRUE(Ok(r)) << text;
    return r ? *r : Uri{};
}

// ---------------------------------------------------------------- schemes and parts

TEST(Uri, SipUriWithEveryPart) {
    constexpr std::string_view text =
        "sip:alice:secret@atlanta.com:5061;transport=tcp;lr;maddr=239.255.255.1?Replaces=a%40b%3Bto-tag%3D1&To=x";
    Uri u = must_parse(text);
    EXPECT_EQ(u.scheme, Scheme::sip);
    EXPECT_EQ(u.scheme_text, "sip");
    EXPECT_EQ(u.text, text);
    EXPECT_TRUE(u.has_user());
    EXPECT_EQ(u.user, "alice");
    EXPECT_EQ(u.password, "secret");
    EXPECT_EQ(u.host, "atlanta.com");
    EXPECT_EQ(u.host_kind, HostKind::name);
    EXPECT_EQ(u.port, 5061);
    EXPECT_EQ(u.params.text(), "transport=tcp;lr;maddr=239.255.255.1");
    EXPECT_EQ(u.transport(), "tcp");
    EXPECT_EQ(u.headers, "Replaces=a%40b%3Bto-tag%3D1&To=x");
}

TEST(Uri, SipsSchemeIsCaseInsensitive) {
    Uri u = must_parse("SIPS:bob@biloxi.com");
    EXPECT_EQ(u.scheme, Scheme::sips);
    EXPECT_EQ(u.scheme_text, "SIPS");
    EXPECT_EQ(u.user, "bob");
    EXPECT_EQ(u.host, "biloxi.com");
    EXPECT_EQ(must_parse("Sip:bob@biloxi.com").scheme, Scheme::sip);
}

TEST(Uri, TelUriKeepsTheNumberAndParams) {
    Uri u = must_parse("tel:+1-201-555-0123;phone-context=example.com");
    EXPECT_EQ(u.scheme, Scheme::tel);
    EXPECT_EQ(u.scheme_text, "tel");
    EXPECT_EQ(u.user, "+1-201-555-0123");
    EXPECT_EQ(u.host, "");
    EXPECT_EQ(u.host_kind, HostKind::none);
    auto pc = u.param("phone-context");
    ASSERT_TRUE(pc);
    EXPECT_EQ(pc->value, "example.com");
}

TEST(Uri, TelUriWithoutNumberIsBad) { EXPECT_TRUE(Fails(parse_uri("tel:"), ErrorCode::bad_uri, 4)); }

TEST(Uri, OtherSchemeKeepsTheRest) {
    Uri u = must_parse("urn:service:sos");
    EXPECT_EQ(u.scheme, Scheme::other);
    EXPECT_EQ(u.scheme_text, "urn");
    EXPECT_EQ(u.user, "service:sos");
    EXPECT_EQ(u.host_kind, HostKind::none);

    Uri im = must_parse("im:alice@example.com", UriContext::request_uri);
    EXPECT_EQ(im.scheme, Scheme::other);
    EXPECT_EQ(im.user, "alice@example.com");
}

TEST(Uri, SchemeIsRequired) {
    EXPECT_TRUE(Fails(parse_uri("alice@atlanta.com"), ErrorCode::bad_uri, 0));
    EXPECT_TRUE(Fails(parse_uri(""), ErrorCode::bad_uri, 0));
    EXPECT_TRUE(Fails(parse_uri("1sip:a@b"), ErrorCode::bad_uri, 0));
    EXPECT_TRUE(Fails(parse_uri("urn:"), ErrorCode::bad_uri, 4));
}

TEST(Uri, UserIsOptional) {
    Uri u = must_parse("sip:atlanta.com");
    EXPECT_FALSE(u.has_user());
    EXPECT_EQ(u.user, "");
    EXPECT_EQ(u.password, "");
    EXPECT_EQ(u.host, "atlanta.com");
}

TEST(Uri, UserPartMayHoldSemicolonsAndEscapes) {
    // RFC 4475 §3.1.1.9 (semiuri): ';' belongs to the user part when an '@' follows.
    Uri u = must_parse("sip:user;par=u%40example.net@example.com;lr");
    EXPECT_EQ(u.user, "user;par=u%40example.net");
    EXPECT_EQ(u.host, "example.com");
    EXPECT_TRUE(u.params.contains("lr"));
    EXPECT_EQ(percent_decode(u.user), "user;par=u@example.net");
}

TEST(Uri, EmptyUserBeforeAtIsBad) { EXPECT_TRUE(Fails(parse_uri("sip:@atlanta.com"), ErrorCode::bad_uri, 4)); }

TEST(Uri, EmptyPasswordIsKept) {
    Uri u = must_parse("sip:alice:@atlanta.com");
    EXPECT_EQ(u.user, "alice");
    EXPECT_EQ(u.password, "");
    EXPECT_EQ(u.host, "atlanta.com");
}

// ---------------------------------------------------------------- hosts

TEST(Uri, Ipv4Host) {
    Uri u = must_parse("sip:alice@192.0.2.4:5060");
    EXPECT_EQ(u.host, "192.0.2.4");
    EXPECT_EQ(u.host_kind, HostKind::ipv4);
    EXPECT_EQ(u.host_address(), "192.0.2.4");
    EXPECT_EQ(u.port, 5060);
}

TEST(Uri, HostNames) {
    EXPECT_EQ(must_parse("sip:a@example.com").host_kind, HostKind::name);
    EXPECT_EQ(must_parse("sip:a@localhost").host_kind, HostKind::name);
    EXPECT_EQ(must_parse("sip:a@example.com.").host, "example.com.");
    EXPECT_EQ(must_parse("sip:a@3com.example").host_kind, HostKind::name);
    EXPECT_EQ(must_parse("sip:a@ex-ample.com").host, "ex-ample.com");
}

TEST(Uri, Ipv6References) {
    Uri u = must_parse("sip:[2001:db8::10]:5070");
    EXPECT_EQ(u.host, "[2001:db8::10]");
    EXPECT_EQ(u.host_kind, HostKind::ipv6);
    EXPECT_EQ(u.host_address(), "2001:db8::10");
    EXPECT_EQ(u.port, 5070);

    for (std::string_view ok : {"sip:[::]", "sip:[::1]", "sip:[1::]", "sip:alice@[2001:db8:0:0:1:0:0:1]",
                                "sip:[2001:DB8::AbCd]", "sip:[::ffff:192.0.2.1]", "sip:[2001:db8::192.0.2.1]",
                                "sip:[2001:db8:0:0:0:0:192.0.2.1]", "sip:[::192.0.2.1]"}) {
        auto r = parse_uri(ok);
        ASSERT_TRUE(Ok(r)) << ok;
        EXPECT_EQ(r->host_kind, HostKind::ipv6) << ok;
    }
    EXPECT_EQ(must_parse("sip:[::]").host_address(), "::");
    EXPECT_EQ(must_parse("sip:[::ffff:192.0.2.1]").host_address(), "::ffff:192.0.2.1");
}

TEST(Uri, Ipv6ReferenceWithoutClosingBracket) {
    EXPECT_TRUE(Fails(parse_uri("sip:[2001:db8::10"), ErrorCode::bad_host, 4));
    EXPECT_TRUE(Fails(parse_uri("sip:alice@[2001:db8::10"), ErrorCode::bad_host, 10));
}

TEST(Uri, MalformedIpv6References) {
    // The offset is that of the address inside the brackets.
    EXPECT_TRUE(Fails(parse_uri("sip:[1::2::3]"), ErrorCode::bad_host, 5));
    EXPECT_TRUE(Fails(parse_uri("sip:alice@[1::2::3]"), ErrorCode::bad_host, 11));
    EXPECT_TRUE(Fails(parse_uri("sip:[]"), ErrorCode::bad_host, 5));
    EXPECT_TRUE(Fails(parse_uri("sip:[12345::1]"), ErrorCode::bad_host, 5));
    EXPECT_TRUE(Fails(parse_uri("sip:[1:2:3:4:5:6:7]"), ErrorCode::bad_host, 5));
    EXPECT_TRUE(Fails(parse_uri("sip:[1:2:3:4:5:6:7:8:9]"), ErrorCode::bad_host, 5));
    EXPECT_TRUE(Fails(parse_uri("sip:[:1:2:3:4:5:6:7]"), ErrorCode::bad_host, 5));
    EXPECT_TRUE(Fails(parse_uri("sip:[1:2:3:4:5:6:7:]"), ErrorCode::bad_host, 5));
    EXPECT_TRUE(Fails(parse_uri("sip:[2001:db8::g]"), ErrorCode::bad_host, 5));
    EXPECT_TRUE(Fails(parse_uri("sip:[::ffff:1.2.3.256]"), ErrorCode::bad_host, 5));
    EXPECT_TRUE(Fails(parse_uri("sip:[::ffff:1.2.3]"), ErrorCode::bad_host, 5));
    EXPECT_TRUE(Fails(parse_uri("sip:[1:2:3:4:5:6:7:192.0.2.1]"), ErrorCode::bad_host, 5));
}

TEST(Uri, MalformedIpv4Addresses) {
    EXPECT_TRUE(Fails(parse_uri("sip:1.2.3.256"), ErrorCode::bad_host, 4));
    EXPECT_TRUE(Fails(parse_uri("sip:alice@1.2.3.256:5060"), ErrorCode::bad_host, 10));
    EXPECT_TRUE(Fails(parse_uri("sip:1.2.3"), ErrorCode::bad_host, 4));
    EXPECT_TRUE(Fails(parse_uri("sip:1.2.3.4.5"), ErrorCode::bad_host, 4));
    EXPECT_TRUE(Fails(parse_uri("sip:1..2.3"), ErrorCode::bad_host, 4));
    EXPECT_TRUE(Fails(parse_uri("sip:0001.2.3.4"), ErrorCode::bad_host, 4));
}

TEST(Uri, MissingOrMalformedHostName) {
    EXPECT_TRUE(Fails(parse_uri("sip:"), ErrorCode::bad_host, 4));
    EXPECT_TRUE(Fails(parse_uri("sip:alice@"), ErrorCode::bad_host, 10));
    EXPECT_TRUE(Fails(parse_uri("sip:-atlanta.com"), ErrorCode::bad_host, 4));
    EXPECT_TRUE(Fails(parse_uri("sip:alice@.com"), ErrorCode::bad_host, 10));
}

// ---------------------------------------------------------------- ports

TEST(Uri, PortAbsentIsZero) { EXPECT_EQ(must_parse("sip:alice@atlanta.com").port, 0); }

TEST(Uri, PortBounds) {
    EXPECT_EQ(must_parse("sip:atlanta.com:1").port, 1);
    EXPECT_EQ(must_parse("sip:atlanta.com:65535").port, 65535);
    EXPECT_EQ(must_parse("sip:atlanta.com:05060").port, 5060);
    // The offset is that of the first digit.
    EXPECT_TRUE(Fails(parse_uri("sip:atlanta.com:65536"), ErrorCode::bad_port, 16));
    EXPECT_TRUE(Fails(parse_uri("sip:atlanta.com:0"), ErrorCode::bad_port, 16));
    EXPECT_TRUE(Fails(parse_uri("sip:atlanta.com:"), ErrorCode::bad_port, 16));
    EXPECT_TRUE(Fails(parse_uri("sip:atlanta.com:99999999999"), ErrorCode::bad_port, 16));
    EXPECT_TRUE(Fails(parse_uri("sip:[::1]:65536"), ErrorCode::bad_port, 10));
}

TEST(Uri, JunkAfterPort) { EXPECT_TRUE(Fails(parse_uri("sip:atlanta.com:5060x"), ErrorCode::bad_uri, 20)); }

// ---------------------------------------------------------------- parameters

TEST(Uri, ParametersInOrderWithAndWithoutValues) {
    Uri u = must_parse("sip:a@b;lr;transport=tcp;maddr=10.0.0.1;user=phone;x=%41");
    std::vector<Param> ps(u.params.begin(), u.params.end());
    ASSERT_EQ(ps.size(), 5u);
    EXPECT_EQ(ps[0].name, "lr");
    EXPECT_FALSE(ps[0].has_value);
    EXPECT_EQ(ps[0].value, "");
    EXPECT_EQ(ps[1].name, "transport");
    EXPECT_TRUE(ps[1].has_value);
    EXPECT_EQ(ps[1].value, "tcp");
    EXPECT_EQ(ps[2].name, "maddr");
    EXPECT_EQ(ps[2].value, "10.0.0.1");
    EXPECT_EQ(ps[3].value, "phone");
    EXPECT_EQ(ps[4].value, "%41");  // escapes kept
    EXPECT_TRUE(u.params.contains("LR"));
    EXPECT_FALSE(u.params.contains("l"));
    EXPECT_EQ(u.param("TRANSPORT")->value, "tcp");
    EXPECT_FALSE(u.param("ttl"));
    EXPECT_EQ(u.transport(), "tcp");
}

TEST(Uri, NoParameters) {
    Uri u = must_parse("sip:a@b");
    EXPECT_TRUE(u.params.empty());
    EXPECT_EQ(u.params.begin(), u.params.end());
    EXPECT_EQ(u.transport(), "");
}

TEST(Uri, MalformedParameters) {
    EXPECT_TRUE(Fails(parse_uri("sip:a@b;;lr"), ErrorCode::bad_param, 8));
    EXPECT_TRUE(Fails(parse_uri("sip:a@b;"), ErrorCode::bad_param, 8));
    EXPECT_TRUE(Fails(parse_uri("sip:a@b;x="), ErrorCode::bad_param, 10));
    EXPECT_TRUE(Fails(parse_uri("sip:a@b;x=1=2"), ErrorCode::bad_uri, 11));
}

// ---------------------------------------------------------------- headers and escapes

TEST(Uri, EmbeddedHeaders) {
    Uri u = must_parse("sip:carol@chicago.example.com?Replaces=a%40b%3Bto-tag%3D1&To=x");
    EXPECT_EQ(u.headers, "Replaces=a%40b%3Bto-tag%3D1&To=x");
    auto replaces = u.header("replaces");
    ASSERT_TRUE(replaces);
    EXPECT_EQ(*replaces, "a%40b%3Bto-tag%3D1");
    EXPECT_EQ(percent_decode(*replaces), "a@b;to-tag=1");
    auto to = u.header("TO");
    ASSERT_TRUE(to);
    EXPECT_EQ(*to, "x");
    EXPECT_FALSE(u.header("Subject"));
    EXPECT_FALSE(u.header("Replace"));
}

TEST(Uri, EmbeddedHeaderWithEmptyValue) {
    Uri u = must_parse("sip:a@b?Subject=&Priority=urgent");
    auto s = u.header("subject");
    ASSERT_TRUE(s);
    EXPECT_EQ(*s, "");
    EXPECT_EQ(*u.header("Priority"), "urgent");
}

TEST(Uri, MalformedEmbeddedHeaders) {
    EXPECT_TRUE(Fails(parse_uri("sip:a@b?=x"), ErrorCode::bad_uri, 8));
    EXPECT_TRUE(Fails(parse_uri("sip:a@b?Subject"), ErrorCode::bad_uri, 15));
    EXPECT_TRUE(Fails(parse_uri("sip:a@b?a=1&"), ErrorCode::bad_uri, 12));
}

TEST(Uri, PercentDecode) {
    EXPECT_EQ(percent_decode("%61lice"), "alice");
    EXPECT_EQ(percent_decode("a%2fb%2Fc"), "a/b/c");
    EXPECT_EQ(percent_decode("%00"), std::string(1, '\0'));
    EXPECT_EQ(percent_decode(""), "");
    // RFC 4475 §3.1.1.5: a '%' that is not an escape stays as it is.
    EXPECT_EQ(percent_decode("%G1"), "%G1");
    EXPECT_EQ(percent_decode("100%"), "100%");
    EXPECT_EQ(percent_decode("a%2"), "a%2");
    EXPECT_EQ(percent_decode("%%41"), "%A");
}

TEST(Uri, PercentEncode) {
    EXPECT_EQ(percent_encode("a@b;to-tag=1"), "a%40b%3Bto-tag%3D1");
    EXPECT_EQ(percent_encode("a@b", "@"), "a@b");
    EXPECT_EQ(percent_decode(percent_encode("x y\r\n%")), "x y\r\n%");
}

TEST(Uri, BadEscapesReportTheirOffset) {
    EXPECT_TRUE(Fails(parse_uri("sip:%G1@atlanta.com"), ErrorCode::bad_escape, 4));
    EXPECT_TRUE(Fails(parse_uri("sip:al%ice@atlanta.com"), ErrorCode::bad_escape, 6));
    EXPECT_TRUE(Fails(parse_uri("sip:alice:pa%zz@atlanta.com"), ErrorCode::bad_escape, 12));
    EXPECT_TRUE(Fails(parse_uri("sip:alice@host;x=%G1"), ErrorCode::bad_escape, 17));
    EXPECT_TRUE(Fails(parse_uri("sip:alice@host;%G1"), ErrorCode::bad_escape, 15));
    EXPECT_TRUE(Fails(parse_uri("sip:alice@host?Subject=a%2"), ErrorCode::bad_escape, 24));
    EXPECT_TRUE(Fails(parse_uri("sip:alice@host?Sub%ject=a"), ErrorCode::bad_escape, 18));
    EXPECT_TRUE(Fails(parse_uri("tel:+1%2"), ErrorCode::bad_escape, 6));
}

// ---------------------------------------------------------------- contexts

TEST(UriContexts, RequestUriRefusesHeaders) {
    EXPECT_TRUE(Fails(parse_uri("sip:a@b?Subject=x", UriContext::request_uri), ErrorCode::bad_request_uri, 7));
    EXPECT_TRUE(Fails(parse_uri("sip:a@b;lr?Subject=x", UriContext::request_uri), ErrorCode::bad_request_uri, 10));
    EXPECT_TRUE(Ok(parse_uri("sip:a@b?Subject=x", UriContext::name_addr)));
}

TEST(UriContexts, RequestUriRefusesAngleBrackets) {
    EXPECT_TRUE(Fails(parse_uri("<sip:a@b>", UriContext::request_uri), ErrorCode::bad_uri, 0));
    EXPECT_TRUE(Fails(parse_uri("sip:a@b>", UriContext::request_uri), ErrorCode::bad_request_uri, 7));
    EXPECT_TRUE(Fails(parse_uri("urn:a<b", UriContext::request_uri), ErrorCode::bad_request_uri, 5));
}

TEST(UriContexts, RequestUriRefusesSpaces) {
    EXPECT_TRUE(Fails(parse_uri("sip:a@b c", UriContext::request_uri), ErrorCode::bad_request_uri, 7));
}

TEST(UriContexts, RequestUriAcceptsAnyScheme) {
    Uri u = must_parse("unknownscheme:unknownstuff", UriContext::request_uri);
    EXPECT_EQ(u.scheme, Scheme::other);
    EXPECT_EQ(u.scheme_text, "unknownscheme");
    EXPECT_EQ(u.user, "unknownstuff");
    EXPECT_EQ(must_parse("sip:a@b;lr;transport=udp", UriContext::request_uri).params.text(), "lr;transport=udp");
}

TEST(UriContexts, AddrSpecStopsBeforeSemicolon) {
    // Bare in a header, ';' starts the header's own parameters: parse_uri sees a leftover.
    EXPECT_TRUE(Fails(parse_uri("sip:a@b;lr", UriContext::addr_spec), ErrorCode::bad_uri, 7));
    EXPECT_TRUE(Fails(parse_uri("sip:a@b?x=y", UriContext::addr_spec), ErrorCode::bad_uri, 7));
    EXPECT_TRUE(Fails(parse_uri("tel:+1234;x=y", UriContext::addr_spec), ErrorCode::bad_uri, 9));
    EXPECT_TRUE(Fails(parse_uri("urn:a;b", UriContext::addr_spec), ErrorCode::bad_uri, 5));
    Uri u = must_parse("sip:a@b:5060", UriContext::addr_spec);
    EXPECT_EQ(u.port, 5060);
    EXPECT_TRUE(u.params.empty());
}

TEST(UriContexts, NameAddrAllowsEverything) {
    Uri u = must_parse("sips:a@b:5061;transport=tls?Subject=hi", UriContext::name_addr);
    EXPECT_EQ(u.scheme, Scheme::sips);
    EXPECT_EQ(u.transport(), "tls");
    EXPECT_EQ(*u.header("Subject"), "hi");
}

// ---------------------------------------------------------------- limits

TEST(UriLimits, UriTooLong) {
    Limits limits;
    limits.max_uri_length = 10;
    EXPECT_TRUE(Ok(parse_uri("sip:a@b.cd", UriContext::name_addr, limits)));  // exactly 10
    auto r = parse_uri("sip:alice@atlanta.com", UriContext::name_addr, limits);
    ASSERT_TRUE(Fails(r, ErrorCode::uri_too_long, 0));
    EXPECT_EQ(r.error().status, 400);  // RFC 3261 §21.4.12: 414 is about the Request-URI
    auto req = parse_uri("sip:alice@atlanta.com", UriContext::request_uri, limits);
    ASSERT_TRUE(Fails(req, ErrorCode::uri_too_long, 0));
    EXPECT_EQ(req.error().status, 414);
}

TEST(UriLimits, TooManyParams) {
    Limits limits;
    limits.max_params = 2;
    EXPECT_TRUE(Ok(parse_uri("sip:a@b;p1;p2", UriContext::name_addr, limits)));
    // Reported once the third parameter has been read.
    EXPECT_TRUE(Fails(parse_uri("sip:a@b;p1;p2;p3", UriContext::name_addr, limits), ErrorCode::too_many_params, 16));
    EXPECT_TRUE(Fails(parse_uri("tel:+1;a;b;c", UriContext::name_addr, limits), ErrorCode::too_many_params, 12));
}

// ---------------------------------------------------------------- RFC 3261 §19.1.4 comparison

bool equivalent(std::string_view a, std::string_view b) {
    auto ua = parse_uri(a);
    auto ub = parse_uri(b);
    EXPECT_TRUE(Ok(ua)) << a;
    EXPECT_TRUE(Ok(ub)) << b;
    if (!ua || !ub) return false;
    bool ab = uri_equivalent(*ua, *ub);
    bool ba = uri_equivalent(*ub, *ua);
    EXPECT_EQ(ab, ba) << "comparison not symmetric: " << a << " / " << b;
    return ab;
}

TEST(UriEquivalence, Rfc3261EquivalentSets) {
    EXPECT_TRUE(equivalent("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"));

    EXPECT_TRUE(equivalent("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"));
    EXPECT_TRUE(equivalent("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"));
    EXPECT_TRUE(equivalent("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"));

    EXPECT_TRUE(equivalent("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                           "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"));

    EXPECT_TRUE(equivalent("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                           "sip:alice@atlanta.com?priority=urgent&subject=project%20x"));
}

TEST(UriEquivalence, Rfc3261NonEquivalentSets) {
    EXPECT_FALSE(equivalent("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"));
    EXPECT_FALSE(equivalent("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
    EXPECT_FALSE(equivalent("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"));
    EXPECT_FALSE(equivalent("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"));
    EXPECT_FALSE(equivalent("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"));
    EXPECT_FALSE(equivalent("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
}

TEST(UriEquivalence, EqualityIsNotTransitive) {
    EXPECT_TRUE(equivalent("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"));
    EXPECT_TRUE(equivalent("sip:carol@chicago.com", "sip:carol@chicago.com;security=off"));
    EXPECT_FALSE(equivalent("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"));
}

TEST(UriEquivalence, SipAndSipsNeverMatch) { EXPECT_FALSE(equivalent("sip:alice@atlanta.com", "sips:alice@atlanta.com")); }

TEST(UriEquivalence, UserAndPasswordAreCaseSensitive) {
    EXPECT_FALSE(equivalent("sip:alice@atlanta.com", "sip:Alice@atlanta.com"));
    EXPECT_FALSE(equivalent("sip:alice:pw@atlanta.com", "sip:alice:PW@atlanta.com"));
    EXPECT_FALSE(equivalent("sip:alice:pw@atlanta.com", "sip:alice@atlanta.com"));
    EXPECT_FALSE(equivalent("sip:alice@atlanta.com", "sip:atlanta.com"));
    EXPECT_TRUE(equivalent("sip:alice:p%77@atlanta.com", "sip:alice:pw@atlanta.com"));
}

TEST(UriEquivalence, ParametersThatMustMatchWhenInOnlyOne) {
    EXPECT_FALSE(equivalent("sip:a@b;user=phone", "sip:a@b"));
    EXPECT_FALSE(equivalent("sip:a@b;ttl=15", "sip:a@b"));
    EXPECT_FALSE(equivalent("sip:a@b;method=INVITE", "sip:a@b"));
    EXPECT_FALSE(equivalent("sip:a@b;maddr=239.255.255.1", "sip:a@b"));
    EXPECT_TRUE(equivalent("sip:a@b;lr", "sip:a@b"));
    EXPECT_TRUE(equivalent("sip:a@b;maddr=239.255.255.1;lr", "sip:a@b;MADDR=239.255.255.1"));
    EXPECT_FALSE(equivalent("sip:a@b;ttl=15", "sip:a@b;ttl=16"));
}

TEST(UriEquivalence, HeaderNamesCaseInsensitiveValuesAfterUnescaping) {
    EXPECT_TRUE(equivalent("sip:a@b?Subject=next%20meeting", "sip:a@b?subject=next%20meeting"));
    EXPECT_FALSE(equivalent("sip:a@b?Subject=x", "sip:a@b?Subject=y"));
    EXPECT_FALSE(equivalent("sip:a@b?Subject=x&Priority=urgent", "sip:a@b?Subject=x"));
}

TEST(UriEquivalence, Ipv6HostsCompareCaseInsensitively) {
    EXPECT_TRUE(equivalent("sip:[2001:DB8::1]:5060", "sip:[2001:db8::1]:5060"));
    EXPECT_FALSE(equivalent("sip:[2001:db8::1]", "sip:[2001:db8::2]"));
}

TEST(UriEquivalence, ReservedCharacterEscapesAreNotEquivalent) {
    // §19.1.4: only characters outside the RFC 2396 "reserved" set are equivalent to their %HH
    // form. ';' (%3B) and '?' (%3F) are reserved, so an escaped ';' in the user part is not the
    // same user as a literal ';' (which may start user-part parameters, RFC 4475 §3.1.1.9).
    EXPECT_FALSE(equivalent("sip:user%3Bpar=1@example.com", "sip:user;par=1@example.com"));
}

TEST(UriEquivalence, TelAndOtherSchemes) {
    EXPECT_TRUE(equivalent("tel:+1-201-555-0123", "tel:+12015550123"));
    EXPECT_FALSE(equivalent("tel:+12015550123", "tel:+12015550124"));
    EXPECT_TRUE(equivalent("urn:service:sos", "URN:service:sos"));
    EXPECT_FALSE(equivalent("urn:service:sos", "urn:service:police"));
    EXPECT_FALSE(equivalent("tel:+12015550123", "sip:+12015550123@example.com"));
}

}  // namespace
}  // namespace referkit
