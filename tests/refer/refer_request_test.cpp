// Headers of an outgoing REFER (docs/transfer-rules.md R15, R16; Target-Dialog R12).
#include <gtest/gtest.h>

#include <algorithm>

#include "referkit/core/refer_request.hpp"
#include "referkit/core/stack.hpp"

namespace referkit {
namespace {

std::size_t count(const HeaderList& h, std::string_view name) {
    return static_cast<std::size_t>(std::count_if(h.begin(), h.end(), [&](const auto& p) { return iequals(p.first, name); }));
}
std::string value(const HeaderList& h, std::string_view name) {
    for (const auto& [n, v] : h)
        if (iequals(n, name)) return v;
    return "<absent>";
}

TEST(ReferRequest, Defaults) {
    auto h = refer_request_headers("<sip:carol@example.org>", {}, "sip:alice@example.com");
    ASSERT_TRUE(h);
    EXPECT_EQ(value(*h, "Refer-To"), "<sip:carol@example.org>");
    EXPECT_EQ(value(*h, "Referred-By"), "<sip:alice@example.com>");
    EXPECT_NE(value(*h, "Supported").find("norefersub"), std::string::npos);
    EXPECT_NE(value(*h, "Supported").find("replaces"), std::string::npos);
    EXPECT_NE(value(*h, "Allow").find("NOTIFY"), std::string::npos);
    EXPECT_EQ(count(*h, "Refer-Sub"), 0u);
    EXPECT_EQ(count(*h, "Contact"), 0u);  // the UA core writes the one Contact
}

TEST(ReferRequest, ReferredByOption) {
    auto h = refer_request_headers("<sip:c@x>", {.referred_by = "\"Alice\" <sip:alice@example.com>"}, "sip:a@b");
    ASSERT_TRUE(h);
    EXPECT_EQ(value(*h, "Referred-By"), "\"Alice\" <sip:alice@example.com>");
}

TEST(ReferRequest, ReferSubFalse) {
    auto h = refer_request_headers("<sip:c@x>", {.refer_sub = false}, "sip:a@b");
    ASSERT_TRUE(h);
    EXPECT_EQ(value(*h, "Refer-Sub"), "false");
    EXPECT_NE(value(*h, "Supported").find("norefersub"), std::string::npos);
}

TEST(ReferRequest, ExtraHeadersEachOnceAndReplaceDefaults) {
    ReferOptions o{.extra_headers = {"X-Foo: 1", "referred-by: <sip:boss@example.com>", "r: <sip:other@example.org>",
                                     "Supported: replaces", "X-Foo: 2"}};
    auto h = refer_request_headers("<sip:c@x>", o, "sip:a@b");
    ASSERT_TRUE(h);
    EXPECT_EQ(count(*h, "Referred-By"), 1u);
    EXPECT_EQ(value(*h, "Referred-By"), "<sip:boss@example.com>");
    EXPECT_EQ(count(*h, "Refer-To") + count(*h, "r"), 1u);  // compact form replaced the default
    EXPECT_EQ(value(*h, "r"), "<sip:other@example.org>");
    EXPECT_EQ(count(*h, "Supported"), 1u);
    EXPECT_EQ(value(*h, "Supported"), "replaces");
    // R1, R15: every user header exactly once — two of one name both go out, in order.
    EXPECT_EQ(count(*h, "X-Foo"), 2u);
    std::vector<std::string> foo;
    for (const auto& [n, v] : *h)
        if (n == "X-Foo") foo.push_back(v);
    EXPECT_EQ(foo, (std::vector<std::string>{"1", "2"}));
}

TEST(ReferRequest, RepeatableUserHeadersKeptAndSingletonsRefusedTwice) {
    // Two P-Asserted-Identity values (RFC 3325 allows a sip and a tel URI) both reach the wire.
    auto h = refer_request_headers(
        "<sip:c@x>", {.extra_headers = {"P-Asserted-Identity: <sip:a@b>", "P-Asserted-Identity: <tel:+15551234>"}}, "sip:a@b");
    ASSERT_TRUE(h);
    EXPECT_EQ(count(*h, "P-Asserted-Identity"), 2u);
    // A second Supported replaces nothing more: the default is replaced once, the next is added.
    h = refer_request_headers("<sip:c@x>", {.extra_headers = {"Supported: replaces", "Supported: timer"}}, "sip:a@b");
    ASSERT_TRUE(h);
    EXPECT_EQ(count(*h, "Supported"), 2u);
    // Refer-To, Referred-By, Refer-Sub and Target-Dialog are one per REFER.
    for (const char* twice : {"Refer-To: <sip:x@y>", "Referred-By: <sip:x@y>", "Refer-Sub: false"}) {
        auto bad = refer_request_headers("<sip:c@x>", {.extra_headers = {twice, twice}}, "sip:a@b");
        ASSERT_FALSE(bad) << twice;
        EXPECT_NE(bad.error().detail.find("given twice"), std::string::npos) << bad.error().detail;
    }
}

TEST(ReferRequest, MalformedExtraHeaderRefused) {
    EXPECT_FALSE(refer_request_headers("<sip:c@x>", {.extra_headers = {"no colon"}}, "sip:a@b"));
    EXPECT_FALSE(refer_request_headers("<sip:c@x>", {.extra_headers = {"Bad Name: x"}}, "sip:a@b"));
    EXPECT_FALSE(refer_request_headers("<sip:c@x>", {.extra_headers = {"X: a\r\nVia: evil"}}, "sip:a@b"));
}

TEST(ReferRequest, TargetDialogFromRecipientsPointOfView) {
    ReferOptions o{.target_dialog = TargetDialog{.call_id = "abc@h", .local_tag = "ours", .remote_tag = "theirs"}};
    auto h = refer_request_headers("<sip:c@x>", o, "sip:a@b");
    ASSERT_TRUE(h);
    std::string v = value(*h, "Target-Dialog");
    EXPECT_EQ(v, "abc@h;local-tag=theirs;remote-tag=ours");
    auto parsed = parse_target_dialog(v);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->call_id, "abc@h");
    EXPECT_EQ(parsed->to_tag, "ours");     // remote-tag (recipient's remote = our local)
    EXPECT_EQ(parsed->from_tag, "theirs");  // local-tag
}


// R15 (Allow): the REFER's Allow is the UA core's (same rule, same order), by default that
// of a default UserAgentConfig; a caller passes the Allow of its own configuration.
TEST(ReferRequest, AllowIsTheUaCoresAllow) {
    EXPECT_EQ(allow_value(UserAgentConfig{}.app_methods), "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, REFER, NOTIFY, SUBSCRIBE");
    const std::vector<Method> app = {Method::refer, Method::invite, Method::notify};
    EXPECT_EQ(allow_value(app), "INVITE, ACK, BYE, CANCEL, OPTIONS, REFER, NOTIFY");
    auto h = refer_request_headers("<sip:c@x>", {}, "sip:a@b", allow_value(app));
    ASSERT_TRUE(h);
    EXPECT_EQ(count(*h, "Allow"), 1u);
    EXPECT_EQ(value(*h, "Allow"), "INVITE, ACK, BYE, CANCEL, OPTIONS, REFER, NOTIFY");
    auto d = refer_request_headers("<sip:c@x>", {}, "sip:a@b");
    ASSERT_TRUE(d);
    EXPECT_EQ(value(*d, "Allow"), allow_value(UserAgentConfig{}.app_methods));
    auto user = refer_request_headers("<sip:c@x>", {.extra_headers = {"Allow: INVITE, BYE"}}, "sip:a@b");
    ASSERT_TRUE(user);
    EXPECT_EQ(count(*user, "Allow"), 1u);
    EXPECT_EQ(value(*user, "Allow"), "INVITE, BYE");  // a user header replaces the default
}

}  // namespace
}  // namespace referkit
