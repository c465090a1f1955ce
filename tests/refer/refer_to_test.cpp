// Refer-To building and reading (docs/transfer-rules.md R13, R14).
#include <gtest/gtest.h>

#include "referkit/core/headers.hpp"
#include "referkit/core/refer_to.hpp"

namespace referkit {
namespace {

std::string ok(std::string_view target, const ReferToOptions& o = {}) {
    auto r = make_refer_to(target, o);
    EXPECT_TRUE(r.has_value()) << target << ": " << (r ? "" : r.error().detail);
    return r ? *r : std::string{};
}

ReferTargetErrc err(std::string_view target, const ReferToOptions& o = {}) {
    auto r = make_refer_to(target, o);
    EXPECT_FALSE(r.has_value()) << target << " gave " << (r ? *r : "");
    return r ? ReferTargetErrc::empty : r.error().code;
}

TEST(ReferTo, BareUserCompletedWithDefaultDomain) {
    EXPECT_EQ(ok("bob", {.default_domain = "example.com"}), "<sip:bob@example.com>");
    EXPECT_EQ(ok("  bob  ", {.default_domain = "example.com:5070"}), "<sip:bob@example.com:5070>");
}

TEST(ReferTo, BareUserWithSipsDefaultStaysSips) {
    EXPECT_EQ(ok("bob", {.default_domain = "example.com", .default_scheme = Scheme::sips}), "<sips:bob@example.com>");
}

TEST(ReferTo, BareUserWithoutDomainIsAnError) { EXPECT_EQ(err("bob"), ReferTargetErrc::no_domain); }

TEST(ReferTo, UserAtHost) { EXPECT_EQ(ok("carol@pbx.example.org"), "<sip:carol@pbx.example.org>"); }

TEST(ReferTo, PhoneNumberLosesVisualSeparators) {
    EXPECT_EQ(ok("+1 (555) 010-0200", {.default_domain = "gw.example.net"}), "<sip:+15550100200@gw.example.net>");
}

TEST(ReferTo, UserNeedingEscapesIsEscaped) {
    EXPECT_EQ(ok("bob smith", {.default_domain = "example.com"}), "<sip:bob%20smith@example.com>");
}

TEST(ReferTo, SipUriWrappedInAngleBrackets) { EXPECT_EQ(ok("sip:carol@example.org"), "<sip:carol@example.org>"); }

TEST(ReferTo, SipsNeverDowngraded) { EXPECT_EQ(ok("sips:carol@example.org"), "<sips:carol@example.org>"); }

TEST(ReferTo, TelUriKeptWithParams) {
    EXPECT_EQ(ok("tel:+1-201-555-0123;phone-context=example.com"), "<tel:+1-201-555-0123;phone-context=example.com>");
}

TEST(ReferTo, UriParamsAndHeadersKeptInsideBrackets) {
    std::string v = ok("sip:carol@example.org;transport=tcp?Subject=hi&Priority=urgent");
    EXPECT_EQ(v, "<sip:carol@example.org;transport=tcp?Subject=hi&Priority=urgent>");
    // Read back as a header value: the params and headers belong to the URI, not to the header.
    auto na = parse_name_addr(v);
    ASSERT_TRUE(na);
    EXPECT_EQ(na->uri.transport(), "tcp");
    EXPECT_EQ(na->uri.header("Subject").value_or(""), "hi");
    EXPECT_TRUE(na->params.empty());
}

TEST(ReferTo, NameAddrDisplayNameEscaped) {
    EXPECT_EQ(ok("\"Carol \\\"C\\\" Jones\" <sip:carol@example.org>"), "\"Carol \\\"C\\\" Jones\" <sip:carol@example.org>");
    EXPECT_EQ(ok("Carol <sip:carol@example.org>"), "\"Carol\" <sip:carol@example.org>");
}

TEST(ReferTo, NameAddrDisplayNameOmittedByOption) {
    EXPECT_EQ(ok("\"Carol\" <sip:carol@example.org;transport=tls>", {.display_name = DisplayNamePolicy::omit}),
              "<sip:carol@example.org;transport=tls>");
}

TEST(ReferTo, NameAddrHeaderParamsKept) {
    EXPECT_EQ(ok("<sip:carol@example.org>;x-extra=1"), "<sip:carol@example.org>;x-extra=1");
}

TEST(ReferTo, InvalidInputIsAnErrorValue) {
    EXPECT_EQ(err(""), ReferTargetErrc::empty);
    EXPECT_EQ(err("   "), ReferTargetErrc::empty);
    EXPECT_EQ(err("sip:"), ReferTargetErrc::bad_target);
    EXPECT_EQ(err("<sip:carol@example.org"), ReferTargetErrc::bad_target);
    EXPECT_EQ(err("sip:carol@exa mple.org"), ReferTargetErrc::bad_target);
    EXPECT_EQ(err("bob@"), ReferTargetErrc::bad_target);
}

TEST(ReferTo, UnsupportedSchemeRefused) {
    EXPECT_EQ(err("http://www.example.com/"), ReferTargetErrc::bad_scheme);
    EXPECT_EQ(err("<mailto:carol@example.org>"), ReferTargetErrc::bad_scheme);
}

TEST(ReferTo, HostPortIsNotAScheme) {
    EXPECT_EQ(ok("bob@example.com:5060"), "<sip:bob@example.com:5060>");
}

DialogInfo confirmed_dialog() {
    DialogInfo d;
    d.call_id = "12345@192.168.118.3";
    d.local_tag = "5FFE-3994";
    d.remote_tag = "12345";
    d.local_uri = "<sip:alice@atlanta.example.com>";
    d.remote_uri = "\"Dave \\\"D\\\"\" <sip:dave@denver.example.org>";
    d.remote_target = "sip:dave@192.0.2.4:5060;transport=tcp";
    d.early = false;
    return d;
}

TEST(ReferToAttended, ReplacesWholeValueEscaped) {
    auto r = make_attended_refer_to(confirmed_dialog(), {.display_name = DisplayNamePolicy::omit});
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(*r, "<sip:dave@192.0.2.4:5060;transport=tcp?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>");
}

TEST(ReferToAttended, TagsFollowTheOtherDialogNotWhoCalled) {
    // Whoever placed the other call, to-tag = its remote tag and from-tag = its local tag.
    DialogInfo d = confirmed_dialog();
    std::swap(d.local_tag, d.remote_tag);
    auto r = make_attended_refer_to(d, {.display_name = DisplayNamePolicy::omit});
    ASSERT_TRUE(r);
    auto na = parse_name_addr(*r);
    ASSERT_TRUE(na);
    std::string decoded = percent_decode(na->uri.header("Replaces").value_or(""));  // rep views into it
    auto rep = parse_replaces(decoded);
    ASSERT_TRUE(rep);
    EXPECT_EQ(rep->call_id, "12345@192.168.118.3");
    EXPECT_EQ(rep->to_tag, d.remote_tag);
    EXPECT_EQ(rep->from_tag, d.local_tag);
}

TEST(ReferToAttended, DisplayNameFromOtherRemoteEscaped) {
    auto r = make_attended_refer_to(confirmed_dialog());
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->starts_with("\"Dave \\\"D\\\"\" <sip:dave@")) << *r;
    auto na = parse_name_addr(*r);
    ASSERT_TRUE(na);
    EXPECT_EQ(na->display(), "Dave \"D\"");
}

TEST(ReferToAttended, ExistingHeadersOfRemoteTargetDropped) {
    DialogInfo d = confirmed_dialog();
    d.remote_target = "sip:dave@192.0.2.4?Subject=x";
    auto r = make_attended_refer_to(d, {.display_name = DisplayNamePolicy::omit});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->find("Subject"), std::string::npos);
    EXPECT_NE(r->find("?Replaces="), std::string::npos);
}

