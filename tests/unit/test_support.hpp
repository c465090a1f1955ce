// Helpers shared by the unit tests: readable printing of referkit enums and errors, and assertions
// on the exact error (code and offset) a parser reports.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <expected>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "referkit/core/error.hpp"
#include "referkit/core/header_id.hpp"
#include "referkit/core/headers.hpp"
#include "referkit/core/uri.hpp"

namespace referkit {

// gtest finds these through ADL when it prints a failing comparison.
inline void PrintTo(ErrorCode c, std::ostream* os) { *os << to_string(c); }
inline void PrintTo(const ParseError& e, std::ostream* os) {
    *os << to_string(e.code) << " at " << e.offset << " (" << e.status << ", \"" << e.what << "\")";
}
inline void PrintTo(HeaderId id, std::ostream* os) {
    *os << (id == HeaderId::other ? std::string_view("other") : canonical_name(id));
}
inline void PrintTo(Method m, std::ostream* os) {
    *os << (m == Method::other ? std::string_view("other") : method_name(m));
}
inline void PrintTo(Scheme s, std::ostream* os) {
    static constexpr std::string_view names[] = {"sip", "sips", "tel", "other"};
    *os << names[static_cast<std::size_t>(s)];
}
inline void PrintTo(HostKind k, std::ostream* os) {
    static constexpr std::string_view names[] = {"none", "name", "ipv4", "ipv6"};
    *os << names[static_cast<std::size_t>(k)];
}

}  // namespace referkit

namespace referkit::test {

inline std::string describe_error(const ParseError& e) {
    return std::string(to_string(e.code)) + " at " + std::to_string(e.offset) + " (status " + std::to_string(e.status) +
           ", \"" + std::string(e.what) + "\")";
}

inline testing::AssertionResult check_error(const std::optional<ParseError>& got, ErrorCode code,
                                            std::optional<std::uint32_t> offset) {
    std::string want = std::string(to_string(code)) + (offset ? " at " + std::to_string(*offset) : std::string());
    if (!got) return testing::AssertionFailure() << "succeeded; expected " << want;
    if (got->code != code || (offset && got->offset != *offset))
        return testing::AssertionFailure() << "got " << describe_error(*got) << "; expected " << want;
    return testing::AssertionSuccess();
}

// The result failed with exactly this code at exactly this offset.
template <class T>
testing::AssertionResult Fails(const std::expected<T, ParseError>& r, ErrorCode code, std::uint32_t offset) {
    return check_error(r ? std::nullopt : std::optional<ParseError>(r.error()), code, offset);
}
inline testing::AssertionResult Fails(const std::optional<ParseError>& r, ErrorCode code, std::uint32_t offset) {
    return check_error(r, code, offset);
}
// The result failed with this code (offset not checked).
template <class T>
testing::AssertionResult FailsWith(const std::expected<T, ParseError>& r, ErrorCode code) {
    return check_error(r ? std::nullopt : std::optional<ParseError>(r.error()), code, std::nullopt);
}
// The result succeeded (prints the error otherwise).
template <class T>
testing::AssertionResult Ok(const std::expected<T, ParseError>& r) {
    if (r) return testing::AssertionSuccess();
    return testing::AssertionFailure() << "failed: " << describe_error(r.error());
}

// Joins lines, each followed by CRLF ("" gives the blank line ending the headers).
inline std::string crlf_lines(std::initializer_list<std::string_view> lines) {
    std::string s;
    for (std::string_view l : lines) {
        s += l;
        s += "\r\n";
    }
    return s;
}

// An OPTIONS whose hot headers (Via, To, From, CSeq) are all folded over two lines.
inline std::string folded_hot_headers() {
    return crlf_lines({
        "OPTIONS sip:bob@biloxi.com SIP/2.0",
        "Via: SIP/2.0/UDP h",
        " ;branch=z9hG4bK1",
        "To:",
        " <sip:bob@biloxi.com>",
        "From: <sip:alice@atlanta.com>",
        "  ;tag=88",
        "Call-ID: abc",
        "CSeq: 7",
        "\tOPTIONS",
        "Content-Length: 0",
        "",
    });
}

// A request with the five mandatory headers and Max-Forwards, then extra (whole lines, each ending
// in CRLF), a correct Content-Length and the body.
inline std::string make_request(std::string_view method, std::string_view extra = {}, std::string_view body = {}) {
    std::string s;
    s += method;
    s += " sip:bob@biloxi.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
         "Max-Forwards: 70\r\n"
         "To: Bob <sip:bob@biloxi.com>\r\n"
         "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
         "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
         "CSeq: 314159 ";
    s += method;
    s += "\r\n";
    s += extra;
    s += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    s += body;
    return s;
}

inline std::uint32_t at(std::string_view text, std::string_view needle, std::size_t from = 0) {
    std::size_t pos = text.find(needle, from);
    EXPECT_NE(pos, std::string_view::npos) << "test bug: '" << needle << "' not in the text";
    return static_cast<std::uint32_t>(pos);
}

}  // namespace referkit::test
