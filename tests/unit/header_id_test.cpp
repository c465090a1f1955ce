// Header names: canonical spelling, compact forms (RFC 3261 §7.3.3, IANA registry), lookup.
#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <string_view>

#include "referkit/core/header_id.hpp"
#include "test_support.hpp"

namespace referkit {
namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}
std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

TEST(HeaderId, EveryIdRoundTripsThroughItsCanonicalName) {
    std::set<std::string> seen;
    for (std::size_t i = 1; i < header_id_count; ++i) {
        const auto id = static_cast<HeaderId>(i);
        const std::string_view name = canonical_name(id);
        ASSERT_FALSE(name.empty()) << i;
        EXPECT_TRUE(seen.insert(lower(name)).second) << "duplicate name " << name;
        EXPECT_EQ(lookup_header(name), id) << name;
        EXPECT_EQ(lookup_header(upper(name)), id) << name;
        EXPECT_EQ(lookup_header(lower(name)), id) << name;
    }
    EXPECT_EQ(seen.size(), header_id_count - 1);
}

TEST(HeaderId, CanonicalSpellings) {
    EXPECT_EQ(canonical_name(HeaderId::other), "");
    EXPECT_EQ(canonical_name(HeaderId::call_id), "Call-ID");
    EXPECT_EQ(canonical_name(HeaderId::cseq), "CSeq");
    EXPECT_EQ(canonical_name(HeaderId::www_authenticate), "WWW-Authenticate");
    EXPECT_EQ(canonical_name(HeaderId::mime_version), "MIME-Version");
    EXPECT_EQ(canonical_name(HeaderId::rack), "RAck");
    EXPECT_EQ(canonical_name(HeaderId::rseq), "RSeq");
    EXPECT_EQ(canonical_name(HeaderId::min_se), "Min-SE");
    EXPECT_EQ(canonical_name(HeaderId::refer_sub), "Refer-Sub");
    EXPECT_EQ(canonical_name(HeaderId::p_asserted_identity), "P-Asserted-Identity");
}

TEST(HeaderId, CompactForms) {
    struct Case {
        char c;
        HeaderId id;
    };
    const Case cases[] = {
        {'a', HeaderId::accept_contact},  {'b', HeaderId::referred_by},       {'c', HeaderId::content_type},
        {'d', HeaderId::request_disposition}, {'e', HeaderId::content_encoding}, {'f', HeaderId::from},
        {'i', HeaderId::call_id},         {'j', HeaderId::reject_contact},    {'k', HeaderId::supported},
        {'l', HeaderId::content_length},  {'m', HeaderId::contact},           {'n', HeaderId::identity_info},
        {'o', HeaderId::event},           {'r', HeaderId::refer_to},          {'s', HeaderId::subject},
        {'t', HeaderId::to},              {'u', HeaderId::allow_events},      {'v', HeaderId::via},
        {'x', HeaderId::session_expires}, {'y', HeaderId::identity},
    };
    for (const Case& k : cases) {
        const std::string lc(1, k.c);
        const std::string uc(1, static_cast<char>(std::toupper(static_cast<unsigned char>(k.c))));
        EXPECT_EQ(lookup_header(lc), k.id) << lc;
        EXPECT_EQ(lookup_header(uc), k.id) << uc;
        EXPECT_EQ(compact_form(k.id), k.c) << canonical_name(k.id);
    }
    // Every id that has a compact form is in the table above.
    std::size_t with_compact = 0;
    for (std::size_t i = 1; i < header_id_count; ++i) {
        const auto id = static_cast<HeaderId>(i);
        if (char c = compact_form(id)) {
            ++with_compact;
            EXPECT_EQ(lookup_header(std::string(1, c)), id) << canonical_name(id);
        }
    }
    EXPECT_EQ(with_compact, std::size(cases));
    EXPECT_EQ(compact_form(HeaderId::cseq), '\0');
    EXPECT_EQ(compact_form(HeaderId::other), '\0');
}

TEST(HeaderId, LettersWithoutCompactFormAreUnknown) {
    for (char c : std::string_view("ghpqwzGHPQWZ")) EXPECT_EQ(lookup_header(std::string(1, c)), HeaderId::other) << c;
}

TEST(HeaderId, UnknownNames) {
    for (std::string_view name : {"", "X-Foo", "Vias", "Vi", "Call_ID", "CallID", "Content-Lengthy", "Content-Lengt",
                                  "Tos", "1", "@", "-", "Refer-To-", "P-Preferred-Identity",
                                  "Accept-Contact-And-Then-Some-More-Text", "Content Length"}) {
        EXPECT_EQ(lookup_header(name), HeaderId::other) << "'" << name << "'";
    }
}

TEST(HeaderId, ListAndSingleHeaders) {
    for (HeaderId id : {HeaderId::via, HeaderId::contact, HeaderId::route, HeaderId::record_route, HeaderId::supported,
                        HeaderId::allow, HeaderId::require})
        EXPECT_TRUE(is_list_header(id)) << canonical_name(id);
    for (HeaderId id : {HeaderId::from, HeaderId::to, HeaderId::call_id, HeaderId::cseq, HeaderId::max_forwards,
                        HeaderId::content_length, HeaderId::refer_to, HeaderId::referred_by, HeaderId::event,
                        HeaderId::subscription_state, HeaderId::replaces, HeaderId::target_dialog, HeaderId::refer_sub})
        EXPECT_TRUE(is_single_header(id)) << canonical_name(id);
    for (std::size_t i = 0; i < header_id_count; ++i) {
        const auto id = static_cast<HeaderId>(i);
        EXPECT_FALSE(is_list_header(id) && is_single_header(id)) << canonical_name(id);
    }
    EXPECT_FALSE(is_single_header(HeaderId::via));
    EXPECT_FALSE(is_list_header(HeaderId::other));
    EXPECT_FALSE(is_single_header(HeaderId::other));
}

TEST(Iequals, AsciiCaseInsensitive) {
    EXPECT_TRUE(iequals("Via", "vIA"));
    EXPECT_TRUE(iequals("", ""));
    EXPECT_TRUE(iequals("Z", "z"));
    EXPECT_TRUE(iequals("Call-ID", "CALL-id"));
    EXPECT_FALSE(iequals("a", "ab"));
    EXPECT_FALSE(iequals("ab", "a"));
    EXPECT_FALSE(iequals("@", "`"));
    EXPECT_FALSE(iequals("[", "{"));
    EXPECT_FALSE(iequals("-", "\r"));
    EXPECT_FALSE(iequals("\xC3\x80", "\xC3\xA0"));  // only ASCII folds
}

}  // namespace
}  // namespace referkit
