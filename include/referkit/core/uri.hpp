// SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966 for tel; RFC 5118 for IPv6), as views.
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "referkit/core/error.hpp"
#include "referkit/core/limits.hpp"
#include "referkit/core/params.hpp"

namespace referkit {

enum class Scheme : std::uint8_t { sip, sips, tel, other };
enum class HostKind : std::uint8_t { none, name, ipv4, ipv6 };

struct Uri {
    Scheme scheme = Scheme::other;
    std::string_view text;         // the whole URI
    std::string_view scheme_text;  // "sip", "SIPS", "tel", "im" ...
    std::string_view user;         // escaped as written; tel: the number; other: the part after ':'
    std::string_view password;     // escaped as written
    std::string_view host;         // as written; IPv6 references keep their brackets
    HostKind host_kind = HostKind::none;
    std::uint16_t port = 0;        // 0 when absent
    ParamList params;              // uri-parameters (";transport=tcp;lr")
    std::string_view headers;      // after '?', escaped as written ("Replaces=a%40b&To=x")

    [[nodiscard]] bool has_user() const noexcept { return !user.empty(); }
    // Host without IPv6 brackets.
    [[nodiscard]] std::string_view host_address() const noexcept;
    [[nodiscard]] std::optional<Param> param(std::string_view name) const noexcept { return params.find(name); }
    // Value of an embedded header ("Replaces"), case-insensitive name, still %-escaped.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const noexcept;
    // "transport" parameter, else "" (the caller applies the scheme's default).
    [[nodiscard]] std::string_view transport() const noexcept;
};

// Where a URI appears decides what it may contain (RFC 3261 §19.1.1 table).
enum class UriContext : std::uint8_t {
    request_uri,  // no headers, no <>; any absoluteURI scheme accepted as Scheme::other
    name_addr,    // inside <...>: everything allowed
    addr_spec,    // bare in a header: ';' starts header parameters, so no uri-parameters, no '?'
};

// Parses a URI. Offsets in errors are relative to text. Errors: uri_too_long (414), bad_uri,
// bad_scheme (416 from the caller's point of view when it needs sip/sips/tel), bad_host, bad_port,
// too_many_params, bad_escape.
[[nodiscard]] std::expected<Uri, ParseError> parse_uri(std::string_view text, UriContext ctx = UriContext::name_addr,
                                                       const Limits& limits = {});

// RFC 3261 §19.1.4 comparison of two sip/sips URIs (escapes decoded, case rules, the parameters
// that must match). tel and other schemes compare by decoded text.
[[nodiscard]] bool uri_equivalent(const Uri& a, const Uri& b);

}  // namespace referkit