TEST(ReferToAttended, EarlyOrIncompleteDialogRefused) {
    DialogInfo d = confirmed_dialog();
    d.early = true;
    auto r = make_attended_refer_to(d);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ReferTargetErrc::not_confirmed);
    d = confirmed_dialog();
    d.remote_tag.clear();
    EXPECT_EQ(make_attended_refer_to(d).error().code, ReferTargetErrc::not_confirmed);
    d = confirmed_dialog();
    d.remote_target = "tel:+15550100";
    EXPECT_EQ(make_attended_refer_to(d).error().code, ReferTargetErrc::bad_target);
}

// --- transferee side

ReferTarget read(std::string_view value) {
    auto na = parse_name_addr(value);
    EXPECT_TRUE(na) << value;
    if (!na) return {};
    auto t = read_refer_to(*na);
    EXPECT_TRUE(t) << value;
    return t ? *t : ReferTarget{};
}

TEST(ReadReferTo, PlainTarget) {
    ReferTarget t = read("<sip:carol@example.org;transport=tcp>");
    EXPECT_EQ(t.uri, "sip:carol@example.org;transport=tcp");
    EXPECT_EQ(t.method, "INVITE");
    EXPECT_TRUE(t.headers.empty());
    EXPECT_FALSE(t.replaces);
}

TEST(ReadReferTo, AddrSpecForm) {
    ReferTarget t = read("sip:alice@atlanta.example.com");
    EXPECT_EQ(t.uri, "sip:alice@atlanta.example.com");
}

TEST(ReadReferTo, ReplacesUnescapedAndValidated) {
    ReferTarget t = read("<sip:dave@denver.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>");
    EXPECT_EQ(t.uri, "sip:dave@denver.example.org");
    ASSERT_TRUE(t.replaces);
    EXPECT_EQ(*t.replaces, "12345@192.168.118.3;to-tag=12345;from-tag=5FFE-3994");
    ASSERT_EQ(t.headers.size(), 1u);
    EXPECT_EQ(t.headers[0].name, "Replaces");
}

TEST(ReadReferTo, RoundTripWithAttendedBuilder) {
    auto v = make_attended_refer_to(confirmed_dialog());
    ASSERT_TRUE(v);
    ReferTarget t = read(*v);
    EXPECT_EQ(t.uri, "sip:dave@192.0.2.4:5060;transport=tcp");
    ASSERT_TRUE(t.replaces);
    EXPECT_EQ(*t.replaces, "12345@192.168.118.3;to-tag=12345;from-tag=5FFE-3994");
}

TEST(ReadReferTo, DangerousHeadersDroppedNotHonoured) {
    // RFC 3261 §19.1.5: From, Call-ID, CSeq, Via, Record-Route, Route and capability headers.
    ReferTarget t = read("<sip:bob@example.org?From=sip:evil%40x&i=abc&Via=SIP/2.0/UDP%20x&Route=%3Csip:p%3E"
                         "&Supported=foo&Subject=Hello%20there&Accept-Contact=sip:desk>");
    ASSERT_EQ(t.headers.size(), 2u);
    EXPECT_EQ(t.headers[0].name, "Subject");
    EXPECT_EQ(t.headers[0].value, "Hello there");
    EXPECT_EQ(t.headers[1].name, "Accept-Contact");
    EXPECT_EQ(t.dropped, (std::vector<std::string>{"From", "i", "Via", "Route", "Supported"}));
}

TEST(ReadReferTo, MethodParameterRemovedFromUri) {
    ReferTarget t = read("<sip:carol@cleveland.example.org;method=SUBSCRIBE;transport=udp>");
    EXPECT_EQ(t.method, "SUBSCRIBE");
    EXPECT_EQ(t.uri, "sip:carol@cleveland.example.org;transport=udp");
}

TEST(ReadReferTo, BodyPseudoHeader) {
    ReferTarget t = read("<sip:carol@example.org?body=hello%20world>");
    EXPECT_EQ(t.body, "hello world");
    EXPECT_TRUE(t.headers.empty());
}

TEST(ReadReferTo, Refusals) {
    auto http = parse_name_addr("<http://www.ietf.org>");
    ASSERT_TRUE(http);
    auto r = read_refer_to(*http);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status, 416);

    auto garbled = parse_name_addr("<sip:dave@example.org?Replaces=nothing-here>");
    ASSERT_TRUE(garbled);
    auto g = read_refer_to(*garbled);
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error().status, 400);

    auto twice = parse_name_addr("<sip:dave@example.org?Replaces=a%3Bto-tag%3Db%3Bfrom-tag%3Dc&Replaces=a%3Bto-tag%3Db%3Bfrom-tag%3Dc>");
    ASSERT_TRUE(twice);
    auto t = read_refer_to(*twice);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code, ErrorCode::duplicate_header);
}

}  // namespace
}  // namespace referkit
